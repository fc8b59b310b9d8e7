#!/usr/bin/env bats
# pipelines/: curves.sh draws alexnet-train's metrics and refuses bad input; imagenet.mk,
# ablations.mk and finetune.mk plan the right commands; one ablation experiment and a small
# fine-tuning run end to end.

load helper

PIPELINES="$BATS_TEST_DIRNAME/../../pipelines"
CURVES="$PIPELINES/curves.sh"

setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    PATH="$ANET_BIN:$PATH"
    alexnet-synth -q --classes 4 --train 24 --val 6 --size 72-96 --seed 3 -o synth >/dev/null
    alexnet-prep -q --resize 72 synth/train -o train.lmdb >/dev/null
    alexnet-prep -q --resize 72 synth/val -o val.lmdb >/dev/null
    alexnet-stats -q train.lmdb -o stats >/dev/null
    alexnet-train -q -j 2 --train train.lmdb --val val.lmdb --stats stats -o run --crop 67 \
        --conv 16,32,32,32,32 --fc 64,64 --batch 16 --epochs 3 --log-every 2 --dropout 0 \
        --lr-policy step --step-epochs 2 --gamma 0.3 > train.tsv
}

D() { echo "$BATS_FILE_TMPDIR/$1"; }

# is_png FILE: FILE starts with the eight bytes of the PNG signature
is_png() {
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        fail "$1 is not a PNG: $(head -c 8 "$1" | od -An -c)"
}

# mk ARGS...: GNU make alone, not a job slot of a make that runs these tests
mk() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@"
}

@test "curves.sh: a PNG from alexnet-train's TSV, with and without validation rows" {
    run_split sh "$CURVES" "$(D train.tsv)" out.png "a title with 'quotes'"
    assert_status 0
    [ -z "$out" ] || fail "stdout: $out"
    is_png out.png
    grep -v '^val' "$(D train.tsv)" > noval.tsv
    run_split sh "$CURVES" -x epoch -w 32 noval.tsv noval.png
    assert_status 0
    is_png noval.png
    run_split sh "$CURVES" -c -w 32 -t 0.5 both.png "two runs" a="$(D train.tsv)" b=noval.tsv
    assert_status 0
    is_png both.png
    ! ls | grep -q tmp || fail "temporary files left: $(ls)"
}

@test "curves.sh: missing input, no rows, not a TSV, no gnuplot, usage: clear errors" {
    run_split sh "$CURVES" missing.tsv out.png
    assert_status 1
    assert_contains "$err" "cannot open 'missing.tsv'"
    printf '#phase\tepoch\titer\n' > empty.tsv
    run_split sh "$CURVES" empty.tsv out.png
    assert_status 1
    assert_contains "$err" "no train or val rows"
    : > zero.tsv
    run_split sh "$CURVES" zero.tsv out.png
    assert_status 1
    assert_contains "$err" "zero.tsv: no train or val rows"
    echo "hello world" > junk.tsv
    run_split sh "$CURVES" junk.tsv out.png
    assert_status 1
    assert_contains "$err" "junk.tsv, line 1: not a train or val row"
    printf 'train\t1\tx\t16\t1.3\t0.7\t0\t0.01\t100\t1\n' > bad.tsv
    run_split sh "$CURVES" bad.tsv out.png
    assert_status 1
    assert_contains "$err" "field 3 is not a number"
    run_split env PATH=/nonexistent /bin/sh "$CURVES" "$(D train.tsv)" out.png
    assert_status 1
    assert_contains "$err" "gnuplot not found"
    run_split sh "$CURVES" "$(D train.tsv)" nodir/out.png
    assert_status 1
    assert_contains "$err" "no directory 'nodir'"
    run_split sh "$CURVES" "$(D train.tsv)"
    assert_status 2
    assert_contains "$err" "usage:"
    run_split sh "$CURVES" -c out.png title nolabel.tsv
    assert_status 2
    assert_contains "$err" "is not LABEL=TRAIN.tsv"
    [ ! -e out.png ] || fail "a PNG after errors"
}

@test "imagenet.mk: make -n all plans the paper's run from a fake ILSVRC path" {
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=/nonexistent/ILSVRC2012 OUT=in all
    assert_status 0
    assert_contains "$out" "alexnet-prep /nonexistent/ILSVRC2012/train -o in/train.lmdb"
    assert_contains "$out" "alexnet-prep /nonexistent/ILSVRC2012/val -o in/val.lmdb"
    assert_contains "$out" "alexnet-stats in/train.lmdb -o in/stats"
    assert_contains "$out" "-o in/run1 --force"
    assert_contains "$out" "--epochs 90 --lr-policy plateau --seed 1"
    assert_contains "$out" "--resume in/run1 --epochs 90"
    assert_contains "$out" "--crops 1 "
    assert_contains "$out" "-m in/run1/best.anet -m in/run2/best.anet -m in/run3/best.anet -m in/run4/best.anet -m in/run5/best.anet"
    assert_contains "$out" "--crops 10"
    assert_contains "$out" "curves.sh -x epoch in/run1.tsv in/run1.png"
    [ "${out#*--device}" = "$out" ] || fail "DEVICE=cpu passed a device option: $out"
    [ ! -e in ] || fail "make -n made $(ls -R in)"
    # the GPU variables pass through only with DEVICE=cuda; the other labels; the archives
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=/x OUT=in DEVICE=cuda \
        GPUS=0,1 PRECISION=bf16 ENCODED=yes THREADS=2 KAGGLE_CSV=/x/LOC_val_solution.csv train unpack
    assert_status 0
    assert_contains "$out" "--device cuda --gpus 0,1 --precision bf16 -j 2"
    assert_contains "$out" "alexnet-prep -j 2 --encoded /x/train"
    assert_contains "$out" "--kaggle /x/LOC_val_solution.csv /x/val -o in/val.lmdb"
    assert_contains "$out" "tar -xf /x/ILSVRC2012_img_train.tar -C in/train"
    assert_contains "$out" "tar -xf /x/ILSVRC2012_img_val.tar -C in/val"
    run_split mk -n -f "$PIPELINES/imagenet.mk" DEVICE=gpu all
    assert_status 2
    assert_contains "$err" "DEVICE must be cpu or cuda, not 'gpu'"
}

@test "ablations.mk: make -n all plans every experiment and builds nothing" {
    run_split mk -n -f "$PIPELINES/ablations.mk" BIN="$ANET_BIN" OUT=abl all
    assert_status 0
    assert_contains "$out" "alexnet-synth -q --force --classes 10"
    for arm in "relu-vs-tanh/tanh --force" "--act tanh" "--lrn off" "--pool plain" \
        "--color-noise 0 " "--dropout 0.5" "--towers 1 --conv 8,16,16,16,32" \
        "curves.sh -c -w 160 -t 0.6 abl/relu-vs-tanh/relu-vs-tanh.png" "> abl/summary.tsv.tmp"; do
        assert_contains "$out" "$arm"
    done
    [ "$(echo "$out" | grep -c 'alexnet-train -q')" -eq 12 ] || fail "not 12 arms: $out"
    [ ! -e abl ] || fail "make -n made $(ls -R abl)"
}

@test "ablations.mk: the lrn experiment runs end to end on a tiny dataset" {
    run_split mk -f "$PIPELINES/ablations.mk" BIN="$ANET_BIN" OUT=abl SYNTH_CLASSES=4 \
        SYNTH_TRAIN=24 SYNTH_VAL=6 EPOCHS=2 LOG_EVERY=2 WINDOW=32 THREADS=2 lrn
    assert_status 0
    [ "$(head -1 abl/lrn/summary.tsv | cut -f1-3)" = "$(printf '#experiment\tarm\tval_top1_err')" ] ||
        fail "header: $(head -1 abl/lrn/summary.tsv)"
    [ "$(grep -vc '^#' abl/lrn/summary.tsv)" -eq 2 ] || fail "$(cat abl/lrn/summary.tsv)"
    [ "$(grep -v '^#' abl/lrn/summary.tsv | cut -f1,2 | tr '\t\n' ': ')" = "lrn:lrn lrn:no-lrn " ] ||
        fail "$(cat abl/lrn/summary.tsv)"
    # final, best validation and training errors and images/s are numbers; errors in [0, 1]
    awk -F'\t' '!/^#/ { for (i = 3; i <= 6; i++) if ($i !~ /^[0-9.]+$/ || $i > 1) exit 1
                        if ($9 !~ /^[0-9.]+$/ || $9 <= 0) exit 1
                        if ($7 != "-" && $7 !~ /^[0-9]+$/) exit 1 }' abl/lrn/summary.tsv ||
        fail "$(cat abl/lrn/summary.tsv)"
    assert_contains "$(cat abl/lrn/summary.tsv)" "--lrn off"
    is_png abl/lrn/lrn.png
    # done is done: a second make runs nothing
    run_split mk -n -f "$PIPELINES/ablations.mk" BIN="$ANET_BIN" OUT=abl SYNTH_CLASSES=4 \
        SYNTH_TRAIN=24 SYNTH_VAL=6 EPOCHS=2 LOG_EVERY=2 WINDOW=32 THREADS=2 lrn
    assert_status 0
    [ "${out#*alexnet-}" = "$out" ] || fail "a second make would run: $out"
}

@test "finetune.mk: make -n plans the demo's model, the fine-tuning, the baseline and the figures" {
    run_split mk -n -f "$PIPELINES/finetune.mk" BIN="$ANET_BIN" DEMO=d OUT=ft DEVICE=cpu all
    assert_status 0
    for step in "make --no-print-directory -f $PIPELINES/demo.mk BIN=$ANET_BIN OUT=d CLASSES=20" \
        "alexnet-synth -q --force --classes 10 --first-class 21" \
        "alexnet-prep -q --force --resize 128 ft/synth/train -o ft/train.lmdb" \
        "alexnet-train -q --init-from d/run/best.anet --freeze conv1..conv5 --lr-mult fc8=10" \
        "--stats d/stats -o ft/run --force --batch 32 --epochs 3 --lr 0.01 --lr-policy fixed --seed 1" \
        "alexnet-train -q --crop 115 --conv 32,64,96,96,64 --fc 256,256 --init-std 0.03 --init-bias 0.1" \
        "alexnet-features -q --force" "--layer fc7" "--data ft/val.lmdb -o ft/val-fc7.npy" \
        "--index ft/train-fc7.npy --keys ft/train-fc7.keys.tsv --data ft/train.lmdb" \
        "-k 6 --sheet ft/neighbours.png" "alexnet-filters -q --force -m ft/run/best.anet -o ft/conv1.png"; do
        assert_contains "$out" "$step"
    done
    [ ! -e d ] && [ ! -e ft ] || fail "make -n made files"
    # a model of one's own: no demo
    touch m.anet
    run_split mk -n -f "$PIPELINES/finetune.mk" BIN="$ANET_BIN" MODEL=m.anet STATS=s OUT=ft \
        DEVICE=cpu FREEZE=conv1..conv3 LR_MULT=fc7..fc8=5 LAYER=pool5 all
    assert_status 0
    [ "${out#*demo.mk}" = "$out" ] || fail "the demo was planned: $out"
    assert_contains "$out" "--init-from m.anet --freeze conv1..conv3 --lr-mult fc7..fc8=5"
    assert_contains "$out" "--layer pool5"
}

@test "finetune.mk: a small demo model fine-tuned end to end, every file made" {
    run_split mk -f "$PIPELINES/finetune.mk" BIN="$ANET_BIN" DEMO=d OUT=ft THREADS=2 DEVICE=cpu \
        DEMO_CLASSES=4 "DEMO_VARS=TRAIN_PER_CLASS=40 VAL_PER_CLASS=10 SIZE=72-96 SIDE=72 EPOCHS=3" \
        "NET=--crop 67 --conv 16,32,32,32,32 --fc 64,64" CLASSES=3 TRAIN_PER_CLASS=20 \
        VAL_PER_CLASS=5 SIZE=72-96 SIDE=72 EPOCHS=2 BATCH=16
    assert_status 0
    for f in d/run/best.anet finetune.tsv scratch.tsv train-fc7.npy train-fc7.keys.tsv \
        val-fc7.npy neighbours.tsv neighbours.png conv1.png run/best.anet; do
        case $f in d/*) p=$f ;; *) p=ft/$f ;; esac
        [ -s "$p" ] || fail "no $p"
    done
    is_png ft/neighbours.png
    is_png ft/conv1.png
    assert_contains "$out" "3 new classes (chance is a top-1 error of 0.67), after the same 8 steps"
    assert_contains "$out" "fine-tuned:   validation top-1 error"
    assert_contains "$out" "nearest training image of the same class:"
    assert_contains "$(alexnet-info ft/run/best.anet)" "$(printf 'train.freeze\tconv1..conv5')"
    [ "$(grep -vc '^#' ft/neighbours.tsv)" -eq 90 ] || fail "15 queries x 6: $(cat ft/neighbours.tsv)"
    run_split mk -n -f "$PIPELINES/finetune.mk" BIN="$ANET_BIN" DEMO=d OUT=ft THREADS=2 DEVICE=cpu \
        DEMO_CLASSES=4 "NET=--crop 67 --conv 16,32,32,32,32 --fc 64,64" CLASSES=3 \
        TRAIN_PER_CLASS=20 VAL_PER_CLASS=5 SIZE=72-96 SIDE=72 EPOCHS=2 BATCH=16
    assert_status 0
    [ "${out#*alexnet-}" = "$out" ] || fail "a second make would run: $out"
}
