/* The network as a model: parameters, activations, forward, loss, backward, update.
 *
 * Two towers on one CPU are the groups of grouped convolutions and a full matrix for the
 * fully connected layers: mathematically the paper's network, with each tower's kernels
 * in its own half of each weight tensor (tower t owns output rows [t·k/2, (t+1)·k/2)). */
#include <stdlib.h>
#include <string.h>
#include "alexnet/model.h"
#include "alexnet/rng.h"
#include "backend.h"

struct conv_block {
    struct anet_conv_desc cd; /* cd.n is set per forward */
    struct anet_pool_desc pd;
    int has_lrn, has_pool;
    size_t conv_size, lrn_size, pool_size; /* floats an image */
    const float *in;                       /* the block's input, n × c × h × w */
    float *conv_out;                       /* n × k × oh × ow, activation applied in place */
    float *lrn_out, *lrn_scale;            /* same shape as conv_out */
    float *pool_out;                       /* n × k × ph × pw */
    int32_t *pool_arg;
    float *out; /* the last of the above */
};

struct fc_block {
    int in, out;
    int has_act, has_dropout;
    uint32_t purpose; /* dropout stream */
    const float *x;   /* n × in */
    float *fc_out;    /* n × out, activation applied in place */
    float *drop_out;  /* n × out when dropout is on */
    float *y;         /* what the next layer read in the last forward */
};

struct anet_model {
    struct anet_config cfg;
    const struct anet_backend *ops;
    int max_batch;
    struct anet_tensor tensors[ANET_TENSORS];
    float *params, *grads, *moms; /* one allocation each; tensors point into them */
    size_t nparams;
    struct conv_block conv[ANET_CONV_LAYERS];
    struct fc_block fc[ANET_FC_LAYERS];
    float *prob;          /* n × classes */
    float *grad_a, *grad_b; /* ping-pong buffers for the backward pass */
    float *work;          /* conv workspace */
    /* the last forward: */
    int n, train;
    uint64_t seed;
    uint32_t step;
};

static const char *const tensor_names[ANET_TENSORS] = {
    "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias",
    "conv4.weight", "conv4.bias", "conv5.weight", "conv5.bias", "fc6.weight",   "fc6.bias",
    "fc7.weight",   "fc7.bias",   "fc8.weight",   "fc8.bias"};

static void *alloc_floats(size_t n, int *failed)
{
    void *p = NULL;
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    if (posix_memalign(&p, 64, bytes) != 0) {
        *failed = 1;
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

static void layout_tensors(struct anet_model *m, const struct anet_layer_info *info)
{
    size_t off = 0;
    for (int l = 0; l < ANET_LAYERS; l++) {
        const struct anet_layer_info *L = &info[l];
        struct anet_tensor *w = &m->tensors[2 * l], *b = &m->tensors[2 * l + 1];
        w->name = tensor_names[2 * l];
        b->name = tensor_names[2 * l + 1];
        w->is_weight = 1;
        if (L->is_conv) {
            w->ndim = 4;
            w->dims[0] = L->out_c, w->dims[1] = L->in_c / L->groups;
            w->dims[2] = L->kh, w->dims[3] = L->kw;
        } else {
            w->ndim = 2;
            w->dims[0] = L->out_c, w->dims[1] = L->in_c;
        }
        w->count = L->weights;
        b->ndim = 1, b->dims[0] = L->out_c, b->count = L->biases;
        w->data = (float *)(size_t)off; /* offsets for now; made pointers below */
        off += w->count;
        b->data = (float *)(size_t)off;
        off += b->count;
    }
    m->nparams = off;
}

static void point_tensors(struct anet_model *m)
{
    for (int t = 0; t < ANET_TENSORS; t++) {
        size_t off = (size_t)m->tensors[t].data;
        m->tensors[t].data = m->params + off;
        m->tensors[t].grad = m->grads + off;
        m->tensors[t].momentum = m->moms + off;
    }
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Describes the blocks and allocates their activations; returns the largest activation
 * of the batch (the size of a gradient buffer) through *grad_max. */
static void build_blocks(struct anet_model *m, const struct anet_layer_info *info,
                         size_t *grad_max, size_t *work_max, int *failed)
{
    size_t B = (size_t)m->max_batch, gmax = 0, wmax = 0;
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        const struct anet_layer_info *L = &info[i];
        struct conv_block *cb = &m->conv[i];
        cb->cd = (struct anet_conv_desc){.n = m->max_batch, .c = L->in_c, .h = L->in_h,
                                         .w = L->in_w, .k = L->out_c, .kh = L->kh,
                                         .kw = L->kw, .stride = L->stride, .pad = L->pad,
                                         .groups = L->groups};
        cb->has_lrn = L->lrn, cb->has_pool = L->pool;
        cb->conv_size = (size_t)L->out_c * L->out_h * L->out_w;
        cb->pool_size = (size_t)L->out_c * L->pool_h * L->pool_w;
        cb->pd = (struct anet_pool_desc){.n = m->max_batch, .c = L->out_c, .h = L->out_h,
                                         .w = L->out_w, .size = m->cfg.pool_size,
                                         .stride = m->cfg.pool_stride};
        cb->conv_out = alloc_floats(B * cb->conv_size, failed);
        cb->out = cb->conv_out;
        if (cb->has_lrn) {
            cb->lrn_out = alloc_floats(B * cb->conv_size, failed);
            cb->lrn_scale = alloc_floats(B * cb->conv_size, failed);
            cb->out = cb->lrn_out;
        }
        if (cb->has_pool) {
            cb->pool_out = alloc_floats(B * cb->pool_size, failed);
            cb->pool_arg = (int32_t *)alloc_floats(B * cb->pool_size, failed);
            cb->out = cb->pool_out;
        }
        gmax = max_sz(gmax, B * cb->conv_size);
        wmax = max_sz(wmax, anet_cpu_conv_workspace(&cb->cd));
    }
    for (int j = 0; j < ANET_FC_LAYERS; j++) {
        const struct anet_layer_info *L = &info[ANET_CONV_LAYERS + j];
        struct fc_block *fb = &m->fc[j];
        fb->in = L->in_c, fb->out = L->out_c;
        fb->has_act = L->act, fb->has_dropout = L->dropout;
        fb->purpose = ANET_RNG_DROPOUT + 6 + j;
        fb->fc_out = alloc_floats(B * fb->out, failed);
        if (fb->has_dropout) fb->drop_out = alloc_floats(B * fb->out, failed);
        gmax = max_sz(gmax, max_sz(B * fb->in, B * fb->out));
    }
    *grad_max = gmax;
    *work_max = wmax;
}

enum anet_status anet_model_create(const struct anet_config *c, int max_batch,
                                   struct anet_model **out)
{
    *out = NULL;
    enum anet_status s = anet_config_check(c);
    if (s) return s;
    if (max_batch < 1)
        return anet_fail(ANET_ERR_INVALID, "batch size must be at least 1, got %d", max_batch);
    struct anet_model *m = calloc(1, sizeof *m);
    if (!m) return anet_fail(ANET_ERR_NOMEM, "out of memory creating the model");
    m->cfg = *c;
    m->ops = &anet_backend_cpu;
    m->max_batch = max_batch;
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(c, info);
    layout_tensors(m, info);
    int failed = 0;
    m->params = alloc_floats(m->nparams, &failed);
    m->grads = alloc_floats(m->nparams, &failed);
    m->moms = alloc_floats(m->nparams, &failed);
    size_t gmax, wmax;
    build_blocks(m, info, &gmax, &wmax, &failed);
    m->grad_a = alloc_floats(gmax, &failed);
    m->grad_b = alloc_floats(gmax, &failed);
    m->work = alloc_floats(wmax, &failed);
    m->prob = alloc_floats((size_t)max_batch * c->classes, &failed);
    if (failed) {
        anet_model_free(m);
        return anet_fail(ANET_ERR_NOMEM, "out of memory allocating the model for batch %d",
                         max_batch);
    }
    point_tensors(m);
    *out = m;
    return ANET_OK;
}

void anet_model_free(struct anet_model *m)
{
    if (!m) return;
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        struct conv_block *cb = &m->conv[i];
        free(cb->conv_out), free(cb->lrn_out), free(cb->lrn_scale);
        free(cb->pool_out), free(cb->pool_arg);
    }
    for (int j = 0; j < ANET_FC_LAYERS; j++) free(m->fc[j].fc_out), free(m->fc[j].drop_out);
    free(m->params), free(m->grads), free(m->moms);
    free(m->grad_a), free(m->grad_b), free(m->work), free(m->prob);
    free(m);
}

const struct anet_config *anet_model_config(const struct anet_model *m) { return &m->cfg; }
int anet_model_max_batch(const struct anet_model *m) { return m->max_batch; }

void anet_model_set_path(struct anet_model *m, enum anet_path p)
{
    m->ops = p == ANET_PATH_REF ? &anet_backend_cpu_ref : &anet_backend_cpu;
}

int anet_model_tensors(struct anet_model *m, struct anet_tensor **out)
{
    *out = m->tensors;
    return ANET_TENSORS;
}

struct anet_tensor *anet_model_tensor(struct anet_model *m, const char *name)
{
    for (int t = 0; t < ANET_TENSORS; t++)
        if (strcmp(m->tensors[t].name, name) == 0) return &m->tensors[t];
    return NULL;
}

void anet_model_init(struct anet_model *m, uint64_t seed)
{
    /* biases of 1 in conv2, conv4, conv5, fc6, fc7 "accelerate the early stages of
       learning by providing the ReLUs with positive inputs" (§5) */
    static const int bias_one[ANET_LAYERS] = {0, 1, 0, 1, 1, 1, 1, 0};
    for (int l = 0; l < ANET_LAYERS; l++) {
        struct anet_tensor *w = &m->tensors[2 * l], *b = &m->tensors[2 * l + 1];
        uint32_t purpose = ANET_RNG_INIT + 2 * l;
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < w->count; i++)
            w->data[i] = m->cfg.init_std * anet_rng_normal(seed, 0, purpose, i);
        for (size_t i = 0; i < b->count; i++) b->data[i] = bias_one[l] ? m->cfg.init_bias : 0;
    }
    memset(m->moms, 0, m->nparams * sizeof(float));
}

static void conv_block_forward(struct anet_model *m, struct conv_block *cb,
                               const struct anet_tensor *w, const struct anet_tensor *b,
                               const float *x, int n)
{
    const struct anet_config *c = &m->cfg;
    cb->in = x;
    cb->cd.n = n;
    cb->pd.n = n;
    size_t count = (size_t)n * cb->conv_size;
    int hw = cb->pd.h * cb->pd.w;
    m->ops->conv_forward(&cb->cd, x, w->data, b->data, cb->conv_out, m->work);
    m->ops->act_forward(c->act, count, cb->conv_out, cb->conv_out);
    const float *cur = cb->conv_out;
    if (cb->has_lrn) {
        m->ops->lrn_forward(n, cb->cd.k, hw, &c->lrn_param, cur, cb->lrn_out, cb->lrn_scale);
        cur = cb->lrn_out;
    }
    if (cb->has_pool) m->ops->maxpool_forward(&cb->pd, cur, cb->pool_out, cb->pool_arg);
}

static void fc_block_forward(struct anet_model *m, struct fc_block *fb,
                             const struct anet_tensor *w, const struct anet_tensor *b,
                             const float *x, int n)
{
    size_t count = (size_t)n * fb->out;
    fb->x = x;
    m->ops->fc_forward(n, fb->in, fb->out, x, w->data, b->data, fb->fc_out);
    fb->y = fb->fc_out;
    if (fb->has_act) m->ops->act_forward(m->cfg.act, count, fb->fc_out, fb->fc_out);
    if (fb->has_dropout && m->train) {
        m->ops->dropout_forward(count, m->cfg.dropout, m->seed, m->step, fb->purpose,
                                fb->fc_out, fb->drop_out);
        fb->y = fb->drop_out;
    }
}

enum anet_status anet_model_forward(struct anet_model *m, const float *x, int n, int train,
                                    uint64_t seed, uint32_t step, const float **logits)
{
    m->n = 0;
    if (n < 1 || n > m->max_batch)
        return anet_fail(ANET_ERR_INVALID, "batch of %d images: the model holds 1 to %d", n,
                         m->max_batch);
    m->n = n, m->train = train, m->seed = seed, m->step = step;
    const float *cur = x;
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        conv_block_forward(m, &m->conv[i], &m->tensors[2 * i], &m->tensors[2 * i + 1], cur, n);
        cur = m->conv[i].out;
    }
    for (int j = 0; j < ANET_FC_LAYERS; j++) {
        int l = ANET_CONV_LAYERS + j;
        fc_block_forward(m, &m->fc[j], &m->tensors[2 * l], &m->tensors[2 * l + 1], cur, n);
        cur = m->fc[j].y;
    }
    if (logits) *logits = cur;
    return ANET_OK;
}

enum anet_status anet_model_loss(struct anet_model *m, const int32_t *labels, double *loss)
{
    if (m->n < 1) return anet_fail(ANET_ERR_INVALID, "loss asked before a forward pass");
    for (int i = 0; i < m->n; i++)
        if (labels[i] < 0 || labels[i] >= m->cfg.classes)
            return anet_fail(ANET_ERR_INVALID, "label %d of image %d is outside 0..%d",
                             labels[i], i, m->cfg.classes - 1);
    const struct fc_block *last = &m->fc[ANET_FC_LAYERS - 1];
    *loss = m->ops->softmax_xent_forward(m->n, m->cfg.classes, last->fc_out, labels, m->prob);
    return ANET_OK;
}

const float *anet_model_prob(const struct anet_model *m) { return m->prob; }

static void swap(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

/* g holds dL/d(block output); leaves dL/d(block input) in *g (other used as scratch). */
static void fc_block_backward(struct anet_model *m, struct fc_block *fb, struct anet_tensor *w,
                              struct anet_tensor *b, float **g, float **other)
{
    size_t count = (size_t)m->n * fb->out;
    if (fb->has_dropout && m->train)
        m->ops->dropout_backward(count, m->cfg.dropout, m->seed, m->step, fb->purpose, *g, *g);
    if (fb->has_act) m->ops->act_backward(m->cfg.act, count, fb->fc_out, *g, *g);
    m->ops->fc_backward(m->n, fb->in, fb->out, fb->x, w->data, *g, *other, w->grad, b->grad);
    swap(g, other);
}

static void conv_block_backward(struct anet_model *m, struct conv_block *cb,
                                struct anet_tensor *w, struct anet_tensor *b, int need_dx,
                                float **g, float **other)
{
    const struct anet_config *c = &m->cfg;
    int n = m->n, hw = cb->pd.h * cb->pd.w;
    if (cb->has_pool) {
        m->ops->maxpool_backward(&cb->pd, *g, cb->pool_arg, *other);
        swap(g, other);
    }
    if (cb->has_lrn) {
        m->ops->lrn_backward(n, cb->cd.k, hw, &c->lrn_param, cb->conv_out, cb->lrn_out,
                             cb->lrn_scale, *g, *other);
        swap(g, other);
    }
    m->ops->act_backward(c->act, (size_t)n * cb->conv_size, cb->conv_out, *g, *g);
    m->ops->conv_backward(&cb->cd, cb->in, w->data, *g, need_dx ? *other : NULL, w->grad,
                          b->grad, m->work);
    swap(g, other);
}

void anet_model_backward(struct anet_model *m, const int32_t *labels)
{
    float *g = m->grad_a, *other = m->grad_b;
    m->ops->softmax_xent_backward(m->n, m->cfg.classes, m->prob, labels, g);
    for (int j = ANET_FC_LAYERS - 1; j >= 0; j--) {
        int l = ANET_CONV_LAYERS + j;
        fc_block_backward(m, &m->fc[j], &m->tensors[2 * l], &m->tensors[2 * l + 1], &g, &other);
    }
    for (int i = ANET_CONV_LAYERS - 1; i >= 0; i--)
        conv_block_backward(m, &m->conv[i], &m->tensors[2 * i], &m->tensors[2 * i + 1], i > 0,
                            &g, &other);
}

void anet_model_update(struct anet_model *m, const struct anet_sgd *h)
{
    for (int t = 0; t < ANET_TENSORS; t++) {
        struct anet_tensor *T = &m->tensors[t];
        m->ops->sgd_update(T->count, h->lr, h->momentum, T->is_weight ? h->decay : 0.0f,
                           T->data, T->grad, T->momentum);
    }
}

void anet_topk(const float *scores, int classes, int k, int32_t *idx)
{
    if (k > classes) k = classes;
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (int i = 0; i < classes; i++) {
            int taken = 0;
            for (int q = 0; q < r && !taken; q++) taken = idx[q] == i;
            if (taken) continue;
            if (best < 0 || scores[i] > scores[best]) best = i;
        }
        idx[r] = best;
    }
}
