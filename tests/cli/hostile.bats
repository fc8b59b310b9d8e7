#!/usr/bin/env bats
# Hostile files and failing disks, across the tools (alexnet(7), SECURITY AND FAILURE MODEL):
# links and FIFOs planted where outputs go, outputs that are inputs, damaged databases,
# checkpoints and statistics, names that break lines, full disks, kill -9.

load helper

PY=/usr/bin/python3
NET=(--crop 57 --pool plain --conv 8,16,16,16,16 --fc 32,32 --batch 8)

# A tiny dataset, its statistics and a model, made once per file.
setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    PATH="$ANET_BIN:$PATH"
    alexnet-synth -q --classes 4 --train 20 --val 5 --size 64-96 -o s >/dev/null
    alexnet-prep -q --resize 64 s/train -o train.lmdb >/dev/null
    alexnet-prep -q --resize 64 s/val -o val.lmdb >/dev/null
    alexnet-stats -q train.lmdb -o stats >/dev/null
    alexnet-train -q -j 2 --train train.lmdb --val val.lmdb --stats stats -o run "${NET[@]}" --max-iter 2 \
        > /dev/null
    cp run/ckpt-00000002.anet m.anet
}

D() { echo "$BATS_FILE_TMPDIR/$1"; }

FAILWRITE=$ANET_BIN/../tests/libfailwrite.so

# limited KB CMD...: runs CMD (as run_split does) with its address space limited to KB, so
# that an allocation of more fails; under the sanitizers, whose shadow memory needs far more
# address space, without the limit (the tests then rely on the messages alone).
limited() {
    local kb=$1
    shift
    if [ -n "${ANET_SANITIZE:-}" ]; then run_split "$@"; return; fi
    run_split sh -c 'ulimit -v "$0" && exec "$@"' "$kb" "$@"
}

# The tests that mount a small file system unmount it, whatever happened.
teardown() {
    if [ -n "${FULL:-}" ] && mountpoint -q "$FULL"; then umount "$FULL"; fi
    cd / && rm -rf "$TMP"
}

ev() { alexnet-eval -q -j 2 -m "$(D m.anet)" --data "$(D val.lmdb)" --stats "$(D stats)" "$@"; }

# plant_and_run NAME CMD...: plants a link to ./victim at NAME, "PID" in it replaced by the
# process id CMD will have, then runs CMD (as run_split does).
plant_and_run() {
    local name=$1
    shift
    run_split sh -c 'ln -s "$PWD/victim" "$(echo "$0" | sed "s/PID/$$/")" && exec "$@"' "$name" "$@"
}

@test "hostile: prep never deletes a planted directory or the files a planted link leads to" {
    mkdir victim && echo keep > victim/a && echo keep > victim/b
    plant_and_run out.lmdb.tmp.PID alexnet-prep -q --resize 64 "$(D s/train)" -o out.lmdb
    assert_status 0
    [ "$(cat victim/a victim/b)" = "$(printf 'keep\nkeep')" ] || fail "victim: $(ls -la victim)"
    [ -L "$(ls -d out.lmdb.tmp.* | head -1)" ] || fail "the planted link is gone: $(ls)"
    alexnet-info out.lmdb > /dev/null || fail "the output is not a database"
    # a real directory of plain files where the temporary goes is left alone too
    run_split sh -c 'mkdir out2.lmdb.tmp.$$ && echo mine > out2.lmdb.tmp.$$/data.mdb &&
                     exec alexnet-prep -q --resize 64 "$0" -o out2.lmdb' "$(D s/train)"
    assert_status 0
    [ "$(cat out2.lmdb.tmp.*/data.mdb)" = mine ] || fail "the stranger's directory was cleared"
}

@test "hostile: a link planted at an output's temporary name receives nothing" {
    echo precious > victim
    plant_and_run per.tsv.tmp.PID alexnet-eval -q -j 2 -m "$(D m.anet)" --data "$(D val.lmdb)" \
        --stats "$(D stats)" --per-image per.tsv
    assert_status 0
    [ "$(cat victim)" = precious ] || fail "eval wrote through the link"
    [ -f per.tsv ] && [ ! -L per.tsv ] || fail "per.tsv is not a regular file: $(ls -la)"
    rm -f per.tsv.tmp.*
    mkdir st
    plant_and_run st/mean.binaryproto.tmp.PID alexnet-stats -q "$(D train.lmdb)" -o st
    assert_status 0
    [ "$(cat victim)" = precious ] || fail "stats wrote through the link"
    [ -f st/mean.binaryproto ] && [ ! -L st/mean.binaryproto ] || fail "$(ls -la st)"
}

@test "hostile: FIFOs and devices are written directly, '-' is standard output" {
    mkfifo fifo
    timeout 120 cat fifo > got &
    reader=$!
    run_split ev --per-image fifo --force
    [ -p fifo ] || { kill $reader; fail "the FIFO was replaced by: $(ls -la fifo)"; }
    assert_status 0
    wait $reader
    [ "$(grep -vc '^#' got)" -eq 20 ] || fail "the reader got: $(cat got)"
    run_split ev --per-image -
    assert_status 0
    [ "$(echo "$out" | grep -c '^0000')" -eq 20 ] || fail "per-image lines on stdout: $out"
    [ "$(echo "$out" | tail -2 | head -1 | cut -f1)" = "#images" ] || fail "summary last: $out"
    [ ! -e ./- ] || fail "a file named '-' was made"
    run_split ev --per-image /dev/null
    assert_status 0
    # a link to standard output (as /dev/stdout is) writes standard output, replaced by nothing
    ln -s /proc/self/fd/1 mystdout
    ev --per-image mystdout --force > through.txt
    [ -L mystdout ] || fail "the link to standard output was replaced"
    [ "$(grep -c '^0000' through.txt)" -eq 20 ] || fail "$(cat through.txt)"
}

@test "hostile: an output that is a link is refused, neither it nor its target replaced" {
    echo precious > target
    ln -s target per.tsv
    run_split ev --per-image per.tsv --force
    assert_status 1
    assert_contains "$err" "'per.tsv' is a symbolic link"
    [ -L per.tsv ] && [ "$(cat target)" = precious ] || fail "$(ls -la)"
}

@test "hostile: an output that is an input is refused before anything is written" {
    cp -r "$(D train.lmdb)" t.lmdb
    cp "$(D m.anet)" m.anet
    before=$(cksum < t.lmdb/data.mdb)
    run_split alexnet-stats -q t.lmdb --mean-file t.lmdb/data.mdb --stats-file x.txt --force
    assert_usage_error
    assert_contains "$err" "--mean-file 't.lmdb/data.mdb' is a file of TRAIN.lmdb 't.lmdb'"
    [ "$(cksum < t.lmdb/data.mdb)" = "$before" ] || fail "the database changed"
    before=$(cksum < m.anet)
    run_split alexnet-eval -q -m m.anet --data "$(D val.lmdb)" --stats "$(D stats)" \
        --per-image m.anet --force
    assert_usage_error
    assert_contains "$err" "--per-image 'm.anet' is the same file as -m 'm.anet'"
    [ "$(cksum < m.anet)" = "$before" ] || fail "the model changed"
    ln m.anet hard.anet
    run_split alexnet-eval -q -m m.anet --data "$(D val.lmdb)" --stats "$(D stats)" \
        --per-image hard.anet --force
    assert_usage_error
    run_split alexnet-stats -q t.lmdb --mean-file same --stats-file same
    assert_usage_error
}

@test "hostile: import, export, features, neighbours and filters refuse an output that is an input" {
    cp "$(D m.anet)" m.anet
    alexnet-export -q m.anet -o m.safetensors
    alexnet-features -q -m m.anet --stats "$(D stats)" --data "$(D val.lmdb)" -o f.npy
    sums() { cksum m.anet m.safetensors f.npy f.keys.tsv; }
    before=$(sums)
    run_split alexnet-export m.anet -o m.anet --force
    assert_usage_error
    assert_contains "$err" "-o 'm.anet' is the same file as CKPT 'm.anet'"
    run_split alexnet-import m.safetensors -o m.safetensors --force
    assert_usage_error
    assert_contains "$err" "-o 'm.safetensors' is the same file as MODEL 'm.safetensors'"
    run_split alexnet-filters -m m.anet -o m.anet --force
    assert_usage_error
    assert_contains "$err" "-o 'm.anet' is the same file as -m 'm.anet'"
    run_split alexnet-features -m m.anet --stats "$(D stats)" --data "$(D val.lmdb)" -o m.anet --force
    assert_usage_error
    assert_contains "$err" "-o 'm.anet' is the same file as -m 'm.anet'"
    run_split alexnet-features -m m.anet --stats "$(D stats)" --data "$(D val.lmdb)" -o g.npy \
        --keys "$(D stats)/stats.txt" --force
    assert_usage_error
    assert_contains "$err" "is a file of --stats"
    run_split alexnet-neighbours --index f.npy --keys f.keys.tsv --query f.npy \
        --query-keys f.keys.tsv --data "$(D val.lmdb)" --sheet f.npy --force
    assert_usage_error
    assert_contains "$err" "--sheet 'f.npy' is the same file as --index 'f.npy'"
    [ "$(sums)" = "$before" ] || fail "an input changed"
}

@test "hostile: a name with a line break is skipped by prep and escaped in TSV output" {
    cp -r "$(D s)" s
    f=$(ls s/train/n00000001 | head -1)
    cp "s/train/n00000001/$f" "s/train/n00000001/two"$'\n'"lines.JPEG"
    run_split alexnet-prep -q --resize 64 s/train -o t.lmdb
    assert_status 0
    assert_contains "$err" "line break"
    [ "$(echo "$out" | sed -n 2p | cut -f2,3)" = "$(printf '80\t1')" ] || fail "$out"
    # a database made elsewhere may hold such keys: eval escapes them
    "$PY" - "$(D val.lmdb)" odd.lmdb <<'EOF'
import lmdb, sys
src = lmdb.open(sys.argv[1], readonly=True, lock=False)
dst = lmdb.open(sys.argv[2], map_size=1 << 26)
with src.begin() as r, dst.begin(write=True) as w:
    for i, (k, v) in enumerate(r.cursor()):
        w.put(b"%08d_a\nb\tc\\d.JPEG" % i, v)
EOF
    run_split alexnet-eval -q -j 2 -m "$(D m.anet)" --data odd.lmdb --stats "$(D stats)" \
        --per-image per.tsv
    assert_status 0
    [ "$(grep -vc '^#' per.tsv)" -eq 20 ] || fail "$(cat per.tsv)"
    [ "$(sed -n 2p per.tsv | cut -f1)" = '00000000_a\nb\tc\\d.JPEG' ] || fail "$(sed -n 2p per.tsv)"
}

# damage DB HOW: one kind of damage to the tree of DB/data.mdb, where LMDB trusts the file:
#   root: the main tree's root and last page moved past the end of the file (SIGBUS);
#   dupdata: a leaf node flagged as holding duplicates (a null dereference).
damage() {
    "$PY" - "$1/data.mdb" "$2" <<'PYEOF'
import struct, sys
path, how = sys.argv[1], sys.argv[2]
d = bytearray(open(path, "rb").read())
ps = struct.unpack_from("<I", d, 16 + 24)[0]
txn = [struct.unpack_from("<Q", d, m * ps + 16 + 128)[0] for m in (0, 1)]
meta = (1 if txn[1] > txn[0] else 0) * ps + 16
last, root = struct.unpack_from("<Q", d, meta + 120)[0], struct.unpack_from("<Q", d, meta + 112)[0]
if how == "root":
    struct.pack_into("<Q", d, meta + 112, last + 100)
    struct.pack_into("<Q", d, meta + 120, last + 200)
else:
    pg = root
    while d[pg * ps + 10] & 1:  # down the first branch to a leaf
        node = pg * ps + struct.unpack_from("<H", d, pg * ps + 16)[0]
        lo, hi, fl = struct.unpack_from("<HHH", d, node)
        pg = lo | hi << 16 | fl << 32
    node = pg * ps + struct.unpack_from("<H", d, pg * ps + 16)[0]
    struct.pack_into("<H", d, node + 4, 0x04)
open(path, "wb").write(d)
PYEOF
}

@test "hostile: a damaged data.mdb is an error naming the database, in every reader" {
    for how in root dupdata; do
        rm -rf bad.lmdb && cp -r "$(D val.lmdb)" bad.lmdb && damage bad.lmdb $how
        run_split alexnet-info bad.lmdb
        assert_status 1
        assert_contains "$err" "'bad.lmdb' is damaged"
        run_split alexnet-stats -q bad.lmdb -o st
        assert_status 1
        assert_contains "$err" "'bad.lmdb' is damaged"
        run_split alexnet-eval -q -j 2 -m "$(D m.anet)" --data bad.lmdb --stats "$(D stats)"
        assert_status 1
        assert_contains "$err" "'bad.lmdb' is damaged"
        run_split alexnet-train -q -j 2 --train bad.lmdb --val "$(D val.lmdb)" --stats "$(D stats)" \
            -o r "${NET[@]}" --max-iter 1
        assert_status 1
        assert_contains "$err" "'bad.lmdb' is damaged"
    done
}

@test "hostile: alexnet-info --verify reads every record and names the damaged ones" {
    run_split alexnet-info --verify "$(D val.lmdb)"
    assert_status 0
    assert_contains "$out" "$(printf 'verified\t20\ndamaged_records\t0')"
    rm -rf v.lmdb && cp -r "$(D val.lmdb)" v.lmdb
    "$PY" - v.lmdb <<'PYEOF'
import lmdb, sys
env = lmdb.open(sys.argv[1], lock=False)
with env.begin(write=True) as t:
    keys = [k for k, _ in t.cursor()]
    t.put(keys[3], b"\x08\x03\x10\x40\x18\x40\x22\x05hello\x28\x01")  # 3x64x64 with 5 bytes
    v = bytearray(t.get(keys[7])); v[-3] = 0x63                          # label 99
    t.put(keys[7], bytes(v))
PYEOF
    run_split alexnet-info --verify v.lmdb
    assert_status 1
    assert_contains "$out" "$(printf 'verified\t20\ndamaged_records\t2')"
    [ "$(echo "$err" | grep -c "v.lmdb': record '0000000[37]_")" -eq 2 ] || fail "$err"
    assert_contains "$err" "label 99 is outside the 4 classes"
    run_split alexnet-info --verify "$(D m.anet)"
    assert_status 0
    assert_contains "$out" "$(printf 'verified\tyes')"
    run_split alexnet-info --verify
    assert_usage_error
}

@test "hostile: prep skips FIFOs and devices in the image tree with a reason, never waits on them" {
    cp -r "$(D s)" s
    mkfifo s/train/n00000002/pipe.JPEG
    ln -s /dev/zero s/train/n00000003/zero.JPEG
    run_split timeout 60 alexnet-prep --resize 64 s/train -o t.lmdb
    assert_status 0
    assert_contains "$err" "pipe.JPEG' is a FIFO, not an image"
    assert_contains "$err" "zero.JPEG' is a character device, not an image"
    [ "$(echo "$out" | sed -n 2p | cut -f2,3)" = "$(printf '80\t2')" ] || fail "$out"
    printf 'n00000002/pipe.JPEG 1\nn00000001/%s 0\n' "$(ls s/train/n00000001 | head -1)" > list.txt
    run_split timeout 60 alexnet-prep -q --resize 64 --list list.txt s/train -o l.lmdb
    assert_status 0
    assert_contains "$err" "is a FIFO"
    mkfifo list.fifo
    run_split timeout 60 alexnet-prep -q --resize 64 --list list.fifo s/train -o f.lmdb
    assert_status 1
    assert_contains "$err" "'list.fifo' is a FIFO, not a list"
}

@test "hostile: models, features, keys and class tables are read only from regular files" {
    cp "$(D m.anet)" m.anet
    alexnet-export -q m.anet -o m.safetensors
    alexnet-features -q -m m.anet --stats "$(D stats)" --data "$(D val.lmdb)" -o f.npy
    mkfifo fifo
    # check WHAT CMD...: CMD exits 1 within 30 s, saying fifo is a FIFO, not WHAT
    check() {
        local what=$1
        shift
        run_split timeout 30 "$@"
        assert_status 1
        assert_contains "$err" "'fifo' is a FIFO, not $what"
    }
    check "a Caffe model" alexnet-import --caffe fifo -o x.anet
    check "a safetensors file" alexnet-import fifo -o x.anet
    check "a class table" alexnet-import m.safetensors --synsets fifo -o x.anet
    check "an alexnet checkpoint" alexnet-features -m fifo --stats "$(D stats)" --data "$(D val.lmdb)" -o g.npy
    check "an alexnet checkpoint" alexnet-eval -m fifo --data "$(D val.lmdb)" --stats "$(D stats)"
    check "a .npy file" alexnet-neighbours --index fifo --query f.npy
    check "a .npy file" alexnet-neighbours --index f.npy --query fifo
    check "a keys file" alexnet-neighbours --index f.npy --query f.npy --keys fifo
    check "a keys file" alexnet-neighbours --index f.npy --query f.npy --query-keys fifo
    # a device is not read: /dev/zero would be a key line without end, a model without end
    run_split timeout 30 alexnet-neighbours --index f.npy --query f.npy --keys /dev/zero
    assert_status 1
    assert_contains "$err" "'/dev/zero' is a character device, not a keys file"
    run_split timeout 30 alexnet-import --caffe /dev/zero -o x.anet
    assert_status 1
    assert_contains "$err" "'/dev/zero' is a character device, not a Caffe model"
    # prep --force replaces only an LMDB directory: a FIFO as its data.mdb is not one, and
    # looking cannot block
    mkdir o.lmdb && mkfifo o.lmdb/data.mdb
    run_split timeout 30 alexnet-prep -q --resize 64 --force "$(D s)/val" -o o.lmdb
    assert_status 1
    assert_contains "$err" "'o.lmdb' has no LMDB data.mdb; refusing to replace it"
    [ -p o.lmdb/data.mdb ] || fail "the FIFO was removed"
    [ ! -e x.anet ] && [ ! -e g.npy ] || fail "an output was left: $(ls)"
}

# ckpt_edit IN OUT SECTION OLD NEW [OLD NEW...] [--pad N]: a checkpoint with text replaced in
# a section (CONF or TRAN), N zero bytes added to the end of its TENS section, its lengths
# and CRC made right again: damage a checksum cannot catch.
ckpt_edit() {
    "$PY" - "$@" <<'PYEOF'
import struct, sys, zlib
args = sys.argv[1:]
pad = 0
if "--pad" in args:
    i = args.index("--pad"); pad = int(args[i + 1]); del args[i:i + 2]
src, dst, sec, pairs = args[0], args[1], args[2].encode(), args[3:]
b = open(src, "rb").read()
pos, out = 16, bytearray(b[:16])
for _ in range(struct.unpack_from("<I", b, 12)[0]):
    tag, n = b[pos:pos + 4], struct.unpack_from("<Q", b, pos + 8)[0]
    data = b[pos + 16:pos + 16 + n]
    if tag == sec:
        t = data.decode()
        for old, new in zip(pairs[::2], pairs[1::2]):
            assert old in t, old
            t = t.replace(old, new)
        data = t.encode()
    if tag == b"TENS":
        data += b"\0" * pad
    out += tag + b"\0\0\0\0" + struct.pack("<Q", len(data)) + data
    pos += 16 + n
out += b"ANETEND\0" + struct.pack("<I", zlib.crc32(bytes(out)) & 0xffffffff)
open(dst, "wb").write(out)
PYEOF
}

@test "hostile: a checkpoint cannot make a reader allocate what its bytes do not hold" {
    # crop 2048 would need 8 MB of fc6 weights and GBs of activations: the section is padded
    # to pass the size check, but its records are still those of crop 57
    ckpt_edit "$(D m.anet)" big.anet CONF "crop 57" "crop 2048" --pad 9000000
    limited 1500000 alexnet-eval -q -j 2 -m big.anet --data "$(D val.lmdb)" --stats "$(D stats)"
    assert_status 1
    assert_contains "$err" "tensor fc6.weight has shape 32x16 but the configuration needs 32x63504"
    # CONF fields beyond what the options allow
    for pair in "classes 4/classes 2000000" "conv 8 16 16 16 16/conv 8 16 16 16 100000" \
        "pool 2 2/pool 7 1" "dropout 0.5/dropout 0.999" "channels 3/channels 4000"; do
        ckpt_edit "$(D m.anet)" odd.anet CONF "${pair%/*}" "${pair#*/}"
        run_split alexnet-info odd.anet
        assert_status 1
        assert_contains "$err" "invalid configuration"
    done
}

@test "hostile: training state outside the options' ranges is refused on --resume, never a SIGFPE" {
    for pair in "batch 8/batch 3000000" "lr_policy plateau/lr_policy step" \
        "momentum 0.899999976/momentum inf" "lr0 0.00999999978/lr0 -1" "best_err 2/best_err 7"; do
        rm -rf r && mkdir r
        if [ "$pair" = "lr_policy plateau/lr_policy step" ]; then
            ckpt_edit "$(D m.anet)" r/ckpt-00000002.anet TRAN "lr_policy plateau" "lr_policy step" \
                "step_epochs 30" "step_epochs 0"
        else
            ckpt_edit "$(D m.anet)" r/ckpt-00000002.anet TRAN "${pair%/*}" "${pair#*/}"
        fi
        limited 3000000 alexnet-train -q -j 2 --resume r/ckpt-00000002.anet
        assert_status 1
        assert_contains "$err" "r/ckpt-00000002.anet"
        assert_contains "$err" "outside"
    done
}

# nonfinite CKPT: the number of values of CKPT's tensors that are NaN or infinite (read
# here, not by the tools)
nonfinite() {
    "$PY" - "$1" <<'PYEOF'
import math, struct, sys
b = open(sys.argv[1], "rb").read()
pos = 16
for _ in range(struct.unpack_from("<I", b, 12)[0]):
    tag, n = b[pos:pos + 4], struct.unpack_from("<Q", b, pos + 8)[0]
    if tag == b"TENS":
        p, bad = pos + 20, 0
        for _ in range(struct.unpack_from("<I", b, pos + 16)[0]):
            nl = struct.unpack_from("<I", b, p)[0]; p += 4 + nl
            nd = struct.unpack_from("<I", b, p)[0]; p += 4 + 4 * nd + 4
            cnt = struct.unpack_from("<Q", b, p)[0]; p += 8
            bad += sum(not math.isfinite(x) for x in struct.unpack_from("<%df" % cnt, b, p))
            p += 4 * cnt
        print(bad)
    pos += 16 + n
PYEOF
}

@test "hostile: no path writes a checkpoint holding a value that is not finite" {
    # the run of the report: the weights overflow by the third step, the loss is still finite
    run_split alexnet-train -q -j 2 --train "$(D train.lmdb)" --val "$(D val.lmdb)" \
        --stats "$(D stats)" -o run "${NET[@]}" --lr 1e4 --momentum 0 --max-iter 3
    for c in run/*.anet; do
        [ -e "$c" ] || continue
        [ "$(nonfinite "$c")" = 0 ] || fail "'$c' holds $(nonfinite "$c") values that are not finite"
    done
    [ "$status" -ne 0 ] || [ -e run/ckpt-00000003.anet ] || fail "exit 0 without a checkpoint"
    [ "$status" -eq 0 ] || assert_contains "$err" "not finite"
    # checkpoints every step, through the divergence
    run_split alexnet-train -q -j 2 --train "$(D train.lmdb)" --val "$(D val.lmdb)" \
        --stats "$(D stats)" -o run2 "${NET[@]}" --lr 1e4 --momentum 0 --ckpt-every 1 --epochs 2
    assert_status 1
    for c in run2/*.anet; do
        [ -e "$c" ] || continue
        [ "$(nonfinite "$c")" = 0 ] || fail "'$c' holds values that are not finite"
    done
}

@test "hostile: statistics no 8-bit pixels can have are refused on load" {
    mkdir st && cp "$(D stats)"/* st/
    "$PY" - st/mean.binaryproto <<'PYEOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
struct.pack_into("<f", b, len(b) - 40, float("nan"))
open(sys.argv[1], "wb").write(b)
PYEOF
    run_split alexnet-eval -q -j 2 -m "$(D m.anet)" --data "$(D val.lmdb)" --stats st
    assert_status 1
    assert_contains "$err" "of the mean image is nan, not a mean of 0..255 pixels"
    cp "$(D stats)/mean.binaryproto" st/
    sed -i 's/^eigval\t[^ ]*/eigval\t1e39/' st/stats.txt
    run_split alexnet-train -q -j 2 --train "$(D train.lmdb)" --stats st -o r "${NET[@]}" \
        --lr-policy fixed --max-iter 1
    assert_status 1
    assert_contains "$err" "st/stats.txt: 'eigval' value 1e+39 is outside 0..0.75"
}

# full_disk CMD...: runs CMD with writes to regular files failing (ENOSPC) after
# FAILWRITE_AFTER bytes (0 if unset), or only those to paths containing FAILWRITE_MATCH
full_disk() {
    run_split env LD_PRELOAD="$FAILWRITE" FAILWRITE_AFTER="${FAILWRITE_AFTER:-0}" \
        FAILWRITE_MATCH="${FAILWRITE_MATCH:-}" "$@"
}

@test "hostile: a full disk: every writer exits 1 naming the file, nothing partial is left" {
    [ -f "$FAILWRITE" ] || fail "no $FAILWRITE (make builds it)"
    FAILWRITE_AFTER=300000 full_disk alexnet-prep -q --resize 64 "$(D s/train)" -o o.lmdb
    assert_status 1
    assert_contains "$err" "cannot write 'o.lmdb': No space left on device"
    [ -z "$(ls -d o.lmdb* 2>/dev/null)" ] || fail "left behind: $(ls -d o.lmdb*)"
    mkdir st
    FAILWRITE_MATCH=stats.txt full_disk alexnet-stats -q "$(D train.lmdb)" -o st
    assert_status 1
    assert_contains "$err" "cannot write 'st/stats.txt': No space left on device"
    [ -z "$(ls st)" ] || fail "left behind: $(ls st)"
    run_split alexnet-stats -q "$(D train.lmdb)" -o st
    assert_status 0
    FAILWRITE_MATCH=per.tsv full_disk alexnet-eval -q -j 2 -m "$(D m.anet)" --data "$(D val.lmdb)" \
        --stats "$(D stats)" --per-image per.tsv
    assert_status 1
    assert_contains "$err" "cannot write 'per.tsv': No space left on device"
    [ -z "$(ls per.tsv* 2>/dev/null)" ] || fail "left behind: $(ls per.tsv*)"
    FAILWRITE_MATCH=.anet full_disk alexnet-train -q -j 2 --train "$(D train.lmdb)" \
        --val "$(D val.lmdb)" --stats "$(D stats)" -o run "${NET[@]}" --max-iter 2
    assert_status 1
    assert_contains "$err" "cannot write 'run/ckpt-00000002.anet': No space left on device"
    [ -z "$(ls run | grep -v run.txt)" ] || fail "left behind: $(ls run)"
    FAILWRITE_AFTER=20000 full_disk alexnet-synth -q --classes 2 --train 20 --val 2 -o sy
    assert_status 1
    assert_contains "$err" "No space left on device"
}

@test "hostile: a real full file system (tmpfs): exit 1, never a signal, nothing partial left" {
    FULL=$TMP/full
    mkdir "$FULL"
    mount -t tmpfs -o size=400k tmpfs "$FULL" 2>/dev/null || { FULL=; skip "cannot mount a tmpfs here (root only)"; }
    # nearly full: the first pages fit, the rest does not
    dd if=/dev/zero of="$FULL/fill" bs=1k count=380 2>/dev/null || true
    run_split alexnet-prep -q --resize 64 "$(D s/train)" -o "$FULL/o.lmdb"
    assert_status 1
    assert_contains "$err" "No space left on device"
    [ -z "$(ls "$FULL" | grep -v '^fill$')" ] || fail "left behind: $(ls -la "$FULL")"
    # full: not a byte more
    dd if=/dev/zero of="$FULL/more" bs=1k count=100 2>/dev/null || true
    run_split alexnet-prep -q --resize 64 "$(D s/train)" -o "$FULL/o.lmdb"
    assert_status 1
    assert_contains "$err" "No space left on device"
    run_split alexnet-stats -q "$(D train.lmdb)" -o "$FULL/st"
    assert_status 1
    assert_contains "$err" "No space left on device"
    [ -z "$(ls "$FULL/st")" ] || fail "left behind: $(ls "$FULL/st")"
    run_split alexnet-eval -q -j 2 -m "$(D m.anet)" --data "$(D val.lmdb)" --stats "$(D stats)" \
        --per-image "$FULL/per.tsv"
    assert_status 1
    assert_contains "$err" "cannot write '$FULL/per.tsv': No space left on device"
    [ -z "$(ls "$FULL" | grep -v '^fill$' | grep -v '^more$' | grep -v '^st$')" ] ||
        fail "left behind: $(ls -la "$FULL")"
}

@test "hostile: kill -9 of prep at any moment leaves the output whole or absent, never half" {
    alexnet-synth -q --classes 4 --train 150 --val 1 --size 200-260 --seed 9 -o big >/dev/null
    for delay in 0.05 0.2 0.4 0.6 0.8 1.0 $((RANDOM % 9)).$((RANDOM % 10)); do
        alexnet-prep -q -j 2 big/train -o out.lmdb --force > /dev/null 2>&1 &
        pid=$!
        sleep "$delay"
        kill -9 $pid 2>/dev/null || true
        wait $pid || true
        if [ -e out.lmdb ]; then
            run_split alexnet-info --verify out.lmdb
            assert_status 0
            assert_contains "$out" "$(printf 'verified\t600\ndamaged_records\t0')"
        fi
        for t in out.lmdb.tmp.*; do
            [ -e "$t" ] || continue
            run_split alexnet-info "$t"
            assert_status 1
            assert_contains "$err" "is an unfinished database"
        done
    done
    run_split alexnet-prep -q -j 2 big/train -o out.lmdb --force
    assert_status 0
}

@test "hostile: readers refuse the temporary of a prep that was killed" {
    alexnet-synth -q --classes 2 --train 300 --val 1 --size 300-320 --seed 4 -o big >/dev/null
    alexnet-prep -q -j 1 big/train -o out.lmdb > /dev/null 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        [ -e "$(ls -d out.lmdb.tmp.* 2>/dev/null | head -1)/data.mdb" ] && break
        sleep 0.05
    done
    kill -9 $pid
    wait $pid || true
    t=$(ls -d out.lmdb.tmp.* | head -1)
    [ -n "$t" ] || fail "prep finished before it could be killed"
    run_split alexnet-info "$t"
    assert_status 1
    assert_contains "$err" "'$t' is an unfinished database"
    run_split alexnet-stats -q "$t" -o st
    assert_status 1
    assert_contains "$err" "unfinished database"
}

@test "hostile: a second signal stops training at once with status 1, not 143" {
    alexnet-train -q -j 2 --train "$(D train.lmdb)" --val "$(D val.lmdb)" --stats "$(D stats)" \
        -o run "${NET[@]}" --epochs 100000 > /dev/null 2> err.txt &
    pid=$!
    for _ in $(seq 100); do
        [ -n "$(ls run 2>/dev/null | grep '^run.txt')" ] && break
        sleep 0.1
    done
    sleep 0.3
    kill -TERM $pid; kill -INT $pid
    set +e; wait $pid; status=$?; set -e
    [ "$status" -eq 1 ] || fail "exit $status; $(cat err.txt)"
    assert_contains "$(cat err.txt)" "a second signal: stopped at once, without writing a checkpoint"
}

@test "hostile: the error for a bad record keeps its reason (no message written over itself)" {
    rm -rf b.lmdb && cp -r "$(D val.lmdb)" b.lmdb
    "$PY" - b.lmdb <<'PYEOF'
import lmdb, sys
env = lmdb.open(sys.argv[1], lock=False)
with env.begin(write=True) as t:
    k = [k for k, _ in t.cursor()][2]
    t.put(k, b"\x08\x03\x10\x40\x18\x40\x22\x05hello\x28\x01")
PYEOF
    run_split alexnet-stats -q b.lmdb -o st
    assert_status 1
    [ "$(echo "$err" | grep -o "record '" | wc -l)" -eq 1 ] || fail "garbled: $err"
    assert_contains "$err" "': malformed Datum: 5 data bytes for a 3x64x64 image (expected 12288)"
}
