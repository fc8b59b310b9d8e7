#!/usr/bin/env bats
# alexnet-info: the architecture table, its totals, options and bad input.

load helper

@test "info: the paper's network has 60,965,224 parameters and 724.41 M multiply-adds" {
    run_split alexnet-info
    assert_status 0
    total=$(echo "$out" | awk '$1 == "total" { print $2, $3 }')
    [ "$total" = "60,965,224 724.41" ] || fail "total line: $total"
}

@test "info: one row a layer with the paper's output shapes" {
    run_split alexnet-info
    assert_status 0
    shapes=$(echo "$out" | awk '/^(conv|fc)[0-9]/ { printf "%s=%s ", $1, $2 }')
    [ "$shapes" = "conv1=96x55x55 conv2=256x27x27 conv3=384x13x13 conv4=384x13x13 conv5=256x13x13 fc6=4096 fc7=4096 fc8=1000 " ] ||
        fail "shapes: $shapes"
}

@test "info: conv vs fc subtotals answer where the parameters are" {
    run_split alexnet-info
    assert_status 0
    conv=$(echo "$out" | awk '/^convolutional/ { print $3, $4 }')
    fc=$(echo "$out" | awk '/^fully connected/ { print $4, $5 }')
    [ "$conv" = "2,334,080 665.78" ] || fail "conv subtotal: $conv"
    [ "$fc" = "58,631,144 58.62" ] || fail "fc subtotal: $fc"
    assert_contains "$out" "96.2% of parameters"
}

@test "info: groups and tower connectivity are where the paper puts them" {
    run_split alexnet-info --tsv
    assert_status 0
    g=$(echo "$out" | awk -F'\t' '/^(conv|fc)/ { printf "%s:%s:%s ", $1, $6, $7 }')
    [ "$g" = "conv1:1:image conv2:2:own tower conv3:1:both towers conv4:2:own tower conv5:2:own tower fc6:1:both towers fc7:1:both towers fc8:1:both towers " ] ||
        fail "groups: $g"
}

@test "info: --tsv rows add up to the total" {
    run_split alexnet-info --tsv
    assert_status 0
    sums=$(echo "$out" | awk -F'\t' '/^(conv|fc)/ { p += $10; m += $11 } /^total/ { t = $10; tm = $11 } END { print p, t, m, tm }')
    [ "$sums" = "60965224 60965224 724406816 724406816" ] || fail "sums: $sums"
}

@test "info: one tower removes the groups (62,378,344 parameters)" {
    run_split alexnet-info --towers 1
    assert_status 0
    total=$(echo "$out" | awk '$1 == "total" { print $2, $3 }')
    [ "$total" = "62,378,344 1135.26" ] || fail "total: $total"
}

@test "info: --classes changes fc8 only" {
    run_split alexnet-info --classes 10 --tsv
    assert_status 0
    total=$(echo "$out" | awk -F'\t' '/^total/ { print $10 }')
    [ "$total" = 56909194 ] || fail "total: $total"
    fc8=$(echo "$out" | awk -F'\t' '/^fc8/ { print $2 }')
    [ "$fc8" = 10 ] || fail "fc8 width: $fc8"
}

@test "info: ablation switches show in the table" {
    run_split alexnet-info --lrn off --pool plain --act tanh --dropout 0
    assert_status 0
    assert_contains "$out" "LRN off, max-pool 2/2, tanh, dropout 0"
    conv1=$(echo "$out" | awk '$1 == "conv1"')
    assert_contains "$conv1" "tanh, max-pool 2/2 -> 96x27x27"
    case "$out" in *LRN,*) fail "LRN still listed after a layer" ;; esac
}

@test "info: a smaller crop shrinks every map" {
    run_split alexnet-info --crop 99 --tsv
    assert_status 0
    c5=$(echo "$out" | awk -F'\t' '/^conv5/ { print $2 "x" $3 "x" $4 }')
    [ "$c5" = 256x5x5 ] || fail "conv5: $c5"
}

@test "info: zero classes is a usage error" {
    run_split alexnet-info --classes 0
    assert_usage_error
    assert_contains "$err" "--classes: 0 is out of range"
}

@test "info: negative and malformed widths are usage errors" {
    run_split alexnet-info --conv 96,-256,384,384,256
    assert_usage_error
    assert_contains "$err" "--conv: -256 is out of range"
    run_split alexnet-info --fc 4096
    assert_usage_error
    assert_contains "$err" "not a list of 2"
}

@test "info: a crop too small for the network names the smallest that works" {
    run_split alexnet-info --crop 50
    assert_usage_error
    assert_contains "$err" "crop 50 is too small for the network: the smallest that works with pooling 3/2 is 67"
}

@test "info: widths that do not split over the towers are refused" {
    run_split alexnet-info --conv 95,256,384,384,256
    assert_usage_error
    assert_contains "$err" "conv1 width 95 must be even"
    run_split alexnet-info --towers 1 --conv 95,256,384,384,256 --groups 1,1,1,1,1
    assert_status 0
}

@test "info: groups that do not divide the channels are refused" {
    run_split alexnet-info --groups 1,3,1,2,2
    assert_usage_error
    assert_contains "$err" "conv2: groups 3 must divide its 96 input and 256 output channels"
}

@test "info: bad option values are usage errors" {
    for a in "--towers 3" "--pool max" "--act sigmoid" "--lrn maybe" "--dropout 1" "--crop abc"; do
        run_split alexnet-info $a
        assert_usage_error
    done
}

@test "info: a missing option argument is a usage error" {
    run_split alexnet-info --classes
    assert_usage_error
    assert_contains "$err" "needs an argument"
}

@test "info: a missing file or one of an unknown kind is an error naming it" {
    run_split alexnet-info no-such.lmdb
    assert_status 1
    assert_contains "$err" "alexnet-info: cannot open 'no-such.lmdb': No such file or directory"
    echo hello > notes.txt
    run_split alexnet-info notes.txt
    assert_status 1
    assert_contains "$err" "'notes.txt': not a file alexnet-info knows"
}

# make_ckpt FILE [VERSION]: a checkpoint of a small network (5 classes, crop 67, one tower,
# conv 8,16,16,16,16, fc 32,32) with a class table, a training text and momentum, written
# from the layout in alexnet-files(5) by this independent writer.
make_ckpt() {
    /usr/bin/python3 - "$@" <<'PY'
import struct, sys, zlib
conf = ("classes 5\ncrop 67\nchannels 3\ntowers 1\nconv 8 16 16 16 16\ngroups 0 0 0 0 0\n"
        "fc 32 32\nlrn 1\nlrn_size 5\nlrn_k 2\nlrn_alpha 0.0001\nlrn_beta 0.75\npool 3 2\n"
        "act relu\ndropout 0.5\ninit_std 0.01\ninit_bias 1\n")
names = ["n01440764\ttench, Tinca tinca", "n01443537\tgoldfish", "n01484850\t",
         "n01491361\ttiger shark", "n01494475\thammerhead"]
clas = "#index\twnid\twords\n" + "".join("%d\t%s\n" % (i, n) for i, n in enumerate(names))
tran = "epoch 3\nlr 0.001\n"
shapes = [("conv1", [8, 3, 11, 11]), ("conv2", [16, 8, 5, 5]), ("conv3", [16, 16, 3, 3]),
          ("conv4", [16, 16, 3, 3]), ("conv5", [16, 16, 3, 3]), ("fc6", [32, 16]),
          ("fc7", [32, 32]), ("fc8", [5, 32])]
tensors = []
for layer, dims in shapes:
    tensors += [(layer + ".weight", dims), (layer + ".bias", dims[:1])]
tensors += [("momentum." + n, d) for n, d in tensors]
def record(name, dims):
    count = 1
    for d in dims:
        count *= d
    return (struct.pack("<I", len(name)) + name.encode() + struct.pack("<I", len(dims)) +
            struct.pack("<%dI" % len(dims), *dims) + struct.pack("<IQ", 1, count) +
            struct.pack("<%df" % count, *[0.001 * (i % 7) for i in range(count)]))
tens = struct.pack("<I", len(tensors)) + b"".join(record(n, d) for n, d in tensors)
version = int(sys.argv[2]) if len(sys.argv) > 2 else 1
body = b"ANETCKPT" + struct.pack("<II", version, 4)
for tag, payload in [(b"CONF", conf.encode()), (b"CLAS", clas.encode()),
                     (b"TRAN", tran.encode()), (b"TENS", tens)]:
    body += tag + struct.pack("<IQ", 0, len(payload)) + payload
open(sys.argv[1], "wb").write(body + b"ANETEND\0" + struct.pack("<I", zlib.crc32(body)))
PY
}

SMALL="--classes 5 --crop 67 --towers 1 --conv 8,16,16,16,16 --fc 32,32"

@test "info: a checkpoint: format, parameters, classes, training state and its network" {
    make_ckpt model.anet
    run_split alexnet-info model.anet
    assert_status 0
    [ -z "$err" ] || fail "stderr: $err"
    [ "$(echo "$out" | head -1)" = "# model.anet: alexnet checkpoint (alexnet-files(5))" ] ||
        fail "first line: $(echo "$out" | head -1)"
    kv=$(echo "$out" | awk -F'\t' '$1 ~ /^(version|bytes|parameters|momentum|classes)$/ { printf "%s=%s ", $1, $2 }')
    [ "$kv" = "version=1 bytes=$(stat -c %s model.anet) parameters=14853 momentum=yes classes=5 " ] ||
        fail "fields: $kv"
    assert_contains "$out" "$(printf 'class\t0\tn01440764\ttench, Tinca tinca')"
    assert_contains "$out" "$(printf 'class\t4\tn01494475\thammerhead')"
    assert_contains "$out" "$(printf 'train.epoch\t3\ntrain.lr\t0.001')"
    # the network: the same table alexnet-info prints for the configuration's options
    run_split alexnet-info $SMALL
    table=$out
    run_split alexnet-info model.anet
    [ "$(echo "$out" | sed -n '/^# alexnet:/,$p')" = "$table" ] || fail "network table differs"
}

@test "info: --tsv gives a checkpoint's network as the TSV table" {
    make_ckpt model.anet
    run_split alexnet-info --tsv model.anet
    assert_status 0
    assert_contains "$out" "$(printf 'parameters\t14853')"
    run_split alexnet-info --tsv $SMALL
    table=$out
    run_split alexnet-info --tsv model.anet
    [ "$(echo "$out" | sed -n '/^# alexnet:/,$p')" = "$table" ] || fail "TSV table differs"
    fc8=$(echo "$out" | awk -F'\t' '$1 == "fc8" { print $2, $10 }')
    [ "$fc8" = "5 165" ] || fail "fc8: $fc8"
}

@test "info: a checkpoint is known by its magic, not its name" {
    make_ckpt weights.bin
    run_split alexnet-info weights.bin
    assert_status 0
    assert_contains "$out" "# weights.bin: alexnet checkpoint"
}

@test "info: a foreign, truncated or newer file named .anet is refused, naming it" {
    echo hello > x.anet
    run_split alexnet-info x.anet
    assert_status 1
    [ -z "$out" ] || fail "stdout: $out"
    assert_contains "$err" "alexnet-info: 'x.anet': not a file alexnet-info knows"
    make_ckpt whole.anet
    for n in 5 12 100 1000 $(($(stat -c %s whole.anet) - 1)); do
        head -c $n whole.anet > x.anet
        run_split alexnet-info x.anet
        assert_status 1
        [ -z "$out" ] || fail "$n bytes: stdout: $out"
        assert_contains "$err" "alexnet-info: 'x.anet': truncated checkpoint ("
    done
    make_ckpt x.anet 2
    run_split alexnet-info x.anet
    assert_status 1
    assert_contains "$err" "'x.anet': checkpoint format version 2 is not supported (this build reads version 1)"
}
