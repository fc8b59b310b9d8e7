#!/bin/sh
# Prints 1 when NCCL can be used by the CUDA backend (nvcc finds nccl.h), else 0.
# Usage: have-nccl.sh NVCC
nvcc=${1:-nvcc}
command -v "$nvcc" >/dev/null 2>&1 || { echo 0; exit 0; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
printf '#include <nccl.h>\n' > "$t/probe.cu"
if "$nvcc" -E "$t/probe.cu" -o "$t/probe.ii" >/dev/null 2>&1; then echo 1; else echo 0; fi
