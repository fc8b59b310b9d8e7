/* Caffe's NetParameter into the network (include/alexnet/import.h): the layers are read from
 * the protobuf wire format by hand (caffe.proto's field numbers below), checked against the
 * network's structure, turned into a configuration and their blobs into its parameters.
 *
 * The file is read whole: a caffemodel of the paper's network is 244 MB. Every length comes
 * from the file and is checked against what is left of it by the field iterator (wire.h);
 * a blob's floats never take more memory than its bytes in the file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/file.h"
#include "alexnet/import.h"
#include "../data/blob.h"
#include "../data/wire.h"

/* caffe.proto field numbers. NetParameter: */
enum { NET_LAYERS_V1 = 2, NET_INPUT_DIM = 4, NET_INPUT_SHAPE = 8, NET_LAYER = 100 };
/* LayerParameter and V1LayerParameter: where each field lives in one and the other. */
struct layer_fields {
    uint32_t name, type, bottom, top, blobs, include, exclude, transform, conv, dropout, ip,
        lrn, pool, relu, input, v0;
};
static const struct layer_fields V2 = {.name = 1, .type = 2, .bottom = 3, .top = 4, .blobs = 7,
                                       .include = 8, .exclude = 9, .transform = 100,
                                       .conv = 106, .dropout = 108, .ip = 117, .lrn = 118,
                                       .pool = 121, .relu = 123, .input = 143};
static const struct layer_fields V1 = {.name = 4, .type = 5, .bottom = 2, .top = 3, .blobs = 6,
                                       .include = 32, .exclude = 33, .transform = 36,
                                       .conv = 10, .dropout = 12, .ip = 17, .lrn = 18,
                                       .pool = 19, .relu = 30, .v0 = 1};
/* ConvolutionParameter */
enum { CONV_NUM_OUTPUT = 1, CONV_BIAS_TERM = 2, CONV_PAD = 3, CONV_KERNEL = 4, CONV_GROUP = 5,
       CONV_STRIDE = 6, CONV_PAD_H = 9, CONV_PAD_W = 10, CONV_KERNEL_H = 11, CONV_KERNEL_W = 12,
       CONV_STRIDE_H = 13, CONV_STRIDE_W = 14, CONV_AXIS = 16, CONV_DILATION = 18 };
/* InnerProductParameter */
enum { IP_NUM_OUTPUT = 1, IP_BIAS_TERM = 2, IP_AXIS = 5, IP_TRANSPOSE = 6 };
/* LRNParameter */
enum { LRN_SIZE = 1, LRN_ALPHA = 2, LRN_BETA = 3, LRN_REGION = 4, LRN_K = 5 };
/* PoolingParameter */
enum { POOL_METHOD = 1, POOL_KERNEL = 2, POOL_STRIDE = 3, POOL_PAD = 4, POOL_KERNEL_H = 5,
       POOL_KERNEL_W = 6, POOL_STRIDE_H = 7, POOL_STRIDE_W = 8, POOL_PAD_H = 9, POOL_PAD_W = 10,
       POOL_GLOBAL = 12 };
/* ReLUParameter, DropoutParameter, TransformationParameter, InputParameter, NetStateRule,
 * BlobShape */
enum { RELU_SLOPE = 1, DROPOUT_RATIO = 1, TRANSFORM_CROP = 3, INPUT_SHAPE = 1, RULE_PHASE = 1,
       SHAPE_DIM = 1 };
enum { PHASE_TRAIN = 0, PHASE_TEST = 1 };

/* What a layer is to the network: K_PASS takes no part in the forward pass (data, loss,
 * accuracy); K_ALIAS passes its input on unchanged under another name (Flatten: fc6 reads
 * C x H x W flattened anyway; Split). */
enum kind { K_UNKNOWN, K_PASS, K_ALIAS, K_CONV, K_RELU, K_TANH, K_LRN, K_POOL, K_IP, K_DROPOUT };

static const struct {
    const char *name; /* LayerParameter.type */
    int v1;           /* V1LayerParameter.LayerType */
    enum kind kind;
} TYPES[] = {
    {"Convolution", 4, K_CONV},  {"ReLU", 18, K_RELU},     {"TanH", 23, K_TANH},
    {"LRN", 15, K_LRN},          {"Pooling", 17, K_POOL},  {"InnerProduct", 14, K_IP},
    {"Dropout", 6, K_DROPOUT},   {"Data", 5, K_PASS},      {"ImageData", 12, K_PASS},
    {"MemoryData", 29, K_PASS},  {"HDF5Data", 9, K_PASS},  {"DummyData", 32, K_PASS},
    {"WindowData", 24, K_PASS},  {"Input", -1, K_PASS},    {"Softmax", 20, K_PASS},
    {"SoftmaxWithLoss", 21, K_PASS}, {"Accuracy", 1, K_PASS}, {"Split", 22, K_ALIAS},
    {"Silence", 36, K_PASS},     {"Flatten", 8, K_ALIAS},
};
enum { NTYPES = sizeof TYPES / sizeof TYPES[0] };

/* Up to two values of a repeated uint32 (one: both sides; two: height, width). */
struct pair { uint64_t v[2]; int n; };

struct conv_param {
    uint64_t num_output, group, axis;
    int bias_term, has_axis, dilated;
    struct pair pad, kernel, stride;
    uint64_t pad_h, pad_w, kernel_h, kernel_w, stride_h, stride_w;
    int has_pad_hw, has_kernel_hw, has_stride_hw;
};
struct ip_param { uint64_t num_output; int64_t axis; int bias_term, transpose; };
struct lrn_param { uint64_t size; float alpha, beta, k; uint64_t region; };
struct pool_param {
    uint64_t method, global;
    struct pair kernel, stride, pad;
    uint64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
    int has_kernel_hw, has_stride_hw, has_pad_hw;
};

#define MAX_BLOBS 2
#define MAX_FILE 0x7fffffffLL /* protobuf's limit on a message, which Caffe's reader keeps */

struct layer {
    char name[72], type[40]; /* printable, for messages */
    enum kind kind;
    const uint8_t *bottom, *top; /* the first of each, not NUL-terminated */
    size_t bottom_len, top_len;
    int bottoms, tops;
    struct wire_field blob[MAX_BLOBS];
    int blobs;
    int train_only; /* include { phase: TRAIN } only, or exclude { phase: TEST } */
    struct conv_param conv;
    struct ip_param ip;
    struct lrn_param lrn;
    struct pool_param pool;
    float relu_slope, dropout;
    uint64_t crop;    /* transform_param.crop_size, 0 when none */
    int64_t input[4]; /* an Input layer's first shape */
    int input_dims;
};

struct net {
    const char *path;
    struct layer *layer;
    int count, cap, v1, v2;
    int64_t input[4]; /* input_shape or input_dim of the NetParameter */
    int input_dims;
};

/* ---- messages ------------------------------------------------------------------------- */

static enum anet_status bad_wire(const struct net *net, enum wire_field_result r,
                                 const char *where)
{
    static const char *const why[] = {"", "truncated", "a varint longer than 10 bytes",
                                      "a field number out of range",
                                      "a group or an unknown wire type"};
    return anet_fail(ANET_ERR_FORMAT, "'%s': not a Caffe NetParameter (%s: %s)", net->path,
                     where, why[r]);
}

/* s[0..len) for a message: at most 64 bytes, anything unprintable as '?'. */
static void printable(const uint8_t *s, size_t len, char *buf, size_t size)
{
    size_t n = len < size - 1 ? len : size - 1;
    if (n > 64) n = 64;
    for (size_t i = 0; i < n; i++) buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    buf[n] = 0;
}

static float f32le(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* ---- the fields of one message --------------------------------------------------------- */

/* Walks the message p[0..len), calling fn on every field; stops at the first failure. */
typedef enum anet_status (*field_fn)(const struct net *net, void *ctx,
                                     const struct wire_field *f);
static enum anet_status each_field(const struct net *net, const uint8_t *p, size_t len,
                                   const char *where, field_fn fn, void *ctx)
{
    const uint8_t *end = p + len;
    while (p < end) {
        struct wire_field f = {0};
        enum wire_field_result r = wire_next_field(&p, end, &f);
        if (r) return bad_wire(net, r, where);
        enum anet_status s = fn(net, ctx, &f);
        if (s) return s;
    }
    return ANET_OK;
}

static enum anet_status wrong_type(const struct net *net, const char *where,
                                   const struct wire_field *f)
{
    return anet_fail(ANET_ERR_FORMAT, "'%s': not a Caffe NetParameter (%s: field %u has wire "
                     "type %d)", net->path, where, f->number, f->wire);
}

/* A varint field (or, for repeated ones, a packed run: each value goes to fn's pair). */
static enum anet_status get_uint(const struct net *net, const char *where,
                                 const struct wire_field *f, uint64_t *v)
{
    if (f->wire != WIRE_VARINT) return wrong_type(net, where, f);
    *v = f->v;
    return ANET_OK;
}

static enum anet_status get_float(const struct net *net, const char *where,
                                  const struct wire_field *f, float *v)
{
    if (f->wire != WIRE_FIXED32) return wrong_type(net, where, f);
    *v = f32le(f->p);
    return ANET_OK;
}

/* A repeated uint32: unpacked values one a field, or packed runs. Keeps the first two. */
static enum anet_status get_pair(const struct net *net, const char *where,
                                 const struct wire_field *f, struct pair *pr)
{
    if (f->wire == WIRE_VARINT) {
        if (pr->n < 2) pr->v[pr->n] = f->v;
        pr->n++;
        return ANET_OK;
    }
    if (f->wire != WIRE_BYTES) return wrong_type(net, where, f);
    for (const uint8_t *p = f->p, *end = f->p + f->len; p < end;) {
        uint64_t v = 0;
        enum wire_field_result r = wire_field_varint(&p, end, &v);
        if (r) return bad_wire(net, r, where);
        if (pr->n < 2) pr->v[pr->n] = v;
        pr->n++;
    }
    return ANET_OK;
}

/* ---- layer parameters -------------------------------------------------------------------- */

static enum anet_status conv_field(const struct net *net, void *ctx, const struct wire_field *f)
{
    struct conv_param *c = ctx;
    const char *w = "convolution_param";
    uint64_t v = 0;
    enum anet_status s = ANET_OK;
    switch (f->number) {
    case CONV_NUM_OUTPUT: return get_uint(net, w, f, &c->num_output);
    case CONV_BIAS_TERM: s = get_uint(net, w, f, &v), c->bias_term = v != 0; return s;
    case CONV_PAD: return get_pair(net, w, f, &c->pad);
    case CONV_KERNEL: return get_pair(net, w, f, &c->kernel);
    case CONV_STRIDE: return get_pair(net, w, f, &c->stride);
    case CONV_GROUP: return get_uint(net, w, f, &c->group);
    case CONV_PAD_H: c->has_pad_hw = 1; return get_uint(net, w, f, &c->pad_h);
    case CONV_PAD_W: c->has_pad_hw = 1; return get_uint(net, w, f, &c->pad_w);
    case CONV_KERNEL_H: c->has_kernel_hw = 1; return get_uint(net, w, f, &c->kernel_h);
    case CONV_KERNEL_W: c->has_kernel_hw = 1; return get_uint(net, w, f, &c->kernel_w);
    case CONV_STRIDE_H: c->has_stride_hw = 1; return get_uint(net, w, f, &c->stride_h);
    case CONV_STRIDE_W: c->has_stride_hw = 1; return get_uint(net, w, f, &c->stride_w);
    case CONV_AXIS: c->has_axis = 1; return get_uint(net, w, f, &c->axis);
    case CONV_DILATION: {
        struct pair d = {{0}, 0};
        s = get_pair(net, w, f, &d);
        for (int i = 0; i < d.n && i < 2; i++) c->dilated |= d.v[i] != 1;
        return s;
    }
    default: return ANET_OK;
    }
}

static enum anet_status ip_field(const struct net *net, void *ctx, const struct wire_field *f)
{
    struct ip_param *p = ctx;
    const char *w = "inner_product_param";
    uint64_t v = 0;
    enum anet_status s = ANET_OK;
    switch (f->number) {
    case IP_NUM_OUTPUT: return get_uint(net, w, f, &p->num_output);
    case IP_BIAS_TERM: s = get_uint(net, w, f, &v), p->bias_term = v != 0; return s;
    case IP_AXIS: s = get_uint(net, w, f, &v), p->axis = (int64_t)v; return s;
    case IP_TRANSPOSE: s = get_uint(net, w, f, &v), p->transpose = v != 0; return s;
    default: return ANET_OK;
    }
}

static enum anet_status lrn_field(const struct net *net, void *ctx, const struct wire_field *f)
{
    struct lrn_param *p = ctx;
    const char *w = "lrn_param";
    switch (f->number) {
    case LRN_SIZE: return get_uint(net, w, f, &p->size);
    case LRN_ALPHA: return get_float(net, w, f, &p->alpha);
    case LRN_BETA: return get_float(net, w, f, &p->beta);
    case LRN_REGION: return get_uint(net, w, f, &p->region);
    case LRN_K: return get_float(net, w, f, &p->k);
    default: return ANET_OK;
    }
}

static enum anet_status pool_field(const struct net *net, void *ctx, const struct wire_field *f)
{
    struct pool_param *p = ctx;
    const char *w = "pooling_param";
    switch (f->number) {
    case POOL_METHOD: return get_uint(net, w, f, &p->method);
    case POOL_KERNEL: return get_pair(net, w, f, &p->kernel);
    case POOL_STRIDE: return get_pair(net, w, f, &p->stride);
    case POOL_PAD: return get_pair(net, w, f, &p->pad);
    case POOL_KERNEL_H: p->has_kernel_hw = 1; return get_uint(net, w, f, &p->kernel_h);
    case POOL_KERNEL_W: p->has_kernel_hw = 1; return get_uint(net, w, f, &p->kernel_w);
    case POOL_STRIDE_H: p->has_stride_hw = 1; return get_uint(net, w, f, &p->stride_h);
    case POOL_STRIDE_W: p->has_stride_hw = 1; return get_uint(net, w, f, &p->stride_w);
    case POOL_PAD_H: p->has_pad_hw = 1; return get_uint(net, w, f, &p->pad_h);
    case POOL_PAD_W: p->has_pad_hw = 1; return get_uint(net, w, f, &p->pad_w);
    case POOL_GLOBAL: return get_uint(net, w, f, &p->global);
    default: return ANET_OK;
    }
}

static enum anet_status one_float_field(const struct net *net, void *ctx,
                                        const struct wire_field *f)
{
    return f->number == 1 ? get_float(net, "a layer parameter", f, ctx) : ANET_OK;
}

static enum anet_status crop_field(const struct net *net, void *ctx, const struct wire_field *f)
{
    return f->number == TRANSFORM_CROP ? get_uint(net, "transform_param", f, ctx) : ANET_OK;
}

/* A NetStateRule's phase; -1 when it names none. */
static enum anet_status phase_field(const struct net *net, void *ctx, const struct wire_field *f)
{
    uint64_t v = 0;
    enum anet_status s = f->number == RULE_PHASE ? get_uint(net, "a phase rule", f, &v) : ANET_OK;
    if (!s && f->number == RULE_PHASE) *(int *)ctx = (int)(v & 0xff);
    return s;
}

/* BlobShape: dim = 1, packed or not, into dims[4] (*n counts them all). */
struct shape { int64_t *dims; int *n; };
static enum anet_status dim_field(const struct net *net, void *ctx, const struct wire_field *f)
{
    struct shape *sh = ctx;
    if (f->number != SHAPE_DIM) return ANET_OK;
    if (f->wire == WIRE_VARINT) {
        if (*sh->n < 4) sh->dims[*sh->n] = (int64_t)f->v;
        (*sh->n)++;
        return ANET_OK;
    }
    if (f->wire != WIRE_BYTES) return wrong_type(net, "a shape", f);
    for (const uint8_t *p = f->p, *end = f->p + f->len; p < end;) {
        uint64_t v = 0;
        enum wire_field_result r = wire_field_varint(&p, end, &v);
        if (r) return bad_wire(net, r, "a shape");
        if (*sh->n < 4) sh->dims[*sh->n] = (int64_t)v;
        (*sh->n)++;
    }
    return ANET_OK;
}

static enum anet_status input_field(const struct net *net, void *ctx, const struct wire_field *f)
{
    struct layer *L = ctx;
    if (f->number != INPUT_SHAPE || L->input_dims) return ANET_OK;
    if (f->wire != WIRE_BYTES) return wrong_type(net, "input_param", f);
    struct shape sh = {L->input, &L->input_dims};
    return each_field(net, f->p, f->len, "input_param", dim_field, &sh);
}

/* ---- a layer ------------------------------------------------------------------------------ */

struct layer_ctx {
    struct layer *L;
    const struct layer_fields *F;
    int includes, train_includes; /* include rules, and those for TRAIN only */
};

static enum kind kind_of_name(const uint8_t *s, size_t len)
{
    for (int i = 0; i < NTYPES; i++)
        if (strlen(TYPES[i].name) == len && !memcmp(TYPES[i].name, s, len)) return TYPES[i].kind;
    return K_UNKNOWN;
}

static void set_v1_type(struct layer *L, uint64_t v)
{
    for (int i = 0; i < NTYPES; i++)
        if (TYPES[i].v1 >= 0 && (uint64_t)TYPES[i].v1 == v) {
            L->kind = TYPES[i].kind;
            snprintf(L->type, sizeof L->type, "%s", TYPES[i].name);
            return;
        }
    L->kind = K_UNKNOWN;
    snprintf(L->type, sizeof L->type, "V1 type %llu", (unsigned long long)v);
}

static enum anet_status sub_message(const struct net *net, const struct wire_field *f,
                                    const char *where, field_fn fn, void *ctx)
{
    if (f->wire != WIRE_BYTES) return wrong_type(net, where, f);
    return each_field(net, f->p, f->len, where, fn, ctx);
}

static enum anet_status layer_field(const struct net *net, void *ctx, const struct wire_field *f)
{
    struct layer_ctx *lc = ctx;
    struct layer *L = lc->L;
    const struct layer_fields *F = lc->F;
    uint32_t n = f->number;
    if (F->v0 && n == F->v0)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': layer %d is in Caffe's oldest (V0) format: upgrade the model "
                         "with Caffe's upgrade_net_proto_binary first",
                         net->path, net->count + 1);
    if (n == F->name || n == F->bottom || n == F->top || (n == F->type && F == &V2)) {
        if (f->wire != WIRE_BYTES) return wrong_type(net, "a layer", f);
        if (n == F->name) printable(f->p, f->len, L->name, sizeof L->name);
        if (n == F->type) {
            printable(f->p, f->len, L->type, sizeof L->type);
            L->kind = kind_of_name(f->p, f->len);
        }
        if (n == F->bottom && L->bottoms++ == 0) L->bottom = f->p, L->bottom_len = f->len;
        if (n == F->top && L->tops++ == 0) L->top = f->p, L->top_len = f->len;
        return ANET_OK;
    }
    if (n == F->type) { /* V1: an enum */
        uint64_t v = 0;
        enum anet_status s = get_uint(net, "a layer", f, &v);
        if (!s) set_v1_type(L, v);
        return s;
    }
    if (n == F->blobs) {
        if (f->wire != WIRE_BYTES) return wrong_type(net, "a layer's blobs", f);
        if (L->blobs < MAX_BLOBS) L->blob[L->blobs] = *f;
        L->blobs++;
        return ANET_OK;
    }
    if (n == F->include || n == F->exclude) {
        int phase = -1;
        enum anet_status s = sub_message(net, f, "a phase rule", phase_field, &phase);
        if (n == F->include) lc->includes++, lc->train_includes += phase == PHASE_TRAIN;
        else if (phase == PHASE_TEST) L->train_only = 1;
        return s;
    }
    if (n == F->conv) return sub_message(net, f, "convolution_param", conv_field, &L->conv);
    if (n == F->ip) return sub_message(net, f, "inner_product_param", ip_field, &L->ip);
    if (n == F->lrn) return sub_message(net, f, "lrn_param", lrn_field, &L->lrn);
    if (n == F->pool) return sub_message(net, f, "pooling_param", pool_field, &L->pool);
    if (n == F->relu) return sub_message(net, f, "relu_param", one_float_field, &L->relu_slope);
    if (n == F->dropout) return sub_message(net, f, "dropout_param", one_float_field, &L->dropout);
    if (n == F->transform) return sub_message(net, f, "transform_param", crop_field, &L->crop);
    if (F->input && n == F->input) return sub_message(net, f, "input_param", input_field, L);
    return ANET_OK;
}

/* caffe.proto's defaults, which a field left out means. */
static void layer_defaults(struct layer *L)
{
    memset(L, 0, sizeof *L);
    snprintf(L->name, sizeof L->name, "(unnamed)");
    snprintf(L->type, sizeof L->type, "(no type)");
    L->conv.bias_term = 1, L->conv.group = 1;
    L->ip.bias_term = 1, L->ip.axis = 1;
    L->lrn = (struct lrn_param){.size = 5, .alpha = 1, .beta = 0.75f, .k = 1};
    L->dropout = 0.5f;
}

static enum anet_status read_layer(struct net *net, const struct wire_field *f, int v1)
{
    if (f->wire != WIRE_BYTES) return wrong_type(net, "the net", f);
    if (net->count == net->cap) {
        int cap = net->cap ? 2 * net->cap : 32;
        struct layer *l = realloc(net->layer, (size_t)cap * sizeof *l);
        if (!l) return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", net->path);
        net->layer = l, net->cap = cap;
    }
    struct layer *L = &net->layer[net->count];
    layer_defaults(L);
    struct layer_ctx lc = {.L = L, .F = v1 ? &V1 : &V2};
    enum anet_status s = each_field(net, f->p, f->len, "a layer", layer_field, &lc);
    if (s) return s;
    if (lc.includes && lc.includes == lc.train_includes) L->train_only = 1;
    net->count++;
    return ANET_OK;
}

static enum anet_status net_field(const struct net *cnet, void *ctx, const struct wire_field *f)
{
    struct net *net = ctx;
    (void)cnet;
    if (f->number == NET_LAYER || f->number == NET_LAYERS_V1) {
        int v1 = f->number == NET_LAYERS_V1;
        net->v1 |= v1, net->v2 |= !v1;
        return read_layer(net, f, v1);
    }
    if (f->number == NET_INPUT_SHAPE && !net->input_dims) {
        if (f->wire != WIRE_BYTES) return wrong_type(net, "input_shape", f);
        struct shape sh = {net->input, &net->input_dims};
        return each_field(net, f->p, f->len, "input_shape", dim_field, &sh);
    }
    if (f->number == NET_INPUT_DIM) { /* repeated int64, as BlobShape's dim */
        struct shape sh = {net->input, &net->input_dims};
        struct wire_field dim = *f;
        dim.number = SHAPE_DIM;
        return dim_field(net, &sh, &dim);
    }
    return ANET_OK;
}

/* ---- the file ----------------------------------------------------------------------------- */

/* The whole file: a regular file only, of at most MAX_FILE bytes (anet_file_read). */
static enum anet_status read_whole(const char *path, uint8_t **buf, size_t *len)
{
    enum anet_status s = anet_file_read(path, MAX_FILE, "a Caffe model", buf, len);
    if (!s && *len == 0) {
        free(*buf), *buf = NULL;
        s = anet_fail(ANET_ERR_FORMAT, "'%s': not a Caffe model (the file is empty)", path);
    }
    return s;
}

/* ---- the network's structure ---------------------------------------------------------------- */

/* The layers that take part in a test-phase forward pass, in file order. */
struct chain {
    const struct net *net;
    struct layer **L;
    int n, at;
    const char *cur; /* the blob the last layer wrote */
    size_t cur_len;
    struct layer *weighted[ANET_LAYERS], *lrn[2], *pool[3], *act, *drop[2];
};

static const char *const WEIGHTED[ANET_LAYERS] = {"conv1", "conv2", "conv3", "conv4",
                                                  "conv5", "fc6",   "fc7",   "fc8"};
static const char *const KIND_NAME[] = {"?",   "?",       "?",       "Convolution", "ReLU",
                                        "TanH", "LRN",     "Pooling", "InnerProduct", "Dropout"};

static struct layer *peek(struct chain *c) { return c->at < c->n ? c->L[c->at] : NULL; }

static int same_name(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && !memcmp(a, b, alen);
}

/* Does L read the blob the last layer wrote, directly or through Flatten layers? */
static int reads_current(const struct chain *c, const struct layer *L)
{
    if (L->bottoms != 1) return 0;
    const uint8_t *name = (const uint8_t *)c->cur;
    size_t len = c->cur_len;
    for (int hops = 0; hops <= c->net->count; hops++) {
        if (same_name(L->bottom, L->bottom_len, name, len)) return 1;
        const struct layer *alias = NULL;
        for (int i = 0; i < c->net->count && !alias; i++) {
            const struct layer *A = &c->net->layer[i];
            if (A->kind == K_ALIAS && !A->train_only && A->bottoms == 1 && A->tops >= 1 &&
                same_name(A->bottom, A->bottom_len, name, len) &&
                !same_name(A->top, A->top_len, name, len))
                alias = A;
        }
        if (!alias) return 0;
        name = alias->top, len = alias->top_len;
    }
    return 0;
}

/* The next layer must be of kind k: `what` says what the network has there. */
static enum anet_status take(struct chain *c, enum kind k, const char *what, struct layer **out)
{
    struct layer *L = peek(c);
    const char *p = c->net->path;
    if (!L) {
        const struct layer *last = c->at ? c->L[c->at - 1] : NULL;
        return anet_fail(ANET_ERR_FORMAT, "'%s': the net ends %s%s%s where this network has %s",
                         p, last ? "after layer '" : "", last ? last->name : "before any layer",
                         last ? "'" : "", what);
    }
    if (L->kind != k)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': layer '%s' (%s) stands where this network has %s (a %s layer)",
                         p, L->name, L->type, what, KIND_NAME[k]);
    if (c->cur && !reads_current(c, L))
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': layer '%s' does not read what the layer before it wrote: the "
                         "net is not this network's single chain of layers",
                         p, L->name);
    if (L->tops != 1)
        return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' writes %d blobs (one expected)", p,
                         L->name, L->tops);
    c->cur = (const char *)L->top, c->cur_len = L->top_len;
    c->at++;
    *out = L;
    return ANET_OK;
}

/* conv1 ... conv5 with what follows each, then fc6 ... fc8. */
static enum anet_status walk_chain(struct chain *c)
{
    static const int has_lrn[5] = {1, 1, 0, 0, 0}, has_pool[5] = {1, 1, 0, 0, 1};
    char what[96];
    struct layer *L;
    enum anet_status s = ANET_OK;
    for (int i = 0; !s && i < ANET_LAYERS; i++) {
        const char *name = WEIGHTED[i];
        snprintf(what, sizeof what, "%s", name);
        if ((s = take(c, i < 5 ? K_CONV : K_IP, what, &c->weighted[i])) || i == 7) continue;
        snprintf(what, sizeof what, "the activation after %s", name);
        struct layer *next = peek(c);
        enum kind act = c->act ? c->act->kind : next && next->kind == K_TANH ? K_TANH : K_RELU;
        if ((s = take(c, act, what, &L))) break;
        if (!c->act) c->act = L;
        if (i >= 5) {
            snprintf(what, sizeof what, "the dropout after %s", name);
            if ((next = peek(c)) && next->kind == K_DROPOUT)
                s = take(c, K_DROPOUT, what, &c->drop[i - 5]);
            continue;
        }
        next = peek(c);
        int want_lrn = has_lrn[i] && (i == 0 ? next && next->kind == K_LRN : c->lrn[0] != NULL);
        snprintf(what, sizeof what, "the LRN after %s's activation (conv, ReLU, LRN, max-pool)",
                 name);
        if (want_lrn && (s = take(c, K_LRN, what, &c->lrn[i]))) break;
        snprintf(what, sizeof what, "the max-pooling after %s%s", name,
                 has_lrn[i] && c->lrn[0] ? "'s LRN" : "'s activation");
        if (has_pool[i]) s = take(c, K_POOL, what, &c->pool[i == 4 ? 2 : i]);
        if (!s && has_lrn[i] && (next = peek(c)) && next->kind == K_LRN)
            s = anet_fail(ANET_ERR_FORMAT,
                          "'%s': layer '%s' (LRN) follows the pooling '%s': that is CaffeNet's "
                          "order; this network normalises before it pools (conv, ReLU, LRN, "
                          "max-pool)", c->net->path, next->name, c->pool[i]->name);
    }
    if (!s && (L = peek(c)))
        s = anet_fail(ANET_ERR_FORMAT,
                      "'%s': layer '%s' (%s) follows fc8, where this network ends", c->net->path,
                      L->name, L->type);
    return s;
}

/* Keeps the layers of the test-phase forward pass; refuses types this network lacks. */
static enum anet_status build_chain(const struct net *net, struct chain *c)
{
    memset(c, 0, sizeof *c);
    c->net = net;
    if (!(c->L = malloc((size_t)(net->count ? net->count : 1) * sizeof *c->L)))
        return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", net->path);
    for (int i = 0; i < net->count; i++) {
        struct layer *L = &net->layer[i];
        if (L->train_only || L->kind == K_PASS || L->kind == K_ALIAS) continue;
        if (L->kind == K_UNKNOWN)
            return anet_fail(ANET_ERR_FORMAT,
                             "'%s': layer '%s' has type %s, which this network does not have",
                             net->path, L->name, L->type);
        c->L[c->n++] = L;
    }
    if (!c->n)
        return anet_fail(ANET_ERR_FORMAT, "'%s': no layers (not a Caffe NetParameter?)",
                         net->path);
    return walk_chain(c);
}

/* Names: the weighted layers are conv1 ... fc8 by position; one of those names elsewhere
 * means the file's order is not the network's. Returns how many have other names. */
static enum anet_status check_names(const struct chain *c, int *renamed)
{
    *renamed = 0;
    for (int i = 0; i < ANET_LAYERS; i++) {
        const char *name = c->weighted[i]->name;
        if (!strcmp(name, WEIGHTED[i])) continue;
        for (int j = 0; j < ANET_LAYERS; j++)
            if (!strcmp(name, WEIGHTED[j]))
                return anet_fail(ANET_ERR_FORMAT,
                                 "'%s': layer '%s' stands where this network has %s",
                                 c->net->path, name, WEIGHTED[i]);
        (*renamed)++;
    }
    return ANET_OK;
}

/* ---- the configuration ---------------------------------------------------------------------- */

/* A side of a convolution or pooling: the _h/_w fields when given, else the repeated one
 * (one value for both sides, or height then width), else the default. */
static int sides(const struct pair *pr, int has_hw, uint64_t h, uint64_t w, uint64_t def,
                 uint64_t out[2])
{
    if (has_hw) out[0] = h, out[1] = w;
    else if (pr->n == 0) out[0] = out[1] = def;
    else if (pr->n == 1) out[0] = out[1] = pr->v[0];
    else out[0] = pr->v[0], out[1] = pr->v[1];
    return pr->n <= 2;
}

static enum anet_status too_big(const struct net *net, const struct layer *L, const char *what,
                                uint64_t v)
{
    return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s': %s %llu is out of range", net->path,
                     L->name, what, (unsigned long long)v);
}

/* Widths and groups of the convolutions (checked against the blobs later). */
static enum anet_status conv_config(const struct chain *c, struct anet_config *cfg)
{
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        const struct layer *L = c->weighted[i];
        if (L->conv.num_output < 1 || L->conv.num_output > 65536)
            return too_big(c->net, L, "num_output", L->conv.num_output);
        if (L->conv.group < 1 || L->conv.group > 65536)
            return too_big(c->net, L, "group", L->conv.group);
        if (L->conv.dilated || (L->conv.has_axis && L->conv.axis != 1))
            return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' is dilated or convolves along "
                             "axis %llu: this network's convolutions are not",
                             c->net->path, L->name, (unsigned long long)L->conv.axis);
        cfg->conv[i] = (int)L->conv.num_output;
        cfg->groups[i] = (int)L->conv.group;
    }
    return ANET_OK;
}

static enum anet_status fc_config(const struct chain *c, struct anet_config *cfg)
{
    for (int j = 0; j < ANET_FC_LAYERS; j++) {
        const struct layer *L = c->weighted[5 + j];
        if (L->ip.num_output < 1 || L->ip.num_output > (1u << 20))
            return too_big(c->net, L, "num_output", L->ip.num_output);
        if (L->ip.axis != 1)
            return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' has axis %lld (1 expected)",
                             c->net->path, L->name, (long long)L->ip.axis);
        if (j < 2) cfg->fc[j] = (int)L->ip.num_output;
        else cfg->classes = (int)L->ip.num_output;
    }
    return ANET_OK;
}

static enum anet_status lrn_config(const struct chain *c, struct anet_config *cfg)
{
    cfg->lrn = c->lrn[0] != NULL;
    if (!cfg->lrn) return ANET_OK;
    const struct lrn_param *a = &c->lrn[0]->lrn, *b = &c->lrn[1]->lrn;
    for (int i = 0; i < 2; i++) {
        const struct layer *L = c->lrn[i];
        if (L->lrn.region != 0)
            return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' normalises within each channel "
                             "(WITHIN_CHANNEL); this network's LRN runs across channels",
                             c->net->path, L->name);
        if (L->lrn.size < 1 || L->lrn.size % 2 == 0 || L->lrn.size > 4096)
            return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' has local_size %llu (an odd "
                             "number expected)", c->net->path, L->name,
                             (unsigned long long)L->lrn.size);
    }
    if (a->size != b->size || memcmp(&a->alpha, &b->alpha, 4) || memcmp(&a->beta, &b->beta, 4) ||
        memcmp(&a->k, &b->k, 4))
        return anet_fail(ANET_ERR_FORMAT, "'%s': layers '%s' and '%s' normalise differently "
                         "(local_size %llu and %llu, alpha %g and %g, beta %g and %g, k %g and "
                         "%g); this network has one LRN", c->net->path, c->lrn[0]->name,
                         c->lrn[1]->name, (unsigned long long)a->size,
                         (unsigned long long)b->size, (double)a->alpha, (double)b->alpha,
                         (double)a->beta, (double)b->beta, (double)a->k, (double)b->k);
    cfg->lrn_param = (struct anet_lrn_param){.size = (int)a->size, .k = a->k, .alpha = a->alpha,
                                             .beta = a->beta};
    cfg->lrn_alpha_per_size = 1;
    return ANET_OK;
}

static enum anet_status pool_config(const struct chain *c, struct anet_config *cfg)
{
    uint64_t k0[2] = {0}, s0[2] = {0};
    for (int i = 0; i < 3; i++) {
        const struct layer *L = c->pool[i];
        const struct pool_param *p = &L->pool;
        uint64_t k[2], s[2], pad[2];
        sides(&p->kernel, p->has_kernel_hw, p->kernel_h, p->kernel_w, 0, k);
        sides(&p->stride, p->has_stride_hw, p->stride_h, p->stride_w, 1, s);
        sides(&p->pad, p->has_pad_hw, p->pad_h, p->pad_w, 0, pad);
        if (p->method != 0 || p->global)
            return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' is not a local MAX pooling",
                             c->net->path, L->name);
        if (k[0] != k[1] || s[0] != s[1] || pad[0] || pad[1] || k[0] < 1 || k[0] > 64 ||
            s[0] < 1 || s[0] > 64)
            return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' pools %llux%llu with stride "
                             "%llux%llu and padding %llux%llu: this network pools square "
                             "windows without padding", c->net->path, L->name,
                             (unsigned long long)k[0], (unsigned long long)k[1],
                             (unsigned long long)s[0], (unsigned long long)s[1],
                             (unsigned long long)pad[0], (unsigned long long)pad[1]);
        if (i > 0 && (k[0] != k0[0] || s[0] != s0[0]))
            return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' pools %llu/%llu but '%s' "
                             "%llu/%llu: this network pools alike after conv1, conv2 and conv5",
                             c->net->path, L->name, (unsigned long long)k[0],
                             (unsigned long long)s[0], c->pool[0]->name,
                             (unsigned long long)k0[0], (unsigned long long)s0[0]);
        k0[0] = k[0], s0[0] = s[0];
    }
    cfg->pool_size = (int)k0[0], cfg->pool_stride = (int)s0[0];
    return ANET_OK;
}

static enum anet_status dropout_config(const struct chain *c, struct anet_config *cfg)
{
    const struct layer *a = c->drop[0], *b = c->drop[1];
    if (a && b && memcmp(&a->dropout, &b->dropout, 4))
        return anet_fail(ANET_ERR_FORMAT, "'%s': layers '%s' and '%s' drop out %g and %g: this "
                         "network has one dropout probability", c->net->path, a->name, b->name,
                         (double)a->dropout, (double)b->dropout);
    cfg->dropout = a ? a->dropout : b ? b->dropout : 0;
    if (!(cfg->dropout >= 0 && cfg->dropout < 1))
        return anet_fail(ANET_ERR_FORMAT, "'%s': dropout_ratio %g is not in [0, 1)", c->net->path,
                         (double)cfg->dropout);
    return ANET_OK;
}

/* The crop: the net's input shape, an Input layer's, a data layer's crop_size, else 227;
 * *from says which. */
static int net_crop(const struct net *net, const char **from)
{
    if (net->input_dims == 4 && net->input[2] == net->input[3] && net->input[2] > 0 &&
        net->input[2] <= 4096)
        return *from = "the net's input shape", (int)net->input[2];
    for (int i = 0; i < net->count; i++) {
        const struct layer *L = &net->layer[i];
        if (L->input_dims == 4 && L->input[2] == L->input[3] && L->input[2] > 0 &&
            L->input[2] <= 4096)
            return *from = "its Input layer", (int)L->input[2];
    }
    for (int i = 0; i < net->count; i++) {
        const struct layer *L = &net->layer[i];
        if (L->kind == K_PASS && L->crop > 0 && L->crop <= 4096 && !L->train_only)
            return *from = "its data layer's crop_size", (int)L->crop;
    }
    for (int i = 0; i < net->count; i++)
        if (net->layer[i].kind == K_PASS && net->layer[i].crop > 0 && net->layer[i].crop <= 4096)
            return *from = "its data layer's crop_size", (int)net->layer[i].crop;
    return *from = "the network's default", 227;
}

/* Caffe rounds a pooled side up, this network down: they must agree at every pooling. */
static enum anet_status check_pool_sides(const struct chain *c, const struct anet_config *cfg,
                                         const struct anet_layer_info *info)
{
    static const int pooled[3] = {0, 1, 4};
    for (int i = 0; i < 3; i++) {
        int in = info[pooled[i]].out_h, k = cfg->pool_size, s = cfg->pool_stride;
        int ours = info[pooled[i]].pool_h, caffe = (in - k + s - 1) / s + 1;
        if (ours != caffe)
            return anet_fail(ANET_ERR_FORMAT,
                             "'%s': at crop %d layer '%s' pools %dx%d to %dx%d in Caffe, which "
                             "rounds up, and to %dx%d here: the crop does not suit this "
                             "network", c->net->path, cfg->crop, c->pool[i]->name, in, in,
                             caffe, caffe, ours, ours);
    }
    return ANET_OK;
}

/* Kernel, stride and padding of each convolution must be the network's. */
static enum anet_status check_geometry(const struct chain *c, const struct anet_layer_info *info)
{
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        const struct layer *L = c->weighted[i];
        const struct conv_param *p = &L->conv;
        uint64_t k[2], s[2], pad[2];
        sides(&p->kernel, p->has_kernel_hw, p->kernel_h, p->kernel_w, 0, k);
        sides(&p->stride, p->has_stride_hw, p->stride_h, p->stride_w, 1, s);
        sides(&p->pad, p->has_pad_hw, p->pad_h, p->pad_w, 0, pad);
        const struct anet_layer_info *I = &info[i];
        if (k[0] != (uint64_t)I->kh || k[1] != (uint64_t)I->kw || s[0] != (uint64_t)I->stride ||
            s[1] != (uint64_t)I->stride || pad[0] != (uint64_t)I->pad ||
            pad[1] != (uint64_t)I->pad)
            return anet_fail(ANET_ERR_FORMAT,
                             "'%s': layer '%s' has kernel %llux%llu, stride %llu and padding "
                             "%llu; this network's %s has %dx%d, %d and %d", c->net->path,
                             L->name, (unsigned long long)k[0], (unsigned long long)k[1],
                             (unsigned long long)s[0], (unsigned long long)pad[0], I->name, I->kh,
                             I->kw, I->stride, I->pad);
    }
    return ANET_OK;
}

/* The configuration the chain describes; channels from conv1's weights, which must be a
 * 4-dimensional blob. *how gets what was decided. */
static enum anet_status chain_config(const struct chain *c, int channels, struct anet_config *cfg,
                                     char *how, size_t how_size)
{
    anet_config_default(cfg);
    enum anet_status s = conv_config(c, cfg);
    if (!s) s = fc_config(c, cfg);
    if (!s) s = lrn_config(c, cfg);
    if (!s) s = pool_config(c, cfg);
    if (!s) s = dropout_config(c, cfg);
    if (s) return s;
    cfg->act = c->act->kind == K_TANH ? ANET_ACT_TANH : ANET_ACT_RELU;
    if (c->act->kind == K_RELU)
        for (int i = 0; i < c->n; i++)
            if (c->L[i]->kind == K_RELU && c->L[i]->relu_slope != 0)
                return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' is a leaky ReLU (slope %g); "
                                 "this network's is not", c->net->path, c->L[i]->name,
                                 (double)c->L[i]->relu_slope);
    cfg->channels = channels;
    const char *from;
    cfg->crop = net_crop(c->net, &from);
    /* groups 1,2,1,2,2: the two towers; Caffe's LRN then spans both */
    static const int towers[ANET_CONV_LAYERS] = {1, 2, 1, 2, 2};
    struct anet_config two = *cfg;
    two.towers = 2, two.lrn_across_towers = two.lrn;
    memset(two.groups, 0, sizeof two.groups);
    int tower_groups = !memcmp(cfg->groups, towers, sizeof towers);
    if (tower_groups && anet_config_check(&two) == ANET_OK) *cfg = two;
    else cfg->towers = 1;
    if ((s = anet_config_check(cfg))) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", anet_error_detail());
        return anet_fail(ANET_ERR_FORMAT, "'%s': the net is not one this network can be: %s",
                         c->net->path, detail);
    }
    snprintf(how, how_size, "crop %d (from %s), %s", cfg->crop, from,
             cfg->towers == 2 ? "two towers" : "one column");
    return ANET_OK;
}

/* ---- the parameters ------------------------------------------------------------------------ */

static void shape_text(const int64_t *d, int n, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < n && o < size; k++)
        o += (size_t)snprintf(buf + o, size - o, k ? "x%lld" : "%lld", (long long)d[k]);
    if (n == 0) snprintf(buf, size, "no shape");
}

/* A blob's dims after dropping leading ones down to `want` dims (Caffe's legacy blobs are
 * always 4-dimensional: 1 x 1 x K x N for a fully connected layer). */
static int squeeze(int64_t *d, int n, int want)
{
    while (n > want && d[0] == 1) memmove(d, d + 1, (size_t)--n * sizeof *d);
    return n;
}

/* Blob b of layer L into tensor t, whose shape it must have (transposed for a transposed
 * InnerProduct). */
static enum anet_status load_blob(const struct net *net, const struct layer *L, int b,
                                  struct anet_tensor *t, int transposed)
{
    char what[160], got[64], want[64];
    snprintf(what, sizeof what, "'%s': layer '%s' %s", net->path, L->name,
             b ? "biases" : "weights");
    struct anet_blob blob;
    enum anet_status s = anet_blob_decode(L->blob[b].p, L->blob[b].len, what, &blob);
    if (s) return s;
    int64_t d[ANET_BLOB_MAX_DIMS], w[4];
    int n = squeeze(d, anet_blob_dims(&blob, d), t->ndim);
    for (int k = 0; k < t->ndim; k++) w[k] = t->dims[k];
    if (transposed) w[0] = t->dims[1], w[1] = t->dims[0];
    int same = n == t->ndim && !memcmp(d, w, (size_t)n * sizeof *d);
    if (!same) {
        shape_text(d, n, got, sizeof got);
        shape_text(w, t->ndim, want, sizeof want);
        s = anet_fail(ANET_ERR_FORMAT, "%s are %s; this network's %s is %s", what, got,
                      t->name, want);
    } else if (blob.count != t->count) {
        s = anet_fail(ANET_ERR_FORMAT, "%s hold %zu floats; their shape has %zu", what,
                      blob.count, t->count);
    }
    for (size_t i = 0; !s && i < blob.count; i++)
        if (!isfinite(blob.data[i]))
            s = anet_fail(ANET_ERR_FORMAT, "%s: value %zu is %g (not finite)", what, i,
                          (double)blob.data[i]);
    if (!s && transposed) { /* K x N from N x K */
        size_t rows = (size_t)t->dims[0], cols = (size_t)t->dims[1];
        for (size_t r = 0; r < rows; r++)
            for (size_t q = 0; q < cols; q++) t->data[r * cols + q] = blob.data[q * rows + r];
    } else if (!s) {
        memcpy(t->data, blob.data, t->count * sizeof *t->data);
    }
    anet_blob_free(&blob);
    return s;
}

static enum anet_status load_layer(const struct net *net, const struct layer *L,
                                   struct anet_tensor *w, struct anet_tensor *bias, int is_ip)
{
    int bias_term = is_ip ? L->ip.bias_term : L->conv.bias_term;
    int want = bias_term ? 2 : 1;
    if (L->blobs != want)
        return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' has %d blobs; %d expected (%s)",
                         net->path, L->name, L->blobs, want,
                         bias_term ? "weights and biases" : "weights: bias_term is false");
    enum anet_status s = load_blob(net, L, 0, w, is_ip && L->ip.transpose);
    if (!s && bias_term) s = load_blob(net, L, 1, bias, 0);
    if (!s && !bias_term) memset(bias->data, 0, bias->count * sizeof *bias->data);
    return s;
}

/* conv1's weights say how many channels the input has: K x C x h x w with one group. */
static enum anet_status input_channels(const struct net *net, const struct layer *L, int *c)
{
    if (L->blobs < 1)
        return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' has no weights", net->path, L->name);
    char what[160];
    snprintf(what, sizeof what, "'%s': layer '%s' weights", net->path, L->name);
    struct anet_blob b;
    enum anet_status s = anet_blob_decode(L->blob[0].p, L->blob[0].len, what, &b);
    if (s) return s;
    int64_t d[ANET_BLOB_MAX_DIMS];
    int n = anet_blob_dims(&b, d);
    anet_blob_free(&b);
    int64_t ch = n == 4 ? d[1] * (int64_t)L->conv.group : 0;
    if (n != 4 || ch < 1 || ch > 4096) {
        char got[64];
        shape_text(d, n, got, sizeof got);
        return anet_fail(ANET_ERR_FORMAT, "%s are %s: kernels x channels x height x width "
                         "expected", what, got);
    }
    *c = (int)ch;
    return ANET_OK;
}

/* fc6's weights must read conv5's pooled maps at the crop: checked from the blob's shape
 * before anything is allocated for the network, since the crop decides fc6's width. */
static enum anet_status check_fc6(const struct net *net, const struct layer *L,
                                  const struct anet_layer_info *info, int crop)
{
    if (L->blobs < 1)
        return anet_fail(ANET_ERR_FORMAT, "'%s': layer '%s' has no weights", net->path, L->name);
    char what[160], got[64];
    snprintf(what, sizeof what, "'%s': layer '%s' weights", net->path, L->name);
    struct anet_blob b;
    enum anet_status s = anet_blob_decode(L->blob[0].p, L->blob[0].len, what, &b);
    if (s) return s;
    int64_t d[ANET_BLOB_MAX_DIMS];
    int n = squeeze(d, anet_blob_dims(&b, d), 2);
    anet_blob_free(&b);
    int64_t in = n == 2 ? d[L->ip.transpose ? 0 : 1] : -1;
    if (in == info[5].in_c) return ANET_OK;
    shape_text(d, n, got, sizeof got);
    return anet_fail(ANET_ERR_FORMAT, "%s are %s; fc6 reads %d inputs here: conv5's %d maps of "
                     "%dx%d at crop %d", what, got, info[5].in_c, info[4].out_c, info[4].pool_h,
                     info[4].pool_w, crop);
}

/* ---- the whole -------------------------------------------------------------------------- */

static enum anet_status import_net(struct net *net, const uint8_t *buf, size_t len,
                                   struct anet_import *out)
{
    enum anet_status s = each_field(net, buf, len, "the net", net_field, net);
    if (!s && net->v1 && net->v2)
        s = anet_fail(ANET_ERR_FORMAT, "'%s' mixes the layer and the V1 layers fields", net->path);
    struct chain c = {0};
    if (!s) s = build_chain(net, &c);
    int renamed = 0, channels = 0;
    if (!s) s = check_names(&c, &renamed);
    if (!s) s = input_channels(net, c.weighted[0], &channels);
    struct anet_config cfg;
    char how[256] = "";
    if (!s) s = chain_config(&c, channels, &cfg, how, sizeof how);
    struct anet_layer_info info[ANET_LAYERS];
    if (!s) anet_config_layers(&cfg, info);
    if (!s) s = check_geometry(&c, info);
    if (!s) s = check_pool_sides(&c, &cfg, info);
    if (!s) s = check_fc6(net, c.weighted[5], info, cfg.crop);
    /* every weight must be in the file: a configuration the file cannot hold is refused
       before a model is allocated for it */
    if (!s && 4 * (uint64_t)anet_config_params(&cfg) > len)
        s = anet_fail(ANET_ERR_FORMAT, "'%s': its layers have %zu parameters, more than its %zu "
                      "bytes can hold", net->path, anet_config_params(&cfg), len);
    if (!s) s = anet_model_create(&cfg, 1, &out->model);
    struct anet_tensor *t = NULL;
    if (!s) anet_model_tensors(out->model, &t);
    for (int i = 0; !s && i < ANET_LAYERS; i++)
        s = load_layer(net, c.weighted[i], &t[2 * i], &t[2 * i + 1], i >= 5);
    if (!s)
        snprintf(out->how, sizeof out->how,
                 "%s: %d layers (%s), conv1..fc8 mapped %s; %s; LRN %s; %d classes", net->path,
                 net->count, net->v1 ? "V1 layers" : "layer", renamed ? "by position" : "by name",
                 how,
                 cfg.lrn ? "alpha/size, across all channels (Caffe's)" : "none", cfg.classes);
    free(c.L);
    return s;
}

enum anet_status anet_caffe_decode(const uint8_t *buf, size_t len, const char *name,
                                   struct anet_import *out)
{
    memset(out, 0, sizeof *out);
    struct net net = {.path = name};
    enum anet_status s = import_net(&net, buf, len, out);
    free(net.layer);
    if (s) anet_import_free(out);
    return s;
}

enum anet_status anet_caffe_import(const char *path, struct anet_import *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    enum anet_status s = read_whole(path, &buf, &len);
    if (s) return s;
    s = anet_caffe_decode(buf, len, path, out);
    free(buf);
    return s;
}

void anet_import_free(struct anet_import *im)
{
    anet_model_free(im->model);
    anet_classes_free(&im->classes);
    memset(im, 0, sizeof *im);
}
