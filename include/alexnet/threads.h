/* Threads. The CPU ops parallelise with OpenMP and OpenBLAS; this sets both. */
#ifndef ANET_THREADS_H
#define ANET_THREADS_H

/* n <= 0 means all cores. Returns the count now in use. */
int anet_threads_set(int n);
int anet_threads_get(void);

/* OpenBLAS chooses its kernels for the processor when it is loaded. On a processor newer
 * than it knows (Debian 12's 0.3.21 on Sapphire or Emerald Rapids, say) it falls back to
 * generic SSE3 kernels, which run sgemm, and so training, 2-4x slower than the AVX2 or
 * AVX-512 ones the processor can run. anet_blas_kernels: OpenBLAS's name for the kernels in
 * use ("Haswell", "SkylakeX", "Prescott"...). anet_blas_better_kernels: the name to give
 * OPENBLAS_CORETYPE for faster kernels this processor runs, when OpenBLAS fell back to
 * generic ones and the user has not set OPENBLAS_CORETYPE; NULL otherwise. The variable
 * takes effect only in a process that loads OpenBLAS after it is set (the tools start
 * themselves again: cmd/cli.c, cli_fast_blas). */
const char *anet_blas_kernels(void);
const char *anet_blas_better_kernels(void);

/* Monotonic seconds, for timing and images/s. */
double anet_seconds(void);

#endif
