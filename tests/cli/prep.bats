#!/usr/bin/env bats
# alexnet-prep: each input layout, class order, keys, records read back by an independent
# reader (tests/cli/datum.py), pixels, quirky and bad images, options, usage errors.

load helper

PY=/usr/bin/python3
DATUM="$BATS_TEST_DIRNAME/datum.py"

# synth_tree: 3 classes, 4 train and 2 val images each, under ./s
synth_tree() {
    alexnet-synth -q --classes 3 --train 4 --val 2 --seed 5 -o s >/dev/null
}

# pil SCRIPT: run python with PIL on the given statements (Image, np available)
pil() {
    "$PY" -c "from PIL import Image; import numpy as np; $1"
}

@test "prep: a tree of synset folders, keys in order, labels from the folders" {
    synth_tree
    run_split alexnet-prep -q s/train -o train.lmdb
    assert_status 0
    [ "$(echo "$out" | sed -n 2p | cut -f2,3,4)" = "12	0	3" ] || fail "summary: $out"
    run_split "$PY" "$DATUM" dump train.lmdb
    [ "$(echo "$out" | wc -l)" -eq 12 ] || fail "records: $out"
    [ "$(echo "$out" | head -1 | cut -f1-7)" = "00000000_n00000001/n00000001_1.JPEG	0	3	256	256	0	196608" ] ||
        fail "first record: $(echo "$out" | head -1)"
    [ "$(echo "$out" | cut -f1 | sed 's/_.*//' | tr '\n' ' ')" = "00000000 00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008 00000009 00000010 00000011 " ] ||
        fail "keys"
    echo "$out" | awk -F'\t' '{ split($1, a, "[_/]"); if ((a[2] == "n00000001" ? 0 : a[2] == "n00000002" ? 1 : 2) != $2) exit 1 }' ||
        fail "labels do not follow folders: $out"
}

@test "prep: the class table goes to classes.tsv inside the database" {
    synth_tree
    alexnet-prep -q s/train -o train.lmdb >/dev/null
    [ -f train.lmdb/classes.tsv ] || fail "no classes.tsv"
    [ "$(cat train.lmdb/classes.tsv)" = "$(printf '#index\twnid\twords\n0\tn00000001\t\n1\tn00000002\t\n2\tn00000003\t')" ] ||
        fail "classes.tsv: $(cat train.lmdb/classes.tsv)"
    alexnet-prep -q --synsets s/synset_words.txt s/train -o named.lmdb >/dev/null
    [ "$(sed -n 2p named.lmdb/classes.tsv | cut -f1,2)" = "0	n00000001" ] || fail "named: $(cat named.lmdb/classes.tsv)"
    [ -n "$(sed -n 2p named.lmdb/classes.tsv | cut -f3)" ] || fail "no words"
}

@test "prep: --synsets fixes the class order" {
    synth_tree
    sort -r s/synset_words.txt > reversed.txt
    alexnet-prep -q --synsets reversed.txt s/train -o train.lmdb >/dev/null
    run_split "$PY" "$DATUM" dump train.lmdb
    first=$(echo "$out" | head -1 | cut -f1,2)
    [ "$first" = "00000000_n00000003/n00000003_1.JPEG	0" ] || fail "first: $first"
}

@test "prep: a Caffe list and Kaggle's csv give the same labels" {
    synth_tree
    run_split alexnet-prep -q --list s/val.txt --synsets s/synset_words.txt s/val -o list.lmdb
    assert_status 0
    mkdir flat
    cp s/val/*/*.JPEG flat/
    { echo "ImageId,PredictionString"
      while read -r path label; do
          printf '%s,%s 1 2 3 4\n' "$(basename "$path" .JPEG)" "$(sed -n "$((label + 1))p" s/synset_words.txt | cut -d' ' -f1)"
      done < s/val.txt; } > LOC_val_solution.csv
    run_split alexnet-prep -q --kaggle LOC_val_solution.csv --synsets s/synset_words.txt flat -o kaggle.lmdb
    assert_status 0
    a=$("$PY" "$DATUM" dump list.lmdb | awk -F'\t' '{ n = split($1, p, "/"); print p[n], $2 }')
    b=$("$PY" "$DATUM" dump kaggle.lmdb | awk -F'\t' '{ sub(/^[0-9]*_/, "", $1); print $1, $2 }')
    [ "$a" = "$b" ] || fail "list: $a, kaggle: $b"
    [ "$(echo "$a" | wc -l)" -eq 6 ] || fail "count: $a"
}

@test "prep: the output does not depend on the thread count" {
    synth_tree
    alexnet-prep -q -j 1 s/train -o one.lmdb >/dev/null
    alexnet-prep -q -j 3 s/train -o three.lmdb >/dev/null
    [ "$("$PY" "$DATUM" digest one.lmdb)" = "$("$PY" "$DATUM" digest three.lmdb)" ] || fail "digests differ"
}

@test "prep: --shuffle is reproducible by seed and keeps every image" {
    synth_tree
    for s in 1 1 2; do
        alexnet-prep -q --shuffle --seed $s --force s/train -o sh$s.lmdb >/dev/null
        "$PY" "$DATUM" dump sh$s.lmdb | cut -f1 | sed 's/^[0-9]*_//' > order$s.txt
    done
    cmp -s order1.txt <("$PY" "$DATUM" dump sh1.lmdb | cut -f1 | sed 's/^[0-9]*_//') || fail "same seed, other order"
    ! cmp -s order1.txt order2.txt || fail "seeds 1 and 2 gave the same order"
    [ "$(sort order1.txt)" = "$(find s/train -type f | sed 's|^s/train/||' | sort)" ] || fail "images lost"
    ! cmp -s order1.txt <(sort order1.txt) || fail "not shuffled"
}

@test "prep: a lossless image round-trips exactly (BGR planes, rows top first)" {
    mkdir -p r/a
    pil "a = np.zeros((256, 256, 3), np.uint8); a[:128, :128] = (255, 0, 0); a[:128, 128:] = (0, 255, 0); a[128:, :128] = (0, 0, 255); a[128:, 128:] = (10, 20, 30); Image.fromarray(a).save('r/a/q.png')"
    alexnet-prep -q r -o r.lmdb >/dev/null
    [ "$("$PY" "$DATUM" pixel r.lmdb 00000000_a/q.png 10 10)" = "0 0 255" ] || fail "top left is not red in BGR"
    [ "$("$PY" "$DATUM" pixel r.lmdb 00000000_a/q.png 200 10)" = "0 255 0" ] || fail "top right"
    [ "$("$PY" "$DATUM" pixel r.lmdb 00000000_a/q.png 10 200)" = "255 0 0" ] || fail "bottom left"
    [ "$("$PY" "$DATUM" pixel r.lmdb 00000000_a/q.png 200 200)" = "30 20 10" ] || fail "bottom right"
}

@test "prep: a 500x375 JPEG matches PIL's decode, resize and crop within 2 levels on average" {
    mkdir -p j/a
    pil "
rng = np.random.default_rng(3)
y, x = np.mgrid[0:375, 0:500]
a = np.stack([(x * 255 // 499), (y * 255 // 374), ((x + y) % 256)], -1).astype(np.uint8)
a = np.clip(a.astype(int) + rng.integers(-20, 20, a.shape), 0, 255).astype(np.uint8)
Image.fromarray(a).save('j/a/x.JPEG', quality=90)
im = Image.open('j/a/x.JPEG').convert('RGB').resize((341, 256), Image.BILINEAR)
np.save('ref.npy', np.asarray(im)[:, 42:298])"
    alexnet-prep -q j -o j.lmdb >/dev/null
    "$PY" -c "
import lmdb, numpy as np, sys
sys.argv = ['x', 'dump', 'j.lmdb']
exec(open('$DATUM').read().split('def main')[0])
(k, d), = records('j.lmdb')
ours = np.frombuffer(d['data'], np.uint8).reshape(3, 256, 256)[::-1].transpose(1, 2, 0).astype(int)
ref = np.load('ref.npy').astype(int)
diff = np.abs(ours - ref)
print('mean', diff.mean(), 'max', diff.max())
assert diff.mean() < 2 and diff.max() < 40, (diff.mean(), diff.max())
"
}

@test "prep: CMYK, grayscale, progressive JPEGs and a PNG named .JPEG are decoded" {
    mkdir -p q/a
    pil "
Image.new('CMYK', (300, 260), (0, 255, 255, 0)).save('q/a/cmyk.JPEG', quality=95)
Image.new('L', (300, 260), 77).save('q/a/gray.JPEG', quality=95)
Image.new('RGB', (300, 260), (10, 200, 30)).save('q/a/prog.JPEG', quality=95, progressive=True)
Image.new('RGB', (300, 260), (40, 50, 60)).save('q/a/png.JPEG', format='PNG')"
    run_split alexnet-prep q -o q.lmdb
    assert_status 0
    [ -z "$err" ] || assert_contains "$err" "wrote 4 images"
    run_split "$PY" "$DATUM" dump q.lmdb
    means=$(echo "$out" | awk -F'\t' '{ printf "%s %.0f %.0f %.0f\n", $1, $8, $9, $10 }')
    echo "$means" | awk '/cmyk/ { if ($2 > 12 || $3 > 12 || $4 < 243) exit 1 }' || fail "CMYK red (B G R): $means"
    echo "$means" | awk '/gray/ { if ($2 != 77 || $3 != 77 || $4 != 77) exit 1 }' || fail "gray: $means"
    echo "$means" | awk '/prog/ { if ($2 < 25 || $2 > 35 || $3 < 195 || $3 > 205 || $4 > 15) exit 1 }' || fail "progressive: $means"
    echo "$means" | awk '/png/ { if ($2 != 60 || $3 != 50 || $4 != 40) exit 1 }' || fail "PNG: $means"
}

@test "prep: tiny, huge and extremely long images" {
    mkdir -p z/a
    pil "
Image.new('RGB', (10, 7), (1, 2, 3)).save('z/a/tiny.JPEG')
Image.new('RGB', (4000, 3000), (200, 100, 50)).save('z/a/huge.JPEG')
Image.new('RGB', (3000, 20), (9, 99, 199)).save('z/a/long.JPEG')"
    run_split alexnet-prep -q z -o z.lmdb
    assert_status 0
    run_split "$PY" "$DATUM" dump z.lmdb
    [ "$(echo "$out" | cut -f3-5 | sort -u)" = "3	256	256" ] || fail "shapes: $out"
}

@test "prep: EXIF orientation is ignored: pixels are stored as the file holds them" {
    mkdir -p e/a
    pil "
im = Image.new('RGB', (512, 256), (100, 0, 0))
exif = Image.Exif(); exif[0x0112] = 6
im.save('e/a/rot.JPEG', exif=exif)"
    alexnet-prep -q --crop none e -o e.lmdb >/dev/null
    run_split "$PY" "$DATUM" dump e.lmdb
    [ "$(echo "$out" | cut -f4,5)" = "256	512" ] || fail "stored rotated: $out"
}

@test "prep: bad images are named with the reason, skipped and summed up" {
    synth_tree
    : > s/train/n00000001/empty.JPEG
    echo "just text" > s/train/n00000001/text.JPEG
    head -c 3000 s/train/n00000002/n00000002_1.JPEG > s/train/n00000002/truncated.JPEG
    "$PY" -c "
b = bytearray(open('s/train/n00000003/n00000003_1.JPEG', 'rb').read())
i = b.index(b'\xff\xda') + 200
b[i:i + 400] = bytes((j * 37 + 11) % 251 for j in range(400))
open('s/train/n00000003/garbled.JPEG', 'wb').write(bytes(b[:len(b) // 2]))"
    run_split alexnet-prep s/train -o t.lmdb
    assert_status 0
    assert_contains "$err" "skipped: "
    assert_contains "$err" "s/train/n00000001/empty.JPEG': empty file"
    assert_contains "$err" "s/train/n00000001/text.JPEG': not a JPEG or PNG file"
    assert_contains "$err" "s/train/n00000002/truncated.JPEG'"
    assert_contains "$err" "s/train/n00000003/garbled.JPEG'"
    assert_contains "$err" "wrote 12 images"
    assert_contains "$err" "skipped 4: 4 not a valid image"
    [ "$(echo "$out" | sed -n 2p | cut -f2,3)" = "12	4" ] || fail "summary: $out"
}

@test "prep: --strict turns a bad image into a failure and writes nothing" {
    synth_tree
    echo "just text" > s/train/n00000001/text.JPEG
    run_split alexnet-prep -q --strict s/train -o t.lmdb
    assert_status 1
    assert_contains "$err" "error: "
    assert_contains "$err" "text.JPEG"
    [ ! -e t.lmdb ] || fail "t.lmdb was written"
    [ -z "$(ls -d t.lmdb* 2>/dev/null)" ] || fail "left behind: $(ls -d t.lmdb*)"
}

@test "prep: bad list lines and missing files are named by file and line" {
    synth_tree
    cp s/val.txt list.txt
    printf 'no-label-here\nn00000001/missing.JPEG 0\n%s 7\n' "$(head -1 s/val.txt | cut -d' ' -f1)" >> list.txt
    run_split alexnet-prep -q --list list.txt --synsets s/synset_words.txt s/val -o v.lmdb
    assert_status 0
    assert_contains "$err" "list.txt:7: expected 'path label', got 'no-label-here'"
    assert_contains "$err" "s/val/n00000001/missing.JPEG"
    assert_contains "$err" "label 7 is outside 0..2"
    [ "$(echo "$out" | sed -n 2p | cut -f2,3)" = "6	3" ] || fail "summary: $out"
}

@test "prep: an existing output is refused without --force, replaced with it" {
    synth_tree
    alexnet-prep -q s/val -o v.lmdb >/dev/null
    run_split alexnet-prep -q s/train -o v.lmdb
    assert_status 1
    assert_contains "$err" "'v.lmdb' exists (use --force to overwrite)"
    run_split alexnet-prep -q --force s/train -o v.lmdb
    assert_status 0
    [ "$("$PY" "$DATUM" dump v.lmdb | wc -l)" -eq 12 ] || fail "not replaced"
}

@test "prep: --encoded stores JPEGs that decode to the prepared image" {
    synth_tree
    run_split alexnet-prep -q --encoded --quality 80 s/train -o enc.lmdb
    assert_status 0
    run_split "$PY" "$DATUM" dump enc.lmdb
    [ "$(echo "$out" | cut -f6 | sort -u)" = 1 ] || fail "not encoded: $out"
    "$PY" "$DATUM" decode enc.lmdb 00000000_n00000001/n00000001_1.JPEG first.jpg
    [ "$(pil "print(Image.open('first.jpg').format, Image.open('first.jpg').size)")" = "JPEG (256, 256)" ] || fail "not a 256x256 JPEG"
    run_split alexnet-info enc.lmdb
    assert_contains "$out" "encoding	encoded"
}

@test "prep: --crop none keeps the aspect, --squash does not, --resize changes the side" {
    mkdir -p g/a
    pil "Image.new('RGB', (500, 375), (5, 6, 7)).save('g/a/x.JPEG')"
    alexnet-prep -q --crop none g -o none.lmdb >/dev/null
    alexnet-prep -q --squash g -o squash.lmdb >/dev/null
    alexnet-prep -q --resize 64 g -o small.lmdb >/dev/null
    [ "$("$PY" "$DATUM" dump none.lmdb | cut -f4,5)" = "256	341" ] || fail "none"
    [ "$("$PY" "$DATUM" dump squash.lmdb | cut -f4,5)" = "256	256" ] || fail "squash"
    [ "$("$PY" "$DATUM" dump small.lmdb | cut -f4,5)" = "64	64" ] || fail "resize"
}

@test "prep: alexnet-info describes the database" {
    synth_tree
    alexnet-prep -q --synsets s/synset_words.txt s/train -o train.lmdb >/dev/null
    run_split alexnet-info train.lmdb
    assert_status 0
    assert_contains "$out" "records	12"
    assert_contains "$out" "encoding	raw"
    assert_contains "$out" "shape	3x256x256	12"
    assert_contains "$out" "classes	3"
    [ "$(echo "$out" | awk -F'\t' '/^[0-9]/ { print $1, $2, $3 }' | tr '\n' ';')" = "0 n00000001 4;1 n00000002 4;2 n00000003 4;" ] ||
        fail "histogram: $out"
}

@test "prep: a database written the way Caffe writes it is read" {
    "$PY" "$DATUM" caffe caffe.lmdb
    run_split alexnet-info caffe.lmdb
    assert_status 0
    assert_contains "$out" "records	2"
    assert_contains "$out" "shape	3x4x5	2"
    assert_contains "$out" "no classes.tsv"
}

@test "prep: usage errors" {
    mkdir d
    for a in "d" "-o x.lmdb" "--list a --kaggle b d -o x.lmdb" "--crop side d -o x.lmdb" \
        "--quality 0 d -o x.lmdb" "--squash --crop none d -o x.lmdb" "d e -o x.lmdb"; do
        run_split alexnet-prep $a
        assert_usage_error
    done
}

@test "prep: a missing root, an empty tree and an unknown class folder are errors" {
    run_split alexnet-prep nowhere -o x.lmdb
    assert_status 1
    assert_contains "$err" "cannot open 'nowhere': No such file or directory"
    mkdir empty
    run_split alexnet-prep empty -o x.lmdb
    assert_status 1
    assert_contains "$err" "no class folders"
    synth_tree
    head -2 s/synset_words.txt > two.txt
    run_split alexnet-prep --synsets two.txt s/train -o x.lmdb
    assert_status 1
    assert_contains "$err" "folder 's/train/n00000003' is not a class of 'two.txt'"
}
