/* Dropout: the fast path equals the reference bit for bit (same Philox words, same
 * arithmetic) for every multiplier of kept units (inverted 1/(1-p), the paper's 1 while
 * training, its test-time 1-p with p = 0, and any other), the mask has the right density and
 * scale, the backward redraws the forward's mask, steps differ, p = 0 with scale 1 is the
 * identity, and the paper's form keeps the same units as the inverted one, unscaled. */
#include <string.h>
#include "alexnet/ops.h"
#include "alexnet/rng.h"
#include "test.h"

enum { PURPOSE = ANET_RNG_DROPOUT + 6 }; /* fc6's stream, as the model would use */

/* The multiplier of kept units in inverted dropout, computed as the model computes it. */
#define INV(p) (1.0f / (1.0f - (p)))

/* Counts that are not multiples of 4 (a partial last Philox block) and one large enough to
 * use threads; each p with the inverted multiplier, the paper's training one (1), the
 * paper's test-time product (p 0, scale 1 - 0.5) and an arbitrary one. */
static void test_dropout_fast_vs_ref(void)
{
    static const size_t counts[] = {1, 3, 4, 5, 1001, 64 * 4096 + 3};
    static const struct { float p, scale; } cases[] = {
        {0.5f, INV(0.5f)}, {0.3f, INV(0.3f)}, {0.9f, INV(0.9f)}, {0.0f, 1.0f},
        {0.5f, 1.0f},      {0.0f, 0.5f},      {0.3f, 3.7f},      {0.0f, 0.7f}};
    t_seed(8);
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        size_t n = counts[k];
        float *x = t_alloc(n), *y0 = t_alloc(n), *y1 = t_alloc(n), *y2 = t_alloc(n);
        t_fill(x, n, -2, 2);
        for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
            uint32_t step = 17 + (uint32_t)k;
            float p = cases[j].p, sc = cases[j].scale;
            anet_cpu_dropout_forward_ref(n, p, sc, 42, step, PURPOSE, 0, x, y0);
            anet_cpu_dropout_forward(n, p, sc, 42, step, PURPOSE, 0, x, y1);
            memcpy(y2, x, n * sizeof *x);
            anet_cpu_dropout_forward(n, p, sc, 42, step, PURPOSE, 0, y2, y2);
            int fwd = memcmp(y0, y1, n * sizeof *y0) == 0 && memcmp(y0, y2, n * sizeof *y0) == 0;
            anet_cpu_dropout_backward_ref(n, p, sc, 42, step, PURPOSE, 0, x, y1);
            anet_cpu_dropout_backward(n, p, sc, 42, step, PURPOSE, 0, x, y2);
            int bwd = memcmp(y1, y2, n * sizeof *y1) == 0;
            T_OK(fwd && bwd,
                 "dropout fast == ref bitwise, count %zu p %g scale %g (forward, also in place: "
                 "%d; backward: %d)", n, p, sc, fwd, bwd);
        }
        free(x), free(y0), free(y1), free(y2);
    }
}

/* Over a million elements the kept fraction is 1 − p within 5 standard deviations
 * (sqrt(p(1−p)/n) ≈ 5e-4), each kept value is exactly x·scale in float (for p = 0.5 and the
 * inverted scale that is 2x, i.e. exactly x/(1−p)), and the backward keeps and scales the
 * same elements. */
static void test_dropout_mask(float p, float scale)
{
    size_t n = 1u << 20;
    float *x = t_alloc(n), *y = t_alloc(n), *dy = t_alloc(n), *dx = t_alloc(n);
    t_fill(x, n, 0.5, 2); /* nonzero, so that y == 0 means dropped */
    t_fill(dy, n, 0.5, 2);
    anet_cpu_dropout_forward(n, p, scale, 7, 3, PURPOSE, 0, x, y);
    anet_cpu_dropout_backward(n, p, scale, 7, 3, PURPOSE, 0, dy, dx);
    size_t kept = 0, wrong = 0, mismatch = 0;
    for (size_t i = 0; i < n; i++) {
        int k = y[i] != 0;
        kept += k;
        wrong += k ? y[i] != x[i] * scale : y[i] != 0.0f;
        mismatch += k != (dx[i] != 0) || (k && dx[i] != dy[i] * scale);
    }
    double frac = (double)kept / n, sd = sqrt(p * (1.0 - p) / n);
    T_OK(fabs(frac - (1 - p)) < 5 * sd + 1e-12,
         "dropout p %g scale %g keeps %.5f of %zu (want %.5f +- %.1e)", p, scale, frac, n,
         1 - p, 5 * sd);
    T_OK(wrong == 0, "dropout p %g: kept values are x*%g, dropped are 0 (%zu wrong)", p, scale,
         wrong);
    T_OK(mismatch == 0, "dropout p %g scale %g: backward mask and scale == forward's (%zu differ)",
         p, scale, mismatch);
    if (p == 0.5f && scale == INV(p)) {
        size_t exact = 0;
        for (size_t i = 0; i < n; i++) exact += y[i] == 0 || y[i] == x[i] / (1 - p);
        T_OK(exact == n, "dropout p 0.5: kept values are exactly x/(1-p) (%zu of %zu)", exact,
             n);
    }
    free(x), free(y), free(dy), free(dx);
}

/* The paper's form keeps exactly the units inverted dropout keeps, unscaled while training
 * (its outputs times 1/(1−p) are inverted dropout's, bit for bit), and at test time (p 0,
 * scale 1−p) every unit is x·(1−p), with no draw: the same for any seed and step. */
static void test_dropout_paper_form(void)
{
    size_t n = 10007;
    float p = 0.5f, *x = t_alloc(n), *inv = t_alloc(n), *paper = t_alloc(n), *t = t_alloc(n);
    float *t2 = t_alloc(n);
    t_fill(x, n, -3, 3);
    anet_cpu_dropout_forward(n, p, INV(p), 5, 9, PURPOSE, 0, x, inv);
    anet_cpu_dropout_forward(n, p, 1.0f, 5, 9, PURPOSE, 0, x, paper);
    size_t differ = 0, unscaled = 0;
    for (size_t i = 0; i < n; i++) {
        differ += paper[i] * INV(p) != inv[i];
        unscaled += paper[i] == 0 || paper[i] == x[i];
    }
    T_OK(differ == 0 && unscaled == n,
         "dropout, the paper's form: inverted's mask, kept units as they are (%zu differ, %zu of "
         "%zu unscaled)", differ, unscaled, n);
    anet_cpu_dropout_forward(n, 0, 1 - p, 5, 9, PURPOSE, 0, x, t);
    anet_cpu_dropout_forward(n, 0, 1 - p, 6, 10, PURPOSE + 1, 0, x, t2);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += t[i] != x[i] * (1 - p) || t2[i] != t[i];
    T_OK(wrong == 0, "dropout at test, the paper's form: every unit x*(1-p), whatever the "
         "stream (%zu wrong)", wrong);
    free(x), free(inv), free(paper), free(t), free(t2);
}

static void test_dropout_streams(void)
{
    size_t n = 4096, differ = 0, differ_purpose = 0;
    float *x = t_alloc(n), *a = t_alloc(n), *b = t_alloc(n), *c = t_alloc(n), *id = t_alloc(n);
    for (size_t i = 0; i < n; i++) x[i] = 1;
    anet_cpu_dropout_forward(n, 0.5f, INV(0.5f), 7, 100, PURPOSE, 0, x, a);
    anet_cpu_dropout_forward(n, 0.5f, INV(0.5f), 7, 101, PURPOSE, 0, x, b);
    anet_cpu_dropout_forward(n, 0.5f, INV(0.5f), 7, 100, PURPOSE + 1, 0, x, c);
    for (size_t i = 0; i < n; i++) differ += a[i] != b[i], differ_purpose += a[i] != c[i];
    /* independent masks of p = 0.5 differ in about half the places */
    T_OK(differ > n / 3 && differ_purpose > n / 3,
         "dropout: another step changes %zu of %zu mask bits, another layer %zu", differ, n,
         differ_purpose);

    t_fill(x, n, -5, 5);
    x[0] = -0.0f;
    anet_cpu_dropout_forward(n, 0, 1.0f, 7, 100, PURPOSE, 0, x, id);
    anet_cpu_dropout_forward_ref(n, 0, 1.0f, 7, 100, PURPOSE, 0, x, a);
    T_OK(memcmp(id, x, n * sizeof *x) == 0 && memcmp(a, x, n * sizeof *x) == 0,
         "dropout p 0 scale 1 is the identity (fast and ref)");
    free(x), free(a), free(b), free(c), free(id);
}

/* A share of an array computed apart (first = its offset in the whole, at every alignment
 * to Philox's blocks of four) gets exactly the whole array's masks there. */
static void test_dropout_shares(void)
{
    size_t n = 1003;
    float *x = t_alloc(n), *whole = t_alloc(n), *part = t_alloc(n), sc = INV(0.5f);
    t_fill(x, n, -3, 3);
    anet_cpu_dropout_forward_ref(n, 0.5f, sc, 11, 5, PURPOSE, 0, x, whole);
    int same = 1;
    const size_t firsts[] = {0, 1, 2, 3, 4, 5, 127, 500, 1002};
    for (size_t k = 0; k < sizeof firsts / sizeof *firsts; k++) {
        size_t f = firsts[k], len = n - f < 37 ? n - f : 37;
        for (int fast = 0; fast < 2; fast++) {
            if (fast) anet_cpu_dropout_forward(len, 0.5f, sc, 11, 5, PURPOSE, f, x + f, part);
            else anet_cpu_dropout_forward_ref(len, 0.5f, sc, 11, 5, PURPOSE, f, x + f, part);
            same &= !memcmp(part, whole + f, len * sizeof *part);
            if (fast) anet_cpu_dropout_backward(len, 0.5f, sc, 11, 5, PURPOSE, f, x + f, part);
            else anet_cpu_dropout_backward_ref(len, 0.5f, sc, 11, 5, PURPOSE, f, x + f, part);
            same &= !memcmp(part, whole + f, len * sizeof *part);
        }
    }
    T_OK(same, "dropout of a share from any offset has the whole array's masks (fast and ref)");
    free(x), free(whole), free(part);
}

int main(void)
{
    test_dropout_shares();
    test_dropout_fast_vs_ref();
    test_dropout_mask(0.5f, INV(0.5f));
    test_dropout_mask(0.2f, INV(0.2f));
    test_dropout_mask(0.5f, 1.0f);  /* the paper's form while training */
    test_dropout_mask(0.0f, 0.5f);  /* and at test time */
    test_dropout_paper_form();
    test_dropout_streams();
    return t_done();
}
