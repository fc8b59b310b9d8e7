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

# build_vars BUILD: the make variables the build under test was made with that make would
# not find again by itself (CUDA=0 for a build without CUDA on a host with nvcc), so that a
# make a test runs on it finds it up to date instead of rebuilding it another way.
build_vars() {
    sed -n '1s/^\(CUDA=0\).*/\1/p' "$1/flags/cuda" 2>/dev/null
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

# Is there a usable GPU? Sets GPU_WHY to the tools' own answer when there is none ("built
# without CUDA", "no CUDA device") and returns 1; returns 0 on a GPU host.
have_gpu() {
    local out
    out=$("$ANET_BIN/alexnet-eval" --device cuda -m /nonexistent/none.anet --data /nonexistent \
        --stats /nonexistent 2>&1)
    case $out in
    *"built without CUDA"*) GPU_WHY="built without CUDA"; return 1 ;;
    *"no CUDA device"*) GPU_WHY="no CUDA device"; return 1 ;;
    esac
    return 0
}

# Without a GPU: --device cuda must have failed with status 1 and the reason.
assert_no_gpu_refusal() {
    assert_status 1
    case $err in
    *"built without CUDA"* | *"no CUDA device"*) ;;
    *) fail "expected 'built without CUDA' or 'no CUDA device', got: $err" ;;
    esac
}

# In a GPU test: skip without a GPU, unless ANET_REQUIRE_GPU=1 (make check-gpu) says one
# must be there.
need_gpu() {
    have_gpu && return 0
    if [ "${ANET_REQUIRE_GPU:-0}" != 0 ]; then fail "ANET_REQUIRE_GPU is set but: $GPU_WHY"; fi
    skip "$GPU_WHY"
}
