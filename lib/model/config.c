/* The network's configuration: the paper's defaults, validation, the layer table, and the
 * text form a checkpoint's CONF section and a safetensors file's metadata hold. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/model.h"

static const char *const layer_names[ANET_LAYERS] = {"conv1", "conv2", "conv3", "conv4",
                                                     "conv5", "fc6",   "fc7",   "fc8"};
/* Kernel size, stride and padding of the five convolutions (Fig. 2 of the paper). */
static const int conv_k[ANET_CONV_LAYERS] = {11, 5, 3, 3, 3};
static const int conv_s[ANET_CONV_LAYERS] = {4, 1, 1, 1, 1};
static const int conv_p[ANET_CONV_LAYERS] = {0, 2, 1, 1, 1};
/* Which layers are followed by LRN and by pooling. */
static const int conv_lrn[ANET_CONV_LAYERS] = {1, 1, 0, 0, 0};
static const int conv_pool[ANET_CONV_LAYERS] = {1, 1, 0, 0, 1};
/* Layers whose input is their own tower's maps only, when there are two towers. */
static const int tower_groups[ANET_CONV_LAYERS] = {1, 2, 1, 2, 2};

void anet_config_default(struct anet_config *c)
{
    static const int conv[ANET_CONV_LAYERS] = {96, 256, 384, 384, 256};
    memset(c, 0, sizeof *c);
    c->classes = 1000;
    c->crop = 227;
    c->channels = 3;
    c->towers = 2;
    memcpy(c->conv, conv, sizeof conv);
    c->fc[0] = c->fc[1] = 4096;
    c->lrn = 1;
    c->lrn_param = (struct anet_lrn_param){.size = 5, .k = 2.0f, .alpha = 1e-4f, .beta = 0.75f};
    c->pool_size = 3;
    c->pool_stride = 2;
    c->act = ANET_ACT_RELU;
    c->dropout = 0.5f;
    c->init_std = 0.01f;
    c->init_bias = 1.0f;
}

int anet_config_dropout(const struct anet_config *c, int train, float *p, float *scale)
{
    int paper = c->dropout_scale == ANET_DROPOUT_SCALE_TEST;
    if (!(c->dropout > 0) || (!train && !paper)) return 0;
    if (train) *p = c->dropout, *scale = paper ? 1.0f : 1.0f / (1.0f - c->dropout);
    else *p = 0, *scale = 1.0f - c->dropout; /* every unit kept, times 1 − p */
    return 1;
}

int anet_config_groups(const struct anet_config *c, int i)
{
    if (c->groups[i] > 0) return c->groups[i];
    return c->towers == 2 ? tower_groups[i] : 1;
}

int anet_config_lrn(const struct anet_config *c, struct anet_lrn_param *p)
{
    *p = c->lrn_param;
    if (c->lrn_alpha_per_size) p->alpha = c->lrn_param.alpha / (float)c->lrn_param.size;
    return c->lrn_across_towers ? 1 : c->towers;
}

/* Spatial side after conv layer i and its pooling, from side `in`; 0 or less when the
 * input is too small. */
static int side_after(const struct anet_config *c, int i, int in, int *conv_out)
{
    int o = anet_conv_out(in, conv_k[i], conv_s[i], conv_p[i]);
    if (conv_out) *conv_out = o;
    if (o < 1) return 0;
    if (conv_pool[i]) o = o < c->pool_size ? 0 : anet_pool_out(o, c->pool_size, c->pool_stride);
    return o;
}

static int final_side(const struct anet_config *c, int crop)
{
    int s = crop;
    for (int i = 0; i < ANET_CONV_LAYERS && s > 0; i++) s = side_after(c, i, s, NULL);
    return s;
}

static enum anet_status check_crop(const struct anet_config *c)
{
    if (final_side(c, c->crop) >= 1) return ANET_OK;
    int smallest = c->crop + 1;
    while (smallest < 100000 && final_side(c, smallest) < 1) smallest++;
    return anet_fail(ANET_ERR_INVALID,
                     "crop %d is too small for the network: the smallest that works with "
                     "pooling %d/%d is %d",
                     c->crop, c->pool_size, c->pool_stride, smallest);
}

static enum anet_status check_widths(const struct anet_config *c)
{
    int in = c->channels;
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        int g = anet_config_groups(c, i), k = c->conv[i];
        if (k < 1)
            return anet_fail(ANET_ERR_INVALID, "%s width must be at least 1, got %d",
                             layer_names[i], k);
        if (g < 1 || in % g || k % g)
            return anet_fail(ANET_ERR_INVALID,
                             "%s: groups %d must divide its %d input and %d output channels",
                             layer_names[i], g, in, k);
        if (c->towers == 2 && k % 2)
            return anet_fail(ANET_ERR_INVALID,
                             "%s width %d must be even to split over two towers",
                             layer_names[i], k);
        in = k;
    }
    for (int i = 0; i < 2; i++) {
        if (c->fc[i] < 1)
            return anet_fail(ANET_ERR_INVALID, "%s width must be at least 1, got %d",
                             layer_names[5 + i], c->fc[i]);
        if (c->towers == 2 && c->fc[i] % 2)
            return anet_fail(ANET_ERR_INVALID,
                             "%s width %d must be even to split over two towers",
                             layer_names[5 + i], c->fc[i]);
    }
    return ANET_OK;
}

enum anet_status anet_config_check(const struct anet_config *c)
{
    if (c->classes < 1)
        return anet_fail(ANET_ERR_INVALID, "classes must be at least 1, got %d", c->classes);
    if (c->channels < 1)
        return anet_fail(ANET_ERR_INVALID, "channels must be at least 1, got %d", c->channels);
    if (c->towers != 1 && c->towers != 2)
        return anet_fail(ANET_ERR_INVALID, "towers must be 1 or 2, got %d", c->towers);
    if (c->pool_size < 1 || c->pool_stride < 1)
        return anet_fail(ANET_ERR_INVALID, "pooling %d/%d: size and stride must be at least 1",
                         c->pool_size, c->pool_stride);
    if (c->lrn && (c->lrn_param.size < 1 || c->lrn_param.size % 2 == 0 ||
                   !(c->lrn_param.k > 0) || !(c->lrn_param.alpha >= 0) ||
                   !(c->lrn_param.beta >= 0)))
        return anet_fail(ANET_ERR_INVALID,
                         "LRN needs an odd size >= 1, k > 0, alpha >= 0 and beta >= 0 "
                         "(got size %d, k %g, alpha %g, beta %g)",
                         c->lrn_param.size, c->lrn_param.k, c->lrn_param.alpha,
                         c->lrn_param.beta);
    if ((c->lrn_alpha_per_size != 0 && c->lrn_alpha_per_size != 1) ||
        (c->lrn_across_towers != 0 && c->lrn_across_towers != 1))
        return anet_fail(ANET_ERR_INVALID,
                         "lrn_alpha_per_size and lrn_across_towers must be 0 or 1 (got %d, %d)",
                         c->lrn_alpha_per_size, c->lrn_across_towers);
    if (c->act != ANET_ACT_RELU && c->act != ANET_ACT_TANH)
        return anet_fail(ANET_ERR_INVALID, "unknown activation %d", (int)c->act);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return anet_fail(ANET_ERR_INVALID, "dropout probability must be in [0, 1), got %g",
                         c->dropout);
    if (c->dropout_scale != ANET_DROPOUT_SCALE_TRAIN &&
        c->dropout_scale != ANET_DROPOUT_SCALE_TEST)
        return anet_fail(ANET_ERR_INVALID, "dropout scale must be train (0) or test (1), got %d",
                         (int)c->dropout_scale);
    if (!(c->init_std >= 0))
        return anet_fail(ANET_ERR_INVALID, "init std must be >= 0, got %g", c->init_std);
    if (c->crop < 1 || c->crop > 4096)
        return anet_fail(ANET_ERR_INVALID, "crop must be in 1..4096, got %d", c->crop);
    enum anet_status s = check_widths(c);
    return s ? s : check_crop(c);
}

static void fill_conv(const struct anet_config *c, int i, int in_c, int side,
                      struct anet_layer_info *L)
{
    int g = anet_config_groups(c, i), conv_out;
    L->is_conv = 1;
    L->in_c = in_c, L->in_h = L->in_w = side;
    L->kh = L->kw = conv_k[i], L->stride = conv_s[i], L->pad = conv_p[i], L->groups = g;
    L->pool_h = L->pool_w = side_after(c, i, side, &conv_out);
    L->out_c = c->conv[i], L->out_h = L->out_w = conv_out;
    L->cross_towers = c->towers == 2 && g == 1 && i > 0;
    L->lrn = c->lrn && conv_lrn[i];
    L->pool = conv_pool[i];
    L->act = 1;
    L->weights = (size_t)L->out_c * (in_c / g) * L->kh * L->kw;
    L->biases = (size_t)L->out_c;
    L->macs = (double)L->weights * conv_out * conv_out;
}

static void fill_fc(const struct anet_config *c, int j, int in, struct anet_layer_info *L)
{
    L->in_c = in, L->in_h = L->in_w = 1;
    L->out_c = j < 2 ? c->fc[j] : c->classes;
    L->out_h = L->out_w = L->pool_h = L->pool_w = 1;
    L->groups = 1;
    L->cross_towers = c->towers == 2;
    L->act = j < 2;
    L->dropout = j < 2 && c->dropout > 0;
    L->weights = (size_t)L->out_c * in;
    L->biases = (size_t)L->out_c;
    L->macs = (double)L->weights;
}

void anet_config_layers(const struct anet_config *c, struct anet_layer_info info[ANET_LAYERS])
{
    memset(info, 0, sizeof(struct anet_layer_info) * ANET_LAYERS);
    int ch = c->channels, side = c->crop;
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        fill_conv(c, i, ch, side, &info[i]);
        ch = info[i].out_c, side = info[i].pool_h;
    }
    int in = ch * side * side;
    for (int j = 0; j < ANET_FC_LAYERS; j++) {
        fill_fc(c, j, in, &info[ANET_CONV_LAYERS + j]);
        in = info[ANET_CONV_LAYERS + j].out_c;
    }
    for (int i = 0; i < ANET_LAYERS; i++) snprintf(info[i].name, sizeof info[i].name, "%s", layer_names[i]);
}

size_t anet_config_params(const struct anet_config *c)
{
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(c, info);
    size_t n = 0;
    for (int i = 0; i < ANET_LAYERS; i++) n += info[i].weights + info[i].biases;
    return n;
}

/* ---- the configuration as text ------------------------------------------------------- */

/* K_FLAG: an int added after the first checkpoints, written only when not 0 and 0 when
 * absent, so that files of the paper's network read in builds that predate it, and older
 * files here. K_DSCALE: the dropout scale by name, added later in the same way (absent:
 * train, the inverted dropout every earlier file was trained with). */
enum kind { K_INT, K_FLOAT, K_ACT, K_FLAG, K_DSCALE };

static int optional(enum kind k) { return k == K_FLAG || k == K_DSCALE; }

/* One line of the CONF text: its key, the kind and number of its values, and where each
 * value lives in struct anet_config. format and parse share this table, so what one writes
 * the other reads. */
struct field {
    const char *key;
    enum kind kind;
    int n;
    size_t off[ANET_CONV_LAYERS];
};

#define AT(member) offsetof(struct anet_config, member)
static const struct field FIELDS[] = {
    {"classes", K_INT, 1, {AT(classes)}},
    {"crop", K_INT, 1, {AT(crop)}},
    {"channels", K_INT, 1, {AT(channels)}},
    {"towers", K_INT, 1, {AT(towers)}},
    {"conv", K_INT, 5, {AT(conv[0]), AT(conv[1]), AT(conv[2]), AT(conv[3]), AT(conv[4])}},
    {"groups", K_INT, 5,
     {AT(groups[0]), AT(groups[1]), AT(groups[2]), AT(groups[3]), AT(groups[4])}},
    {"fc", K_INT, 2, {AT(fc[0]), AT(fc[1])}},
    {"lrn", K_INT, 1, {AT(lrn)}},
    {"lrn_size", K_INT, 1, {AT(lrn_param.size)}},
    {"lrn_k", K_FLOAT, 1, {AT(lrn_param.k)}},
    {"lrn_alpha", K_FLOAT, 1, {AT(lrn_param.alpha)}},
    {"lrn_beta", K_FLOAT, 1, {AT(lrn_param.beta)}},
    {"lrn_alpha_per_size", K_FLAG, 1, {AT(lrn_alpha_per_size)}},
    {"lrn_across_towers", K_FLAG, 1, {AT(lrn_across_towers)}},
    {"pool", K_INT, 2, {AT(pool_size), AT(pool_stride)}},
    {"act", K_ACT, 1, {AT(act)}},
    {"dropout", K_FLOAT, 1, {AT(dropout)}},
    {"dropout_scale", K_DSCALE, 1, {AT(dropout_scale)}},
    {"init_std", K_FLOAT, 1, {AT(init_std)}},
    {"init_bias", K_FLOAT, 1, {AT(init_bias)}},
};
#undef AT
enum { NFIELDS = sizeof FIELDS / sizeof FIELDS[0] };

static const char *const ACT_NAME[] = {[ANET_ACT_RELU] = "relu", [ANET_ACT_TANH] = "tanh"};
static const char *const DSCALE_NAME[] = {[ANET_DROPOUT_SCALE_TRAIN] = "train",
                                          [ANET_DROPOUT_SCALE_TEST] = "test"};

/* The shortest %g form (at most 9 significant digits, which always suffice) that reads
 * back as exactly x: 0.0001 rather than 9.99999975e-05. */
static void format_float(char *buf, size_t size, float x)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)x);
        if (strtof(buf, NULL) == x) return;
    }
}

static void format_value(FILE *f, const struct anet_config *c, const struct field *fd, int k)
{
    const char *p = (const char *)c + fd->off[k];
    char num[32];
    switch (fd->kind) {
    case K_INT:
    case K_FLAG: fprintf(f, " %d", *(const int *)p); break;
    case K_FLOAT:
        format_float(num, sizeof num, *(const float *)p);
        fprintf(f, " %s", num);
        break;
    case K_ACT: {
        int a = (int)*(const enum anet_act *)p; /* an unknown one as its number: unreadable */
        if (a == ANET_ACT_RELU || a == ANET_ACT_TANH) fprintf(f, " %s", ACT_NAME[a]);
        else fprintf(f, " %d", a);
        break;
    }
    case K_DSCALE: {
        int d = (int)*(const enum anet_dropout_scale *)p; /* likewise */
        if (d == ANET_DROPOUT_SCALE_TRAIN || d == ANET_DROPOUT_SCALE_TEST)
            fprintf(f, " %s", DSCALE_NAME[d]);
        else fprintf(f, " %d", d);
        break;
    }
    }
}

char *anet_config_format(const struct anet_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    for (int i = 0; i < NFIELDS; i++) {
        if (optional(FIELDS[i].kind) && *(const int *)((const char *)c + FIELDS[i].off[0]) == 0)
            continue;
        fputs(FIELDS[i].key, f);
        for (int k = 0; k < FIELDS[i].n; k++) format_value(f, c, &FIELDS[i], k);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(text);
        return NULL;
    }
    return text;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* A decimal int, optionally negative, nothing else. */
static int parse_int(const char *s, int *out)
{
    const char *p = s + (*s == '-');
    long long v = 0;
    if (*p < '0' || *p > '9') return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > 2147483648LL) return 0;
    }
    if (*p) return 0;
    if (*s == '-') v = -v;
    if (v > 2147483647LL) return 0;
    *out = (int)v;
    return 1;
}

static int parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (end == s || *end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static int parse_act(const char *s, enum anet_act *out)
{
    for (int a = 0; a < 2; a++)
        if (!strcmp(s, ACT_NAME[a])) {
            *out = (enum anet_act)a;
            return 1;
        }
    return 0;
}

static int parse_dscale(const char *s, enum anet_dropout_scale *out)
{
    for (int d = 0; d < 2; d++)
        if (!strcmp(s, DSCALE_NAME[d])) {
            *out = (enum anet_dropout_scale)d;
            return 1;
        }
    return 0;
}

static enum anet_status bad_values(const char *what, int line, const struct field *fd,
                                   const char *values)
{
    static const char *const kind_name[] = {"integer", "finite number", "activation",
                                            "integer", "dropout scale"};
    if (fd->kind == K_ACT)
        return anet_fail(ANET_ERR_FORMAT, "%s:%d: 'act' must be relu or tanh, got '%.64s'",
                         what, line, values);
    if (fd->kind == K_DSCALE)
        return anet_fail(ANET_ERR_FORMAT,
                         "%s:%d: 'dropout_scale' must be train or test, got '%.64s'", what, line,
                         values);
    return anet_fail(ANET_ERR_FORMAT, "%s:%d: '%s' needs %d %s%s, got '%.64s'", what, line,
                     fd->key, fd->n, kind_name[fd->kind], fd->n > 1 ? "s" : "", values);
}

/* The values of one line (s: the text after the key, modified in place) into c. */
static enum anet_status parse_values(const char *what, int line, const struct field *fd,
                                     char *s, struct anet_config *c)
{
    char *values = s, *tok[ANET_CONV_LAYERS + 1];
    char shown[72];
    snprintf(shown, sizeof shown, "%s", values);
    int n = 0;
    while (*s && n <= fd->n) {
        while (is_blank(*s)) s++;
        if (!*s) break;
        tok[n++] = s;
        while (*s && !is_blank(*s)) s++;
        if (*s) *s++ = 0;
    }
    if (n != fd->n) return bad_values(what, line, fd, shown);
    for (int k = 0; k < n; k++) {
        char *p = (char *)c + fd->off[k];
        int ok = fd->kind == K_FLOAT    ? parse_float(tok[k], (float *)p)
                 : fd->kind == K_ACT    ? parse_act(tok[k], (enum anet_act *)p)
                 : fd->kind == K_DSCALE ? parse_dscale(tok[k], (enum anet_dropout_scale *)p)
                                        : parse_int(tok[k], (int *)p);
        if (!ok) return bad_values(what, line, fd, shown);
    }
    return ANET_OK;
}

/* One line: blank and "#" lines are skipped; otherwise "key values...". */
static enum anet_status parse_line(const char *what, int line, char *s, int first_on[],
                                   struct anet_config *c)
{
    size_t len = strlen(s);
    if (len && s[len - 1] == '\r') s[--len] = 0;
    while (is_blank(*s)) s++;
    if (!*s || *s == '#') return ANET_OK;
    char *key = s;
    while (*s && !is_blank(*s)) s++;
    if (*s) *s++ = 0;
    for (int i = 0; i < NFIELDS; i++) {
        if (strcmp(key, FIELDS[i].key)) continue;
        if (first_on[i])
            return anet_fail(ANET_ERR_FORMAT, "%s:%d: repeated key '%s' (first on line %d)",
                             what, line, key, first_on[i]);
        first_on[i] = line;
        return parse_values(what, line, &FIELDS[i], s, c);
    }
    return anet_fail(ANET_ERR_FORMAT, "%s:%d: unknown key '%.64s'", what, line, key);
}

enum anet_status anet_config_parse(const char *text, const char *what, struct anet_config *c)
{
    char *copy = strdup(text);
    if (!copy) return anet_fail(ANET_ERR_NOMEM, "out of memory parsing %s", what);
    struct anet_config tmp;
    memset(&tmp, 0, sizeof tmp);
    int first_on[NFIELDS] = {0}, line = 0;
    enum anet_status s = ANET_OK;
    for (char *p = copy; !s && p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        s = parse_line(what, ++line, p, first_on, &tmp);
        p = nl ? nl + 1 : NULL;
    }
    free(copy);
    for (int i = 0; !s && i < NFIELDS; i++)
        if (!first_on[i] && !optional(FIELDS[i].kind))
            s = anet_fail(ANET_ERR_FORMAT, "%s: missing key '%s'", what, FIELDS[i].key);
    if (!s) *c = tmp;
    return s;
}

enum anet_status anet_config_check_limits(const struct anet_config *c)
{
    if (c->classes < 1 || c->classes > ANET_MAX_CLASSES)
        return anet_fail(ANET_ERR_INVALID, "classes %d is outside 1..%d", c->classes,
                         ANET_MAX_CLASSES);
    if (c->crop < 1 || c->crop > ANET_MAX_CROP)
        return anet_fail(ANET_ERR_INVALID, "crop %d is outside 1..%d", c->crop, ANET_MAX_CROP);
    if (c->channels != 3)
        return anet_fail(ANET_ERR_INVALID, "%d channels: the images have 3", c->channels);
    if (c->towers != 1 && c->towers != 2)
        return anet_fail(ANET_ERR_INVALID, "towers %d is not 1 or 2", c->towers);
    for (int i = 0; i < ANET_CONV_LAYERS; i++)
        if (c->conv[i] < 1 || c->conv[i] > ANET_MAX_CONV || c->groups[i] < 0 ||
            c->groups[i] > ANET_MAX_CONV)
            return anet_fail(ANET_ERR_INVALID, "conv%d: %d kernels in %d groups, outside "
                             "1..%d", i + 1, c->conv[i], c->groups[i], ANET_MAX_CONV);
    for (int i = 0; i < 2; i++)
        if (c->fc[i] < 1 || c->fc[i] > ANET_MAX_FC)
            return anet_fail(ANET_ERR_INVALID, "fc%d: %d neurons, outside 1..%d", i + 6,
                             c->fc[i], ANET_MAX_FC);
    if (!(c->pool_stride == 2 && (c->pool_size == 3 || c->pool_size == 2)))
        return anet_fail(ANET_ERR_INVALID, "pooling %d/%d is neither 3/2 nor 2/2", c->pool_size,
                         c->pool_stride);
    if (c->lrn != 0 && c->lrn != 1)
        return anet_fail(ANET_ERR_INVALID, "lrn %d is not 0 or 1", c->lrn);
    if (!(c->dropout >= 0 && c->dropout <= (float)ANET_MAX_DROPOUT))
        return anet_fail(ANET_ERR_INVALID, "dropout %g is outside 0..%g", c->dropout,
                         ANET_MAX_DROPOUT);
    if (!(c->init_std >= 0 && c->init_std <= ANET_MAX_INIT && fabsf(c->init_bias) <= ANET_MAX_INIT))
        return anet_fail(ANET_ERR_INVALID, "init_std %g or init_bias %g is outside the "
                         "options' range", c->init_std, c->init_bias);
    return ANET_OK;
}
