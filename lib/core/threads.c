/* Thread count for OpenMP and OpenBLAS; a monotonic clock. */
#include <omp.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include "alexnet/threads.h"

/* OpenBLAS's own functions; declared here to avoid depending on which cblas.h is installed. */
void openblas_set_num_threads(int n);
char *openblas_get_corename(void);

int anet_threads_set(int n)
{
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return n;
}

int anet_threads_get(void) { return omp_get_max_threads(); }

double anet_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *anet_blas_kernels(void) { return openblas_get_corename(); }

/* The kernels OpenBLAS falls back to when it does not know the processor, and the older
 * ones without AVX: all of them leave AVX2's and AVX-512's FMA units idle. */
static int generic_kernels(const char *name)
{
    static const char *const generic[] = {"Prescott", "Core2",   "Penryn",     "Dunnington",
                                          "Nehalem",  "Atom",    "Katmai",     "Coppermine",
                                          "Northwood", "Banias", "Opteron",    "Opteron_SSE3",
                                          "Barcelona", "Bobcat", "Unknown"};
    for (size_t i = 0; i < sizeof generic / sizeof *generic; i++)
        if (strcasecmp(name, generic[i]) == 0) return 1;
    return 0;
}

const char *anet_blas_better_kernels(void)
{
    if (getenv("OPENBLAS_CORETYPE")) return NULL; /* the user's choice stands */
    const char *name = openblas_get_corename();
    if (!name || !generic_kernels(name)) return NULL;
#if defined(__x86_64__) || defined(__i386__)
    /* libgcc's checks include the operating system's support (XCR0) for the registers */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}
