#!/bin/sh
# Prints 1 when CUDA code can be built here (nvcc runs and finds cudnn.h and cublas_v2.h,
# in its own include path or the compiler's), else 0. Usage: have-cuda.sh NVCC
nvcc=${1:-nvcc}
[ -n "$(ls lib/cuda/*.cu 2>/dev/null)" ] || { echo 0; exit 0; }
command -v "$nvcc" >/dev/null 2>&1 || { echo 0; exit 0; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
printf '#include <cudnn.h>\n#include <cublas_v2.h>\n' > "$t/probe.cu"
if "$nvcc" -E "$t/probe.cu" -o "$t/probe.ii" >/dev/null 2>&1; then echo 1; else echo 0; fi
