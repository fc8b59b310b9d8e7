#!/bin/sh
# make bench (stats part): alexnet-stats on a raw LMDB of 256x256 records with a warm page
# cache: MB/s and images/s. The tool should be bound by memory bandwidth, not arithmetic.
set -eu
build=${1:-build}
threads=${THREADS:-$(nproc)}
images=${IMAGES:-3000}
work=$(mktemp -d "${TMPDIR:-/tmp}/anet-bench-stats.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/bin/alexnet-synth" -q --classes 10 --train $((images / 10)) --val 0 --size 256-320 -o "$work/synth" >/dev/null
"$build/bin/alexnet-prep" -q "$work/synth/train" -o "$work/train.lmdb" >/dev/null
cat "$work/train.lmdb/data.mdb" > /dev/null # warm the page cache
for run in 1 2 3; do
    "$build/bin/alexnet-stats" -q -j "$threads" --force "$work/train.lmdb" -o "$work/stats" | sed -n 2p
done | sort -t"$(printf '\t')" -k10 -g | tail -1 | awk -F'\t' -v t="$threads" \
    '{ printf "stats: %d images of 3x256x256, %d threads: %.0f MB/s, %.0f img/s (best of 3, warm cache)\n", $1, t, $10, $11 }'
