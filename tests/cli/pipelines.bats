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

@test "imagenet.mk: make -n all plans the paper's run from unpacked images" {
    mkdir -p ilsvrc/train/n01440764 ilsvrc/val/n01440764
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=ilsvrc OUT=in DEVICE=cpu all
    assert_status 0
    assert_contains "$out" "alexnet-prep --force ilsvrc/train -o in/train.lmdb"
    assert_contains "$out" "alexnet-prep --force ilsvrc/val -o in/val.lmdb"
    assert_contains "$out" "alexnet-stats in/train.lmdb -o in/stats"
    assert_contains "$out" "-o in/run1 --force"
    assert_contains "$out" "--epochs 90 --lr-policy plateau --seed 1"
    assert_contains "$out" "--resume in/run1 --epochs 90"
    # the paper's rows: each run's final checkpoint; best.anet in a row of its own
    final='$(ls in/run1/ckpt-*.anet | sort -V | tail -n 1)'
    assert_contains "$out" "alexnet-eval -m $final --data in/val.lmdb --stats in/stats --crops 1 "
    assert_contains "$out" "alexnet-eval -m $final --data in/val.lmdb --stats in/stats --crops 10 "
    assert_contains "$out" "alexnet-eval -m in/run1/best.anet --data in/val.lmdb --stats in/stats --crops 10 "
    assert_contains "$out" "-m $final -m ${final//run1/run2} -m ${final//run1/run3} -m ${final//run1/run4} -m ${final//run1/run5} --data"
    assert_contains "$out" "best epoch (chosen on this set: biased low)"
    assert_contains "$out" "curves.sh -x epoch in/run1.tsv in/run1.png"
    [[ "$out" != *"tar -xf"* ]] || fail "unpacks what is unpacked: $out"
    [ "${out#*--device}" = "$out" ] || fail "DEVICE=cpu passed a device option: $out"
    [ ! -e in ] || fail "make -n made $(ls -R in)"
    # the GPU variables pass through only with DEVICE=cuda; the other labels
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=ilsvrc OUT=in DEVICE=cuda \
        GPUS=0,1 PRECISION=bf16 ENCODED=yes THREADS=2 KAGGLE_CSV=/x/LOC_val_solution.csv train
    assert_status 0
    assert_contains "$out" "--device cuda --gpus 0,1 --precision bf16 -j 2"
    assert_contains "$out" "alexnet-prep --force -j 2 --encoded ilsvrc/train"
    assert_contains "$out" "--kaggle /x/LOC_val_solution.csv ilsvrc/val -o in/val.lmdb"
    run_split mk -n -f "$PIPELINES/imagenet.mk" DEVICE=gpu all
    assert_status 2
    assert_contains "$err" "DEVICE must be cpu or cuda, not 'gpu'"
}

@test "imagenet.mk: from the archives alone, unpack comes first and sets the image folders" {
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=/x OUT=in prep-train prep-val
    assert_status 0
    assert_contains "$out" "tar -xf /x/ILSVRC2012_img_train.tar -C in/train"
    assert_contains "$out" "tar -xf /x/ILSVRC2012_img_val.tar -C in/val"
    assert_contains "$out" "alexnet-prep --force in/train -o in/train.lmdb"
    assert_contains "$out" "alexnet-prep --force in/val -o in/val.lmdb"
    [ "$(grep -n -m1 'tar -xf /x/ILSVRC2012_img_train' <<< "$out" | cut -d: -f1)" -lt \
      "$(grep -n -m1 'alexnet-prep --force in/train' <<< "$out" | cut -d: -f1)" ] || fail "prep before unpack: $out"
    # flat validation images with no labels: a clear refusal
    mkdir -p in/val
    touch in/.val-unpacked
    run_split mk -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=/x OUT=in prep-val
    assert_status 2
    assert_contains "$err" "the validation images in 'in/val' lie flat: give DEVKIT"
}

@test "imagenet.mk: DEVICE is cuda when a GPU answers, else cpu; several GPUs spread the runs" {
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=/x OUT=in train
    assert_status 0
    if have_gpu; then
        assert_contains "$out" "--device cuda"
    else
        [[ "$out" != *"--device"* ]] || fail "no GPU here ($GPU_WHY) but: $out"
    fi
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=/x OUT=in DEVICE=cuda GPU_COUNT=3 ensemble
    assert_status 0
    assert_contains "$out" "awk -v s=4 -v n=3"
    assert_contains "$out" "--device cuda --gpus \$gpu"
    # one GPU, or GPUS given: no spreading
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=/x OUT=in DEVICE=cuda GPU_COUNT=1 ensemble
    [[ "$out" != *'$gpu'* ]] || fail "spread over one GPU: $out"
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=/x OUT=in DEVICE=cuda GPUS=0,1 GPU_COUNT=4 ensemble
    [[ "$out" != *'$gpu'* ]] || fail "spread with GPUS given: $out"
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
    # other settings: the arms for EPOCHS, the data for RESIZE, the summary for WINDOW
    run_split mk -n -f "$PIPELINES/ablations.mk" BIN="$ANET_BIN" OUT=abl SYNTH_CLASSES=4 \
        SYNTH_TRAIN=24 SYNTH_VAL=6 EPOCHS=3 LOG_EVERY=2 WINDOW=32 THREADS=2 lrn
    [ "$(grep -c 'alexnet-train -q' <<< "$out")" -eq 2 ] || fail "EPOCHS=3: $out"
    [[ "$out" != *alexnet-prep* ]] || fail "EPOCHS=3 redoes the data: $out"
    run_split mk -n -f "$PIPELINES/ablations.mk" BIN="$ANET_BIN" OUT=abl SYNTH_CLASSES=4 \
        SYNTH_TRAIN=24 SYNTH_VAL=6 EPOCHS=2 LOG_EVERY=2 WINDOW=32 THREADS=2 RESIZE=70 lrn
    [ "$(grep -c 'alexnet-prep -q --force --resize 70' <<< "$out")" -eq 2 ] || fail "RESIZE=70: $out"
    [ "$(grep -c 'alexnet-train -q' <<< "$out")" -eq 2 ] || fail "RESIZE=70: $out"
    run_split mk -n -f "$PIPELINES/ablations.mk" BIN="$ANET_BIN" OUT=abl SYNTH_CLASSES=4 \
        SYNTH_TRAIN=24 SYNTH_VAL=6 EPOCHS=2 LOG_EVERY=2 WINDOW=40 THREADS=2 lrn
    [[ "$out" != *alexnet-* ]] || fail "WINDOW=40 retrains: $out"
    assert_contains "$out" "-v win=40"
    assert_contains "$out" "curves.sh -c -w 40"
}

# make_devkit DIR [plain]: an ILSVRC-2012 devkit's data/ in DIR for the images of synth/val:
# meta.mat (a MAT-file level 5, written here from MathWorks' description of the format;
# zlib-compressed unless "plain") maps the ILSVRC2012_IDs 1..1000, given to the WNIDs
# n00000001..n00001000 in a shuffled order, plus two inner synsets; the ground truth
# gives each validation image of synth/val.txt the ID of its WNID.
make_devkit() {
    mkdir -p "$1/data"
    /usr/bin/python3 - "$1/data" "$(D synth/val.txt)" "${2:-compressed}" <<'PY'
import random, struct, sys, zlib
out, val_txt, mode = sys.argv[1], sys.argv[2], sys.argv[3]

def el(kind, payload):
    if kind != 14 and len(payload) <= 4:  # the small element format
        return struct.pack("<I", len(payload) << 16 | kind) + payload.ljust(4, b"\0")
    return struct.pack("<II", kind, len(payload)) + payload + b"\0" * (-len(payload) % 8)

def matrix(cls, dims, body, name=""):
    return el(14, el(6, struct.pack("<II", cls, 0)) + el(5, struct.pack(f"<{len(dims)}i", *dims))
              + el(1, name.encode()) + body)

def num(*v):  # doubles, stored as MATLAB stores whole numbers: uint16
    return matrix(6, [1, len(v)], el(4, struct.pack(f"<{len(v)}H", *v)) if v else el(9, b""))

def chars(s):
    return matrix(4, [1, len(s)], el(4, s.encode("utf-16-le")))

fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
          "wordnet_height", "num_train_images"]
ids = list(range(1, 1001))
random.Random(7).shuffle(ids)
rows = [(ids[k], f"n{k + 1:08d}", f"class {k + 1}", "a leaf", 0, (), 0, 1300) for k in range(1000)]
rows += [(1001, "n09999998", "inner a", "an inner synset", 2, (ids[0], ids[1]), 1, 0),
         (1002, "n09999999", "inner b", "an inner synset", 1, (1001,), 2, 0)]
random.Random(8).shuffle(rows)
body = el(5, struct.pack("<i", 32)) + el(1, b"".join(f.encode().ljust(32, b"\0") for f in fields))
for sid, wnid, words, gloss, nch, children, height, ntrain in rows:
    body += (num(sid) + chars(wnid) + chars(words) + chars(gloss) + num(nch) + num(*children)
             + num(height) + num(ntrain))
var = matrix(2, [len(rows), 1], body, "synsets")
head = b"MATLAB 5.0 MAT-file, written by the alexnet tests".ljust(116, b" ") + b"\0" * 8
head += struct.pack("<H", 0x0100) + b"IM"
if mode == "plain":
    data = head + var
else:
    z = zlib.compress(var)
    data = head + struct.pack("<II", 15, len(z)) + z
open(f"{out}/meta.mat", "wb").write(data)
id_of = {f"n{k + 1:08d}": ids[k] for k in range(1000)}
with open(f"{out}/ILSVRC2012_validation_ground_truth.txt", "w") as f:
    for line in open(val_txt):
        f.write(f"{id_of[line.split('/')[0]]}\n")
PY
}

@test "ilsvrc-devkit.py: the devkit's IDs become WNIDs and Caffe's labels, compressed or plain" {
    for mode in compressed plain; do
        make_devkit "kit-$mode" "$mode"
        run_split /usr/bin/python3 "$PIPELINES/ilsvrc-devkit.py" "kit-$mode" "out-$mode"
        assert_status 0
        [ -z "$out$err" ] || fail "printed: $out $err"
        [ "$(wc -l < "out-$mode/synsets.txt")" -eq 1000 ] || fail "$(head "out-$mode/synsets.txt")"
        [ "$(head -1 "out-$mode/synsets.txt")" = "n00000001 class 1" ] || fail "$(head -2 "out-$mode/synsets.txt")"
        # the labels of synth/val.txt, file by file (its classes are the first WNIDs)
        sed 's|^n[0-9]*/||' "$(D synth/val.txt)" > want.txt
        diff want.txt "out-$mode/val.txt" || fail "labels differ"
    done
    # bad input: a clear error, exit 1, nothing written
    echo 1001 >> kit-plain/data/ILSVRC2012_validation_ground_truth.txt
    run_split /usr/bin/python3 "$PIPELINES/ilsvrc-devkit.py" kit-plain bad
    assert_status 1
    assert_contains "$err" "ILSVRC2012_validation_ground_truth.txt, line 25: '1001' is not an ILSVRC2012_ID"
    [ ! -e bad ] || fail "wrote $(ls bad)"
    head -c 3000 kit-compressed/data/meta.mat > kit-plain/data/meta.mat
    run_split /usr/bin/python3 "$PIPELINES/ilsvrc-devkit.py" kit-plain bad
    assert_status 1
    assert_contains "$err" "data/meta.mat"
    run_split /usr/bin/python3 "$PIPELINES/ilsvrc-devkit.py" nonexistent bad
    assert_status 1
    assert_contains "$err" "cannot open 'nonexistent'"
    run_split /usr/bin/python3 "$PIPELINES/ilsvrc-devkit.py" kit-plain
    assert_status 2
}

# The images of setup_file's tiny dataset as ILSVRC distributes its files: a tar of a tar
# a class, a flat tar of the validation images, and the devkit as a .tar.gz.
make_ilsvrc() {
    mkdir -p "$1" tars kit
    for c in "$(D synth/train)"/n*; do tar -cf "tars/$(basename "$c").tar" -C "$c" .; done
    tar -cf "$1/ILSVRC2012_img_train.tar" -C tars .
    mkdir -p flat && (cd "$(D synth/val)" && cp */*.JPEG "$OLDPWD/flat/")
    tar -cf "$1/ILSVRC2012_img_val.tar" -C flat .
    make_devkit kit/ILSVRC2012_devkit_t12
    tar -czf "$1/ILSVRC2012_devkit_t12.tar.gz" -C kit ILSVRC2012_devkit_t12
}

IMAGENET_VARS=(DEVICE=cpu THREADS=2 EPOCHS=1 "SEEDS=1 2"
               "TRAIN_OPTS=--crop 67 --conv 8,8,8,8,8 --fc 16,16 --batch 16 --dropout 0 --init-std 0.03")

@test "imagenet.mk: from ILSVRC's archives and devkit to the table, final and best networks apart" {
    make_ilsvrc ils
    run_split mk -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=ils OUT=out "${IMAGENET_VARS[@]}" all
    assert_status 0
    [ "$(ls -d out/train/n*/ | wc -l)" -eq 4 ] || fail "unpacked: $(ls out/train)"
    [ "$(ls out/val | wc -l)" -eq 24 ] || fail "unpacked: $(ls out/val)"
    # every validation record carries the label of its class
    sed 's|^n[0-9]*/||' "$(D synth/val.txt)" | sort > want.txt
    /usr/bin/python3 "$BATS_TEST_DIRNAME/datum.py" dump out/val.lmdb | cut -f1,2 |
        sed 's/^[0-9]*_//; s/\t/ /' | sort > got.txt
    diff want.txt got.txt || fail "labels differ"
    # the table: the paper's rows from the final checkpoints, the best epoch apart
    assert_contains "$out" "1 CNN, 10 crops	"
    assert_contains "$out" "2 CNNs, 10 crops	"
    assert_contains "$out" "1 CNN, 10 crops, best epoch (chosen on this set: biased low)	"
    [ "$(grep -vc '^#' out/eval.tsv)" -eq 4 ] || fail "$(cat out/eval.tsv)"
    for s in 1 2; do [ -s out/run$s.png ] && [ -f out/run$s.settings ] || fail "run $s: $(ls out)"; done
    # done is done
    run_split mk -n -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=ils OUT=out "${IMAGENET_VARS[@]}" all
    assert_status 0
    [[ "$out" != *alexnet-* ]] || fail "a second make would run: $out"
    # a larger EPOCHS resumes the runs to it; the evaluations follow
    run_split mk -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=ils OUT=out "${IMAGENET_VARS[@]}" EPOCHS=2 all
    assert_status 0
    assert_contains "$out" "--resume out/run1 --epochs 2"
    [ "$(grep -c '^val' out/run1.tsv)" -eq 2 ] || fail "$(cat out/run1.tsv)"
    # other TRAIN_OPTS: a run of weeks is not redone behind the user's back
    run_split mk -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=ils OUT=out "${IMAGENET_VARS[@]}" \
        "TRAIN_OPTS=--crop 67 --conv 8,8,8,8,8 --fc 16,16 --batch 8" EPOCHS=2 all
    assert_status 2
    assert_contains "$err" "out/run1 was started with other settings"
    assert_contains "$err" "remove out/run1 to train it again"
    # fewer seeds: the ensemble is evaluated again, and the table says how many
    run_split mk -f "$PIPELINES/imagenet.mk" BIN="$ANET_BIN" ILSVRC=ils OUT=out "${IMAGENET_VARS[@]}" EPOCHS=2 SEEDS=1 all
    assert_status 0
    assert_contains "$out" "1 CNN, 10 crops	"
    [[ "$out" != *"2 CNNs"* ]] || fail "stale ensemble: $out"
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
