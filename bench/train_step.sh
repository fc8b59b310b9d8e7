#!/bin/sh
# make bench: one full training step of the paper's network (forward, backward, update)
# at batch 64 on the CPU with all cores, ours and PyTorch's in the same run, and the ratio.
# Also inference. PyTorch is the peer of bench/peers/torch_alexnet.py, run with
# Debian's python3 when it has torch (apt-get install python3-torch).
set -u
build=${1:-build}
threads=${THREADS:-$(nproc)}
batch=${BATCH:-64}
iters=${ITERS:-4}
peer=${PEER:-$(dirname "$0")/peers/torch_alexnet.py}
py=/usr/bin/python3
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads $threads, batch $batch"
for phase in train infer; do
    ours=$("$build/bench/train_step" --batch "$batch" --iters "$iters" --threads "$threads" --phase "$phase" | grep -v '^#')
    echo "$ours"
    our_ips=$(echo "$ours" | cut -f5)
    if [ -f "$peer" ] && "$py" -c 'import torch' 2>/dev/null; then
        theirs=$("$py" "$peer" --device cpu --threads "$threads" --phase "$phase" --batch "$batch" --iters "$iters" | grep -v '^#')
        echo "$theirs"
        their_ips=$(echo "$theirs" | cut -f5)
        echo "$phase: alexnet-c $our_ips img/s, torch $their_ips img/s, ratio $(echo "$our_ips $their_ips" | awk '{ printf "%.2f", $1 / $2 }')x"
    else
        echo "$phase: alexnet-c $our_ips img/s (PyTorch peer not available: apt-get install python3-torch)"
    fi
done
