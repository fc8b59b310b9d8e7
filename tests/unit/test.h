/* A tiny TAP producer for the C unit tests. Each test program prints "ok N - what" or
 * "not ok N - what" per check, "# detail" lines on failure, and the plan "1..N" at the
 * end; tests/run counts the lines of every program and prints the project's summary.
 *
 *   T_OK(err < 1e-5, "conv forward fast == ref, max rel err %.3g", err);
 *   T_SKIP("no GPU: %s", why);
 *   return t_done();
 *
 * Misuse (t_done() twice, a check after t_done()) aborts loudly instead of passing. */
#ifndef ANET_TEST_H
#define ANET_TEST_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int t_count, t_failed, t_finished;

static inline void t_report(int ok, const char *file, int line, const char *fmt, va_list ap)
{
    if (t_finished) {
        fprintf(stderr, "%s:%d: check after t_done()\n", file, line);
        abort();
    }
    t_count++;
    if (!ok) t_failed++;
    printf("%s %d - ", ok ? "ok" : "not ok", t_count);
    vprintf(fmt, ap);
    printf("\n");
    if (!ok) printf("# failed at %s:%d\n", file, line);
    fflush(stdout);
}

static inline int t_ok_at(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int t_ok_at(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    t_report(ok, file, line, fmt, ap);
    va_end(ap);
    return ok;
}
#define T_OK(cond, ...) t_ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static inline void t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void t_skip(const char *fmt, ...)
{
    va_list ap;
    t_count++;
    printf("ok %d - # SKIP ", t_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}
#define T_SKIP(...) t_skip(__VA_ARGS__)

/* Prints the plan; the exit status of the program is nonzero if any check failed or if
 * none ran at all. */
static inline int t_done(void)
{
    if (t_finished) {
        fprintf(stderr, "t_done() called twice\n");
        abort();
    }
    t_finished = 1;
    printf("1..%d\n", t_count);
    if (t_count == 0) {
        printf("# no checks ran\n");
        return 1;
    }
    return t_failed ? 1 : 0;
}

/* ---- helpers for comparing arrays ------------------------------------------------------ */

/* Deterministic test data without the library: xorshift64*, uniform in [lo, hi). */
static uint64_t t_rng_state = 0x9E3779B97F4A7C15ull;
static inline void t_seed(uint64_t s) { t_rng_state = s ? s : 1; }
static inline double t_uniform(double lo, double hi)
{
    t_rng_state ^= t_rng_state >> 12;
    t_rng_state ^= t_rng_state << 25;
    t_rng_state ^= t_rng_state >> 27;
    uint64_t r = t_rng_state * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * (double)(r >> 11) * (1.0 / 9007199254740992.0);
}
static inline void t_fill(float *a, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) a[i] = (float)t_uniform(lo, hi);
}
static inline float *t_alloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "test: out of memory (%zu floats)\n", n);
        abort();
    }
    return p;
}

/* max_i |a_i − b_i| / max(max_i |b_i|, tiny): error relative to the size of the data,
 * robust to individual values near zero. */
static inline double t_rel_err(const float *a, const float *b, size_t n)
{
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > md || d != d) md = d;
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return md / (mb > 1e-30 ? mb : 1e-30);
}

/* The same measure for a float result against a double one (gradient checks), and for
 * two double arrays. */
static inline double t_rel_err_fd(const float *a, const double *b, size_t n)
{
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > md || d != d) md = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / (mb > 1e-30 ? mb : 1e-30);
}
static inline double t_rel_err_dd(const double *a, const double *b, size_t n)
{
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (d > md || d != d) md = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / (mb > 1e-300 ? mb : 1e-300);
}

/* A double copy of a float array (aborts when memory runs out). */
static inline double *t_to_double(const float *a, size_t n)
{
    double *p = malloc(sizeof(double) * (n ? n : 1));
    if (!p) {
        fprintf(stderr, "test: out of memory (%zu doubles)\n", n);
        abort();
    }
    for (size_t i = 0; i < n; i++) p[i] = a[i];
    return p;
}

#endif
