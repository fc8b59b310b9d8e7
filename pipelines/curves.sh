#!/bin/sh
# curves.sh: the training curves of alexnet-train runs, drawn with gnuplot into a PNG.
#
#   pipelines/curves.sh [-x iter|epoch] [-w IMAGES] TRAIN.tsv OUT.png [TITLE]
#   pipelines/curves.sh -c [-x iter|epoch] [-w IMAGES] [-t ERR] OUT.png TITLE LABEL=TRAIN.tsv...
#
# TRAIN.tsv is what alexnet-train prints on standard output: lines starting with # are
# comments (its header, repeated by each --resume), then rows "phase epoch iter images
# loss top1_err top5_err lr img_s elapsed_s" with phase train or val.
#
# The first form draws one run in two panels: above, the training loss (and the
# validation loss); below, the training top-1 error, the validation top-1 and top-5
# errors and, on a second, logarithmic axis, the learning rate. A run without validation
# rows gets the training curves alone.
# The second form (-c) draws several runs on one plot, one colour a run, LABEL naming it
# in the legend: above their training losses, below their training top-1 errors (thin)
# and validation top-1 errors (points); -t ERR adds a dashed line at that error.
#
#   -x iter|epoch  the horizontal axis: SGD steps (the default) or epochs (fractional,
#                  from the steps an epoch takes, which the rows tell)
#   -w IMAGES      smooth the training rows: each point is the average over the last rows
#                  that hold at least IMAGES training images (0, the default: as logged)
#   -t ERR         (-c only) a horizontal line at top-1 error ERR
#
# The PNG is written to a temporary name beside OUT.png and renamed, so it appears complete
# or not at all; an existing OUT.png is replaced. pngcairo is used when gnuplot has it,
# else gnuplot's png terminal.
# Exit status: 0 done; 1 an input that is missing or holds no rows, gnuplot missing or
# failing; 2 a usage error.
set -u
me=curves.sh

usage() {
    echo "usage: $me [-x iter|epoch] [-w IMAGES] TRAIN.tsv OUT.png [TITLE]" >&2
    echo "       $me -c [-x iter|epoch] [-w IMAGES] [-t ERR] OUT.png TITLE LABEL=TRAIN.tsv..." >&2
    exit 2
}
die() {
    echo "$me: $*" >&2
    exit 1
}
is_number() {
    case $1 in '' | *[!0-9.]* | *.*.*) return 1 ;; esac
}

compare=0 xaxis=iter window=0 threshold=
while getopts cx:w:t: opt; do
    case $opt in
    c) compare=1 ;;
    x) case $OPTARG in iter | epoch) xaxis=$OPTARG ;; *) echo "$me: -x takes iter or epoch, not '$OPTARG'" >&2; usage ;; esac ;;
    w) is_number "$OPTARG" || { echo "$me: -w takes a number of images, not '$OPTARG'" >&2; usage; }; window=$OPTARG ;;
    t) is_number "$OPTARG" || { echo "$me: -t takes an error rate such as 0.25, not '$OPTARG'" >&2; usage; }; threshold=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))

# runs: "LABEL=FILE" words, one a line (labels and files may hold spaces, not newlines)
if [ $compare -eq 0 ]; then
    [ $# -ge 2 ] && [ $# -le 3 ] || usage
    [ -z "$threshold" ] || { echo "$me: -t goes with -c" >&2; usage; }
    name=${1##*/}
    out=$2 title=${3:-${name%.tsv}}
    runs="train=$1"
else
    [ $# -ge 3 ] || usage
    out=$1 title=$2
    shift 2
    runs=
    for r in "$@"; do
        case $r in ?*=?*) ;; *) echo "$me: '$r' is not LABEL=TRAIN.tsv" >&2; usage ;; esac
        runs="$runs$r
"
    done
fi

command -v gnuplot >/dev/null 2>&1 ||
    die "gnuplot not found; install it (Debian: apt-get install gnuplot-nox, or 'make deps')"
case $out in */*) outdir=${out%/*} ;; *) outdir=. ;; esac
[ -d "${outdir:-/}" ] || die "cannot write '$out': no directory '$outdir'"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/curves.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"; rm -f "$out.tmp.$$"' EXIT
trap 'exit 1' HUP INT TERM

# rows_of FILE N: checks FILE and writes its rows, split by phase, to $tmp/train.N (x loss
# top1), $tmp/val.N (x loss top1 top5) and $tmp/lr.N (x lr, positive rates only).
rows_of() {
    [ -e "$1" ] || die "cannot open '$1': No such file or directory"
    [ -r "$1" ] && [ -f "$1" ] || die "cannot read '$1'"
    awk -F'\t' -v xaxis="$xaxis" -v window="$window" -v n="$2" -v tmp="$tmp" -v me="$me" '
    function bad(msg) { printf "%s: %s, line %d: %s\n", me, FILENAME, FNR, msg > "/dev/stderr"; err = 1; exit 1 }
    # first pass: check every row, find the steps an epoch takes
    NR == FNR {
        if ($0 ~ /^#/ || $0 ~ /^[ \t]*$/) next
        if ($1 != "train" && $1 != "val") bad("not a train or val row of alexnet-train")
        if (NF < 8) bad("a row of " NF " fields; alexnet-train writes 10")
        for (i = 2; i <= 8; i++)
            if ($i !~ /^[-+0-9.eE]+$/ || $i ~ /^[eE.+-]*$/) bad("field " i " is not a number: " $i)
        rows++
        if ($1 == "val" && $2 > 0 && ipe == "") ipe = $3 / $2
        if ($1 == "train") { if ($2 > maxep) maxep = $2; last[$2] = $3 }
        next
    }
    FNR == 1 {
        if (rows == 0) { printf "%s: %s: no train or val rows (is it the output of alexnet-train?)\n", me, FILENAME > "/dev/stderr"; err = 1; exit 1 }
        if (xaxis == "epoch" && ipe == "")
            for (e = 1; e < maxep; e++) if (e in last) { ipe = last[e] / e; break }
        if (xaxis == "epoch" && ipe == "") {
            printf "%s: %s: no epoch ends yet; using steps for the horizontal axis\n", me, FILENAME > "/dev/stderr"
            xaxis = "iter"
        }
        tf = tmp "/train." n; vf = tmp "/val." n; lf = tmp "/lr." n
        printf "" > tf; printf "" > vf; printf "" > lf
    }
    /^#/ || /^[ \t]*$/ { next }
    {
        x = xaxis == "epoch" ? $3 / ipe : $3
        if ($1 == "val") { print x, $5, $6, $7 > vf; next }
        d = $4 - prev; prev = $4
        if (d <= 0) d = 1                       # rows of two runs in one file
        if ($8 > 0) print x, $8 > lf
        # a window of the last rows holding at least `window` images
        k++; wd[k] = d; wl[k] = $5 * d; we[k] = $6 * d; sd += wd[k]; sl += wl[k]; se += we[k]
        while (first < k - 1 && sd - wd[first + 1] >= window) {
            first++; sd -= wd[first]; sl -= wl[first]; se -= we[first]
        }
        print x, sl / sd, se / sd > tf
    }
    END {
        if (err) exit 1
        if (rows == 0) { printf "%s: %s: no train or val rows (is it the output of alexnet-train?)\n", me, FILENAME > "/dev/stderr"; exit 1 }
    }' "$1" "$1"
}

n=0
while IFS= read -r r; do
    [ -n "$r" ] || continue
    n=$((n + 1))
    rows_of "${r#*=}" $n || exit 1
    printf '%s\n' "${r%%=*}" > "$tmp/label.$n"
done <<EOF
$runs
EOF

# gq TEXT: TEXT as a single-quoted gnuplot string
gq() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}
has() { [ -s "$tmp/$1" ]; }

if gnuplot -e 'set terminal' </dev/null 2>&1 | grep -q pngcairo; then
    term="pngcairo size 1000,800 noenhanced font ',10'"
else
    term="png size 1000,800 noenhanced"
fi
xlabel=$([ "$xaxis" = epoch ] && echo epoch || echo 'iteration (SGD steps)')

{
    echo "set terminal $term"
    echo "set output $(gq "$out.tmp.$$")"
    echo "set datafile separator whitespace"
    echo "set grid"
    echo "set autoscale xfix"
    echo "set key outside right top"
    echo "set lmargin 10; set rmargin 30"
    echo "set multiplot layout 2,1 title $(gq "$title")"
    # above: the losses
    echo "set ylabel 'cross-entropy loss'"
    echo "set yrange [0:*]"
    plot=
    i=1
    while [ $i -le $n ]; do
        l=$(cat "$tmp/label.$i")
        if [ $compare -eq 0 ]; then
            has train.$i && plot="$plot, $(gq "$tmp/train.$i") using 1:2 with lines lw 1.5 lc rgb '#1f77b4' title 'training loss'"
            has val.$i && plot="$plot, $(gq "$tmp/val.$i") using 1:2 with linespoints pt 7 ps 0.6 lw 1.5 lc rgb '#ff7f0e' title 'validation loss'"
        else
            has train.$i && plot="$plot, $(gq "$tmp/train.$i") using 1:2 with lines lw 1.5 lc $i title $(gq "$l: training loss")"
        fi
        i=$((i + 1))
    done
    echo "plot ${plot#, }"
    # below: the errors, and the learning rate of a single run
    echo "set xlabel $(gq "$xlabel")"
    echo "set ylabel 'error rate'"
    echo "set yrange [0:1]"
    plot=
    i=1
    while [ $i -le $n ]; do
        l=$(cat "$tmp/label.$i")
        if [ $compare -eq 0 ]; then
            has train.$i && plot="$plot, $(gq "$tmp/train.$i") using 1:3 with lines lw 1.5 lc rgb '#1f77b4' title 'training top-1'"
            has val.$i && plot="$plot, $(gq "$tmp/val.$i") using 1:3 with linespoints pt 7 ps 0.6 lw 1.5 lc rgb '#ff7f0e' title 'validation top-1'"
            has val.$i && plot="$plot, $(gq "$tmp/val.$i") using 1:4 with linespoints pt 5 ps 0.6 lw 1.5 lc rgb '#2ca02c' title 'validation top-5'"
            if has lr.$i; then
                echo "set y2label 'learning rate'"
                echo "set logscale y2"
                echo "set y2tics"
                echo "set format y2 '%g'"
                plot="$plot, $(gq "$tmp/lr.$i") using 1:2 axes x1y2 with fsteps lw 1 dt 3 lc rgb '#7f7f7f' title 'learning rate (right)'"
            fi
        else
            has train.$i && plot="$plot, $(gq "$tmp/train.$i") using 1:3 with lines lw 1 lc $i title $(gq "$l: training top-1")"
            has val.$i && plot="$plot, $(gq "$tmp/val.$i") using 1:3 with linespoints pt 7 ps 0.7 lw 2 lc $i title $(gq "$l: validation top-1")"
        fi
        i=$((i + 1))
    done
    [ -n "$threshold" ] && plot="$plot, $threshold with lines dt 2 lw 1.5 lc rgb 'black' title 'threshold $threshold'"
    echo "plot ${plot#, }"
    echo "unset multiplot"
} > "$tmp/plot.gp"

gnuplot "$tmp/plot.gp" 2> "$tmp/gnuplot.err" || {
    cat "$tmp/gnuplot.err" >&2
    die "gnuplot failed to draw '$out'"
}
# gnuplot reports some faults as warnings and exits 0; a plot needs a non-empty file
[ -s "$out.tmp.$$" ] || { cat "$tmp/gnuplot.err" >&2; die "gnuplot wrote nothing for '$out'"; }
mv -f "$out.tmp.$$" "$out" || die "cannot rename '$out.tmp.$$' to '$out'"
