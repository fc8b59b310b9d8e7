#!/usr/bin/env bats
# pipelines/: curves.sh draws alexnet-train's metrics and refuses bad input; imagenet.mk
# and ablations.mk plan the right commands; one ablation experiment runs end to end.

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

@test "slurm.sh: starts a run through srun, and resumes it when the run directory holds one" {
    mkdir bin
    # an srun that runs the command it is given, as one task, without Slurm's options
    printf '#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\necho "srun $*" >> "%s/srun.log"\n' "$TMP" > bin/srun
    printf 'exec "$@"\n' >> bin/srun
    # an alexnet-train that records its arguments and makes the run directory
    printf '#!/bin/sh\necho "$*" >> "%s/args.log"\nfor a; do [ "$p" = -o ] && mkdir -p "$a" && touch "$a/run.txt"; p=$a; done\n' "$TMP" > bin/fake-train
    chmod +x bin/srun bin/fake-train
    PATH="$TMP/bin:$PATH" ALEXNET_BIN=fake-train sh "$BATS_TEST_DIRNAME/../../pipelines/slurm.sh" data out
    PATH="$TMP/bin:$PATH" ALEXNET_BIN=fake-train TRAIN_OPTS="--epochs 95" sh "$BATS_TEST_DIRNAME/../../pipelines/slurm.sh" data out
    [ "$(sed -n 1p args.log)" = "--device cuda --train data/train.lmdb --val data/val.lmdb --stats data/stats -o out" ] ||
        fail "first: $(cat args.log)"
    [ "$(sed -n 2p args.log)" = "--device cuda --resume out --epochs 95" ] || fail "second: $(cat args.log)"
    run_split sh "$BATS_TEST_DIRNAME/../../pipelines/slurm.sh"
    [ "$status" -ne 0 ] && assert_contains "$err" "usage: slurm.sh DATA OUT"
}
