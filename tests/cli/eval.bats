#!/usr/bin/env bats
# alexnet-eval: the top-1/top-5 arithmetic, crops, ensembles, per-image and per-class
# output, and every refusal.

load helper
load models

setup_file() { make_models; }

ev() { alexnet-eval --data "$(D val.lmdb)" --stats "$(D stats)" -j 2 "$@"; }

# recount PER_IMAGE: top-1 and top-5 error recomputed from the per-image file
recount() {
    awk -F'\t' '!/^#/ { n++; if ($3 != $2) e1++; hit = 0
                        for (i = 3; i <= NF; i += 2) if ($i == $2) hit = 1
                        if (!hit) e5++ }
                END { printf "%d\t%.6f\t%.6f\n", n, e1 / n, e5 / n }' "$1"
}

@test "eval: the summary is the top-1/top-5 arithmetic of the per-image lines" {
    for m in a b z; do
        run_split ev -m "$(D $m.anet)" --per-image per.tsv --force
        assert_status 0
        [ "$(echo "$out" | head -1 | cut -f1-3)" = "$(printf '#images\ttop1_err\ttop5_err')" ] || fail "$out"
        [ "$(echo "$out" | tail -1 | cut -f1-3)" = "$(recount per.tsv)" ] ||
            fail "model $m: summary $(echo "$out" | tail -1) vs recount $(recount per.tsv)"
        [ "$(grep -vc '^#' per.tsv)" -eq 60 ] || fail "$(wc -l < per.tsv) lines"
    done
    # the zero model ties everywhere: ties go to the lower class, in every column
    run_split ev -m "$(D z.anet)" --per-image per.tsv --force
    awk -F'\t' '!/^#/ && ($3 != 0 || $5 != 1 || $7 != 2 || $9 != 3 || $4 != "0.250000") { exit 1 }' per.tsv ||
        fail "ties: $(head -3 per.tsv)"
    [ "$(echo "$out" | tail -1 | cut -f2,3)" = "$(printf '0.750000\t0.000000')" ] || fail "$out"
}

@test "eval: one crop gives the numbers of alexnet-train's last validation" {
    run_split ev -m "$(D a.anet)" --batch 16   # as training validated: the same arithmetic
    assert_status 0
    want=$(awk -F'\t' '$1 == "val" { v = $6 "\t" $5 } END { print v }' "$(D a.tsv)")
    got=$(echo "$out" | tail -1 | awk -F'\t' '{ print $2 "\t" $6 }')
    [ "$got" = "$want" ] || fail "eval $got, train $want"
}

@test "eval: ten crops; an ensemble of a model with itself is the model; two models average" {
    run_split ev -m "$(D a.anet)" --crops 10 --per-image a.tsv
    assert_status 0
    [ "$(echo "$out" | tail -1 | cut -f7,8)" = "$(printf '10\t1')" ] || fail "$out"
    one=$(echo "$out" | tail -1 | cut -f1-7)
    run_split ev -m "$(D a.anet)" -m "$(D a.anet)" --crops 10
    [ "$(echo "$out" | tail -1 | cut -f1-7)" = "$one" ] || fail "a+a: $out vs $one"
    ev -m "$(D b.anet)" --crops 10 --per-image b.tsv > /dev/null
    ev -m "$(D a.anet)" -m "$(D b.anet)" --crops 10 --per-image ab.tsv > /dev/null
    # every class's probability (4 classes: all are listed) is the mean of the two models'
    probs() { awk -F'\t' '!/^#/ { for (i = 3; i <= NF; i += 2) p[$1 "\t" $i] = $(i + 1) }
                          END { for (k in p) print k "\t" p[k] }' "$1" | sort; }
    join -t $'\t' <(probs a.tsv | sed 's/\t/|/') <(probs b.tsv | sed 's/\t/|/') |
        join -t $'\t' - <(probs ab.tsv | sed 's/\t/|/') |
        awk -F'\t' '{ d = ($2 + $3) / 2 - $4; if (d > 2e-6 || d < -2e-6) { print; bad = 1 } }
                    END { exit bad }' || fail "the ensemble is not the average"
    [ "$(probs ab.tsv | wc -l)" -eq 240 ] || fail "$(probs ab.tsv | wc -l) probabilities"
}

@test "eval: --per-class adds a table whose counts add up" {
    run_split ev -m "$(D a.anet)" --per-class
    assert_status 0
    echo "$out" | grep -q "^#class" || fail "$out"
    total=$(echo "$out" | awk -F'\t' 'f && !/^#/ { n += $3; h += $3 * $4 } /^#class/ { f = 1 }
                                      END { printf "%d %.6f", n, h / n }')
    acc=$(echo "$out" | sed -n 2p | awk -F'\t' '{ printf "%d %.6f", $1, $4 }')
    [ "$total" = "$acc" ] || fail "per-class $total vs summary $acc"
    assert_contains "$out" "n00000004"
}

@test "eval: refuses a missing or truncated checkpoint" {
    run_split ev -m nothere.anet
    assert_status 1
    assert_contains "$err" "cannot open 'nothere.anet'"
    head -c 100000 "$(D a.anet)" > cut.anet
    run_split ev -m cut.anet
    assert_status 1
    assert_contains "$err" "cut.anet"
    assert_contains "$err" "truncated"
    [ -z "$out" ] || fail "stdout: $out"
}

@test "eval: refuses models whose classes differ from each other or from the database" {
    alexnet-synth -q --classes 3 --train 4 --val 2 --size 72 --seed 4 -o other
    alexnet-prep -q --resize 72 other/train -o other.lmdb
    alexnet-stats -q other.lmdb -o ostats
    alexnet-train -q -j 2 --train other.lmdb --stats ostats "${NET[@]}" -o o --batch 4 \
        --lr-policy fixed --max-iter 1
    run_split ev -m "$(D a.anet)" -m o/ckpt-00000001.anet
    assert_status 1
    assert_contains "$err" "'o/ckpt-00000001.anet' has 3 classes but"
    run_split alexnet-eval -m o/ckpt-00000001.anet --data "$(D val.lmdb)" --stats ostats
    assert_status 1
    assert_contains "$err" "the class table of '$(D val.lmdb)' (4 classes) differs from the model's"
}

@test "eval: refuses statistics of another image size" {
    alexnet-prep -q --resize 80 "$(D synth/val)" -o big.lmdb
    alexnet-stats -q big.lmdb -o bigstats
    run_split alexnet-eval -m "$(D a.anet)" --data "$(D val.lmdb)" --stats bigstats
    assert_status 1
    assert_contains "$err" "the mean image is 3x80x80"
}

@test "eval: usage errors" {
    run_split alexnet-eval --data x --stats y
    assert_usage_error
    assert_contains "$err" "-m CKPT is required"
    run_split alexnet-eval -m x --stats y
    assert_usage_error
    run_split alexnet-eval -m x --data y --stats z --crops 5
    assert_usage_error
    if ! have_gpu; then
        run_split ev -m "$(D a.anet)" --device cuda
        assert_no_gpu_refusal
    fi
}

@test "eval: --per-image is refused over an existing file without --force, and is whole" {
    echo keep > per.tsv
    run_split ev -m "$(D a.anet)" --per-image per.tsv
    assert_status 1
    assert_contains "$err" "'per.tsv' exists (use --force to overwrite)"
    [ "$(cat per.tsv)" = keep ] || fail "per.tsv was touched"
    run_split ev -m nothere.anet --per-image new.tsv
    assert_status 1
    [ ! -e new.tsv ] || fail "a failed run left new.tsv"
    run_split ev -m "$(D a.anet)" --per-image per.tsv --force
    assert_status 0
    [ "$(grep -vc '^#' per.tsv)" -eq 60 ] || fail "$(cat per.tsv)"
    [ -z "$(ls | grep tmp)" ] || fail "temporary files left: $(ls)"
}

@test "eval: --loader-threads changes nothing but the speed" {
    a=$(ev -m "$(D a.anet)" --crops 10 | grep -v '^#' | cut -f1-8)
    b=$(ev -m "$(D a.anet)" --crops 10 --loader-threads 5 | grep -v '^#' | cut -f1-8)
    [ "$a" = "$b" ] || fail "2 threads: $a; 5 threads: $b"
    run_split ev -m "$(D a.anet)" --loader-threads 0
    assert_usage_error
}
