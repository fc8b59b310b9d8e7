#!/bin/sh
# The tools end to end on the GPU: alexnet-train on the paper's network (1000 classes,
# 256x256 records, batch 128) from an LMDB through the loader and the GPU data path, and
# alexnet-eval's throughput, in fp32 and bf16, then training with the towers on two lanes
# (--gpus 0,0, and 0,1 where there are two GPUs). Compare with the synthetic-input step of
# bench/cuda_ops.c (make bench-gpu). Makes its dataset in WORK (default a temporary dir).
#   bench/gpu_train.sh [BUILD] [WORK]
set -u
build=${1:-build}
work=${2:-$(mktemp -d)}
bin=$build/bin
iters=${ITERS:-60}
threads=${LOADER_THREADS:-$(( $(nproc) / 2 ))}
if ! "$build/bench/cuda_ops" --batch 1 --iters 1 --precision fp32 2>/dev/null | grep -q '^alexnet-c'; then
    echo "# gpu_train: no usable GPU (or built without CUDA): skipped"
    exit 0
fi
if [ ! -d "$work/train.lmdb" ]; then
    "$bin/alexnet-synth" -q --classes 1000 --train 4 --val 12 --size 300-500 --seed 1 -o "$work/synth" &&
        "$bin/alexnet-prep" -q "$work/synth/train" -o "$work/train.lmdb" &&
        "$bin/alexnet-prep" -q "$work/synth/val" -o "$work/val.lmdb" &&
        "$bin/alexnet-stats" -q "$work/train.lmdb" -o "$work/stats" || exit 1
fi
echo "#what	mode	batch	img_per_s"
for p in fp32 bf16; do
    rm -rf "$work/run-$p"
    "$bin/alexnet-train" -q --train "$work/train.lmdb" --stats "$work/stats" -o "$work/run-$p" \
        --device cuda --precision "$p" --batch 128 --lr-policy fixed --max-iter "$iters" \
        --log-every 20 --loader-threads "$threads" > "$work/train-$p.tsv" || exit 1
    # the last window of 20 steps, after cuDNN's algorithm search and warm-up
    ips=$(awk -F'\t' '$1 == "train" { v = $9 } END { print v }' "$work/train-$p.tsv")
    echo "alexnet-train from LMDB	$p	128	$ips"
    ck=$(ls "$work/run-$p"/ckpt-*.anet | tail -1)
    for crops in 1 10; do
        # 12,000 images: enough that cuDNN's algorithm search (once a batch shape) and the
        # start stop dominating the figure
        ev=$("$bin/alexnet-eval" -m "$ck" --data "$work/val.lmdb" --stats "$work/stats" --device cuda \
            --precision "$p" --batch 512 --crops "$crops" --loader-threads "$threads" | grep -v '^#' | cut -f10)
        echo "alexnet-eval ($crops crops) from LMDB	$p	512	$ev"
    done
done
pairs=0,0
[ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ] && pairs="0,0 0,1"
for g in $pairs; do
    for p in fp32 bf16; do
        rm -rf "$work/run-$g-$p"
        "$bin/alexnet-train" -q --train "$work/train.lmdb" --stats "$work/stats" -o "$work/run-$g-$p" \
            --device cuda --gpus "$g" --precision "$p" --batch 128 --lr-policy fixed \
            --max-iter "$iters" --log-every 20 --loader-threads "$threads" > "$work/train-$g-$p.tsv" || exit 1
        ips=$(awk -F'\t' '$1 == "train" { v = $9 } END { print v }' "$work/train-$g-$p.tsv")
        echo "alexnet-train from LMDB, --gpus $g	$p	128	$ips"
    done
done
