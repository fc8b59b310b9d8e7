/* Softmax + cross-entropy: probabilities, stability at extreme logits, the loss of a
 * uniform prediction, fast == reference, and a finite-difference check of the gradient. */
#include <string.h>
#include "alexnet/ops.h"
#include "test.h"

/* Rows of probabilities sum to 1 within float rounding (a few ulp a term, 1000 terms). */
static void test_softmax_rows(void)
{
    int n = 5, classes = 1000;
    float *l = t_alloc((size_t)n * classes), *p = t_alloc((size_t)n * classes);
    int32_t label[5] = {0, 999, 3, 500, 42};
    t_seed(12);
    t_fill(l, (size_t)n * classes, -10, 10);
    double loss;
    anet_cpu_softmax_xent_forward_ref(n, classes, l, label, p, &loss);
    double worst = 0;
    for (int r = 0; r < n; r++) {
        double s = 0;
        for (int j = 0; j < classes; j++) s += p[r * classes + j];
        worst = fmax(worst, fabs(s - 1));
    }
    T_OK(worst < 1e-5, "softmax rows sum to 1, max |sum - 1| %.2g", worst);
    free(l), free(p);
}

/* Logits of ±1000 overflow exp in float and in double unless the maximum is subtracted.
 * Row 0: the label has the top logit, loss 0. Row 1: the label sits 2000 below the top, its
 * probability underflows to 0, and the loss is still the finite 2000. */
static void test_softmax_extremes(void)
{
    const float l[2][3] = {{1000, -1000, 0}, {1000, -1000, 0}};
    const int32_t label[2] = {0, 1};
    float p[6];
    double loss;
    anet_cpu_softmax_xent_forward_ref(2, 3, &l[0][0], label, p, &loss);
    double loss_fast;
    anet_cpu_softmax_xent_forward(2, 3, &l[0][0], label, p, &loss_fast);
    int finite = 1;
    for (int i = 0; i < 6; i++) finite &= isfinite(p[i]);
    T_OK(finite && p[0] == 1 && p[1] == 0 && fabs(loss - 1000) < 1e-9 && loss == loss_fast,
         "softmax at logits +-1000: probs finite (%g %g %g), mean loss %.12g (want 1000)", p[0],
         p[1], p[2], loss);
}

static void test_softmax_uniform(void)
{
    int n = 3, classes = 1000;
    float *l = t_alloc((size_t)n * classes), *p = t_alloc((size_t)n * classes);
    int32_t label[3] = {1, 2, 999};
    for (int i = 0; i < n * classes; i++) l[i] = 3.5f;
    double loss;
    anet_cpu_softmax_xent_forward_ref(n, classes, l, label, p, &loss);
    T_OK(fabs(loss - log(1000.0)) < 1e-12 && p[17] == 1e-3f,
         "uniform prediction: loss %.15g == log(1000) %.15g, prob %g", loss, log(1000.0), p[17]);
    free(l), free(p);
}

/* Fast == reference bitwise: the same row function, row losses summed in the same order. */
static void test_softmax_fast_vs_ref(void)
{
    static const int shapes[][2] = {{1, 10}, {5, 7}, {64, 1000}, {300, 17}, {128, 1000}};
    t_seed(13);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int n = shapes[k][0], classes = shapes[k][1];
        size_t count = (size_t)n * classes;
        float *l = t_alloc(count), *p0 = t_alloc(count), *p1 = t_alloc(count);
        float *d0 = t_alloc(count), *d1 = t_alloc(count);
        int32_t *label = calloc((size_t)n, sizeof *label);
        t_fill(l, count, -20, 20);
        for (int r = 0; r < n; r++) label[r] = (int32_t)t_uniform(0, classes);
        double loss0;
        anet_cpu_softmax_xent_forward_ref(n, classes, l, label, p0, &loss0);
        double loss1;
        anet_cpu_softmax_xent_forward(n, classes, l, label, p1, &loss1);
        anet_cpu_softmax_xent_backward_ref(n, classes, p0, label, n, d0);
        anet_cpu_softmax_xent_backward(n, classes, p0, label, n, d1);
        T_OK(loss0 == loss1 && memcmp(p0, p1, count * sizeof *p0) == 0 &&
                 memcmp(d0, d1, count * sizeof *d0) == 0,
             "softmax-xent fast == ref bitwise, %dx%d (loss %.6g)", n, classes, loss0);
        free(l), free(p0), free(p1), free(d0), free(d1), free(label);
    }
}

/* Mean cross-entropy in double, for the finite differences. */
static double xent_d(int n, int classes, const double *l, const int32_t *label)
{
    double loss = 0;
    for (int r = 0; r < n; r++) {
        const double *row = l + (size_t)r * classes;
        double m = row[0], s = 0;
        for (int j = 1; j < classes; j++) m = fmax(m, row[j]);
        for (int j = 0; j < classes; j++) s += exp(row[j] - m);
        loss += log(s) - (row[label[r]] - m);
    }
    return loss / n;
}

/* Central differences of the loss itself against the float reference backward, every
 * logit. Tolerances: the double loss equals the library's to 1e-12 relative (both are
 * double computations of float logits); the gradient to 1e-5 relative to its largest
 * element (float prob carries ~1e-7). */
static void test_softmax_gradcheck(void)
{
    enum { N = 4, C = 9 };
    float l[N * C], p[N * C], dl[N * C];
    double ld[N * C], err = 0, gmax = 0;
    const int32_t label[N] = {0, 8, 4, 4};
    t_seed(14);
    t_fill(l, N * C, -4, 4);
    for (int i = 0; i < N * C; i++) ld[i] = l[i];
    double loss;
    anet_cpu_softmax_xent_forward_ref(N, C, l, label, p, &loss);
    anet_cpu_softmax_xent_backward_ref(N, C, p, label, N, dl);
    double loss_d = xent_d(N, C, ld, label);
    T_OK(fabs(loss - loss_d) < 1e-12 * loss_d, "xent double == library loss: %.15g vs %.15g",
         loss_d, loss);
    const double eps = 1e-6;
    for (int e = 0; e < N * C; e++) {
        ld[e] = l[e] + eps;
        double up = xent_d(N, C, ld, label);
        ld[e] = l[e] - eps;
        double down = xent_d(N, C, ld, label);
        ld[e] = l[e];
        double fd = (up - down) / (2 * eps);
        err = fmax(err, fabs(fd - dl[e]));
        gmax = fmax(gmax, fabs(fd));
    }
    T_OK(err / gmax < 1e-5, "softmax-xent gradient == central differences: %.2g", err / gmax);
}

int main(void)
{
    test_softmax_rows();
    test_softmax_extremes();
    test_softmax_uniform();
    test_softmax_fast_vs_ref();
    test_softmax_gradcheck();
    return t_done();
}
