#!/usr/bin/env bats
# bench/: the peers the benchmarks compare with are in the repository and do the same work
# as our tools.

load helper

ROOT="$BATS_TEST_DIRNAME/../.."
PY=/usr/bin/python3

@test "bench: every peer a benchmark names is in bench/peers/" {
    n=0
    for f in "$ROOT"/bench/*.sh; do
        for p in $(grep -o 'peers/[a-z_]*\.py' "$f"); do
            [ -f "$ROOT/bench/$p" ] || fail "$f names $p, which is not in bench/"
            n=$((n + 1))
        done
        ! grep -q 'shared/peers' "$f" || fail "$f looks outside the repository"
    done
    [ "$n" -ge 5 ] || fail "only $n peers named"
}

@test "bench: the PIL peer writes the records alexnet-prep writes" {
    "$PY" -c 'import PIL, lmdb, numpy' 2>/dev/null || fail "no $PY with PIL, lmdb and numpy (scripts/deps.sh tests)"
    alexnet-synth -q --classes 2 --train 4 --val 0 --size 300-420 --seed 5 -o synth > /dev/null
    alexnet-prep -q -j 2 synth/train -o ours.lmdb > /dev/null
    (cd synth/train && ls | awk '{ print NR - 1, $0 }' | while read -r label wnid; do
        ls "$wnid" | sed "s|^|$wnid/|; s|\$| $label|"; done) > list.txt
    run_split "$PY" "$ROOT/bench/peers/pil_prep.py" synth/train list.txt peer.lmdb --workers 2
    assert_status 0
    [ "$(cut -f1-3 <<< "$out")" = "$(printf 'pil_prep\t8\t0')" ] || fail "$out"
    # the same keys, labels and shapes; the same pixels within PIL's rounding
    "$PY" "$BATS_TEST_DIRNAME/datum.py" dump ours.lmdb > ours.tsv
    "$PY" "$BATS_TEST_DIRNAME/datum.py" dump peer.lmdb > peer.tsv
    diff <(cut -f1-7 ours.tsv) <(cut -f1-7 peer.tsv) || fail "records differ"
    paste ours.tsv peer.tsv | awk -F'\t' '{ for (i = 8; i <= 10; i++) { d = $i - $(i + 10); if (d > 0.5 || d < -0.5) exit 1 } }' ||
        fail "pixels differ: $(paste ours.tsv peer.tsv)"
}

@test "bench: the PyTorch peer times a training step and an inference of the paper's network" {
    "$PY" -c 'import torch' 2>/dev/null || skip "no PyTorch (scripts/deps.sh peers)"
    run_split "$PY" "$ROOT/bench/peers/torch_alexnet.py" --device cpu --threads 2 --phase train infer \
        --batch 2 --iters 1
    assert_status 0
    [ "$(grep -c '^#model	mode	phase	batch	img_per_s	ms	peak_MiB$' <<< "$out")" -eq 1 ] || fail "$out"
    grep -q '^torch	fp32	train	2	[0-9.]*	[0-9.]*	[0-9]*$' <<< "$out" || fail "$out"
    grep -q '^torch	fp32	infer	2	[0-9.]*	[0-9.]*	[0-9]*$' <<< "$out" || fail "$out"
    # the network is the paper's: 60,965,224 parameters
    run_split "$PY" -c "import sys; sys.path.insert(0, '$ROOT/bench/peers'); import torch_alexnet as t
print(sum(p.numel() for p in t.AlexNet().parameters()))"
    [ "$out" = 60965224 ] || fail "$out"
}
