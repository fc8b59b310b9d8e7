/* The network's configuration: the paper's defaults, validation, the layer table. */
#include <stdio.h>
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
