#!/usr/bin/env bats
# --dropout-scale: the paper's form of dropout (kept units as they are while training, every
# unit times 1 - p at test) against inverted dropout (the default). A run trains with it, its
# checkpoint says so, eval and predict multiply by 1 - p (the same probabilities as inverted
# dropout with fc7's and fc8's weights times 1 - p), and --resume keeps it.

load helper

PY=/usr/bin/python3
ST="$BATS_TEST_DIRNAME/safetensors.py"

# A small network that still has the paper's shape; weights wide enough (std 0.1) that the
# probabilities are far from uniform, so that a missing 1 - p shows.
NET=(--crop 67 --conv 16,32,32,32,32 --fc 64,64 --init-std 0.1 --init-bias 0.1)

setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    PATH="$ANET_BIN:$PATH"
    alexnet-synth -q --classes 4 --train 40 --val 12 --size 72-96 --seed 3 -o synth >/dev/null
    alexnet-prep -q --resize 72 synth/train -o train.lmdb >/dev/null
    alexnet-prep -q --resize 72 synth/val -o val.lmdb >/dev/null
    alexnet-stats -q train.lmdb -o stats >/dev/null
}

D() { echo "$BATS_FILE_TMPDIR/$1"; }

# train ARGS...: the small network on the shared data, a fixed learning rate
train() {
    alexnet-train --train "$(D train.lmdb)" --stats "$(D stats)" "${NET[@]}" -j 2 \
        --batch 16 --lr-policy fixed "$@"
}

# probs MODEL: every class's probability of every validation image, "path class prob"
probs() {
    alexnet-predict -m "$1" --stats "$(D stats)" -k 4 $(find "$(D synth/val)" -type f | sort) |
        awk -F'\t' '!/^#/ { print $1, $3, $6 }' | sort
}

# most_apart A B: the largest difference of the probabilities of two probs listings (48
# images, 4 classes each)
most_apart() {
    awk 'NR == FNR { p[$1 " " $2] = $3; next }
         ($1 " " $2) in p { d = $3 - p[$1 " " $2]; if (d < 0) d = -d; if (d > m) m = d; n++ }
         END { if (n != 192) { print "rows " n; exit 1 } printf "%.7f\n", m }' "$1" "$2"
}

@test "dropout: --dropout-scale test trains, and the checkpoint and run.txt say so" {
    run_split train -o paper --max-iter 6 --log-every 1 --dropout-scale test
    assert_status 0
    [ "$(echo "$out" | awk -F'\t' '$1 == "train"' | wc -l)" -eq 6 ] || fail "$out"
    paper=$(echo "$out" | awk -F'\t' '$1 == "train" { print $5; exit }')
    run_split train -o inverted --max-iter 6 --log-every 1
    assert_status 0
    inverted=$(echo "$out" | awk -F'\t' '$1 == "train" { print $5; exit }')
    # the same weights, data and masks in the first step: only the scaling differs
    [ -n "$paper" ] && [ "$paper" != "$inverted" ] ||
        fail "the paper's form trained as inverted dropout does (first loss $paper)"
    run_split alexnet-info paper/ckpt-00000006.anet
    assert_status 0
    assert_contains "$out" "$(printf 'dropout\t0.5 on fc6, fc7, the paper'"'"'s form: kept units as they are while training, every unit x0.5 at test')"
    assert_contains "$out" "dropout 0.5 (the paper's form: x(1-p) at test)"
    assert_contains "$(cat paper/run.txt)" "$(printf 'dropout 0.5\ndropout_scale test\n')"
    run_split alexnet-info inverted/ckpt-00000006.anet
    assert_contains "$out" "$(printf 'dropout\t0.5 on fc6, fc7, inverted: kept units x2 while training, nothing at test')"
    # the default writes no dropout_scale, so that its checkpoints are what they were
    ! grep -q dropout_scale inverted/run.txt || fail "$(cat inverted/run.txt)"
    ! grep -aq dropout_scale inverted/ckpt-00000006.anet || fail "dropout_scale in a default checkpoint"
    grep -aq 'dropout_scale test' paper/ckpt-00000006.anet || fail "no dropout_scale in the CONF"
}

@test "dropout: eval and predict multiply by 1 - p: the inverted network with fc7, fc8 x(1-p)" {
    train -q -o paper --max-iter 6 --dropout-scale test --dropout 0.4 > /dev/null
    m=paper/ckpt-00000006.anet
    # the same weights as an ordinary network: fc7.weight and fc8.weight times 1 - p, the
    # configuration without dropout_scale; and, to show the 1 - p matters, as they are
    alexnet-export -q "$m" -o paper.safetensors
    $PY "$ST" inverted paper.safetensors same.safetensors
    $PY "$ST" inverted paper.safetensors unscaled.safetensors 1
    alexnet-import -q same.safetensors -o same.anet
    alexnet-import -q unscaled.safetensors -o unscaled.anet
    run_split alexnet-info same.anet
    assert_contains "$out" "$(printf 'dropout\t0.4 on fc6, fc7, inverted')"
    probs "$m" > paper.txt
    probs same.anet > same.txt
    probs unscaled.anet > unscaled.txt
    d=$(most_apart paper.txt same.txt)
    awk -v d="$d" 'BEGIN { exit !(d <= 1e-5) }' || fail "predict: probabilities $d apart"
    d=$(most_apart paper.txt unscaled.txt)
    awk -v d="$d" 'BEGIN { exit !(d > 1e-3) }' || fail "without 1 - p only $d apart: a weak test"
    # eval: every image's probabilities, and the loss
    for x in "$m" same.anet; do
        alexnet-eval -q -m "$x" --data "$(D val.lmdb)" --stats "$(D stats)" \
            --per-image "$(basename "$x").tsv" > "$(basename "$x").eval"
    done
    # key, label, then class and probability four times: the same classes, and
    # probabilities within 1e-5
    paste <(grep -v '^#' ckpt-00000006.anet.tsv) <(grep -v '^#' same.anet.tsv) |
        awk -F'\t' '{ h = NF / 2; if (h != 10 || $1 != $(1 + h)) bad++
                      for (i = 2; i <= h; i++) { d = $i - $(i + h); if (d < 0) d = -d
                                                 if (d > 1e-5) bad++ }
                      n++ }
                    END { exit !(n == 48 && !bad) }' ||
        fail "eval --per-image differs: $(paste ckpt-00000006.anet.tsv same.anet.tsv)"
    loss() { grep -v '^#' "$1" | cut -f6; }
    awk -v a="$(loss ckpt-00000006.anet.eval)" -v b="$(loss same.anet.eval)" \
        'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-5) }' ||
        fail "eval loss $(loss ckpt-00000006.anet.eval) vs $(loss same.anet.eval)"
}

@test "dropout: --resume keeps --dropout-scale test and refuses to change it" {
    train -q -o a --max-iter 8 --log-every 1 --dropout-scale test > a.tsv
    train -q -o b --max-iter 3 --log-every 1 --dropout-scale test > b.tsv
    alexnet-train -q -j 2 --resume b --max-iter 8 --log-every 1 >> b.tsv
    # a resumed run that lost the setting would train as inverted dropout from step 4 on
    [ "$(grep -v '^#' a.tsv | cut -f1-8)" = "$(grep -v '^#' b.tsv | cut -f1-8)" ] ||
        fail "resumed: $(cat b.tsv) uninterrupted: $(cat a.tsv)"
    grep -aq 'dropout_scale test' b/ckpt-00000008.anet || fail "the resumed checkpoint lost it"
    run_split alexnet-train -j 2 --resume b --dropout-scale train
    assert_status 2
    assert_contains "$err" "--dropout-scale train contradicts the checkpoint"
    run_split alexnet-train -q -j 2 --resume b --dropout-scale test --max-iter 9
    assert_status 0
    train -q -o c --max-iter 2 > /dev/null
    run_split alexnet-train -j 2 --resume c --dropout-scale test
    assert_status 2
    assert_contains "$err" "--dropout-scale test contradicts the checkpoint"
}

@test "dropout: fine-tuning weights of one form with the other warns of the factor; the same form is quiet" {
    train -q -o inv --max-iter 2 > /dev/null
    run_split train -o ft --init-from inv/ckpt-00000002.anet --max-iter 1 --dropout-scale test
    assert_status 0
    assert_contains "$err" "warning: '"
    assert_contains "$err" "was trained with inverted dropout and this run uses the paper's form: at test time fc6's and fc7's outputs are multiplied by 0.5"
    run_split train -o ft2 --init-from ft/ckpt-00000001.anet --max-iter 1 --dropout-scale train
    assert_status 0
    assert_contains "$err" "multiplied by 2 until training adapts fc7 and fc8"
    run_split train -o ft3 --init-from inv/ckpt-00000002.anet --max-iter 1
    assert_status 0
    [[ "$err" != *"was trained with"* ]] || fail "warned: $err"
}

@test "dropout: --dropout-scale takes train or test; alexnet-info shows the form" {
    run_split alexnet-info --dropout-scale paper
    assert_usage_error
    assert_contains "$err" "--dropout-scale: expected train or test, got 'paper'"
    run_split alexnet-train --train t --stats s -o r --dropout-scale
    assert_usage_error
    run_split alexnet-info --dropout-scale test
    assert_status 0
    assert_contains "$out" "dropout 0.5 (the paper's form: x(1-p) at test)"
    run_split alexnet-info --dropout-scale train
    assert_status 0
    [ "$(echo "$out" | head -1)" = "$(alexnet-info | head -1)" ] || fail "$out"
}
