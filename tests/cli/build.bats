#!/usr/bin/env bats
# The build's own promises: make install lays out tools, library, headers and man pages;
# make deps prints the one apt-get line when it cannot install.

load helper

ROOT="$BATS_TEST_DIRNAME/../.."

@test "make install puts tools, library, headers and man pages under DESTDIR/PREFIX" {
    build=$(cd "$ANET_BIN/.." && pwd)
    run_split make -C "$ROOT" --no-print-directory install BUILD="$build" DESTDIR="$TMP/stage" PREFIX=/opt/anet
    assert_status 0
    for f in bin/alexnet-info lib/libalexnet.a include/alexnet/model.h include/alexnet/ops.h \
        share/man/man1/alexnet-info.1 share/man/man7/alexnet.7; do
        [ -f "$TMP/stage/opt/anet/$f" ] || fail "missing $f"
    done
    run_split "$TMP/stage/opt/anet/bin/alexnet-info" --tsv
    assert_status 0
}

@test "an installed library and headers build a program" {
    build=$(cd "$ANET_BIN/.." && pwd)
    make -C "$ROOT" --no-print-directory install BUILD="$build" DESTDIR="$TMP/stage" PREFIX=/usr >/dev/null
    cat > prog.c <<'C'
#include <alexnet/model.h>
#include <stdio.h>
int main(void) { struct anet_config c; anet_config_default(&c); printf("%zu\n", anet_config_params(&c)); return 0; }
C
    # shellcheck disable=SC2086 # make check-asan's library needs its sanitizers linked
    run_split cc -I"$TMP/stage/usr/include" prog.c "$TMP/stage/usr/lib/libalexnet.a" -fopenmp \
        ${ANET_SANITIZE:-} -lopenblas -lm -o prog
    assert_status 0
    run_split ./prog
    [ "$out" = 60965224 ] || fail "got $out"
}

@test "make deps without root prints the one apt-get line and fails" {
    mkdir shim
    printf '#!/bin/sh\necho 1000\n' > shim/id
    printf '#!/bin/sh\nexit 1\n' > shim/dpkg-query
    chmod +x shim/id shim/dpkg-query
    PATH="$PWD/shim:$PATH" run_split sh "$ROOT/scripts/deps.sh"
    assert_status 1
    [[ "$out" =~ ^sudo\ apt-get\ install\ -y\ .*libopenblas-dev ]] || fail "stdout: $out"
    [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "more than one line: $out"
}

@test "make deps with everything installed does nothing and succeeds" {
    mkdir shim
    printf '#!/bin/sh\necho 1000\n' > shim/id
    printf '#!/bin/sh\necho "install ok installed"\n' > shim/dpkg-query
    chmod +x shim/id shim/dpkg-query
    PATH="$PWD/shim:$PATH" run_split sh "$ROOT/scripts/deps.sh"
    assert_status 0
    [ -z "$out$err" ] || fail "printed: $out $err"
}
