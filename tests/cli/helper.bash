# Shared by every Bats file: puts the freshly built tools first on PATH, gives each test
# its own scratch directory, and provides assertions that fail loudly when misused.

ANET_BIN=${ANET_BIN:-$BATS_TEST_DIRNAME/../../build/bin}
PATH="$ANET_BIN:$PATH"

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/anet.XXXXXX")
    cd "$TMP" || return 1
}

teardown() {
    cd / && rm -rf "$TMP"
}

# run_split CMD...: like bats' run, but keeps stdout and stderr apart in $out and $err
# (and $status), so tests can check that data goes to stdout and messages to stderr.
run_split() {
    local o e
    o=$(mktemp) e=$(mktemp)
    set +e
    "$@" >"$o" 2>"$e"
    status=$?
    set -e
    out=$(cat "$o") err=$(cat "$e")
    rm -f "$o" "$e"
}

fail() {
    echo "$*" >&2
    return 1
}

# assert_status N
assert_status() {
    [ $# -eq 1 ] || fail "assert_status: expected 1 argument, got $#"
    [ "$status" -eq "$1" ] || fail "expected exit status $1, got $status; stderr: ${err:-}"
}

# assert_contains HAYSTACK NEEDLE
assert_contains() {
    [ $# -eq 2 ] || fail "assert_contains: expected 2 arguments, got $#"
    case "$1" in
    *"$2"*) return 0 ;;
    esac
    fail "expected to find '$2' in: $1"
}

# assert_usage_error: exit 2, nothing on stdout, a message and a pointer to --help on stderr
assert_usage_error() {
    [ $# -eq 0 ] || fail "assert_usage_error takes no arguments"
    assert_status 2
    [ -z "$out" ] || fail "expected empty stdout on a usage error, got: $out"
    assert_contains "$err" "--help"
}
