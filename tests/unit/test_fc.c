/* Fully connected layer: a hand-computed case that pins the layout (w is out × in,
 * y = x·Wᵀ + b), the sgemm path against the reference, and a finite-difference gradient
 * check in double precision (a double forward written here, checked equal to the float
 * reference, differentiated numerically and compared with the library's float backward). */
#include <string.h>
#include "alexnet/ops.h"
#include "test.h"

/* Fast vs reference: float sgemm sums against double-accumulated sums of up to ~1000 terms. */
#define TOL_FAST 1e-5
/* Double forward vs float reference forward: the float rounding of y. */
#define TOL_DOUBLE_FWD 1e-5
/* Central differences (exact for this bilinear loss up to double rounding) against the float
 * backward. */
#define TOL_GRAD 1e-4
#define FD_EPS 1e-6

static void fill_nan(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = NAN;
}

static void test_by_hand(void)
{
    /* x = (1 2); W = rows (1 0), (0 1), (1 1); b = (0.5 0 −1) → y = (1.5 2 2).
     * dy = (1 2 3) → dx = dy·W = (4 5), dw = dyᵀ·x = rows (1 2), (2 4), (3 6), db = dy. */
    static const float x[2] = {1, 2}, w[6] = {1, 0, 0, 1, 1, 1}, b[3] = {0.5f, 0, -1};
    static const float dy[3] = {1, 2, 3};
    static const float y_want[3] = {1.5f, 2, 2}, dx_want[2] = {4, 5};
    static const float dw_want[6] = {1, 2, 2, 4, 3, 6}, db_want[3] = {1, 2, 3};
    float y[3], dx[2], dw[6], db[3];
    for (int fast = 0; fast < 2; fast++) {
        const char *which = fast ? "fast" : "ref";
        fill_nan(y, 3), fill_nan(dx, 2), fill_nan(dw, 6), fill_nan(db, 3);
        if (fast) {
            anet_cpu_fc_forward(1, 2, 3, x, w, b, y);
            anet_cpu_fc_backward(1, 2, 3, x, w, dy, dx, dw, db);
        } else {
            anet_cpu_fc_forward_ref(1, 2, 3, x, w, b, y);
            anet_cpu_fc_backward_ref(1, 2, 3, x, w, dy, dx, dw, db);
        }
        T_OK(memcmp(y, y_want, sizeof y) == 0, "by hand: %s forward y = (%g %g %g)", which,
             y[0], y[1], y[2]);
        T_OK(memcmp(dx, dx_want, sizeof dx) == 0 && memcmp(dw, dw_want, sizeof dw) == 0 &&
                 memcmp(db, db_want, sizeof db) == 0,
             "by hand: %s backward dx = (%g %g), dw[1] = %g, db[2] = %g", which, dx[0], dx[1],
             dw[1], db[2]);
    }
}

static void test_fast_vs_ref(int n, int in, int out)
{
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *x = t_alloc(nx), *w = t_alloc(nw), *b = t_alloc(out), *dy = t_alloc(ny);
    float *y0 = t_alloc(ny), *y1 = t_alloc(ny);
    float *dx0 = t_alloc(nx), *dw0 = t_alloc(nw), *db0 = t_alloc(out);
    float *dx1 = t_alloc(nx), *dw1 = t_alloc(nw), *db1 = t_alloc(out);
    t_fill(x, nx, -1, 1), t_fill(w, nw, -1, 1), t_fill(b, out, -1, 1), t_fill(dy, ny, -1, 1);

    anet_cpu_fc_forward_ref(n, in, out, x, w, b, y0);
    fill_nan(y1, ny);
    anet_cpu_fc_forward(n, in, out, x, w, b, y1);
    double e = t_rel_err(y1, y0, ny);
    T_OK(e < TOL_FAST, "n%d %d->%d: forward fast == ref, rel err %.3g", n, in, out, e);

    /* outputs start as NaN: backward must overwrite, not accumulate */
    anet_cpu_fc_backward_ref(n, in, out, x, w, dy, dx0, dw0, db0);
    fill_nan(dx1, nx), fill_nan(dw1, nw), fill_nan(db1, out);
    anet_cpu_fc_backward(n, in, out, x, w, dy, dx1, dw1, db1);
    double ex = t_rel_err(dx1, dx0, nx), ew = t_rel_err(dw1, dw0, nw);
    double eb = t_rel_err(db1, db0, out);
    T_OK(ex < TOL_FAST && ew < TOL_FAST && eb < TOL_FAST,
         "n%d %d->%d: backward fast == ref, rel err dx %.3g dw %.3g db %.3g", n, in, out, ex,
         ew, eb);

    fill_nan(dw1, nw);
    anet_cpu_fc_backward(n, in, out, x, w, dy, NULL, dw1, NULL);
    fill_nan(dw0, nw);
    anet_cpu_fc_backward_ref(n, in, out, x, w, dy, NULL, dw0, NULL);
    double ew1 = t_rel_err(dw1, dw0, nw);
    T_OK(ew1 < TOL_FAST, "n%d %d->%d: backward with dx = db = NULL, dw rel err %.3g", n, in,
         out, ew1);

    free(x), free(w), free(b), free(dy), free(y0), free(y1);
    free(dx0), free(dw0), free(db0), free(dx1), free(dw1), free(db1);
}

/* ---- finite-difference gradient check in double ---------------------------------------- */

/* y[i][o] = b[o] + Σ_j w[o][j] · x[i][j], in double */
static void fc_forward_d(int n, int in, int out, const double *x, const double *w,
                         const double *b, double *y)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int j = 0; j < in; j++) s += w[(size_t)o * in + j] * x[(size_t)i * in + j];
            y[(size_t)i * out + o] = s;
        }
}

struct fc_problem { int n, in, out; double *x, *w, *b, *r, *y; };

/* L = Σ y·r */
static double loss_d(const struct fc_problem *p)
{
    fc_forward_d(p->n, p->in, p->out, p->x, p->w, p->b, p->y);
    double s = 0;
    for (size_t i = 0; i < (size_t)p->n * p->out; i++) s += p->y[i] * p->r[i];
    return s;
}

/* dL/dv for every element of v (one of p's x, w, b) by central differences. */
static void numeric_grad(const struct fc_problem *p, double *v, size_t nv, double *grad)
{
    for (size_t i = 0; i < nv; i++) {
        double keep = v[i];
        v[i] = keep + FD_EPS;
        double lp = loss_d(p);
        v[i] = keep - FD_EPS;
        double lm = loss_d(p);
        v[i] = keep;
        grad[i] = (lp - lm) / (2 * FD_EPS);
    }
}

static void test_gradcheck(int n, int in, int out)
{
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *x = t_alloc(nx), *w = t_alloc(nw), *b = t_alloc(out), *r = t_alloc(ny);
    float *y = t_alloc(ny), *dx = t_alloc(nx), *dw = t_alloc(nw), *db = t_alloc(out);
    t_fill(x, nx, -1, 1), t_fill(w, nw, -1, 1), t_fill(b, out, -1, 1), t_fill(r, ny, -1, 1);
    struct fc_problem p = {n, in, out, t_to_double(x, nx), t_to_double(w, nw), t_to_double(b, out),
                           t_to_double(r, ny), t_to_double(y, ny)};
    double *gx = malloc(sizeof(double) * nx), *gw = malloc(sizeof(double) * nw);
    double *gb = malloc(sizeof(double) * out);
    if (!gx || !gw || !gb) abort();

    anet_cpu_fc_forward_ref(n, in, out, x, w, b, y);
    fc_forward_d(n, in, out, p.x, p.w, p.b, p.y);
    double ef = t_rel_err_fd(y, p.y, ny);
    T_OK(ef < TOL_DOUBLE_FWD, "n%d %d->%d: double forward == float reference, rel err %.3g", n,
         in, out, ef);

    numeric_grad(&p, p.x, nx, gx);
    numeric_grad(&p, p.w, nw, gw);
    numeric_grad(&p, p.b, out, gb);
    for (int fast = 0; fast < 2; fast++) {
        fill_nan(dx, nx), fill_nan(dw, nw), fill_nan(db, out);
        if (fast) anet_cpu_fc_backward(n, in, out, x, w, r, dx, dw, db);
        else anet_cpu_fc_backward_ref(n, in, out, x, w, r, dx, dw, db);
        double ex = t_rel_err_fd(dx, gx, nx), ew = t_rel_err_fd(dw, gw, nw);
        double eb = t_rel_err_fd(db, gb, out);
        T_OK(ex < TOL_GRAD && ew < TOL_GRAD && eb < TOL_GRAD,
             "n%d %d->%d: %s backward == central differences (all %zu + %zu + %d), rel err "
             "dx %.3g dw %.3g db %.3g",
             n, in, out, fast ? "fast" : "ref", nx, nw, out, ex, ew, eb);
    }
    free(x), free(w), free(b), free(r), free(y), free(dx), free(dw), free(db);
    free(p.x), free(p.w), free(p.b), free(p.r), free(p.y), free(gx), free(gw), free(gb);
}

int main(void)
{
    test_by_hand();
    t_seed(1);
    test_fast_vs_ref(1, 1, 1);
    test_fast_vs_ref(3, 7, 5);
    test_fast_vs_ref(5, 33, 17);
    test_fast_vs_ref(2, 1000, 3);
    test_fast_vs_ref(64, 300, 100);
    test_fast_vs_ref(4, 9216, 40); /* fc6's input width */
    t_seed(2);
    test_gradcheck(3, 7, 5);
    test_gradcheck(4, 16, 9);
    return t_done();
}
