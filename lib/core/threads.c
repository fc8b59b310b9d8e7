/* Thread count for OpenMP and OpenBLAS; a monotonic clock. */
#include <omp.h>
#include <time.h>
#include "alexnet/threads.h"

/* OpenBLAS's own setter; declared here to avoid depending on which cblas.h is installed. */
void openblas_set_num_threads(int n);

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
