#!/usr/bin/env bats
# The build's own promises: make install lays out tools, the static and the shared
# library, headers, pkg-config file and man pages, and make uninstall takes them all away;
# a program builds against the installed tree through pkg-config; the tools load the
# OpenMP OpenBLAS, and are relinked when it appears; settings changes rebuild what they
# change; demo and check install their packages before they build, in parallel; make
# deps prints the one apt-get line when it cannot install.

load helper

ROOT="$BATS_TEST_DIRNAME/../.."

# mk ARGS...: GNU make alone, not a job slot of a make that runs these tests
mk() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$ROOT" "$@"
}

# fresh ARGS...: mk for a build tree of a test's own, made with the defaults: without the
# variables that a make running these tests hands its recipes through the environment
# (make check-asan's CFLAGS, CUDA=0 and MPI=0), which would shape that build instead
fresh() { (unset CFLAGS CUDA MPI && mk "$@"); }

build_dir() { cd "$ANET_BIN/.." && pwd; }

# install_to DESTDIR PREFIX: make install of the build under test
install_to() {
    local build
    build=$(build_dir)
    mk install BUILD="$build" $(build_vars "$build") DESTDIR="$1" PREFIX="$2"
}

@test "make install puts tools, both libraries, headers, pkg-config file and man pages under DESTDIR/PREFIX" {
    run_split install_to "$TMP/stage" /opt/anet
    assert_status 0
    p="$TMP/stage/opt/anet"
    for f in bin/alexnet-info lib/libalexnet.a lib/libalexnet.so.0.1.0 lib/pkgconfig/alexnet.pc \
        include/alexnet/model.h include/alexnet/ops.h share/man/man1/alexnet-info.1 \
        share/man/man5/alexnet-files.5 share/man/man7/alexnet.7; do
        [ -f "$p/$f" ] || fail "missing $f"
    done
    [ "$(readlink "$p/lib/libalexnet.so.0")" = libalexnet.so.0.1.0 ] || fail "libalexnet.so.0: $(ls -l "$p/lib")"
    [ "$(readlink "$p/lib/libalexnet.so")" = libalexnet.so.0 ] || fail "libalexnet.so: $(ls -l "$p/lib")"
    readelf -d "$p/lib/libalexnet.so.0.1.0" | grep -q 'SONAME.*\[libalexnet\.so\.0\]' ||
        fail "soname: $(readelf -d "$p/lib/libalexnet.so.0.1.0" | grep SONAME)"
    assert_contains "$(cat "$p/lib/pkgconfig/alexnet.pc")" "prefix=/opt/anet"
    [ "$(ls "$p/share/man/man1" | wc -l)" -eq "$(ls "$ROOT/man/man1" | wc -l)" ] || fail "man1: $(ls "$p/share/man/man1")"
    run_split "$p/bin/alexnet-info" --tsv
    assert_status 0
}

@test "make uninstall removes everything make install put there, man pages too" {
    install_to "$TMP/stage" /usr/local > /dev/null
    [ -n "$(find "$TMP/stage" -type f)" ] || fail "nothing installed"
    run_split mk uninstall DESTDIR="$TMP/stage" PREFIX=/usr/local
    assert_status 0
    left=$(find "$TMP/stage" ! -type d)
    [ -z "$left" ] || fail "left behind: $left"
}

PROG='#include <alexnet/model.h>
#include <stdio.h>
int main(void) { struct anet_config c; anet_config_default(&c); printf("%zu\n", anet_config_params(&c)); return 0; }'

# pc ARGS...: pkg-config on the tree installed under $TMP/stage with PREFIX=/usr, and on it
# alone
pc() {
    PKG_CONFIG_LIBDIR="$TMP/stage/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$TMP/stage" pkg-config "$@"
}

@test "a program builds against the installed shared library through pkg-config and runs" {
    command -v pkg-config >/dev/null || fail "no pkg-config (scripts/deps.sh tests)"
    install_to "$TMP/stage" /usr > /dev/null
    echo "$PROG" > prog.c
    # shellcheck disable=SC2086 # make check-asan's library needs its sanitizers linked
    run_split cc prog.c $(pc --cflags alexnet) $(pc --libs alexnet) ${ANET_SANITIZE:-} -o prog
    assert_status 0
    [ "$(echo $(pc --libs alexnet))" = "-L$TMP/stage/usr/lib -lalexnet" ] || fail "libs: $(pc --libs alexnet)"
    LD_LIBRARY_PATH="$TMP/stage/usr/lib" run_split ./prog
    assert_status 0
    [ "$out" = 60965224 ] || fail "got $out"
    LD_LIBRARY_PATH="$TMP/stage/usr/lib" ldd ./prog | grep -q "libalexnet.so.0 => $TMP/stage/usr/lib/libalexnet.so.0" ||
        fail "$(LD_LIBRARY_PATH="$TMP/stage/usr/lib" ldd ./prog)"
}

@test "a program links the installed static library with pkg-config --static and runs" {
    command -v pkg-config >/dev/null || fail "no pkg-config (scripts/deps.sh tests)"
    install_to "$TMP/stage" /usr > /dev/null
    echo "$PROG" > prog.c
    libs=$(pc --static --libs alexnet)
    # shellcheck disable=SC2086
    run_split cc prog.c $(pc --cflags alexnet) ${libs/-lalexnet/-l:libalexnet.a} ${ANET_SANITIZE:-} -o prog
    assert_status 0
    ! ldd ./prog | grep -q libalexnet || fail "linked the shared library: $(ldd ./prog)"
    run_split ./prog
    assert_status 0
    [ "$out" = 60965224 ] || fail "got $out"
}

BLAS_OMP_DIR=/usr/lib/$(uname -m)-linux-gnu/openblas-openmp

@test "the tools and the shared library load the OpenMP OpenBLAS" {
    [ -e "$BLAS_OMP_DIR/libopenblas.so" ] || fail "no $BLAS_OMP_DIR/libopenblas.so (libopenblas-openmp-dev, scripts/deps.sh)"
    for f in "$ANET_BIN/alexnet-train" "$ANET_BIN/alexnet-eval" "$(build_dir)/lib/libalexnet.so.0"; do
        ldd "$f" | grep -q "libopenblas.so.0 => $BLAS_OMP_DIR/libopenblas.so.0" ||
            fail "$f: $(ldd "$f" | grep blas)"
    done
}

# OpenBLAS names the kernels it loads on stderr with OPENBLAS_VERBOSE=2 ("Core: NAME"); a
# tool that starts itself again with better kernels prints two such lines.
GENERIC_KERNELS='^(Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Katmai|Coppermine|Northwood|Banias|Opteron|Opteron_SSE3|Barcelona|Bobcat|Unknown)$'

@test "the tools that run the network never run OpenBLAS's generic kernels on a processor with AVX2; a user's OPENBLAS_CORETYPE stands" {
    run_split env OPENBLAS_VERBOSE=2 OPENBLAS_CORETYPE=Prescott "$ANET_BIN/alexnet-eval" --version
    assert_status 0
    [[ "$err" == *"Core: "* ]] || skip "this OpenBLAS does not choose its kernels at run time"
    [ "$(grep -c '^Core: ' <<< "$err")" = 1 ] && grep -qx 'Core: Prescott' <<< "$err" || fail "the user's choice was not kept: $err"
    grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo || skip "no AVX2 here"
    for t in train eval predict features neighbours; do
        run_split env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 "$ANET_BIN/alexnet-$t" --version
        assert_status 0
        [[ "$out" == "alexnet-$t (alexnet) "* ]] || fail "alexnet-$t: $out"
        core=$(grep '^Core: ' <<< "$err" | tail -1 | cut -c7-)
        [[ -n "$core" && ! "$core" =~ $GENERIC_KERNELS ]] || fail "alexnet-$t runs OpenBLAS's $core kernels: $err"
    done
}

@test "the build under test is up to date for make: no settings stamp changes by itself" {
    build=$(build_dir)
    run_split mk -q BUILD="$build" $(build_vars "$build") all
    assert_status 0
}

@test "a BLAS that appears later relinks the tools and recompiles nothing; settings that change the code recompile it" {
    # a CPU-only build of one tool in parallel, first without the OpenMP OpenBLAS
    mkdir noblas
    run_split fresh -j4 BUILD="$TMP/b" CUDA=0 BLAS_OMP="$TMP/noblas" "$TMP/b/bin/alexnet-info"
    assert_status 0
    assert_contains "$out" "build: the CPU tools alone (CUDA=0)"
    ! ldd "$TMP/b/bin/alexnet-info" | grep -q openblas-openmp || fail "$(ldd "$TMP/b/bin/alexnet-info")"
    # then with it (as deps installs it after a first build)
    [ -e "$BLAS_OMP_DIR/libopenblas.so" ] || skip "no OpenMP OpenBLAS here"
    run_split fresh BUILD="$TMP/b" CUDA=0 "$TMP/b/bin/alexnet-info"
    assert_status 0
    assert_contains "$out" "-L$BLAS_OMP_DIR"
    [[ "$out" != *" -c "* ]] || fail "recompiled: $out"
    ldd "$TMP/b/bin/alexnet-info" | grep -q "$BLAS_OMP_DIR/libopenblas.so.0" || fail "$(ldd "$TMP/b/bin/alexnet-info")"
    run_split "$TMP/b/bin/alexnet-info" --tsv
    assert_status 0
    # nothing more to do; PORTABLE=1 recompiles every object without -march=native
    run_split fresh -q BUILD="$TMP/b" CUDA=0 "$TMP/b/bin/alexnet-info"
    assert_status 0
    run_split fresh -n BUILD="$TMP/b" CUDA=0 PORTABLE=1 "$TMP/b/bin/alexnet-info"
    assert_status 0
    [ "$(grep -c ' -c .*lib/core/status.c' <<< "$out")" -eq 1 ] || fail "status.c not recompiled: $out"
    [[ "$out" != *"-march=native"* ]] || fail "PORTABLE=1 kept -march=native: $out"
}

@test "without a GPU, CUDA is built as PTX only, and the build says so in one line" {
    [ "$(cd "$ROOT" && sh scripts/have-cuda.sh "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")" = 1 ] ||
        skip "no nvcc with cuDNN here"
    run_split fresh -n BUILD="$TMP/b" all
    assert_status 0
    [ "$(grep -c '^echo "build: ' <<< "$out")" -eq 1 ] || fail "not one build line: $(grep 'build:' <<< "$out")"
    if nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
        assert_contains "$out" "-arch=native"
    else
        assert_contains "$out" "CUDA as PTX only (no GPU answers here"
        assert_contains "$out" "CUDA_ARCH=all"
        assert_contains "$out" "-gencode arch=compute_75,code=compute_75"
        [[ "$out" != *"code=sm_"* ]] || fail "machine code built: $out"
    fi
    run_split fresh -n BUILD="$TMP/b" CUDA_ARCH=all all
    for a in 75 80 86 89 90; do assert_contains "$out" "-gencode arch=compute_$a,code=sm_$a"; done
    assert_contains "$out" "build: CPU and CUDA machine code for sm_75,sm_80,sm_86,sm_89,sm_90"
}

@test "make demo, check and bench install their packages first, then build in parallel" {
    n=$(getconf _NPROCESSORS_ONLN)
    for goal in demo check bench; do
        run_split fresh -n BUILD="$TMP/b" CUDA=0 $goal
        assert_status 0
        first=$(grep -n -m1 'scripts/deps.sh' <<< "$out" | cut -d: -f1)
        compile=$(grep -n -m1 ' -c ' <<< "$out" | cut -d: -f1)
        [ -n "$first" ] && [ -n "$compile" ] && [ "$first" -lt "$compile" ] ||
            fail "$goal: deps at line '$first', first compile at '$compile': $out"
        assert_contains "$out" "make --no-print-directory -j$n "
    done
    assert_contains "$(fresh -n BUILD="$TMP/b" CUDA=0 demo)" "sh scripts/deps.sh tools plots"
    assert_contains "$(fresh -n BUILD="$TMP/b" CUDA=0 check)" "sh scripts/deps.sh tools plots tests"
    # -j on the command line is the user's: no -jN of ours
    run_split fresh -n -j1 BUILD="$TMP/b" CUDA=0 demo
    [[ "$out" != *"--no-print-directory -j$n"* ]] || fail "-j1 was overridden: $out"
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

@test "deps: a group installs only its packages; an unknown group is refused" {
    mkdir shim
    printf '#!/bin/sh\necho 1000\n' > shim/id
    printf '#!/bin/sh\nexit 1\n' > shim/dpkg-query
    chmod +x shim/id shim/dpkg-query
    PATH="$PWD/shim:$PATH" run_split sh "$ROOT/scripts/deps.sh" tools
    assert_status 1
    assert_contains "$out" "libopenblas-openmp-dev"
    [[ "$out" != *gnuplot* && "$out" != *bats* ]] || fail "tools asked for more: $out"
    PATH="$PWD/shim:$PATH" run_split sh "$ROOT/scripts/deps.sh" tools plots
    assert_contains "$out" "gnuplot-nox"
    [[ "$out" != *bats* ]] || fail "tools plots asked for the tests' packages: $out"
    PATH="$PWD/shim:$PATH" run_split sh "$ROOT/scripts/deps.sh" tests
    assert_contains "$out" " bats"
    assert_contains "$out" "pkgconf"
    PATH="$PWD/shim:$PATH" run_split sh "$ROOT/scripts/deps.sh" nonsense
    assert_status 2
    assert_contains "$err" "unknown group 'nonsense'"
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
