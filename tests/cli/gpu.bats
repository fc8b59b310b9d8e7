#!/usr/bin/env bats
# The tools on the GPU against the same tools on the CPU: training losses, checkpoints
# that move between devices, fine-tuning, evaluation, prediction and features. Skipped
# without a GPU (make check-gpu sets ANET_REQUIRE_GPU=1 and turns that into a failure).
#
# Tolerances: fp32 on the GPU is the paper's arithmetic summed in other orders, so the
# losses of the first 20 steps agree to 1e-3 relative and evaluation to 1e-4; tf32 and
# bf16 are held to 5e-2 of the fp32 losses.

load helper

NET=(--crop 67 --conv 16,32,32,32,32 --fc 64,64)

setup_file() {
    have_gpu || return 0
    cd "$BATS_FILE_TMPDIR" || return 1
    PATH="$ANET_BIN:$PATH"
    alexnet-synth -q --classes 4 --train 100 --val 25 --size 72-96 --seed 3 -o synth >/dev/null
    alexnet-prep -q --resize 72 synth/train -o train.lmdb >/dev/null
    alexnet-prep -q --resize 72 synth/val -o val.lmdb >/dev/null
    alexnet-stats -q train.lmdb -o stats >/dev/null
    alexnet-train -q --train train.lmdb --val val.lmdb --stats stats "${NET[@]}" -j 2 -o m \
        --batch 16 --epochs 4 --init-std 0.05 --init-bias 0.1 --lr 0.02 > /dev/null
    cp m/best.anet m.anet
}

D() { echo "$BATS_FILE_TMPDIR/$1"; }

train() {
    alexnet-train --train "$(D train.lmdb)" --stats "$(D stats)" "${NET[@]}" -j 2 --batch 16 \
        --init-std 0.05 --init-bias 0.1 --lr 0.02 --lr-policy fixed --seed 5 --log-every 1 -q "$@"
}

# losses FILE: the loss column of the training rows
losses() { awk -F'\t' '$1 == "train" { print $5 }' "$1"; }

# close A B TOL: the two files of numbers agree line by line within TOL relative
close() {
    paste "$1" "$2" | awk -v tol="$3" '
        { n++; d = $1 - $2; if (d < 0) d = -d; m = $2 < 0 ? -$2 : $2; if (m < 1e-30) m = 1e-30
          if (d / m > worst) worst = d / m }
        END { printf "%d rows, worst rel diff %.3g\n", n, worst; exit !(n > 0 && worst <= tol) }'
}

@test "gpu: 20 training steps in fp32 follow the CPU's losses from the same seed" {
    need_gpu
    train -o cpu --max-iter 20 > cpu.tsv
    train -o gpu --max-iter 20 --device cuda > gpu.tsv
    losses cpu.tsv > c.txt
    losses gpu.tsv > g.txt
    [ "$(wc -l < c.txt)" -eq 20 ] || fail "$(cat cpu.tsv)"
    close g.txt c.txt 1e-3 || fail "losses differ: $(paste g.txt c.txt)"
}

@test "gpu: a run moves CPU -> GPU -> CPU through its checkpoints and follows the CPU's" {
    need_gpu
    train -o a --max-iter 21 > a.tsv
    train -o b --max-iter 7 > b.tsv
    alexnet-train -q -j 2 --resume b --max-iter 14 --log-every 1 --device cuda >> b.tsv
    alexnet-train -q -j 2 --resume b --max-iter 21 --log-every 1 >> b.tsv
    losses a.tsv > a.txt
    losses b.tsv > b.txt
    [ "$(wc -l < b.txt)" -eq 21 ] || fail "$(cat b.tsv)"
    close b.txt a.txt 1e-3 || fail "losses differ: $(paste b.txt a.txt)"
}

@test "gpu: tf32 and bf16 train close to fp32" {
    need_gpu
    train -o f --max-iter 10 --device cuda > f.tsv
    losses f.tsv > f.txt
    for p in tf32 bf16; do
        train -o "$p" --max-iter 10 --device cuda --precision "$p" > "$p.tsv"
        losses "$p.tsv" > "$p.txt"
        close "$p.txt" f.txt 5e-2 || fail "$p: $(paste "$p.txt" f.txt)"
    done
}

@test "gpu: alexnet-eval gives the CPU's numbers, one crop and ten" {
    need_gpu
    for crops in 1 10; do
        ev=(alexnet-eval -m "$(D m.anet)" --data "$(D val.lmdb)" --stats "$(D stats)" -j 2 --crops "$crops")
        c=$("${ev[@]}" | grep -v '^#')
        g=$("${ev[@]}" --device cuda | grep -v '^#')
        # the error rates must be equal; the loss within 1e-4
        [ "$(echo "$c" | cut -f1-5)" = "$(echo "$g" | cut -f1-5)" ] || fail "crops $crops: cpu '$c' gpu '$g'"
        echo "$c" | cut -f6 > c.txt
        echo "$g" | cut -f6 > g.txt
        close g.txt c.txt 1e-4 || fail "crops $crops: cpu '$c' gpu '$g'"
    done
}

@test "gpu: alexnet-predict ranks as on the CPU" {
    need_gpu
    imgs=$(find "$(D synth)/val" -name '*.JPEG' | sort | head -8)
    pr=(alexnet-predict -m "$(D m.anet)" --stats "$(D stats)" -j 2 -k 3)
    c=$(echo "$imgs" | "${pr[@]}")
    g=$(echo "$imgs" | "${pr[@]}" --device cuda)
    [ "$(echo "$c" | cut -f1-3)" = "$(echo "$g" | cut -f1-3)" ] || fail "cpu:\n$c\ngpu:\n$g"
}

# The towers on two lanes (--gpus 0,0: two streams of GPU 0, exchanging at conv3, fc6, fc7
# and fc8 through the code that two GPUs run) against both towers on one: the same sums in
# other orders, so 1e-4; against the CPU 1e-3 as above.
# conv PATH: the conv layers' tensors of a checkpoint as exported bytes, for comparing
conv_bytes() {
    alexnet-export -q "$1" -o "$2.safetensors" --force
    /usr/bin/python3 - "$2.safetensors" <<'PY'
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for k in sorted(h):
    if k.startswith("conv"):
        s, e = h[k]["data_offsets"]
        print(k, hashlib.sha256(b[8 + n + s:8 + n + e]).hexdigest())
PY
}

@test "gpu: fine-tuning keeps frozen layers bit for bit and follows the CPU's losses" {
    need_gpu
    for dev in cpu cuda; do
        alexnet-train -q -j 2 --init-from "$(D m.anet)" --freeze conv1..conv5 --lr-mult fc8=10 \
            --train "$(D train.lmdb)" --stats "$(D stats)" --batch 16 --lr 0.02 --lr-policy fixed \
            --seed 5 --log-every 1 --max-iter 10 --device "$dev" -o "ft-$dev" > "ft-$dev.tsv"
        losses "ft-$dev.tsv" > "ft-$dev.txt"
        conv_bytes "ft-$dev/ckpt-00000010.anet" "$dev" > "$dev.conv"
    done
    conv_bytes "$(D m.anet)" m > m.conv
    diff m.conv cuda.conv || fail "the GPU changed a frozen layer"
    diff m.conv cpu.conv || fail "the CPU changed a frozen layer"
    close ft-cuda.txt ft-cpu.txt 1e-3 || fail "losses differ: $(paste ft-cuda.txt ft-cpu.txt)"
}

@test "gpu: alexnet-features gives the CPU's vectors, one GPU and a tower a stream" {
    need_gpu
    f=(alexnet-features -q -m "$(D m.anet)" --stats "$(D stats)" -j 2 --data "$(D val.lmdb)")
    "${f[@]}" -o cpu.npy
    "${f[@]}" -o gpu.npy --device cuda
    "${f[@]}" -o two.npy --device cuda --gpus 0,0
    "${f[@]}" -o pool.npy --device cuda --gpus 0,0 --layer pool2 --crops 10
    "${f[@]}" -o cpool.npy --layer pool2 --crops 10
    cmp cpu.keys.tsv gpu.keys.tsv || fail "keys differ"
    /usr/bin/python3 -c "
import numpy as np
c = np.load('cpu.npy')
for other in ('gpu.npy', 'two.npy'):
    e = np.abs(np.load(other) - c).max() / np.abs(c).max()
    assert e < 1e-4, (other, e)
c = np.load('cpool.npy')
e = np.abs(np.load('pool.npy') - c).max() / np.abs(c).max()
assert e < 1e-4, ('pool2, ten crops', e)"
}

@test "gpu: --gpus 0,0 trains as --gpus 0 and as the CPU" {
    need_gpu
    train -o one --max-iter 20 --device cuda > one.tsv
    train -o two --max-iter 20 --device cuda --gpus 0,0 > two.tsv
    train -o cpu --max-iter 20 > cpu.tsv
    losses one.tsv > 1.txt
    losses two.tsv > 2.txt
    losses cpu.tsv > c.txt
    [ "$(wc -l < 2.txt)" -eq 20 ] || fail "$(cat two.tsv)"
    close 2.txt 1.txt 1e-4 || fail "two lanes vs one: $(paste 2.txt 1.txt)"
    close 2.txt c.txt 1e-3 || fail "two lanes vs the CPU: $(paste 2.txt c.txt)"
}

@test "gpu: a run on two lanes resumes on the CPU and on one lane, and its losses go on" {
    need_gpu
    train -o a --max-iter 21 > a.tsv
    train -o b --max-iter 7 --device cuda --gpus 0,0 > b.tsv
    alexnet-train -q -j 2 --resume b --max-iter 14 --log-every 1 >> b.tsv
    alexnet-train -q -j 2 --resume b --max-iter 21 --log-every 1 --device cuda --gpus 0,0 >> b.tsv
    losses a.tsv > a.txt
    losses b.tsv > b.txt
    [ "$(wc -l < b.txt)" -eq 21 ] || fail "$(cat b.tsv)"
    close b.txt a.txt 1e-3 || fail "losses differ: $(paste b.txt a.txt)"
}

@test "gpu: alexnet-eval and alexnet-predict on two lanes give the CPU's numbers" {
    need_gpu
    ev=(alexnet-eval -m "$(D m.anet)" -m "$(D m.anet)" --data "$(D val.lmdb)" --stats "$(D stats)" -j 2 --crops 10)
    c=$("${ev[@]}" | grep -v '^#')
    g=$("${ev[@]}" --device cuda --gpus 0,0 | grep -v '^#')
    [ "$(echo "$c" | cut -f1-5)" = "$(echo "$g" | cut -f1-5)" ] || fail "cpu '$c' gpu '$g'"
    imgs=$(find "$(D synth)/val" -name '*.JPEG' | sort | head -8)
    pr=(alexnet-predict -m "$(D m.anet)" --stats "$(D stats)" -j 2 -k 3)
    c=$(echo "$imgs" | "${pr[@]}")
    g=$(echo "$imgs" | "${pr[@]}" --device cuda --gpus 0,0)
    [ "$(echo "$c" | cut -f1-3)" = "$(echo "$g" | cut -f1-3)" ] || fail "cpu:\n$c\ngpu:\n$g"
}

@test "gpu: the paper's placement, a tower on each of two GPUs" {
    need_gpu
    [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ] || skip "one GPU: --gpus 0,1 needs two"
    train -o one --max-iter 10 --device cuda > one.tsv
    train -o pair --max-iter 10 --device cuda --gpus 0,1 > pair.tsv
    losses one.tsv > 1.txt
    losses pair.tsv > 2.txt
    close 2.txt 1.txt 1e-4 || fail "GPUs 0 and 1 vs GPU 0: $(paste 2.txt 1.txt)"
}

@test "gpu: a one-tower network cannot be split, and says why" {
    need_gpu
    run_split train -o t1 --max-iter 2 --device cuda --gpus 0,0 --towers 1
    assert_status 1
    assert_contains "$err" "need the two-tower network"
}

@test "gpu: a bad GPU number is refused with the reason" {
    need_gpu
    run_split alexnet-predict -m "$(D m.anet)" --stats "$(D stats)" --device cuda --gpus 63
    assert_status 1
    assert_contains "$err" "CUDA device 63 does not exist"
}
