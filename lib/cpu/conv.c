/* Convolution on the CPU: a direct loop nest (the definition) and im2col + OpenBLAS sgemm.
 *
 * Fast path. Images are taken in chunks of nb (conv_geom). For one chunk and one group g,
 * im2col lays the group's input patches out as
 *     col: (cg·kh·kw) × (nb·ohw), row (c, ky, kx), column (image, oy, ox)
 * so that one sgemm per group covers every image of the chunk: conv3-5 have only 13×13 =
 * 169 output pixels an image, too narrow a matrix for sgemm to run at full speed alone.
 * The product is k-major, kg × (nb·ohw), while y is image-major (nb × k × ohw), so it goes
 * through a buffer `out` and is copied into y with the bias added; backward gathers dy into
 * the same layout, and takes db from it on the way. Backward per chunk and group:
 *     dw_g += dy_g · col_gᵀ          (beta = 0 on the first chunk: dw is overwritten)
 *     dcol  = w_gᵀ · dy_g, into the col buffer, then col2im adds it into dx (when wanted)
 *
 * Workspace = col + out = (cg·kh·kw + kg) · nb · ohw floats, where nb is the most images
 * that keep this within CONV_WORK_BUDGET (at least 1, at most n), evened out over the
 * chunks; so it never exceeds the larger of the budget and one image's share. For AlexNet
 * at batch 64 that is 5.3, 7.4, 6.9, 7.4 and 7.2 MiB for conv1-5.
 *
 * The copies are where the time beyond sgemm goes, so they avoid short rows: with stride 1
 * and "same" padding (conv2-5) a tap is a shift of the whole flattened plane, one long
 * copy; otherwise (conv1's stride 4) each input row is split into its stride phases once,
 * after which every tap's output row is a contiguous copy.
 *
 * sgemm is always called outside any OpenMP region: OpenBLAS threads itself. The
 * copies run under OpenMP only where that pays (copies_in_parallel), split so that no two
 * threads ever write the same float. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alexnet/ops.h"

/* 2 Mi floats = 8 MiB. conv3-5 then take 4-6 images a step (sgemm N = 676-1014) and conv1-2
 * 1-2 (N = 3025, 1458): wide enough for sgemm's full rate, small enough that a step's col
 * stays in cache and sgemm does not slow down on very wide matrices. Conv forward+backward
 * at batch 64 on 2 cores, relative to this budget: 1 Mi +4%, 3 Mi +1%, 4 Mi +7%, 8 Mi +30%,
 * 16 Mi +41% (bench/ops_conv.c). */
#ifndef CONV_WORK_BUDGET /* -DCONV_WORK_BUDGET=... to measure others */
#define CONV_WORK_BUDGET ((size_t)2 << 20)
#endif

int anet_conv_out(int in, int kernel, int stride, int pad)
{
    if (in + 2 * pad < kernel) return 0;
    return (in + 2 * pad - kernel) / stride + 1;
}

/* Sizes every function below derives from a descriptor. */
struct conv_geom {
    int oh, ow, ohw;   /* output plane */
    int cg, kg;        /* input and output channels per group */
    int rows;          /* cg·kh·kw: rows of col, columns of a group's weight matrix */
    int chunk;         /* images per im2col/sgemm step */
    int flat;          /* stride 1 and ow == w: a tap shifts the flattened plane */
};

static size_t floats_per_image(const struct conv_geom *g)
{
    return ((size_t)g->rows + (size_t)g->kg) * (size_t)g->ohw;
}

static struct conv_geom conv_geom(const struct anet_conv_desc *d)
{
    struct conv_geom g;
    g.oh = anet_conv_out(d->h, d->kh, d->stride, d->pad);
    g.ow = anet_conv_out(d->w, d->kw, d->stride, d->pad);
    g.ohw = g.oh * g.ow;
    g.cg = d->c / d->groups;
    g.kg = d->k / d->groups;
    g.rows = g.cg * d->kh * d->kw;
    g.flat = d->stride == 1 && g.ow == d->w;
    size_t per = floats_per_image(&g);
    size_t most = per ? CONV_WORK_BUDGET / per : (size_t)d->n;
    if (most < 1) most = 1;
    if (most > (size_t)d->n) most = (size_t)d->n;
    /* the same number of chunks, evened out: 64 at most 40 → 2 × 32, not 40 + 24 */
    int chunks = d->n > 0 ? (int)(((size_t)d->n + most - 1) / most) : 1;
    g.chunk = d->n > 0 ? (d->n + chunks - 1) / chunks : 1;
    return g;
}

/* Enough for any batch of up to d->n images: the chunk of a smaller batch can be larger
 * than the chunk of d->n (evening out splits 64 into 2 × 32 but takes 40 whole), never more
 * than min(n, most) images. */
size_t anet_cpu_conv_workspace(const struct anet_conv_desc *d)
{
    struct conv_geom g = conv_geom(d);
    size_t per = floats_per_image(&g);
    size_t most = per ? CONV_WORK_BUDGET / per : (size_t)d->n;
    if (most < 1) most = 1;
    if (most > (size_t)d->n) most = (size_t)d->n;
    return per * (most > (size_t)g.chunk ? most : (size_t)g.chunk);
}

/* ---- reference ------------------------------------------------------------------------ */

/* y[n][k][oy][ox] = b[k] + Σ_{c<cg, ky, kx} w[k][c][ky][kx] · x[n][g·cg + c][iy][ix]
 * with iy = oy·stride − pad + ky (likewise ix) and x = 0 outside the image. */
void anet_cpu_conv_forward_ref(const struct anet_conv_desc *d, const float *x,
                               const float *w, const float *b, float *y, float *work)
{
    (void)work; /* the loops need none */
    const int oh = anet_conv_out(d->h, d->kh, d->stride, d->pad);
    const int ow = anet_conv_out(d->w, d->kw, d->stride, d->pad);
    const int cg = d->c / d->groups, kg = d->k / d->groups;
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++) {
            const int c0 = k / kg * cg; /* first input channel of k's group */
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = b[k];
                    for (int c = 0; c < cg; c++)
                        for (int ky = 0; ky < d->kh; ky++)
                            for (int kx = 0; kx < d->kw; kx++) {
                                int iy = oy * d->stride - d->pad + ky;
                                int ix = ox * d->stride - d->pad + kx;
                                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                                s += (double)w[(((size_t)k * cg + c) * d->kh + ky) * d->kw + kx] *
                                     x[(((size_t)n * d->c + c0 + c) * d->h + iy) * d->w + ix];
                            }
                    y[(((size_t)n * d->k + k) * oh + oy) * ow + ox] = (float)s;
                }
        }
}

/* db[k] = Σ_{n, oy, ox} dy[n][k][oy][ox] */
static void conv_bias_grad_ref(const struct anet_conv_desc *d, int ohw, const float *dy,
                               float *db)
{
    for (int k = 0; k < d->k; k++) {
        double s = 0;
        for (int n = 0; n < d->n; n++)
            for (int p = 0; p < ohw; p++) s += dy[((size_t)n * d->k + k) * ohw + p];
        db[k] = (float)s;
    }
}

/* dw[k][c][ky][kx] = Σ_{n, oy, ox} dy[n][k][oy][ox] · x[n][g·cg + c][iy][ix] */
static void conv_weight_grad_ref(const struct anet_conv_desc *d, int oh, int ow,
                                 const float *x, const float *dy, float *dw)
{
    const int cg = d->c / d->groups, kg = d->k / d->groups;
    for (int k = 0; k < d->k; k++)
        for (int c = 0; c < cg; c++)
            for (int ky = 0; ky < d->kh; ky++)
                for (int kx = 0; kx < d->kw; kx++) {
                    const int ci = k / kg * cg + c;
                    double s = 0;
                    for (int n = 0; n < d->n; n++)
                        for (int oy = 0; oy < oh; oy++)
                            for (int ox = 0; ox < ow; ox++) {
                                int iy = oy * d->stride - d->pad + ky;
                                int ix = ox * d->stride - d->pad + kx;
                                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                                s += (double)dy[(((size_t)n * d->k + k) * oh + oy) * ow + ox] *
                                     x[(((size_t)n * d->c + ci) * d->h + iy) * d->w + ix];
                            }
                    dw[(((size_t)k * cg + c) * d->kh + ky) * d->kw + kx] = (float)s;
                }
}

/* dx[n][ci][iy][ix] = Σ over the outputs k of ci's group and the taps (ky, kx) that read
 * (iy, ix), i.e. oy = (iy + pad − ky) / stride is whole and inside the output,
 * of dy[n][k][oy][ox] · w[k][ci − g·cg][ky][kx]. */
static void conv_input_grad_ref(const struct anet_conv_desc *d, int oh, int ow,
                                const float *w, const float *dy, float *dx)
{
    const int cg = d->c / d->groups, kg = d->k / d->groups, s = d->stride;
    for (int n = 0; n < d->n; n++)
        for (int ci = 0; ci < d->c; ci++) {
            const int grp = ci / cg, c = ci % cg;
            for (int iy = 0; iy < d->h; iy++)
                for (int ix = 0; ix < d->w; ix++) {
                    double acc = 0;
                    for (int k = grp * kg; k < (grp + 1) * kg; k++)
                        for (int ky = 0; ky < d->kh; ky++)
                            for (int kx = 0; kx < d->kw; kx++) {
                                int ty = iy + d->pad - ky, tx = ix + d->pad - kx;
                                if (ty < 0 || tx < 0 || ty % s || tx % s) continue;
                                int oy = ty / s, ox = tx / s;
                                if (oy >= oh || ox >= ow) continue;
                                acc += (double)dy[(((size_t)n * d->k + k) * oh + oy) * ow + ox] *
                                       w[(((size_t)k * cg + c) * d->kh + ky) * d->kw + kx];
                            }
                    dx[(((size_t)n * d->c + ci) * d->h + iy) * d->w + ix] = (float)acc;
                }
        }
}

void anet_cpu_conv_backward_ref(const struct anet_conv_desc *d, const float *x,
                                const float *w, const float *dy, float *dx, float *dw,
                                float *db, float *work)
{
    (void)work;
    const int oh = anet_conv_out(d->h, d->kh, d->stride, d->pad);
    const int ow = anet_conv_out(d->w, d->kw, d->stride, d->pad);
    if (db) conv_bias_grad_ref(d, oh * ow, dy, db);
    conv_weight_grad_ref(d, oh, ow, x, dy, dw);
    if (dx) conv_input_grad_ref(d, oh, ow, w, dy, dx);
}

/* ---- fast path: im2col + sgemm ---------------------------------------------------------- */

/* OpenBLAS's threading: 0 sequential, 1 pthreads, 2 OpenMP. */
int openblas_get_parallel(void);

/* Whether the copies run on every OpenMP thread or on the calling thread alone. When
 * OpenBLAS is built on OpenMP it shares our thread pool, and parallel copies win (whole
 * training step 4% faster, measured). When it runs its own pthreads, libgomp's idle
 * threads keep spinning for milliseconds after each parallel region and take a core from
 * the sgemm that follows: parallel copies then measured 2.4 times slower overall than
 * serial ones, unless OMP_WAIT_POLICY=passive puts idle threads to sleep at once.
 * libgomp reads the variable at start-up; this reads it per call. ANET_CONV_COPIES=serial
 * or =parallel overrides the choice (the tests run both). */
static int copies_in_parallel(void)
{
    const char *force = getenv("ANET_CONV_COPIES");
    if (force && strcmp(force, "serial") == 0) return 0;
    if (force && strcmp(force, "parallel") == 0) return 1;
    if (openblas_get_parallel() == 2) return 1;
    const char *p = getenv("OMP_WAIT_POLICY");
    return p && strcasecmp(p, "passive") == 0;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The outputs o in [0, n_out) whose input index i = o·stride + off lies in [0, in):
 * [*lo, *hi), empty when *lo == *hi. */
static void valid_outputs(int n_out, int in, int stride, int off, int *lo, int *hi)
{
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int h = in - off <= 0 ? 0 : (in - off - 1) / stride + 1;
    if (h > n_out) h = n_out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

static void zero(float *a, int n)
{
    if (n > 0) memset(a, 0, sizeof(float) * (size_t)n);
}

/* In the flat layout (ow == w), the columns of output rows [ylo, yhi) that a horizontal
 * shift by `shift` wraps round into the neighbouring input row: padding taps. */
static void zero_wrapped(float *row, int w, int ylo, int yhi, int shift)
{
    const int x0 = clampi(shift < 0 ? 0 : w - shift, 0, w);
    const int x1 = clampi(shift < 0 ? -shift : w, 0, w);
    for (int oy = ylo; oy < yhi; oy++)
        for (int x = x0; x < x1; x++) row[(size_t)oy * w + x] = 0;
}

/* A padded input row split into its stride phases: phase r (at phase + r·plen) holds the
 * padded row's elements r, r + s, r + 2s, ..., i.e. src[j·s + r − pad], 0 in the padding. */
static void split_phases(const float *restrict src, int w, int pad, int s, int plen,
                         float *restrict phase)
{
    for (int r = 0; r < s; r++) {
        float *dst = phase + (size_t)r * plen;
        int lo, hi;
        valid_outputs(plen, w, s, r - pad, &lo, &hi);
        for (int j = 0; j < lo; j++) dst[j] = 0;
        for (int j = lo; j < hi; j++) dst[j] = src[j * s + r - pad];
        for (int j = hi; j < plen; j++) dst[j] = 0;
    }
}

/* The inverse: adds each phase element back to the row element it came from; the padding
 * is dropped. */
static void merge_phases(const float *restrict phase, int w, int pad, int s, int plen,
                         float *restrict dst)
{
    for (int r = 0; r < s; r++) {
        const float *src = phase + (size_t)r * plen;
        int lo, hi;
        valid_outputs(plen, w, s, r - pad, &lo, &hi);
        for (int j = lo; j < hi; j++) dst[j * s + r - pad] += src[j];
    }
}

/* Elements of one phase that some tap reads: tap kx = q·s + r reads phase r from element q
 * for ow elements. */
static int phase_len(const struct anet_conv_desc *d, const struct conv_geom *g)
{
    return g->ow + (d->kw - 1) / d->stride;
}

/* The kw rows of col for kernel row ky of one input plane (h × w); row kx (at rows + kx·ld)
 * holds plane[oy·s − pad + ky][ox·s − pad + kx] for every output pixel, 0 in the padding.
 * Any stride and padding: each input row is split into phases once, after which every tap's
 * output row is one contiguous copy (conv1's stride 4 would otherwise gather). Stack use:
 * about w + 2·pad + stride floats. */
static void im2col_taps_rows(const struct anet_conv_desc *d, const struct conv_geom *g,
                             const float *restrict plane, int ky, float *restrict rows,
                             size_t ld)
{
    const int s = d->stride, ow = g->ow, plen = phase_len(d, g);
    float phase[s * plen];
    for (int oy = 0; oy < g->oh; oy++) {
        const int iy = oy * s - d->pad + ky;
        if (iy < 0 || iy >= d->h) {
            for (int kx = 0; kx < d->kw; kx++) zero(rows + (size_t)kx * ld + (size_t)oy * ow, ow);
            continue;
        }
        split_phases(plane + (size_t)iy * d->w, d->w, d->pad, s, plen, phase);
        for (int kx = 0; kx < d->kw; kx++)
            memcpy(rows + (size_t)kx * ld + (size_t)oy * ow,
                   phase + (size_t)(kx % s) * plen + kx / s, sizeof(float) * (size_t)ow);
    }
}

/* The same for stride 1 and ow == w ("same" padding, conv2-5): tap (ky, kx) reads the
 * flattened plane shifted by delta = (ky − pad)·w + kx − pad, so its row is one long copy,
 * followed by zeroing the rows that fall in the padding and the wrapped columns. This is
 * several times faster than copying 13-float rows one at a time. */
static void im2col_taps_flat(const struct anet_conv_desc *d, const struct conv_geom *g,
                             const float *restrict plane, int ky, float *restrict rows,
                             size_t ld)
{
    const int w = d->w, hw = d->h * d->w, ohw = g->ohw;
    int ylo, yhi;
    valid_outputs(g->oh, d->h, 1, ky - d->pad, &ylo, &yhi);
    for (int kx = 0; kx < d->kw; kx++) {
        float *dst = rows + (size_t)kx * ld;
        const int shift = kx - d->pad, delta = (ky - d->pad) * w + shift;
        /* outputs [lo, hi) read inside the plane; the rest is padding */
        const int lo = clampi(-delta, ylo * w, yhi * w);
        const int hi = clampi(hw - delta, lo, yhi * w);
        zero(dst, lo);
        if (hi > lo) memcpy(dst + lo, plane + lo + delta, sizeof(float) * (size_t)(hi - lo));
        zero(dst + hi, ohw - hi);
        zero_wrapped(dst, w, ylo, yhi, shift);
    }
}

/* The inverse of im2col for one plane: OVERWRITES plane (h × w) with the sum of the col
 * entries copied from each of its elements. Per kernel row and output row, the kw tap rows
 * are summed into phases and the phases added back to the input row. */
static void col2im_plane_rows(const struct anet_conv_desc *d, const struct conv_geom *g,
                              const float *restrict col, size_t ld, float *restrict plane)
{
    const int s = d->stride, ow = g->ow, plen = phase_len(d, g);
    float phase[s * plen];
    zero(plane, d->h * d->w);
    for (int ky = 0; ky < d->kh; ky++)
        for (int oy = 0; oy < g->oh; oy++) {
            const int iy = oy * s - d->pad + ky;
            if (iy < 0 || iy >= d->h) continue;
            zero(phase, s * plen);
            for (int kx = 0; kx < d->kw; kx++) {
                const float *src = col + (size_t)(ky * d->kw + kx) * ld + (size_t)oy * ow;
                float *dst = phase + (size_t)(kx % s) * plen + kx / s;
                for (int ox = 0; ox < ow; ox++) dst[ox] += src[ox];
            }
            merge_phases(phase, d->w, d->pad, s, plen, plane + (size_t)iy * d->w);
        }
}

/* The flat inverse: zero the padding taps in col (scratch; their gradient goes nowhere),
 * then add each tap's row to the plane as one long shifted vector. */
static void col2im_plane_flat(const struct anet_conv_desc *d, const struct conv_geom *g,
                              float *restrict col, size_t ld, float *restrict plane)
{
    const int w = d->w, hw = d->h * d->w;
    zero(plane, hw);
    for (int ky = 0; ky < d->kh; ky++) {
        int ylo, yhi;
        valid_outputs(g->oh, d->h, 1, ky - d->pad, &ylo, &yhi);
        for (int kx = 0; kx < d->kw; kx++) {
            float *row = col + (size_t)(ky * d->kw + kx) * ld;
            const int shift = kx - d->pad, delta = (ky - d->pad) * w + shift;
            const int lo = clampi(-delta, ylo * w, yhi * w);
            const int hi = clampi(hw - delta, lo, yhi * w);
            zero_wrapped(row, w, ylo, yhi, shift);
            for (int q = lo; q < hi; q++) plane[q + delta] += row[q];
        }
    }
}

/* x: nb images (nb × c × h × w) → col (rows × nb·ohw) for group grp. One task per
 * (image, channel, kernel row), enough to split even conv1's 3 channels evenly.
 * A worksharing loop: call it inside a parallel region. */
static void im2col_chunk(const struct anet_conv_desc *d, const struct conv_geom *g, int grp,
                         const float *x, int nb, float *col)
{
    const size_t ld = (size_t)nb * g->ohw, plane = (size_t)d->h * d->w;
    const int tasks = nb * g->cg * d->kh;
#pragma omp for schedule(static)
    for (int t = 0; t < tasks; t++) {
        const int i = t / (g->cg * d->kh), c = t / d->kh % g->cg, ky = t % d->kh;
        const float *src = x + ((size_t)i * d->c + (size_t)grp * g->cg + c) * plane;
        float *rows = col + (size_t)((c * d->kh + ky) * d->kw) * ld + (size_t)i * g->ohw;
        if (g->flat) im2col_taps_flat(d, g, src, ky, rows, ld);
        else im2col_taps_rows(d, g, src, ky, rows, ld);
    }
}

/* dcol (rows × nb·ohw, clobbered) of group grp → the group's planes of dx (nb × c × h × w),
 * one task per plane so that no two threads write the same float. Worksharing loop. */
static void col2im_chunk(const struct anet_conv_desc *d, const struct conv_geom *g, int grp,
                         float *col, int nb, float *dx)
{
    const size_t ld = (size_t)nb * g->ohw, plane = (size_t)d->h * d->w;
    const size_t taps = (size_t)d->kh * d->kw;
#pragma omp for schedule(static)
    for (int t = 0; t < nb * g->cg; t++) {
        const int i = t / g->cg, c = t % g->cg;
        float *dst = dx + ((size_t)i * d->c + (size_t)grp * g->cg + c) * plane;
        float *src = col + (size_t)c * taps * ld + (size_t)i * g->ohw;
        if (g->flat) col2im_plane_flat(d, g, src, ld, dst);
        else col2im_plane_rows(d, g, src, ld, dst);
    }
}

/* out (kg × nb·ohw) + b → the group's channels of y (nb × k × ohw). On the calling thread:
 * a parallel region of its own costs more to start (~0.1 ms waking a sleeping thread) than
 * this copy takes. */
static void scatter_bias(const struct anet_conv_desc *d, const struct conv_geom *g, int grp,
                         const float *out, const float *b, int nb, float *y)
{
    const size_t ld = (size_t)nb * g->ohw;
    for (int t = 0; t < nb * g->kg; t++) {
        const int i = t / g->kg, k = t % g->kg;
        const float *src = out + (size_t)k * ld + (size_t)i * g->ohw;
        float *dst = y + ((size_t)i * d->k + (size_t)grp * g->kg + k) * g->ohw;
        const float bias = b[grp * g->kg + k];
        for (int p = 0; p < g->ohw; p++) dst[p] = src[p] + bias;
    }
}

/* The group's channels of dy (nb × k × ohw) → dyg (kg × nb·ohw). Worksharing loop. */
static void gather_dy(const struct anet_conv_desc *d, const struct conv_geom *g, int grp,
                      const float *dy, int nb, float *dyg)
{
    const size_t ld = (size_t)nb * g->ohw;
#pragma omp for schedule(static)
    for (int t = 0; t < nb * g->kg; t++) {
        const int i = t / g->kg, k = t % g->kg;
        memcpy(dyg + (size_t)k * ld + (size_t)i * g->ohw,
               dy + ((size_t)i * d->k + (size_t)grp * g->kg + k) * g->ohw,
               sizeof(float) * (size_t)g->ohw);
    }
}

/* db[grp·kg + k] += Σ_j dyg[k][j]: the bias gradient, taken from the gathered dy while it is
 * in cache. Worksharing loop. */
static void bias_grad_add(const struct conv_geom *g, int grp, const float *dyg, int nb,
                          float *db)
{
    const size_t ld = (size_t)nb * g->ohw;
#pragma omp for schedule(static)
    for (int k = 0; k < g->kg; k++) {
        const float *p = dyg + (size_t)k * ld;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t j = 0; j < ld; j++) s += p[j]; /* in any order: vectorised */
        db[grp * g->kg + k] += s;
    }
}

/* Per chunk and group: im2col, y_g = w_g · col (kg × rows times rows × nb·ohw), then the
 * copy into y. */
void anet_cpu_conv_forward(const struct anet_conv_desc *d, const float *x, const float *w,
                           const float *b, float *y, float *work)
{
    const struct conv_geom g = conv_geom(d);
    const int par = copies_in_parallel();
    float *col = work;                                       /* rows × chunk·ohw */
    float *out = work + (size_t)g.rows * g.chunk * g.ohw;    /* kg × chunk·ohw */
    const size_t xs = (size_t)d->c * d->h * d->w, ys = (size_t)d->k * g.ohw;
    if (g.ohw == 0) return; /* empty output: nothing to compute */
    for (int n0 = 0; n0 < d->n; n0 += g.chunk) {
        const int nb = d->n - n0 < g.chunk ? d->n - n0 : g.chunk;
        const int cols = nb * g.ohw;
        for (int grp = 0; grp < d->groups; grp++) {
            const float *wg = w + (size_t)grp * g.kg * g.rows;  /* kg × rows */
#pragma omp parallel if (par)
            im2col_chunk(d, &g, grp, x + n0 * xs, nb, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.kg, cols, g.rows, 1.0f,
                        wg, g.rows, col, cols, 0.0f, out, cols);
            scatter_bias(d, &g, grp, out, b, nb, y + n0 * ys);
        }
    }
}

/* Per chunk and group: dw_g += dy_g · col_gᵀ, then (when dx is wanted) dcol = w_gᵀ · dy_g
 * into the col buffer, which dw no longer needs, and col2im of it into dx. */
void anet_cpu_conv_backward(const struct anet_conv_desc *d, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db, float *work)
{
    const struct conv_geom g = conv_geom(d);
    const int par = copies_in_parallel();
    float *col = work;                                       /* rows × chunk·ohw */
    float *dyg = work + (size_t)g.rows * g.chunk * g.ohw;    /* kg × chunk·ohw */
    const size_t xs = (size_t)d->c * d->h * d->w, ys = (size_t)d->k * g.ohw;
    if (db) memset(db, 0, sizeof(float) * (size_t)d->k);
    if (d->n == 0 || g.ohw == 0) { /* no output: every gradient is zero */
        memset(dw, 0, sizeof(float) * (size_t)d->k * g.rows);
        if (dx) memset(dx, 0, sizeof(float) * (size_t)d->n * xs);
        return;
    }
    for (int n0 = 0; n0 < d->n; n0 += g.chunk) {
        const int nb = d->n - n0 < g.chunk ? d->n - n0 : g.chunk;
        const int cols = nb * g.ohw;
        const float beta = n0 == 0 ? 0.0f : 1.0f; /* the first chunk overwrites dw */
        for (int grp = 0; grp < d->groups; grp++) {
            const float *wg = w + (size_t)grp * g.kg * g.rows;  /* kg × rows */
            float *dwg = dw + (size_t)grp * g.kg * g.rows;
#pragma omp parallel if (par)
            {
                im2col_chunk(d, &g, grp, x + n0 * xs, nb, col);
                gather_dy(d, &g, grp, dy + n0 * ys, nb, dyg);
                if (db) bias_grad_add(&g, grp, dyg, nb, db);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.kg, g.rows, cols, 1.0f,
                        dyg, cols, col, cols, beta, dwg, g.rows);
            if (!dx) continue;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.rows, cols, g.kg, 1.0f,
                        wg, g.rows, dyg, cols, 0.0f, col, cols);
#pragma omp parallel if (par)
            col2im_chunk(d, &g, grp, col, nb, dx + n0 * xs);
        }
    }
}
