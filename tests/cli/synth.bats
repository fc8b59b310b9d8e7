#!/usr/bin/env bats
# alexnet-synth: layout, index files, reproducibility, what the images look like to a
# decoder and to a learner, refusing and forcing outputs, usage errors.

load helper

# Python with PIL, for looking inside the JPEG files (python3-pil, see scripts/deps.sh).
PY=${ANET_PYTHON:-/usr/bin/python3}
need_pil() {
    "$PY" -c 'import PIL' 2>/dev/null || skip "no $PY with PIL"
}

# A small dataset in d: 3 classes, 4 train and 2 val images each.
small() {
    run_split alexnet-synth -o d --classes 3 --train 4 --val 2 --size 40-80 -q "$@"
    assert_status 0
}

@test "synth: the ImageNet layout, with the counts asked for" {
    small
    [ "$(ls d | tr '\n' ' ')" = "synset_words.txt train val val.txt " ] || fail "top: $(ls d)"
    [ "$(ls d/train | tr '\n' ' ')" = "n00000001 n00000002 n00000003 " ] || fail "train: $(ls d/train)"
    [ "$(ls d/val | tr '\n' ' ')" = "n00000001 n00000002 n00000003 " ] || fail "val: $(ls d/val)"
    [ "$(ls d/train/n00000002 | tr '\n' ' ')" = "n00000002_1.JPEG n00000002_2.JPEG n00000002_3.JPEG n00000002_4.JPEG " ] ||
        fail "class folder: $(ls d/train/n00000002)"
    for c in 1 2 3; do
        [ "$(ls d/val/n0000000$c | wc -l)" -eq 2 ] || fail "val class $c: $(ls d/val/n0000000$c)"
    done
    [ "$(find d/val -name 'ILSVRC2012_val_0000000[1-6].JPEG' | wc -l)" -eq 6 ] || fail "val names: $(find d/val -type f)"
    [ -z "$(find d -name '.*')" ] || fail "left over: $(find d -name '.*')"
}

@test "synth: a TSV summary on stdout whose byte counts are the files'" {
    small
    [ "$(echo "$out" | head -1)" = "$(printf '#split\tclasses\timages\tbytes')" ] || fail "header: $out"
    train=$(find d/train -type f -exec cat {} + | wc -c)
    val=$(find d/val -type f -exec cat {} + | wc -c)
    [ "$(echo "$out" | sed 1d)" = "$(printf 'train\t3\t12\t%s\nval\t3\t6\t%s' "$train" "$val")" ] ||
        fail "summary: $out (train $train, val $val bytes)"
    [ -z "$err" ] || fail "-q still wrote: $err"
}

@test "synth: without -q a one-line summary on stderr, no progress when not a terminal" {
    run_split alexnet-synth -o d --classes 2 --train 2 --val 1 --size 32
    assert_status 0
    [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "stderr: $err"
    assert_contains "$err" "alexnet-synth: 6 images,"
    assert_contains "$err" "images/s) -> d"
}

@test "synth: synset_words.txt names the classes by what they look like" {
    small
    [ "$(cat d/synset_words.txt)" = "n00000001 small red discs
n00000002 large orange striped squares
n00000003 small yellow checked triangles" ] || fail "synset_words.txt: $(cat d/synset_words.txt)"
    run_split alexnet-synth -o e --classes 1170 --train 1 --val 0 --size 16 -q
    assert_status 0
    [ "$(cut -d' ' -f2- e/synset_words.txt | sort -u | wc -l)" -eq 1170 ] || fail "names are not all different"
    [ "$(tail -1 e/synset_words.txt)" = "n00001170 large rose outlined crescents" ] || fail "last: $(tail -1 e/synset_words.txt)"
}

@test "synth: val.txt lists every validation image once, by number, with its folder's label" {
    small --val 5
    [ "$(wc -l < d/val.txt)" -eq 15 ] || fail "val.txt: $(cat d/val.txt)"
    n=0
    while read -r path label; do
        n=$((n + 1))
        [ "$path" = "$(printf 'n%08d/ILSVRC2012_val_%08d.JPEG' $((label + 1)) $n)" ] || fail "line $n: $path $label"
        [ -f "d/val/$path" ] || fail "line $n: no d/val/$path"
    done < d/val.txt
    [ "$(find d/val -type f | wc -l)" -eq 15 ] || fail "files: $(find d/val -type f)"
    # shuffled like ILSVRC's: the numbers are not in class order
    [ "$(cut -d' ' -f2 d/val.txt | tr -d '\n')" != 000001111122222 ] || fail "val numbered in class order"
}

@test "synth: the same seed gives the same bytes on any number of threads" {
    run_split alexnet-synth -o a -j 1 --seed 5 --classes 3 --train 5 --val 3 --size 40-90 -q
    assert_status 0
    run_split alexnet-synth -o b -j 2 --seed 5 --classes 3 --train 5 --val 3 --size 40-90 -q
    assert_status 0
    run_split alexnet-synth -o c -j 3 --seed 5 --classes 3 --train 5 --val 3 --size 40-90 -q
    assert_status 0
    n=0
    for f in $(cd a && find . -type f); do
        cmp -s "a/$f" "b/$f" || fail "$f differs between -j 1 and -j 2"
        cmp -s "a/$f" "c/$f" || fail "$f differs between -j 1 and -j 3"
        n=$((n + 1))
    done
    [ "$n" -eq 26 ] || fail "compared $n files"
    [ "$(cd a && find . | sort)" = "$(cd b && find . | sort)" ] || fail "different file lists"
}

@test "synth: fewer images per class are a prefix of more" {
    run_split alexnet-synth -o a --seed 3 --classes 2 --train 2 --val 2 --size 40-60 -q
    assert_status 0
    run_split alexnet-synth -o b --seed 3 --classes 2 --train 6 --val 2 --size 40-60 -q
    assert_status 0
    for f in $(cd a/train && find . -type f); do
        cmp -s "a/train/$f" "b/train/$f" || fail "$f differs"
    done
}

@test "synth: a different seed gives different images" {
    run_split alexnet-synth -o a --seed 1 --classes 2 --train 3 --val 1 --size 40-60 -q
    assert_status 0
    run_split alexnet-synth -o b --seed 2 --classes 2 --train 3 --val 1 --size 40-60 -q
    assert_status 0
    for f in $(cd a/train && find . -type f); do
        ! cmp -s "a/train/$f" "b/train/$f" || fail "$f is the same for seeds 1 and 2"
    done
    sums=$(find a b -name '*.JPEG' -exec md5sum {} + | cut -d' ' -f1 | sort | uniq -d)
    [ -z "$sums" ] || fail "identical images: $sums"
}

@test "synth: baseline 4:2:0 RGB JPEGs, sides and qualities drawn from their ranges" {
    need_pil
    run_split alexnet-synth -o d --classes 4 --train 10 --val 2 --size 60-120 --quality 70-80 -q
    assert_status 0
    run_split "$PY" - d <<'EOF'
import glob, sys
from PIL import Image
# libjpeg's standard luminance table, natural order; quality q scales it
STD = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40,
       57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35,
       55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112,
       100, 103, 99]
def table(q):
    s = 5000 // q if q < 50 else 200 - 2 * q
    return [min(255, max(1, (v * s + 50) // 100)) for v in STD]
QUALITY = {tuple(table(q)): q for q in range(1, 101)}
ws, hs, qs = set(), set(), set()
files = glob.glob(sys.argv[1] + '/*/*/*.JPEG')
for f in files:
    im = Image.open(f)
    assert im.format == 'JPEG' and im.mode == 'RGB', (f, im.format, im.mode)
    assert im.layer == [('1', 2, 2, 0), ('2', 1, 1, 1), ('3', 1, 1, 1)] or \
        [l[1:3] for l in im.layer] == [(2, 2), (1, 1), (1, 1)], (f, im.layer)
    assert not im.info.get('progressive') and not im.info.get('progression'), f
    q = QUALITY.get(tuple(im.quantization[0]))
    assert q is not None and 70 <= q <= 80, (f, q)
    assert 60 <= im.width <= 120 and 60 <= im.height <= 120, (f, im.size)
    im.load()
    ws.add(im.width), hs.add(im.height), qs.add(q)
print(len(files), len(ws), len(hs), len(qs), sum(w > h for w in ws for h in hs) > 0)
EOF
    assert_status 0
    read -r n nw nh nq _ <<<"$out"
    [ "$n" -eq 48 ] || fail "decoded $n files"
    [ "$nw" -ge 10 ] && [ "$nh" -ge 10 ] && [ "$nq" -ge 5 ] || fail "too little variety (widths, heights, qualities): $out"
}

@test "synth: classes are learnable by content, not a constant colour" {
    need_pil
    run_split alexnet-synth -o d --classes 6 --train 8 --val 0 --size 120-160 -q
    assert_status 0
    run_split "$PY" - d <<'EOF'
import sys
from PIL import Image, ImageStat
root = sys.argv[1]
HUES = ['red', 'orange', 'yellow', 'lime', 'green', 'emerald', 'turquoise', 'sky', 'azure',
        'blue', 'violet', 'magenta', 'rose']
words = [l.split(None, 1) for l in open(root + '/synset_words.txt')]
hit = total = 0
means = {}
for c, (wnid, name) in enumerate(words):
    hue = next(i for i, h in enumerate(HUES) if ' %s ' % h in ' %s ' % name)
    for i in range(1, 9):
        im = Image.open('%s/train/%s/%s_%d.JPEG' % (root, wnid, wnid, i)).convert('RGB')
        means.setdefault(c, []).append(ImageStat.Stat(im).mean)
        # the most common hue sector among saturated, bright pixels is the class's hue
        h, s, v = im.convert('HSV').split()
        mask = Image.eval(s, lambda x: 255 if x > 115 else 0)
        mask = Image.composite(mask, Image.new('L', im.size, 0), Image.eval(v, lambda x: 255 if x > 90 else 0))
        hist = h.histogram(mask=mask)
        sector = [0] * 13
        for b, n in enumerate(hist):
            sector[int(round(b / 256 * 13)) % 13] += n
        hit += max(range(13), key=lambda k: sector[k]) == hue
        total += 1
# images of a class are not one colour: their mean colours spread
spread = min(max(max(m[k] for m in ms) - min(m[k] for m in ms) for k in range(3)) for ms in means.values())
# classes differ on average
cent = [[sum(m[k] for m in ms) / len(ms) for k in range(3)] for ms in means.values()]
gap = min(sum((a[k] - b[k]) ** 2 for k in range(3)) ** 0.5 for i, a in enumerate(cent) for b in cent[i + 1:])
print('%d %d %.1f %.1f' % (hit, total, spread, gap))
EOF
    assert_status 0
    read -r hit total spread gap <<<"$out"
    [ "$total" -eq 48 ] || fail "looked at $total images"
    [ "$hit" -ge 40 ] || fail "only $hit of 48 images show their class's hue most ($out)"
    awk -v s="$spread" -v g="$gap" 'BEGIN { exit !(s >= 10 && g >= 3) }' ||
        fail "within-class spread $spread (want >= 10), centroid gap $gap (want >= 3)"
}

@test "synth: an existing non-empty directory is refused without --force" {
    mkdir d
    echo mine > d/notes
    run_split alexnet-synth -o d --classes 2 --train 1 --val 1 --size 32
    assert_status 1
    [ -z "$out" ] || fail "stdout: $out"
    assert_contains "$err" "alexnet-synth: 'd' exists and is not empty (use --force"
    [ "$(ls d)" = notes ] || fail "touched d: $(ls d)"
    touch f
    run_split alexnet-synth -o f --classes 2 --train 1 --val 1 --size 32
    assert_status 1
    assert_contains "$err" "'f' exists and is not a directory"
}

@test "synth: an empty directory and missing parents are fine" {
    mkdir d
    run_split alexnet-synth -o d --classes 2 --train 1 --val 1 --size 32 -q
    assert_status 0
    run_split alexnet-synth -o x/y/z --classes 2 --train 1 --val 1 --size 32 -q
    assert_status 0
    [ -f x/y/z/val.txt ] || fail "no x/y/z/val.txt"
}

@test "synth: --force replaces an earlier dataset and keeps what is not its own" {
    run_split alexnet-synth -o d --classes 3 --train 3 --val 2 --size 32-48 -q
    assert_status 0
    echo mine > d/notes
    echo mine > d/train/README
    echo mine > d/train/n00000001/mine.jpg
    touch d/train/n00000002/.n00000002_7.JPEG.tmp.12345 # a killed run's
    run_split alexnet-synth -o d --force --classes 3 --train 3 --val 2 --size 32-48 --seed 9
    assert_status 0
    assert_contains "$err" "alexnet-synth: removed"
    assert_contains "$err" "warning: 'd' also holds 2 entries not of this dataset, e.g."
    for f in d/notes d/train/README d/train/n00000001/mine.jpg; do
        [ "$(cat $f)" = mine ] || fail "lost $f"
    done
    run_split alexnet-synth -o fresh --classes 3 --train 3 --val 2 --size 32-48 --seed 9 -q
    assert_status 0
    diff -r -x notes -x README -x mine.jpg d fresh || fail "--force did not give the dataset a fresh run gives"

    run_split alexnet-synth -o d --force --classes 2 --train 2 --val 1 --size 32-48 -q
    assert_status 0
    [ "$(echo "$err" | grep -c .)" -eq 1 ] || fail "-q: $err"
    run_split alexnet-synth -o fresh2 --classes 2 --train 2 --val 1 --size 32-48 -q
    assert_status 0
    diff -r -x notes -x README -x mine.jpg d fresh2 || fail "fewer classes and images left stale files"
}

@test "synth: --first-class makes other classes of the catalogue, the same files as a larger set" {
    run_split alexnet-synth -o all --classes 6 --train 3 --val 2 --size 32-48 -q
    assert_status 0
    run_split alexnet-synth -o late --first-class 4 --classes 3 --train 3 --val 2 --size 32-48 -q
    assert_status 0
    [ "$(ls late/train | tr '\n' ' ')" = "n00000004 n00000005 n00000006 " ] || fail "$(ls late/train)"
    [ "$(ls late/val | tr '\n' ' ')" = "n00000004 n00000005 n00000006 " ] || fail "$(ls late/val)"
    diff late/synset_words.txt <(tail -3 all/synset_words.txt) || fail "other names"
    diff -r late/train/n00000005 all/train/n00000005 || fail "class 5's training images differ"
    # val.txt: every image once, labels from 0 in this dataset
    [ "$(cut -d' ' -f2 late/val.txt | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')" = "0:2 1:2 2:2 " ] ||
        fail "$(cat late/val.txt)"
    grep -q '^n00000006/ILSVRC2012_val_[0-9]*.JPEG 2$' late/val.txt || fail "$(cat late/val.txt)"
    # --force from one range to another leaves no class of the first behind
    run_split alexnet-synth -o late --force --classes 2 --train 3 --val 2 --size 32-48 -q
    assert_status 0
    [ "$(ls late/train | tr '\n' ' ')" = "n00000001 n00000002 " ] || fail "$(ls late/train)"
    run_split alexnet-synth -o x --first-class 1170 --classes 2
    assert_usage_error
    assert_contains "$err" "--first-class 1170 --classes 2: the catalogue has classes 1..1170"
    run_split alexnet-synth -o x --first-class 0
    assert_usage_error
}

@test "synth: an interrupted run leaves no partial files and no index" {
    alexnet-synth -o d --classes 2 --train 3000 --val 0 --size 200 -j 2 -q >out 2>err &
    pid=$!
    for _ in $(seq 50); do
        [ -n "$(find d/train -name '*.JPEG' 2>/dev/null | head -1)" ] && break
        sleep 0.1
    done
    kill -TERM "$pid"
    set +e
    wait "$pid"
    status=$?
    set -e
    [ "$status" -eq 143 ] || fail "exit status $status, stderr: $(cat err)"
    assert_contains "$(cat err)" "interrupted after"
    [ -z "$(find d -name '.*')" ] || fail "temporary files left: $(find d -name '.*')"
    [ ! -e d/val.txt ] && [ ! -e d/synset_words.txt ] || fail "index files written"
    [ -s out ] && fail "stdout: $(cat out)"
    true
}

@test "synth: a directory that cannot be made is a runtime error naming it" {
    run_split alexnet-synth -o /dev/null/d --classes 2 --train 1 --val 1
    assert_status 1
    [ -z "$out" ] || fail "stdout: $out"
    assert_contains "$err" "cannot create directory '/dev/null"
}

@test "synth: bad ranges and values are usage errors" {
    for a in "--classes 0" "--classes 1171" "--train -1" "--val x" "--quality 0-50" \
        "--quality 95-85" "--quality 101" "--size 8" "--size 500-300" "--size 300-" \
        "--size -300" "--size 16-9000" "--threads 0" "--seed -1" "--seed 1.5" \
        "--train 0 --val 0"; do
        run_split alexnet-synth -o d $a
        assert_usage_error
        [ ! -e d ] || fail "$a created d"
    done
    run_split alexnet-synth -o d --size 500-300
    assert_contains "$err" "--size: the range 500-300 is empty"
    run_split alexnet-synth -o d --classes 1171
    assert_contains "$err" "--classes: 1171 is out of range 1..1170"
}

@test "synth: no -o, a missing argument and a stray argument are usage errors" {
    run_split alexnet-synth --classes 2
    assert_usage_error
    assert_contains "$err" "give -o DIR"
    run_split alexnet-synth -o
    assert_usage_error
    assert_contains "$err" "needs an argument"
    run_split alexnet-synth -o d extra
    assert_usage_error
    assert_contains "$err" "unexpected argument 'extra'"
}
