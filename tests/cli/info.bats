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
