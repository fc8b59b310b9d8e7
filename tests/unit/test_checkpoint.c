/* Checkpoints: the configuration text, a bit-exact round trip of a trained model, peek,
 * and the refusals (foreign, other version, every truncation, corruption, trailing bytes,
 * tensors of another configuration), atomic saving, and the sliced CRC-32 against the
 * plain bitwise definition.
 *
 * Files are taken apart and rebuilt here by an independent reader of the layout in
 * include/alexnet/checkpoint.h, so the tests also pin the bytes of the format. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include "alexnet/checkpoint.h"
#include "alexnet/file.h"
#include "test.h"

static char dir[] = "/tmp/anet-ckpt-XXXXXX";

/* A path in the scratch directory; valid for the next 15 calls. */
static const char *tmp_path(const char *name)
{
    static char buf[16][512];
    static int next;
    char *p = buf[next++ % 16];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static int has(const char *text, const char *part) { return strstr(text, part) != NULL; }

/* The detail of a failure, nothing for success (for messages of checks that expect one). */
static const char *why(enum anet_status s) { return s ? anet_error_detail() : ""; }

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "test: cannot write '%s': %s\n", path, strerror(errno));
        abort();
    }
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test: cannot open '%s': %s\n", path, strerror(errno));
        abort();
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) abort();
    fclose(f);
    *n = (size_t)len;
    return b;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- fixtures: a small trained model, its classes and training text ------------------ */

static void small_config(struct anet_config *c)
{
    anet_config_default(c);
    c->classes = 5;
    c->crop = 67;
    int conv[ANET_CONV_LAYERS] = {8, 16, 16, 16, 16};
    memcpy(c->conv, conv, sizeof conv);
    c->fc[0] = c->fc[1] = 32;
    c->towers = 2;
}

/* Initialised and trained for two SGD steps, so that momentum is not zero. */
static struct anet_model *trained_model(const struct anet_config *c)
{
    struct anet_model *m;
    if (anet_model_create(c, 2, &m)) {
        fprintf(stderr, "test: model: %s\n", anet_error_detail());
        abort();
    }
    anet_model_init(m, 7);
    size_t n = (size_t)2 * c->channels * c->crop * c->crop;
    float *x = t_alloc(n);
    t_seed(3);
    t_fill(x, n, -1, 1);
    int32_t labels[2] = {1, c->classes - 1};
    struct anet_sgd h;
    anet_sgd_default(&h);
    double loss;
    for (uint32_t step = 0; step < 2; step++)
        anet_model_train_step(m, x, labels, 2, &h, 11, step, &loss);
    free(x);
    return m;
}

static char *wnids[5] = {"n01440764", "n01443537", "n01484850", "n01491361", "n01494475"};
static char *words[5] = {"tench, Tinca tinca", "goldfish, Carassius auratus", "",
                         "tiger shark, Galeocerdo cuvieri", "hammerhead"};
static const struct anet_classes CLASSES = {5, wnids, words, NULL};
static const char TRAIN[] = "epoch 1\nbatch 2\nlr 0.01\nseed 42\n";

static int config_equal(const struct anet_config *a, const struct anet_config *b)
{
    int same = a->classes == b->classes && a->crop == b->crop && a->channels == b->channels &&
               a->towers == b->towers && a->fc[0] == b->fc[0] && a->fc[1] == b->fc[1] &&
               a->lrn == b->lrn && a->lrn_param.size == b->lrn_param.size &&
               a->pool_size == b->pool_size && a->pool_stride == b->pool_stride &&
               a->act == b->act && a->dropout_scale == b->dropout_scale;
    for (int i = 0; i < ANET_CONV_LAYERS; i++)
        same = same && a->conv[i] == b->conv[i] && a->groups[i] == b->groups[i];
    const float fa[] = {a->lrn_param.k, a->lrn_param.alpha, a->lrn_param.beta, a->dropout,
                        a->init_std, a->init_bias};
    const float fb[] = {b->lrn_param.k, b->lrn_param.alpha, b->lrn_param.beta, b->dropout,
                        b->init_std, b->init_bias};
    return same && !memcmp(fa, fb, sizeof fa); /* bit-identical floats */
}

static int classes_equal(const struct anet_classes *a, const struct anet_classes *b)
{
    if (a->count != b->count) return 0;
    for (int i = 0; i < a->count; i++)
        if (strcmp(a->wnid[i], b->wnid[i]) || strcmp(a->words[i], b->words[i])) return 0;
    return 1;
}

/* ---- the configuration text ------------------------------------------------------------ */

static void test_config_text(void)
{
    struct anet_config c, back;
    anet_config_default(&c);
    char *text = anet_config_format(&c);
    static const char want[] = "classes 1000\ncrop 227\nchannels 3\ntowers 2\n"
                               "conv 96 256 384 384 256\ngroups 0 0 0 0 0\nfc 4096 4096\n"
                               "lrn 1\nlrn_size 5\nlrn_k 2\nlrn_alpha 0.0001\nlrn_beta 0.75\n"
                               "pool 3 2\nact relu\ndropout 0.5\ninit_std 0.01\ninit_bias 1\n";
    if (!T_OK(text && !strcmp(text, want), "the paper's configuration as the documented text"))
        printf("# got:\n%s", text ? text : "(NULL)\n");
    T_OK(anet_config_parse(text, "t", &back) == ANET_OK && config_equal(&c, &back),
         "the paper's configuration reads back equal");
    free(text);

    /* the ablations and floats that need all 9 digits */
    c.act = ANET_ACT_TANH, c.pool_size = 2, c.lrn = 0, c.dropout = 0, c.towers = 1;
    c.init_std = 0.0123456789f, c.lrn_param.alpha = 1e-30f, c.init_bias = -0.0f;
    c.groups[1] = 4;
    text = anet_config_format(&c);
    T_OK(text && has(text, "act tanh\n") && has(text, "pool 2 2\n") && has(text, "lrn 0\n") &&
             has(text, "dropout 0\n") && has(text, "groups 0 4 0 0 0\n"),
         "an ablation as text: tanh, plain pooling, no LRN, no dropout");
    T_OK(anet_config_parse(text, "t", &back) == ANET_OK && config_equal(&c, &back),
         "the ablation reads back bit-identical (init_bias -0, alpha 1e-30)");
    free(text);

    /* random finite floats, every bit pattern class: all read back exactly */
    int bad = 0;
    t_seed(9);
    for (int i = 0; i < 20000 && !bad; i++) {
        uint32_t bits = (uint32_t)(t_uniform(0, 4294967296.0));
        float x;
        memcpy(&x, &bits, 4);
        if (!isfinite(x)) continue;
        c.init_bias = x;
        text = anet_config_format(&c);
        if (anet_config_parse(text, "t", &back) || memcmp(&back.init_bias, &x, 4)) bad = 1;
        free(text);
    }
    T_OK(!bad, "20000 random floats survive format and parse bit for bit");

    /* any order, blank lines and comments */
    static const char shuffled[] =
        "# hand written\ninit_bias 1\ninit_std 0.01\ndropout 0.5\n\nact relu\npool 3 2\n"
        "lrn_beta 0.75\nlrn_alpha 0.0001\nlrn_k 2\nlrn_size 5\nlrn 1\nfc 4096\t4096\r\n"
        "groups 0 0 0 0 0\nconv  96 256 384 384 256 \ntowers 2\nchannels 3\ncrop 227\n"
        "classes 1000";
    anet_config_default(&c);
    T_OK(anet_config_parse(shuffled, "t", &back) == ANET_OK && config_equal(&c, &back),
         "fields in any order, blank and # lines, tabs, CRLF, no final newline");
}

/* The default text with line `line` (1-based) replaced by `with` ("" drops it). */
static char *edited(int line, const char *with)
{
    struct anet_config c;
    anet_config_default(&c);
    char *text = anet_config_format(&c), *out = malloc(strlen(text) + strlen(with) + 2);
    char *p = text, *o = out;
    for (int n = 1; *p; n++) {
        char *nl = strchr(p, '\n');
        size_t len = (size_t)(nl - p) + 1;
        if (n == line) o += sprintf(o, "%s", with);
        else memcpy(o, p, len), o += len;
        p += len;
    }
    *o = 0;
    free(text);
    return out;
}

static void expect_parse_error(int line, const char *with, const char *detail)
{
    struct anet_config c;
    char *text = edited(line, with);
    enum anet_status s = anet_config_parse(text, "x.anet:CONF", &c);
    T_OK(s == ANET_ERR_FORMAT && has(anet_error_detail(), detail),
         "config line %d as '%.*s' refused: %s", line, (int)strcspn(with, "\n"), with,
         anet_error_detail());
    free(text);
}

static void test_config_errors(void)
{
    expect_parse_error(2, "crop 227\ncropping 3\n", "x.anet:CONF:3: unknown key 'cropping'");
    expect_parse_error(5, "conv 96 256 384 384 256\nconv 1 2 3 4 5\n",
                       "x.anet:CONF:6: repeated key 'conv' (first on line 5)");
    expect_parse_error(1, "", "x.anet:CONF: missing key 'classes'");
    expect_parse_error(17, "", "x.anet:CONF: missing key 'init_bias'");
    expect_parse_error(5, "conv 96 256 384 384\n", "x.anet:CONF:5: 'conv' needs 5 integers");
    expect_parse_error(5, "conv 96 256 384 384 256 1\n", "'conv' needs 5 integers");
    expect_parse_error(1, "classes abc\n", "x.anet:CONF:1: 'classes' needs 1 integer, got");
    expect_parse_error(1, "classes 99999999999\n", "'classes' needs 1 integer");
    expect_parse_error(1, "classes 10.5\n", "'classes' needs 1 integer");
    expect_parse_error(1, "classes\n", "'classes' needs 1 integer");
    expect_parse_error(14, "act sigmoid\n", "x.anet:CONF:14: 'act' must be relu or tanh");
    expect_parse_error(15, "dropout nan\n", "'dropout' needs 1 finite number");
    expect_parse_error(15, "dropout 0.5x\n", "'dropout' needs 1 finite number");
    expect_parse_error(15, "dropout 1e99\n", "'dropout' needs 1 finite number");
    expect_parse_error(15, "dropout 0.5\ndropout_scale paper\n",
                       "x.anet:CONF:16: 'dropout_scale' must be train or test, got 'paper'");
    expect_parse_error(15, "dropout 0.5\ndropout_scale\n", "'dropout_scale' must be train or test");
    expect_parse_error(15, "dropout 0.5\ndropout_scale test test\n",
                       "'dropout_scale' must be train or test");
    expect_parse_error(15, "dropout 0.5\ndropout_scale 1\n", "'dropout_scale' must be train or test");
    expect_parse_error(15, "dropout_scale test\ndropout 0.5\ndropout_scale train\n",
                       "x.anet:CONF:17: repeated key 'dropout_scale' (first on line 15)");
    struct anet_config c;
    T_OK(anet_config_parse("", "empty", &c) == ANET_ERR_FORMAT &&
             has(anet_error_detail(), "empty: missing key 'classes'"),
         "an empty text is refused: %s", anet_error_detail());
}

/* The paper's form of dropout (dropout_scale test): one optional line after dropout,
 * written only for it, so that every other configuration's text is what it was; a text
 * without it is inverted dropout (train). A configuration check refuses any other value. */
static void test_config_dropout_scale(void)
{
    struct anet_config c, back;
    anet_config_default(&c);
    c.dropout_scale = ANET_DROPOUT_SCALE_TEST;
    char *text = anet_config_format(&c);
    T_OK(text && has(text, "\ndropout 0.5\ndropout_scale test\ninit_std 0.01\n"),
         "dropout_scale test is written after dropout");
    T_OK(anet_config_parse(text, "t", &back) == ANET_OK && config_equal(&c, &back) &&
             back.dropout_scale == ANET_DROPOUT_SCALE_TEST,
         "and reads back as the paper's form");
    free(text);
    char *train = edited(15, "dropout 0.5\ndropout_scale train\n");
    T_OK(anet_config_parse(train, "t", &back) == ANET_OK &&
             back.dropout_scale == ANET_DROPOUT_SCALE_TRAIN,
         "dropout_scale train, written out, reads as inverted dropout");
    free(train);
    text = edited(0, "");
    T_OK(!has(text, "dropout_scale") && anet_config_parse(text, "t", &back) == ANET_OK &&
             back.dropout_scale == ANET_DROPOUT_SCALE_TRAIN,
         "the default writes no dropout_scale; a text without one is inverted dropout");
    free(text);
    anet_config_default(&c);
    c.dropout_scale = (enum anet_dropout_scale)2;
    T_OK(anet_config_check(&c) == ANET_ERR_INVALID && has(anet_error_detail(), "dropout scale"),
         "a dropout scale that is neither is refused: %s", anet_error_detail());
}

/* A network trained with the paper's form computes what inverted dropout computes with
 * fc7's and fc8's weights times 1 − p (the layers that read a dropout's output), in a test
 * pass (x(1 − p) after fc6 and fc7) and in a training pass (the same masks, kept units
 * unscaled); saved and loaded, it keeps its form. */
static void test_paper_dropout_model(void)
{
    struct anet_config c, inv;
    small_config(&c);
    c.dropout = 0.3f;
    c.dropout_scale = ANET_DROPOUT_SCALE_TEST;
    struct anet_model *m = trained_model(&c);
    const char *path = tmp_path("paper.anet");
    struct anet_ckpt k;
    enum anet_status s = anet_ckpt_save(path, m, NULL, NULL, 0);
    if (!s) s = anet_ckpt_load(path, 2, &k);
    if (!T_OK(s == ANET_OK, "a paper-form checkpoint saves and loads %s", why(s))) {
        anet_model_free(m);
        return;
    }
    T_OK(config_equal(&c, &k.config) && anet_model_config(k.model)->dropout_scale ==
                                            ANET_DROPOUT_SCALE_TEST,
         "its configuration keeps dropout_scale test");
    inv = c;
    inv.dropout_scale = ANET_DROPOUT_SCALE_TRAIN;
    struct anet_model *twin;
    if (anet_model_create(&inv, 2, &twin)) abort();
    struct anet_tensor *a, *b;
    int na = anet_model_tensors(k.model, &a);
    anet_model_tensors(twin, &b);
    for (int i = 0; i < na; i++) {
        int scaled = !strcmp(a[i].name, "fc7.weight") || !strcmp(a[i].name, "fc8.weight");
        for (size_t j = 0; j < a[i].count; j++)
            b[i].data[j] = scaled ? a[i].data[j] * (1 - c.dropout) : a[i].data[j];
    }
    anet_model_push(twin);
    size_t n = (size_t)2 * c.channels * c.crop * c.crop, len = 2 * (size_t)c.classes;
    float *x = t_alloc(n), *la = t_alloc(len);
    t_seed(23);
    t_fill(x, n, -1, 1);
    for (int train = 0; train < 2; train++) {
        const float *l;
        if (anet_model_forward(k.model, x, 2, train, 5, 3, &l)) abort();
        memcpy(la, l, len * sizeof *la);
        if (anet_model_forward(twin, x, 2, train, 5, 3, &l)) abort();
        double e = t_rel_err(la, l, len);
        T_OK(e < 1e-5, "%s pass: the paper's form == inverted dropout with fc7, fc8 weights "
             "x(1-p), rel err %.2g", train ? "a training" : "a test", e);
    }
    free(x), free(la);
    anet_model_free(twin);
    anet_ckpt_free(&k);
    anet_model_free(m);
}

/* ---- the file's layout, read independently ---------------------------------------------- */

struct section {
    char tag[5];
    const unsigned char *data;
    size_t len;
};

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The sections of a whole, valid file; returns how many (at most 8), 0 when the layout
 * is not the documented one. */
static int split(const unsigned char *b, size_t n, struct section *s)
{
    if (n < 28 || memcmp(b, "ANETCKPT", 8) || rd32(b + 8) != 1) return 0;
    uint32_t count = rd32(b + 12);
    size_t at = 16;
    for (uint32_t i = 0; i < count && i < 8; i++) {
        if (at + 16 > n || rd32(b + at + 4) != 0) return 0;
        memcpy(s[i].tag, b + at, 4);
        s[i].tag[4] = 0;
        s[i].len = (size_t)rd64(b + at + 8);
        s[i].data = b + at + 16;
        at += 16 + s[i].len;
    }
    if (at + 12 != n || memcmp(b + at, "ANETEND", 8)) return 0;
    if (rd32(b + at + 8) != anet_crc32(0, b, at)) return 0;
    return (int)count;
}

/* A file from sections, with a correct CRC and the given version. */
static void build(const char *path, uint32_t version, const struct section *s, int count)
{
    size_t n = 16 + 12;
    for (int i = 0; i < count; i++) n += 16 + s[i].len;
    unsigned char *b = malloc(n), *p = b;
    memcpy(p, "ANETCKPT", 8);
    wr32(p + 8, version);
    wr32(p + 12, (uint32_t)count);
    p += 16;
    for (int i = 0; i < count; i++) {
        memcpy(p, s[i].tag, 4);
        wr32(p + 4, 0);
        wr32(p + 8, (uint32_t)s[i].len);
        wr32(p + 12, (uint32_t)((uint64_t)s[i].len >> 32));
        memcpy(p + 16, s[i].data, s[i].len);
        p += 16 + s[i].len;
    }
    memcpy(p, "ANETEND", 8);
    wr32(p + 8, anet_crc32(0, b, (size_t)(p - b)));
    write_bytes(path, b, n);
    free(b);
}

/* Offset of the end of the k-th tensor record in a TENS payload. */
static size_t record_end(const unsigned char *tens, int k)
{
    size_t at = 4;
    for (int i = 0; i < k; i++) {
        uint32_t name = rd32(tens + at);
        at += 4 + name;
        uint32_t ndim = rd32(tens + at);
        at += 4 + 4 * (size_t)ndim + 4;
        at += 8 + 4 * (size_t)rd64(tens + at);
    }
    return at;
}

/* ---- round trip ---------------------------------------------------------------------- */

static void test_round_trip(void)
{
    struct anet_config c;
    small_config(&c);
    struct anet_model *m = trained_model(&c);
    const char *path = tmp_path("small.anet");
    enum anet_status s = anet_ckpt_save(path, m, &CLASSES, TRAIN, 0);
    T_OK(s == ANET_OK, "save %s", why(s));

    struct anet_ckpt k;
    s = anet_ckpt_load(path, 2, &k);
    if (!T_OK(s == ANET_OK && k.model, "load %s", why(s))) {
        anet_model_free(m);
        return;
    }
    T_OK(config_equal(&c, &k.config) && config_equal(&c, anet_model_config(k.model)),
         "the configuration reads back equal");
    T_OK(classes_equal(&CLASSES, &k.classes) && anet_classes_find(&k.classes, "n01484850") == 2,
         "the classes read back equal, words included, and can be looked up");
    T_OK(k.train && !strcmp(k.train, TRAIN), "the training text reads back equal");
    T_OK(k.has_momentum == 1, "momentum is present");
    struct anet_tensor *a, *b;
    int na = anet_model_tensors(m, &a), nb = anet_model_tensors(k.model, &b);
    int same = na == nb && na == ANET_TENSORS, moving = 0;
    for (int i = 0; same && i < na; i++) {
        same = !strcmp(a[i].name, b[i].name) && a[i].count == b[i].count &&
               !memcmp(a[i].data, b[i].data, a[i].count * sizeof(float)) &&
               !memcmp(a[i].momentum, b[i].momentum, a[i].count * sizeof(float));
        for (size_t j = 0; j < a[i].count; j++) moving |= a[i].momentum[j] != 0;
    }
    T_OK(same && moving, "all %d parameter and momentum tensors bit-identical (momentum "
                         "not zero after two steps)", na);

    /* the loaded model computes what the saved one computes */
    size_t n = (size_t)2 * c.channels * c.crop * c.crop;
    float *x = t_alloc(n);
    t_seed(17);
    t_fill(x, n, -1, 1);
    const float *la, *lb;
    anet_model_forward(m, x, 2, 0, 0, 0, &la);
    anet_model_forward(k.model, x, 2, 0, 0, 0, &lb);
    T_OK(!memcmp(la, lb, 2 * (size_t)c.classes * sizeof(float)),
         "the loaded model's logits equal the saved model's");
    free(x);
    anet_ckpt_free(&k);
    anet_ckpt_free(&k);
    T_OK(k.model == NULL && k.train == NULL && k.classes.count == 0, "free twice is harmless");

    struct anet_ckpt p;
    s = anet_ckpt_peek(path, &p);
    T_OK(s == ANET_OK && !p.model && config_equal(&c, &p.config) &&
             classes_equal(&CLASSES, &p.classes) && p.train && !strcmp(p.train, TRAIN) &&
             p.has_momentum,
         "peek: the same configuration, classes and training text, no model %s", why(s));
    anet_ckpt_free(&p);

    /* the bytes: header, sections in order, CRC */
    size_t len;
    unsigned char *bytes = read_bytes(path, &len);
    struct section sec[8];
    int ns = split(bytes, len, sec);
    char order[64] = "";
    for (int i = 0; i < ns; i++) strcat(strcat(order, sec[i].tag), " ");
    T_OK(ns == 4 && !strcmp(order, "CONF CLAS TRAN TENS "),
         "the file: ANETCKPT, version 1, sections %sANETEND and the CRC", order);
    uint64_t payload = 4;
    for (int i = 0; i < na; i++) /* the record twice, "momentum." the second time */
        payload += 2 * (4 + strlen(a[i].name) + 4 + 4 * (uint64_t)a[i].ndim + 4 + 8 +
                        4 * (uint64_t)a[i].count) + 9;
    T_OK(ns == 4 && sec[3].len == payload && rd32(sec[3].data) == 32 &&
             !memcmp(sec[3].data + 8, "conv1.weight", 12) && sec[3].data[4] == 12,
         "TENS: 32 tensors (%llu bytes), conv1.weight first", (unsigned long long)payload);
    size_t mom = record_end(sec[3].data, ANET_TENSORS);
    T_OK(ns == 4 && !memcmp(sec[3].data + mom + 4, "momentum.conv1.weight", 21),
         "the momentum follows the parameters, named momentum.<name>");
    free(bytes);

    /* no classes, no training text */
    const char *bare = tmp_path("bare.anet");
    s = anet_ckpt_save(bare, m, NULL, NULL, 0);
    if (!s) s = anet_ckpt_load(bare, 1, &k);
    T_OK(s == ANET_OK && k.classes.count == 0 && !k.train && config_equal(&c, &k.config),
         "without classes or training text: 0 classes, no text %s", why(s));
    anet_ckpt_free(&k);
    bytes = read_bytes(bare, &len);
    ns = split(bytes, len, sec);
    T_OK(ns == 3 && !strcmp(sec[1].tag, "CLAS") && sec[1].len == 0 &&
             !strcmp(sec[2].tag, "TENS"),
         "an empty CLAS section and no TRAN section");
    free(bytes);
    anet_model_free(m);
}

/* ---- saving ------------------------------------------------------------------------------ */

static int temp_files_left(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void test_save(void)
{
    struct anet_config c;
    small_config(&c);
    struct anet_model *m = trained_model(&c);
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("save.anet"));
    T_OK(anet_ckpt_save(path, m, NULL, NULL, 0) == ANET_OK, "first save");
    T_OK(anet_ckpt_save(path, m, NULL, NULL, 0) == ANET_ERR_IO &&
             has(anet_error_detail(), "exists"),
         "overwrite 0 refuses an existing file: %s", anet_error_detail());
    T_OK(anet_ckpt_save(path, m, &CLASSES, TRAIN, 1) == ANET_OK, "overwrite 1 replaces it");

    T_OK(anet_ckpt_save(tmp_path("no/such/dir.anet"), m, NULL, NULL, 0) == ANET_ERR_IO &&
             has(anet_error_detail(), "No such file or directory") && !temp_files_left(),
         "a missing directory: an error, no temporary file: %s", anet_error_detail());

    struct anet_classes three = {3, wnids, words, NULL};
    T_OK(anet_ckpt_save(tmp_path("x.anet"), m, &three, NULL, 0) == ANET_ERR_INVALID &&
             has(anet_error_detail(), "3 classes but the model 5") && !temp_files_left(),
         "a class table of another size is refused: %s", anet_error_detail());
    char *tabbed[5] = {"n0\t1", "b", "c", "d", "e"};
    struct anet_classes bad = {5, tabbed, words, NULL};
    T_OK(anet_ckpt_save(tmp_path("x.anet"), m, &bad, NULL, 0) == ANET_ERR_INVALID &&
             !temp_files_left() && access(tmp_path("x.anet"), F_OK) != 0,
         "a class name with a tab is refused before writing: %s", anet_error_detail());

    /* a value that is not finite, in a parameter or in its momentum: nothing is written */
    struct anet_tensor *t;
    int nt = anet_model_tensors(m, &t);
    for (int which = 0; which < 2; which++) {
        float *x = which ? t[4].momentum : t[nt - 1].data, keep = x[1];
        x[1] = which ? INFINITY : NAN;
        T_OK(anet_ckpt_save(tmp_path("nan.anet"), m, NULL, NULL, 0) == ANET_ERR_INVALID &&
                 access(tmp_path("nan.anet"), F_OK) != 0 && !temp_files_left() &&
                 has(anet_error_detail(), which ? "momentum.conv3.weight[1] is inf" : "fc8.bias[1] is nan") &&
                 has(anet_error_detail(), "never saved"),
             "a model with %s is not saved: %s", which ? "an infinite momentum" : "a NaN weight",
             anet_error_detail());
        x[1] = keep;
    }

    /* a write that fails half way (file size limit): an error, the previous file intact,
     * no temporary file */
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 20000;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    enum anet_status s = anet_ckpt_save(path, m, NULL, NULL, 1);
    char detail[256];
    snprintf(detail, sizeof detail, "%s", anet_error_detail());
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    struct anet_ckpt k;
    T_OK(s == ANET_ERR_IO && has(detail, "save.anet") && !temp_files_left(),
         "a write failing half way is an I/O error and leaves no temporary file: %s", detail);
    T_OK(anet_ckpt_load(path, 1, &k) == ANET_OK && k.classes.count == 5,
         "... and the previous checkpoint is intact");
    anet_ckpt_free(&k);
    anet_model_free(m);
}

/* ---- refusals ------------------------------------------------------------------------- */

/* Loads and peeks path; both must fail with ANET_ERR_FORMAT and a detail containing
 * `detail` (peek only when peek_too). */
static void expect_refused(const char *path, int peek_too, const char *detail,
                           const char *what)
{
    struct anet_ckpt k;
    enum anet_status s = anet_ckpt_load(path, 1, &k);
    int ok = s == ANET_ERR_FORMAT && has(anet_error_detail(), detail) && !k.model && !k.train &&
             k.classes.count == 0;
    T_OK(ok, "%s: load refuses: %s", what, anet_error_detail());
    if (!peek_too) return;
    s = anet_ckpt_peek(path, &k);
    T_OK(s == ANET_ERR_FORMAT && has(anet_error_detail(), detail),
         "%s: peek refuses: %s", what, anet_error_detail());
}

static void test_refusals(void)
{
    struct anet_ckpt k;
    const char *missing = tmp_path("nope.anet");
    T_OK(anet_ckpt_load(missing, 1, &k) == ANET_ERR_IO &&
             has(anet_error_detail(), "cannot open '") &&
             has(anet_error_detail(), "nope.anet': No such file or directory"),
         "a missing file: %s", anet_error_detail());
    T_OK(anet_ckpt_peek(missing, &k) == ANET_ERR_IO, "peek: a missing file");
    const char *p = tmp_path("bad.anet");
    write_bytes(p, "", 0);
    expect_refused(p, 1, "not an alexnet checkpoint (the file is empty)", "an empty file");
    write_bytes(p, "hello, world\n", 13);
    expect_refused(p, 1, "bad.anet': not an alexnet checkpoint", "a text file");
    write_bytes(p, "\x08\x01\x10\x03", 4);
    expect_refused(p, 1, "not an alexnet checkpoint", "a mean image");
    T_OK(anet_ckpt_load(dir, 1, &k) != ANET_OK, "a directory is refused: %s",
         anet_error_detail());

    struct anet_config c;
    small_config(&c);
    struct anet_model *m = trained_model(&c);
    const char *good = tmp_path("good.anet");
    anet_ckpt_save(good, m, &CLASSES, TRAIN, 1);
    size_t len;
    unsigned char *b = read_bytes(good, &len);

    b[8] = 2;
    write_bytes(p, b, len);
    expect_refused(p, 1, "checkpoint format version 2 is not supported (this build reads "
                         "version 1)", "version 2");
    b[8] = 1;

    /* one flipped bit in the floats of the last momentum tensor, in the CRC, in the end
     * marker, in a section's reserved word */
    size_t at = len - 12 - 8;
    b[at] ^= 0x10;
    write_bytes(p, b, len);
    expect_refused(p, 0, "bad.anet': checksum mismatch (file corrupt)", "a flipped bit");
    T_OK(anet_ckpt_peek(p, &k) == ANET_OK, "peek does not check the CRC");
    anet_ckpt_free(&k);
    b[at] ^= 0x10;
    b[len - 1] ^= 0x80;
    write_bytes(p, b, len);
    expect_refused(p, 0, "checksum mismatch", "a flipped bit in the CRC");
    b[len - 1] ^= 0x80;
    b[len - 10] = 'X';
    write_bytes(p, b, len);
    expect_refused(p, 1, "no end marker", "a damaged end marker");
    b[len - 10] = 'E';
    b[20] = 1;
    write_bytes(p, b, len);
    expect_refused(p, 1, "reserved field is 1", "a reserved word that is not 0");
    b[20] = 0;

    /* trailing bytes */
    unsigned char *longer = malloc(len + 3);
    memcpy(longer, b, len);
    memcpy(longer + len, "xyz", 3);
    write_bytes(p, longer, len + 3);
    expect_refused(p, 1, "3 bytes of trailing data after the end marker", "trailing bytes");
    free(longer);

    /* a length far beyond the file (the CONF length's high word): no allocation */
    b[16 + 12] = 0x40;
    write_bytes(p, b, len);
    expect_refused(p, 1, "truncated checkpoint (section CONF", "a CONF length of 2^38");
    b[16 + 12] = 0;

    /* every truncation: each byte up to the first floats and of the last 300, a sample of
     * the floats between */
    struct section s[8];
    split(b, len, s);
    size_t first_floats = (size_t)(s[3].data - b) + 200;
    int tried = 0, wrong = 0;
    char first_wrong[512] = "";
    for (size_t n = 0; n < len; n += (n < first_floats || n + 300 > len) ? 1 : 61) {
        write_bytes(p, b, n);
        tried++;
        const char *want = n == 0 ? "the file is empty" : "truncated checkpoint";
        for (int peek = 0; peek < 2; peek++) {
            enum anet_status st = peek ? anet_ckpt_peek(p, &k) : anet_ckpt_load(p, 1, &k);
            if (st != ANET_ERR_FORMAT || !has(anet_error_detail(), want) || k.model) {
                if (!wrong++)
                    snprintf(first_wrong, sizeof first_wrong, "%zu bytes (%s): %s", n,
                             peek ? "peek" : "load", anet_error_detail());
            }
            anet_ckpt_free(&k);
        }
    }
    T_OK(wrong == 0, "%d truncations of a %zu-byte checkpoint, load and peek: all 'truncated "
                     "checkpoint'%s%s", tried, len, wrong ? "; first not: " : "", first_wrong);
    write_bytes(p, b, 100);
    anet_ckpt_load(p, 1, &k);
    printf("# e.g. %s\n", anet_error_detail());
    free(b);
    anet_model_free(m);
}

/* ---- files rebuilt from parts ------------------------------------------------------------ */

/* Saves a model of config c and returns its bytes and sections. */
static unsigned char *saved(const struct anet_config *c, const char *name, size_t *len,
                            struct section *s)
{
    struct anet_model *m = trained_model(c);
    const char *path = tmp_path(name);
    anet_ckpt_save(path, m, c->classes == 5 ? &CLASSES : NULL, TRAIN, 1);
    anet_model_free(m);
    unsigned char *b = read_bytes(path, len);
    if (split(b, *len, s) < 3) abort();
    return b;
}

static void test_rebuilt(void)
{
    struct anet_config c, other;
    small_config(&c);
    size_t len, olen;
    struct section s[8], o[8], t[8];
    unsigned char *b = saved(&c, "a.anet", &len, s);
    const char *p = tmp_path("rebuilt.anet");
    struct anet_ckpt k;

    build(p, 1, s, 4);
    enum anet_status st = anet_ckpt_load(p, 1, &k);
    T_OK(st == ANET_OK, "the test's own writer makes a valid file %s", why(st));
    anet_ckpt_free(&k);

    /* the parameters only: loads with zero momentum */
    memcpy(t, s, sizeof t);
    size_t params_end = record_end(s[3].data, ANET_TENSORS);
    unsigned char *tens = malloc(params_end);
    memcpy(tens, s[3].data, params_end);
    wr32(tens, ANET_TENSORS);
    t[3].data = tens, t[3].len = params_end;
    build(p, 1, t, 4);
    int zero = 1;
    st = anet_ckpt_load(p, 1, &k);
    if (T_OK(st == ANET_OK && k.has_momentum == 0, "without momentum: loads, has_momentum 0 %s",
             why(st))) {
        struct anet_tensor *ts;
        int n = anet_model_tensors(k.model, &ts);
        for (int i = 0; i < n; i++)
            for (size_t j = 0; j < ts[i].count; j++) zero &= ts[i].momentum[j] == 0;
        T_OK(zero && !memcmp(ts[0].data, s[3].data + record_end(s[3].data, 1) - 4 * ts[0].count,
                             4 * ts[0].count),
             "... momentum zero, parameters as saved");
    }
    anet_ckpt_free(&k);
    /* 17 tensors: some momentum but not all */
    size_t one_more = record_end(s[3].data, ANET_TENSORS + 1);
    tens = realloc(tens, one_more);
    memcpy(tens, s[3].data, one_more);
    wr32(tens, ANET_TENSORS + 1);
    t[3].data = tens, t[3].len = one_more;
    build(p, 1, t, 4);
    expect_refused(p, 1, "17 tensors (expected 16 parameters, or 32 with momentum)",
                   "17 tensors");
    free(tens);

    /* the sections of another configuration under this CONF, and the reverse */
    other = c;
    other.conv[0] = 12;
    unsigned char *ob = saved(&other, "b.anet", &olen, o);
    memcpy(t, o, sizeof t);
    t[0] = s[0];
    build(p, 1, t, 4);
    expect_refused(p, 0, "rebuilt.anet': tensor conv1.weight has shape 12x3x11x11 but the "
                         "configuration needs 8x3x11x11", "CONF conv1 8, tensors conv1 12");
    memcpy(t, s, sizeof t);
    t[0] = o[0];
    build(p, 1, t, 4);
    expect_refused(p, 0, "tensor conv1.weight has shape 8x3x11x11 but the configuration "
                         "needs 12x3x11x11", "CONF conv1 12, tensors conv1 8");
    free(ob);
    other = c;
    other.classes = 6;
    ob = saved(&other, "c.anet", &olen, o);
    memcpy(t, s, sizeof t);
    t[0] = o[0];
    t[1].len = 0; /* 5 classes would not fit 6 */
    build(p, 1, t, 4);
    expect_refused(p, 0, "tensor fc8.weight has shape 5x32 but the configuration needs 6x32",
                   "CONF 6 classes, tensors 5");
    memcpy(t, s, sizeof t);
    t[0] = o[0];
    build(p, 1, t, 4);
    expect_refused(p, 1, "the class table has 5 classes but the configuration 6",
                   "5 classes in CLAS, 6 in CONF");
    free(ob);

    /* a configuration far larger than the tensors: refused before allocating it */
    struct anet_config huge = c;
    huge.fc[0] = huge.fc[1] = 1 << 20;
    char *text = anet_config_format(&huge);
    memcpy(t, s, sizeof t);
    t[0].data = (const unsigned char *)text, t[0].len = strlen(text);
    build(p, 1, t, 4);
    expect_refused(p, 1, "the tensors are not this configuration's", "CONF of 10^12 params");
    free(text);

    /* text sections that are not right */
    static const char bad_conf[] = "classes 5\ncrop 67\nwidth 3\n";
    memcpy(t, s, sizeof t);
    t[0].data = (const unsigned char *)bad_conf, t[0].len = strlen(bad_conf);
    build(p, 1, t, 4);
    expect_refused(p, 1, "rebuilt.anet:CONF:3: unknown key 'width'", "an unknown CONF key");
    struct anet_config zero_classes = c;
    zero_classes.classes = 0;
    text = anet_config_format(&zero_classes);
    t[0].data = (const unsigned char *)text, t[0].len = strlen(text);
    build(p, 1, t, 4);
    expect_refused(p, 1, "invalid configuration: classes must be at least 1",
                   "a CONF that fails the configuration check");
    free(text);
    static const char dup_classes[] = "#index\twnid\twords\n0\tn1\ta\n1\tn2\tb\n2\tn1\tc\n"
                                      "3\tn3\td\n4\tn4\te\n";
    memcpy(t, s, sizeof t);
    t[1].data = (const unsigned char *)dup_classes, t[1].len = strlen(dup_classes);
    build(p, 1, t, 4);
    expect_refused(p, 1, "rebuilt.anet:CLAS:4: duplicate class 'n1' (first on line 2)",
                   "a duplicate class in CLAS");
    static const char nul_text[] = "epoch 1\0x";
    memcpy(t, s, sizeof t);
    t[2].data = (const unsigned char *)nul_text, t[2].len = sizeof nul_text - 1;
    build(p, 1, t, 4);
    expect_refused(p, 1, "section TRAN holds a NUL byte", "a NUL in TRAN");

    /* sections: unknown, out of order, missing */
    memcpy(t, s, sizeof t);
    memcpy(t[2].tag, "XTRA", 4);
    build(p, 1, t, 4);
    expect_refused(p, 1, "unknown section 'XTRA' at offset", "an unknown section");
    memcpy(t, s, sizeof t);
    t[1] = s[2], t[2] = s[1];
    build(p, 1, t, 4);
    expect_refused(p, 1, "section CLAS at offset", "TRAN before CLAS");
    memcpy(t, s, sizeof t);
    t[0] = s[1], t[1] = s[0];
    build(p, 1, t, 4);
    expect_refused(p, 1, "section CLAS before the CONF section", "CLAS first");
    build(p, 1, s, 3);
    expect_refused(p, 1, "no TENS section", "no TENS");
    memcpy(t, s, sizeof t);
    t[4] = s[3];
    build(p, 1, t, 5);
    expect_refused(p, 1, "5 sections (a checkpoint has 2 to 4)", "5 sections");

    /* a tensor record whose element count disagrees with its shape */
    memcpy(t, s, sizeof t);
    tens = malloc(s[3].len);
    memcpy(tens, s[3].data, s[3].len);
    size_t rec = record_end(s[3].data, 1); /* conv1.bias: 8 elements */
    size_t count_at = rec + 4 + strlen("conv1.bias") + 4 + 4 + 4;
    tens[count_at] = 9;
    t[3].data = tens;
    build(p, 1, t, 4);
    expect_refused(p, 0, "tensor conv1.bias says 9 elements; its shape has 8",
                   "elements that disagree with the shape");
    tens[count_at] = 8;
    memcpy(tens + rec + 4, "conv1.BIAS", 10);
    build(p, 1, t, 4);
    expect_refused(p, 0, "found tensor 'conv1.BIAS' where conv1.bias should be",
                   "a misnamed tensor");
    free(tens);
    free(b);
}

/* ---- CRC-32 ---------------------------------------------------------------------------- */

/* The definition, one bit at a time. */
static uint32_t crc_bitwise(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

static void test_crc(void)
{
    T_OK(anet_crc32(0, "123456789", 9) == 0xCBF43926u, "crc32(\"123456789\") = cbf43926");
    enum { N = 1024 };
    unsigned char buf[N + 16];
    t_seed(1);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)t_uniform(0, 256);
    int bad = 0;
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n <= 300; n++)
            bad += anet_crc32(0, buf + off, n) != crc_bitwise(0, buf + off, n);
    T_OK(!bad, "every alignment 0..15 and length 0..300 equals the bitwise CRC");
    uint32_t whole = crc_bitwise(0, buf, N), c = 0;
    for (size_t at = 0, step = 1; at < N; at += step, step = step * 2 + 1) {
        size_t n = step < N - at ? step : N - at;
        c = anet_crc32(c, buf + at, n);
    }
    T_OK(c == whole, "continued over pieces of 1, 3, 7, 15, ... bytes");

    size_t big = 64u << 20;
    unsigned char *m = malloc(big);
    for (size_t i = 0; i < big; i++) m[i] = (unsigned char)(i * 2654435761u >> 13);
    double t0 = now();
    uint32_t fast = anet_crc32(0, m, big);
    double t1 = now();
    uint32_t slow = crc_bitwise(0, m, 8u << 20);
    double t2 = now();
    T_OK(anet_crc32(0, m, 8u << 20) == slow && fast != 0, "64 MiB checksummed");
    printf("# crc32: %.0f MB/s (the bitwise definition: %.0f MB/s)\n", big / (t1 - t0) / 1e6,
           (8u << 20) / (t2 - t1) / 1e6);
    free(m);
}

/* ---- main ------------------------------------------------------------------------------ */

static void cleanup(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') unlink(tmp_path(e->d_name));
    if (d) closedir(d);
    rmdir(dir);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        T_OK(0, "mkdtemp: %s", strerror(errno));
        return t_done();
    }
    test_config_text();
    test_config_errors();
    test_config_dropout_scale();
    test_paper_dropout_model();
    test_round_trip();
    test_save();
    test_refusals();
    test_rebuilt();
    test_crc();
    cleanup();
    return t_done();
}
