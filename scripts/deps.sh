#!/bin/sh
# Installs the Debian packages that the build and the tests need. As root it runs
# apt-get; otherwise it prints the one command to run and fails.
set -u
# A host that brings the libraries and tools by other means (another distribution, a
# prefix on CPATH and LIBRARY_PATH) skips the check with ANET_SKIP_DEPS=1.
[ "${ANET_SKIP_DEPS:-0}" != 0 ] && exit 0
pkgs="gcc make libc6-dev liblmdb-dev libopenblas-dev libopenblas-openmp-dev libjpeg62-turbo-dev libpng-dev bats man-db groff-base lmdb-utils python3 python3-lmdb python3-pil python3-numpy gnuplot-nox"
# Test only: the fuzz targets (make fuzz, and their smoke in make check) need clang with
# libFuzzer and the sanitizer runtimes, and LLVM's OpenMP for the library they link;
# make check-asan needs nothing more than gcc.
test_pkgs="clang libclang-rt-14-dev libomp-14-dev"
pkgs="$pkgs $test_pkgs"
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
