/* ReLU and tanh: fast == reference bit for bit (the same expressions; tanhf in both),
 * in place and out of place, and finite-difference gradient checks in double. */
#include <string.h>
#include "alexnet/ops.h"
#include "test.h"

static const char *act_name(enum anet_act a) { return a == ANET_ACT_RELU ? "relu" : "tanh"; }

/* Counts around the vector width and the threads' threshold, and conv1's output. */
static void test_act_fast_vs_ref(enum anet_act a)
{
    static const size_t counts[] = {1, 7, 17, 1000, 65537, 3 * 96 * 55 * 55};
    t_seed(4);
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        size_t n = counts[k];
        float *x = t_alloc(n), *dy = t_alloc(n), *y0 = t_alloc(n), *y1 = t_alloc(n);
        float *dx0 = t_alloc(n), *dx1 = t_alloc(n), *inplace = t_alloc(n);
        t_fill(x, n, -3, 3);
        t_fill(dy, n, -1, 1);
        x[0] = 0, x[n / 2] = -0.0f; /* the boundary of relu' */
        anet_cpu_act_forward_ref(a, n, x, y0);
        anet_cpu_act_forward(a, n, x, y1);
        memcpy(inplace, x, n * sizeof *x);
        anet_cpu_act_forward(a, n, inplace, inplace);
        T_OK(memcmp(y0, y1, n * sizeof *y0) == 0 && memcmp(y0, inplace, n * sizeof *y0) == 0,
             "%s fast == ref forward, count %zu (and x == y)", act_name(a), n);
        anet_cpu_act_backward_ref(a, n, y0, dy, dx0);
        anet_cpu_act_backward(a, n, y0, dy, dx1);
        memcpy(inplace, dy, n * sizeof *dy);
        anet_cpu_act_backward(a, n, y0, inplace, inplace);
        T_OK(memcmp(dx0, dx1, n * sizeof *dx0) == 0 && memcmp(dx0, inplace, n * sizeof *dx0) == 0,
             "%s fast == ref backward, count %zu (and dx == dy)", act_name(a), n);
        free(x), free(dy), free(y0), free(y1), free(dx0), free(dx1), free(inplace);
    }
}

static double act_d(enum anet_act a, double x) { return a == ANET_ACT_RELU ? fmax(x, 0) : tanh(x); }

/* Central differences of L = Σ y·r in double against the float reference backward (which
 * sees the float forward output y). The function is elementwise, so each element's
 * difference quotient needs only its own term. Inputs avoid |x| < 0.01, where relu has its
 * kink. Tolerance 1e-5 relative to the largest gradient: tanh' = 1 − y² from a float y
 * carries ~1e-7, eps = 1e-6 adds ~1e-10. */
static void gradcheck_act(enum anet_act a)
{
    enum { N = 200 };
    float x[N], y[N], r[N], dx[N];
    t_seed(6);
    for (int i = 0; i < N; i++) {
        x[i] = (float)t_uniform(0.01, 4);
        if (i % 2) x[i] = -x[i];
    }
    t_fill(r, N, -1, 1);
    anet_cpu_act_forward_ref(a, N, x, y);
    anet_cpu_act_backward_ref(a, N, y, r, dx);
    double ey = 0, err = 0, gmax = 0;
    const double eps = 1e-6;
    for (int i = 0; i < N; i++) {
        ey = fmax(ey, fabs(act_d(a, x[i]) - y[i]));
        double fd = (act_d(a, x[i] + eps) * r[i] - act_d(a, x[i] - eps) * r[i]) / (2 * eps);
        err = fmax(err, fabs(fd - dx[i]));
        gmax = fmax(gmax, fabs(fd));
    }
    T_OK(ey < 1e-6, "%s double forward == float ref, max abs err %.2g", act_name(a), ey);
    T_OK(err / gmax < 1e-5, "%s gradient == central differences: %.2g", act_name(a),
         err / gmax);
}

int main(void)
{
    test_act_fast_vs_ref(ANET_ACT_RELU);
    test_act_fast_vs_ref(ANET_ACT_TANH);
    gradcheck_act(ANET_ACT_RELU);
    gradcheck_act(ANET_ACT_TANH);
    return t_done();
}
