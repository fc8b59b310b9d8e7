#!/usr/bin/env bats
# alexnet-filters: the picture's size for both layouts and the paper's network, every kernel
# in its place stretched on its own (so the picture is not constant), and refusals.

load helper
load caffe

@test "filters: the size the man page gives, both blocks, each kernel stretched on its own" {
    small_model
    alexnet-import -q --caffe model.caffemodel -o model.anet
    run_split alexnet-filters -m model.anet -o conv1.png
    assert_status 0
    [ -z "$out" ] || fail "stdout: $out"
    # 16 kernels, 8 a tower, 8 columns: w = 2*2 + 8*44 + 7*2, h = 2*2 + 2*44 + 8
    assert_contains "$err" "wrote conv1.png: 370x100, 16 kernels of 11x11 in two blocks, a tower each"
    $PY - <<'PY' || fail "the picture"
import numpy as np
from PIL import Image
im = np.asarray(Image.open("conv1.png").convert("RGB")).astype(int)
assert im.shape == (100, 370, 3), im.shape
assert im.std() > 10, "constant"
w = np.load("weights.npz")["conv1.weight"]           # 16 x 3 x 11 x 11, B, G, R
for i in range(16):
    t, j = divmod(i, 8)
    x, y = 2 + j * 46, 2 + t * (44 + 8)
    cell = im[y:y + 44:4, x:x + 44:4]               # a pixel a weight (scale 4)
    k = w[i][::-1].transpose(1, 2, 0)               # R, G, B
    want = np.round((k - k.min()) / (k.max() - k.min()) * 255)
    assert np.abs(cell - want).max() <= 1, (i, np.abs(cell - want).max())
# the gaps white, the gap between the towers wider
assert (im[46:52, :] == 255).all() and (im[:, 0:2] == 255).all()
PY
    run_split alexnet-filters -m model.anet -o big.png --scale 2 --columns 5 -q
    assert_status 0
    [ -z "$err" ] || fail "stderr with -q: $err"
    # scale 2: kernels of 22, 1 apart, 4 between the blocks; 5 columns, 2 rows a tower
    size=$($PY -c "from PIL import Image; print(*Image.open('big.png').size)")
    [ "$size" = "116 96" ] || fail "big.png is $size"
}

@test "filters: one tower is one block; the paper's network is 738 x 284" {
    alexnet-synth -q --classes 2 --train 4 --val 1 -o synth > /dev/null
    alexnet-prep -q --resize 72 synth/train -o train.lmdb > /dev/null
    alexnet-stats -q train.lmdb -o stats > /dev/null
    alexnet-train -q --train train.lmdb --stats stats -o run --crop 67 --towers 1 \
        --conv 10,16,16,16,16 --fc 32,32 --batch 4 --max-iter 1 --lr-policy fixed > /dev/null
    run_split alexnet-filters -m run/ckpt-00000001.anet -o one.png --columns 4
    assert_status 0
    # 10 kernels, 4 a row, 3 rows: w = 4 + 4*44 + 3*2, h = 4 + 3*44 + 2*2
    assert_contains "$err" "wrote one.png: 186x140, 10 kernels of 11x11"
    $PY "$CAFFE" model full.caffemodel --full --seed 3
    alexnet-import -q --caffe full.caffemodel -o full.anet
    run_split alexnet-filters -m full.anet -o full.png
    assert_status 0
    assert_contains "$err" "wrote full.png: 738x284, 96 kernels of 11x11 in two blocks"
}

@test "filters: refusals: options, an existing picture, a damaged model" {
    run_split alexnet-filters -o x.png
    assert_usage_error
    run_split alexnet-filters -m x.anet
    assert_usage_error
    run_split alexnet-filters -m x.anet -o x.png --scale 0
    assert_usage_error
    small_model
    alexnet-import -q --caffe model.caffemodel -o model.anet
    echo keep > conv1.png
    run_split alexnet-filters -m model.anet -o conv1.png
    assert_status 1
    assert_contains "$err" "'conv1.png' exists (use --force to overwrite)"
    [ "$(cat conv1.png)" = keep ] || fail "touched"
    run_split alexnet-filters -m model.anet -o model.anet --force
    assert_usage_error
    assert_contains "$err" "-o 'model.anet' is the same file as -m 'model.anet'"
    run_split alexnet-filters -m model.anet -o conv1.png --force -q
    assert_status 0
    head -c 1000 model.anet > cut.anet
    run_split alexnet-filters -m cut.anet -o cut.png
    assert_status 1
    assert_contains "$err" "'cut.anet': truncated checkpoint"
    [ ! -e cut.png ] || fail "a picture was written"
}
