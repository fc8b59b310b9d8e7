/* Fully connected layer on the CPU: y = x·Wᵀ + b. A loop nest (the definition) and OpenBLAS
 * sgemm, which threads itself. The bias work (n × out floats, ~0.1 ms) stays on the calling
 * thread: an OpenMP region here would leave libgomp's threads spinning through the sgemm
 * that follows and cost far more than it saves (see lib/cpu/conv.c).
 * x: n × in; w: out × in; b: out; y: n × out. */
#include <cblas.h>
#include "alexnet/ops.h"

/* ---- reference ------------------------------------------------------------------------ */

/* y[i][o] = b[o] + Σ_j x[i][j] · w[o][j] */
void anet_cpu_fc_forward_ref(int n, int in, int out, const float *x, const float *w,
                             const float *b, float *y)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int j = 0; j < in; j++)
                s += (double)x[(size_t)i * in + j] * w[(size_t)o * in + j];
            y[(size_t)i * out + o] = (float)s;
        }
}

/* dx[i][j] = Σ_o dy[i][o] · w[o][j];  dw[o][j] = Σ_i dy[i][o] · x[i][j];  db[o] = Σ_i dy[i][o] */
void anet_cpu_fc_backward_ref(int n, int in, int out, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db)
{
    if (dx)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < in; j++) {
                double s = 0;
                for (int o = 0; o < out; o++)
                    s += (double)dy[(size_t)i * out + o] * w[(size_t)o * in + j];
                dx[(size_t)i * in + j] = (float)s;
            }
    for (int o = 0; o < out; o++)
        for (int j = 0; j < in; j++) {
            double s = 0;
            for (int i = 0; i < n; i++)
                s += (double)dy[(size_t)i * out + o] * x[(size_t)i * in + j];
            dw[(size_t)o * in + j] = (float)s;
        }
    if (db)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += dy[(size_t)i * out + o];
            db[o] = (float)s;
        }
}

/* ---- fast path: sgemm -------------------------------------------------------------------- */

void anet_cpu_fc_forward(int n, int in, int out, const float *x, const float *w,
                         const float *b, float *y)
{
    /* every row of y starts as b, then y += x·Wᵀ */
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) y[(size_t)i * out + o] = b[o];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 1.0f,
                y, out);
}

/* db[o] = Σ_i dy[i][o], row by row so that the inner loop runs along memory. */
static void fc_bias_grad(int n, int out, const float *dy, float *db)
{
    for (int o = 0; o < out; o++) db[o] = 0;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) db[o] += dy[(size_t)i * out + o];
}

void anet_cpu_fc_backward(int n, int in, int out, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db)
{
    if (db) fc_bias_grad(n, out, dy, db);
    /* dw (out × in) = dyᵀ (out × n) · x (n × in) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in,
                0.0f, dw, in);
    /* dx (n × in) = dy (n × out) · W (out × in) */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, w,
                    in, 0.0f, dx, in);
}
