#!/usr/bin/env bats
# alexnet-predict: the same answers as alexnet-prep + alexnet-eval, paths from arguments
# or a stream, both output forms, bad images, and the refusals.

load helper
load models

setup_file() { make_models; }

pr() { alexnet-predict --stats "$(D stats)" -j 2 "$@"; }

@test "predict: agrees with alexnet-prep + alexnet-eval on the same images" {
    for crops in 1 10; do
        alexnet-eval -m "$(D a.anet)" --data "$(D val.lmdb)" --stats "$(D stats)" \
            --crops $crops --per-image per.tsv --force > /dev/null
        # the database keys are 00000000_<path under synth/val>
        (cd "$(D synth/val)" && find . -name '*.JPEG' | sed 's|^\./||' | sort) |
            sed "s|^|$(D synth/val)/|" | pr -m "$(D a.anet)" --crops $crops -k 1 > pred.tsv
        [ "$(grep -vc '^#' pred.tsv)" -eq 60 ] || fail "$(cat pred.tsv)"
        awk -F'\t' -v root="$(D synth/val)/" '
            FNR == 1 { f++ } /^#/ { next }
            f == 1 { k = $1; sub(/^[0-9]+_/, "", k); c[k] = $3; p[k] = $4 }
            f == 2 { k = $1; sub(root, "", k)
                     if (!(k in c)) { print "missing " k; bad = 1; next }
                     d = p[k] - $6
                     if ($3 != c[k] || d > 2e-6 || d < -2e-6) { print k, $3, c[k], $6, p[k]; bad = 1 } }
            END { exit bad }' per.tsv pred.tsv || fail "crops $crops: predict and eval disagree"
    done
}

@test "predict: rows by default, one line an image with --format line, -k classes" {
    img=$(ls "$(D synth/val)"/n00000001/*.JPEG | head -1)
    run_split pr -m "$(D a.anet)" "$img"
    assert_status 0
    [ "$(echo "$out" | head -1)" = "$(printf '#path\trank\tclass\twnid\twords\tprob')" ] || fail "$out"
    [ "$(echo "$out" | grep -vc '^#')" -eq 4 ] || fail "4 classes, 4 rows: $out"
    echo "$out" | awk -F'\t' 'NR > 1 { s += $6; if ($2 != NR - 1) exit 1 } END { exit !(s > 0.9999 && s < 1.0001) }' ||
        fail "ranks or probabilities: $out"
    run_split pr -m "$(D a.anet)" -k 2 --format line "$img" "$img"
    assert_status 0
    [ "$(echo "$out" | head -1)" = "$(printf '#path\twnid1\tprob1\twnid2\tprob2')" ] || fail "$out"
    [ "$(echo "$out" | grep -vc '^#')" -eq 2 ] || fail "$out"
    echo "$out" | awk -F'\t' 'NR > 1 && (NF != 5 || $2 !~ /^n0000000[1-4]$/) { exit 1 }' || fail "$out"
}

@test "predict: a bad image in a stream is named, the others answered, exit 1" {
    good=$(ls "$(D synth/val)"/n00000002/*.JPEG | head -2)
    printf 'not an image\n' > bad.JPEG
    head -c 500 $(echo "$good" | head -1) > cut.JPEG
    run_split bash -c "printf '%s\n' $(echo $good | cut -d' ' -f1) bad.JPEG missing.png cut.JPEG $(echo $good | cut -d' ' -f2) |
                       alexnet-predict -m '$(D a.anet)' --stats '$(D stats)' -k 1"
    assert_status 1
    [ "$(echo "$out" | grep -vc '^#')" -eq 2 ] || fail "$out"
    assert_contains "$err" "bad.JPEG"
    assert_contains "$err" "cannot open 'missing.png'"
    assert_contains "$err" "cut.JPEG"
    assert_contains "$err" "3 of 5 images could not be read"
    run_split pr -m "$(D a.anet)" bad.JPEG
    assert_status 1
    assert_contains "$err" "1 of 1 image could not be read"
}

@test "predict: - reads paths from standard input, where it stands among the arguments" {
    a=$(ls "$(D synth/val)"/n00000001/*.JPEG | head -1)
    b=$(ls "$(D synth/val)"/n00000002/*.JPEG | head -1)
    c=$(ls "$(D synth/val)"/n00000003/*.JPEG | head -1)
    pr -m "$(D a.anet)" -k 1 "$a" "$b" "$c" > want.tsv
    run_split bash -c "echo '$b' | alexnet-predict -m '$(D a.anet)' --stats '$(D stats)' -j 2 -k 1 '$a' - '$c'"
    assert_status 0
    [ "$out" = "$(cat want.tsv)" ] || fail "$out"
    run_split bash -c "printf '%s\n' '$a' '$b' '$c' | alexnet-predict -m '$(D a.anet)' --stats '$(D stats)' -j 2 -k 1 -"
    assert_status 0
    [ "$out" = "$(cat want.tsv)" ] || fail "$out"
    # ./- is a file named -
    cp "$a" ./-
    run_split bash -c "alexnet-predict -m '$(D a.anet)' --stats '$(D stats)' -j 2 -k 1 ./- < /dev/null"
    assert_status 0
    [ "$(grep -vc '^#' <<< "$out")" -eq 1 ] || fail "$out"
}

@test "predict: started again with other OpenBLAS kernels (cli_fast_blas), it keeps its name, arguments, and standard input" {
    a=$(ls "$(D synth/val)"/n00000001/*.JPEG | head -1)
    pr -m "$(D a.anet)" -k 1 "$a" > want.tsv
    mkfifo paths
    env -u OPENBLAS_CORETYPE alexnet-predict -m "$(D a.anet)" --stats "$(D stats)" -j 2 -k 1 - \
        < paths > got.tsv 2> err.txt &
    pid=$!
    exec {w}> paths
    # what ps, pgrep and killall see, once it waits on the pipe
    for _ in $(seq 100); do
        [ "$(cat /proc/$pid/wchan 2>/dev/null)" = pipe_read ] && break
        sleep 0.1
    done
    comm=$(cat /proc/$pid/comm)
    args=$(tr '\0' ' ' < /proc/$pid/cmdline)
    echo "$a" >&$w
    exec {w}>&-
    wait $pid || fail "exit $?: $(cat err.txt)"
    [ "$comm" = alexnet-predict ] || fail "the process is named '$comm'"
    [[ "$args" == *"alexnet-predict -m $(D a.anet) --stats $(D stats) -j 2 -k 1 - " ]] || fail "$args"
    [ "$(cat got.tsv)" = "$(cat want.tsv)" ] || fail "$(cat got.tsv)"
}

@test "predict: an empty stream is an error" {
    run_split bash -c "alexnet-predict -m '$(D a.anet)' --stats '$(D stats)' < /dev/null"
    assert_status 1
    assert_contains "$err" "no images"
    [ -z "$out" ] || fail "$out"
}

@test "predict: answers stream out while the input is still open" {
    img=$(ls "$(D synth/val)"/n00000003/*.JPEG | head -1)
    (echo "$img"; sleep 8; echo "$img") | pr -m "$(D a.anet)" -k 1 > out.tsv &
    pid=$!
    for _ in $(seq 60); do
        [ "$(grep -vc '^#' out.tsv)" -ge 1 ] && break
        sleep 0.1
    done
    [ "$(grep -vc '^#' out.tsv)" -eq 1 ] || fail "no answer before the input ended: $(cat out.tsv)"
    wait $pid
    [ "$(grep -vc '^#' out.tsv)" -eq 2 ] || fail "$(cat out.tsv)"
}

@test "predict: the pipeline of the manual page works as shown" {
    run_split bash -o pipefail -c "find '$(D synth/val)' -name '*.JPEG' |
        alexnet-predict -m '$(D a.anet)' --stats '$(D stats)' -j 2 | sort -t\$'\t' -k6 -gr | sed -n 1,3p"
    assert_status 0
    [ "$(echo "$out" | wc -l)" -eq 3 ] || fail "$out"
}

@test "predict: refuses statistics that do not fit the model, and a missing model" {
    mkdir small && alexnet-prep -q --resize 60 "$(D synth/val)" -o small.lmdb &&
        alexnet-stats -q small.lmdb -o small
    run_split alexnet-predict -m "$(D a.anet)" --stats small x.jpg
    assert_status 1
    assert_contains "$err" "3x60x60"
    run_split pr -m nothere.anet x.jpg
    assert_status 1
    assert_contains "$err" "cannot open 'nothere.anet'"
    run_split alexnet-predict --stats s x.jpg
    assert_usage_error
    run_split pr -m "$(D a.anet)" --format csv x.jpg
    assert_usage_error
}
