/* Local response normalisation across channels, as the paper defines it (§3.3):
 *
 *   b_i = a_i / scale_i^β,   scale_i = k + α Σ_{j=max(0,i−size/2)}^{min(c−1,i+size/2)} a_j²
 *
 * with α used as given (Caffe, PyTorch and cuDNN divide it by size). Tensors are
 * n × c × hw; channel i of image m starts at (m·c + i)·hw. */
#include <math.h>
#ifdef __AVX__
#include <immintrin.h>
#endif
#include "alexnet/ops.h"

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* ---- reference ----------------------------------------------------------------------- */

void anet_cpu_lrn_forward_ref(int n, int c, int hw, const struct anet_lrn_param *p,
                              const float *x, float *y, float *scale)
{
    int half = p->size / 2;
    for (int m = 0; m < n; m++) {
        const float *xm = x + (size_t)m * c * hw;
        for (int i = 0; i < c; i++) {
            size_t at = ((size_t)m * c + i) * hw;
            for (int q = 0; q < hw; q++) {
                float sum = 0;
                for (int j = imax(0, i - half); j <= imin(c - 1, i + half); j++) {
                    float a = xm[(size_t)j * hw + q];
                    sum += a * a;
                }
                float s = p->k + p->alpha * sum;
                scale[at + q] = s;
                y[at + q] = x[at + q] * powf(s, -p->beta);
            }
        }
    }
}

/* b_i depends on a_i directly and on every a_j whose window holds i, so
 *   ∂L/∂a_i = dy_i·scale_i^−β − 2αβ·a_i·Σ_{j: i∈window(j)} dy_j·b_j / scale_j.
 * Windows are symmetric (|i − j| <= size/2, both clipped to [0, c)), so the j with i in
 * window(j) are exactly the j in window(i). */
void anet_cpu_lrn_backward_ref(int n, int c, int hw, const struct anet_lrn_param *p,
                               const float *x, const float *y, const float *scale,
                               const float *dy, float *dx)
{
    int half = p->size / 2;
    float two_ab = 2 * p->alpha * p->beta;
    for (int m = 0; m < n; m++) {
        size_t base = (size_t)m * c * hw;
        for (int i = 0; i < c; i++) {
            size_t at = base + (size_t)i * hw;
            for (int q = 0; q < hw; q++) {
                float sum = 0;
                for (int j = imax(0, i - half); j <= imin(c - 1, i + half); j++) {
                    size_t aj = base + (size_t)j * hw + q;
                    sum += dy[aj] * y[aj] / scale[aj];
                }
                dx[at + q] = dy[at + q] * powf(scale[at + q], -p->beta) -
                             two_ab * x[at + q] * sum;
            }
        }
    }
}

/* ---- fast path -------------------------------------------------------------------------
 * Work is split into (image, chunk of pixels) tasks. A task walks the channels once,
 * keeping per pixel a running window sum (add the channel entering the window, subtract
 * the one leaving it): two terms an element instead of size. The sums are kept in
 * double so that the add-then-subtract over 256 channels cannot drift: a float square is
 * exact in double, and the sum of a few of them nearly so. Every loop over the chunk runs
 * along contiguous pixels, so it vectorises. */

/* Pixels a task, at most. Short rows keep each channel step's rows (x entering, leaving
 * and current, y, scale) few cache lines long; on the 2-core Zen 4 host 128 ran conv1's
 * LRN forward 1.7x faster than 512, and the backward as fast. */
#define LRN_CHUNK 128

/* 1 / s^β over len values. For the paper's β = 3/4, s^(3/4) = √s·√√s: three correctly
 * rounded operations (about 2 ulp in all, like powf's own error) where powf is a scalar
 * libm call. The compiler cannot vectorise sqrtf itself while the build keeps math errno
 * (a negative argument must set it; scale >= k > 0 here), so the AVX block below spells the
 * same operations out 8 lanes at a time: results are identical with or without it. */
static void pow_neg_beta(const float *restrict s, float beta, float *restrict out, int len)
{
    int q = 0;
    if (beta != 0.75f) {
        for (; q < len; q++) out[q] = powf(s[q], -beta);
        return;
    }
#ifdef __AVX__
    for (; q + 8 <= len; q += 8) {
        __m256 r = _mm256_sqrt_ps(_mm256_loadu_ps(s + q));
        __m256 p = _mm256_mul_ps(r, _mm256_sqrt_ps(r));
        _mm256_storeu_ps(out + q, _mm256_div_ps(_mm256_set1_ps(1.0f), p));
    }
#endif
    for (; q < len; q++) {
        float r = sqrtf(s[q]);
        out[q] = 1.0f / (r * sqrtf(r));
    }
}

/* sum[q] += sign·term[q] where term is a², for the forward. */
static void add_squares(double *restrict sum, const float *restrict a, double sign, int len)
{
    for (int q = 0; q < len; q++) sum[q] += sign * ((double)a[q] * (double)a[q]);
}

/* sum[q] += sign·dy·y/scale, the backward's window term. */
static void add_ratios(double *restrict sum, const float *restrict dy,
                       const float *restrict y, const float *restrict s,
                       double sign, int len)
{
    for (int q = 0; q < len; q++) sum[q] += sign * (double)(dy[q] * y[q] / s[q]);
}

/* One task of the forward: x, y, scale point at channel 0 of an image, offset to the
 * chunk's first pixel; rows are hw apart; len <= LRN_CHUNK pixels. */
static void lrn_forward_chunk(int c, int hw, int len, const struct anet_lrn_param *p,
                              const float *x, float *y, float *scale)
{
    double sum[LRN_CHUNK];
    float pw[LRN_CHUNK];
    int half = p->size / 2;
    float k = p->k, alpha = p->alpha; /* locals: stores to scale cannot alias them */
    for (int q = 0; q < len; q++) sum[q] = 0;
    /* before channel 0 the window holds channels [0, half) */
    for (int j = 0; j < imin(half, c); j++) add_squares(sum, x + (size_t)j * hw, 1, len);
    for (int i = 0; i < c; i++) {
        size_t row = (size_t)i * hw;
        if (i + half < c) add_squares(sum, x + (size_t)(i + half) * hw, 1, len);
        for (int q = 0; q < len; q++) scale[row + q] = k + alpha * (float)sum[q];
        pow_neg_beta(scale + row, p->beta, pw, len);
        for (int q = 0; q < len; q++) y[row + q] = x[row + q] * pw[q];
        if (i - half >= 0) add_squares(sum, x + (size_t)(i - half) * hw, -1, len);
    }
}

static void lrn_backward_chunk(int c, int hw, int len, const struct anet_lrn_param *p,
                               const float *x, const float *y, const float *scale,
                               const float *dy, float *dx)
{
    double sum[LRN_CHUNK];
    float pw[LRN_CHUNK];
    int half = p->size / 2;
    float two_ab = 2 * p->alpha * p->beta;
    for (int q = 0; q < len; q++) sum[q] = 0;
    for (int j = 0; j < imin(half, c); j++) {
        size_t r = (size_t)j * hw;
        add_ratios(sum, dy + r, y + r, scale + r, 1, len);
    }
    for (int i = 0; i < c; i++) {
        size_t row = (size_t)i * hw;
        if (i + half < c) {
            size_t r = (size_t)(i + half) * hw;
            add_ratios(sum, dy + r, y + r, scale + r, 1, len);
        }
        pow_neg_beta(scale + row, p->beta, pw, len);
        for (int q = 0; q < len; q++)
            dx[row + q] = dy[row + q] * pw[q] - two_ab * x[row + q] * (float)sum[q];
        if (i - half >= 0) {
            size_t r = (size_t)(i - half) * hw;
            add_ratios(sum, dy + r, y + r, scale + r, -1, len);
        }
    }
}

/* Below this many elements threads cost more than they save. */
#define LRN_PARALLEL_MIN 32768

/* Pixels a task: hw split into equal pieces of at most `most` (a multiple of 16) pixels,
 * each rounded up to a multiple of 16 so that every piece but the last is whole vectors. */
static int chunk_len(int hw, int most)
{
    int pieces = hw > most ? (hw + most - 1) / most : 1;
    return ((hw + pieces - 1) / pieces + 15) / 16 * 16;
}

void anet_cpu_lrn_forward(int n, int c, int hw, const struct anet_lrn_param *p,
                          const float *x, float *y, float *scale)
{
    int len = chunk_len(hw, LRN_CHUNK), chunks = (hw + len - 1) / len;
#pragma omp parallel for collapse(2) schedule(static) \
    if ((size_t)n * c * hw >= LRN_PARALLEL_MIN)
    for (int m = 0; m < n; m++) {
        for (int t = 0; t < chunks; t++) {
            size_t at = (size_t)m * c * hw + (size_t)t * len;
            int here = imin(len, hw - t * len);
            lrn_forward_chunk(c, hw, here, p, x + at, y + at, scale + at);
        }
    }
}

void anet_cpu_lrn_backward(int n, int c, int hw, const struct anet_lrn_param *p,
                           const float *x, const float *y, const float *scale,
                           const float *dy, float *dx)
{
    int len = chunk_len(hw, LRN_CHUNK), chunks = (hw + len - 1) / len;
#pragma omp parallel for collapse(2) schedule(static) \
    if ((size_t)n * c * hw >= LRN_PARALLEL_MIN)
    for (int m = 0; m < n; m++) {
        for (int t = 0; t < chunks; t++) {
            size_t at = (size_t)m * c * hw + (size_t)t * len;
            int here = imin(len, hw - t * len);
            lrn_backward_chunk(c, hw, here, p, x + at, y + at, scale + at, dy + at, dx + at);
        }
    }
}
