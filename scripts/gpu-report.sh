#!/bin/sh
# On a GPU host: build with CUDA, run the GPU parity tests, the same under
# compute-sanitizer, the GPU benchmark beside PyTorch, and the whole suite with
# ANET_REQUIRE_GPU=1; each step's log goes to OUTDIR and a summary to OUTDIR/summary.
#   scripts/gpu-report.sh OUTDIR [steps...]
# steps: build unit gpubats memcheck bench train demo check (default: all but check)
set -u
out=${1:?usage: scripts/gpu-report.sh OUTDIR [build unit gpubats memcheck bench train demo check]}
shift
steps=${*:-build unit gpubats memcheck bench train}
mkdir -p "$out"
jobs=$(nproc)
summary="$out/summary"
: > "$summary"
say() { echo "$*" | tee -a "$summary"; }
step() { # name timeout command...
    name=$1 limit=$2
    shift 2
    t0=$(date +%s)
    timeout "$limit" "$@" > "$out/$name.log" 2>&1
    rc=$?
    say "$name: exit $rc in $(($(date +%s) - t0)) s"
    return $rc
}
say "# $(date -u +%Y-%m-%dT%H:%MZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
for s in $steps; do
    case $s in
    build)
        step build 300 make -j"$jobs" all build/tests/test_backend build/bench/cuda_ops || { tail -30 "$out/build.log"; exit 1; }
        grep -q 'nvcc' "$out/build.log" || say "build: WARNING: nothing was compiled with nvcc" ;;
    unit)
        ANET_REQUIRE_GPU=1 step unit 300 build/tests/test_backend
        grep -c '^ok' "$out/unit.log" | sed 's/^/unit: ok /' | tee -a "$summary"
        grep '^not ok' "$out/unit.log" | tee -a "$summary"
        ANET_REQUIRE_GPU=1 ANET_CUDA_BF16_NHWC=1 step unit-nhwc 300 build/tests/test_backend
        grep -c '^ok' "$out/unit-nhwc.log" | sed 's/^/unit, bf16 channels-last: ok /' | tee -a "$summary"
        grep '^not ok' "$out/unit-nhwc.log" | tee -a "$summary" ;;
    gpubats)
        ANET_REQUIRE_GPU=1 ANET_BIN="$PWD/build/bin" step gpubats 300 bats --tap tests/cli/gpu.bats
        grep -E '^(ok|not ok)' "$out/gpubats.log" | tee -a "$summary" ;;
    train)
        step train 400 sh bench/gpu_train.sh build "$out/train-data"
        rm -rf "$out/train-data"
        grep -v '^#' "$out/train.log" | tee -a "$summary" ;;
    demo)
        step demo 300 make -k --no-print-directory -f pipelines/demo.mk BIN=build/bin OUT="$out/demo-run"
        grep -E '^== alexnet-train|top-1|error' "$out/demo.log" | head -12 | tee -a "$summary"
        rm -rf "$out/demo-run" ;;
    memcheck)
        cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
        ANET_REQUIRE_GPU=1 step memcheck 400 "$cs" --tool memcheck --leak-check full --report-api-errors no --error-exitcode 1 build/tests/test_backend
        grep -E 'ERROR SUMMARY|LEAK SUMMARY|not ok' "$out/memcheck.log" | tee -a "$summary" ;;
    bench)
        step bench 400 sh bench/gpu.sh build
        grep -E '^(alexnet-c|torch|train|infer)' "$out/bench.log" | tee -a "$summary" ;;
    check)
        step check 400 make test ANET_REQUIRE_GPU=1
        tail -1 "$out/check.log" | tee -a "$summary"
        grep '^not ok' "$out/check.log" | head -40 | tee -a "$summary" ;;
    esac
done
