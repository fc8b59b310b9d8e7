#!/usr/bin/env bats
# alexnet-export and the safetensors half of alexnet-import: the file as the format says,
# read with json and numpy only; the round trip bit for bit; a file without our metadata;
# damaged files refused; and the PyTorch module of alexnet-export(1) where PyTorch is.

load helper
load caffe

MAN1="$BATS_TEST_DIRNAME/../../man/man1"

# A narrow two-tower model with the paper's LRN, trained for a few steps: trained.anet
# (with momentum and training state) and its stats.
trained_model() {
    alexnet-synth -q --classes 3 --train 6 --val 1 --size 72-80 --seed 5 -o synth > /dev/null
    alexnet-prep -q --resize 72 synth/train -o train.lmdb > /dev/null
    alexnet-stats -q train.lmdb -o stats > /dev/null
    alexnet-train -q -j 2 --train train.lmdb --stats stats -o run --crop 67 \
        --conv 8,16,16,16,16 --fc 32,32 --batch 6 --max-iter 3 --lr-policy fixed \
        --init-std 0.05 --init-bias 0.1 > /dev/null
    cp run/ckpt-00000003.anet trained.anet
}

@test "export: usage errors exit 2 with nothing on stdout" {
    run_split alexnet-export -o x.safetensors
    assert_usage_error
    assert_contains "$err" "missing CKPT"
    run_split alexnet-export a.anet
    assert_usage_error
    assert_contains "$err" "-o MODEL.safetensors is required"
    run_split alexnet-export a.anet b.anet -o x.safetensors
    assert_usage_error
    run_split alexnet-export a.anet -o
    assert_usage_error
}

@test "export: json and numpy alone find the names, PyTorch's shapes and every parameter" {
    trained_model
    run_split alexnet-export trained.anet -o model.safetensors
    assert_status 0
    [ -z "$out" ] || fail "stdout: $out"
    assert_contains "$err" "wrote model.safetensors (10883 parameters, 3 classes, named)"
    run_split $PY "$ST" check model.safetensors \
        "$(alexnet-info trained.anet | awk -F'\t' '$1 == "parameters" { print $2 }')"
    assert_status 0
    assert_contains "$out" "$(printf 'conv1.weight\t8x3x11x11\nconv1.bias\t8\nconv2.weight\t16x4x5x5')"
    assert_contains "$out" "$(printf 'conv4.weight\t16x8x3x3')"
    assert_contains "$out" "$(printf 'fc6.weight\t32x16\nfc6.bias\t32')"
    # the metadata: the configuration and the class table as text
    $PY - <<'PY' || fail "metadata"
import json, struct
f = open("model.safetensors", "rb")
meta = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))["__metadata__"]
conf = dict(l.split(" ", 1) for l in meta["alexnet.config"].splitlines())
assert conf["conv"] == "8 16 16 16 16" and conf["crop"] == "67" and conf["towers"] == "2", conf
assert meta["alexnet.classes"].splitlines()[1] == "0\tn00000001\t", meta["alexnet.classes"]
PY
}

@test "export: a trained checkpoint goes out and back in bit for bit" {
    trained_model
    alexnet-export -q trained.anet -o a.safetensors
    run_split alexnet-import a.safetensors -o back.anet
    assert_status 0
    assert_contains "$err" "the network of its alexnet.config"
    alexnet-export -q back.anet -o b.safetensors
    cmp a.safetensors b.safetensors || fail "the second export differs"
    # the same parameters: the same predictions, to the last digit
    imgs=$(find synth/train -name '*.JPEG' | sort | head -4)
    alexnet-predict -m trained.anet --stats stats -k 3 $imgs > a.tsv
    alexnet-predict -m back.anet --stats stats -k 3 $imgs > b.tsv
    cmp a.tsv b.tsv || fail "$(diff a.tsv b.tsv)"
    # the network and the classes, as alexnet-info shows them
    diff <(alexnet-info trained.anet | sed -n '/^class\t/p; /^lrn/p; /^# alexnet:/,$p') \
        <(alexnet-info back.anet | sed -n '/^class\t/p; /^lrn/p; /^# alexnet:/,$p') ||
        fail "the configuration or the classes changed"
    run_split alexnet-info back.anet
    assert_contains "$out" "$(printf 'momentum\tyes')" # zero momentum, written as the format says
}

@test "export: Caffe's LRN survives the round trip" {
    small_model
    alexnet-import -q --caffe model.caffemodel --synsets synsets.txt -o caffe.anet
    alexnet-export -q caffe.anet -o caffe.safetensors
    alexnet-import -q caffe.safetensors -o back.anet
    cmp caffe.anet back.anet || fail "another checkpoint"
}

@test "export: a file without our metadata is read with the network its shapes describe" {
    trained_model
    alexnet-export -q trained.anet -o a.safetensors
    $PY "$ST" strip a.safetensors bare.safetensors
    run_split alexnet-import bare.safetensors -o bare.anet
    assert_status 0
    assert_contains "$err" "no alexnet.config in the file: the network inferred from the shapes (crop 67, two towers)"
    assert_contains "$err" "3 classes"
    imgs=$(find synth/train -name '*.JPEG' | sort | head -3)
    alexnet-predict -m trained.anet --stats stats -k 3 --format line $imgs | cut -f 3,5,7 > a.tsv
    alexnet-predict -m bare.anet --stats stats -k 3 --format line $imgs | cut -f 3,5,7 > b.tsv
    cmp a.tsv b.tsv || fail "$(diff a.tsv b.tsv)"
}

@test "export: a damaged or foreign safetensors file is refused naming it" {
    small_model
    alexnet-import -q --caffe model.caffemodel -o m.anet
    alexnet-export -q m.anet -o m.safetensors
    while IFS='|' read -r what want; do
        $PY "$ST" edit m.safetensors $what.safetensors $what
        run_split alexnet-import $what.safetensors -o $what.anet
        assert_status 1
        [ -z "$out" ] || fail "$what: stdout: $out"
        assert_contains "$err" "alexnet-import: '$what.safetensors': $want"
        [ ! -e $what.anet ] || fail "$what: an output was left"
    done <<'EOF'
dtype|tensor conv1.weight is F16; only F32 is read
missing|no tensor fc8.bias
extra|tensor 'fc9.weight' is not one of this network's
shape|tensor fc7.weight is 32x32x1 (4096 bytes); the network needs 32x32
nan|conv3.weight[2] is nan (not finite)
offsets|tensor fc8.bias lies at bytes
json|the safetensors header is not valid: ':' expected (at byte
huge|not a safetensors file (a header of
EOF
    size=$(stat -c %s m.safetensors)
    for n in 0 4 8 100 1000 $((size - 1)); do
        head -c $n m.safetensors > cut.safetensors
        run_split alexnet-import cut.safetensors -o cut.anet
        assert_status 1
        assert_contains "$err" "alexnet-import: 'cut.safetensors': "
        [ ! -e cut.anet ] || fail "$n bytes: an output was left"
    done
    run_split alexnet-import model.caffemodel -o x.anet
    assert_status 1
    assert_contains "$err" "'model.caffemodel': not a safetensors file"
    run_split alexnet-import . -o x.anet
    assert_status 1
    assert_contains "$err" "alexnet-import: '.' is a directory, not a safetensors file"
}

@test "export: an existing output is refused, --force replaces it; a non-finite weight is not written" {
    small_model
    alexnet-import -q --caffe model.caffemodel -o m.anet
    echo keep > m.safetensors
    run_split alexnet-export m.anet -o m.safetensors
    assert_status 1
    assert_contains "$err" "'m.safetensors' exists (use --force to overwrite)"
    [ "$(cat m.safetensors)" = keep ] || fail "touched"
    run_split alexnet-export m.anet -o m.anet --force
    assert_status 2
    assert_contains "$err" "-o 'm.anet' is the same file as CKPT 'm.anet': writing it would destroy an input"
    run_split alexnet-export -q m.anet -o m.safetensors --force
    assert_status 0
    [ -z "$err" ] || fail "stderr with -q: $err"
    # a checkpoint with a NaN in conv1.weight (the CRC made right again)
    $PY - <<'PY'
import struct, zlib
b = bytearray(open("m.anet", "rb").read())
at = b.index(b"conv1.weight") + len("conv1.weight")
ndim = struct.unpack_from("<I", b, at)[0]
at += 4 + 4 * ndim + 4 + 8
b[at:at + 4] = struct.pack("<f", float("nan"))
body = bytes(b[:-12])
open("nan.anet", "wb").write(body + b"ANETEND\0" + struct.pack("<I", zlib.crc32(body)))
PY
    run_split alexnet-export nan.anet -o nan.safetensors
    assert_status 1
    assert_contains "$err" "'nan.safetensors' not written: conv1.weight[0] is nan (not finite)"
    [ ! -e nan.safetensors ] || fail "written"
}

# The module in alexnet-export(1), as printed there, loads the file with strict=True and
# computes what alexnet-predict computes: Caffe's LRN (an imported model) and the paper's
# (a model trained here, two towers normalised apart), and the paper's form of dropout.
@test "export: the PyTorch module of alexnet-export(1) loads the file strictly and agrees" {
    $PY -c "import torch" 2>/dev/null || skip "PyTorch is not installed (Debian: python3-torch)"
    awk '/^\.\\" the PyTorch module/ { on = 1; next } on && /^\.nf/ { inb = 1; next }
         inb && /^\.fi/ { exit } inb' "$MAN1/alexnet-export.1" |
        sed -e 's/\\-/-/g' -e 's/\\\\/\\/g' > module.py
    grep -q 'load_state_dict(sd, strict=True)' module.py || fail "no module in the page"
    small_model
    alexnet-import -q --caffe model.caffemodel --mean mean.binaryproto --stats st \
        --synsets synsets.txt -o caffe.anet
    alexnet-export -q caffe.anet -o model.safetensors
    alexnet-predict -m caffe.anet --stats st -k 10 --format line a.png b.png > ours.tsv
    $PY "$CAFFE" torch module.py mean.binaryproto 227 a.png b.png > torch.tsv
    run compare ours.tsv torch.tsv 1e-4
    [ "$status" -eq 0 ] || fail "Caffe's LRN: PyTorch and alexnet-predict differ: $output"
    trained_model
    $PY "$CAFFE" image c.png --size 72 --seed 6
    $PY "$CAFFE" image d.png --size 72 --seed 7
    alexnet-export -q trained.anet -o model.safetensors --force
    alexnet-predict -m trained.anet --stats stats -k 3 --format line c.png d.png > ours.tsv
    $PY "$CAFFE" torch module.py stats/mean.binaryproto 67 c.png d.png > torch.tsv
    run compare ours.tsv torch.tsv 1e-4
    [ "$status" -eq 0 ] || fail "the paper's LRN: PyTorch and alexnet-predict differ: $output"
    # the paper's form of dropout: x(1 - p) after fc6 and fc7 at test
    alexnet-train -q -j 2 --train train.lmdb --stats stats -o paper --crop 67 \
        --conv 8,16,16,16,16 --fc 32,32 --batch 6 --max-iter 3 --lr-policy fixed \
        --init-std 0.1 --init-bias 0.1 --dropout-scale test > /dev/null
    alexnet-export -q paper/ckpt-00000003.anet -o model.safetensors --force
    alexnet-predict -m paper/ckpt-00000003.anet --stats stats -k 3 --format line c.png d.png > ours.tsv
    $PY "$CAFFE" torch module.py stats/mean.binaryproto 67 c.png d.png > torch.tsv
    run compare ours.tsv torch.tsv 1e-4
    [ "$status" -eq 0 ] || fail "--dropout-scale test: PyTorch and alexnet-predict differ: $output"
}
