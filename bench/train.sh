#!/bin/sh
# make bench: alexnet-train end to end on the CPU (the paper's network from an LMDB through
# the loader: random crops, mirrors, colour noise, mean subtraction), beside PyTorch's
# training step on the same machine in the same run; and the loader alone, which must
# deliver many times what the trainer consumes.
set -u
build=${1:-build}
threads=${THREADS:-$(nproc)}
batch=${BATCH:-64}
iters=${ITERS:-6}
peer=${PEER:-$(dirname "$0")/peers/torch_alexnet.py}
py=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/anet-bench-train.XXXXXX")
trap 'rm -rf "$dir"' EXIT
bin=$build/bin
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads $threads, batch $batch"
# 1000 classes, one 256x256 image each (ILSVRC-like JPEGs before prep): the paper's fc8
"$bin/alexnet-synth" -q --classes 1000 --train 1 --val 0 --size 300-500 -o "$dir/synth" > /dev/null
"$bin/alexnet-prep" -q "$dir/synth/train" -o "$dir/train.lmdb" > /dev/null
"$bin/alexnet-stats" -q "$dir/train.lmdb" -o "$dir/stats" > /dev/null

"$bin/alexnet-train" -q -j "$threads" --train "$dir/train.lmdb" --stats "$dir/stats" \
    -o "$dir/run" --lr-policy fixed --batch "$batch" --max-iter "$iters" --log-every 1 \
    > "$dir/train.tsv" || { echo "alexnet-train failed"; exit 1; }
# the median img/s of the steps after the first (warm-up)
ours=$(awk -F'\t' '$1 == "train" && $3 > 1 { print $9 }' "$dir/train.tsv" | sort -g |
       awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "alexnet-train	end to end from LMDB	batch $batch	$ours img/s"

loader=$("$build/bench/loader" "$dir/train.lmdb" --stats "$dir/stats" --batch "$batch" \
         --threads "$threads" --batches 40 | grep -v '^#')
loader_ips=$(echo "$loader" | cut -f5)
echo "loader alone	$threads threads	$loader_ips img/s	$(echo "$loader_ips $ours" | awk '{ printf "%.0f", $1 / $2 }')x what the trainer consumes"

if [ -f "$peer" ] && "$py" -c 'import torch' 2>/dev/null; then
    theirs=$("$py" "$peer" --device cpu --threads "$threads" --phase train --batch "$batch" --iters 4 | grep -v '^#')
    their_ips=$(echo "$theirs" | cut -f5)
    echo "torch	training step from memory	batch $batch	$their_ips img/s"
    echo "train end to end: alexnet-train $ours img/s, torch $their_ips img/s, ratio $(echo "$ours $their_ips" | awk '{ printf "%.2f", $1 / $2 }')x"
else
    echo "train end to end: alexnet-train $ours img/s (PyTorch peer not available: apt-get install python3-torch)"
fi
