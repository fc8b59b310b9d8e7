#!/bin/sh
# make bench (prep part): alexnet-prep against the PIL peer (bench/peers/pil_prep.py)
# on the same ILSVRC-like JPEG tree made by alexnet-synth (375-500 pixel sides, quality
# 85-95, 4:2:0), with the same number of cores, in one run; prints both rates, the ratio
# and our peak memory.
set -eu
build=${1:-build}
threads=${THREADS:-$(nproc)}
classes=${CLASSES:-20}
per_class=${PER_CLASS:-100}
peer=${PEER:-$(dirname "$0")/peers/pil_prep.py}
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/anet-bench-prep.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/bin/alexnet-synth" -q --classes "$classes" --train "$per_class" --val 0 --size 375-500 -o "$work/synth" >/dev/null
n=$((classes * per_class))
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads $threads; $n JPEGs of 375-500 pixel sides"
sync
ours=$("$build/bin/alexnet-prep" -q -j "$threads" "$work/synth/train" -o "$work/ours.lmdb" | sed -n 2p)
our_ips=$(echo "$ours" | cut -f7)
echo "alexnet-prep	$n images	$our_ips img/s	peak $(echo "$ours" | cut -f8) MiB"
if [ -f "$peer" ] && "$py" -c 'import PIL, lmdb, numpy' 2>/dev/null; then
    (cd "$work/synth/train" && ls | awk '{ print NR - 1, $0 }' | while read -r label wnid; do
        ls "$wnid" | sed "s|^|$wnid/|; s|\$| $label|"; done) > "$work/list.txt"
    theirs=$("$py" "$peer" "$work/synth/train" "$work/list.txt" "$work/peer.lmdb" --workers "$threads")
    their_ips=$(echo "$theirs" | cut -f5)
    echo "pil_prep	$(echo "$theirs" | cut -f2) images	$their_ips img/s"
    echo "prep: alexnet-prep $our_ips img/s, PIL $their_ips img/s, ratio $(echo "$our_ips $their_ips" | awk '{ printf "%.2f", $1 / $2 }')x"
else
    echo "prep: alexnet-prep $our_ips img/s (PIL peer not available: apt-get install python3-pil python3-lmdb)"
fi
