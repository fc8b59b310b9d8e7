#!/bin/sh
# make bench-gpu (and the GPU part of make bench): every op of the paper's network forward
# and backward at batch 128 and the whole training step on the GPU, in fp32, tf32 and
# bf16, then PyTorch's AlexNet (bench/peers/torch_alexnet.py) on the same card, and
# the ratios. Without a GPU it says so and does nothing.
set -u
build=${1:-build}
batch=${BATCH:-128}
iters=${ITERS:-20}
peer=${PEER:-$(dirname "$0")/peers/torch_alexnet.py}
py=${PYTHON:-python3}
if ! "$build/bench/cuda_ops" --batch 1 --iters 1 --precision fp32 >/dev/null 2>&1 ||
    "$build/bench/cuda_ops" --batch 1 --iters 1 --precision fp32 2>/dev/null | grep -q 'nothing to time'; then
    echo "# bench-gpu: no usable GPU (or built without CUDA): skipped"
    exit 0
fi
out=$(mktemp)
trap 'rm -f "$out" "$out.peer"' EXIT
"$build/bench/cuda_ops" --batch "$batch" --iters "$iters" | tee "$out"
# the towers on two lanes: two streams of GPU 0, and two GPUs where there are two
"$build/bench/cuda_ops" --batch "$batch" --iters "$iters" --step-only --gpus 0,0 \
    --precision fp32,bf16 | grep '^alexnet-c' | tee -a "$out"
if [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ]; then
    "$build/bench/cuda_ops" --batch "$batch" --iters "$iters" --step-only --gpus 0,1 \
        --precision fp32,bf16 | grep '^alexnet-c' | tee -a "$out"
fi
if [ -f "$peer" ] && "$py" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    "$py" "$peer" --device cuda --mode fp32 tf32 bf16 --phase train infer --batch "$batch" --iters "$iters" | tee "$out.peer"
    "$py" "$peer" --device cuda --mode bf16 --phase train --batch "$batch" --iters "$iters" --compile 2>/dev/null | grep -v '^#' | tee -a "$out.peer"
    grep '^alexnet-c' "$out" | while IFS="$(printf '\t')" read -r model mode phase b ips ms mib; do
        theirs=$(grep -v '^#' "$out.peer" | awk -F'\t' -v m="$mode" -v p="$phase" '$2 == m && $3 == p { print $5; exit }')
        best=$(grep -v '^#' "$out.peer" | awk -F'\t' -v p="$phase" '$3 == p && $5 > b { b = $5 } END { print b }')
        [ -n "$theirs" ] && echo "$phase $mode: $model $ips img/s, torch $theirs img/s ($(echo "$ips $theirs" | awk '{ printf "%.2f", $1 / $2 }')x); torch's best $best ($(echo "$ips $best" | awk '{ printf "%.2f", $1 / $2 }')x)"
    done
else
    echo "# PyTorch with CUDA not available: no side-by-side numbers"
fi
