#!/usr/bin/env bats
# The manual: every page renders without a warning (man and groff), every page in section 1
# has the same sections and documents exactly the options of its tool's --help, and every
# example command in a page's EXAMPLES section runs and succeeds exactly as shown.

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
            # head may close the pipe while the stage before it still writes (SIGPIPE)
            [[ "$status" -eq 141 && "$cmd" == *"| head"* ]] && status=0
            [ "$status" -eq 0 ] || fail "$p: '$cmd' exited $status: $err"
            all="$all$out"
            n=$((n + 1))
        done < <(man_examples "$p")
        [ -n "$all" ] || fail "$p: the examples printed nothing"
    done
    [ "$n" -gt 0 ] || fail "no examples found"
}

@test "man: a checkpoint shown in a run directory has a name alexnet-train gives" {
    n=0
    while read -r f; do
        [[ "$(basename "$f")" =~ ^(best|ckpt-[0-9]{8})\.anet$ ]] || fail "a checkpoint alexnet-train never writes: $f"
        n=$((n + 1))
    done < <(cat "$MAN"/man*/* "$MAN/../README.md" | sed 's/\\-/-/g' | grep -o '[A-Za-z0-9_.-]*/[A-Za-z0-9_.-]*\.anet')
    [ "$n" -ge 5 ] || fail "found only $n"
}

@test "man: the example of alexnet-info(1) prints the one-tower parameter count" {
    cmd=$(man_examples "$MAN/man1/alexnet-info.1" | grep -- '--towers 1')
    run_split bash -o pipefail -c "$cmd"
    assert_status 0
    [ "$out" = 58322314 ] || fail "got $out"
}

# groff -man -ww -z: every troff warning, on groff's default device (PostScript). The
# tables go through tbl on the terminal device as man(1) renders them; on the PostScript
# device tbl warns whenever a row happens to fall at the foot of a page.
@test "man: every page passes groff -man -ww -z without a warning" {
    command -v groff >/dev/null || fail "groff is not installed (Debian: groff-base)"
    for p in "$MAN"/man*/*.[157]; do
        w=$(LC_ALL=C.UTF-8 groff -man -ww -z "$p" 2>&1)
        [ -z "$w" ] || fail "$p: groff -man -ww -z: $w"
        w=$(LC_ALL=C.UTF-8 groff -t -man -Tutf8 -ww -z "$p" 2>&1)
        [ -z "$w" ] || fail "$p: groff -t -man -Tutf8 -ww -z: $w"
    done
}

@test "man: every page in section 1 has the sections NAME to SEE ALSO, in order" {
    want="NAME|SYNOPSIS|DESCRIPTION|OPTIONS|FILES|ENVIRONMENT|EXIT STATUS|EXAMPLES|SEE ALSO"
    for p in "$MAN"/man1/*.1; do
        got=$(sed -n 's/^\.SH  *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$p" | paste -sd '|' -)
        [ "$got" = "$want" ] || fail "$(basename "$p"): sections $got; expected $want"
    done
}

# help_options TOOL: the options TOOL --help lists, "-x" and "--name", one a line, sorted:
# the leading words of its lines that begin with a dash after some indentation.
help_options() {
    "$1" --help | awk '/^ +-/ {
        for (i = 1; i <= NF; i++) {
            f = $i
            sub(/,$/, "", f)
            if (f !~ /^--?[A-Za-z0-9]/) break
            print f
        }
    }' | LC_ALL=C sort -u
}

# page_options PAGE: the options the OPTIONS section of PAGE documents, in the same form:
# those in the tag line that follows each .TP (written \-x and \-\-name in the source).
page_options() {
    awk '/^\.SH / { in_opts = ($2 == "OPTIONS"); tag = 0; next }
         in_opts && tag { print }
         { tag = in_opts && /^\.TP/ }' "$1" |
        grep -oE '\\-\\-[A-Za-z0-9]+(\\-[A-Za-z0-9]+)*|\\-[A-Za-z0-9]([^A-Za-z0-9\\-]|$)' |
        sed -e 's/\\-/-/g' -e 's/^\(-[A-Za-z0-9]\).*/\1/' | LC_ALL=C sort -u
}

@test "man: the OPTIONS of every page in section 1 are exactly the options of --help" {
    bad=
    for t in "$ANET_BIN"/alexnet-*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        page="$MAN/man1/$name.1"
        [ -f "$page" ] || { bad="$bad$name: no man page\n"; continue; }
        h=$(help_options "$t")
        m=$(page_options "$page")
        [ -n "$h" ] || { bad="$bad$name: no options found in --help\n"; continue; }
        only_help=$(LC_ALL=C comm -23 <(echo "$h") <(echo "$m") | tr '\n' ' ')
        only_page=$(LC_ALL=C comm -13 <(echo "$h") <(echo "$m") | tr '\n' ' ')
        [ -z "$only_help" ] || bad="$bad$name: in --help but not in OPTIONS of $name.1: $only_help\n"
        [ -z "$only_page" ] || bad="$bad$name: in OPTIONS of $name.1 but not in --help: $only_page\n"
    done
    [ -z "$bad" ] || fail "$(printf '%b' "$bad")"
}
