/* Max pooling without padding: size 3 stride 2 (the paper's overlapping pooling) or size 2
 * stride 2. x: n × c × h × w; y, arg: n × c × oh × ow, arg the offset ih·w + iw of the
 * maximum within its h × w plane. Ties go to the first maximum in row-major window order,
 * which both paths get by scanning the window in that order with a strict ">". */
#include <string.h>
#include "alexnet/ops.h"

int anet_pool_out(int in, int size, int stride)
{
    /* C division truncates toward zero, so in < size needs its own case */
    return in < size ? 0 : (in - size) / stride + 1;
}

/* ---- reference ----------------------------------------------------------------------- */

void anet_cpu_maxpool_forward_ref(const struct anet_pool_desc *d, const float *x, float *y,
                                  int32_t *arg)
{
    int oh = anet_pool_out(d->h, d->size, d->stride);
    int ow = anet_pool_out(d->w, d->size, d->stride);
    for (size_t pl = 0; pl < (size_t)d->n * d->c; pl++) {
        const float *xp = x + pl * d->h * d->w;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int best = oy * d->stride * d->w + ox * d->stride;
                for (int ky = 0; ky < d->size; ky++) {
                    for (int kx = 0; kx < d->size; kx++) {
                        int at = (oy * d->stride + ky) * d->w + ox * d->stride + kx;
                        if (xp[at] > xp[best]) best = at;
                    }
                }
                size_t o = (pl * oh + oy) * ow + ox;
                y[o] = xp[best];
                arg[o] = best;
            }
        }
    }
}

/* Each output's gradient goes to the input its maximum came from; with overlapping windows
 * an input can be the maximum of several outputs and receives the sum. */
void anet_cpu_maxpool_backward_ref(const struct anet_pool_desc *d, const float *dy,
                                   const int32_t *arg, float *dx)
{
    int oh = anet_pool_out(d->h, d->size, d->stride);
    int ow = anet_pool_out(d->w, d->size, d->stride);
    size_t planes = (size_t)d->n * d->c, in = (size_t)d->h * d->w, out = (size_t)oh * ow;
    for (size_t i = 0; i < planes * in; i++) dx[i] = 0;
    for (size_t pl = 0; pl < planes; pl++)
        for (size_t o = 0; o < out; o++) dx[pl * in + arg[pl * out + o]] += dy[pl * out + o];
}

/* ---- fast path -------------------------------------------------------------------------
 * OpenMP over the n·c planes. Within an output row, a chunk of up to POOL_CHUNK outputs is
 * the vectorised loop and the window is walked inside it, fully unrolled for the constant
 * size and stride of the paper's 3/2 and the plain 2/2 pooling; each lane keeps its running
 * maximum and offset in registers. Each output still sees its window in row-major order
 * with the same strict ">", so the results equal the reference's bit for bit, NaNs
 * included. Other sizes and strides take the reference's loop. */

#define POOL_CHUNK 64    /* outputs a step: a multiple of 16, the widest vector */
#define POOL_MAX_TAPS 3  /* the largest size and stride pool_chunk is used for */

/* Outputs [ox0, ox0 + n) of one row, n <= POOL_CHUNK; xr points at the window's top input
 * row, row0, of a plane w wide. The window rows are first split by column phase,
 * ph[ky][p][i] = column stride·(ox0 + i) + p, so that tap (ky, kx) of lane l is
 * ph[ky][kx % stride][l + kx / stride]: a unit-stride load across lanes, where reading the
 * row directly is a strided one. The lanes are padded to a multiple of 16 with zeros whose
 * results are dropped: a scalar remainder loop has data-dependent branches that made the
 * 13-wide rows of conv2's pooling 4x slower. */
static inline void pool_chunk(const float *restrict xr, int w, int row0, int size, int stride,
                              int ox0, int n, float *restrict y, int32_t *restrict arg)
{
    float ph[POOL_MAX_TAPS][POOL_MAX_TAPS][POOL_CHUNK + POOL_MAX_TAPS];
    float yb[POOL_CHUNK];
    int32_t ab[POOL_CHUNK];
    int lanes = (n + 15) / 16 * 16, reach = (size - 1) / stride;
    for (int ky = 0; ky < size; ky++) {
        for (int p = 0; p < stride; p++) {
            const float *col = xr + (size_t)ky * w + stride * ox0 + p;
            /* columns of this phase left in the row; p < stride <= size keeps it >= 1 */
            int in_row = (w - 1 - p - stride * ox0) / stride + 1;
            int have = n + reach < in_row ? n + reach : in_row;
            for (int i = 0; i < have; i++) ph[ky][p][i] = col[stride * i];
            for (int i = have; i < lanes + reach; i++) ph[ky][p][i] = 0;
        }
    }
    for (int l = 0; l < lanes; l++) {
        int32_t first = row0 * w + (ox0 + l) * stride;
        float best = ph[0][0][l];
        int32_t at = first;
        for (int ky = 0; ky < size; ky++) {
            for (int kx = 0; kx < size; kx++) {
                float v = ph[ky][kx % stride][l + kx / stride];
                int better = v > best;
                best = better ? v : best;
                at = better ? first + ky * w + kx : at;
            }
        }
        yb[l] = best;
        ab[l] = at;
    }
    memcpy(y + ox0, yb, (size_t)n * sizeof *y);
    memcpy(arg + ox0, ab, (size_t)n * sizeof *arg);
}

/* One output row with literal size and stride, which the compiler specialises. */
static inline void pool_row(const float *restrict xr, int w, int row0, int size, int stride,
                            int ow, float *restrict y, int32_t *restrict arg)
{
    for (int ox0 = 0; ox0 < ow; ox0 += POOL_CHUNK) {
        int n = ow - ox0 < POOL_CHUNK ? ow - ox0 : POOL_CHUNK;
        pool_chunk(xr, w, row0, size, stride, ox0, n, y, arg);
    }
}

static void pool_plane(const struct anet_pool_desc *d, int oh, int ow, const float *xp,
                       float *yp, int32_t *ap)
{
    if (d->stride != 2 || (d->size != 3 && d->size != 2)) {
        const struct anet_pool_desc one = {1, 1, d->h, d->w, d->size, d->stride};
        anet_cpu_maxpool_forward_ref(&one, xp, yp, ap);
        return;
    }
    for (int oy = 0; oy < oh; oy++) {
        int row0 = oy * d->stride;
        const float *xr = xp + (size_t)row0 * d->w;
        if (d->size == 3)
            pool_row(xr, d->w, row0, 3, 2, ow, yp + (size_t)oy * ow, ap + (size_t)oy * ow);
        else
            pool_row(xr, d->w, row0, 2, 2, ow, yp + (size_t)oy * ow, ap + (size_t)oy * ow);
    }
}

void anet_cpu_maxpool_forward(const struct anet_pool_desc *d, const float *x, float *y,
                              int32_t *arg)
{
    int oh = anet_pool_out(d->h, d->size, d->stride);
    int ow = anet_pool_out(d->w, d->size, d->stride);
    long planes = (long)d->n * d->c;
    size_t in = (size_t)d->h * d->w, out = (size_t)oh * ow;
#pragma omp parallel for schedule(static) if (planes * in >= 32768)
    for (long pl = 0; pl < planes; pl++)
        pool_plane(d, oh, ow, x + pl * in, y + pl * out, arg + pl * out);
}

void anet_cpu_maxpool_backward(const struct anet_pool_desc *d, const float *dy,
                               const int32_t *arg, float *dx)
{
    int oh = anet_pool_out(d->h, d->size, d->stride);
    int ow = anet_pool_out(d->w, d->size, d->stride);
    long planes = (long)d->n * d->c;
    size_t in = (size_t)d->h * d->w, out = (size_t)oh * ow;
#pragma omp parallel for schedule(static) if (planes * in >= 32768)
    for (long pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in;
        const float *dyp = dy + pl * out;
        const int32_t *ap = arg + pl * out;
        memset(dxp, 0, in * sizeof *dxp);
        for (size_t o = 0; o < out; o++) dxp[ap[o]] += dyp[o];
    }
}
