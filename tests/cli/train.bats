#!/usr/bin/env bats
# alexnet-train: learning, the metrics, checkpoints, resume bit for bit, signals,
# divergence, and every refusal.

load helper

# A small network that still has the paper's shape: 67-pixel crops of 72-pixel images.
NET=(--crop 67 --conv 16,32,32,32,32 --fc 64,64)

setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    PATH="$ANET_BIN:$PATH"
    alexnet-synth -q --classes 4 --train 100 --val 25 --size 72-96 --seed 3 -o synth >/dev/null
    alexnet-prep -q --resize 72 synth/train -o train.lmdb >/dev/null
    alexnet-prep -q --resize 72 synth/val -o val.lmdb >/dev/null
    alexnet-stats -q train.lmdb -o stats >/dev/null
}

D() { echo "$BATS_FILE_TMPDIR/$1"; }

# train ARGS...: the small network on the shared data
train() {
    alexnet-train --train "$(D train.lmdb)" --val "$(D val.lmdb)" --stats "$(D stats)" \
        "${NET[@]}" -j 2 "$@"
}

# rows FILE: the TSV rows without the header and without the two timing columns
rows() {
    grep -v '^#' "$1" | cut -f1-8
}

@test "train: the loss falls and validation error ends far below chance" {
    # the paper's initial weights are too small for so narrow a network to start learning
    # soon; wider ones and a stepped learning rate make it a matter of seconds
    run_split train -o run --batch 16 --epochs 10 --log-every 25 --init-std 0.05 \
        --init-bias 0.1 --lr 0.02 --dropout 0 --lr-policy step --step-epochs 4 --gamma 0.3
    assert_status 0
    first=$(echo "$out" | awk -F'\t' '$1 == "train" { print $5; exit }')
    last=$(echo "$out" | awk -F'\t' '$1 == "train" { l = $5 } END { print l }')
    val=$(echo "$out" | awk -F'\t' '$1 == "val" { e = $6 } END { print e }')
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.6 * a) }' ||
        fail "training loss went from $first to $last"
    # four classes: chance is 0.75
    awk -v e="$val" 'BEGIN { exit !(e <= 0.45) }' || fail "validation top-1 error $val"
}

@test "train: stdout is a TSV table with a header; messages go to stderr" {
    run_split train -o run --batch 16 --epochs 2 --log-every 10
    assert_status 0
    header=$(echo "$out" | head -1)
    [ "$header" = "$(printf '#phase\tepoch\titer\timages\tloss\ttop1_err\ttop5_err\tlr\timg_s\telapsed_s')" ] ||
        fail "header: $header"
    echo "$out" | awk -F'\t' 'NR > 1 && (NF != 10 || ($1 != "train" && $1 != "val")) { exit 1 }' ||
        fail "bad row in: $out"
    # 400 images, batches of 16: 25 steps an epoch; rows at 10, 20, the epoch end, then val
    [ "$(echo "$out" | awk -F'\t' '$1 == "val"' | wc -l)" -eq 2 ] || fail "$out"
    [ "$(echo "$out" | awk -F'\t' '$1 == "train" && $2 == 1' | cut -f3 | tr '\n' ' ')" = "10 20 25 " ] ||
        fail "$out"
    [ "$(echo "$out" | awk -F'\t' '$1 == "val" && $2 == 2 { print $3, $4 }')" = "50 800" ] || fail "$out"
    assert_contains "$err" "training images"
    run_split train -o run2 -q --batch 16 --epochs 1
    [ -z "$err" ] || fail "-q still wrote: $err"
}

@test "train: the run directory holds checkpoints, best.anet and run.txt; --keep prunes" {
    run_split train -o run --batch 16 --epochs 4 --ckpt-every 3 --keep 2
    assert_status 0
    [ -f run/run.txt ] && [ -f run/best.anet ] || fail "$(ls run)"
    [ "$(ls run | grep -c '^ckpt-')" -eq 2 ] || fail "keep 2: $(ls run)"
    [ -f run/ckpt-00000100.anet ] || fail "no checkpoint after the last epoch: $(ls run)"
    [ -z "$(ls run | grep tmp)" ] || fail "temporary files left: $(ls run)"
    assert_contains "$(cat run/run.txt)" "conv 16 32 32 32 32"
}

@test "train: a resumed run follows the uninterrupted one bit for bit" {
    train -q -o a --batch 16 --epochs 3 --log-every 1 --seed 5 > a.tsv
    # stop mid-epoch, at an epoch boundary, and mid-epoch again
    train -q -o b --batch 16 --epochs 3 --log-every 1 --seed 5 --max-iter 7 > b.tsv
    alexnet-train -q -j 2 --resume b --max-iter 25 --log-every 1 >> b.tsv
    alexnet-train -q -j 2 --resume b --max-iter 53 --log-every 1 >> b.tsv
    alexnet-train -q -j 2 --resume b/ckpt-00000053.anet --log-every 1 >> b.tsv
    [ "$(rows a.tsv | wc -l)" -eq 78 ] || fail "$(cat a.tsv)"
    diff <(rows a.tsv) <(rows b.tsv) || fail "the resumed run differs"
}

@test "train: --resume lengthens a run with --epochs and refuses contradicting options" {
    train -q -o run --batch 16 --epochs 1 > /dev/null
    run_split alexnet-train -j 2 --resume run --lr 0.02
    assert_status 2
    assert_contains "$err" "--lr 0.02 contradicts the checkpoint"
    run_split alexnet-train -j 2 --resume run --towers 1
    assert_status 2
    assert_contains "$err" "--towers 1 contradicts"
    run_split alexnet-train -q -j 2 --resume run --lr 0.01 --batch 16 --epochs 2
    assert_status 0
    [ "$(echo "$out" | awk -F'\t' '$1 == "val" { print $2 }')" = 2 ] || fail "$out"
}

@test "train: a run resumes from another directory; the checkpoint keeps absolute data paths" {
    mkdir -p exp/sub && cd exp
    ln -s "$(D train.lmdb)" train.lmdb && ln -s "$(D val.lmdb)" val.lmdb && ln -s "$(D stats)" stats
    alexnet-train -q -j 2 --train train.lmdb --val ./val.lmdb --stats stats -o sub/run "${NET[@]}" \
        --batch 16 --epochs 1 > /dev/null
    run_split alexnet-info sub/run/ckpt-00000025.anet
    assert_contains "$out" "train.train_db	$TMP/exp/train.lmdb"
    assert_contains "$out" "train.val_db	$TMP/exp/val.lmdb"
    assert_contains "$out" "train.stats	$TMP/exp/stats"
    cd /
    run_split alexnet-train -q -j 2 --resume "$TMP/exp/sub/run" --epochs 2
    assert_status 0
    [ "$(grep -c '^val' <<< "$out")" -eq 1 ] || fail "$out"
}

@test "train: an older checkpoint's relative data paths are found from the run directory up" {
    mkdir -p exp/sub && cd exp
    cp -r "$(D train.lmdb)" "$(D val.lmdb)" "$(D stats)" .
    alexnet-train -q -j 2 --train train.lmdb --val val.lmdb --stats stats -o sub/run "${NET[@]}" \
        --batch 16 --epochs 1 > /dev/null
    # write the paths back as a release before this one kept them: relative to where the
    # run started (the TRAN section's text, its length and the CRC-32 after it)
    /usr/bin/python3 - sub/run/ckpt-00000025.anet "$TMP/exp/" <<'PY'
import struct, sys, zlib
path, prefix = sys.argv[1], sys.argv[2].encode()
b = open(path, "rb").read()
at, out = 16, b[:16]
for _ in range(struct.unpack_from("<I", b, 12)[0]):
    tag, res, n = struct.unpack_from("<4sIQ", b, at)
    body = b[at + 16:at + 16 + n]
    if tag == b"TRAN":
        body = body.replace(b" " + prefix, b" ")
    out += struct.pack("<4sIQ", tag, res, len(body)) + body
    at += 16 + n
out += b[at:at + 8]
out += struct.pack("<I", zlib.crc32(out[:-8]))
open(path, "wb").write(out)
PY
    run_split alexnet-info sub/run/ckpt-00000025.anet
    assert_contains "$out" "train.train_db	train.lmdb"
    cd /
    run_split alexnet-train -j 2 --resume "$TMP/exp/sub/run" --epochs 2
    assert_status 0
    assert_contains "$err" "'train.lmdb', relative to where the run started, is '$TMP/exp/train.lmdb'"
    assert_contains "$err" "'stats', relative to where the run started, is '$TMP/exp/stats'"
    run_split alexnet-info "$TMP/exp/sub/run/ckpt-00000050.anet"
    assert_contains "$out" "train.train_db	$TMP/exp/train.lmdb"
}

@test "train: SIGTERM finishes the step, writes a checkpoint and exits 143; SIGINT 130" {
    for sig in TERM INT; do
        rm -rf run log.tsv # the last run's rows must not send the signal before this one starts
        alexnet-train --train "$(D train.lmdb)" --val "$(D val.lmdb)" --stats "$(D stats)" \
            "${NET[@]}" -j 2 -q -o run --batch 16 --epochs 100000 --log-every 5 > log.tsv &
        pid=$!
        for _ in $(seq 100); do
            n=$(grep -c '^train' log.tsv 2>/dev/null || true)
            [ "${n:-0}" -ge 2 ] && break
            sleep 0.1
        done
        kill -$sig $pid
        set +e; wait $pid; status=$?; set -e
        want=143; [ $sig = INT ] && want=130
        [ "$status" -eq $want ] || fail "SIG$sig: exit $status"
        [ -n "$(ls run | grep '^ckpt-')" ] || fail "no checkpoint after SIG$sig"
        [ -z "$(ls run | grep tmp)" ] || fail "temporary files left: $(ls run)"
        alexnet-train -q -j 2 --resume run --epochs 1 --max-iter 100000 > /dev/null ||
            fail "the checkpoint after SIG$sig does not resume"
    done
}

@test "train: a second signal exits at once, leaving the checkpoints intact" {
    alexnet-train --train "$(D train.lmdb)" --val "$(D val.lmdb)" --stats "$(D stats)" \
        "${NET[@]}" -j 2 -q -o run --batch 16 --epochs 100000 --ckpt-every 1 > /dev/null &
    pid=$!
    for _ in $(seq 100); do
        [ -n "$(ls run 2>/dev/null | grep '^ckpt-')" ] && break
        sleep 0.1
    done
    kill -TERM $pid; kill -INT $pid   # two signals that cannot merge into one
    set +e; wait $pid; status=$?; set -e
    [ "$status" -eq 1 ] || fail "exit $status: 143 would promise a checkpoint"
    for c in run/ckpt-*.anet; do
        alexnet-train -q -j 2 --resume "$c" --max-iter 1 > /dev/null || fail "'$c' does not load"
    done
}

@test "train: kill -9 at any moment leaves every checkpoint loadable" {
    # a checkpoint every step, so most kills land in the middle of a write
    for delay in 0.3 0.5 0.7 0.9 1.1; do
        rm -rf run
        alexnet-train --train "$(D train.lmdb)" --val "$(D val.lmdb)" --stats "$(D stats)" \
            "${NET[@]}" -j 2 -q -o run --batch 16 --epochs 100000 --ckpt-every 1 --keep 2 \
            > /dev/null &
        pid=$!
        sleep $delay
        kill -9 $pid
        wait $pid || true
        for c in run/ckpt-*.anet; do
            [ -e "$c" ] || continue
            alexnet-train -q -j 2 --resume "$c" --max-iter 1 > /dev/null ||
                fail "after kill -9 at ${delay}s: '$c' does not load"
        done
    done
}

@test "train: a diverging run stops naming the iteration and keeps the last good checkpoint" {
    run_split train -o run --batch 16 --epochs 3 --lr 1e5 --ckpt-every 1
    assert_status 1
    assert_contains "$err" "training diverged"
    [[ "$err" =~ iteration\ [0-9]+ ]] || fail "$err"
    last=$(ls run/ckpt-*.anet | tail -1)
    [ -n "$last" ] || fail "no checkpoint before the divergence: $(ls run)"
    assert_contains "$err" "the last good checkpoint is '$last'"
    for c in run/ckpt-*.anet; do
        alexnet-train -q -j 2 --resume "$c" --max-iter 1 > /dev/null || fail "'$c' does not load"
    done
}

@test "train: refuses a run directory that holds another run, unless --force" {
    train -q -o run --batch 16 --epochs 1 > /dev/null
    run_split train -o run --batch 16 --epochs 1
    assert_status 1
    assert_contains "$err" "'run' holds another run"
    run_split train -q -o run --batch 16 --epochs 1 --force
    assert_status 0
}

@test "train: refuses training and validation sets with different class tables" {
    alexnet-synth -q --classes 3 --train 2 --val 2 --size 72 --seed 4 -o other
    alexnet-prep -q --resize 72 other/val -o other.lmdb
    run_split alexnet-train --train "$(D train.lmdb)" --val other.lmdb --stats "$(D stats)" \
        "${NET[@]}" -o run --batch 16
    assert_status 1
    assert_contains "$err" "class tables of"
    assert_contains "$err" "differ"
}

@test "train: refuses a crop larger than the images and a mean image of another size" {
    run_split train -o run --crop 80
    assert_status 1
    assert_contains "$err" "crop"
    # the failed start left no run behind: the corrected command needs no --force
    run_split train -q -o run --batch 16 --epochs 1
    assert_status 0
    alexnet-prep -q --resize 80 "$(D synth/train)" -o big.lmdb
    alexnet-stats -q big.lmdb -o bigstats
    run_split train -o run2 --stats bigstats
    assert_status 1
    assert_contains "$err" "mean image"
}

@test "train: refuses colour noise without stats.txt and plateau without --val" {
    mkdir nostats && cp "$(D stats)/mean.binaryproto" nostats/
    run_split train -o run --stats nostats
    assert_status 1
    assert_contains "$err" "stats.txt"
    run_split alexnet-train --train "$(D train.lmdb)" --stats "$(D stats)" "${NET[@]}" -o run2
    assert_status 2
    assert_contains "$err" "needs a validation set"
}

@test "train: labels beyond the classes stop the run naming the record" {
    cp -r "$(D train.lmdb)" caffe.lmdb && rm caffe.lmdb/classes.tsv
    run_split alexnet-train --train caffe.lmdb --stats "$(D stats)" "${NET[@]}" -o run \
        --lr-policy fixed --batch 16
    assert_status 1
    assert_contains "$err" "no class table"
    run_split alexnet-train --train caffe.lmdb --stats "$(D stats)" "${NET[@]}" -o run \
        --lr-policy fixed --batch 16 --classes 2
    assert_status 1
    assert_contains "$err" "is out of range for 2 classes"
    assert_contains "$err" "record 0000"
}

@test "train: --resume skips a damaged checkpoint for an older one" {
    train -q -o run --batch 16 --epochs 2 > /dev/null
    printf 'garbage' | dd of=run/ckpt-00000050.anet bs=1 seek=1000 conv=notrunc 2>/dev/null
    run_split alexnet-train -j 2 --resume run --epochs 2
    assert_status 0
    assert_contains "$err" "skipping 'run/ckpt-00000050.anet'"
    assert_contains "$err" "resuming 'run/ckpt-00000025.anet'"
}

@test "train: usage errors and a missing device" {
    run_split alexnet-train --stats s -o r
    assert_usage_error
    assert_contains "$err" "--train"
    run_split alexnet-train --train t --stats s -o r --lr-policy cosine
    assert_usage_error
    run_split alexnet-train --resume r --force
    assert_usage_error
    for bad in 0,1,2 a 0, ,1 1x 64; do
        run_split alexnet-train --train t --stats s -o r --device cuda --gpus "$bad"
        assert_usage_error
        assert_contains "$err" "--gpus: expected a GPU number (0) or two"
    done
    run_split alexnet-train --train t --stats s -o r --gpus 0,1
    assert_usage_error
    assert_contains "$err" "--gpus 0,1 needs --device cuda"
    if ! have_gpu; then
        run_split train -o run --device cuda
        assert_no_gpu_refusal
        run_split train -o run --device cuda --gpus 0,0
        assert_no_gpu_refusal
    fi
    run_split alexnet-train --resume nothing-here
    assert_status 1
    assert_contains "$err" "cannot open 'nothing-here'"
}
