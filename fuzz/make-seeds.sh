#!/bin/sh
# Makes the seed corpus of every fuzz target under fuzz/corpus/ from the tools themselves
# (and PIL for odd images): small, valid inputs the fuzzer mutates from. The corpus is
# committed; run this again only to change it.
# Usage: fuzz/make-seeds.sh [BUILD_DIR]   (default build: the tools must be built)
set -eu
bin=$(cd "${1:-build}/bin" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PATH="$bin:$PATH"
cd "$work"

for t in blobproto caffe checkpoint classes config datum image keys list lmdb npy safetensors stats \
    train_state; do
    rm -rf "$out/$t" && mkdir -p "$out/$t"
done

# a dataset of 3 classes, tiny images
alexnet-synth -q --classes 3 --train 4 --val 2 --size 20-28 --seed 11 -o s >/dev/null
alexnet-prep -q --resize 8 s/train -o raw.lmdb >/dev/null
alexnet-prep -q --resize 8 --encoded --quality 50 s/train -o enc.lmdb >/dev/null
alexnet-stats -q raw.lmdb -o st >/dev/null

# LMDB: a one-leaf database; values in overflow pages; a tree with a branch page
cp raw.lmdb/data.mdb "$out/lmdb/one-leaf.mdb"
head -3 s/val.txt > three.txt
alexnet-prep -q --resize 28 --list three.txt s/val -o big.lmdb >/dev/null
cp big.lmdb/data.mdb "$out/lmdb/overflow.mdb"
/usr/bin/python3 - deep.lmdb <<'EOF'
import lmdb, sys
env = lmdb.open(sys.argv[1], map_size=1 << 22)
with env.begin(write=True) as t:
    for i in range(90):
        t.put(b"%08d_n%08d/a-key-long-enough-to-fill-a-page.JPEG" % (i, i % 3),
              b"\x08\x03\x10\x02\x18\x02\x22\x0c" + bytes(range(12)) + b"\x28" + bytes([i % 3]))
EOF
cp deep.lmdb/data.mdb "$out/lmdb/branch.mdb"

# Datum records: raw and encoded ones of ours, and a Caffe record
/usr/bin/python3 - raw.lmdb enc.lmdb "$out/datum" <<'EOF'
import lmdb, sys
for n, db in enumerate(sys.argv[1:3]):
    with lmdb.open(db, readonly=True, lock=False).begin() as t:
        for i, (k, v) in enumerate(t.cursor()):
            if i < 2:
                open("%s/%s-%d" % (sys.argv[3], ("raw", "encoded")[n], i), "wb").write(v)
open(sys.argv[3] + "/caffe", "wb").write(b"\x08\x03\x10\x04\x18\x05\x22\x3c" + bytes(range(60)) + b"\x28\xac\x02")
EOF

# the mean image: ours (legacy fields) and one with a shape field and unpacked floats
cp st/mean.binaryproto "$out/blobproto/ours"
printf '\072\010\012\006\001\003\002\002\055\000\000\200\077' > "$out/blobproto/shape"
/usr/bin/python3 - "$out/blobproto/shape" <<'EOF'
import struct, sys
# shape {dim: 1 3 2 2} packed, then 12 unpacked floats (field 5, wire type 5)
b = b"\x3a\x06\x0a\x04\x01\x03\x02\x02" + b"".join(b"\x2d" + struct.pack("<f", 10.0 * i) for i in range(12))
open(sys.argv[1], "wb").write(b)
EOF

cp st/stats.txt "$out/stats/stats.txt"
cp s/synset_words.txt "$out/classes/synset_words.txt"
cp raw.lmdb/classes.tsv "$out/classes/classes.tsv"
{ printf 0; cat s/val.txt; } > "$out/list/caffe"
{ printf 1; echo "ImageId,PredictionString"; sed 's|^n[0-9]*/\(.*\)\.JPEG \([0-9]*\)$|\1,n0000000\2 1 2 3 4|' s/val.txt; } \
    > "$out/list/kaggle"

# checkpoints of the smallest network, with and without momentum and class table
net="--crop 40 --pool plain --towers 1 --conv 2,2,2,2,2 --fc 2,2"
alexnet-synth -q --classes 2 --train 4 --val 2 --size 44-48 --seed 3 -o s2 >/dev/null
alexnet-prep -q --resize 44 s2/train -o t2.lmdb >/dev/null
alexnet-stats -q t2.lmdb -o st2 >/dev/null
alexnet-train -q -j 1 --train t2.lmdb --stats st2 -o run $net --batch 4 --lr-policy fixed \
    --max-iter 1 >/dev/null
cp run/ckpt-00000001.anet "$out/checkpoint/tiny.anet"
/usr/bin/python3 - run/ckpt-00000001.anet "$out" <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
out = sys.argv[2]
pos, sections = 16, {}
for _ in range(struct.unpack_from("<I", b, 12)[0]):
    tag, n = b[pos:pos + 4].decode(), struct.unpack_from("<Q", b, pos + 8)[0]
    sections[tag] = (pos, b[pos + 16:pos + 16 + n])
    pos += 16 + n
open(out + "/config/tiny.conf", "wb").write(sections["CONF"][1])
open(out + "/train_state/tiny.tran", "wb").write(sections["TRAN"][1])
# the same checkpoint without TRAN (3 sections) and without momentum (the first 16 tensors)
tens_at, tens = sections["TENS"]
t = bytearray(tens)
p, keep = 4, 0
for i in range(16):
    nl = struct.unpack_from("<I", t, p)[0]; p += 4 + nl
    nd = struct.unpack_from("<I", t, p)[0]; p += 4 + 4 * nd + 4
    cnt = struct.unpack_from("<Q", t, p)[0]; p += 8 + 4 * cnt
no_mom = struct.pack("<I", 16) + bytes(t[4:p])
head = bytearray(b[:16]); struct.pack_into("<I", head, 12, 3)
body = bytes(head)
for tag in ("CONF", "CLAS"):
    at, data = sections[tag]
    body += b[at:at + 16] + data
body += b"TENS" + b"\0" * 4 + struct.pack("<Q", len(no_mom)) + no_mom
open(out + "/checkpoint/no-momentum.anet", "wb").write(body + b"ANETEND\0" + b"\0\0\0\0")
EOF

# the same network as safetensors (ours, and one without our metadata as other tools write
# them), and its fc7 features: a .npy of version 1.0 and its keys; .npy of versions 2.0 and
# 3.0 by hand, one of them 1-dimensional
alexnet-export -q run/ckpt-00000001.anet -o m.safetensors
cp m.safetensors "$out/safetensors/ours.safetensors"
alexnet-features -q -m run/ckpt-00000001.anet --stats st2 --data t2.lmdb -o f.npy
cp f.npy "$out/npy/features.npy"
cp f.keys.tsv "$out/keys/features.keys.tsv"
printf '#key\tlabel\nimg/a.png\t3\r\nimg/b c.png\n# a comment\n00000002_x\textra\tmore\n' \
    > "$out/keys/by-hand.tsv"
/usr/bin/python3 - m.safetensors "$out" <<'EOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
out = sys.argv[2]
n = struct.unpack_from("<Q", b, 0)[0]
head = json.loads(b[8:8 + n])
del head["__metadata__"]
text = json.dumps(head, separators=(",", ":")).encode()
open(out + "/safetensors/no-metadata.safetensors", "wb").write(
    struct.pack("<Q", len(text)) + text + b[8 + n:])
for major, shape, count in ((2, "(3, 2)", 6), (3, "(4,)", 4)):
    d = ("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }\n" % shape).encode()
    open("%s/npy/v%d.npy" % (out, major), "wb").write(
        b"\x93NUMPY" + bytes([major, 0]) + struct.pack("<I", len(d)) + d +
        struct.pack("<%df" % count, *range(count)))
EOF

# Caffe models of the narrowest network (tests/cli/caffe.py's, two maps a layer): the
# layer field, the V1 layers field, and legacy 4-D blobs with fc weights transposed
/usr/bin/python3 - "$out/caffe" "$here/../tests/cli" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
import caffe
caffe.SMALL = dict(conv=[2, 2, 2, 2, 2], fc=[2, 2], classes=2)
out = sys.argv[1]
caffe.make_model(out + "/layer.caffemodel", None, seed=1)
caffe.make_model(out + "/v1.caffemodel", None, v1=True, seed=2)
caffe.make_model(out + "/legacy.caffemodel", None, seed=3, variant="legacy")
caffe.make_model(out + "/transpose.caffemodel", None, seed=4, variant="transpose")
EOF

printf 'classes 1000\ncrop 227\nchannels 3\ntowers 2\nconv 96 256 384 384 256\ngroups 0 0 0 0 0\nfc 4096 4096\nlrn 1\nlrn_size 5\nlrn_k 2\nlrn_alpha 0.0001\nlrn_beta 0.75\npool 3 2\nact relu\ndropout 0.5\ninit_std 0.01\ninit_bias 1\n' \
    > "$out/config/paper.conf"
sed 's/^dropout 0.5$/&\ndropout_scale test/' "$out/config/paper.conf" > "$out/config/dropout-scale.conf"

# images: JPEG and PNG in the colour types and depths the decoder handles; a first byte of
# 0 decodes at full size, 0x88 with DCT scaling to a side of at least 8
/usr/bin/python3 - "$out/image" <<'EOF'
import io, sys
from PIL import Image
out = sys.argv[1]
base = Image.new("RGB", (24, 17))
base.putdata([((x * 11) % 256, (y * 15) % 256, (x * y) % 256) for y in range(17) for x in range(24)])
def save(name, im, fmt, first=b"\0", **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    open("%s/%s" % (out, name), "wb").write(first + b.getvalue())
save("rgb.jpg", base, "JPEG", quality=60)
save("scaled.jpg", base.resize((40, 32)), "JPEG", first=b"\x88", quality=60)
save("gray.jpg", base.convert("L"), "JPEG")
save("progressive.jpg", base, "JPEG", progressive=True)
save("cmyk.jpg", base.convert("CMYK"), "JPEG")
save("rgb.png", base, "PNG")
save("palette.png", base.convert("P"), "PNG")
save("gray-alpha.png", base.convert("LA"), "PNG")
save("interlaced.png", base.convert("RGBA"), "PNG", interlace=1)
deep = Image.new("I;16", base.size)
deep.putdata([v * 257 for v in base.convert("L").getdata()])
save("gray16.png", deep, "PNG")
EOF
echo "fuzz seeds written to $out" >&2
