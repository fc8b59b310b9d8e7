#!/usr/bin/env bats
# alexnet-features: fc7 vectors that give back, through fc8's exported weights, the very
# probabilities alexnet-eval and alexnet-predict compute (within 1e-5), for a database and
# for image files; paths on stdin; ten crops averaged; every named layer; the files numpy
# reads and alexnet-neighbours takes; refusals and failures that leave nothing behind.

load helper

PY=/usr/bin/python3
NET=(--crop 67 --conv 16,32,32,32,32 --fc 64,64)

setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    PATH="$ANET_BIN:$PATH"
    alexnet-synth -q --classes 4 --train 30 --val 8 --size 72-96 --seed 3 -o synth >/dev/null
    alexnet-prep -q --resize 72 synth/train -o train.lmdb >/dev/null
    alexnet-prep -q --resize 72 synth/val -o val.lmdb >/dev/null
    alexnet-stats -q train.lmdb -o stats >/dev/null
    alexnet-train -q -j 2 --train train.lmdb --stats stats -o run "${NET[@]}" --batch 16 \
        --max-iter 16 --init-std 0.05 --init-bias 0.1 --lr 0.02 --lr-policy fixed > /dev/null
    cp run/ckpt-00000016.anet m.anet
    alexnet-export -q m.anet -o m.safetensors
}

D() { echo "$BATS_FILE_TMPDIR/$1"; }

feat() { alexnet-features -m "$(D m.anet)" --stats "$(D stats)" -j 2 "$@"; }

# probs FEATS KEYS: softmax(W8 x + b8) of every row, in double, as "key<TAB>p0 p1 ..." lines
probs() {
    $PY - "$(D m.safetensors)" "$1" "$2" <<'PY'
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def t(name):
    s, e = h[name]["data_offsets"]
    return np.frombuffer(b[8 + n + s:8 + n + e], "<f4").reshape(h[name]["shape"]).astype("f8")
x = np.load(sys.argv[2])
assert x.dtype == np.float32 and x.ndim == 2, (x.dtype, x.shape)
logits = x.astype("f8") @ t("fc8.weight").T + t("fc8.bias")
p = np.exp(logits - logits.max(1, keepdims=True))
p /= p.sum(1, keepdims=True)
keys = [l.rstrip("\n").split("\t")[0] for l in open(sys.argv[3]) if not l.startswith("#")]
assert len(keys) == len(p), (len(keys), len(p))
for k, row in zip(keys, p):
    print(k + "\t" + " ".join("%.9f" % v for v in row))
PY
}

# within TOL PROBS TABLE KEYCOL FIRSTCOL: every class/probability pair of TABLE (pairs from
# column FIRSTCOL on, class then probability) is PROBS' within TOL; prints the worst
within() {
    awk -F'\t' -v tol="$1" -v kc="$4" -v fc="$5" '
        FNR == 1 { f++ } /^#/ { next }
        f == 1 { n = split($2, v, " "); for (i = 1; i <= n; i++) p[$1, i - 1] = v[i]; seen[$1] = 1; next }
        { if (!($kc in seen)) { print "no row for " $kc; bad = 1; next }
          for (c = fc; c < NF; c += 2) { d = p[$kc, $c] - $(c + 1); if (d < 0) d = -d
                                         if (d > worst) worst = d; pairs++ } }
        END { printf "%d pairs, worst %.3g\n", pairs, worst; exit bad || !pairs || worst > tol }' "$2" "$3"
}

@test "features: --data gives fc7 vectors whose fc8 softmax is eval's, within 1e-5, in database order" {
    run_split feat --data "$(D val.lmdb)" -o val.npy
    assert_status 0
    [ -z "$out" ] || fail "stdout: $out"
    assert_contains "$err" "wrote val.npy (32 x 64: fc7, 64x1x1 an image) and val.keys.tsv"
    alexnet-eval -m "$(D m.anet)" --data "$(D val.lmdb)" --stats "$(D stats)" --per-image per.tsv > /dev/null
    diff <(grep -v '^#' val.keys.tsv) <(grep -v '^#' per.tsv | cut -f1) ||
        fail "keys are not the records in order"
    [ "$(head -1 val.keys.tsv)" = "#key" ] || fail "$(head -1 val.keys.tsv)"
    probs val.npy val.keys.tsv > p.tsv
    run_split within 1e-5 p.tsv per.tsv 1 3
    assert_status 0
    # ReLU: nothing negative, and numpy reads the matrix as it is
    $PY -c "import numpy as np; x = np.load('val.npy'); assert x.shape == (32, 64) and (x >= 0).all() and x.any()"
}

@test "features: image paths as arguments or on stdin ('-') give predict's probabilities" {
    find "$(D synth/val)" -name '*.JPEG' | sort | head -12 > paths.txt
    run_split feat -o args.npy --keys args.tsv $(cat paths.txt)
    assert_status 0
    run_split feat -o stdin.npy - < paths.txt
    assert_status 0
    cmp args.npy stdin.npy || fail "stdin gave other vectors"
    diff <(grep -v '^#' args.tsv) paths.txt || fail "keys are not the paths in order"
    diff args.tsv stdin.keys.tsv || fail "keys differ"
    alexnet-predict -m "$(D m.anet)" --stats "$(D stats)" -k 4 --format line < paths.txt |
        awk -F'\t' 'BEGIN { OFS = "\t" } /^#/ { next } { printf "%s", $1
            for (i = 2; i < NF; i += 2) printf "\t%d\t%s", substr($i, 2) - 1, $(i + 1); print "" }' > pred.tsv
    probs args.npy args.tsv > p.tsv
    run_split within 1e-5 p.tsv pred.tsv 1 2
    assert_status 0
    # the same image through alexnet-prep and --data gives the same vector
    first=$(head -1 paths.txt)
    feat -q -o one.npy "$first"
    feat -q --data "$(D val.lmdb)" -o all.npy
    key=$(grep -n "_${first#$(D synth/val)/}\$" all.keys.tsv | cut -d: -f1)
    [ -n "$key" ] || fail "no record for $first"
    $PY -c "
import numpy as np
a, b = np.load('one.npy'), np.load('all.npy')[$key - 2]
assert np.abs(a[0] - b).max() <= 1e-5 * max(1, np.abs(b).max()), np.abs(a[0] - b).max()"
}

@test "features: --crops 10 averages the ten crops' activations" {
    feat -q --data "$(D val.lmdb)" --crops 10 -o c7.npy
    feat -q --data "$(D val.lmdb)" --crops 10 --layer fc8 -o c8.npy
    feat -q --data "$(D val.lmdb)" --layer fc7 -o c1.npy
    # fc8 is affine: the average of the crops' logits is fc8 of their average fc7
    $PY - "$(D m.safetensors)" <<'PY'
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def t(name):
    s, e = h[name]["data_offsets"]
    return np.frombuffer(b[8 + n + s:8 + n + e], "<f4").reshape(h[name]["shape"]).astype("f8")
x7, x8, x1 = np.load("c7.npy").astype("f8"), np.load("c8.npy"), np.load("c1.npy")
y = x7 @ t("fc8.weight").T + t("fc8.bias")
err = np.abs(y - x8).max() / np.abs(x8).max()
assert err < 1e-5, err
assert np.abs(x1 - x7).max() > 1e-3, "ten crops gave the centre crop's vectors"
PY
}

@test "features: every named layer, with its shape; ReLU where the name says so" {
    img=$(find "$(D synth/val)" -name '*.JPEG' | sort | head -2)
    for l in conv1:3600 norm1:3600 pool1:784 conv2:1568 norm2:1568 pool2:288 conv3:288 \
        conv4:288 conv5:288 pool5:32 fc6:64 fc7:64 fc8:4; do
        run_split feat --layer "${l%%:*}" -o "${l%%:*}.npy" $img
        assert_status 0
        assert_contains "$err" "(2 x ${l#*:}: ${l%%:*},"
    done
    $PY -c "
import numpy as np
for l in 'conv1 pool1 conv2 conv5 pool5 fc6 fc7'.split():
    assert (np.load(l + '.npy') >= 0).all(), l
assert (np.load('fc8.npy') < 0).any(), 'fc8: logits'
assert (np.load('norm1.npy') != np.load('conv1.npy')).any()"
    run_split feat --layer prob -o x.npy $img
    assert_usage_error
    assert_contains "$err" "no layer 'prob' in this network: it has conv1..conv5, norm1, norm2, pool1, pool2, pool5, fc6..fc8"
    [ ! -e x.npy ] || fail "an output after a refusal"
}

@test "features: alexnet-neighbours takes the files as they are" {
    feat -q --data "$(D train.lmdb)" -o train-fc7.npy
    feat -q --data "$(D val.lmdb)" -o val-fc7.npy
    run_split alexnet-neighbours -q --index train-fc7.npy --keys train-fc7.keys.tsv \
        --data "$(D train.lmdb)" --query val-fc7.npy --query-keys val-fc7.keys.tsv \
        --query-data "$(D val.lmdb)" -k 3 --sheet sheet.png --sheet-rows 4
    assert_status 0
    [ "$(echo "$out" | grep -vc '^#')" -eq 96 ] || fail "32 queries x 3: $out"
    assert_contains "$out" "00000000_n00000001/"
    [ "$(head -c 4 sheet.png | od -An -c | tr -d ' ')" = '211PNG' ] || fail "no PNG"
    # image paths as keys: the sheet from the files
    find "$(D synth/val)" -name '*.JPEG' | sort | head -3 | feat -q -o q.npy -
    run_split alexnet-neighbours -q --index train-fc7.npy --keys train-fc7.keys.tsv \
        --data "$(D train.lmdb)" --query q.npy --query-keys q.keys.tsv -k 2 --sheet q.png
    assert_status 0
    [ -s q.png ] || fail "no sheet"
}

@test "features: usage errors exit 2 with nothing on stdout and nothing written" {
    for args in "--stats $(D stats) -o f.npy --data $(D val.lmdb)" \
        "-m $(D m.anet) -o f.npy --data $(D val.lmdb)" \
        "-m $(D m.anet) --stats $(D stats) --data $(D val.lmdb)" \
        "-m $(D m.anet) --stats $(D stats) -o f.npy" \
        "-m $(D m.anet) --stats $(D stats) -o f.npy --data $(D val.lmdb) a.png" \
        "-m $(D m.anet) --stats $(D stats) -o - --data $(D val.lmdb)" \
        "-m $(D m.anet) --stats $(D stats) -o f.npy --keys f.npy --data $(D val.lmdb)" \
        "-m $(D m.anet) --stats $(D stats) -o f.npy --crops 5 --data $(D val.lmdb)" \
        "-m $(D m.anet) -m $(D m.anet) --stats $(D stats) -o f.npy --data $(D val.lmdb)" \
        "-m $(D m.anet) --stats $(D stats) -o f.npy --layer conv7 --data $(D val.lmdb)" \
        "-m $(D m.anet) --stats $(D stats) -o f.npy --data $(D val.lmdb) --bogus"; do
        run_split alexnet-features $args
        assert_usage_error
    done
    [ -z "$(ls)" ] || fail "left: $(ls)"
    run_split alexnet-features -m m.anet --stats s -o f.npy
    assert_contains "$err" "no images: give --data DB, IMAGE arguments, or - to read paths from standard input"
    run_split alexnet-features -m m.anet --stats s -o - x.png
    assert_contains "$err" "-o -: a .npy file gets its shape when it is complete; give a file"
}

@test "features: bad images are named and left out; failures leave no output; --force replaces" {
    good=$(find "$(D synth/val)" -name '*.JPEG' | sort | head -2)
    echo "not an image" > bad.png
    run_split feat -o f.npy $good bad.png missing.jpg
    assert_status 1
    assert_contains "$err" "bad.png"
    assert_contains "$err" "missing.jpg"
    assert_contains "$err" "2 of 4 images could not be read; their rows are left out"
    $PY -c "import numpy as np; assert np.load('f.npy').shape == (2, 64)"
    [ "$(grep -vc '^#' f.keys.tsv)" -eq 2 ] || fail "$(cat f.keys.tsv)"
    run_split feat -o f.npy $good
    assert_status 1
    assert_contains "$err" "'f.npy' exists (use --force to overwrite)"
    run_split feat -o f.npy --force $good
    assert_status 0
    rm -f f.npy f.keys.tsv
    for args in "-o g.npy --data $(D missing.lmdb)" "-o g.npy -" \
        "-o nodir/g.npy $good"; do
        run_split feat $args < /dev/null
        assert_status 1
        [ -z "$(ls | grep -v bad.png)" ] || fail "$args left: $(ls)"
    done
    run_split alexnet-features -m missing.anet --stats "$(D stats)" -o g.npy $good
    assert_status 1
    assert_contains "$err" "cannot open 'missing.anet'"
    run_split alexnet-features -m "$(D m.anet)" --stats nostats -o g.npy $good
    assert_status 1
    assert_contains "$err" "nostats/mean.binaryproto"
    [ -z "$(ls | grep -v bad.png)" ] || fail "left: $(ls)"
}
