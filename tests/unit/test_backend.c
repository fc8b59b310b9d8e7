/* Every backend against the CPU reference: every op forward and backward on random inputs
 * (odd sizes, groups 2), the augmentation, the SGD list, the whole network forward,
 * backward and three SGD steps in one part and two, the memory, the failure path, and
 * backends side by side (two precisions in one process, two threads at once).
 *
 * The backends under test: the CPU's fast path always; with a GPU, CUDA in fp32, tf32 and
 * bf16. Without CUDA or without a GPU the CUDA backends are skipped (and counted as
 * skipped) after checking that asking for one fails cleanly with the right message; with
 * ANET_REQUIRE_GPU=1 (make check-gpu) a missing GPU is a failure instead.
 *
 * Tolerances, as max |backend − reference| / max |reference| over a tensor:
 *   CPU fast  2e-5 (im2col + BLAS sums in another order than the loops)
 *   fp32      2e-5 (cuDNN and cuBLAS sum in other orders; FFT and Winograd algorithms too)
 *   tf32      5e-3 (10-bit mantissas in the products)
 *   bf16      3e-2 (8-bit mantissas in the inputs and in cuDNN's bf16 outputs)
 * Ops that do not depend on the precision (LRN, pooling, activations, softmax) use 2e-5
 * where they compute in float and must be exact where they only select or copy. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/backend.h"
#include "alexnet/loader.h"
#include "alexnet/model.h"
#include "alexnet/ops.h"
#include "alexnet/rng.h"
#include "test.h"

/* The backend under test and its name in the messages. */
static struct anet_backend *B;
static char bname[64];
static double tol;

/* ---- memory helpers ------------------------------------------------------------------- */
static void *dev_copy(const void *host, size_t bytes)
{
    void *d = B->ops->alloc(B, bytes);
    if (d && host) B->ops->upload(B, d, host, bytes);
    return d;
}
static float *dev_floats(const float *host, size_t n) { return dev_copy(host, n * sizeof(float)); }
static float *dev_zeros(size_t n) { return dev_copy(NULL, n * sizeof(float)); }
static void dev_free(void *p) { B->ops->free(B, p); }
/* A host copy of n floats of the backend's memory (the caller frees it). */
static float *host_floats(const float *dev, size_t n)
{
    float *h = t_alloc(n);
    B->ops->download(B, h, dev, n * sizeof(float));
    if (B->ops->error(B) != ANET_OK)
        for (size_t i = 0; i < n; i++) h[i] = NAN;
    return h;
}
static int same_bits(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof *a); }

static int backend_fine(const char *what)
{
    enum anet_status s = B->ops->sync(B);
    if (s) T_OK(0, "%s %s: %s", bname, what, anet_error_detail());
    return s == ANET_OK;
}

/* ---- convolution -------------------------------------------------------------------------- */
static void check_conv(const struct anet_conv_desc *d, const char *name)
{
    int oh = anet_conv_out(d->h, d->kh, d->stride, d->pad), ow = anet_conv_out(d->w, d->kw, d->stride, d->pad);
    size_t xs = (size_t)d->n * d->c * d->h * d->w, ys = (size_t)d->n * d->k * oh * ow;
    size_t ws = (size_t)d->k * (d->c / d->groups) * d->kh * d->kw;
    float *x = t_alloc(xs), *w = t_alloc(ws), *b = t_alloc(d->k), *dy = t_alloc(ys);
    float *y = t_alloc(ys), *dx = t_alloc(xs), *dw = t_alloc(ws), *db = t_alloc(d->k);
    t_fill(x, xs, -1, 1), t_fill(w, ws, -0.1, 0.1), t_fill(b, d->k, -1, 1), t_fill(dy, ys, -1, 1);
    anet_cpu_conv_forward_ref(d, x, w, b, y, NULL);
    anet_cpu_conv_backward_ref(d, x, w, dy, dx, dw, db, NULL);
    float *gx = dev_floats(x, xs), *gw = dev_floats(w, ws), *gb = dev_floats(b, d->k);
    float *gdy = dev_floats(dy, ys), *gy = dev_zeros(ys), *gdx = dev_zeros(xs);
    float *gdw = dev_zeros(ws), *gdb = dev_zeros(d->k);
    size_t wk = B->ops->conv_workspace(B, d);
    float *work = wk ? dev_zeros(wk) : NULL;
    B->ops->conv_forward(B, d, gx, gw, gb, gy, work);
    B->ops->conv_backward(B, d, gx, gw, gdy, gdx, gdw, gdb, work);
    if (backend_fine(name)) {
        float *hy = host_floats(gy, ys), *hdx = host_floats(gdx, xs);
        float *hdw = host_floats(gdw, ws), *hdb = host_floats(gdb, d->k);
        double ey = t_rel_err(hy, y, ys), edx = t_rel_err(hdx, dx, xs);
        double edw = t_rel_err(hdw, dw, ws), edb = t_rel_err(hdb, db, d->k);
        T_OK(ey < tol && edx < tol && edw < tol && edb < tol,
             "%s conv %s (%dx%dx%dx%d k%d %dx%d s%d p%d g%d): rel err y %.2g dx %.2g dw %.2g "
             "db %.2g (tol %g)", bname, name, d->n, d->c, d->h, d->w, d->k,
             d->kh, d->kw, d->stride, d->pad, d->groups, ey, edx, edw, edb, tol);
        free(hy), free(hdx), free(hdw), free(hdb);
    }
    dev_free(gx), dev_free(gw), dev_free(gb), dev_free(gdy), dev_free(work);
    dev_free(gy), dev_free(gdx), dev_free(gdw), dev_free(gdb);
    free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db);
}

static void test_conv(void)
{
    const struct anet_conv_desc cases[] = {
        {.n = 3, .c = 3, .h = 39, .w = 37, .k = 8, .kh = 11, .kw = 11, .stride = 4, .pad = 0, .groups = 1},
        {.n = 2, .c = 8, .h = 13, .w = 11, .k = 10, .kh = 5, .kw = 5, .stride = 1, .pad = 2, .groups = 2},
        {.n = 5, .c = 6, .h = 7, .w = 9, .k = 4, .kh = 3, .kw = 3, .stride = 1, .pad = 1, .groups = 2},
        {.n = 1, .c = 5, .h = 6, .w = 6, .k = 7, .kh = 3, .kw = 3, .stride = 1, .pad = 1, .groups = 1},
        {.n = 2, .c = 16, .h = 9, .w = 9, .k = 16, .kh = 5, .kw = 5, .stride = 1, .pad = 2, .groups = 2},
    };
    /* with ANET_CUDA_BF16_NHWC=1, bf16 runs conv1-like (3 channels padded to 8) and the
       last case (8 a group) through channels-last copies, the others in NCHW */
    const char *names[] = {"conv1-like", "conv2-like", "conv4-like", "batch 1", "8 channels a group"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_conv(&cases[i], names[i]);
}

/* ---- fully connected -------------------------------------------------------------------- */
static void test_fc(void)
{
    const int n = 5, in = 37, out = 19;
    float *x = t_alloc(n * in), *w = t_alloc(out * in), *b = t_alloc(out), *dy = t_alloc(n * out);
    float *y = t_alloc(n * out), *dx = t_alloc(n * in), *dw = t_alloc(out * in), *db = t_alloc(out);
    t_fill(x, n * in, -1, 1), t_fill(w, out * in, -0.2, 0.2), t_fill(b, out, -1, 1);
    t_fill(dy, n * out, -1, 1);
    anet_cpu_fc_forward_ref(n, in, out, x, w, b, y);
    anet_cpu_fc_backward_ref(n, in, out, x, w, dy, dx, dw, db);
    float *gx = dev_floats(x, n * in), *gw = dev_floats(w, out * in), *gb = dev_floats(b, out);
    float *gdy = dev_floats(dy, n * out), *gy = dev_zeros(n * out), *gdx = dev_zeros(n * in);
    float *gdw = dev_zeros(out * in), *gdb = dev_zeros(out);
    B->ops->fc_forward(B, n, in, out, gx, gw, gb, gy);
    B->ops->fc_backward(B, n, in, out, gx, gw, gdy, gdx, gdw, gdb);
    if (backend_fine("fc")) {
        float *hy = host_floats(gy, n * out), *hdx = host_floats(gdx, n * in);
        float *hdw = host_floats(gdw, out * in), *hdb = host_floats(gdb, out);
        double ey = t_rel_err(hy, y, n * out), edx = t_rel_err(hdx, dx, n * in);
        double edw = t_rel_err(hdw, dw, out * in), edb = t_rel_err(hdb, db, out);
        T_OK(ey < tol && edx < tol && edw < tol && edb < 2e-5,
             "%s fc %dx%d->%d: rel err y %.2g dx %.2g dw %.2g db %.2g (tol %g)", bname, n, in,
             out, ey, edx, edw, edb, tol);
        free(hy), free(hdx), free(hdw), free(hdb);
    }
    dev_free(gx), dev_free(gw), dev_free(gb), dev_free(gdy);
    dev_free(gy), dev_free(gdx), dev_free(gdw), dev_free(gdb);
    free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db);
}

/* ---- LRN ------------------------------------------------------------------------------------ */
static void test_lrn(void)
{
    const struct anet_lrn_param p = {5, 2.0f, 1e-4f, 0.75f};
    const int n = 2, c = 13, hw = 17;
    size_t cnt = (size_t)n * c * hw;
    float *x = t_alloc(cnt), *y = t_alloc(cnt), *sc = t_alloc(cnt), *dy = t_alloc(cnt), *dx = t_alloc(cnt);
    t_fill(x, cnt, -60, 60), t_fill(dy, cnt, -1, 1);
    /* against the CPU fast path: the reference loop's dx differs from both by rounding
       where its two terms nearly cancel (test_lrn bounds that difference) */
    anet_cpu_lrn_forward(n, c, hw, &p, x, y, sc);
    anet_cpu_lrn_backward(n, c, hw, &p, x, y, sc, dy, dx);
    float *gx = dev_floats(x, cnt), *gy = dev_zeros(cnt), *gs = dev_zeros(cnt);
    float *gdy = dev_floats(dy, cnt), *gdx = dev_zeros(cnt);
    B->ops->lrn_forward(B, n, c, hw, &p, gx, gy, gs);
    B->ops->lrn_backward(B, n, c, hw, &p, gx, gy, gs, gdy, gdx);
    if (backend_fine("lrn")) {
        float *hy = host_floats(gy, cnt), *hs = host_floats(gs, cnt), *hdx = host_floats(gdx, cnt);
        double ey = t_rel_err(hy, y, cnt), es = t_rel_err(hs, sc, cnt), edx = t_rel_err(hdx, dx, cnt);
        T_OK(ey < 2e-5 && es < 2e-5 && edx < 2e-5,
             "%s lrn %dx%dx%d (alpha not divided by n): rel err y %.2g scale %.2g dx %.2g",
             bname, n, c, hw, ey, es, edx);
        free(hy), free(hs), free(hdx);
    }
    dev_free(gx), dev_free(gy), dev_free(gs), dev_free(gdy), dev_free(gdx);
    free(x), free(y), free(sc), free(dy), free(dx);
}

/* ---- max pooling ------------------------------------------------------------------------ */
static void check_pool(int size, int stride)
{
    struct anet_pool_desc d = {.n = 2, .c = 3, .h = 13, .w = 11, .size = size, .stride = stride};
    int oh = anet_pool_out(d.h, size, stride), ow = anet_pool_out(d.w, size, stride);
    size_t xs = (size_t)d.n * d.c * d.h * d.w, ys = (size_t)d.n * d.c * oh * ow;
    float *x = t_alloc(xs), *y = t_alloc(ys), *dy = t_alloc(ys), *dx = t_alloc(xs);
    int32_t *arg = calloc(ys, sizeof *arg), *harg = calloc(ys, sizeof *harg);
    t_fill(x, xs, -1, 1), t_fill(dy, ys, -1, 1);
    for (size_t i = 0; i < xs; i += 7) x[i] = x[i / 2]; /* some ties */
    anet_cpu_maxpool_forward_ref(&d, x, y, arg);
    anet_cpu_maxpool_backward_ref(&d, dy, arg, dx);
    float *gx = dev_floats(x, xs), *gy = dev_zeros(ys), *gdy = dev_floats(dy, ys), *gdx = dev_zeros(xs);
    int32_t *garg = dev_copy(NULL, ys * sizeof *garg);
    B->ops->maxpool_forward(B, &d, gx, gy, garg);
    B->ops->maxpool_backward(B, &d, gdy, garg, gdx);
    if (backend_fine("maxpool")) {
        float *hy = host_floats(gy, ys), *hdx = host_floats(gdx, xs);
        B->ops->download(B, harg, garg, ys * sizeof *harg);
        double edx = t_rel_err(hdx, dx, xs);
        T_OK(same_bits(hy, y, ys) && !memcmp(harg, arg, ys * sizeof *arg) && edx < 1e-6,
             "%s maxpool %d/%d on 13x11 with ties: y and argmax identical, dx rel err %.2g",
             bname, size, stride, edx);
        free(hy), free(hdx);
    }
    dev_free(gx), dev_free(gy), dev_free(gdy), dev_free(gdx), dev_free(garg);
    free(x), free(y), free(dy), free(dx), free(arg), free(harg);
}

/* ---- activations ---------------------------------------------------------------------- */
static void check_act(enum anet_act a)
{
    const size_t cnt = 1003;
    float *x = t_alloc(cnt), *y = t_alloc(cnt), *dy = t_alloc(cnt), *dx = t_alloc(cnt);
    t_fill(x, cnt, -3, 3), t_fill(dy, cnt, -1, 1);
    x[0] = 0, x[1] = -0.0f;
    anet_cpu_act_forward_ref(a, cnt, x, y);
    anet_cpu_act_backward_ref(a, cnt, y, dy, dx);
    float *gx = dev_floats(x, cnt), *gdy = dev_floats(dy, cnt);
    B->ops->act_forward(B, a, cnt, gx, gx); /* in place, as the model runs it */
    B->ops->act_backward(B, a, cnt, gx, gdy, gdy);
    if (backend_fine("act")) {
        float *hy = host_floats(gx, cnt), *hdx = host_floats(gdy, cnt);
        double ey = t_rel_err(hy, y, cnt), edx = t_rel_err(hdx, dx, cnt);
        if (a == ANET_ACT_RELU)
            T_OK(same_bits(hy, y, cnt) && same_bits(hdx, dx, cnt),
                 "%s relu forward and backward in place: identical to the reference", bname);
        else
            T_OK(ey < 2e-6 && edx < 2e-5, "%s tanh forward and backward: rel err %.2g, %.2g",
                 bname, ey, edx);
        free(hy), free(hdx);
    }
    dev_free(gx), dev_free(gdy);
    free(x), free(y), free(dy), free(dx);
}

/* ---- dropout ---------------------------------------------------------------------------- */
/* scale: the multiplier of kept units (1/(1-p) inverted; 1 the paper's training; with p 0,
 * the paper's test-time product). */
static void check_dropout(float p, float scale, size_t cnt)
{
    float *x = t_alloc(cnt), *y = t_alloc(cnt), *dx = t_alloc(cnt);
    t_fill(x, cnt, -2, 2);
    anet_cpu_dropout_forward_ref(cnt, p, scale, 0x1234567890ull, 77, ANET_RNG_DROPOUT + 6, 0, x, y);
    anet_cpu_dropout_backward_ref(cnt, p, scale, 0x1234567890ull, 77, ANET_RNG_DROPOUT + 6, 0, x, dx);
    float *gx = dev_floats(x, cnt), *gy = dev_zeros(cnt), *gdx = dev_zeros(cnt);
    B->ops->dropout_forward(B, cnt, p, scale, 0x1234567890ull, 77, ANET_RNG_DROPOUT + 6, 0, gx, gy);
    B->ops->dropout_backward(B, cnt, p, scale, 0x1234567890ull, 77, ANET_RNG_DROPOUT + 6, 0, gx, gdx);
    if (backend_fine("dropout")) {
        float *hy = host_floats(gy, cnt), *hdx = host_floats(gdx, cnt);
        size_t kept = 0;
        for (size_t i = 0; i < cnt; i++) kept += hy[i] != 0;
        T_OK(same_bits(hy, y, cnt) && same_bits(hdx, dx, cnt),
             "%s dropout p=%g scale %g over %zu: masks and values identical to the reference "
             "(%zu kept)", bname, p, scale, cnt, kept);
        free(hy), free(hdx);
    }
    /* a share from offset 7 (not a multiple of Philox's four) gets the whole's masks */
    size_t f = cnt > 7 ? 7 : 0, len = cnt - f;
    B->ops->dropout_forward(B, len, p, scale, 0x1234567890ull, 77, ANET_RNG_DROPOUT + 6, f, gx + f, gy);
    if (backend_fine("dropout share")) {
        float *hy = host_floats(gy, len);
        T_OK(same_bits(hy, y + f, len), "%s dropout p=%g scale %g of a share from offset %zu: "
             "the whole's masks", bname, p, scale, f);
        free(hy);
    }
    dev_free(gx), dev_free(gy), dev_free(gdx);
    free(x), free(y), free(dx);
}

/* ---- softmax + cross-entropy ------------------------------------------------------------- */
static void test_softmax(void)
{
    const int n = 7, classes = 13;
    size_t cnt = (size_t)n * classes;
    float *l = t_alloc(cnt), *prob = t_alloc(cnt), *dl = t_alloc(cnt);
    int32_t label[7] = {0, 12, 5, 5, 3, 1, 11};
    t_fill(l, cnt, -20, 20);
    l[3] = 300; /* a confident row: no overflow */
    double loss, gloss;
    anet_cpu_softmax_xent_forward_ref(n, classes, l, label, prob, &loss);
    anet_cpu_softmax_xent_backward_ref(n, classes, prob, label, n, dl);
    float *gl = dev_floats(l, cnt), *gp = dev_zeros(cnt), *gdl = dev_zeros(cnt);
    int32_t *glab = dev_copy(label, sizeof label);
    B->ops->softmax_xent_forward(B, n, classes, gl, glab, gp, &gloss);
    B->ops->softmax_xent_backward(B, n, classes, gp, glab, n, gdl);
    if (backend_fine("softmax")) {
        float *hp = host_floats(gp, cnt), *hdl = host_floats(gdl, cnt);
        double ep = t_rel_err(hp, prob, cnt), edl = t_rel_err(hdl, dl, cnt);
        double el = fabs(gloss - loss) / fabs(loss);
        T_OK(el < 1e-12 && ep < 1e-6 && edl < 1e-6,
             "%s softmax+xent %dx%d: loss %.12g vs %.12g, prob rel err %.2g, dlogits %.2g",
             bname, n, classes, gloss, loss, ep, edl);
        free(hp), free(hdl);
    }
    dev_free(gl), dev_free(gp), dev_free(gdl), dev_free(glab);
    free(l), free(prob), free(dl);
}

/* ---- SGD and sums ------------------------------------------------------------------------ */
static void test_sgd(void)
{
    const size_t cnt[3] = {1001, 17, 4096};
    const float decay[3] = {0.0005f, 0.0f, 0.0005f};
    const float scale[3] = {1.0f, 10.0f, 0.1f}; /* layers' learning-rate multipliers */
    float *w[3], *g[3], *v[3], *gw[3], *gg[3], *gv[3];
    struct anet_sgd_list list = {.count = 3};
    for (int t = 0; t < 3; t++) {
        w[t] = t_alloc(cnt[t]), g[t] = t_alloc(cnt[t]), v[t] = t_alloc(cnt[t]);
        t_fill(w[t], cnt[t], -1, 1), t_fill(g[t], cnt[t], -1, 1), t_fill(v[t], cnt[t], -0.1, 0.1);
        gw[t] = dev_floats(w[t], cnt[t]), gg[t] = dev_floats(g[t], cnt[t]), gv[t] = dev_floats(v[t], cnt[t]);
        list.w[t] = gw[t], list.g[t] = gg[t], list.v[t] = gv[t], list.n[t] = cnt[t];
        list.decay[t] = decay[t], list.lr_scale[t] = scale[t];
        anet_cpu_sgd_update_ref(cnt[t], 0.01f * scale[t], 0.9f, decay[t], w[t], g[t], v[t]);
    }
    B->ops->sgd_list(B, &list, 0.01f, 0.9f);
    int same = 1;
    if (backend_fine("sgd list")) {
        for (int t = 0; t < 3; t++) {
            float *hw = host_floats(gw[t], cnt[t]), *hv = host_floats(gv[t], cnt[t]);
            same &= same_bits(hw, w[t], cnt[t]) && same_bits(hv, v[t], cnt[t]);
            free(hw), free(hv);
        }
        T_OK(same, "%s SGD over a list of three tensors, each at its own learning rate: "
             "weights and momentum identical to the reference", bname);
    }
    /* one tensor at a time, a second step */
    anet_cpu_sgd_update_ref(cnt[0], 0.001f, 0.9f, decay[0], w[0], g[0], v[0]);
    B->ops->sgd_update(B, cnt[0], 0.001f, 0.9f, decay[0], gw[0], gg[0], gv[0]);
    if (backend_fine("sgd")) {
        float *hw = host_floats(gw[0], cnt[0]);
        T_OK(same_bits(hw, w[0], cnt[0]), "%s SGD on one tensor: identical to the reference",
             bname);
        free(hw);
    }
    /* y += x, as the towers' partial gradients are summed */
    float *sum = t_alloc(cnt[0]);
    for (size_t i = 0; i < cnt[0]; i++) sum[i] = w[0][i] + g[0][i];
    B->ops->add(B, gw[0], gg[0], cnt[0]);
    float *hw = host_floats(gw[0], cnt[0]);
    for (size_t i = 0; i < cnt[0]; i++) hw[i] -= g[0][i];
    B->ops->upload(B, gw[0], w[0], cnt[0] * sizeof(float));
    B->ops->add(B, gw[0], gg[0], cnt[0]);
    float *hs = host_floats(gw[0], cnt[0]);
    T_OK(backend_fine("add") && same_bits(hs, sum, cnt[0]), "%s y += x: identical", bname);
    free(hw), free(hs), free(sum);
    for (int t = 0; t < 3; t++) {
        dev_free(gw[t]), dev_free(gg[t]), dev_free(gv[t]);
        free(w[t]), free(g[t]), free(v[t]);
    }
}

/* ---- augmentation and copies -------------------------------------------------------------- */
static void test_augment(void)
{
    const int n = 4, c = 3, h = 23, w = 19, crop = 15;
    size_t src_n = (size_t)n * c * h * w, out_n = (size_t)n * c * crop * crop;
    uint8_t *src = malloc(src_n);
    float *mean = t_alloc((size_t)c * h * w), *want = t_alloc(out_n);
    for (size_t i = 0; i < src_n; i++) src[i] = (uint8_t)(t_uniform(0, 256));
    t_fill(mean, (size_t)c * h * w, 60, 180);
    struct anet_crop_draw draws[4] = {
        {0, 0, 0, {0, 0, 0}}, {4, 8, 1, {0.01f, -0.02f, 0.03f}},
        {w - crop, h - crop, 1, {-0.1f, 0.05f, 0}}, {2, 3, 0, {0.2f, 0.1f, -0.3f}}};
    struct anet_loader_config cfg = {.crop = crop, .mean = mean, .mean_c = c, .mean_h = h, .mean_w = w};
    for (int i = 0; i < n; i++)
        anet_loader_transform(&cfg, src + (size_t)i * c * h * w, c, h, w, &draws[i],
                              want + (size_t)i * c * crop * crop);
    uint8_t *gsrc = dev_copy(src, src_n);
    float *gmean = dev_floats(mean, (size_t)c * h * w), *gout = dev_zeros(out_n);
    struct anet_crop_draw *gd = dev_copy(draws, sizeof draws);
    B->ops->augment(B, n, 1, c, h, w, crop, gsrc, gmean, gd, gout);
    if (backend_fine("augment")) {
        float *hout = host_floats(gout, out_n);
        T_OK(same_bits(hout, want, out_n),
             "%s augmentation (crop, mirror, mean, colour noise) identical to the loader's", bname);
        free(hout);
    }
    /* without a mean image */
    cfg.mean = NULL;
    for (int i = 0; i < n; i++)
        anet_loader_transform(&cfg, src + (size_t)i * c * h * w, c, h, w, &draws[i],
                              want + (size_t)i * c * crop * crop);
    B->ops->augment(B, n, 1, c, h, w, crop, gsrc, NULL, gd, gout);
    if (backend_fine("augment without mean")) {
        float *hout = host_floats(gout, out_n);
        T_OK(same_bits(hout, want, out_n), "%s augmentation without a mean image identical", bname);
        free(hout);
    }
    /* two images, two crops each: crop i comes from image i / 2 */
    cfg.mean = mean;
    for (int i = 0; i < n; i++)
        anet_loader_transform(&cfg, src + (size_t)(i / 2) * c * h * w, c, h, w, &draws[i],
                              want + (size_t)i * c * crop * crop);
    B->ops->augment(B, n, 2, c, h, w, crop, gsrc, gmean, gd, gout);
    if (backend_fine("augment, two crops an image")) {
        float *hout = host_floats(gout, out_n);
        T_OK(same_bits(hout, want, out_n), "%s augmentation of several crops an image identical",
             bname);
        free(hout);
    }
    /* a 2-D copy between lanes: rows 1..3 of an 8-wide array, columns 2..6, into a 5-wide */
    float grid[4 * 8], got[3 * 5], exp[3 * 5];
    for (int i = 0; i < 32; i++) grid[i] = (float)i;
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 5; k++) exp[r * 5 + k] = grid[(r + 1) * 8 + 2 + k];
    float *gsrc2 = dev_floats(grid, 32), *gdst = dev_zeros(15);
    int lanes[2] = {0, B->lanes > 1 ? 1 : 0};
    B->ops->barrier(B, 2, lanes);
    B->ops->copy2d(B, gdst, 5 * sizeof(float), lanes[1], gsrc2 + 8 + 2, 8 * sizeof(float),
                   5 * sizeof(float), 3);
    B->ops->download(B, got, gdst, sizeof got);
    T_OK(backend_fine("copy2d") && !memcmp(got, exp, sizeof got),
         "%s a 2-D copy between lanes moves exactly the rows and columns asked", bname);
    dev_free(gsrc2), dev_free(gdst);
    dev_free(gsrc), dev_free(gmean), dev_free(gout), dev_free(gd);
    free(src), free(mean), free(want);
}

/* ---- the whole network -------------------------------------------------------------------- */
static void small_config(struct anet_config *c)
{
    anet_config_default(c);
    c->classes = 10, c->crop = 99;
    int widths[5] = {16, 32, 48, 48, 32};
    memcpy(c->conv, widths, sizeof widths);
    c->fc[0] = c->fc[1] = 64;
    c->init_std = 0.05f;
}

static double max_param_err(struct anet_model *a, struct anet_model *b, const char **worst)
{
    struct anet_tensor *ta, *tb;
    int count = anet_model_tensors(a, &ta);
    anet_model_tensors(b, &tb);
    double e = 0;
    for (int t = 0; t < count; t++) {
        double et = t_rel_err(ta[t].data, tb[t].data, ta[t].count);
        if (et > e || et != et) e = et, *worst = ta[t].name;
    }
    return e;
}

/* ‖Δa − Δb‖ / ‖Δb‖ over all parameters, Δ = w − init. */
static double update_err(struct anet_model *a, struct anet_model *b, const float *init)
{
    struct anet_tensor *ta, *tb;
    int count = anet_model_tensors(a, &ta);
    anet_model_tensors(b, &tb);
    double num = 0, den = 0;
    size_t off = 0;
    for (int t = 0; t < count; t++)
        for (size_t i = 0; i < ta[t].count; i++, off++) {
            double da = (double)ta[t].data[i] - init[off], db = (double)tb[t].data[i] - init[off];
            num += (da - db) * (da - db), den += db * db;
        }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static const char *parts_name(int parts) { return parts == 1 ? "one part" : "the towers apart"; }

/* A model on B in `parts` parts against the reference CPU's one-part model. */
static void test_network(int parts)
{
    struct anet_config c;
    small_config(&c);
    const int n = 3;
    struct anet_backend_memory before, after;
    B->ops->trim(B);
    anet_backend_memory(B, &before);
    struct anet_backend *ref;
    struct anet_model *cpu = NULL, *dev = NULL;
    enum anet_status s = anet_backend_cpu(ANET_PATH_REF, &ref);
    struct anet_placement on_ref = {.backend = ref, .parts = 1};
    struct anet_placement on_b = {.backend = B, .parts = parts, .lane = {0, B->lanes > 1 ? 1 : 0}};
    if (!s) s = anet_model_create_placed(&c, n, &on_ref, &cpu);
    if (!s) s = anet_model_create_placed(&c, n, &on_b, &dev);
    if (!T_OK(s == ANET_OK, "%s, %s: a small network on the reference and on the backend %s",
              bname, parts_name(parts), s ? anet_error_detail() : "")) {
        anet_model_free(cpu), anet_model_free(dev), anet_backend_free(ref);
        return;
    }
    anet_model_init(cpu, 7);
    anet_model_init(dev, 7);
    struct anet_tensor *tt;
    int tensors = anet_model_tensors(cpu, &tt);
    size_t total = 0;
    for (int t = 0; t < tensors; t++) total += tt[t].count;
    float *init = t_alloc(total);
    for (int t = 0, off = 0; t < tensors; off += (int)tt[t].count, t++)
        memcpy(init + off, tt[t].data, tt[t].count * sizeof *init);
    size_t in = (size_t)n * 3 * 99 * 99;
    float *x = t_alloc(in);
    t_seed(11);
    t_fill(x, in, -100, 100);
    int32_t labels[3] = {1, 9, 4};
    struct anet_sgd h;
    anet_sgd_default(&h);
    double lc[3] = {0}, lg[3] = {0}, worst_loss = 0;
    for (uint32_t step = 0; step < 3 && !s; step++) {
        anet_model_train_step(cpu, x, labels, n, &h, 5, step, &lc[step]);
        s = anet_model_train_step(dev, x, labels, n, &h, 5, step, &lg[step]);
        worst_loss = fmax(worst_loss, fabs(lg[step] - lc[step]) / fabs(lc[step]));
    }
    if (!s) s = anet_model_pull(dev);
    /* Three steps of SGD amplify differences a little: allow ten times the op tolerance.
     * fp32 holds every tensor to it; in tf32 and bf16 the biases of conv1 (sums of
     * thousands of small gradients that nearly cancel) differ by more, relative to their
     * own small size, so those modes are held to the relative L2 error of the whole
     * update Δw = w − w_init over all parameters. */
    const char *worst = "";
    double ep = s ? 1 : max_param_err(dev, cpu, &worst);
    double du = s ? 1 : update_err(dev, cpu, init);
    int fine = tol <= 2e-5 ? ep < 10 * tol : du < 10 * tol;
    T_OK(!s && worst_loss < tol && fine,
         "%s, %s: three SGD steps (dropout on): losses %.6f %.6f %.6f vs %.6f %.6f %.6f, loss "
         "rel err %.2g; weights: worst tensor rel err %.2g (%s), update L2 rel err %.2g (tol "
         "%g, %g) %s", bname, parts_name(parts), lg[0], lg[1], lg[2], lc[0], lc[1], lc[2],
         worst_loss, ep, worst, du, tol, 10 * tol, s ? anet_error_detail() : "");
    free(init);
    /* inference: logits come back to the host */
    const float *lgc, *lgg;
    anet_model_forward(cpu, x, n, 0, 0, 0, &lgc);
    s = anet_model_forward(dev, x, n, 0, 0, 0, &lgg);
    double el = s ? 1 : t_rel_err(lgg, lgc, (size_t)n * c.classes);
    T_OK(!s && el < 10 * tol, "%s, %s: test-mode logits after training, rel err %.2g", bname,
         parts_name(parts), el);
    /* the gradients are reachable where they live, one span a part on a device */
    struct anet_span spans[ANET_MAX_PARTS];
    int ns = anet_model_gradients(dev, spans);
    size_t covered = 0;
    for (int i = 0; i < ns; i++) covered += spans[i].count;
    T_OK(ns >= 1 && ns <= parts && covered == anet_config_params(&c),
         "%s, %s: the gradients in %d span%s covering all %zu parameters", bname,
         parts_name(parts), ns, ns == 1 ? "" : "s", covered);
    anet_model_free(cpu);
    anet_model_free(dev);
    anet_backend_free(ref);
    free(x);
    B->ops->trim(B);
    anet_backend_memory(B, &after);
    T_OK(after.in_use == before.in_use,
         "%s, %s: the model's device memory all returns (%zu bytes in use before, %zu after)",
         bname, parts_name(parts), before.in_use, after.in_use);
}

/* ---- one backend under test ---------------------------------------------------------------- */
static void test_backend(struct anet_backend *b, const char *name, double tolerance, uint64_t seed)
{
    B = b, tol = tolerance;
    snprintf(bname, sizeof bname, "%s", name);
    t_seed(seed);
    test_conv();
    test_fc();
    test_lrn();
    check_pool(3, 2);
    check_pool(2, 2);
    check_act(ANET_ACT_RELU);
    check_act(ANET_ACT_TANH);
    check_dropout(0.5f, 1.0f / (1.0f - 0.5f), 1001);
    check_dropout(0.0f, 1.0f, 64);
    check_dropout(0.9f, 1.0f / (1.0f - 0.9f), 4099);
    check_dropout(0.5f, 1.0f, 1001); /* the paper's form: training, then test */
    check_dropout(0.0f, 0.5f, 1003);
    test_softmax();
    test_sgd();
    test_augment();
    test_network(1);
    test_network(2);
}

/* ---- backends side by side ------------------------------------------------------------------ */
/* SGD steps of the small network on backend b; the loss of each and the final parameters. */
struct job {
    struct anet_backend *b;
    int steps;
    double loss[4];
    float *params; /* malloc'ed copy */
    size_t count;
    enum anet_status s;
};

static void *train_job(void *arg)
{
    struct job *j = arg;
    struct anet_config c;
    small_config(&c);
    const int n = 2;
    struct anet_placement on = {.backend = j->b, .parts = 1};
    struct anet_model *m;
    if ((j->s = anet_model_create_placed(&c, n, &on, &m))) return NULL;
    anet_model_init(m, 21);
    size_t in = (size_t)n * 3 * 99 * 99;
    float *x = malloc(in * sizeof *x);
    for (size_t i = 0; x && i < in; i++) x[i] = 50.0f * anet_rng_normal(9, 0, 1, i);
    int32_t labels[2] = {3, 8};
    struct anet_sgd h;
    anet_sgd_default(&h);
    for (int s = 0; x && s < j->steps && !j->s; s++)
        j->s = anet_model_train_step(m, x, labels, n, &h, 4, (uint32_t)s, &j->loss[s]);
    if (!j->s) j->s = anet_model_pull(m);
    struct anet_tensor *t;
    int nt = anet_model_tensors(m, &t);
    j->count = 0;
    for (int i = 0; i < nt; i++) j->count += t[i].count;
    j->params = malloc(j->count * sizeof *j->params);
    for (int i = 0, off = 0; j->params && i < nt; off += (int)t[i].count, i++)
        memcpy(j->params + off, t[i].data, t[i].count * sizeof(float));
    free(x);
    anet_model_free(m);
    return NULL;
}

/* Two threads train at once, each on a CPU reference backend of its own: nothing is shared,
 * so each gets what it gets alone, bit for bit. */
static void test_threads(void)
{
    struct anet_backend *b[3];
    for (int i = 0; i < 3; i++)
        if (anet_backend_cpu(ANET_PATH_REF, &b[i])) return (void)T_OK(0, "reference backends");
    struct job alone = {.b = b[0], .steps = 2}, j1 = {.b = b[1], .steps = 2}, j2 = {.b = b[2], .steps = 2};
    train_job(&alone);
    pthread_t t1, t2;
    int started = !pthread_create(&t1, NULL, train_job, &j1) &&
                  !pthread_create(&t2, NULL, train_job, &j2);
    if (started) pthread_join(t1, NULL), pthread_join(t2, NULL);
    int same = started && !alone.s && !j1.s && !j2.s && alone.params && j1.params && j2.params &&
               !memcmp(alone.params, j1.params, alone.count * sizeof(float)) &&
               !memcmp(alone.params, j2.params, alone.count * sizeof(float)) &&
               alone.loss[1] == j1.loss[1] && alone.loss[1] == j2.loss[1];
    T_OK(same, "two threads training at once on backends of their own get what one alone "
         "gets, bit for bit (losses %.9f, %.9f, %.9f)", alone.loss[1], j1.loss[1], j2.loss[1]);
    free(alone.params), free(j1.params), free(j2.params);
    for (int i = 0; i < 3; i++) anet_backend_free(b[i]);
}

/* ---- CUDA ------------------------------------------------------------------------------------ */
static int gpu_required(void)
{
    const char *req = getenv("ANET_REQUIRE_GPU");
    return req && *req && strcmp(req, "0");
}

/* A GPU backend of lanes on the given GPUs, or a clean refusal (checked) when there is none. */
static struct anet_backend *cuda_backend(const int *gpus, int count, enum anet_precision p)
{
    struct anet_backend *b = NULL;
    enum anet_status s = anet_backend_cuda(gpus, count, p, &b);
    if (s == ANET_OK) return b;
    const char *why = anet_error_detail();
    int clean = s == ANET_ERR_UNSUPPORTED && !b &&
                (anet_cuda_built() ? !strcmp(why, "no CUDA device") : !strcmp(why, "built without CUDA"));
    T_OK(clean, "asking for a GPU backend fails cleanly: '%s'", why);
    if (gpu_required()) T_OK(0, "ANET_REQUIRE_GPU is set but there is no usable GPU: %s", why);
    else T_SKIP("GPU parity: %s", why);
    return NULL;
}

/* A failure is recorded with the call that failed, sticks to its backend, and leaves other
 * backends alone. */
static void test_failure(void)
{
    int gpu0[1] = {0};
    struct anet_backend *bad = cuda_backend(gpu0, 1, ANET_FP32), *good = cuda_backend(gpu0, 1, ANET_FP32);
    if (!bad || !good) return anet_backend_free(bad), anet_backend_free(good);
    void *p = bad->ops->alloc(bad, (size_t)1 << 52);
    enum anet_status s = anet_backend_error(bad);
    T_OK(!p && s == ANET_ERR_DEVICE && strstr(anet_error_detail(), "cudaMalloc"),
         "a 4 PiB allocation fails cleanly, naming the call: %s", anet_error_detail());
    void *q = bad->ops->alloc(bad, 64);
    T_OK(!q && anet_backend_error(bad) == ANET_ERR_DEVICE,
         "the failed backend stays failed: later calls do nothing");
    void *r = good->ops->alloc(good, 64);
    T_OK(r && anet_backend_error(good) == ANET_OK, "another backend is not touched by it");
    good->ops->free(good, r);
    anet_backend_free(bad), anet_backend_free(good);
}

/* Two precisions in one process: an fp32 and a bf16 backend, models on both, interleaved. */
static void test_two_precisions(void)
{
    int gpu0[1] = {0};
    struct anet_backend *f32 = cuda_backend(gpu0, 1, ANET_FP32), *b16 = cuda_backend(gpu0, 1, ANET_BF16);
    struct anet_backend *ref = NULL;
    if (!f32 || !b16 || anet_backend_cpu(ANET_PATH_REF, &ref)) {
        anet_backend_free(f32), anet_backend_free(b16), anet_backend_free(ref);
        return;
    }
    struct job jr = {.b = ref, .steps = 3}, ja = {.b = f32, .steps = 3}, jb = {.b = b16, .steps = 3};
    train_job(&jr);
    pthread_t ta;
    int started = !pthread_create(&ta, NULL, train_job, &ja);
    train_job(&jb); /* and the bf16 one on this thread, at the same time */
    if (started) pthread_join(ta, NULL);
    double ea = ja.params ? t_rel_err(ja.params, jr.params, jr.count) : 1;
    double lb = fabs(jb.loss[2] - jr.loss[2]) / fabs(jr.loss[2]);
    T_OK(started && !ja.s && !jb.s && ea < 1e-4 && lb < 3e-2,
         "an fp32 and a bf16 backend side by side on two threads: fp32 weights rel err %.2g, "
         "bf16 loss rel err %.2g", ea, lb);
    free(jr.params), free(ja.params), free(jb.params);
    anet_backend_free(f32), anet_backend_free(b16), anet_backend_free(ref);
}

static void test_cuda(void)
{
    static const char *const names[3] = {"cuda fp32", "cuda tf32", "cuda bf16"};
    static const double tolerance[3] = {2e-5, 5e-3, 3e-2};
    int gpus[2] = {0, 0}; /* two lanes of GPU 0: the towers on two streams */
    for (int p = ANET_FP32; p <= ANET_BF16; p++) {
        struct anet_backend *b = cuda_backend(gpus, 2, (enum anet_precision)p);
        if (!b) return;
        if (p == ANET_FP32) printf("# %s\n", anet_backend_lane_name(b, 0));
        test_backend(b, names[p], tolerance[p], 100 + (uint64_t)p);
        anet_backend_free(b);
    }
    test_failure();
    test_two_precisions();
    if (anet_cuda_devices() >= 2) { /* the paper's placement: a tower a GPU */
        int pair[2] = {0, 1};
        struct anet_backend *b = cuda_backend(pair, 2, ANET_FP32);
        if (b) test_backend(b, "cuda fp32 on GPUs 0 and 1", 2e-5, 200);
        anet_backend_free(b);
    } else {
        printf("# one GPU: the towers on two GPUs are not tested here\n");
    }
}

int main(void)
{
    struct anet_backend *cpu;
    if (!T_OK(anet_backend_cpu(ANET_PATH_FAST, &cpu) == ANET_OK, "a CPU backend")) return t_done();
    test_backend(cpu, "cpu", 2e-5, 99);
    anet_backend_free(cpu);
    test_threads();
    test_cuda();
    return t_done();
}
