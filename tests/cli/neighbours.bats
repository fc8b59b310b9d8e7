#!/usr/bin/env bats
# alexnet-neighbours: exact neighbours against numpy in double, ties, keys, the contact
# sheet from image files and from LMDB records (its cells where they belong), refusals and
# damaged feature files, and the README's commands.

load helper

PY=/usr/bin/python3
README="$BATS_TEST_DIRNAME/../../README.md"

# features ROWS QUERIES DIM: index.npy and query.npy (numpy, seeded), query 3 equal to row
# 17 and rows 40 and 41 equal (a tie), and want.tsv: numpy's answer in double.
features() {
    $PY - "$@" <<'PY'
import sys
import numpy as np
n, m, d = map(int, sys.argv[1:4])
r = np.random.default_rng(11)
X = np.maximum(r.standard_normal((n, d)), 0).astype("f4")
Q = np.maximum(r.standard_normal((m, d)), 0).astype("f4")
if n > 41:
    Q[3] = X[17]
    X[41] = X[40]
    Q[4] = X[40] + 0.01
np.save("index.npy", X)
np.save("query.npy", Q)
D = ((Q[:, None, :].astype("f8") - X[None].astype("f8")) ** 2).sum(-1)
with open("want.tsv", "w") as f:
    for q in range(m):
        order = sorted(range(n), key=lambda j: (D[q, j], j))[:6]
        for k, j in enumerate(order):
            f.write("%d\t%d\t%d\t%d\t%.17g\n" % (q, k + 1, j, j, np.sqrt(D[q, j])))
PY
}

@test "neighbours: usage errors exit 2 with nothing on stdout" {
    run_split alexnet-neighbours --query q.npy
    assert_usage_error
    assert_contains "$err" "--index FILE is required"
    run_split alexnet-neighbours --index i.npy
    assert_usage_error
    run_split alexnet-neighbours --index i.npy --query q.npy --sheet s.png
    assert_usage_error
    assert_contains "$err" "--sheet needs --keys and --query-keys"
    run_split alexnet-neighbours --index i.npy --query q.npy -k 0
    assert_usage_error
    run_split alexnet-neighbours --index i.npy --query q.npy extra
    assert_usage_error
}

@test "neighbours: exactly numpy's neighbours in double, ties to the lower row" {
    features 3000 40 256
    run_split alexnet-neighbours -j 2 --index index.npy --query query.npy
    assert_status 0
    [ "$(echo "$out" | head -1)" = "$(printf '#query\trank\tneighbour\trow\tdistance')" ] || fail "$out"
    echo "$out" | tail -n +2 > got.tsv
    [ "$(wc -l < got.tsv)" -eq 240 ] || fail "not 40 x 6 lines"
    cmp <(cut -f 1-4 got.tsv) <(cut -f 1-4 want.tsv) || fail "other neighbours: $(diff <(cut -f 1-4 got.tsv) <(cut -f 1-4 want.tsv) | head)"
    paste got.tsv want.tsv | awk -F'\t' '{ d = $5 - $10; if (d < 0) d = -d; if (d > 1e-7 * $10 + 1e-12) { print; bad = 1 } } END { exit bad }' ||
        fail "distances differ from numpy's"
    assert_contains "$out" "$(printf '3\t1\t17\t17\t0')"
    assert_contains "$out" "$(printf '4\t1\t40\t40\t')"
    assert_contains "$out" "$(printf '4\t2\t41\t41\t')"
    assert_contains "$err" "40 queries x 3000 rows of 256 dimensions in"
    # the same with one thread, and more neighbours than rows
    alexnet-neighbours -q -j 1 --index index.npy --query query.npy | tail -n +2 | cmp - got.tsv ||
        fail "one thread gives other results"
    $PY -c "import numpy as np; np.save('tiny.npy', np.load('index.npy')[:4])"
    run_split alexnet-neighbours -q --index tiny.npy --query query.npy -k 9
    assert_status 0
    [ "$(echo "$out" | grep -c '^0	')" -eq 4 ] || fail "$out"
}

@test "neighbours: keys name the queries and the neighbours" {
    features 100 5 8
    seq 0 99 | sed 's/^/train\/img/; s/$/.png\tlabel/' > keys.tsv
    (echo '#key'; seq 0 4 | sed 's/^/val\/q/') > qkeys.tsv
    run_split alexnet-neighbours -q --index index.npy --keys keys.tsv --query query.npy \
        --query-keys qkeys.tsv -k 2
    assert_status 0
    assert_contains "$out" "$(printf 'val/q3\t1\ttrain/img17.png\t17\t0')"
    [ "$(echo "$out" | grep -c '^val/q')" -eq 10 ] || fail "$out"
    head -50 keys.tsv > short.tsv
    run_split alexnet-neighbours --index index.npy --keys short.tsv --query query.npy
    assert_status 1
    assert_contains "$err" "'short.tsv' has 50 keys but 'index.npy' 100 rows"
    printf 'a\n\nb\n' > empty.tsv
    run_split alexnet-neighbours --index index.npy --keys empty.tsv --query query.npy
    assert_status 1
    assert_contains "$err" "empty.tsv:2: an empty key"
}

@test "neighbours: damaged, foreign or mismatched feature files are refused naming them" {
    features 100 5 8
    $PY - <<'PY'
import numpy as np
x = np.load("index.npy")
np.save("f8.npy", x.astype("f8"))
np.save("fortran.npy", np.asfortranarray(x))
np.save("cube.npy", np.zeros((2, 3, 4), "f4"))
np.save("wide.npy", np.zeros((5, 9), "f4"))
np.save("big.npy", x.astype(">f4"))
PY
    while IFS='|' read -r file want; do
        run_split alexnet-neighbours --index "$file" --query query.npy
        assert_status 1
        [ -z "$out" ] || fail "$file: stdout: $out"
        assert_contains "$err" "alexnet-neighbours: '$file': $want"
    done <<'EOF'
f8.npy|dtype '<f8'; float32 ('<f4') expected
fortran.npy|Fortran (column-major) order
cube.npy|not a .npy file this reads: more than 2 dimensions
big.npy|dtype '>f4'; float32 ('<f4') expected
EOF
    run_split alexnet-neighbours --index none.npy --query query.npy
    assert_status 1
    assert_contains "$err" "alexnet-neighbours: cannot open 'none.npy': No such file or directory"
    run_split alexnet-neighbours --index wide.npy --query query.npy
    assert_status 1
    assert_contains "$err" "'wide.npy' has 9 columns but 'query.npy' 8"
    size=$(stat -c %s index.npy)
    for n in 0 5 10 60 127 128 $((size - 1)); do
        head -c $n index.npy > cut.npy
        run_split alexnet-neighbours --index cut.npy --query query.npy
        assert_status 1
        assert_contains "$err" "alexnet-neighbours: 'cut.npy': "
    done
    cat index.npy query.npy > long.npy
    run_split alexnet-neighbours --index long.npy --query query.npy
    assert_status 1
    assert_contains "$err" "'long.npy': a 100 x 8 float32 matrix needs 3200 bytes after the header"
}

# images NAME N: N solid-colour 40x30 PNGs NAME/0.png ..., colour i = (i*20, 255-i*20, 100).
images() {
    $PY - "$@" <<'PY'
import os, sys
from PIL import Image
name, n = sys.argv[1], int(sys.argv[2])
os.makedirs(name, exist_ok=True)
for i in range(n):
    Image.new("RGB", (40, 30), (i * 20 % 256, 255 - i * 20 % 256, 100)).save("%s/%d.png" % (name, i))
PY
}

# check_sheet FILE ROWS K CELL: the size the man page gives, and each cell's colour that of
# the image it should hold (the query's, then its neighbours' in order, from nn.tsv).
check_sheet() {
    $PY - "$@" <<'PY'
import sys
from PIL import Image
path, rows, k, cell = sys.argv[1], *map(int, sys.argv[2:5])
im = Image.open(path).convert("RGB")
want = (2 * 6 + (1 + k) * cell + (k - 1) * 4 + 16, 2 * 6 + rows * cell + (rows - 1) * 4)
assert im.size == want, (im.size, want)
colour = lambda i: (i * 20 % 256, 255 - i * 20 % 256, 100)
nn = [l.rstrip("\n").split("\t") for l in open("nn.tsv") if not l.startswith("#")]
for r in range(rows):
    q = int(nn[r * k][0].split("/")[-1].split(".")[0].split("_")[-1])
    cells = [q] + [int(l[3]) for l in nn[r * k:(r + 1) * k]]
    for c, i in enumerate(cells):
        x = 6 + c * (cell + 4) + (12 if c else 0) + cell // 2
        y = 6 + r * (cell + 4) + cell // 2
        got = im.getpixel((x, y))
        assert max(abs(a - b) for a, b in zip(got, colour(i))) <= 2, (r, c, i, got, colour(i))
PY
}

@test "neighbours: the contact sheet from image files, a query a row, nearest first" {
    features 12 3 8
    images train 12
    images val 12
    seq 0 11 | sed 's/$/.png/' > keys.tsv
    # the queries' images through the same root
    seq 0 2 | sed 's/$/.png/' | sed 's/^/..\/val\//' > qkeys.tsv
    alexnet-neighbours -q --index index.npy --keys keys.tsv --query query.npy \
        --query-keys qkeys.tsv -k 4 --root train --sheet sheet.png --cell 32 > nn.tsv
    check_sheet sheet.png 3 4 32 || fail "the sheet's cells"
    run_split alexnet-neighbours -q --index index.npy --keys keys.tsv --query query.npy \
        --query-keys qkeys.tsv -k 4 --root train --sheet sheet.png
    assert_status 1
    assert_contains "$err" "'sheet.png' exists (use --force to overwrite)"
    alexnet-neighbours -q --index index.npy --keys keys.tsv --query query.npy \
        --query-keys qkeys.tsv -k 2 --root train --sheet sheet.png --force --sheet-rows 2 \
        --cell 24 > nn.tsv
    check_sheet sheet.png 2 2 24 || fail "the second sheet's cells"
}

@test "neighbours: the contact sheet from LMDB records; a missing key is an error, no sheet" {
    features 12 3 8
    mkdir -p tree/n00000001
    images tree/n00000001 12
    alexnet-prep -q --resize 32 tree -o train.lmdb > /dev/null
    # the database's keys: 00000000_n00000001/0.png ... in the order written
    $PY - <<'PY'
import lmdb
env = lmdb.open("train.lmdb", readonly=True, lock=False)
with env.begin() as t:
    keys = sorted(k.decode() for k, _ in t.cursor())
by_image = {int(k.split("/")[-1].split(".")[0]): k for k in keys}
open("keys.tsv", "w").write("".join(by_image[i] + "\n" for i in range(12)))
open("qkeys.tsv", "w").write("".join(by_image[i] + "\n" for i in range(3)))
PY
    alexnet-neighbours -q --index index.npy --keys keys.tsv --query query.npy \
        --query-keys qkeys.tsv -k 3 --data train.lmdb --query-data train.lmdb \
        --sheet sheet.png --cell 20 > nn.tsv
    check_sheet sheet.png 3 3 20 || fail "the sheet's cells"
    sed -i '5s/.*/00000099_nothing.png/' keys.tsv
    run_split alexnet-neighbours -q --index index.npy --keys keys.tsv --query query.npy \
        --query-keys qkeys.tsv -k 12 --data train.lmdb --query-data train.lmdb --sheet s2.png
    assert_status 1
    assert_contains "$err" "'train.lmdb': no record '00000099_nothing.png'"
    [ ! -e s2.png ] || fail "a sheet was written"
}

# The README's Figure 4 commands make their features with alexnet-features from the
# README's own databases, in a ```sh block: readme.bats runs them as shown, in order, with
# the README's other commands. Here: that they are there, and in such a block.
@test "neighbours: the README's Figure 4 commands are in a block the README's test runs" {
    blk=$(awk '/^```/ { if (inb) { if (b ~ /alexnet-neighbours --index/) { print fence; print b }
                                     inb = 0; b = "" }
                        else { inb = 1; fence = $0 } next }
               inb { b = b $0 "\n" }' "$README")
    [ -n "$blk" ] || fail "no alexnet-neighbours block in the README"
    [ "$(echo "$blk" | head -1)" = '```sh' ] || fail "not a \`\`\`sh block: $blk"
    assert_contains "$blk" "alexnet-features -m run/ckpt-00000008.anet --stats stats --data train.lmdb -o train-fc7.npy"
    assert_contains "$blk" "alexnet-neighbours --index train-fc7.npy --keys train-fc7.keys.tsv"
    assert_contains "$blk" "--sheet fig4.png"
}
