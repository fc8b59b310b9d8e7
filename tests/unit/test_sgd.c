/* The paper's SGD update, v ← 0.9·v − 0.0005·ε·w − ε·g; w ← w + v, on a hand-computed
 * example, and fast == reference bit for bit. */
#include <string.h>
#include "alexnet/ops.h"
#include "test.h"

/* w = 1, v = 0, lr 0.01, momentum 0.9, decay 0.0005; g = 0.5, then g = −0.2:
 *   v1 = 0.9·0 − 0.0005·0.01·1 − 0.01·0.5                 = −0.005005
 *   w1 = 1 − 0.005005                                      =  0.994995
 *   v2 = 0.9·(−0.005005) − 0.000005·0.994995 + 0.01·0.2    = −0.002509474975
 *   w2 = 0.994995 − 0.002509474975                         =  0.992485525025
 * Float keeps about 7 digits: tolerance 1e-8 absolute on v, 1e-7 on w (ulp of 1 is 1.2e-7,
 * and two updates round twice). */
static void test_sgd_by_hand(void)
{
    float w = 1, v = 0, w_fast = 1, v_fast = 0;
    const float g[2] = {0.5f, -0.2f};
    const double want_v[2] = {-0.005005, -0.002509474975};
    const double want_w[2] = {0.994995, 0.992485525025};
    for (int s = 0; s < 2; s++) {
        anet_cpu_sgd_update_ref(1, 0.01f, 0.9f, 0.0005f, &w, &g[s], &v);
        anet_cpu_sgd_update(1, 0.01f, 0.9f, 0.0005f, &w_fast, &g[s], &v_fast);
        T_OK(fabs(v - want_v[s]) < 1e-8 && fabs(w - want_w[s]) < 1e-7 && w == w_fast &&
                 v == v_fast,
             "sgd step %d by hand: v %.10g (want %.10g), w %.9g (want %.12g)", s + 1, v,
             want_v[s], w, want_w[s]);
    }
}

/* Odd counts, and 61M-parameter-like magnitudes; ten steps so momentum accumulates. */
static void test_sgd_fast_vs_ref(void)
{
    static const size_t counts[] = {1, 15, 1000003};
    t_seed(15);
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        size_t n = counts[k];
        float *w0 = t_alloc(n), *v0 = t_alloc(n), *w1 = t_alloc(n), *v1 = t_alloc(n);
        float *g = t_alloc(n);
        t_fill(w0, n, -0.05, 0.05);
        memcpy(w1, w0, n * sizeof *w0);
        for (int step = 0; step < 10; step++) {
            t_fill(g, n, -0.01, 0.01);
            anet_cpu_sgd_update_ref(n, 0.01f, 0.9f, 0.0005f, w0, g, v0);
            anet_cpu_sgd_update(n, 0.01f, 0.9f, 0.0005f, w1, g, v1);
        }
        T_OK(memcmp(w0, w1, n * sizeof *w0) == 0 && memcmp(v0, v1, n * sizeof *v0) == 0,
             "sgd fast == ref bitwise after 10 steps, count %zu", n);
        free(w0), free(v0), free(w1), free(v1), free(g);
    }
}

int main(void)
{
    test_sgd_by_hand();
    test_sgd_fast_vs_ref();
    return t_done();
}
