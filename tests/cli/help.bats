#!/usr/bin/env bats
# Every tool: -h/--help on stdout with exit 0, --version, unknown options exit 2.

load helper

tools() {
    local t
    for t in "$ANET_BIN"/alexnet-*; do [ -x "$t" ] && basename "$t"; done
}

@test "there are tools to test" {
    [ -n "$(tools)" ]
}

@test "every tool: -h and --help print usage on stdout and exit 0" {
    for t in $(tools); do
        for h in -h --help; do
            run_split "$t" "$h"
            assert_status 0
            assert_contains "$out" "Usage: $t"
            [ -z "$err" ] || fail "$t $h wrote to stderr: $err"
        done
    done
}

@test "every tool: --version prints the name and version" {
    for t in $(tools); do
        run_split "$t" --version
        assert_status 0
        [[ "$out" =~ ^$t\ \(alexnet\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "bad --version: $out"
    done
}

@test "every tool: --help and --version to a full disk fail with exit 1 and say so" {
    [ -w /dev/full ] || skip "no /dev/full"
    for t in $(tools); do
        for h in --help --version; do
            run_split "$t" "$h"
            run_split bash -c "'$t' $h > /dev/full"
            assert_status 1
            assert_contains "$err" "$t: write error on standard output: No space left on device"
        done
    done
}

@test "every tool: an unknown option exits 2 with usage on stderr and nothing on stdout" {
    for t in $(tools); do
        run_split "$t" --no-such-option
        assert_usage_error
        assert_contains "$err" "$t: unknown option '--no-such-option'"
    done
}

@test "every tool has a man page" {
    for t in $(tools); do
        [ -f "$BATS_TEST_DIRNAME/../../man/man1/$t.1" ] || fail "no man/man1/$t.1"
    done
}
