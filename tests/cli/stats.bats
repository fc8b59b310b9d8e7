#!/usr/bin/env bats
# alexnet-stats: the mean image and colour statistics against numpy, files, options, errors.

load helper

PY=/usr/bin/python3
DATUM="$BATS_TEST_DIRNAME/datum.py"

make_db() {
    alexnet-synth -q --classes 3 --train 5 --val 1 --seed 9 -o s >/dev/null
    alexnet-prep -q s/train -o train.lmdb >/dev/null
}

# numpy's statistics of a raw database: checks ours to 1e-6 relative
check_numpy() {
    DATUM="$DATUM" "$PY" - "$1" "$2" <<'PYEOF'
import sys, struct
import numpy as np
sys.argv = [sys.argv[0], "dump", sys.argv[1], sys.argv[2]]
exec(open(__import__("os").environ["DATUM"]).read().split("def main")[0])
db, out = sys.argv[2], sys.argv[3]
imgs = np.stack([np.frombuffer(d["data"], np.uint8).reshape(3, d["height"], d["width"]) for _, d in records(db)]).astype(np.float64)
rgb = imgs[:, ::-1].transpose(1, 0, 2, 3).reshape(3, -1) / 255.0       # R, G, B rows
mean = rgb.mean(1)
cov = np.cov(rgb, bias=True)
val, vec = np.linalg.eigh(cov)
val = val[::-1]; vec = vec[:, ::-1]
fields = {}
for line in open(out + "/stats.txt"):
    if line.startswith("#"): continue
    k, v = line.rstrip("\n").split("\t")
    fields.setdefault(k, []).append([float(x) for x in v.split()] if k not in ("size", "scale", "channels") else v)
def close(a, b, what):
    a, b = np.asarray(a, float), np.asarray(b, float)
    err = np.abs(a - b).max() / np.abs(b).max()
    assert err < 1e-6, (what, a, b, err)
close(fields["mean"][0], mean, "mean")
close(fields["std"][0], np.sqrt(np.diag(cov)), "std")
close(fields["cov"], cov, "cov")
close(fields["eigval"][0], val, "eigval")
for i, v in enumerate(fields["eigvec"]):
    v = np.asarray(v)
    r = np.abs(cov @ v - val[i] * v).max()
    assert r < 1e-9 and abs(np.linalg.norm(v) - 1) < 1e-12, ("eigvec", i, r)
    assert abs(abs(v @ vec[:, i]) - 1) < 1e-6, ("eigvec direction", i)
    assert v[np.argmax(np.abs(v))] > 0, ("sign convention", i, v)
assert int(fields["images"][0][0]) == imgs.shape[0]
# the mean image: a BlobProto, parsed here by hand
b = open(out + "/mean.binaryproto", "rb").read()
i, dims, data = 0, {}, None
while i < len(b):
    key, i = varint(b, i)
    f, wt = key >> 3, key & 7
    if wt == 0:
        v, i = varint(b, i); dims[f] = v
    elif wt == 2:
        n, i = varint(b, i)
        if f == 5: data = np.frombuffer(b[i:i + n], "<f4")
        i += n
assert dims == {1: 1, 2: 3, 3: imgs.shape[2], 4: imgs.shape[3]}, dims
m = imgs.mean(0).reshape(-1)
assert np.abs(data - m).max() < 1e-4 * 255, np.abs(data - m).max()
print("ok", len(imgs), val)
PYEOF
}

@test "stats: mean image, covariance, eigenvalues and eigenvectors agree with numpy" {
    make_db
    run_split alexnet-stats -q train.lmdb -o st
    assert_status 0
    [ -f st/mean.binaryproto ] && [ -f st/stats.txt ] || fail "files missing"
    run check_numpy train.lmdb st
    [ "$status" -eq 0 ] || fail "numpy disagrees: $output"
    [[ "$output" == ok\ 15* ]] || fail "numpy check: $output"
}

@test "stats: the TSV summary and the stats file say the same" {
    make_db
    run_split alexnet-stats -q train.lmdb -o st
    assert_status 0
    [ "$(echo "$out" | head -1 | cut -f1-3)" = "#images	pixels	mean_r" ] || fail "header: $out"
    [ "$(echo "$out" | sed -n 2p | cut -f1,2)" = "15	983040" ] || fail "summary: $out"
    grep -q "^version	1$" st/stats.txt || fail "no version line"
    grep -q "^scale	0..1$" st/stats.txt || fail "no scale line"
    grep -q "^channels	R G B$" st/stats.txt || fail "no channel line"
    grep -q "^size	3x256x256$" st/stats.txt || fail "no size line"
}

@test "stats: the result does not depend on the thread count" {
    make_db
    alexnet-stats -q -j 1 train.lmdb -o one >/dev/null
    alexnet-stats -q -j 3 train.lmdb -o three >/dev/null
    cmp one/stats.txt three/stats.txt || fail "stats differ"
    cmp one/mean.binaryproto three/mean.binaryproto || fail "means differ"
}

@test "stats: --max-images and --sample choose subsets reproducibly" {
    make_db
    run_split alexnet-stats -q --max-images 4 train.lmdb -o a
    [ "$(echo "$out" | sed -n 2p | cut -f1)" = 4 ] || fail "max-images: $out"
    n1=$(alexnet-stats -q --sample 0.5 --seed 3 train.lmdb -o b | sed -n 2p | cut -f1)
    n2=$(alexnet-stats -q --sample 0.5 --seed 3 --force train.lmdb -o b | sed -n 2p | cut -f1)
    [ "$n1" = "$n2" ] && [ "$n1" -gt 0 ] && [ "$n1" -lt 15 ] || fail "sample: $n1 $n2"
}

@test "stats: images of another size are refused unless --resize" {
    alexnet-synth -q --classes 2 --train 3 --val 1 -o s >/dev/null
    alexnet-prep -q --crop none s/train -o var.lmdb >/dev/null
    run_split alexnet-stats -q var.lmdb -o st
    assert_status 1
    assert_contains "$err" "but the mean image is"
    assert_contains "$err" "(use --resize"
    run_split alexnet-stats -q --resize 256 var.lmdb -o st2
    assert_status 0
    grep -q "^size	3x256x256$" st2/stats.txt || fail "size"
}

@test "stats: an encoded database gives nearly the raw statistics" {
    make_db
    alexnet-prep -q --encoded --quality 95 s/train -o enc.lmdb >/dev/null
    alexnet-stats -q train.lmdb -o raw >/dev/null
    run_split alexnet-stats -q enc.lmdb -o enc
    assert_status 0
    paste <(grep '^mean' raw/stats.txt | cut -f2) <(grep '^mean' enc/stats.txt | cut -f2) |
        awk '{ for (i = 1; i <= 3; i++) if ($i - $(i + 3) > 0.01 || $(i + 3) - $i > 0.01) exit 1 }' ||
        fail "means differ: $(grep '^mean' raw/stats.txt enc/stats.txt)"
}

@test "stats: an empty database, a corrupt record and a missing database are errors" {
    "$PY" -c "import lmdb; lmdb.open('empty.lmdb', map_size=1 << 20).close()"
    run_split alexnet-stats -q empty.lmdb -o st
    assert_status 1
    assert_contains "$err" "'empty.lmdb': no images"
    make_db
    cp -r train.lmdb bad.lmdb
    "$PY" -c "
import lmdb
env = lmdb.open('bad.lmdb', map_size=1 << 30)
with env.begin(write=True) as t: t.put(b'00000007_broken', b'\x08\x03\x10')"
    run_split alexnet-stats -q bad.lmdb -o st
    assert_status 1
    assert_contains "$err" "record '00000007_broken'"
    run_split alexnet-stats -q nowhere.lmdb -o st
    assert_status 1
    assert_contains "$err" "cannot open 'nowhere.lmdb'"
}

@test "stats: an output directory that cannot be made, and existing files" {
    make_db
    echo x > file
    run_split alexnet-stats -q train.lmdb -o file/sub
    assert_status 1
    assert_contains "$err" "cannot create 'file/sub'"
    alexnet-stats -q train.lmdb -o st >/dev/null
    run_split alexnet-stats -q train.lmdb -o st
    assert_status 1
    assert_contains "$err" "st/mean.binaryproto' exists (use --force to overwrite)"
    run_split alexnet-stats -q --force train.lmdb -o st
    assert_status 0
    run_split alexnet-stats -q train.lmdb --mean-file m.binaryproto --stats-file s.txt
    assert_status 0
    [ -f m.binaryproto ] && [ -f s.txt ] || fail "named outputs missing"
}

@test "stats: alexnet-info describes the stats file and the mean image" {
    make_db
    alexnet-stats -q train.lmdb -o st >/dev/null
    run_split alexnet-info st/stats.txt st/mean.binaryproto
    assert_status 0
    assert_contains "$out" "images	15"
    assert_contains "$out" "eigval	"
    assert_contains "$out" "blob	1x3x256x256"
}

@test "stats: a mean image written the way Caffe writes it is read" {
    "$PY" -c "
import struct
data = b''.join(struct.pack('<f', v) for v in [1.5 * i for i in range(3 * 2 * 2)])
blob = b'\x08\x01\x10\x03\x18\x02\x20\x02' + b'\x2a' + bytes([len(data)]) + data
open('caffe.binaryproto', 'wb').write(blob)"
    run_split alexnet-info caffe.binaryproto
    assert_status 0
    assert_contains "$out" "blob	1x3x2x2"
    assert_contains "$out" "channel_means_bgr	2.25	8.25	14.25"
}

@test "stats: usage errors" {
    for a in "" "x.lmdb" "x.lmdb y.lmdb -o d" "--sample 0 x.lmdb -o d" "--sample 2 x.lmdb -o d" \
        "--max-images 0 x.lmdb -o d" "--mean-file m x.lmdb"; do
        run_split alexnet-stats $a
        assert_usage_error
    done
}
