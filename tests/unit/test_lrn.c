/* LRN across channels (paper §3.3): the formula on hand-computed numbers, the PyTorch
 * parameter conversion, fast == reference, and a finite-difference gradient check.
 *
 * The gradient check needs a forward in double: a float forward changes by ~1e-7 relative
 * per rounding, which swamps a central difference with eps ~1e-6. So this file carries its
 * own small double LRN (lrn_forward_d), written from the paper's formula independently of
 * the library, checks it against the library's float reference forward, and then compares
 * its central differences with the library's float reference backward. */
#include <string.h>
#include "alexnet/ops.h"
#include "test.h"

static const struct anet_lrn_param paper = {5, 2.0f, 1e-4f, 0.75f};

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* y = LRN(x) in double; x, y: n × c × hw. */
static void lrn_forward_d(int n, int c, int hw, const struct anet_lrn_param *p,
                          const double *x, double *y)
{
    int half = p->size / 2;
    for (int m = 0; m < n; m++)
        for (int i = 0; i < c; i++)
            for (int q = 0; q < hw; q++) {
                double sum = 0;
                for (int j = imax(0, i - half); j <= imin(c - 1, i + half); j++) {
                    double a = x[((size_t)m * c + j) * hw + q];
                    sum += a * a;
                }
                size_t at = ((size_t)m * c + i) * hw + q;
                y[at] = x[at] / pow((double)p->k + (double)p->alpha * sum, (double)p->beta);
            }
}

/* 1 pixel, channels (10, 20, 30), the paper's parameters. Every window holds all three:
 * Σa² = 1400, scale = 2 + 1e-4·1400 = 2.14, 2.14^0.75 = 1.76933607, so
 * b = (5.65183754, 11.3036751, 16.9555126). Dividing α by n would give scale 2.028 and
 * b = (5.88435732, 11.7687146, 17.6530720). */
static void test_lrn_by_hand(void)
{
    const float x[3] = {10, 20, 30};
    const double want[3] = {5.651837543487509, 11.303675086975018, 16.955512630462525};
    float y[3], scale[3];
    anet_cpu_lrn_forward_ref(1, 3, 1, &paper, x, y, scale);
    double err = 0;
    for (int i = 0; i < 3; i++) err = fmax(err, fabs(y[i] - want[i]) / want[i]);
    T_OK(err < 1e-6 && scale[0] == 2.14f && scale[2] == 2.14f,
         "LRN paper params, x=(10,20,30): y=(%.7g, %.7g, %.7g) scale %.7g, rel err %.2g "
         "(alpha not divided by n)", y[0], y[1], y[2], scale[0], err);

    /* size 3 clips the window at both ends: channel 0 sees {0,1} (Σ 500, scale 2.05),
     * channel 1 sees all (Σ 1400, 2.14), channel 2 sees {1,2} (Σ 1300, 2.13). */
    const struct anet_lrn_param p3 = {3, 2.0f, 1e-4f, 0.75f};
    const double want3[3] = {5.836931601907399, 11.303675086975018, 17.015180171398548};
    anet_cpu_lrn_forward_ref(1, 3, 1, &p3, x, y, scale);
    err = 0;
    for (int i = 0; i < 3; i++) err = fmax(err, fabs(y[i] - want3[i]) / want3[i]);
    T_OK(err < 1e-6 && scale[0] == 2.05f && scale[1] == 2.14f && scale[2] == 2.13f,
         "LRN size 3, clipped windows: y=(%.7g, %.7g, %.7g), rel err %.2g", y[0], y[1], y[2],
         err);

    anet_cpu_lrn_forward(1, 3, 1, &paper, x, y, scale);
    err = 0;
    for (int i = 0; i < 3; i++) err = fmax(err, fabs(y[i] - want[i]) / want[i]);
    T_OK(err < 1e-6 && scale[1] == 2.14f, "LRN fast path on the same case, rel err %.2g", err);
}

/* PyTorch's LocalResponseNorm computes b_c = a_c / (k + α'/n · Σ a²)^β over the window
 * [c − ⌊n/2⌋, c + ⌈n/2⌉ − 1] (the same window for odd n), so α' = n·α gives the paper's
 * LRN. This is that formula, one line in the loop, against the library. */
static void test_lrn_pytorch_conversion(void)
{
    int n = 2, c = 9, hw = 7, size = 5;
    size_t count = (size_t)n * c * hw;
    float *x = t_alloc(count), *y = t_alloc(count), *scale = t_alloc(count);
    t_seed(11);
    t_fill(x, count, -40, 40);
    anet_cpu_lrn_forward_ref(n, c, hw, &paper, x, y, scale);
    double alpha_torch = size * (double)paper.alpha, err = 0, ymax = 0;
    for (int m = 0; m < n; m++)
        for (int i = 0; i < c; i++)
            for (int q = 0; q < hw; q++) {
                double sum = 0;
                for (int j = imax(0, i - size / 2); j <= imin(c - 1, i + (size - 1) / 2); j++)
                    sum += (double)x[(m * c + j) * hw + q] * x[(m * c + j) * hw + q];
                size_t at = ((size_t)m * c + i) * hw + q;
                double torch = x[at] / pow(paper.k + alpha_torch / size * sum, paper.beta);
                err = fmax(err, fabs(torch - y[at]));
                ymax = fmax(ymax, fabs(torch));
            }
    T_OK(err / ymax < 1e-6, "LRN == PyTorch's formula with alpha = n*alpha, rel err %.2g",
         err / ymax);
    free(x), free(y), free(scale);
}

struct lrn_case { int n, c, h, w, size; float beta; double lo, hi; };

/* Fast vs reference on odd shapes. Tolerances: forward 1e-6 relative (the fast path sums
 * squares in double and takes √s·√√s instead of powf, a few ulp apart); backward 2e-6
 * relative to the largest |dx| (its two terms partly cancel). */
static void test_lrn_fast_vs_ref(void)
{
    static const struct lrn_case cases[] = {
        {1, 7, 13, 13, 5, 0.75f, -30, 30},   {3, 7, 13, 13, 5, 0.75f, -30, 30},
        {5, 96, 6, 9, 5, 0.75f, -30, 30},    {2, 3, 13, 13, 5, 0.75f, -30, 30},
        {2, 1, 7, 7, 5, 0.75f, -30, 30},     {1, 2, 5, 5, 5, 0.75f, -30, 30},
        {2, 16, 55, 55, 5, 0.75f, -30, 30},  {4, 9, 23, 23, 3, 0.6f, -30, 30},
        {1, 256, 27, 27, 5, 0.75f, -300, 300}, {2, 12, 11, 11, 4, 0.75f, 0, 5},
    };
    t_seed(3);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct lrn_case *t = &cases[k];
        struct anet_lrn_param p = {t->size, 2.0f, 1e-4f, t->beta};
        int hw = t->h * t->w;
        size_t count = (size_t)t->n * t->c * hw;
        float *x = t_alloc(count), *dy = t_alloc(count);
        float *y0 = t_alloc(count), *s0 = t_alloc(count), *dx0 = t_alloc(count);
        float *y1 = t_alloc(count), *s1 = t_alloc(count), *dx1 = t_alloc(count);
        t_fill(x, count, t->lo, t->hi);
        t_fill(dy, count, -1, 1);
        anet_cpu_lrn_forward_ref(t->n, t->c, hw, &p, x, y0, s0);
        anet_cpu_lrn_forward(t->n, t->c, hw, &p, x, y1, s1);
        anet_cpu_lrn_backward_ref(t->n, t->c, hw, &p, x, y0, s0, dy, dx0);
        anet_cpu_lrn_backward(t->n, t->c, hw, &p, x, y0, s0, dy, dx1);
        double ey = t_rel_err(y1, y0, count), es = t_rel_err(s1, s0, count);
        double ex = t_rel_err(dx1, dx0, count);
        T_OK(ey < 1e-6 && es < 1e-6,
             "LRN fast == ref forward, %dx%dx%dx%d size %d beta %g: y %.2g scale %.2g", t->n,
             t->c, t->h, t->w, t->size, t->beta, ey, es);
        T_OK(ex < 2e-6, "LRN fast == ref backward, %dx%dx%dx%d size %d beta %g: dx %.2g",
             t->n, t->c, t->h, t->w, t->size, t->beta, ex);
        free(x), free(dy), free(y0), free(s0), free(dx0), free(y1), free(s1), free(dx1);
    }
}

/* Central differences of L = Σ y·r in double against the float reference backward with
 * dy = r, every element. Inputs up to ±100 make α·Σa² up to 5, beyond k = 2, so the
 * normalisation term of the gradient is as large as the direct one. Tolerances: the double
 * forward equals the float one to 1e-6 relative; the gradient to 1e-4 relative to its
 * largest element (float backward ~1e-7, difference quotient ~1e-9). */
static void gradcheck_lrn(int n, int c, int h, int w, const struct anet_lrn_param *p)
{
    int hw = h * w;
    size_t count = (size_t)n * c * hw;
    float *x = t_alloc(count), *y = t_alloc(count), *scale = t_alloc(count);
    float *r = t_alloc(count), *dx = t_alloc(count);
    double *xd = malloc(count * sizeof *xd), *yd = malloc(count * sizeof *yd);
    double *fd = malloc(count * sizeof *fd), *an = malloc(count * sizeof *an);
    t_fill(x, count, -100, 100);
    t_fill(r, count, -1, 1);
    anet_cpu_lrn_forward_ref(n, c, hw, p, x, y, scale);
    anet_cpu_lrn_backward_ref(n, c, hw, p, x, y, scale, r, dx);

    double smax = 0;
    for (size_t i = 0; i < count; i++) {
        xd[i] = x[i];
        an[i] = dx[i];
        smax = fmax(smax, (scale[i] - p->k) / p->k);
    }
    lrn_forward_d(n, c, hw, p, xd, yd);
    double ey = 0, ymax = 0;
    for (size_t i = 0; i < count; i++) {
        ey = fmax(ey, fabs(yd[i] - y[i]));
        ymax = fmax(ymax, fabs(yd[i]));
    }
    T_OK(ey / ymax < 1e-6, "LRN double forward == float ref, %dx%dx%dx%d size %d: %.2g", n,
         c, h, w, p->size, ey / ymax);

    const double eps = 1e-6;
    for (size_t e = 0; e < count; e++) {
        double loss[2];
        for (int s = 0; s < 2; s++) {
            xd[e] = x[e] + (s ? -eps : eps);
            lrn_forward_d(n, c, hw, p, xd, yd);
            loss[s] = 0;
            for (size_t i = 0; i < count; i++) loss[s] += yd[i] * r[i];
        }
        xd[e] = x[e];
        fd[e] = (loss[0] - loss[1]) / (2 * eps);
    }
    double err = t_rel_err_dd(an, fd, count);
    T_OK(err < 1e-4,
         "LRN gradient == central differences, %dx%dx%dx%d size %d, max alpha*sum/k %.2f: "
         "rel err %.2g", n, c, h, w, p->size, smax, err);
    free(x), free(y), free(scale), free(r), free(dx), free(xd), free(yd), free(fd), free(an);
}

static void test_lrn_gradcheck(void)
{
    const struct anet_lrn_param p3 = {3, 1.0f, 2e-4f, 0.6f};
    t_seed(5);
    gradcheck_lrn(2, 7, 3, 3, &paper);
    gradcheck_lrn(1, 3, 2, 2, &paper); /* c < size: every window clipped at both ends */
    gradcheck_lrn(2, 2, 1, 3, &paper);
    gradcheck_lrn(1, 6, 2, 3, &p3);    /* another size, k and beta */
}

int main(void)
{
    test_lrn_by_hand();
    test_lrn_pytorch_conversion();
    test_lrn_fast_vs_ref();
    test_lrn_gradcheck();
    return t_done();
}
