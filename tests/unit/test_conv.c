/* Convolution: hand-computed cases that pin the convention, the fast path (im2col + sgemm)
 * against the reference on many shapes, and finite-difference gradient checks.
 *
 * Gradient checks run in double precision: a float forward is too coarse for a central
 * difference (its rounding, ~1e-7·|y|, divided by 2·eps swamps the derivative). So this
 * file has its own double forward, conv_forward_d, written independently of the library
 * (it walks the output taps of each input element rather than the input window of each
 * output); it is first checked equal to the float reference forward, then differentiated
 * numerically and compared with the library's float backward. */
#include <string.h>
#include "alexnet/ops.h"
#include "test.h"

/* Fast vs reference, float against a double-accumulated reference: sgemm's float sums over
 * up to a few thousand terms stay well within 1e-5 of the data's magnitude. */
#define TOL_FAST 1e-5
/* Double forward vs float reference forward: only the float rounding of y. */
#define TOL_DOUBLE_FWD 1e-5
/* Central differences (exact for this bilinear loss up to double rounding) against the float
 * backward: float rounding of the analytic sums. */
#define TOL_GRAD 1e-4
#define FD_EPS 1e-6

static size_t x_count(const struct anet_conv_desc *d)
{
    return (size_t)d->n * d->c * d->h * d->w;
}
static size_t w_count(const struct anet_conv_desc *d)
{
    return (size_t)d->k * (d->c / d->groups) * d->kh * d->kw;
}
static size_t y_count(const struct anet_conv_desc *d)
{
    return (size_t)d->n * d->k * anet_conv_out(d->h, d->kh, d->stride, d->pad) *
           anet_conv_out(d->w, d->kw, d->stride, d->pad);
}
static void fill_nan(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = NAN;
}
static const char *desc_str(const struct anet_conv_desc *d)
{
    static char s[128];
    snprintf(s, sizeof s, "n%d c%d %dx%d k%d %dx%d s%d p%d g%d", d->n, d->c, d->h, d->w, d->k,
             d->kh, d->kw, d->stride, d->pad, d->groups);
    return s;
}

/* ---- hand-computed cases -------------------------------------------------------------- */

/* Runs forward and backward, reference and fast, and compares all with the given answers
 * exactly (small integers are exact in float). dy is all ones. */
static void check_by_hand(const char *what, const struct anet_conv_desc *d, const float *x,
                          const float *w, const float *b, const float *y_want,
                          const float *dx_want, const float *dw_want, const float *db_want)
{
    size_t nx = x_count(d), nw = w_count(d), ny = y_count(d);
    float *work = t_alloc(anet_cpu_conv_workspace(d));
    float *y = t_alloc(ny), *dy = t_alloc(ny), *dx = t_alloc(nx), *dw = t_alloc(nw);
    float *db = t_alloc(d->k);
    for (size_t i = 0; i < ny; i++) dy[i] = 1;
    for (int fast = 0; fast < 2; fast++) {
        fill_nan(y, ny);
        if (fast) anet_cpu_conv_forward(d, x, w, b, y, work);
        else anet_cpu_conv_forward_ref(d, x, w, b, y, NULL);
        T_OK(memcmp(y, y_want, ny * sizeof *y) == 0, "%s: %s forward (y[0] = %g)", what,
             fast ? "fast" : "ref", y[0]);
        if (!dx_want) continue;
        fill_nan(dx, nx), fill_nan(dw, nw), fill_nan(db, d->k);
        if (fast) anet_cpu_conv_backward(d, x, w, dy, dx, dw, db, work);
        else anet_cpu_conv_backward_ref(d, x, w, dy, dx, dw, db, NULL);
        T_OK(memcmp(dx, dx_want, nx * sizeof *dx) == 0 &&
                 memcmp(dw, dw_want, nw * sizeof *dw) == 0 &&
                 memcmp(db, db_want, d->k * sizeof *db) == 0,
             "%s: %s backward (dx[4] = %g, dw[0] = %g, db[0] = %g)", what,
             fast ? "fast" : "ref", dx[4], dw[0], db[0]);
    }
    free(work), free(y), free(dy), free(dx), free(dw), free(db);
}

static void test_by_hand(void)
{
    /* x = 1 2 3   w = 1 2   cross-correlation, not convolution: y[0][0] = 1·1 + 2·2 +
     *     4 5 6       3 4   4·3 + 5·4 = 37 (+ b); a flipped kernel would give 23.
     *     7 8 9 */
    static const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4}, b[1] = {0.5f};
    struct anet_conv_desc d = {1, 1, 3, 3, 1, 2, 2, 1, 0, 1};
    /* with dy = 1: dw sums each tap's window of x, dx counts each tap's uses times w */
    static const float y[4] = {37.5f, 47.5f, 67.5f, 77.5f};
    static const float dx[9] = {1, 3, 2, 4, 10, 6, 3, 7, 4}, dw[4] = {12, 16, 24, 28};
    static const float db[1] = {4};
    check_by_hand("1ch 3x3 * 2x2", &d, x, w, b, y, dx, dw, db);

    /* the same with pad 1, stride 2: output 2×2, windows start at (−1, −1), (−1, 1), ... */
    struct anet_conv_desc dp = {1, 1, 3, 3, 1, 2, 2, 2, 1, 1};
    static const float yp[4] = {4.5f, 18.5f, 36.5f, 77.5f};
    static const float dxp[9] = {4, 3, 4, 2, 1, 2, 4, 3, 4}, dwp[4] = {5, 10, 10, 20};
    static const float dbp[1] = {4};
    check_by_hand("1ch 3x3 * 2x2 pad 1 stride 2", &dp, x, w, b, yp, dxp, dwp, dbp);

    /* weight layout k × c × kh × kw: 2 inputs, a 1×2 kernel, 2 outputs over 1×2 images:
     * y[k] = w[k][0][0][0]·x0[0] + w[k][0][0][1]·x0[1] + w[k][1][0][0]·x1[0] + w[k][1][0][1]·x1[1] */
    static const float xl[4] = {1, 2, 10, 20};
    static const float wl[8] = {1, 0, 0, 0, 0, 0, 0, 1}, bl[2] = {0, 0};
    static const float yl[2] = {1, 20};
    struct anet_conv_desc dl = {1, 2, 1, 2, 2, 1, 2, 1, 0, 1};
    check_by_hand("weight layout k x c x kh x kw", &dl, xl, wl, bl, yl, NULL, NULL, NULL);

    /* groups: 4 inputs, 2 outputs, groups 2, 1×1 kernels w = (w0: c0 c1), (w1: c2 c3) */
    static const float xg[4] = {1, 2, 3, 4}, wg[4] = {1, 10, 100, 1000}, bg[2] = {0, 0};
    static const float yg[2] = {1 + 20, 300 + 4000};
    struct anet_conv_desc dg = {1, 4, 1, 1, 2, 1, 1, 1, 0, 2};
    check_by_hand("group g reads channels [g c/G, (g+1) c/G)", &dg, xg, wg, bg, yg, NULL, NULL,
                  NULL);

    T_OK(anet_conv_out(227, 11, 4, 0) == 55 && anet_conv_out(27, 5, 1, 2) == 27 &&
             anet_conv_out(13, 3, 1, 1) == 13 && anet_conv_out(8, 3, 2, 0) == 3 &&
             anet_conv_out(2, 5, 1, 1) == 0,
         "anet_conv_out: 227/11/4/0 -> 55, 27/5/1/2 -> 27, 8/3/2/0 -> 3, too small -> 0");
}

/* ---- fast vs reference --------------------------------------------------------------- */

#define GUARD 64 /* floats past the workspace that must stay untouched */

static void test_fast_vs_ref(const struct anet_conv_desc *d)
{
    size_t nx = x_count(d), nw = w_count(d), ny = y_count(d);
    size_t nwork = anet_cpu_conv_workspace(d);
    float *x = t_alloc(nx), *w = t_alloc(nw), *b = t_alloc(d->k), *dy = t_alloc(ny);
    float *y0 = t_alloc(ny), *y1 = t_alloc(ny), *work = t_alloc(nwork + GUARD);
    float *dx0 = t_alloc(nx), *dw0 = t_alloc(nw), *db0 = t_alloc(d->k);
    float *dx1 = t_alloc(nx), *dw1 = t_alloc(nw), *db1 = t_alloc(d->k);
    t_fill(x, nx, -1, 1), t_fill(w, nw, -1, 1), t_fill(b, d->k, -1, 1), t_fill(dy, ny, -1, 1);
    /* the workspace starts as NaN, so reading what was not written shows in the results */
    fill_nan(work, nwork);
    for (int i = 0; i < GUARD; i++) work[nwork + i] = 12345.0f;

    anet_cpu_conv_forward_ref(d, x, w, b, y0, NULL);
    fill_nan(y1, ny);
    anet_cpu_conv_forward(d, x, w, b, y1, work);
    double e = t_rel_err(y1, y0, ny);
    T_OK(e < TOL_FAST, "%s: forward fast == ref, rel err %.3g", desc_str(d), e);

    /* outputs start as NaN: backward must overwrite, not accumulate */
    anet_cpu_conv_backward_ref(d, x, w, dy, dx0, dw0, db0, NULL);
    fill_nan(dx1, nx), fill_nan(dw1, nw), fill_nan(db1, d->k), fill_nan(work, nwork);
    anet_cpu_conv_backward(d, x, w, dy, dx1, dw1, db1, work);
    double ex = t_rel_err(dx1, dx0, nx), ew = t_rel_err(dw1, dw0, nw);
    double eb = t_rel_err(db1, db0, d->k);
    T_OK(ex < TOL_FAST && ew < TOL_FAST && eb < TOL_FAST,
         "%s: backward fast == ref, rel err dx %.3g dw %.3g db %.3g", desc_str(d), ex, ew, eb);

    /* without dx and db (conv1 needs no dx): dw alone, the same values */
    fill_nan(dw1, nw), fill_nan(work, nwork);
    anet_cpu_conv_backward(d, x, w, dy, NULL, dw1, NULL, work);
    double ew1 = t_rel_err(dw1, dw0, nw);
    float *dw2 = t_alloc(nw);
    anet_cpu_conv_backward_ref(d, x, w, dy, NULL, dw2, NULL, NULL);
    double ew2 = t_rel_err(dw2, dw0, nw);
    T_OK(ew1 < TOL_FAST && ew2 == 0, "%s: backward dx = db = NULL, dw rel err fast %.3g ref %.3g",
         desc_str(d), ew1, ew2);

    int guard_ok = 1;
    for (int i = 0; i < GUARD; i++) guard_ok &= work[nwork + i] == 12345.0f;
    T_OK(guard_ok, "%s: nothing written past the %zu-float workspace", desc_str(d), nwork);

    free(x), free(w), free(b), free(dy), free(y0), free(y1), free(work), free(dw2);
    free(dx0), free(dw0), free(db0), free(dx1), free(dw1), free(db1);
}

/* A shape big enough that the fast path takes the batch in several chunks, the last one
 * shorter, checked against the workspace size so the test notices if it stops doing so. */
static void test_fast_chunks(void)
{
    struct anet_conv_desc d = {5, 128, 37, 37, 4, 3, 3, 1, 1, 2};
    size_t per_image = (size_t)(64 * 9 + 2) * 37 * 37; /* (cg·kh·kw + kg) · ohw */
    size_t chunk = anet_cpu_conv_workspace(&d) / per_image;
    T_OK(chunk >= 2 && chunk < (size_t)d.n && d.n % chunk != 0,
         "%s: fast path takes %zu images at a time", desc_str(&d), chunk);
    test_fast_vs_ref(&d);
}

static void test_fast_shapes(const char *copies)
{
    static const struct anet_conv_desc shapes[] = {
        /* n  c   h   w   k kh kw  s  p  g */
        {1, 3, 13, 13, 4, 3, 3, 1, 1, 1},   /* conv3-like, odd side */
        {2, 4, 7, 9, 6, 3, 2, 2, 1, 2},     /* non-square input and kernel, stride 2 */
        {3, 6, 11, 10, 6, 5, 5, 1, 2, 3},   /* conv2-like, three groups */
        {5, 8, 9, 9, 8, 3, 3, 1, 1, 4},     /* four groups of two */
        {4, 3, 23, 23, 5, 11, 11, 4, 0, 1}, /* conv1-like, stride 4 */
        {2, 4, 8, 8, 4, 1, 1, 1, 0, 2},     /* 1×1 kernels */
        {3, 2, 5, 6, 3, 5, 6, 1, 0, 1},     /* kernel as large as the input: 1×1 output */
        {2, 2, 3, 3, 2, 5, 5, 1, 2, 1},     /* kernel larger than the input, saved by padding */
        {2, 2, 10, 7, 2, 4, 3, 3, 2, 1},    /* stride 3 with pad 2 */
        {1, 1, 1, 1, 1, 1, 1, 1, 0, 1},     /* the smallest */
        {3, 4, 6, 6, 2, 3, 3, 2, 2, 2},     /* pad bigger than needed: all-zero border taps */
        {2, 4, 6, 7, 4, 5, 3, 1, 1, 2},     /* ow == w but oh != h */
        {2, 2, 5, 1, 2, 3, 3, 1, 1, 1},     /* one column: every horizontal tap wraps */
        {1, 2, 2, 2, 2, 3, 3, 1, 0, 1},     /* kernel larger than the input: empty output */
    };
    /* the fast path reads ANET_CONV_COPIES on every call, so setting it here runs the same
     * shapes with serial and with parallel copies */
    setenv("ANET_CONV_COPIES", copies ? "parallel" : "serial", 1);
    printf("# copies %s\n", copies ? "in parallel" : "serial");
    t_seed(1);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_fast_vs_ref(&shapes[i]);
    test_fast_chunks();
}

/* ---- finite-difference gradient check in double ---------------------------------------- */

/* y = conv(x, w) + b in double, by scattering each input element into the outputs whose
 * window covers it: y[n][k][oy][ox] += x[n][ci][iy][ix] · w[k][ci − g·cg][iy − oy·s + p][...] */
static void conv_forward_d(const struct anet_conv_desc *d, const double *x, const double *w,
                           const double *b, double *y)
{
    const int oh = anet_conv_out(d->h, d->kh, d->stride, d->pad);
    const int ow = anet_conv_out(d->w, d->kw, d->stride, d->pad);
    const int cg = d->c / d->groups, kg = d->k / d->groups;
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++)
            for (int p = 0; p < oh * ow; p++) y[((size_t)n * d->k + k) * oh * ow + p] = b[k];
    for (int n = 0; n < d->n; n++)
        for (int ci = 0; ci < d->c; ci++)
            for (int iy = 0; iy < d->h; iy++)
                for (int ix = 0; ix < d->w; ix++) {
                    double v = x[(((size_t)n * d->c + ci) * d->h + iy) * d->w + ix];
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++) {
                            int ky = iy - oy * d->stride + d->pad;
                            int kx = ix - ox * d->stride + d->pad;
                            if (ky < 0 || ky >= d->kh || kx < 0 || kx >= d->kw) continue;
                            int g = ci / cg;
                            for (int k = g * kg; k < (g + 1) * kg; k++)
                                y[(((size_t)n * d->k + k) * oh + oy) * ow + ox] +=
                                    v * w[(((size_t)k * cg + ci % cg) * d->kh + ky) * d->kw + kx];
                        }
                }
}

/* L = Σ y·r */
static double loss_d(const struct anet_conv_desc *d, const double *x, const double *w,
                     const double *b, const double *r, double *y)
{
    conv_forward_d(d, x, w, b, y);
    double s = 0;
    for (size_t i = 0; i < y_count(d); i++) s += y[i] * r[i];
    return s;
}

/* dL/dp for every element of p (one of x, w, b) by central differences. */
static void numeric_grad(const struct anet_conv_desc *d, double *x, double *w, double *b,
                         const double *r, double *p, size_t np, double *grad, double *y)
{
    for (size_t i = 0; i < np; i++) {
        double keep = p[i];
        p[i] = keep + FD_EPS;
        double lp = loss_d(d, x, w, b, r, y);
        p[i] = keep - FD_EPS;
        double lm = loss_d(d, x, w, b, r, y);
        p[i] = keep;
        grad[i] = (lp - lm) / (2 * FD_EPS);
    }
}

static void test_gradcheck(const struct anet_conv_desc *d)
{
    size_t nx = x_count(d), nw = w_count(d), ny = y_count(d);
    float *x = t_alloc(nx), *w = t_alloc(nw), *b = t_alloc(d->k), *r = t_alloc(ny);
    float *y = t_alloc(ny), *dx = t_alloc(nx), *dw = t_alloc(nw), *db = t_alloc(d->k);
    float *work = t_alloc(anet_cpu_conv_workspace(d));
    t_fill(x, nx, -1, 1), t_fill(w, nw, -1, 1), t_fill(b, d->k, -1, 1), t_fill(r, ny, -1, 1);
    double *xd = t_to_double(x, nx), *wd = t_to_double(w, nw), *bd = t_to_double(b, d->k);
    double *rd = t_to_double(r, ny), *yd = malloc(sizeof(double) * ny);
    double *gx = malloc(sizeof(double) * nx), *gw = malloc(sizeof(double) * nw);
    double *gb = malloc(sizeof(double) * d->k);
    if (!yd || !gx || !gw || !gb) abort();

    anet_cpu_conv_forward_ref(d, x, w, b, y, NULL);
    conv_forward_d(d, xd, wd, bd, yd);
    double ef = t_rel_err_fd(y, yd, ny);
    T_OK(ef < TOL_DOUBLE_FWD, "%s: double forward == float reference forward, rel err %.3g",
         desc_str(d), ef);

    numeric_grad(d, xd, wd, bd, rd, xd, nx, gx, yd);
    numeric_grad(d, xd, wd, bd, rd, wd, nw, gw, yd);
    numeric_grad(d, xd, wd, bd, rd, bd, d->k, gb, yd);
    for (int fast = 0; fast < 2; fast++) {
        fill_nan(dx, nx), fill_nan(dw, nw), fill_nan(db, d->k);
        if (fast) anet_cpu_conv_backward(d, x, w, r, dx, dw, db, work);
        else anet_cpu_conv_backward_ref(d, x, w, r, dx, dw, db, NULL);
        double ex = t_rel_err_fd(dx, gx, nx), ew = t_rel_err_fd(dw, gw, nw);
        double eb = t_rel_err_fd(db, gb, d->k);
        T_OK(ex < TOL_GRAD && ew < TOL_GRAD && eb < TOL_GRAD,
             "%s: %s backward == central differences (all %zu + %zu + %d), rel err dx %.3g "
             "dw %.3g db %.3g",
             desc_str(d), fast ? "fast" : "ref", nx, nw, d->k, ex, ew, eb);
    }
    free(x), free(w), free(b), free(r), free(y), free(dx), free(dw), free(db), free(work);
    free(xd), free(wd), free(bd), free(rd), free(yd), free(gx), free(gw), free(gb);
}

/* The workspace sized for a model's largest batch must hold any smaller one: evening out
 * the chunks takes 43 images whole but splits 64 into 2 x 32. */
static void test_smaller_batches(void)
{
    struct anet_conv_desc max = {64, 128, 9, 9, 32, 3, 3, 1, 1, 2};
    size_t nwork = anet_cpu_conv_workspace(&max);
    float *work = t_alloc(nwork + GUARD);
    float *x = t_alloc((size_t)64 * 128 * 81), *w = t_alloc((size_t)32 * 64 * 9);
    float *b = t_alloc(32), *y = t_alloc((size_t)64 * 32 * 81);
    float *dy = t_alloc((size_t)64 * 32 * 81), *dx = t_alloc((size_t)64 * 128 * 81);
    float *dw = t_alloc((size_t)32 * 64 * 9), *db = t_alloc(32);
    t_fill(x, (size_t)64 * 128 * 81, -1, 1), t_fill(w, (size_t)32 * 64 * 9, -1, 1), t_fill(b, 32, -1, 1);
    t_fill(dy, (size_t)64 * 32 * 81, -1, 1);
    int ok = 1;
    for (int n = 1; n <= 64; n++) {
        struct anet_conv_desc d = max;
        d.n = n;
        ok &= anet_cpu_conv_workspace(&d) <= nwork;
        for (int i = 0; i < GUARD; i++) work[nwork + i] = 12345.0f;
        anet_cpu_conv_forward(&d, x, w, b, y, work);
        anet_cpu_conv_backward(&d, x, w, dy, dx, dw, db, work);
        for (int i = 0; i < GUARD; i++) ok &= work[nwork + i] == 12345.0f;
    }
    T_OK(ok, "%s: every batch of 1..64 fits the workspace of 64", desc_str(&max));
    free(work), free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
}

int main(void)
{
    test_by_hand();
    test_fast_shapes(NULL);
    test_fast_shapes("passive");
    test_smaller_batches();
    t_seed(3);
    /*                                     n  c  h  w  k kh kw  s  p  g */
    test_gradcheck(&(struct anet_conv_desc){2, 4, 7, 6, 4, 3, 2, 2, 1, 2});
    test_gradcheck(&(struct anet_conv_desc){2, 3, 5, 5, 6, 3, 3, 1, 2, 3});
    test_gradcheck(&(struct anet_conv_desc){2, 4, 6, 5, 2, 3, 3, 1, 1, 2});
    return t_done();
}
