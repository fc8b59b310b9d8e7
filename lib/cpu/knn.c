/* Exact k nearest neighbours by Euclidean distance (include/alexnet/features.h).
 *
 * For a block of index rows X (n x d) and the queries Q (m x d, taken mb at a time so that
 * the distance tile stays small): G = Q·Xᵀ by sgemm, then per query i and row j the estimate
 * e = |q_i|² + |x_j|² − 2·G[i][j]. sgemm's error is at most d·u·|q||x| (u = 2^-24), so a
 * row whose estimate, less twice that, is not below the query's k-th best distance cannot
 * enter; any other has its squared distance summed again in double from the floats, and
 * that exact value decides. The k best stay sorted by (distance, row). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/features.h"

/* Queries a tile: 512 x a block of 4096 rows is an 8 MB tile of distances. */
#define QUERY_TILE 512

struct anet_knn {
    const float *q;
    uint64_t nq, dim;
    int k;
    double *qnorm;  /* nq: |q|² in double */
    double *best;   /* nq x k squared distances, ascending */
    uint64_t *row;  /* nq x k their rows */
    int *have;      /* nq: how many of the k are filled */
    float *tile;    /* QUERY_TILE x tile_rows */
    double *xnorm;  /* tile_rows: |x|² of the block's rows */
    double *xlen;   /* tile_rows: |x| */
    uint64_t tile_rows;
    double bound;   /* 2·d·u: the estimate's error, relative to |q||x| */
};

/* |v|² summed in double (OpenBLAS's dsdot: vectorised, where a plain double loop is not) */
static double sqnorm(const float *v, uint64_t d)
{
    return cblas_dsdot((int)d, v, 1, v, 1);
}

static double sqdist(const float *a, const float *b, uint64_t d)
{
    double s = 0;
    for (uint64_t i = 0; i < d; i++) {
        double t = (double)a[i] - b[i];
        s += t * t;
    }
    return s;
}

enum anet_status anet_knn_create(const float *queries, uint64_t nq, uint64_t dim, int k,
                                 struct anet_knn **out)
{
    *out = NULL;
    if (k < 1 || dim < 1 || nq < 1)
        return anet_fail(ANET_ERR_INVALID, "k-NN: k %d, %llu queries of %llu dimensions", k,
                         (unsigned long long)nq, (unsigned long long)dim);
    struct anet_knn *s = calloc(1, sizeof *s);
    if (!s) return anet_fail(ANET_ERR_NOMEM, "out of memory for the search");
    *s = (struct anet_knn){.q = queries, .nq = nq, .dim = dim, .k = k,
                           .bound = 2.0 * (double)dim * ldexp(1.0, -24)};
    s->qnorm = malloc(nq * sizeof *s->qnorm);
    s->best = malloc(nq * (uint64_t)k * sizeof *s->best);
    s->row = malloc(nq * (uint64_t)k * sizeof *s->row);
    s->have = calloc(nq, sizeof *s->have);
    if (!s->qnorm || !s->best || !s->row || !s->have) {
        anet_knn_free(s);
        return anet_fail(ANET_ERR_NOMEM, "out of memory for the results of %llu queries",
                         (unsigned long long)nq);
    }
#pragma omp parallel for schedule(static)
    for (uint64_t i = 0; i < nq; i++) s->qnorm[i] = sqnorm(queries + i * dim, dim);
    *out = s;
    return ANET_OK;
}

/* (d, r) before (d', r')? */
static int before(double d, uint64_t r, double d2, uint64_t r2)
{
    return d < d2 || (d == d2 && r < r2);
}

/* Puts (d, r) among query i's k best, if it belongs there. */
static void offer(struct anet_knn *s, uint64_t i, double d, uint64_t r)
{
    double *best = s->best + i * (uint64_t)s->k;
    uint64_t *row = s->row + i * (uint64_t)s->k;
    int n = s->have[i];
    if (n == s->k && !before(d, r, best[n - 1], row[n - 1])) return;
    int at = n < s->k ? n : n - 1;
    while (at > 0 && before(d, r, best[at - 1], row[at - 1])) {
        best[at] = best[at - 1], row[at] = row[at - 1];
        at--;
    }
    best[at] = d, row[at] = r;
    if (n < s->k) s->have[i] = n + 1;
}

static enum anet_status grow_tile(struct anet_knn *s, uint64_t rows)
{
    if (rows <= s->tile_rows) return ANET_OK;
    float *t = realloc(s->tile, QUERY_TILE * rows * sizeof *t);
    if (t) s->tile = t;
    double *x = realloc(s->xnorm, rows * sizeof *x), *l = realloc(s->xlen, rows * sizeof *l);
    if (x) s->xnorm = x;
    if (l) s->xlen = l;
    if (!t || !x || !l) return anet_fail(ANET_ERR_NOMEM, "out of memory for a block of %llu rows",
                                   (unsigned long long)rows);
    s->tile_rows = rows;
    return ANET_OK;
}

/* Queries q0 .. q0 + m − 1 against the block's n rows. */
static void scan_tile(struct anet_knn *s, uint64_t q0, uint64_t m, const float *rows,
                      uint64_t first, uint64_t n)
{
    const uint64_t d = s->dim;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)d, 1.0f,
                s->q + q0 * d, (int)d, rows, (int)d, 0.0f, s->tile, (int)n);
    /* a few queries: no parallel region, whose start waits for every thread (on a loaded
       machine, more than the scan itself) */
#pragma omp parallel for schedule(dynamic, 8) if (m >= 16)
    for (uint64_t a = 0; a < m; a++) {
        uint64_t i = q0 + a;
        const float *g = s->tile + a * n;
        double qn = s->qnorm[i], qlen = sqrt(qn);
        const float *q = s->q + i * d;
        for (uint64_t j = 0; j < n; j++) {
            double est = qn + s->xnorm[j] - 2.0 * g[j];
            int full = s->have[i] == s->k;
            if (full && est - s->bound * qlen * s->xlen[j] > s->best[(i + 1) * s->k - 1])
                continue;
            offer(s, i, sqdist(q, rows + j * d, d), first + j);
        }
    }
}

enum anet_status anet_knn_add(struct anet_knn *s, const float *rows, uint64_t first,
                              uint64_t count)
{
    if (count == 0) return ANET_OK;
    if (count > (1u << 30) || s->dim > (1u << 30))
        return anet_fail(ANET_ERR_INVALID, "k-NN: a block of %llu rows of %llu",
                         (unsigned long long)count, (unsigned long long)s->dim);
    enum anet_status st = grow_tile(s, count);
    if (st) return st;
#pragma omp parallel for schedule(static)
    for (uint64_t j = 0; j < count; j++) {
        s->xnorm[j] = sqnorm(rows + j * s->dim, s->dim);
        s->xlen[j] = sqrt(s->xnorm[j]);
    }
    for (uint64_t q0 = 0; q0 < s->nq; q0 += QUERY_TILE) {
        uint64_t m = s->nq - q0 < QUERY_TILE ? s->nq - q0 : QUERY_TILE;
        scan_tile(s, q0, m, rows, first, count);
    }
    return ANET_OK;
}

int anet_knn_result(const struct anet_knn *s, uint64_t q, uint64_t *rows, double *dist)
{
    int n = s->have[q];
    for (int i = 0; i < n; i++) {
        rows[i] = s->row[q * (uint64_t)s->k + (uint64_t)i];
        dist[i] = sqrt(s->best[q * (uint64_t)s->k + (uint64_t)i]);
    }
    return n;
}

void anet_knn_free(struct anet_knn *s)
{
    if (!s) return;
    free(s->qnorm), free(s->best), free(s->row), free(s->have), free(s->tile), free(s->xnorm);
    free(s->xlen);
    free(s);
}
