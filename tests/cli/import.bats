#!/usr/bin/env bats
# alexnet-import: Caffe models written here by hand (tests/cli/caffe.py: the protobuf wire
# format, no Caffe) predict what Caffe's forward pass computes, in numpy; both layer
# formats; everything that does not map is refused naming the layer; damaged files; the
# README's one-command path on a model of the paper's shapes.

load helper
load caffe

README="$BATS_TEST_DIRNAME/../../README.md"

@test "import: usage errors exit 2 with nothing on stdout" {
    run_split alexnet-import -o x.anet
    assert_usage_error
    assert_contains "$err" "give --caffe MODEL.caffemodel or a MODEL.safetensors"
    run_split alexnet-import --caffe m.caffemodel
    assert_usage_error
    assert_contains "$err" "-o CKPT is required"
    run_split alexnet-import --caffe m.caffemodel m.safetensors -o x.anet
    assert_usage_error
    run_split alexnet-import --caffe m.caffemodel --mean mean.binaryproto -o x.anet
    assert_usage_error
    assert_contains "$err" "--mean needs --stats DIR"
    run_split alexnet-import --caffe m.caffemodel --stats st -o x.anet
    assert_usage_error
    run_split alexnet-import a.safetensors b.safetensors -o x.anet
    assert_usage_error
    run_split alexnet-import --caffe
    assert_usage_error
}

@test "import: a Caffe model predicts what Caffe's forward pass computes, within 1e-4" {
    small_model
    run_split alexnet-import --caffe model.caffemodel --mean mean.binaryproto --stats st \
        --synsets synsets.txt -o model.anet
    assert_status 0
    [ -z "$out" ] || fail "stdout: $out"
    assert_contains "$err" "conv1..fc8 mapped by name"
    assert_contains "$err" "LRN alpha/size, across all channels"
    [ -s st/mean.binaryproto ] || fail "no st/mean.binaryproto"
    cmp st/mean.binaryproto mean.binaryproto || fail "the mean image changed on the way"
    alexnet-predict -m model.anet --stats st -k 10 --format line a.png b.png > ours.tsv
    $PY "$CAFFE" forward weights.npz mean.binaryproto a.png b.png > caffe.tsv
    # ours names classes by WNID (n00000000 ...): compare by index
    run compare ours.tsv caffe.tsv 1e-4
    [ "$status" -eq 0 ] || fail "alexnet-predict and Caffe's forward differ: $output"
    # and the comparison can tell: the paper's LRN windows (within each tower) differ
    $PY "$CAFFE" forward weights.npz mean.binaryproto a.png b.png --lrn-within-towers > within.tsv
    run compare ours.tsv within.tsv 1e-3 above
    [ "$status" -eq 0 ] || fail "LRN within the towers should differ from Caffe's: $output"
}

@test "import: the class names and the LRN are in the checkpoint (alexnet-info)" {
    small_model
    alexnet-import -q --caffe model.caffemodel --synsets synsets.txt -o model.anet
    run_split alexnet-info model.anet
    assert_status 0
    assert_contains "$out" "$(printf 'lrn\tsize 5, k 1, alpha 0.0001 divided by the size, beta 0.75, across all channels')"
    assert_contains "$out" "$(printf 'class\t3\tn00000003\tclass 3, a test class')"
    assert_contains "$out" "LRN on (alpha/size, across the towers)"
    assert_contains "$out" "$(printf 'parameters\t43402')"
}

@test "import: the V1 layers field, legacy blob shapes and transposed weights give the same checkpoint" {
    small_model
    alexnet-import -q --caffe model.caffemodel -o layer.anet
    for v in v1 legacy transpose; do
        if [ $v = v1 ]; then $PY "$CAFFE" model $v.caffemodel --v1 --seed 1
        else $PY "$CAFFE" model $v.caffemodel --variant $v --seed 1; fi
        run_split alexnet-import --caffe $v.caffemodel -o $v.anet
        assert_status 0
        cmp layer.anet $v.anet || fail "$v: another checkpoint"
    done
    assert_contains "$err" "(layer)"
    run_split alexnet-import --caffe v1.caffemodel -o v1b.anet
    assert_contains "$err" "(V1 layers)"
}

@test "import: a convolution without biases gets zero biases" {
    $PY "$CAFFE" model nobias.caffemodel w.npz --variant nobias --seed 1
    run_split alexnet-import --caffe nobias.caffemodel -o nobias.anet
    assert_status 0
    alexnet-export -q nobias.anet -o nobias.safetensors
    $PY - <<'PY' || fail "conv1.bias is not zero"
import json, struct, numpy as np
b = open("nobias.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
e = json.loads(b[8:8 + n])["conv1.bias"]
x = np.frombuffer(b[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]], "<f4")
assert x.size == 16 and not x.any()
PY
}

@test "import: what does not map is refused, naming the layer and the shapes" {
    while IFS='|' read -r variant want; do
        $PY "$CAFFE" model $variant.caffemodel --variant $variant --seed 1
        run_split alexnet-import --caffe $variant.caffemodel -o $variant.anet
        assert_status 1
        [ -z "$out" ] || fail "$variant: stdout: $out"
        assert_contains "$err" "alexnet-import: '$variant.caffemodel': $want"
        [ ! -e $variant.anet ] || fail "$variant: an output was left"
    done <<'EOF'
caffenet|layer 'norm1' (LRN) follows the pooling 'pool1': that is CaffeNet's order
kernel|layer 'conv2' has kernel 3x3, stride 1 and padding 1; this network's conv2 has 5x5, 1 and 2
nan|layer 'fc7' weights: value 101 is nan (not finite)
within|layer 'norm1' normalises within each channel (WITHIN_CHANNEL)
crop224|at crop 224 layer 'pool1' pools 54x54 to 27x27 in Caffe, which rounds up, and to 26x26 here
crop259|layer 'fc6' weights are 32x576; fc6 reads 784 inputs here: conv5's 16 maps of 7x7 at crop 259
renamed|layer 'conv2' stands where this network has conv3
leaky|layer 'relu3' is a leaky ReLU (slope 0.1)
wide|its layers have 43042026 parameters, more than its 174773 bytes can hold
EOF
    ls *.tmp.* 2>/dev/null && fail "a temporary file was left" || true
}

@test "import: a damaged or foreign file is refused naming it, never a crash" {
    $PY "$CAFFE" model model.caffemodel --seed 1
    size=$(stat -c %s model.caffemodel)
    for n in 1 2 10 100 1000 10000 100000 $((size - 1)); do
        head -c $n model.caffemodel > cut.caffemodel
        run_split alexnet-import --caffe cut.caffemodel -o cut.anet
        assert_status 1
        assert_contains "$err" "alexnet-import: 'cut.caffemodel': "
        [ ! -e cut.anet ] || fail "$n bytes: an output was left"
    done
    $PY -c "import random; random.seed(5); open('noise.caffemodel', 'wb').write(bytes(random.getrandbits(8) for _ in range(50000)))"
    run_split alexnet-import --caffe noise.caffemodel -o x.anet
    assert_status 1
    assert_contains "$err" "'noise.caffemodel': not a Caffe NetParameter"
    : > empty.caffemodel
    run_split alexnet-import --caffe empty.caffemodel -o x.anet
    assert_status 1
    assert_contains "$err" "'empty.caffemodel': not a Caffe model (the file is empty)"
    run_split alexnet-import --caffe . -o x.anet
    assert_status 1
    assert_contains "$err" "alexnet-import: '.' is a directory, not a Caffe model"
    run_split alexnet-import --caffe missing.caffemodel -o x.anet
    assert_status 1
    assert_contains "$err" "cannot open 'missing.caffemodel': No such file or directory"
}

@test "import: outputs are refused when they exist, replaced with --force; inputs are checked" {
    small_model
    echo keep > model.anet
    run_split alexnet-import --caffe model.caffemodel -o model.anet
    assert_status 1
    assert_contains "$err" "'model.anet' exists (use --force to overwrite)"
    [ "$(cat model.anet)" = keep ] || fail "model.anet was touched"
    run_split alexnet-import --caffe model.caffemodel -o model.caffemodel --force
    assert_status 2
    assert_contains "$err" "-o 'model.caffemodel' is the same file as --caffe 'model.caffemodel': writing it would destroy an input"
    run_split alexnet-import -q --caffe model.caffemodel -o model.anet --force
    assert_status 0
    alexnet-info model.anet > /dev/null || fail "not a checkpoint"
    $PY "$CAFFE" synsets five.txt 5
    run_split alexnet-import --caffe model.caffemodel --synsets five.txt -o m5.anet
    assert_status 1
    assert_contains "$err" "'five.txt' names 5 classes but the model has 10"
    $PY - <<'PY'
import struct
def v(x):
    out = b""
    while x >= 0x80:
        out += bytes([x & 0x7F | 0x80]); x >>= 7
    return out + bytes([x])
body = b"".join(bytes([f << 3]) + v(d) for f, d in zip((1, 2, 3, 4), (1, 3, 200, 200)))
data = struct.pack("<%df" % (3 * 200 * 200), *([100.0] * (3 * 200 * 200)))
open("small.binaryproto", "wb").write(body + bytes([5 << 3 | 2]) + v(len(data)) + data)
PY
    run_split alexnet-import --caffe model.caffemodel --mean small.binaryproto --stats st -o ms.anet
    assert_status 1
    assert_contains "$err" "'small.binaryproto' is 3x200x200: the model needs 3xNxN with N >= its crop, 227"
    [ ! -e ms.anet ] && [ ! -e st/mean.binaryproto ] || fail "an output was written"
}

# The README's commands for a holder of bvlc_alexnet.caffemodel, imagenet_mean.binaryproto
# and synset_words.txt, run as shown on stand-ins of the paper's shapes (random weights):
# the paper's 60,965,224 parameters, and the same prediction as Caffe's forward in numpy.
@test "import: the README's one command for Caffe's bvlc_alexnet, on the paper's shapes" {
    cmds=$(awk '/^```/ { if (inb) { if (blk ~ /--caffe bvlc_alexnet.caffemodel/) print blk; inb = 0; blk = "" } else inb = 1; next }
                inb { blk = blk $0 "\n" }' "$README")
    [ -n "$cmds" ] || fail "no Caffe block in the README"
    $PY "$CAFFE" model bvlc_alexnet.caffemodel weights.npz --full --v1 --seed 7
    $PY "$CAFFE" mean imagenet_mean.binaryproto --seed 8
    $PY "$CAFFE" synsets synset_words.txt 1000
    $PY "$CAFFE" image photo.png --seed 9
    $PY -c "from PIL import Image; Image.open('photo.png').save('photo.jpg', quality=95)"
    n=0
    while IFS= read -r cmd; do
        [ -n "$cmd" ] || continue
        run_split bash -o pipefail -c "$cmd"
        [ "$status" -eq 0 ] || fail "'$cmd' exited $status: $err"
        n=$((n + 1))
        last=$out
    done <<< "$cmds"
    [ "$n" -ge 2 ] || fail "only $n commands"
    assert_contains "$last" "photo.jpg	1	"
    run_split alexnet-info bvlc.anet
    assert_contains "$out" "$(printf 'parameters\t60965224')"
    assert_contains "$out" "1000 classes, 3x227x227 input, 2 towers, LRN on (alpha/size, across the towers)"
    # the lossless image through the same model: Caffe's numbers
    alexnet-predict -m bvlc.anet --stats bvlc -k 1000 --format line photo.png > ours.tsv
    $PY "$CAFFE" forward weights.npz imagenet_mean.binaryproto photo.png > caffe.tsv
    run compare ours.tsv caffe.tsv 1e-4
    [ "$status" -eq 0 ] || fail "the paper's shapes: alexnet-predict and Caffe's forward differ: $output"
    # out again as safetensors: json and numpy find the paper's 60,965,224 parameters
    alexnet-export -q bvlc.anet -o bvlc.safetensors
    run_split $PY "$ST" check bvlc.safetensors 60965224
    assert_status 0
    assert_contains "$out" "$(printf 'conv2.weight\t256x48x5x5')"
    assert_contains "$out" "$(printf 'fc6.weight\t4096x9216')"
}
