#!/bin/sh
# make bench: alexnet-eval on the CPU (the paper's network, 1000 classes, from an LMDB),
# with the centre crop and with ten crops, beside PyTorch's inference on the same machine
# in the same run. Ten crops are ten forward passes an image, so the peer's rate is
# divided by ten for that comparison.
set -u
build=${1:-build}
threads=${THREADS:-$(nproc)}
batch=${BATCH:-64}
images=${IMAGES:-128}
peer=${PEER:-$(dirname "$0")/peers/torch_alexnet.py}
py=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/anet-bench-eval.XXXXXX")
trap 'rm -rf "$dir"' EXIT
bin=$build/bin
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads $threads, batch $batch, $images images"
"$bin/alexnet-synth" -q --classes 1000 --train 1 --val 1 --size 300-500 -o "$dir/synth" > /dev/null
"$bin/alexnet-prep" -q "$dir/synth/train" -o "$dir/train.lmdb" > /dev/null
head -n "$images" "$dir/synth/val.txt" > "$dir/val.txt"
"$bin/alexnet-prep" -q --list "$dir/val.txt" --synsets "$dir/synth/synset_words.txt" \
    "$dir/synth/val" -o "$dir/val.lmdb" > /dev/null
"$bin/alexnet-stats" -q "$dir/train.lmdb" -o "$dir/stats" > /dev/null
# a full-size model: one step from the paper's initialisation
"$bin/alexnet-train" -q -j "$threads" --train "$dir/train.lmdb" --stats "$dir/stats" \
    -o "$dir/run" --lr-policy fixed --batch 16 --max-iter 1 > /dev/null ||
    { echo "alexnet-train failed"; exit 1; }
model=$(ls "$dir"/run/ckpt-*.anet | head -1)

have_peer=0
if [ -f "$peer" ] && "$py" -c 'import torch' 2>/dev/null; then
    theirs=$("$py" "$peer" --device cpu --threads "$threads" --phase infer --batch "$batch" --iters 4 | grep -v '^#')
    their_ips=$(echo "$theirs" | cut -f5)
    have_peer=1
    echo "torch	inference from memory	batch $batch	$their_ips img/s"
fi
for crops in 1 10; do
    ours=$("$bin/alexnet-eval" -q -j "$threads" -m "$model" --data "$dir/val.lmdb" \
           --stats "$dir/stats" --crops "$crops" --batch "$batch" | awk -F'\t' '!/^#/ { print $10 }')
    echo "alexnet-eval	$crops crop(s), from LMDB	batch $batch	$ours img/s"
    if [ $have_peer = 1 ]; then
        echo "eval $crops crop(s): alexnet-eval $ours img/s, torch $(echo "$their_ips $crops" | awk '{ printf "%.1f", $1 / $2 }') img/s, ratio $(echo "$ours $their_ips $crops" | awk '{ printf "%.2f", $1 / ($2 / $3) }')x"
    fi
done
[ $have_peer = 1 ] || echo "(PyTorch peer not available: apt-get install python3-torch)"
