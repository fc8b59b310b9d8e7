#!/bin/sh
# Installs the Debian packages that a step needs. As root it runs apt-get; otherwise it
# prints the one command to run and fails.
#
#   sh scripts/deps.sh [GROUP...]      tools, plots and tests when none is named
#
# The groups, so that a step installs only what it uses (make demo: tools plots; make
# check: tools plots tests; make bench: tools peers):
#   tools   what the library and the tools need to build and run
#   plots   gnuplot, for the learning curves of the demo and the recipes (pipelines/curves.sh)
#   tests   what make check needs beyond those: Bats, man and groff for the manual's
#           checks, Python with lmdb, PIL and numpy that check our files and figures
#           against other readers, pkg-config for the installed library; test-only
#           packages go here
#   peers   what the benchmarks' peers (bench/peers/) run on: PyTorch, PIL, lmdb
set -u
# A host that brings the libraries and tools by other means (another distribution, a
# prefix on CPATH and LIBRARY_PATH) skips the check with ANET_SKIP_DEPS=1.
[ "${ANET_SKIP_DEPS:-0}" != 0 ] && exit 0
tools="gcc make libc6-dev liblmdb-dev libopenblas-dev libopenblas-openmp-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev"
plots="gnuplot-nox"
# Open MPI: data-parallel training is built in when it is installed (mpicc), and the
# tests run it under mpirun
# The fuzz targets (make fuzz, and their smoke in make check) need clang with libFuzzer
# and the sanitizer runtimes, and LLVM's OpenMP for the library they link; make
# check-asan needs nothing more than gcc.
tests="bats man-db groff-base lmdb-utils python3 python3-lmdb python3-pil python3-numpy pkgconf libopenmpi-dev openmpi-bin clang libclang-rt-14-dev libomp-14-dev"
peers="python3 python3-torch python3-lmdb python3-pil python3-numpy"

[ $# -eq 0 ] && set -- tools plots tests
pkgs=""
for g in "$@"; do
    case $g in
    tools) pkgs="$pkgs $tools" ;;
    plots) pkgs="$pkgs $plots" ;;
    tests) pkgs="$pkgs $tests" ;;
    peers) pkgs="$pkgs $peers" ;;
    *) echo "deps: unknown group '$g' (tools, plots, tests, peers)" >&2; exit 2 ;;
    esac
done
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $missing >&2 && exit 0
    echo "deps: apt-get failed to install$missing" >&2
    exit 1
fi
echo "deps: missing packages; run:" >&2
echo "sudo apt-get install -y$missing"
exit 1
