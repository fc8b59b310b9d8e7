/* The GPU backend against the CPU reference: every op forward and backward on random
 * inputs (odd sizes, groups 2) in each precision, the whole network forward, backward and
 * three SGD steps, dropout masks and the augmentation bit for bit, the memory pool, and
 * the failure path.
 *
 * Without CUDA or without a GPU the parity checks are skipped (and counted as skipped)
 * after checking that asking for the GPU fails cleanly with the right message; with
 * ANET_REQUIRE_GPU=1 (make check-gpu) a missing GPU is a failure instead.
 *
 * Tolerances, as max |gpu − cpu| / max |cpu| over a tensor:
 *   fp32  2e-5 (cuDNN and cuBLAS sum in other orders; FFT and Winograd algorithms too)
 *   tf32  5e-3 (10-bit mantissas in the products)
 *   bf16  3e-2 (8-bit mantissas in the inputs and in cuDNN's bf16 outputs)
 * Ops that do not depend on the precision (LRN, pooling, activations, softmax) use 2e-5
 * where they compute in float and must be exact where they only select or copy. */
#include <stdlib.h>
#include <string.h>
#include "alexnet/cuda.h"
#include "alexnet/loader.h"
#include "alexnet/model.h"
#include "alexnet/ops.h"
#include "alexnet/rng.h"
#include "test.h"

static const double tolerance[3] = {2e-5, 5e-3, 3e-2};
static enum anet_precision prec;

/* ---- device helpers ---------------------------------------------------------------------- */
static void *dev_copy(const void *host, size_t bytes)
{
    void *d = anet_cuda_malloc(bytes);
    if (d && host) anet_cuda_upload(d, host, bytes);
    return d;
}
static float *dev_floats(const float *host, size_t n) { return dev_copy(host, n * sizeof(float)); }
static float *dev_zeros(size_t n) { return anet_cuda_calloc(n * sizeof(float)); }
/* A host copy of n floats from the device (the caller frees it). */
static float *host_floats(const float *dev, size_t n)
{
    float *h = t_alloc(n);
    if (anet_cuda_download(h, dev, n * sizeof(float)) != ANET_OK)
        for (size_t i = 0; i < n; i++) h[i] = NAN;
    return h;
}
static int same_bits(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof *a); }

static int device_fine(const char *what)
{
    enum anet_status s = anet_cuda_sync();
    if (s) {
        T_OK(0, "%s: %s", what, anet_error_detail());
        anet_cuda_clear_error();
    }
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
    anet_cpu_conv_forward_ref(d, x, w, b, y);
    anet_cpu_conv_backward_ref(d, x, w, dy, dx, dw, db);
    float *gx = dev_floats(x, xs), *gw = dev_floats(w, ws), *gb = dev_floats(b, d->k);
    float *gdy = dev_floats(dy, ys), *gy = dev_zeros(ys), *gdx = dev_zeros(xs);
    float *gdw = dev_zeros(ws), *gdb = dev_zeros(d->k);
    anet_cuda_conv_forward(d, gx, gw, gb, gy, NULL);
    anet_cuda_conv_backward(d, gx, gw, gdy, gdx, gdw, gdb, NULL);
    if (device_fine(name)) {
        float *hy = host_floats(gy, ys), *hdx = host_floats(gdx, xs);
        float *hdw = host_floats(gdw, ws), *hdb = host_floats(gdb, d->k);
        double ey = t_rel_err(hy, y, ys), edx = t_rel_err(hdx, dx, xs);
        double edw = t_rel_err(hdw, dw, ws), edb = t_rel_err(hdb, db, d->k);
        double tol = tolerance[prec];
        T_OK(ey < tol && edx < tol && edw < tol && edb < tol,
             "%s conv %s (%dx%dx%dx%d k%d %dx%d s%d p%d g%d): rel err y %.2g dx %.2g dw %.2g "
             "db %.2g (tol %g)", anet_precision_name(prec), name, d->n, d->c, d->h, d->w, d->k,
             d->kh, d->kw, d->stride, d->pad, d->groups, ey, edx, edw, edb, tol);
        free(hy), free(hdx), free(hdw), free(hdb);
    }
    anet_cuda_free(gx), anet_cuda_free(gw), anet_cuda_free(gb), anet_cuda_free(gdy);
    anet_cuda_free(gy), anet_cuda_free(gdx), anet_cuda_free(gdw), anet_cuda_free(gdb);
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
    anet_cuda_fc_forward(n, in, out, gx, gw, gb, gy);
    anet_cuda_fc_backward(n, in, out, gx, gw, gdy, gdx, gdw, gdb);
    if (device_fine("fc")) {
        float *hy = host_floats(gy, n * out), *hdx = host_floats(gdx, n * in);
        float *hdw = host_floats(gdw, out * in), *hdb = host_floats(gdb, out);
        double ey = t_rel_err(hy, y, n * out), edx = t_rel_err(hdx, dx, n * in);
        double edw = t_rel_err(hdw, dw, out * in), edb = t_rel_err(hdb, db, out);
        double tol = tolerance[prec];
        T_OK(ey < tol && edx < tol && edw < tol && edb < 2e-5,
             "%s fc %dx%d->%d: rel err y %.2g dx %.2g dw %.2g db %.2g (tol %g)",
             anet_precision_name(prec), n, in, out, ey, edx, edw, edb, tol);
        free(hy), free(hdx), free(hdw), free(hdb);
    }
    anet_cuda_free(gx), anet_cuda_free(gw), anet_cuda_free(gb), anet_cuda_free(gdy);
    anet_cuda_free(gy), anet_cuda_free(gdx), anet_cuda_free(gdw), anet_cuda_free(gdb);
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
    anet_cuda_lrn_forward(n, c, hw, &p, gx, gy, gs);
    anet_cuda_lrn_backward(n, c, hw, &p, gx, gy, gs, gdy, gdx);
    if (device_fine("lrn")) {
        float *hy = host_floats(gy, cnt), *hs = host_floats(gs, cnt), *hdx = host_floats(gdx, cnt);
        double ey = t_rel_err(hy, y, cnt), es = t_rel_err(hs, sc, cnt), edx = t_rel_err(hdx, dx, cnt);
        T_OK(ey < 2e-5 && es < 2e-5 && edx < 2e-5,
             "lrn %dx%dx%d (alpha not divided by n): rel err y %.2g scale %.2g dx %.2g", n, c, hw,
             ey, es, edx);
        free(hy), free(hs), free(hdx);
    }
    anet_cuda_free(gx), anet_cuda_free(gy), anet_cuda_free(gs), anet_cuda_free(gdy), anet_cuda_free(gdx);
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
    int32_t *garg = anet_cuda_calloc(ys * sizeof *garg);
    anet_cuda_maxpool_forward(&d, gx, gy, garg);
    anet_cuda_maxpool_backward(&d, gdy, garg, gdx);
    if (device_fine("maxpool")) {
        float *hy = host_floats(gy, ys), *hdx = host_floats(gdx, xs);
        anet_cuda_download(harg, garg, ys * sizeof *harg);
        double edx = t_rel_err(hdx, dx, xs);
        T_OK(same_bits(hy, y, ys) && !memcmp(harg, arg, ys * sizeof *arg) && edx < 1e-6,
             "maxpool %d/%d on 13x11 with ties: y and argmax identical, dx rel err %.2g", size,
             stride, edx);
        free(hy), free(hdx);
    }
    anet_cuda_free(gx), anet_cuda_free(gy), anet_cuda_free(gdy), anet_cuda_free(gdx), anet_cuda_free(garg);
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
    anet_cuda_act_forward(a, cnt, gx, gx);      /* in place, as the model runs it */
    anet_cuda_act_backward(a, cnt, gx, gdy, gdy);
    if (device_fine("act")) {
        float *hy = host_floats(gx, cnt), *hdx = host_floats(gdy, cnt);
        double ey = t_rel_err(hy, y, cnt), edx = t_rel_err(hdx, dx, cnt);
        if (a == ANET_ACT_RELU)
            T_OK(same_bits(hy, y, cnt) && same_bits(hdx, dx, cnt),
                 "relu forward and backward in place: identical to the CPU");
        else
            T_OK(ey < 2e-6 && edx < 2e-5, "tanh forward and backward: rel err %.2g, %.2g", ey, edx);
        free(hy), free(hdx);
    }
    anet_cuda_free(gx), anet_cuda_free(gdy);
    free(x), free(y), free(dy), free(dx);
}

/* ---- dropout ---------------------------------------------------------------------------- */
static void check_dropout(float p, size_t cnt)
{
    float *x = t_alloc(cnt), *y = t_alloc(cnt), *dx = t_alloc(cnt);
    t_fill(x, cnt, -2, 2);
    anet_cpu_dropout_forward_ref(cnt, p, 0x1234567890ull, 77, ANET_RNG_DROPOUT + 6, x, y);
    anet_cpu_dropout_backward_ref(cnt, p, 0x1234567890ull, 77, ANET_RNG_DROPOUT + 6, x, dx);
    float *gx = dev_floats(x, cnt), *gy = dev_zeros(cnt), *gdx = dev_zeros(cnt);
    anet_cuda_dropout_forward(cnt, p, 0x1234567890ull, 77, ANET_RNG_DROPOUT + 6, gx, gy);
    anet_cuda_dropout_backward(cnt, p, 0x1234567890ull, 77, ANET_RNG_DROPOUT + 6, gx, gdx);
    if (device_fine("dropout")) {
        float *hy = host_floats(gy, cnt), *hdx = host_floats(gdx, cnt);
        size_t kept = 0;
        for (size_t i = 0; i < cnt; i++) kept += hy[i] != 0;
        T_OK(same_bits(hy, y, cnt) && same_bits(hdx, dx, cnt),
             "dropout p=%g over %zu: masks and values identical to the CPU (%zu kept)", p, cnt, kept);
        free(hy), free(hdx);
    }
    anet_cuda_free(gx), anet_cuda_free(gy), anet_cuda_free(gdx);
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
    double loss = anet_cpu_softmax_xent_forward_ref(n, classes, l, label, prob);
    anet_cpu_softmax_xent_backward_ref(n, classes, prob, label, dl);
    float *gl = dev_floats(l, cnt), *gp = dev_zeros(cnt), *gdl = dev_zeros(cnt);
    int32_t *glab = dev_copy(label, sizeof label);
    double gloss = anet_cuda_softmax_xent_forward(n, classes, gl, glab, gp);
    anet_cuda_softmax_xent_backward(n, classes, gp, glab, gdl);
    if (device_fine("softmax")) {
        float *hp = host_floats(gp, cnt), *hdl = host_floats(gdl, cnt);
        double ep = t_rel_err(hp, prob, cnt), edl = t_rel_err(hdl, dl, cnt);
        double el = fabs(gloss - loss) / fabs(loss);
        T_OK(el < 1e-12 && ep < 1e-6 && edl < 1e-6,
             "softmax+xent %dx%d: loss %.12g vs %.12g, prob rel err %.2g, dlogits %.2g", n, classes,
             gloss, loss, ep, edl);
        free(hp), free(hdl);
    }
    anet_cuda_free(gl), anet_cuda_free(gp), anet_cuda_free(gdl), anet_cuda_free(glab);
    free(l), free(prob), free(dl);
}

/* ---- SGD ----------------------------------------------------------------------------------- */
static void test_sgd(void)
{
    const size_t cnt[3] = {1001, 17, 4096};
    const float decay[3] = {0.0005f, 0.0f, 0.0005f};
    float *w[3], *g[3], *v[3], *gw[3], *gg[3], *gv[3];
    struct anet_cuda_sgd_list list = {.count = 3};
    for (int t = 0; t < 3; t++) {
        w[t] = t_alloc(cnt[t]), g[t] = t_alloc(cnt[t]), v[t] = t_alloc(cnt[t]);
        t_fill(w[t], cnt[t], -1, 1), t_fill(g[t], cnt[t], -1, 1), t_fill(v[t], cnt[t], -0.1, 0.1);
        gw[t] = dev_floats(w[t], cnt[t]), gg[t] = dev_floats(g[t], cnt[t]), gv[t] = dev_floats(v[t], cnt[t]);
        list.w[t] = gw[t], list.g[t] = gg[t], list.v[t] = gv[t], list.n[t] = cnt[t];
        list.decay[t] = decay[t];
        anet_cpu_sgd_update_ref(cnt[t], 0.01f, 0.9f, decay[t], w[t], g[t], v[t]);
    }
    anet_cuda_sgd_update_list(&list, 0.01f, 0.9f);
    int same = 1;
    if (device_fine("sgd list")) {
        for (int t = 0; t < 3; t++) {
            float *hw = host_floats(gw[t], cnt[t]), *hv = host_floats(gv[t], cnt[t]);
            same &= same_bits(hw, w[t], cnt[t]) && same_bits(hv, v[t], cnt[t]);
            free(hw), free(hv);
        }
        T_OK(same, "SGD over three tensors in one launch: weights and momentum identical to the CPU");
    }
    /* one tensor at a time, a second step */
    anet_cpu_sgd_update_ref(cnt[0], 0.001f, 0.9f, decay[0], w[0], g[0], v[0]);
    anet_cuda_sgd_update(cnt[0], 0.001f, 0.9f, decay[0], gw[0], gg[0], gv[0]);
    if (device_fine("sgd")) {
        float *hw = host_floats(gw[0], cnt[0]);
        T_OK(same_bits(hw, w[0], cnt[0]), "SGD on one tensor: identical to the CPU");
        free(hw);
    }
    for (int t = 0; t < 3; t++) {
        anet_cuda_free(gw[t]), anet_cuda_free(gg[t]), anet_cuda_free(gv[t]);
        free(w[t]), free(g[t]), free(v[t]);
    }
}

/* ---- augmentation ---------------------------------------------------------------------- */
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
    anet_cuda_augment(n, 1, c, h, w, crop, gsrc, gmean, gd, gout);
    if (device_fine("augment")) {
        float *hout = host_floats(gout, out_n);
        T_OK(same_bits(hout, want, out_n),
             "augmentation on the GPU (crop, mirror, mean, colour noise) identical to the loader's");
        free(hout);
    }
    /* without a mean image */
    cfg.mean = NULL;
    for (int i = 0; i < n; i++)
        anet_loader_transform(&cfg, src + (size_t)i * c * h * w, c, h, w, &draws[i],
                              want + (size_t)i * c * crop * crop);
    anet_cuda_augment(n, 1, c, h, w, crop, gsrc, NULL, gd, gout);
    if (device_fine("augment without mean")) {
        float *hout = host_floats(gout, out_n);
        T_OK(same_bits(hout, want, out_n), "augmentation without a mean image identical");
        free(hout);
    }
    /* two images, two crops each: crop i comes from image i / 2 */
    cfg.mean = mean;
    for (int i = 0; i < n; i++)
        anet_loader_transform(&cfg, src + (size_t)(i / 2) * c * h * w, c, h, w, &draws[i],
                              want + (size_t)i * c * crop * crop);
    anet_cuda_augment(n, 2, c, h, w, crop, gsrc, gmean, gd, gout);
    if (device_fine("augment, two crops an image")) {
        float *hout = host_floats(gout, out_n);
        T_OK(same_bits(hout, want, out_n), "augmentation of several crops an image identical");
        free(hout);
    }
    anet_cuda_free(gsrc), anet_cuda_free(gmean), anet_cuda_free(gout), anet_cuda_free(gd);
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

/* "fp32", "fp32, towers on lanes 0 and 1 (GPUs 0 and 0)" */
static const char *placed_name(const struct anet_placement *w)
{
    static char buf[96];
    if (w->parts == 1) snprintf(buf, sizeof buf, "%s", anet_precision_name(prec));
    else
        snprintf(buf, sizeof buf, "%s, towers on two lanes (GPUs %d and %d)",
                 anet_precision_name(prec), w->gpu[0], w->gpu[1]);
    return buf;
}

/* The GPU model placed as *w against the CPU's one-part model. */
static void test_network(const struct anet_placement *w)
{
    struct anet_config c;
    small_config(&c);
    const int n = 3;
    anet_cuda_trim();
    size_t before = anet_cuda_bytes_in_use();
    struct anet_model *cpu, *gpu;
    enum anet_status s = anet_model_create(&c, n, &cpu);
    if (!s) s = anet_model_create_placed(&c, n, w, &gpu);
    if (!T_OK(s == ANET_OK, "%s: a small network on the CPU and on the GPU %s",
              placed_name(w), s ? anet_error_detail() : ""))
        return;
    anet_model_init(cpu, 7);
    anet_model_init(gpu, 7);
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
        s = anet_model_train_step(gpu, x, labels, n, &h, 5, step, &lg[step]);
        worst_loss = fmax(worst_loss, fabs(lg[step] - lc[step]) / fabs(lc[step]));
    }
    if (!s) s = anet_model_pull(gpu);
    double tol = tolerance[prec];
    /* Three steps of SGD amplify differences a little: allow ten times the op tolerance.
     * fp32 holds every tensor to it; in tf32 and bf16 the biases of conv1 (sums of
     * thousands of small gradients that nearly cancel) differ by more, relative to their
     * own small size, so those modes are held to the relative L2 error of the whole
     * update Δw = w − w_init over all parameters. */
    const char *worst = "";
    double ep = s ? 1 : max_param_err(gpu, cpu, &worst);
    double du = s ? 1 : update_err(gpu, cpu, init);
    int fine = prec == ANET_FP32 ? ep < 10 * tol : du < 10 * tol;
    T_OK(!s && worst_loss < tol && fine,
         "%s: three SGD steps (dropout on) on GPU and CPU: losses %.6f %.6f %.6f vs %.6f %.6f "
         "%.6f, loss rel err %.2g; weights: worst tensor rel err %.2g (%s), update L2 rel err "
         "%.2g (tol %g, %g) %s",
         placed_name(w), lg[0], lg[1], lg[2], lc[0], lc[1], lc[2], worst_loss, ep,
         worst, du, tol, 10 * tol, s ? anet_error_detail() : "");
    free(init);
    /* inference: logits come back to the host */
    const float *lgc, *lgg;
    anet_model_forward(cpu, x, n, 0, 0, 0, &lgc);
    s = anet_model_forward(gpu, x, n, 0, 0, 0, &lgg);
    double el = s ? 1 : t_rel_err(lgg, lgc, (size_t)n * c.classes);
    T_OK(!s && el < 10 * tol, "%s: test-mode logits after training, rel err %.2g",
         placed_name(w), el);
    anet_model_free(cpu);
    anet_model_free(gpu);
    free(x);
    anet_cuda_trim();
    T_OK(anet_cuda_bytes_in_use() == before,
         "%s: the model's device memory all returns to the pool (%zu bytes in use before, %zu "
         "after)", placed_name(w), before, anet_cuda_bytes_in_use());
}

/* ---- failures ----------------------------------------------------------------------------- */
/* The towers on two lanes of GPU 0 against both towers on one: the same exchange code that
 * two GPUs run, held to the fp32 tolerance after three SGD steps. */
static void test_lanes(void)
{
    struct anet_config c;
    small_config(&c);
    const int n = 3;
    struct anet_placement one = {.device = ANET_DEVICE_CUDA, .parts = 1};
    struct anet_placement two = {.device = ANET_DEVICE_CUDA, .parts = 2};
    struct anet_model *a, *b;
    enum anet_status s = anet_model_create_placed(&c, n, &one, &a);
    if (!s) s = anet_model_create_placed(&c, n, &two, &b);
    if (!T_OK(!s, "lanes: one model on one lane, one on two %s", s ? anet_error_detail() : ""))
        return;
    T_OK(anet_cuda_lane_device(1) == 0, "lane 1 is open on GPU 0");
    anet_model_init(a, 9);
    anet_model_init(b, 9);
    size_t in = (size_t)n * 3 * 99 * 99;
    float *x = t_alloc(in);
    t_seed(13);
    t_fill(x, in, -100, 100);
    int32_t labels[3] = {2, 0, 7};
    struct anet_sgd h;
    anet_sgd_default(&h);
    double la = 0, lb = 0, worst = 0;
    for (uint32_t step = 0; step < 5 && !s; step++) {
        anet_model_train_step(a, x, labels, n, &h, 3, step, &la);
        s = anet_model_train_step(b, x, labels, n, &h, 3, step, &lb);
        worst = fmax(worst, fabs(la - lb) / fabs(la));
    }
    if (!s) s = anet_model_pull(a);
    if (!s) s = anet_model_pull(b);
    const char *which = "";
    double ep = s ? 1 : max_param_err(b, a, &which);
    T_OK(!s && worst < tolerance[ANET_FP32] && ep < 10 * tolerance[ANET_FP32],
         "lanes: five SGD steps, one lane and two: loss rel err %.2g, worst tensor %.2g (%s) %s",
         worst, ep, which, s ? anet_error_detail() : "");
    free(x);
    anet_model_free(a);
    anet_model_free(b);
}

static void test_failure(void)
{
    void *p = anet_cuda_malloc((size_t)1 << 52);
    enum anet_status s = anet_cuda_error();
    T_OK(!p && s == ANET_ERR_DEVICE && strstr(anet_error_detail(), "cudaMalloc"),
         "a 4 PiB allocation fails cleanly: %s", anet_error_detail());
    anet_cuda_clear_error();
    T_OK(anet_cuda_error() == ANET_OK, "the failure is forgotten when cleared");
}

/* ---- without a GPU ------------------------------------------------------------------------ */
static int gpu_or_skip(void)
{
    const char *req = getenv("ANET_REQUIRE_GPU");
    int required = req && *req && strcmp(req, "0");
    enum anet_status s = anet_cuda_init(0);
    if (s == ANET_OK) return 1;
    const char *why = anet_error_detail();
    int clean = s == ANET_ERR_UNSUPPORTED &&
                (anet_cuda_built() ? !strcmp(why, "no CUDA device") : !strcmp(why, "built without CUDA"));
    T_OK(clean, "asking for the GPU fails cleanly: '%s'", why);
    struct anet_config c;
    small_config(&c);
    struct anet_model *m = NULL;
    s = anet_model_create_on(&c, 2, ANET_DEVICE_CUDA, &m);
    T_OK(s == ANET_ERR_UNSUPPORTED && !m, "a GPU model without a GPU is refused: '%s'",
         anet_error_detail());
    if (required) T_OK(0, "ANET_REQUIRE_GPU is set but there is no usable GPU: %s", why);
    else T_SKIP("GPU parity: %s", why);
    return 0;
}

int main(void)
{
    if (!gpu_or_skip()) return t_done();
    printf("# %s\n", anet_cuda_device_name());
    test_failure();
    for (prec = ANET_FP32; prec <= ANET_BF16; prec++) {
        anet_cuda_set_precision(prec);
        t_seed(100 + prec);
        test_conv();
        test_fc();
        struct anet_placement one = {.device = ANET_DEVICE_CUDA, .parts = 1};
        struct anet_placement two = {.device = ANET_DEVICE_CUDA, .parts = 2};
        test_network(&one);
        test_network(&two);
    }
    prec = ANET_FP32;
    anet_cuda_set_precision(prec);
    test_lrn();
    check_pool(3, 2);
    check_pool(2, 2);
    check_act(ANET_ACT_RELU);
    check_act(ANET_ACT_TANH);
    check_dropout(0.5f, 1001);
    check_dropout(0.0f, 64);
    check_dropout(0.9f, 4099);
    test_softmax();
    test_sgd();
    test_augment();
    test_lanes();
    if (anet_cuda_device_count() >= 2) { /* the paper's placement: a tower a GPU */
        anet_cuda_shutdown();
        struct anet_placement pair = {.device = ANET_DEVICE_CUDA, .parts = 2, .gpu = {0, 1}};
        T_OK(anet_cuda_init(0) == ANET_OK, "GPU 0 again after a shutdown");
        test_network(&pair);
    } else {
        printf("# one GPU: the towers on two GPUs are not tested here\n");
    }
    anet_cuda_shutdown();
    T_OK(anet_cuda_bytes_pooled() == 0, "shutdown returns every pooled byte");
    return t_done();
}
