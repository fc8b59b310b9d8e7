/* Fine-tuning and features in the library: layer sets by name, frozen layers (bit-identical
 * through training, in one part and two, with the backward pass cut short below them), the
 * learning-rate multipliers against the reference update, the recipe's TRAN text old and
 * new, and the named activations of a forward pass (shapes, placement, and agreement with
 * the layers that read them). */
#include <string.h>
#include "alexnet/model.h"
#include "alexnet/ops.h"
#include "alexnet/rng.h"
#include "alexnet/threads.h"
#include "alexnet/train.h"
#include "test.h"

#define BATCH 4

/* A narrow two-tower network with the paper's shape (the one test_pin.c uses). */
static void small_config(struct anet_config *c)
{
    anet_config_default(c);
    c->classes = 7;
    c->crop = 67;
    int conv[ANET_CONV_LAYERS] = {8, 16, 24, 24, 16};
    memcpy(c->conv, conv, sizeof conv);
    c->fc[0] = c->fc[1] = 32;
    c->init_std = 0.05f;
}

static struct anet_model *small_model(int parts, struct anet_backend **be)
{
    struct anet_config c;
    small_config(&c);
    struct anet_model *m = NULL;
    *be = NULL;
    if (anet_backend_cpu(ANET_PATH_FAST, be)) return NULL;
    struct anet_placement where = {.backend = *be, .parts = parts, .lane = {0, 1}};
    if (anet_model_create_placed(&c, BATCH, &where, &m)) return NULL;
    anet_model_init(m, 11);
    return m;
}

static float *batch_images(const struct anet_config *c, uint32_t step)
{
    size_t in = (size_t)BATCH * c->channels * c->crop * c->crop;
    float *x = t_alloc(in);
    for (size_t i = 0; i < in; i++) x[i] = 40.0f * anet_rng_normal(5, step, 99, i);
    return x;
}

static void labels_of(int32_t *labels, uint32_t step, int classes)
{
    for (int i = 0; i < BATCH; i++) labels[i] = (int32_t)((step * 3 + (uint32_t)i * 5) % (uint32_t)classes);
}

/* A copy of every parameter. */
static float *snapshot(struct anet_model *m)
{
    struct anet_tensor *t;
    int n = anet_model_tensors(m, &t);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += t[i].count;
    float *s = t_alloc(total), *at = s;
    for (int i = 0; i < n; i++, at += t[i - 1].count) memcpy(at, t[i].data, t[i].count * sizeof *s);
    return s;
}

/* Layer l's weight and bias equal the snapshot's bit for bit. */
static int layer_same(struct anet_model *m, const float *snap, int l)
{
    struct anet_tensor *t;
    int n = anet_model_tensors(m, &t);
    const float *at = snap;
    int same = 1;
    for (int i = 0; i < n; at += t[i].count, i++)
        if (i / 2 == l) same &= !memcmp(at, t[i].data, t[i].count * sizeof *at);
    return same;
}

/* ---- layer sets ----------------------------------------------------------------------------- */
static void test_layer_names(void)
{
    uint32_t set;
    T_OK(anet_layers_parse("conv1..conv5", &set) == ANET_OK && set == 0x1f, "conv1..conv5");
    T_OK(anet_layers_parse("fc6,fc8", &set) == ANET_OK && set == 0xa0, "fc6,fc8");
    T_OK(anet_layers_parse("conv1,conv3..fc6,fc8", &set) == ANET_OK && set == 0xbd,
         "conv1,conv3..fc6,fc8");
    T_OK(anet_layers_parse("fc7..fc7", &set) == ANET_OK && set == 0x40, "a range of one");
    const char *bad[] = {"conv6", "fc8..conv1", "", "conv1,", ",fc8", "..", "conv1..",
                         "CONV1", "conv1..conv3..conv5", "fc"};
    int refused = 1;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        refused &= anet_layers_parse(bad[i], &set) == ANET_ERR_INVALID && set == 0;
    anet_layers_parse("conv6", &set);
    T_OK(refused && strstr(anet_error_detail(), "'conv6' is not a layer"),
         "unknown layers, reversed and empty ranges refused (%s)", anet_error_detail());
    int round = 1;
    char buf[96];
    for (uint32_t s = 1; s < 256; s++) {
        uint32_t back = 0;
        round &= anet_layers_parse(anet_layers_format(s, buf, sizeof buf), &back) == ANET_OK &&
                 back == s;
    }
    T_OK(round, "every set of layers reads back from its text");
    char none[8];
    T_OK(!strcmp(anet_layers_format(0x1f | 0x40, buf, sizeof buf), "conv1..conv5,fc7") &&
             !strcmp(anet_layers_format(0, none, sizeof none), ""),
         "the shortest text: '%s', and '' for none", buf);
    T_OK(anet_layer_index("fc7") == 6 && !strcmp(anet_layer_name(0), "conv1") &&
             anet_layer_index("fc9") == -1,
         "layer names and indices");
}

/* ---- the recipe's text ------------------------------------------------------------------------ */
static void test_tran(void)
{
    struct anet_train_state st, back;
    memset(&st, 0, sizeof st);
    anet_recipe_default(&st.recipe);
    anet_progress_start(&st.recipe, &st.progress);
    char *plain = anet_train_format(&st);
    T_OK(plain && !strstr(plain, "freeze") && !strstr(plain, "lr_mult") &&
             !strstr(plain, "init_from"),
         "a recipe that freezes and scales nothing writes the text it always wrote");
    T_OK(plain && anet_train_parse(plain, "plain", &back) == ANET_OK &&
             back.recipe.layers.frozen == 0 && back.recipe.layers.lr_mult[7] == 1.0f &&
             back.recipe.layers.lr_mult[0] == 1.0f && !back.init_from,
         "text without them reads as nothing frozen, every multiplier 1");
    anet_train_state_free(&back);

    st.recipe.layers.frozen = 0x1f;
    st.recipe.layers.lr_mult[6] = 0.1f;
    st.recipe.layers.lr_mult[7] = 10.0f;
    st.init_from = strdup("/data/pretrained.anet");
    char *text = anet_train_format(&st);
    T_OK(text && strstr(text, "\nfreeze conv1..conv5\n") &&
             strstr(text, "\nlr_mult 1 1 1 1 1 1 0.100000001 10\n") &&
             strstr(text, "\ninit_from /data/pretrained.anet\n"),
         "freeze, lr_mult and init_from written");
    T_OK(text && anet_train_parse(text, "new", &back) == ANET_OK &&
             !memcmp(&back.recipe, &st.recipe, sizeof st.recipe) && back.init_from &&
             !strcmp(back.init_from, st.init_from),
         "and read back bit for bit");
    anet_train_state_free(&back);
    anet_train_state_free(&st);

    const char *bad[] = {"lr_mult 1 1 1\n", "lr_mult 1 1 1 1 1 1 1 -2\n",
                         "lr_mult 1 1 1 1 1 1 1 1 1\n", "lr_mult 1 1 1 1 1 1 1 nan\n",
                         "freeze conv9\n"};
    int refused = 1;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t n = strlen(plain) + strlen(bad[i]) + 1;
        char *t = malloc(n);
        snprintf(t, n, "%s%s", plain, bad[i]);
        refused &= anet_train_parse(t, "bad", &back) == ANET_ERR_FORMAT;
        free(t);
    }
    T_OK(refused, "short, long, negative or NaN multipliers and unknown layers refused (%s)",
         anet_error_detail());
    free(plain);
    free(text);
}

/* ---- frozen layers ---------------------------------------------------------------------------- */
/* Three steps of a model with `frozen` layers beside one without: the frozen layers keep
 * their bits; the first step's update of the layers above the lowest trained one is the
 * free model's bit for bit (the same gradients). */
static void check_freeze(int parts, uint32_t frozen, const char *what)
{
    struct anet_backend *be1, *be2;
    struct anet_model *a = small_model(parts, &be1), *b = small_model(parts, &be2);
    if (!a || !b) {
        T_OK(0, "%s: models made (%s)", what, anet_error_detail());
        return;
    }
    struct anet_layer_sgd l;
    anet_layer_sgd_default(&l);
    l.frozen = frozen;
    anet_model_set_layer_sgd(a, &l);
    const struct anet_config *c = anet_model_config(a);
    float *init = snapshot(a);
    struct anet_sgd h;
    anet_sgd_default(&h);
    int32_t labels[BATCH];
    double la, lb;
    int ok = 1, first_same = 1;
    for (uint32_t s = 0; s < 3 && ok; s++) {
        float *x = batch_images(c, s);
        labels_of(labels, s, c->classes);
        ok &= anet_model_train_step(a, x, labels, BATCH, &h, 3, s, &la) == ANET_OK;
        ok &= anet_model_train_step(b, x, labels, BATCH, &h, 3, s, &lb) == ANET_OK;
        free(x);
        if (s > 0) continue;
        float *sb = snapshot(b);
        for (int k = 0; k < ANET_LAYERS; k++)
            if (!(frozen >> k & 1) && k > 0 && (frozen >> (k - 1) & 1))
                first_same &= layer_same(a, sb, k); /* just above a frozen layer */
        free(sb);
    }
    int kept = 1, moved = 1;
    for (int k = 0; k < ANET_LAYERS; k++) {
        if (frozen >> k & 1) kept &= layer_same(a, init, k);
        else moved &= !layer_same(a, init, k);
    }
    T_OK(ok && kept && moved, "%s: after 3 steps the frozen layers are bit-identical, the "
         "others trained", what);
    T_OK(first_same, "%s: the first step's update above them is the unfrozen model's, bit for "
         "bit", what);
    anet_model_set_layer_sgd(a, &l);
    T_OK(anet_model_layer_sgd(a)->frozen == frozen, "%s: the setting reads back", what);
    free(init);
    anet_model_free(a), anet_model_free(b);
    anet_backend_free(be1), anet_backend_free(be2);
}

/* Moving a model keeps its setting. */
static void check_place_keeps(void)
{
    struct anet_backend *be, *two;
    struct anet_model *m = small_model(1, &be);
    struct anet_layer_sgd l;
    anet_layer_sgd_default(&l);
    l.frozen = 0x3, l.lr_mult[7] = 4;
    anet_model_set_layer_sgd(m, &l);
    anet_backend_cpu(ANET_PATH_FAST, &two);
    struct anet_placement where = {.backend = two, .parts = 2, .lane = {0, 1}};
    enum anet_status s = anet_model_place(&m, &where);
    T_OK(!s && anet_model_layer_sgd(m)->frozen == 0x3 && anet_model_layer_sgd(m)->lr_mult[7] == 4,
         "a model placed elsewhere keeps its frozen layers and multipliers");
    anet_model_free(m);
    anet_backend_free(be), anet_backend_free(two);
}

/* ---- learning-rate multipliers ------------------------------------------------------------------ */
/* One step with multipliers: every tensor is what the reference update makes of its own
 * gradient at lr × its layer's multiplier, bit for bit. */
static void check_lr_mult(void)
{
    struct anet_backend *be;
    struct anet_model *m = small_model(1, &be);
    const float mult[ANET_LAYERS] = {0.5f, 1, 1, 1, 3, 1, 0, 10};
    struct anet_layer_sgd l;
    anet_layer_sgd_default(&l);
    memcpy(l.lr_mult, mult, sizeof mult);
    anet_model_set_layer_sgd(m, &l);
    const struct anet_config *c = anet_model_config(m);
    float *init = snapshot(m), *x = batch_images(c, 0);
    int32_t labels[BATCH];
    labels_of(labels, 0, c->classes);
    struct anet_sgd h;
    anet_sgd_default(&h);
    double loss;
    enum anet_status s = anet_model_train_step(m, x, labels, BATCH, &h, 3, 0, &loss);
    struct anet_tensor *t;
    int n = anet_model_tensors(m, &t), same = !s;
    const float *at = init;
    for (int i = 0; i < n; at += t[i].count, i++) {
        float *w = t_alloc(t[i].count), *v = t_alloc(t[i].count);
        memcpy(w, at, t[i].count * sizeof *w);
        anet_cpu_sgd_update_ref(t[i].count, h.lr * mult[i / 2], h.momentum,
                                t[i].is_weight ? h.decay : 0, w, t[i].grad, v);
        same &= !memcmp(w, t[i].data, t[i].count * sizeof *w) &&
                !memcmp(v, t[i].momentum, t[i].count * sizeof *v);
        free(w), free(v);
    }
    T_OK(same, "multipliers 0.5, 3, 0 and 10: every tensor's step is the reference update at "
         "its layer's learning rate, bit for bit");
    free(init), free(x);
    anet_model_free(m);
    anet_backend_free(be);
}

/* ---- activations -------------------------------------------------------------------------- */
static const char *const blobs[] = {"conv1", "norm1", "pool1", "conv2", "norm2", "pool2",
                                    "conv3", "conv4", "conv5", "pool5", "fc6",   "fc7", "fc8"};
#define NBLOBS (sizeof blobs / sizeof *blobs)

static float *activations(struct anet_model *m, const char *name, size_t *size)
{
    struct anet_named_blob b;
    if (anet_model_blob(m, name, &b)) return NULL;
    *size = (size_t)b.c * b.h * b.w;
    float *a = t_alloc((size_t)BATCH * *size);
    return anet_model_activations(m, &b, a) ? (free(a), NULL) : a;
}

/* y (n × out) = x (n × in) · Wᵀ + b, in double, optionally through ReLU. */
static void affine(const float *x, const float *w, const float *b, int n, int in, int out,
                   int relu, float *y)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int k = 0; k < in; k++) s += (double)x[(size_t)i * in + k] * w[(size_t)o * in + k];
            y[(size_t)i * out + o] = (float)(relu && s < 0 ? 0 : s);
        }
}

static void test_activations(void)
{
    struct anet_backend *be1, *be2;
    struct anet_model *one = small_model(1, &be1), *two = small_model(2, &be2);
    const struct anet_config *c = anet_model_config(one);
    struct anet_named_blob b;
    T_OK(anet_model_blob(one, "conv1", &b) == ANET_OK && b.c == 8 && b.h == 15 && b.w == 15 &&
             anet_model_blob(one, "pool5", &b) == ANET_OK && b.c == 16 && b.h == 1 &&
             anet_model_blob(one, "fc7", &b) == ANET_OK && b.c == 32 && b.h == 1 &&
             b.layer == 6 && anet_model_blob(one, "fc8", &b) == ANET_OK && b.c == 7,
         "shapes: conv1 8x15x15, pool5 16x1x1, fc7 32, fc8 7");
    float dummy;
    T_OK(anet_model_blob(one, "fc7", &b) == ANET_OK &&
             anet_model_activations(one, &b, &dummy) == ANET_ERR_INVALID,
         "no activations before a forward pass");
    T_OK(anet_model_blob(one, "pool3", &b) == ANET_ERR_INVALID &&
             strstr(anet_error_detail(), "pool1, pool2, pool5"),
         "a layer the network lacks is refused, naming those it has (%s)", anet_error_detail());

    /* two parts copy their towers' maps into place: the same activations as one part */
    float *x = batch_images(c, 0);
    const float *logits1, *logits2;
    enum anet_status s = anet_model_forward(one, x, BATCH, 0, 0, 0, &logits1);
    if (!s) s = anet_model_forward(two, x, BATCH, 0, 0, 0, &logits2);
    double worst = 0;
    int got = !s;
    for (size_t i = 0; i < NBLOBS && got; i++) {
        size_t n1 = 0, n2 = 0;
        float *a1 = activations(one, blobs[i], &n1), *a2 = activations(two, blobs[i], &n2);
        got = a1 && a2 && n1 == n2;
        if (got) worst = fmax(worst, t_rel_err(a2, a1, (size_t)BATCH * n1));
        free(a1), free(a2);
    }
    T_OK(got && worst < 1e-5, "every named layer of the towers apart is that of one part "
         "(worst rel err %.2g)", worst);

    /* what each layer's reader computes from it */
    struct anet_tensor *w6 = anet_model_tensor(one, "fc6.weight"), *b6 = w6 + 1;
    struct anet_tensor *w8 = anet_model_tensor(one, "fc8.weight"), *b8 = w8 + 1;
    size_t n5, n6, n7, n8;
    float *p5 = activations(one, "pool5", &n5), *f6 = activations(one, "fc6", &n6);
    float *f7 = activations(one, "fc7", &n7), *f8 = activations(one, "fc8", &n8);
    float *y6 = t_alloc((size_t)BATCH * n6), *y8 = t_alloc((size_t)BATCH * n8);
    affine(p5, w6->data, b6->data, BATCH, (int)n5, (int)n6, 1, y6);
    affine(f7, w8->data, b8->data, BATCH, (int)n7, (int)n8, 0, y8);
    T_OK(!memcmp(f8, logits1, (size_t)BATCH * n8 * sizeof *f8), "fc8 is the logits, bit for bit");
    double e6 = t_rel_err(f6, y6, (size_t)BATCH * n6), e8 = t_rel_err(f8, y8, (size_t)BATCH * n8);
    T_OK(e6 < 1e-5 && e8 < 1e-5, "fc6 = ReLU(W6 pool5 + b6) (rel err %.2g), logits = W8 fc7 + "
         "b8 (rel err %.2g)", e6, e8);
    free(p5), free(f6), free(f7), free(f8), free(y6), free(y8), free(x);
    anet_model_free(one), anet_model_free(two);
    anet_backend_free(be1), anet_backend_free(be2);

    struct anet_config nolrn;
    small_config(&nolrn);
    nolrn.lrn = 0;
    struct anet_model *m;
    if (anet_model_create(&nolrn, 1, &m)) return;
    T_OK(anet_model_blob(m, "norm1", &b) == ANET_ERR_INVALID, "no norm1 without LRN");
    anet_model_free(m);
}

int main(void)
{
    anet_threads_set(2);
    test_layer_names();
    test_tran();
    check_freeze(1, 0x1f, "conv1..conv5 frozen");
    check_freeze(2, 0x1f, "conv1..conv5 frozen, the towers apart");
    check_freeze(1, 0x40, "fc7 frozen (the gradient flows through it)");
    check_freeze(2, 0x07, "conv1..conv3 frozen, the towers apart");
    check_place_keeps();
    check_lr_mult();
    test_activations();
    return t_done();
}
