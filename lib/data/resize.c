/* Resampling of RGB images: a separable triangle filter, PIL's BILINEAR convention.
 *
 * Output pixel i on an axis of in → out samples has its centre at input coordinate
 * (i + 0.5)·s − 0.5, s = in/out, and weights input pixel j by tri((j − centre)/f),
 * tri(t) = max(0, 1 − |t|), f = max(s, 1), normalised over the pixels inside the image.
 * Enlarging (f = 1) this is bilinear interpolation with the edge pixel repeated; shrinking,
 * the triangle widens with s and averages every input pixel under it (antialiasing).
 *
 * For each output row the vertical pass sums the input rows under its window into one row
 * of floats, and the horizontal pass filters that row, rounding once to 8 bits; a 4-float
 * vector multiply-add handles one tap of all three channels. Every output pixel depends
 * only on its own entry in each axis's table, so any rectangle of the output can be
 * computed alone (anet_image_fit's central crop) and equals the same pixels of the whole
 * resized image exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/image.h"

/* The same ceiling as the decoder's: 768 MiB of RGB. */
#define RESIZE_MAX_PIXELS (1ll << 28)

typedef float v4f __attribute__((vector_size(16)));

/* Filter table of one axis for outputs first .. first + n − 1: output k reads input pixels
 * start[k] .. start[k] + count[k] − 1 with weights w[k·ksize ..]. */
struct axis {
    int n, ksize;
    int *start, *count;
    float *w;
};

static void axis_free(struct axis *a)
{
    free(a->start);
    free(a->count);
    free(a->w);
}

static enum anet_status axis_init(struct axis *a, int in, int out, int first, int n)
{
    double scale = (double)in / out, fs = scale > 1 ? scale : 1, support = fs;
    *a = (struct axis){.n = n, .ksize = (int)ceil(support) * 2 + 1};
    a->start = malloc(sizeof(int) * (size_t)n);
    a->count = malloc(sizeof(int) * (size_t)n);
    a->w = malloc(sizeof(float) * (size_t)n * (size_t)a->ksize);
    double *wd = malloc(sizeof(double) * (size_t)a->ksize);
    if (!a->start || !a->count || !a->w || !wd) {
        axis_free(a);
        free(wd);
        return anet_fail(ANET_ERR_NOMEM, "out of memory for a resize table (%d taps)", n);
    }
    for (int k = 0; k < n; k++) {
        /* In continuous coordinates pixel j spans [j, j+1): the centre is (i + 0.5)·s. */
        double centre = (first + k + 0.5) * scale;
        int lo = (int)floor(centre - support + 0.5), hi = (int)floor(centre + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        double sum = 0;
        for (int j = lo; j < hi; j++) {
            double t = fabs((j + 0.5 - centre) / fs);
            wd[j - lo] = t < 1 ? 1 - t : 0;
            sum += wd[j - lo];
        }
        /* Taps of weight zero (the triangle's ends) cost time and change nothing. */
        int a0 = 0, a1 = hi - lo;
        while (a1 > a0 + 1 && wd[a1 - 1] == 0) a1--;
        while (a0 < a1 - 1 && wd[a0] == 0) a0++;
        a->start[k] = lo + a0;
        a->count[k] = a1 - a0;
        float *w = a->w + (size_t)k * a->ksize;
        /* sum >= 0.5: the input pixel nearest the centre is within 0.5·f of it. */
        for (int j = a0; j < a1; j++) w[j - a0] = (float)(wd[j] / sum);
    }
    free(wd);
    return ANET_OK;
}

/* The vertical pass for one output row: col[i] = Σ_t w[t]·src[t·stride + i], i < m, over the
 * input bytes of the needed columns (m = 3 × their count) straight from the image. */
static void filter_vertical(const uint8_t *src, size_t stride, const float *w, int taps, int m,
                            float *restrict col)
{
    for (int i = 0; i < m; i++) col[i] = w[0] * src[i];
    for (int t = 1; t < taps; t++) {
        const uint8_t *r = src + t * stride;
        float wt = w[t];
        for (int i = 0; i < m; i++) col[i] += wt * r[i];
    }
}

/* Gives every entry of a the same number of taps, the most any entry has, by adding taps of
 * weight zero, moving a window left where it would pass input index hi. A fixed count
 * keeps the horizontal pass free of mispredicted loop exits (it halves its time at
 * 500 → 341) and changes no sum: a zero-weight tap adds an exact 0. Returns the count. */
static int axis_pad(struct axis *a, int hi)
{
    int taps = 1;
    for (int k = 0; k < a->n; k++)
        if (a->count[k] > taps) taps = a->count[k];
    for (int k = 0; k < a->n; k++) {
        float *w = a->w + (size_t)k * a->ksize;
        int shift = a->start[k] + taps > hi ? a->start[k] + taps - hi : 0, n = a->count[k];
        memmove(w + shift, w, sizeof(float) * (size_t)n);
        for (int j = 0; j < shift; j++) w[j] = 0;
        for (int j = shift + n; j < taps; j++) w[j] = 0;
        a->start[k] -= shift;
        a->count[k] = taps;
    }
    return taps;
}

/* The horizontal pass for one output row: col holds RGB floats from input column c0 on;
 * acc gets one vector per output pixel (lane 3 holds the next pixel's red, never used),
 * out the rounded RGB bytes. Called with a constant `taps` so that the tap loop unrolls. */
static inline void filter_horizontal(const float *col, int c0, const struct axis *ax, int taps,
                                     v4f *restrict acc, uint8_t *restrict out)
{
    for (int k = 0; k < ax->n; k++) {
        const float *w = ax->w + (size_t)k * ax->ksize, *p = col + 3 * (ax->start[k] - c0);
        v4f s = {0, 0, 0, 0};
        for (int t = 0; t < taps; t++, p += 3) {
            v4f v;
            memcpy(&v, p, sizeof v); /* unaligned: pixels are 3 floats apart */
            s += w[t] * v;
        }
        acc[k] = s;
    }
    const float *a = (const float *)acc;
    for (int i = 0, o = 0; i < 4 * ax->n; i += 4, o += 3)
        for (int c = 0; c < 3; c++) {
            float v = a[i + c];
            v = v < 0 ? 0 : v > 255 ? 255 : v;
            out[o + c] = (uint8_t)(v + 0.5f);
        }
}

static void filter_horizontal_any(const float *col, int c0, const struct axis *ax, int taps,
                                  v4f *restrict acc, uint8_t *restrict out)
{
    switch (taps) {
    case 1: filter_horizontal(col, c0, ax, 1, acc, out); break;
    case 2: filter_horizontal(col, c0, ax, 2, acc, out); break;
    case 3: filter_horizontal(col, c0, ax, 3, acc, out); break;
    case 4: filter_horizontal(col, c0, ax, 4, acc, out); break;
    case 5: filter_horizontal(col, c0, ax, 5, acc, out); break;
    case 6: filter_horizontal(col, c0, ax, 6, acc, out); break;
    default: filter_horizontal(col, c0, ax, taps, acc, out);
    }
}

/* The pixels [x0, x0+cw) × [y0, y0+ch) of `in` resized to ow × oh, into out (cw × ch).
 * Vertical pass first, one output row at a time: it reads the 8-bit input directly and
 * vectorises along the row, and no intermediate image is ever stored. */
static enum anet_status resample_region(const struct anet_image *in, int ow, int oh, int x0, int y0,
                                        int cw, int ch, struct anet_image *out)
{
    struct axis ax, ay = {0};
    enum anet_status st = axis_init(&ax, in->w, ow, x0, cw);
    if (st) return st;
    st = axis_init(&ay, in->h, oh, y0, ch);
    if (st) {
        axis_free(&ax);
        return st;
    }
    /* The windows move monotonically, so the first and last bound the columns read. The
     * column buffer has one float more: the last pixel's 4-float load reads past its 3. */
    int c0 = ax.start[0], c1 = ax.start[cw - 1] + ax.count[cw - 1], m = 3 * (c1 - c0);
    int taps = axis_pad(&ax, c1);
    float *col = malloc(sizeof(float) * ((size_t)m + 1));
    v4f *acc = malloc(sizeof(v4f) * (size_t)cw); /* malloc aligns to 16, as v4f needs */
    uint8_t *pix = malloc((size_t)cw * ch * 3);
    if (col && acc && pix) {
        col[m] = 0;
        size_t stride = (size_t)in->w * 3;
        for (int k = 0; k < ch; k++) {
            filter_vertical(in->rgb + (size_t)ay.start[k] * stride + 3 * (size_t)c0, stride,
                            ay.w + (size_t)k * ay.ksize, ay.count[k], m, col);
            filter_horizontal_any(col, c0, &ax, taps, acc, pix + (size_t)k * cw * 3);
        }
    } else {
        free(pix);
        st = anet_fail(ANET_ERR_NOMEM, "out of memory resizing to %dx%d", ow, oh);
    }
    axis_free(&ax);
    axis_free(&ay);
    free(col);
    free(acc);
    if (!st) *out = (struct anet_image){.w = cw, .h = ch, .rgb = pix};
    return st;
}

static enum anet_status check_input(const struct anet_image *in, const char *what)
{
    if (!in || !in->rgb || in->w < 1 || in->h < 1)
        return anet_fail(ANET_ERR_INVALID, "%s: the input image is empty (%dx%d)", what,
                         in ? in->w : 0, in ? in->h : 0);
    return ANET_OK;
}

/* The result is built aside and then stored, so out may be in: the old pixels are freed. */
static void store(const struct anet_image *in, struct anet_image *result, struct anet_image *out)
{
    if (out == in) free(out->rgb);
    *out = *result;
}

enum anet_status anet_image_resize(const struct anet_image *in, int w, int h,
                                   struct anet_image *out)
{
    enum anet_status st = check_input(in, "resize");
    if (st) return st;
    if (w < 1 || h < 1 || (long long)w * h > RESIZE_MAX_PIXELS)
        return anet_fail(
            ANET_ERR_INVALID,
            "cannot resize to %dx%d: sides must be >= 1 and the area at most 2^28 pixels", w, h);
    struct anet_image res;
    st = resample_region(in, w, h, 0, 0, w, h, &res);
    if (st) return st;
    store(in, &res, out);
    return ANET_OK;
}

/* The longer side when the shorter goes from `shorter` to `side`, rounded to nearest. */
static long long scale_side(int longer, int shorter, int side)
{
    return ((long long)longer * side * 2 + shorter) / (2LL * shorter);
}

enum anet_status anet_image_fit(const struct anet_image *in, int side, enum anet_fit fit,
                                struct anet_image *out)
{
    enum anet_status st = check_input(in, "fit");
    if (st) return st;
    if (side < 1 || (long long)side * side > RESIZE_MAX_PIXELS)
        return anet_fail(ANET_ERR_INVALID, "fit: side must be 1..16384, got %d", side);
    if (fit == ANET_FIT_SQUASH) return anet_image_resize(in, side, side, out);
    if (fit != ANET_FIT_CROP && fit != ANET_FIT_NONE)
        return anet_fail(ANET_ERR_INVALID, "fit: unknown mode %d", (int)fit);

    long long rw = side, rh = side;
    if (in->w > in->h) rw = scale_side(in->w, in->h, side);
    if (in->h > in->w) rh = scale_side(in->h, in->w, side);
    if (fit == ANET_FIT_NONE) {
        if (rw * rh > RESIZE_MAX_PIXELS)
            return anet_fail(
                ANET_ERR_INVALID,
                "fit: %dx%d with its shorter side at %d would be %lldx%lld, more than 2^28 pixels",
                in->w, in->h, side, rw, rh);
        return anet_image_resize(in, (int)rw, (int)rh, out);
    }
    /* Only the central square is computed; the rest of the rw × rh image never exists. */
    if (rw > (1LL << 30) || rh > (1LL << 30))
        return anet_fail(ANET_ERR_INVALID,
                         "fit: %dx%d is too elongated to scale its shorter side to %d", in->w,
                         in->h, side);
    struct anet_image res;
    st = resample_region(in, (int)rw, (int)rh, (int)((rw - side) / 2), (int)((rh - side) / 2), side,
                         side, &res);
    if (st) return st;
    store(in, &res, out);
    return ANET_OK;
}
