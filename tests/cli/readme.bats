#!/usr/bin/env bats
# The README's commands: every make target it names exists, every other command it shows
# runs, and the demo does what the README says it shows.

load helper

ROOT="$BATS_TEST_DIRNAME/../.."

# The lines of the README's ```sh blocks, without comments.
readme_commands() {
    awk '/^```sh/ { inb = 1; next } /^```/ { inb = 0 } inb' "$ROOT/README.md" | sed 's/ *#.*//' | grep -v '^$'
}

@test "readme: every make target shown exists (dry run)" {
    n=0
    while read -r cmd; do
        case "$cmd" in
        make*) run_split make -n -C "$ROOT" ${cmd#make} ;;
        *) continue ;;
        esac
        [ "$status" -eq 0 ] || fail "'$cmd' is not a working target: $err"
        n=$((n + 1))
    done < <(readme_commands; grep -o '`make [a-z]*[^`]*`' "$ROOT/README.md" | tr -d '`')
    [ "$n" -ge 4 ] || fail "found only $n make commands"
}

@test "readme: the man commands it shows work" {
    n=0
    while read -r cmd; do
        run_split bash -c "cd '$ROOT' && MANWIDTH=80 $cmd"
        assert_status 0
        [ -n "$out" ] || fail "'$cmd' printed nothing"
        n=$((n + 1))
    done < <(grep -o '`man -l [^`]*`' "$ROOT/README.md" | tr -d '`')
    [ "$n" -ge 2 ] || fail "found only $n man commands"
}

# A shortened demo: the same recipe on a tiny dataset and a tiny network.
DEMO_VARS=(CLASSES=4 TRAIN_PER_CLASS=40 VAL_PER_CLASS=10 SIZE=72-96 SIDE=72 EPOCHS=3 THREADS=2
           "NET=--crop 67 --conv 16,32,32,32,32 --fc 64,64")

@test "demo: a shortened demo runs end to end, makes every file and prints eval's numbers" {
    run_split make --no-print-directory -C "$ROOT" -f pipelines/demo.mk BIN="$ANET_BIN" \
        OUT="$TMP/d" "${DEMO_VARS[@]}"
    assert_status 0
    assert_contains "$out" "60,965,224     724.41"
    for f in synth/val.txt train.lmdb/data.mdb val.lmdb/data.mdb stats/stats.txt \
        stats/mean.binaryproto train.tsv run/best.anet eval1.tsv eval10.tsv per-image.tsv \
        predict.tsv curves.png conv1.png; do
        [ -s "$TMP/d/$f" ] || fail "no $f"
    done
    [ "$(head -c 4 "$TMP/d/curves.png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "curves.png is not a PNG"
    # the numbers printed are alexnet-eval's, and the centre crop's are those of the best
    # validation of training
    e1=$(awk -F'\t' '!/^#/ { printf "top-1 error %.4f, top-5 error %.4f", $2, $3 }' "$TMP/d/eval1.tsv")
    e10=$(awk -F'\t' '/^#class/ { exit } !/^#/ { printf "top-1 error %.4f, top-5 error %.4f", $2, $3 }' "$TMP/d/eval10.tsv")
    assert_contains "$out" "centre crop: $e1"
    assert_contains "$out" "ten crops:   $e10"
    best=$(awk -F'\t' '$1 == "val" && (b == "" || $6 < b) { b = $6 } END { printf "%.4f", b }' "$TMP/d/train.tsv")
    assert_contains "$e1" "top-1 error $best"
    [ "$(grep -c ' -> n0000000' <<< "$out")" -eq 3 ] || fail "not three predictions: $out"
    # again: everything is made already
    run_split make --no-print-directory -C "$ROOT" -f pipelines/demo.mk BIN="$ANET_BIN" \
        OUT="$TMP/d" "${DEMO_VARS[@]}"
    assert_status 0
    case "$out" in *"== alexnet-"[a-z]*:*) fail "a second run redid work: $out" ;; esac
    assert_contains "$out" "centre crop: $e1"
}

@test "demo: an interrupted training run goes on where it stopped" {
    make --no-print-directory -C "$ROOT" -f pipelines/demo.mk BIN="$ANET_BIN" OUT="$TMP/d" \
        "${DEMO_VARS[@]}" "$TMP/d/stats/stats.txt" "$TMP/d/val.lmdb/data.mdb" "$TMP/d/settings/train" > /dev/null
    # stop training after its first epoch, as a Ctrl-C would, with a checkpoint
    "$ANET_BIN/alexnet-train" -q -j 2 --train "$TMP/d/train.lmdb" --val "$TMP/d/val.lmdb" \
        --stats "$TMP/d/stats" -o "$TMP/d/run" --crop 67 --conv 16,32,32,32,32 --fc 64,64 \
        --batch 32 --epochs 3 --lr 0.01 --init-std 0.03 --init-bias 0.1 --lr-policy step \
        --step-epochs 8 --gamma 0.1 --seed 1 --max-iter 5 > "$TMP/d/train.tsv.part"
    run_split make --no-print-directory -C "$ROOT" -f pipelines/demo.mk BIN="$ANET_BIN" \
        OUT="$TMP/d" "${DEMO_VARS[@]}"
    assert_status 0
    assert_contains "$out" "alexnet-train --resume"
    [ "$(grep -c '^val' "$TMP/d/train.tsv")" -eq 3 ] || fail "$(cat "$TMP/d/train.tsv")"
}

@test "demo: other settings rerun the steps they change, and only those" {
    run_split make --no-print-directory -C "$ROOT" -f pipelines/demo.mk BIN="$ANET_BIN" \
        OUT="$TMP/d" "${DEMO_VARS[@]}"
    assert_status 0
    assert_contains "$out" "(4 classes: chance"
    # fewer classes over a 4-class run: everything from the images on is made again
    run_split make --no-print-directory -C "$ROOT" -f pipelines/demo.mk BIN="$ANET_BIN" \
        OUT="$TMP/d" "${DEMO_VARS[@]}" CLASSES=3
    assert_status 0
    for step in alexnet-synth alexnet-prep alexnet-stats alexnet-train alexnet-eval alexnet-predict; do
        assert_contains "$out" "== $step"
    done
    assert_contains "$out" "(3 classes: chance"
    [ "$("$ANET_BIN/alexnet-info" "$TMP/d/run/best.anet" | grep -c '^# alexnet: 3 classes')" -eq 1 ] ||
        fail "$("$ANET_BIN/alexnet-info" "$TMP/d/run/best.anet" | head -3)"
    [ "$(awk -F'\t' '!/^#/ { print $1 }' "$TMP/d/eval1.tsv")" -eq 30 ] || fail "$(cat "$TMP/d/eval1.tsv")"
    # other epochs: training and what follows it, not the data; an unfinished run of the
    # old settings is not resumed
    : > "$TMP/d/train.tsv.part"
    run_split make --no-print-directory -C "$ROOT" -f pipelines/demo.mk BIN="$ANET_BIN" \
        OUT="$TMP/d" "${DEMO_VARS[@]}" CLASSES=3 EPOCHS=2
    assert_status 0
    assert_contains "$out" "== alexnet-train: 2 epochs"
    assert_contains "$out" "== alexnet-eval"
    assert_contains "$out" "-o $TMP/d/run --force"
    [[ "$out" != *"== alexnet-synth"* && "$out" != *"== alexnet-prep"* ]] || fail "redid the data: $out"
    [ "$(grep -c '^val' "$TMP/d/train.tsv")" -eq 2 ] || fail "$(cat "$TMP/d/train.tsv")"
    # one epoch is one epoch
    run_split make --no-print-directory -C "$ROOT" -f pipelines/demo.mk BIN="$ANET_BIN" \
        OUT="$TMP/d" "${DEMO_VARS[@]}" CLASSES=3 EPOCHS=1
    assert_contains "$out" "== alexnet-train: 1 epoch on"
    assert_contains "$err" "done: 1 epoch;"
}

@test "readme: the tool commands it shows run in order and print what it says" {
    n=0 all=
    while read -r cmd; do
        case "$cmd" in make*) continue ;; esac
        run_split bash -o pipefail -c "${cmd//build\/bin\//$ANET_BIN/}"
        [ "$status" -eq 0 ] || fail "'$cmd' exited $status: $err"
        all="$all$out"
        n=$((n + 1))
    done < <(readme_commands)
    [ "$n" -ge 3 ] || fail "found only $n tool commands"
    [ "$(find synth/train -name '*.JPEG' | wc -l)" -eq 1000 ] || fail "not 1,000 training images"
    [ "$(find synth/val -name '*.JPEG' | wc -l)" -eq 200 ] || fail "not 200 validation images"
    assert_contains "$all" "records	1000"
    assert_contains "$all" "shape	3x256x256	1000"
    assert_contains "$all" "eigval	"
}
