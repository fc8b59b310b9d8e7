/* How a configuration reads its LRN parameters: the paper's way (α as given, windows within
 * each tower, the defaults) and Caffe's bvlc_alexnet (α divided by the window, windows
 * across the towers' boundary), as the model computes them, as checkpoints keep them, and
 * the placement that cannot run Caffe's. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alexnet/checkpoint.h"
#include "alexnet/model.h"
#include "test.h"

static int has(const char *text, const char *part) { return text && strstr(text, part); }

/* A narrow two-tower network, quick on the CPU. */
static void small_config(struct anet_config *c)
{
    anet_config_default(c);
    c->classes = 7, c->crop = 67;
    int widths[5] = {16, 32, 24, 24, 16};
    memcpy(c->conv, widths, sizeof widths);
    c->fc[0] = c->fc[1] = 32;
    c->init_std = 0.05f;
    c->lrn_param.alpha = 0.05f; /* large enough that LRN changes the numbers visibly */
}

static void copy_params(struct anet_model *dst, struct anet_model *src)
{
    struct anet_tensor *td, *ts;
    int n = anet_model_tensors(dst, &td);
    anet_model_tensors(src, &ts);
    for (int i = 0; i < n; i++) memcpy(td[i].data, ts[i].data, ts[i].count * sizeof(float));
}

/* Logits of `c` on x (n images) with the parameters of `from` (or its own init when NULL);
 * malloc'ed, n × classes. */
static float *logits_of(const struct anet_config *c, struct anet_model *from, const float *x,
                        int n)
{
    struct anet_model *m;
    if (anet_model_create(c, n, &m)) return NULL;
    if (from) copy_params(m, from);
    else anet_model_init(m, 3);
    const float *l;
    float *out = NULL;
    if (!anet_model_forward(m, x, n, 0, 0, 0, &l) && (out = t_alloc((size_t)n * c->classes)))
        memcpy(out, l, (size_t)n * c->classes * sizeof *out);
    anet_model_free(m);
    return out;
}

static void test_effective(void)
{
    struct anet_config c;
    struct anet_lrn_param p;
    anet_config_default(&c);
    int g = anet_config_lrn(&c, &p);
    T_OK(g == 2 && p.alpha == 1e-4f && p.k == 2 && p.size == 5 && p.beta == 0.75f,
         "the paper's LRN: alpha as given, within each of 2 towers");
    c.lrn_alpha_per_size = 1, c.lrn_across_towers = 1, c.lrn_param.k = 1;
    g = anet_config_lrn(&c, &p);
    T_OK(g == 1 && p.alpha == 1e-4f / 5.0f && p.k == 1,
         "Caffe's LRN: alpha / 5 computed in float, one group across the towers");
    c.lrn_across_towers = 0, c.towers = 1;
    T_OK(anet_config_lrn(&c, &p) == 1, "one tower: one group");
    c.lrn_alpha_per_size = 2;
    T_OK(anet_config_check(&c) == ANET_ERR_INVALID &&
             has(anet_error_detail(), "must be 0 or 1"),
         "a flag other than 0 or 1 is refused: %s", anet_error_detail());
}

/* Across the towers, the two-tower network computes what one column with the same
 * groups computes (its LRN spans every channel); within them, something else. */
static void test_across(void)
{
    struct anet_config across, column, paper;
    small_config(&across);
    across.lrn_across_towers = 1;
    small_config(&paper);
    column = across;
    column.towers = 1, column.lrn_across_towers = 0;
    int groups[5] = {1, 2, 1, 2, 2};
    memcpy(column.groups, groups, sizeof groups);
    const int n = 2;
    size_t in = (size_t)n * 3 * 67 * 67, out = (size_t)n * 7;
    float *x = t_alloc(in);
    t_seed(5);
    t_fill(x, in, -100, 100);
    struct anet_model *ref;
    if (!T_OK(anet_model_create(&across, n, &ref) == ANET_OK, "Caffe's LRN builds a model"))
        return;
    anet_model_init(ref, 3);
    float *a = logits_of(&across, ref, x, n), *b = logits_of(&column, ref, x, n);
    float *p = logits_of(&paper, ref, x, n);
    T_OK(a && b && !memcmp(a, b, out * sizeof *a),
         "LRN across the towers == one column grouped 1,2,1,2,2, bit for bit");
    T_OK(a && p && t_rel_err(p, a, out) > 1e-5, /* only windows at the boundary differ */
         "and differs from LRN within each tower (rel diff %.3g)", a && p ? t_rel_err(p, a, out) : 0);

    struct anet_placement two = {.backend = NULL, .parts = 2, .lane = {0, 1}};
    struct anet_model *m = NULL;
    T_OK(anet_model_create_placed(&across, n, &two, &m) == ANET_ERR_INVALID && !m &&
             has(anet_error_detail(), "spans both towers"),
         "the towers apart are refused: %s", anet_error_detail());
    across.lrn = 0;
    T_OK(anet_model_create_placed(&across, n, &two, &m) == ANET_OK, "  but not without LRN");
    anet_model_free(m);
    free(a), free(b), free(p), free(x);
    anet_model_free(ref);
}

/* α / size with α = 5·a is the paper's LRN with α = a, computed in float. */
static void test_alpha_per_size(void)
{
    struct anet_config caffe, paper;
    small_config(&caffe);
    caffe.lrn_alpha_per_size = 1, caffe.lrn_param.alpha = 0.25f;
    small_config(&paper);
    paper.lrn_param.alpha = 0.25f / 5.0f;
    const int n = 2;
    size_t in = (size_t)n * 3 * 67 * 67, out = (size_t)n * 7;
    float *x = t_alloc(in);
    t_seed(6);
    t_fill(x, in, -100, 100);
    float *a = logits_of(&caffe, NULL, x, n), *b = logits_of(&paper, NULL, x, n);
    T_OK(a && b && !memcmp(a, b, out * sizeof *a), "alpha/size 0.25/5 == alpha 0.05, bit for bit");
    paper.lrn_param.alpha = 0.25f;
    free(b);
    b = logits_of(&paper, NULL, x, n);
    T_OK(a && b && t_rel_err(b, a, out) > 1e-3, "and differs from alpha 0.25 as given");
    free(a), free(b), free(x);
}

static void test_text(void)
{
    struct anet_config c, back;
    anet_config_default(&c);
    char *text = anet_config_format(&c);
    T_OK(text && !has(text, "lrn_alpha_per_size") && !has(text, "lrn_across_towers"),
         "the paper's configuration writes neither flag (older builds read it)");
    T_OK(anet_config_parse(text, "t", &back) == ANET_OK && back.lrn_alpha_per_size == 0 &&
             back.lrn_across_towers == 0,
         "a text without them reads as the paper's LRN");
    free(text);
    c.lrn_alpha_per_size = 1, c.lrn_across_towers = 1, c.lrn_param.k = 1;
    text = anet_config_format(&c);
    T_OK(has(text, "lrn_beta 0.75\nlrn_alpha_per_size 1\nlrn_across_towers 1\npool 3 2\n"),
         "Caffe's LRN writes both flags after lrn_beta");
    T_OK(anet_config_parse(text, "t", &back) == ANET_OK && back.lrn_alpha_per_size == 1 &&
             back.lrn_across_towers == 1 && back.lrn_param.k == 1,
         "and reads them back");
    free(text);
    T_OK(anet_config_parse("lrn_across_towers 1\nlrn_across_towers 1\n", "t", &back) ==
                 ANET_ERR_FORMAT &&
             has(anet_error_detail(), "repeated key 'lrn_across_towers'"),
         "a repeated flag is refused: %s", anet_error_detail());
}

static void test_checkpoint(void)
{
    char dir[] = "/tmp/anet-lrn-XXXXXX", path[64];
    if (!T_OK(mkdtemp(dir) != NULL, "a scratch directory")) return;
    snprintf(path, sizeof path, "%s/caffe.anet", dir);
    struct anet_config c;
    small_config(&c);
    c.lrn_alpha_per_size = 1, c.lrn_across_towers = 1, c.lrn_param.k = 1;
    struct anet_model *m;
    struct anet_ckpt ck = {0};
    const int n = 1;
    size_t in = (size_t)3 * 67 * 67, out = 7;
    float *x = t_alloc(in);
    t_seed(7);
    t_fill(x, in, -100, 100);
    if (!T_OK(anet_model_create(&c, n, &m) == ANET_OK, "model")) return;
    anet_model_init(m, 4);
    float *want = logits_of(&c, m, x, n);
    enum anet_status s = anet_ckpt_save(path, m, NULL, NULL, 0);
    if (!s) s = anet_ckpt_load(path, n, &ck);
    T_OK(!s && ck.config.lrn_alpha_per_size == 1 && ck.config.lrn_across_towers == 1,
         "a checkpoint keeps Caffe's LRN: %s", s ? anet_error_detail() : "yes");
    float *got = s ? NULL : logits_of(&ck.config, ck.model, x, n);
    T_OK(want && got && !memcmp(want, got, out * sizeof *got), "  and computes the same logits");
    anet_ckpt_free(&ck);
    anet_model_free(m);
    free(want), free(got), free(x);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_effective();
    test_across();
    test_alpha_per_size();
    test_text();
    test_checkpoint();
    return t_done();
}
