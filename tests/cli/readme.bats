#!/usr/bin/env bats
# The README's commands: every make target it names exists, every other command it shows
# runs, and the demo does what the README says it shows.

load helper

ROOT="$BATS_TEST_DIRNAME/../.."

# The lines of the README's ```sh blocks, without comments.
readme_commands() {
    awk '/^```sh/ { inb = 1; next } /^```/ { inb = 0 } inb' "$ROOT/README.md" | sed 's/ *#.*//' | grep -v '^$'
}

@test "readme: every make target shown exists (dry run)" {
    n=0
    while read -r cmd; do
        case "$cmd" in
        make*) run_split make -n -C "$ROOT" ${cmd#make} ;;
        *) continue ;;
        esac
        [ "$status" -eq 0 ] || fail "'$cmd' is not a working target: $err"
        n=$((n + 1))
    done < <(readme_commands; grep -o '`make [a-z]*[^`]*`' "$ROOT/README.md" | tr -d '`')
    [ "$n" -ge 4 ] || fail "found only $n make commands"
}

@test "readme: the man commands it shows work" {
    n=0
    while read -r cmd; do
        run_split bash -c "cd '$ROOT' && MANWIDTH=80 $cmd"
        assert_status 0
        [ -n "$out" ] || fail "'$cmd' printed nothing"
        n=$((n + 1))
    done < <(grep -o '`man -l [^`]*`' "$ROOT/README.md" | tr -d '`')
    [ "$n" -ge 2 ] || fail "found only $n man commands"
}

@test "demo: prints the architecture and a falling loss" {
    build=$(cd "$ANET_BIN/.." && pwd)
    [ -x "$build/bench/train_step" ] || make -C "$ROOT" --no-print-directory BUILD="$build" "$build/bench/train_step" >/dev/null
    run_split sh "$ROOT/pipelines/demo.sh" "$build"
    assert_status 0
    assert_contains "$out" "60,965,224     724.41"
    first=$(echo "$out" | awk '/step 0:/ { print $NF }')
    last=$(echo "$out" | awk '/step 9:/ { print $NF }')
    [ -n "$first" ] && [ -n "$last" ] || fail "no losses in: $out"
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 1) }' || fail "loss did not fall: $first -> $last"
    assert_contains "$out" "images/s at batch 16"
}

@test "readme: the tool commands it shows run in order and print what it says" {
    n=0 all=
    while read -r cmd; do
        case "$cmd" in make*) continue ;; esac
        run_split bash -o pipefail -c "${cmd//build\/bin\//$ANET_BIN/}"
        [ "$status" -eq 0 ] || fail "'$cmd' exited $status: $err"
        all="$all$out"
        n=$((n + 1))
    done < <(readme_commands)
    [ "$n" -ge 3 ] || fail "found only $n tool commands"
    [ "$(find synth/train -name '*.JPEG' | wc -l)" -eq 1000 ] || fail "not 1,000 training images"
    [ "$(find synth/val -name '*.JPEG' | wc -l)" -eq 200 ] || fail "not 200 validation images"
    assert_contains "$all" "records	1000"
    assert_contains "$all" "shape	3x256x256	1000"
    assert_contains "$all" "eigval	"
}
