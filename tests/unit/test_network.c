/* The whole network: configuration checks, the layer table's totals, the fast path
 * against the reference, and forward/backward/SGD against the PyTorch fixtures of
 * tests/ref (made by tests/ref/make_fixture.py in double precision).
 *
 * Tolerances (float32 here against float64 there, relative to the largest magnitude of
 * each tensor, see t_rel_err): logits and loss 1e-4, gradients 1e-4, the change of every
 * parameter over three SGD steps 1e-4 (see rel_change_err). Fast vs reference path: 1e-4
 * for the loss, 1e-3 for the gradients. Measured: about 1e-6 and below everywhere. */
#include <string.h>
#include "alexnet/model.h"
#include "alexnet/threads.h"
#include "fixture.h"
#include "test.h"

static void test_config(void)
{
    struct anet_config c;
    anet_config_default(&c);
    T_OK(anet_config_check(&c) == ANET_OK, "the paper's configuration is valid");
    T_OK(anet_config_params(&c) == 60965224, "60,965,224 parameters (got %zu)",
         anet_config_params(&c));
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(&c, info);
    double macs = 0;
    for (int i = 0; i < ANET_LAYERS; i++) macs += info[i].macs;
    T_OK(macs == 724406816.0, "724.41 M multiply-adds (got %.0f)", macs);
    T_OK(info[0].out_h == 55 && info[0].pool_h == 27 && info[1].pool_h == 13 &&
             info[4].pool_h == 6 && info[5].in_c == 9216,
         "maps 55, 27, 13, 6 and fc6 reads 9216");
    T_OK(info[1].groups == 2 && info[2].groups == 1 && info[3].groups == 2 &&
             info[4].groups == 2 && info[2].cross_towers && !info[3].cross_towers,
         "towers exchange maps at conv3 only among the convolutions");

    struct { const char *what, *detail; void (*edit)(struct anet_config *); } bad[] = {
        {"zero classes", "classes must be at least 1", NULL},
        {"crop 50", "the smallest that works with pooling 3/2 is 67", NULL},
        {"odd conv1 width with two towers", "conv1 width 95 must be even", NULL},
        {"groups not dividing the channels", "conv2: groups 3 must divide", NULL},
        {"negative fc width", "fc6 width must be at least 1", NULL},
        {"dropout 1", "dropout probability must be in [0, 1)", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        anet_config_default(&c);
        switch (i) {
        case 0: c.classes = 0; break;
        case 1: c.crop = 50; break;
        case 2: c.conv[0] = 95; break;
        case 3: c.groups[1] = 3; break;
        case 4: c.fc[0] = -4; break;
        case 5: c.dropout = 1; break;
        }
        enum anet_status s = anet_config_check(&c);
        T_OK(s == ANET_ERR_INVALID && strstr(anet_error_detail(), bad[i].detail),
             "refused: %s (%s)", bad[i].what, anet_error_detail());
    }
    anet_config_default(&c);
    c.crop = 67;
    T_OK(anet_config_check(&c) == ANET_OK, "crop 67 works");
    struct anet_model *m;
    c.classes = 0;
    T_OK(anet_model_create(&c, 4, &m) == ANET_ERR_INVALID && m == NULL,
         "model_create refuses a bad configuration with a status");
}

static int fixture_config(const struct fixture *f, struct anet_config *c)
{
    anet_config_default(c);
    c->classes = (int)fixture_scalar(f, "config.classes", 0);
    c->crop = (int)fixture_scalar(f, "config.crop", 0);
    c->towers = (int)fixture_scalar(f, "config.towers", 0);
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "config.conv%d", i + 1);
        c->conv[i] = (int)fixture_scalar(f, name, 0);
    }
    c->fc[0] = (int)fixture_scalar(f, "config.fc6", 0);
    c->fc[1] = (int)fixture_scalar(f, "config.fc7", 0);
    c->lrn = (int)fixture_scalar(f, "config.lrn", 1);
    c->pool_size = (int)fixture_scalar(f, "config.pool_size", 3);
    c->pool_stride = (int)fixture_scalar(f, "config.pool_stride", 2);
    c->act = fixture_scalar(f, "config.tanh", 0) ? ANET_ACT_TANH : ANET_ACT_RELU;
    c->dropout = fixture_scalar(f, "config.dropout", 0.5f);
    return anet_config_check(c) == ANET_OK;
}

/* Loads the fixture's initial parameters into the model; 0 when one is missing. */
static int load_params(struct anet_model *m, const struct fixture *f, const char *prefix)
{
    struct anet_tensor *t;
    int n = anet_model_tensors(m, &t);
    for (int i = 0; i < n; i++) {
        char name[64];
        size_t count;
        snprintf(name, sizeof name, "%s%s", prefix, t[i].name);
        const float *v = fixture_get(f, name, &count);
        if (!v || count != t[i].count) {
            printf("# fixture lacks %s or its size differs (%zu, model %zu)\n", name,
                   v ? count : 0, t[i].count);
            return 0;
        }
        memcpy(t[i].data, v, count * sizeof(float));
        memset(t[i].momentum, 0, count * sizeof(float));
    }
    return 1;
}

static void labels_of(const struct fixture *f, int32_t *labels, int n)
{
    size_t count;
    const float *l = fixture_get(f, "labels", &count);
    for (int i = 0; i < n; i++) labels[i] = l && (size_t)i < count ? (int32_t)l[i] : 0;
}

/* Error of the change of a parameter tensor over some SGD steps, relative to the largest
 * change, after allowing each element two float32 spacings of its own value: a bias near
 * 1 that moved by 1e-4 cannot be stored closer than 1.2e-7, a 1e-3 relative limit that
 * says nothing about the arithmetic. */
static double rel_change_err(const float *now, const float *before, const float *want,
                             size_t n)
{
    double worst = 0, biggest = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = (double)now[i] - before[i], w = (double)want[i] - before[i];
        double slack = 2 * (nextafterf(fabsf(want[i]), INFINITY) - fabsf(want[i]));
        double e = fabs(d - w) - slack;
        if (e > worst) worst = e;
        if (fabs(w) > biggest) biggest = fabs(w);
    }
    return worst / biggest;
}

static void test_fixture(const char *file, enum anet_path path)
{
    const char *pname = path == ANET_PATH_REF ? "reference" : "fast";
    struct fixture *f = fixture_load(fixture_path(file));
    if (!T_OK(f != NULL, "%s: fixture loads", file)) return;
    struct anet_config c;
    int n = (int)fixture_scalar(f, "config.batch", 0);
    uint64_t seed = (uint64_t)fixture_scalar(f, "config.seed", 0);
    struct anet_model *m = NULL;
    struct anet_backend *be = NULL;
    struct anet_placement where = {.parts = 1};
    if (!T_OK(fixture_config(f, &c) && n > 0 && anet_backend_cpu(path, &be) == ANET_OK &&
                  (where.backend = be) && anet_model_create_placed(&c, n, &where, &m) == ANET_OK,
              "%s: model from the fixture's configuration", file)) {
        anet_backend_free(be);
        fixture_free(f);
        return;
    }
    size_t count;
    const float *x = fixture_get(f, "input", &count);
    int32_t labels[64];
    labels_of(f, labels, n);
    if (!T_OK(x && load_params(m, f, ""), "%s: input and parameters", file)) goto out;

    const float *logits = NULL;
    double loss = 0;
    anet_model_forward(m, x, n, 0, seed, 0, &logits);
    const float *want = fixture_get(f, "logits_eval", &count);
    double e = want ? t_rel_err(logits, want, count) : 1;
    T_OK(e < 1e-4, "%s %s: evaluation logits, rel err %.2g", file, pname, e);

    anet_model_forward(m, x, n, 1, seed, 0, &logits);
    want = fixture_get(f, "logits", &count);
    e = want ? t_rel_err(logits, want, count) : 1;
    T_OK(e < 1e-4, "%s %s: training logits (dropout masks of step 0), rel err %.2g", file,
         pname, e);
    anet_model_loss(m, labels, &loss);
    double want_loss = fixture_scalar(f, "loss", -1);
    T_OK(fabs(loss - want_loss) < 1e-4 * fabs(want_loss), "%s %s: loss %.6f, torch %.6f",
         file, pname, loss, want_loss);

    anet_model_backward(m);
    struct anet_tensor *t;
    int nt = anet_model_tensors(m, &t);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < nt; i++) {
        char name[64];
        snprintf(name, sizeof name, "grad.%s", t[i].name);
        const float *g = fixture_get(f, name, &count);
        double ge = g && count == t[i].count ? t_rel_err(t[i].grad, g, count) : 1;
        if (ge >= worst) worst = ge, worst_name = t[i].name;
    }
    T_OK(worst < 1e-4, "%s %s: all %d parameter gradients, worst rel err %.2g (%s)", file,
         pname, nt, worst, worst_name);

    struct anet_sgd h = {fixture_scalar(f, "config.lr", 0.01f),
                         fixture_scalar(f, "config.momentum", 0.9f),
                         fixture_scalar(f, "config.decay", 0.0005f)};
    if (!load_params(m, f, "")) goto out;
    for (uint32_t step = 0; step < 3; step++) {
        double l = 0;
        anet_model_train_step(m, x, labels, n, &h, seed, step, &l);
        char name[32];
        snprintf(name, sizeof name, "loss_step%u", step);
        double wl = fixture_scalar(f, name, -1);
        T_OK(fabs(l - wl) < 1e-4 * fabs(wl), "%s %s: SGD step %u loss %.6f, torch %.6f", file,
             pname, step, l, wl);
    }
    worst = 0;
    for (int i = 0; i < nt; i++) {
        char name[64];
        size_t c0;
        snprintf(name, sizeof name, "after3.%s", t[i].name);
        const float *w3 = fixture_get(f, name, &count), *w0 = fixture_get(f, t[i].name, &c0);
        double pe = w3 && w0 && count == t[i].count ? rel_change_err(t[i].data, w0, w3, count) : 1;
        if (pe >= worst) worst = pe, worst_name = t[i].name;
    }
    T_OK(worst < 1e-4, "%s %s: parameters after three SGD steps, worst rel err of the change "
         "%.2g (%s)", file, pname, worst, worst_name);
out:
    anet_model_free(m);
    anet_backend_free(be);
    fixture_free(f);
}

/* Fast path against the reference through the whole network, random initialisation. */
static void test_fast_vs_ref(void)
{
    struct anet_config c;
    anet_config_default(&c);
    c.classes = 10, c.crop = 99;
    int widths[5] = {16, 32, 48, 48, 32};
    memcpy(c.conv, widths, sizeof widths);
    c.fc[0] = c.fc[1] = 64;
    c.init_std = 0.05f;
    const int n = 3;
    struct anet_model *fast, *ref;
    struct anet_backend *ref_be;
    if (!T_OK(anet_backend_cpu(ANET_PATH_REF, &ref_be) == ANET_OK, "a reference backend"))
        return;
    struct anet_placement on_ref = {.backend = ref_be, .parts = 1};
    if (!T_OK(anet_model_create(&c, n, &fast) == ANET_OK &&
                  anet_model_create_placed(&c, n, &on_ref, &ref) == ANET_OK,
              "two small models")) return;
    anet_model_init(fast, 7);
    anet_model_init(ref, 7);
    size_t in = (size_t)n * 3 * 99 * 99;
    float *x = t_alloc(in);
    t_seed(11);
    t_fill(x, in, -100, 100);
    int32_t labels[3] = {1, 9, 4};
    struct anet_sgd h;
    anet_sgd_default(&h);
    double lf = 0, lr = 0;
    for (uint32_t s = 0; s < 3; s++) {
        anet_model_train_step(fast, x, labels, n, &h, 5, s, &lf);
        anet_model_train_step(ref, x, labels, n, &h, 5, s, &lr);
    }
    T_OK(fabs(lf - lr) < 1e-4 * fabs(lr), "fast and reference paths: loss after 3 steps %.6f vs %.6f",
         lf, lr);
    struct anet_tensor *tf, *tr;
    int nt = anet_model_tensors(fast, &tf);
    anet_model_tensors(ref, &tr);
    double worst = 0;
    for (int i = 0; i < nt; i++) {
        double e = t_rel_err(tf[i].grad, tr[i].grad, tf[i].count);
        if (e > worst) worst = e;
    }
    T_OK(worst < 1e-3, "fast and reference paths: gradients of step 3, worst rel err %.2g", worst);

    /* bad input is a status, never a crash or a silently shorter batch */
    const float *logits;
    T_OK(anet_model_forward(fast, x, n + 1, 0, 0, 0, &logits) == ANET_ERR_INVALID &&
             strstr(anet_error_detail(), "batch of 4 images"),
         "a batch larger than the model is refused: %s", anet_error_detail());
    T_OK(anet_model_forward(fast, x, 0, 0, 0, 0, &logits) == ANET_ERR_INVALID,
         "an empty batch is refused");
    int32_t bad[3] = {1, 10, 4};
    double l;
    T_OK(anet_model_train_step(fast, x, bad, n, &h, 5, 9, &l) == ANET_ERR_INVALID &&
             strstr(anet_error_detail(), "label 10 of image 1 is outside 0..9"),
         "a label outside the classes is refused: %s", anet_error_detail());
    free(x);
    anet_model_free(fast);
    anet_model_free(ref);
    anet_backend_free(ref_be);
}

/* The towers as two parts (the exchange code of the two-GPU placement, run on the CPU)
 * against the towers as groups of one model: the same logits, loss, gradients and
 * parameters after three SGD steps with dropout, up to the order of a few sums (the
 * parts' partial input gradients are added after each part's GEMM). 11 classes split
 * unevenly, 5 and 6. Tolerance 1e-5; measured about 1e-7. */
static void small_config(struct anet_config *c, int classes)
{
    anet_config_default(c);
    c->classes = classes, c->crop = 99;
    int widths[5] = {16, 32, 48, 48, 32};
    memcpy(c->conv, widths, sizeof widths);
    c->fc[0] = c->fc[1] = 64;
    c->init_std = 0.05f;
}

static double worst_tensor_err(struct anet_model *a, struct anet_model *b, int grads,
                               const char **which)
{
    struct anet_tensor *ta, *tb;
    int nt = anet_model_tensors(a, &ta);
    anet_model_tensors(b, &tb);
    double worst = 0;
    for (int i = 0; i < nt; i++) {
        double e = grads ? t_rel_err(tb[i].grad, ta[i].grad, ta[i].count)
                         : t_rel_err(tb[i].data, ta[i].data, ta[i].count);
        if (e > worst || e != e) worst = e, *which = ta[i].name;
    }
    return worst;
}

/* One part against two on the configuration c: logits, loss and gradients of a training
 * step, then the parameters after two more SGD steps, then a test pass's logits. */
static void parts_agree(const struct anet_config *c, const char *what)
{
    const int n = 2;
    struct anet_placement two = {.backend = NULL, .parts = 2, .lane = {0, 1}};
    struct anet_model *one, *split;
    if (!T_OK(anet_model_create(c, n, &one) == ANET_OK &&
                  anet_model_create_placed(c, n, &two, &split) == ANET_OK,
              "%s: one part and two %s", what, anet_error_detail()))
        return;
    anet_model_init(one, 3);
    anet_model_init(split, 3);
    size_t in = (size_t)n * 3 * c->crop * c->crop;
    float *x = t_alloc(in);
    t_seed(14);
    t_fill(x, in, -100, 100);
    int32_t labels[2] = {0, (int32_t)c->classes - 1};
    struct anet_sgd h;
    anet_sgd_default(&h);
    double l1 = 0, l2 = 0, worst_loss = 0;
    for (uint32_t s = 0; s < 3; s++) {
        anet_model_train_step(one, x, labels, n, &h, 8, s, &l1);
        anet_model_train_step(split, x, labels, n, &h, 8, s, &l2);
        worst_loss = fmax(worst_loss, fabs(l1 - l2) / fabs(l1));
    }
    const char *which = "";
    double e = worst_tensor_err(one, split, 0, &which);
    T_OK(worst_loss < 1e-5 && e < 1e-5,
         "%s: two parts train as one: loss rel err %.2g, parameters %.2g (%s)", what, worst_loss,
         e, which);
    size_t len = (size_t)n * c->classes;
    float *keep = t_alloc(len);
    const float *la, *lb;
    anet_model_forward(one, x, n, 0, 0, 0, &la);
    memcpy(keep, la, len * sizeof *keep);
    anet_model_forward(split, x, n, 0, 0, 0, &lb);
    T_OK(t_rel_err(lb, keep, len) < 1e-5, "%s: then a test pass as one, rel err %.2g", what,
         t_rel_err(lb, keep, len));
    free(keep);
    free(x);
    anet_model_free(one);
    anet_model_free(split);
}

static void test_parts(void)
{
    struct anet_config c;
    small_config(&c, 11);
    const int n = 3;
    struct anet_placement two = {.backend = NULL, .parts = 2, .lane = {0, 1}};
    struct anet_model *one, *split;
    if (!T_OK(anet_model_create(&c, n, &one) == ANET_OK &&
                  anet_model_create_placed(&c, n, &two, &split) == ANET_OK,
              "one model in one part and one in two parts")) return;
    T_OK(anet_model_placement(split)->parts == 2, "the placement is kept");
    anet_model_init(one, 7);
    anet_model_init(split, 7);
    size_t in = (size_t)n * 3 * 99 * 99, len = (size_t)n * c.classes;
    float *x = t_alloc(in), *keep = t_alloc(len);
    t_seed(12);
    t_fill(x, in, -100, 100);
    int32_t labels[3] = {1, 10, 4};
    const float *la, *lb;
    anet_model_forward(one, x, n, 0, 0, 0, &la);
    memcpy(keep, la, len * sizeof *keep);
    anet_model_forward(split, x, n, 0, 0, 0, &lb);
    T_OK(t_rel_err(lb, keep, len) < 1e-5, "two parts: evaluation logits, rel err %.2g",
         t_rel_err(lb, keep, len));
    double l1, l2;
    anet_model_forward(one, x, n, 1, 5, 0, &la);
    memcpy(keep, la, len * sizeof *keep);
    anet_model_forward(split, x, n, 1, 5, 0, &lb);
    T_OK(t_rel_err(lb, keep, len) < 1e-5, "two parts: training logits (dropout), rel err %.2g",
         t_rel_err(lb, keep, len));
    anet_model_loss(one, labels, &l1);
    anet_model_loss(split, labels, &l2);
    T_OK(fabs(l1 - l2) < 1e-5 * fabs(l1), "two parts: loss %.7f, one part %.7f", l2, l1);
    anet_model_backward(one);
    anet_model_backward(split);
    const char *which = "";
    double e = worst_tensor_err(one, split, 1, &which);
    T_OK(e < 1e-5, "two parts: all 16 gradients, worst rel err %.2g (%s)", e, which);
    struct anet_sgd h;
    anet_sgd_default(&h);
    for (uint32_t s = 0; s < 3; s++) {
        anet_model_train_step(one, x, labels, n, &h, 5, s, &l1);
        anet_model_train_step(split, x, labels, n, &h, 5, s, &l2);
    }
    e = worst_tensor_err(one, split, 0, &which);
    T_OK(fabs(l1 - l2) < 1e-5 * fabs(l1) && e < 1e-5,
         "two parts: three SGD steps, loss %.7f vs %.7f, parameters worst rel err %.2g (%s)", l2,
         l1, e, which);

    /* a model moves between placements with its parameters */
    struct anet_placement back = {.backend = NULL, .parts = 1};
    anet_model_forward(split, x, n, 0, 0, 0, &lb);
    memcpy(keep, lb, len * sizeof *keep);
    T_OK(anet_model_place(&split, &back) == ANET_OK && anet_model_placement(split)->parts == 1,
         "two parts placed as one");
    anet_model_forward(split, x, n, 0, 0, 0, &lb);
    T_OK(t_rel_err(lb, keep, len) < 1e-5, "  and it computes the same, rel err %.2g",
         t_rel_err(lb, keep, len));

    /* what cannot be split is refused */
    struct anet_model *m = NULL;
    c.towers = 1;
    T_OK(anet_model_create_placed(&c, n, &two, &m) == ANET_ERR_INVALID && !m &&
             strstr(anet_error_detail(), "need the two-tower network"),
         "one tower in two parts is refused: %s", anet_error_detail());
    small_config(&c, 11);
    c.groups[3] = 3;
    T_OK(anet_model_create_placed(&c, n, &two, &m) == ANET_ERR_INVALID && !m &&
             strstr(anet_error_detail(), "conv4: 3 groups cannot be split"),
         "groups that do not split are refused: %s", anet_error_detail());
    two.parts = 3;
    small_config(&c, 11);
    T_OK(anet_model_create_placed(&c, n, &two, &m) == ANET_ERR_INVALID && !m,
         "three parts are refused: %s", anet_error_detail());
    free(x), free(keep);
    anet_model_free(one);
    anet_model_free(split);

    /* every ablation the split must carry: tanh, no LRN, plain pooling, no dropout; and
       groups other than the paper's (4 at conv2: two a part; 1 at conv4: an exchange) */
    small_config(&c, 7);
    c.act = ANET_ACT_TANH, c.lrn = 0, c.pool_size = c.pool_stride = 2, c.dropout = 0;
    c.init_std = 0.02f;
    parts_agree(&c, "tanh, no LRN, pooling 2/2, no dropout");
    small_config(&c, 6);
    int groups[5] = {1, 4, 1, 1, 2};
    memcpy(c.groups, groups, sizeof groups);
    parts_agree(&c, "groups 1,4,1,1,2");
    small_config(&c, 6);
    c.dropout_scale = ANET_DROPOUT_SCALE_TEST;
    parts_agree(&c, "the paper's form of dropout");
}

static void test_init(void)
{
    struct anet_config c;
    anet_config_default(&c);
    struct anet_model *m;
    if (!T_OK(anet_model_create(&c, 1, &m) == ANET_OK, "the paper's model allocates")) return;
    anet_model_init(m, 1);
    struct anet_tensor *t;
    int nt = anet_model_tensors(m, &t);
    size_t total = 0;
    int biases_ok = 1, stats_ok = 1;
    static const float want_bias[8] = {0, 1, 0, 1, 1, 1, 1, 0};
    for (int i = 0; i < nt; i++) {
        total += t[i].count;
        if (!t[i].is_weight) {
            for (size_t j = 0; j < t[i].count; j++) biases_ok &= t[i].data[j] == want_bias[i / 2];
            continue;
        }
        double s = 0, ss = 0;
        for (size_t j = 0; j < t[i].count; j++) s += t[i].data[j], ss += (double)t[i].data[j] * t[i].data[j];
        double mean = s / t[i].count, sd = sqrt(ss / t[i].count - mean * mean);
        if (fabs(mean) > 5e-4 || fabs(sd - 0.01) > 5e-4) {
            stats_ok = 0;
            printf("# %s: mean %.3g sd %.4g\n", t[i].name, mean, sd);
        }
    }
    T_OK(total == 60965224, "parameter tensors hold 60,965,224 floats");
    T_OK(stats_ok, "weights ~ N(0, 0.01) in every layer");
    T_OK(biases_ok, "biases 1 in conv2, conv4, conv5, fc6, fc7 and 0 elsewhere");
    struct anet_tensor *w1 = anet_model_tensor(m, "conv1.weight");
    float first = w1->data[0];
    anet_model_init(m, 1);
    T_OK(w1->data[0] == first, "the same seed gives the same weights");
    anet_model_init(m, 2);
    T_OK(w1->data[0] != first, "another seed gives other weights");
    anet_model_free(m);
}

static void test_topk(void)
{
    float s[6] = {0.1f, 0.5f, 0.2f, 0.5f, 0.05f, 0.3f};
    int32_t idx[4];
    anet_topk(s, 6, 4, idx);
    T_OK(idx[0] == 1 && idx[1] == 3 && idx[2] == 5 && idx[3] == 2,
         "top-4 descending, ties to the lower index (%d %d %d %d)", idx[0], idx[1], idx[2], idx[3]);
}

int main(void)
{
    anet_threads_set(0);
    test_config();
    test_topk();
    test_fixture("paper_small.fix", ANET_PATH_FAST);
    test_fixture("paper_small.fix", ANET_PATH_REF);
    test_fixture("ablation_small.fix", ANET_PATH_FAST);
    test_fixture("ablation_small.fix", ANET_PATH_REF);
    test_fast_vs_ref();
    test_parts();
    test_init();
    return t_done();
}
