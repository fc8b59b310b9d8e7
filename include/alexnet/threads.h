/* Threads. The CPU ops parallelise with OpenMP and OpenBLAS; this sets both. */
#ifndef ANET_THREADS_H
#define ANET_THREADS_H

/* n <= 0 means all cores. Returns the count now in use. */
int anet_threads_set(int n);
int anet_threads_get(void);

/* Monotonic seconds, for timing and images/s. */
double anet_seconds(void);

#endif
