#!/usr/bin/env bats
# The manual: every page renders, and every example command in a page's EXAMPLES section
# runs and succeeds exactly as shown.

load helper

MAN="$BATS_TEST_DIRNAME/../../man"

# man_examples PAGE: the command lines between .nf and .fi in the EXAMPLES section, with
# the troff escapes \- and \\ undone. A block right after the comment line
# .\" not run: REASON
# is left out (it needs data a test cannot have, such as ImageNet).
man_examples() {
    awk '/^\.SH / { ex = ($2 == "EXAMPLES") }
         ex && /^\.\\" not run:/ { skip = 1 }
         ex && /^\.fi/ { inb = 0; skip = 0 }
         ex && inb && !skip { print }
         ex && /^\.nf/ { inb = 1 }' "$1" |
        sed -e 's/\\-/-/g' -e 's/\\\\/\\/g'
}

@test "man: every page renders without warnings" {
    for p in "$MAN"/man*/*.[157]; do
        w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
        [ -z "$w" ] || fail "$p: $w"
    done
}

@test "man: every example in section 1 runs as shown, in order, and prints something" {
    n=0
    for p in "$MAN"/man1/*.1; do
        mkdir "$TMP/$(basename "$p")" && cd "$TMP/$(basename "$p")"
        all=
        while IFS= read -r cmd; do
            [ -n "$cmd" ] || continue
            run_split bash -o pipefail -c "$cmd"
            [ "$status" -eq 0 ] || fail "$p: '$cmd' exited $status: $err"
            all="$all$out"
            n=$((n + 1))
        done < <(man_examples "$p")
        [ -n "$all" ] || fail "$p: the examples printed nothing"
    done
    [ "$n" -gt 0 ] || fail "no examples found"
}

@test "man: the example of alexnet-info(1) prints the one-tower parameter count" {
    cmd=$(man_examples "$MAN/man1/alexnet-info.1" | grep -- '--towers 1')
    run_split bash -o pipefail -c "$cmd"
    assert_status 0
    [ "$out" = 58322314 ] || fail "got $out"
}
