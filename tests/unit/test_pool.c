/* Max pooling: output sizes, tie-breaking, fast == reference bit for bit, and a
 * finite-difference gradient check (in double, on inputs whose values are all distinct and
 * far apart compared with eps, so that no perturbation moves a maximum). */
#include <string.h>
#include "alexnet/ops.h"
#include "test.h"

static void test_pool_out(void)
{
    int a = 55, b = 55, ok = 1;
    const int want[3] = {27, 13, 6};
    for (int i = 0; i < 3; i++) {
        a = anet_pool_out(a, 3, 2), b = anet_pool_out(b, 2, 2);
        ok &= a == want[i] && b == want[i];
    }
    T_OK(ok, "pool 3/2 and 2/2 both give 55 -> 27 -> 13 -> 6");
    T_OK(anet_pool_out(2, 3, 2) == 0 && anet_pool_out(3, 3, 2) == 1 &&
             anet_pool_out(4, 3, 2) == 1 && anet_pool_out(5, 3, 2) == 2,
         "pool output: 0 when the input is smaller than the window, floor otherwise");
}

/* One 3x3 plane, one window: the first maximum in row-major order wins. */
static void test_pool_ties(void)
{
    const struct anet_pool_desc d = {1, 1, 3, 3, 3, 2};
    const float x[9] = {1, 7, 2, 7, 3, 7, 0, 7, 5};
    const float flat[9] = {4, 4, 4, 4, 4, 4, 4, 4, 4};
    float y;
    int32_t arg, arg_fast;
    anet_cpu_maxpool_forward_ref(&d, x, &y, &arg);
    anet_cpu_maxpool_forward(&d, x, &y, &arg_fast);
    T_OK(y == 7 && arg == 1 && arg_fast == 1, "ties: max 7 at offset %d (fast %d), want 1",
         arg, arg_fast);
    anet_cpu_maxpool_forward_ref(&d, flat, &y, &arg);
    anet_cpu_maxpool_forward(&d, flat, &y, &arg_fast);
    T_OK(arg == 0 && arg_fast == 0, "constant window: offset %d (fast %d), want 0", arg,
         arg_fast);

    /* overlapping windows share a column: its maximum receives both gradients */
    const struct anet_pool_desc d2 = {1, 1, 3, 5, 3, 2};
    const float x2[15] = {0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const float dy[2] = {0.25f, 0.5f};
    float y2[2], dx[15];
    int32_t a2[2];
    anet_cpu_maxpool_forward_ref(&d2, x2, y2, a2);
    anet_cpu_maxpool_backward_ref(&d2, dy, a2, dx);
    float sum = 0;
    for (int i = 0; i < 15; i++) sum += dx[i];
    T_OK(a2[0] == 2 && a2[1] == 2 && dx[2] == 0.75f && sum == 0.75f,
         "shared maximum receives the sum of its outputs' gradients (%g)", dx[2]);
}

struct pool_case { int n, c, h, w, size, stride, levels; };

/* Fast == reference exactly: the same comparisons in the same order, and the same sums in
 * the same order. levels > 0 quantises the input to that many values so that ties are
 * common and the tie rule is exercised. */
static void test_pool_fast_vs_ref(void)
{
    static const struct pool_case cases[] = {
        {1, 7, 55, 55, 3, 2, 0},  {3, 7, 55, 55, 2, 2, 0}, {5, 7, 55, 55, 3, 2, 4},
        {2, 7, 55, 55, 2, 2, 3},  {4, 5, 13, 13, 3, 2, 0}, {2, 7, 6, 9, 3, 2, 0},
        {5, 3, 6, 9, 2, 2, 2},    {1, 96, 27, 27, 3, 2, 0}, {2, 4, 13, 13, 3, 1, 3},
        {1, 3, 7, 10, 3, 3, 0},   {1, 2, 227, 131, 3, 2, 0}, {2, 3, 9, 160, 2, 2, 3},
        {1, 2, 5, 3, 3, 2, 0},
    };
    t_seed(2);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct pool_case *t = &cases[k];
        const struct anet_pool_desc d = {t->n, t->c, t->h, t->w, t->size, t->stride};
        int oh = anet_pool_out(t->h, t->size, t->stride);
        int ow = anet_pool_out(t->w, t->size, t->stride);
        size_t in = (size_t)t->n * t->c * t->h * t->w, out = (size_t)t->n * t->c * oh * ow;
        float *x = t_alloc(in), *dy = t_alloc(out), *y0 = t_alloc(out), *y1 = t_alloc(out);
        float *dx0 = t_alloc(in), *dx1 = t_alloc(in);
        int32_t *a0 = calloc(out, sizeof *a0), *a1 = calloc(out, sizeof *a1);
        t_fill(x, in, -1, 1);
        if (t->levels)
            for (size_t i = 0; i < in; i++) x[i] = floorf((x[i] + 1) / 2 * t->levels);
        t_fill(dy, out, -1, 1);
        anet_cpu_maxpool_forward_ref(&d, x, y0, a0);
        anet_cpu_maxpool_forward(&d, x, y1, a1);
        anet_cpu_maxpool_backward_ref(&d, dy, a0, dx0);
        memset(dx1, 0xff, in * sizeof *dx1); /* NaN: the backward must overwrite */
        anet_cpu_maxpool_backward(&d, dy, a0, dx1);
        T_OK(memcmp(y0, y1, out * sizeof *y0) == 0 && memcmp(a0, a1, out * sizeof *a0) == 0,
             "maxpool fast == ref forward (values and argmax), %dx%dx%dx%d %d/%d%s", t->n,
             t->c, t->h, t->w, t->size, t->stride, t->levels ? ", many ties" : "");
        T_OK(memcmp(dx0, dx1, in * sizeof *dx0) == 0,
             "maxpool fast == ref backward, %dx%dx%dx%d %d/%d", t->n, t->c, t->h, t->w,
             t->size, t->stride);
        free(x), free(dy), free(y0), free(y1), free(dx0), free(dx1), free(a0), free(a1);
    }
}

/* Max pooling in double, for the finite differences: y only. */
static void maxpool_forward_d(const struct anet_pool_desc *d, const double *x, double *y)
{
    int oh = anet_pool_out(d->h, d->size, d->stride);
    int ow = anet_pool_out(d->w, d->size, d->stride);
    for (int pl = 0; pl < d->n * d->c; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double m = -INFINITY;
                for (int ky = 0; ky < d->size; ky++)
                    for (int kx = 0; kx < d->size; kx++)
                        m = fmax(m, x[((size_t)pl * d->h + oy * d->stride + ky) * d->w +
                                      ox * d->stride + kx]);
                y[((size_t)pl * oh + oy) * ow + ox] = m;
            }
}

/* Central differences of L = Σ y·r against the float reference backward, every input.
 * The inputs are a shuffled ramp 0.01 apart, so eps = 1e-6 moves no maximum. The gradient
 * is a sum of at most 4 float r values (3/2 windows overlap), so 1e-6 relative. */
static void gradcheck_pool(int n, int c, int h, int w, int size, int stride)
{
    const struct anet_pool_desc d = {n, c, h, w, size, stride};
    int oh = anet_pool_out(h, size, stride), ow = anet_pool_out(w, size, stride);
    size_t in = (size_t)n * c * h * w, out = (size_t)n * c * oh * ow;
    float *x = t_alloc(in), *y = t_alloc(out), *r = t_alloc(out), *dx = t_alloc(in);
    int32_t *arg = calloc(out, sizeof *arg);
    double *xd = malloc(in * sizeof *xd), *yd = malloc(out * sizeof *yd);
    for (size_t i = 0; i < in; i++) x[i] = 0.01f * (float)i;
    for (size_t i = in - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)t_uniform(0, (double)(i + 1));
        float tmp = x[i];
        x[i] = x[j], x[j] = tmp;
    }
    t_fill(r, out, -1, 1);
    anet_cpu_maxpool_forward_ref(&d, x, y, arg);
    anet_cpu_maxpool_backward_ref(&d, r, arg, dx);
    for (size_t i = 0; i < in; i++) xd[i] = x[i];
    maxpool_forward_d(&d, xd, yd);
    int same = 1;
    for (size_t i = 0; i < out; i++) same &= yd[i] == (double)y[i];
    T_OK(same, "maxpool double forward == float ref, %dx%dx%dx%d %d/%d", n, c, h, w, size,
         stride);

    const double eps = 1e-6;
    double err = 0, gmax = 0;
    for (size_t e = 0; e < in; e++) {
        double loss[2];
        for (int s = 0; s < 2; s++) {
            xd[e] = x[e] + (s ? -eps : eps);
            maxpool_forward_d(&d, xd, yd);
            loss[s] = 0;
            for (size_t i = 0; i < out; i++) loss[s] += yd[i] * r[i];
        }
        xd[e] = x[e];
        double fd = (loss[0] - loss[1]) / (2 * eps);
        err = fmax(err, fabs(fd - dx[e]));
        gmax = fmax(gmax, fabs(fd));
    }
    T_OK(err / gmax < 1e-6, "maxpool gradient == central differences, %dx%dx%dx%d %d/%d: %.2g",
         n, c, h, w, size, stride, err / gmax);
    free(x), free(y), free(r), free(dx), free(arg), free(xd), free(yd);
}

int main(void)
{
    test_pool_out();
    test_pool_ties();
    test_pool_fast_vs_ref();
    t_seed(9);
    gradcheck_pool(2, 3, 7, 7, 3, 2);
    gradcheck_pool(1, 2, 6, 9, 3, 2);
    gradcheck_pool(2, 3, 6, 8, 2, 2);
    gradcheck_pool(1, 1, 13, 13, 3, 2);
    return t_done();
}
