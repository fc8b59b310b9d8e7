/* The network as a model: parameters, activations, forward, loss, backward, update.
 *
 * Two towers on one CPU are the groups of grouped convolutions and a full matrix for the
 * fully connected layers: mathematically the paper's network, with each tower's kernels
 * in its own half of each weight tensor (tower t owns output rows [t·k/2, (t+1)·k/2)). */
#include <stdlib.h>
#include <string.h>
#include "alexnet/cuda.h"
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
    enum anet_device device;
    int max_batch;
    struct anet_tensor tensors[ANET_TENSORS]; /* on the host (copies on a GPU model) */
    float *params, *grads, *moms; /* one allocation each; tensors point into them */
    size_t nparams;
    /* where the ops read the parameters: tensors itself on the CPU; on a GPU the same
       tensors with device pointers, into dparams, dgrads, dmoms */
    struct anet_tensor *live, dev_tensors[ANET_TENSORS];
    float *dparams, *dgrads, *dmoms;
    float *d_input, *d_prob, *h_logits; /* GPU: the batch, probabilities; host logits */
    int32_t *d_labels;
    size_t input_size; /* floats an image */
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

static void *alloc_host(size_t n, int *failed)
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

/* Activations and gradient buffers live where the ops run. */
static void *alloc_floats_on(enum anet_device dev, size_t n, int *failed)
{
    if (dev == ANET_DEVICE_CPU) return alloc_host(n, failed);
    void *p = anet_cuda_calloc((n ? n : 1) * sizeof(float));
    if (!p) *failed = 1;
    return p;
}

static void free_on(enum anet_device dev, void *p)
{
    if (dev == ANET_DEVICE_CPU) free(p);
    else anet_cuda_free(p);
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
    m->live = m->tensors;
    for (int t = 0; t < ANET_TENSORS; t++) {
        size_t off = (size_t)m->tensors[t].data;
        m->tensors[t].data = m->params + off;
        m->tensors[t].grad = m->grads + off;
        m->tensors[t].momentum = m->moms + off;
        if (m->device == ANET_DEVICE_CPU) continue;
        m->dev_tensors[t] = m->tensors[t];
        m->dev_tensors[t].data = m->dparams + off;
        m->dev_tensors[t].grad = m->dgrads + off;
        m->dev_tensors[t].momentum = m->dmoms + off;
        m->live = m->dev_tensors;
    }
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Describes the blocks and allocates their activations; returns the largest activation
 * of the batch (the size of a gradient buffer) through *grad_max. */
#define alloc_floats(n, failed) alloc_floats_on(m->device, n, failed)

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

/* The buffers a GPU model needs beyond the CPU's: parameters, the input batch, labels. */
static void alloc_device_extras(struct anet_model *m, int *failed)
{
    size_t B = (size_t)m->max_batch;
    m->dparams = alloc_floats(m->nparams, failed);
    m->dgrads = alloc_floats(m->nparams, failed);
    m->dmoms = alloc_floats(m->nparams, failed);
    m->d_input = alloc_floats(B * m->input_size, failed);
    m->d_prob = alloc_floats(B * m->cfg.classes, failed);
    m->d_labels = (int32_t *)alloc_floats(B, failed);
    m->h_logits = alloc_host(B * m->cfg.classes, failed);
}

static const struct anet_backend *device_ops(enum anet_device dev)
{
#ifdef ANET_CUDA
    if (dev == ANET_DEVICE_CUDA) return &anet_backend_cuda;
#endif
    (void)dev;
    return &anet_backend_cpu;
}

enum anet_status anet_model_create_on(const struct anet_config *c, int max_batch,
                                      enum anet_device device, struct anet_model **out)
{
    *out = NULL;
    enum anet_status s = anet_config_check(c);
    if (s) return s;
    if (max_batch < 1)
        return anet_fail(ANET_ERR_INVALID, "batch size must be at least 1, got %d", max_batch);
    if (device == ANET_DEVICE_CUDA && anet_cuda_device_name()[0] == 0 && (s = anet_cuda_init(0)))
        return s;
    struct anet_model *m = calloc(1, sizeof *m);
    if (!m) return anet_fail(ANET_ERR_NOMEM, "out of memory creating the model");
    m->cfg = *c;
    m->device = device;
    m->ops = device_ops(device);
    m->max_batch = max_batch;
    m->input_size = (size_t)c->channels * c->crop * c->crop;
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(c, info);
    layout_tensors(m, info);
    int failed = 0;
    m->params = alloc_host(m->nparams, &failed);
    m->grads = alloc_host(m->nparams, &failed);
    m->moms = alloc_host(m->nparams, &failed);
    size_t gmax, wmax;
    build_blocks(m, info, &gmax, &wmax, &failed);
    m->grad_a = alloc_floats(gmax, &failed);
    m->grad_b = alloc_floats(gmax, &failed);
    if (device == ANET_DEVICE_CPU) m->work = alloc_floats(wmax, &failed);
    m->prob = alloc_host((size_t)max_batch * c->classes, &failed);
    if (device == ANET_DEVICE_CUDA) alloc_device_extras(m, &failed);
    if (failed) {
        anet_model_free(m);
        if (device == ANET_DEVICE_CUDA && (s = anet_cuda_error())) return s;
        return anet_fail(ANET_ERR_NOMEM, "out of memory allocating the model for batch %d",
                         max_batch);
    }
    point_tensors(m);
    *out = m;
    return ANET_OK;
}

enum anet_status anet_model_create(const struct anet_config *c, int max_batch,
                                   struct anet_model **out)
{
    return anet_model_create_on(c, max_batch, ANET_DEVICE_CPU, out);
}

enum anet_device anet_model_device(const struct anet_model *m) { return m->device; }
float *anet_model_input_buffer(struct anet_model *m) { return m->d_input; }

/* Parameters, gradients and momentum between the host copies and the GPU. */
static enum anet_status copy_params(struct anet_model *m, int to_device)
{
    if (m->device == ANET_DEVICE_CPU) return ANET_OK;
    size_t bytes = m->nparams * sizeof(float);
    float *host[3] = {m->params, m->grads, m->moms}, *dev[3] = {m->dparams, m->dgrads, m->dmoms};
    enum anet_status s = ANET_OK;
    for (int i = 0; i < 3 && !s; i++)
        s = to_device ? anet_cuda_upload(dev[i], host[i], bytes)
                      : anet_cuda_download(host[i], dev[i], bytes);
    return s;
}

enum anet_status anet_model_pull(struct anet_model *m) { return copy_params(m, 0); }
enum anet_status anet_model_push(struct anet_model *m) { return copy_params(m, 1); }

enum anet_status anet_model_move(struct anet_model **m, enum anet_device device)
{
    struct anet_model *old = *m, *fresh;
    if (old->device == device) return ANET_OK;
    enum anet_status s = anet_model_pull(old);
    if (!s) s = anet_model_create_on(&old->cfg, old->max_batch, device, &fresh);
    if (s) return s;
    size_t bytes = old->nparams * sizeof(float);
    memcpy(fresh->params, old->params, bytes);
    memcpy(fresh->grads, old->grads, bytes);
    memcpy(fresh->moms, old->moms, bytes);
    if ((s = anet_model_push(fresh))) {
        anet_model_free(fresh);
        return s;
    }
    anet_model_free(old);
    *m = fresh;
    return ANET_OK;
}

void anet_model_free(struct anet_model *m)
{
    if (!m) return;
    enum anet_device dev = m->device;
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        struct conv_block *cb = &m->conv[i];
        free_on(dev, cb->conv_out), free_on(dev, cb->lrn_out), free_on(dev, cb->lrn_scale);
        free_on(dev, cb->pool_out), free_on(dev, cb->pool_arg);
    }
    for (int j = 0; j < ANET_FC_LAYERS; j++)
        free_on(dev, m->fc[j].fc_out), free_on(dev, m->fc[j].drop_out);
    free(m->params), free(m->grads), free(m->moms), free(m->prob);
    free_on(dev, m->grad_a), free_on(dev, m->grad_b), free_on(dev, m->work);
    if (dev == ANET_DEVICE_CUDA) {
        anet_cuda_free(m->dparams), anet_cuda_free(m->dgrads), anet_cuda_free(m->dmoms);
        anet_cuda_free(m->d_input), anet_cuda_free(m->d_prob), anet_cuda_free(m->d_labels);
        free(m->h_logits);
    }
    free(m);
}

const struct anet_config *anet_model_config(const struct anet_model *m) { return &m->cfg; }
int anet_model_max_batch(const struct anet_model *m) { return m->max_batch; }

void anet_model_set_path(struct anet_model *m, enum anet_path p)
{
    if (m->device != ANET_DEVICE_CPU) return; /* one GPU path */
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
    anet_model_push(m); /* a failure stays recorded: the next forward returns it */
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
    enum anet_status s;
    if (m->device == ANET_DEVICE_CUDA && x != m->d_input) {
        if ((s = anet_cuda_upload(m->d_input, x, (size_t)n * m->input_size * sizeof(float))))
            return m->n = 0, s;
        cur = m->d_input;
    }
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        conv_block_forward(m, &m->conv[i], &m->live[2 * i], &m->live[2 * i + 1], cur, n);
        cur = m->conv[i].out;
    }
    for (int j = 0; j < ANET_FC_LAYERS; j++) {
        int l = ANET_CONV_LAYERS + j;
        fc_block_forward(m, &m->fc[j], &m->live[2 * l], &m->live[2 * l + 1], cur, n);
        cur = m->fc[j].y;
    }
    if (m->device == ANET_DEVICE_CUDA) {
        size_t bytes = (size_t)n * m->cfg.classes * sizeof(float);
        s = logits ? anet_cuda_download(m->h_logits, cur, bytes) : anet_cuda_error();
        if (s) return m->n = 0, s;
        cur = m->h_logits;
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
    if (m->device == ANET_DEVICE_CPU) {
        *loss = m->ops->softmax_xent_forward(m->n, m->cfg.classes, last->fc_out, labels, m->prob);
        return ANET_OK;
    }
    size_t len = (size_t)m->n * m->cfg.classes;
    enum anet_status s = anet_cuda_upload(m->d_labels, labels, (size_t)m->n * sizeof *labels);
    if (s) return s;
    *loss = m->ops->softmax_xent_forward(m->n, m->cfg.classes, last->fc_out, m->d_labels,
                                         m->d_prob);
    return anet_cuda_download(m->prob, m->d_prob, len * sizeof(float));
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
    if (m->device == ANET_DEVICE_CPU)
        m->ops->softmax_xent_backward(m->n, m->cfg.classes, m->prob, labels, g);
    else /* the labels and probabilities anet_model_loss left on the device */
        m->ops->softmax_xent_backward(m->n, m->cfg.classes, m->d_prob, m->d_labels, g);
    for (int j = ANET_FC_LAYERS - 1; j >= 0; j--) {
        int l = ANET_CONV_LAYERS + j;
        fc_block_backward(m, &m->fc[j], &m->live[2 * l], &m->live[2 * l + 1], &g, &other);
    }
    for (int i = ANET_CONV_LAYERS - 1; i >= 0; i--)
        conv_block_backward(m, &m->conv[i], &m->live[2 * i], &m->live[2 * i + 1], i > 0,
                            &g, &other);
}

void anet_model_update(struct anet_model *m, const struct anet_sgd *h)
{
#ifdef ANET_CUDA
    if (m->device == ANET_DEVICE_CUDA) { /* every tensor in one launch */
        struct anet_cuda_sgd_list l = {.count = ANET_TENSORS};
        for (int t = 0; t < ANET_TENSORS; t++) {
            struct anet_tensor *T = &m->live[t];
            l.w[t] = T->data, l.g[t] = T->grad, l.v[t] = T->momentum, l.n[t] = T->count;
            l.decay[t] = T->is_weight ? h->decay : 0.0f;
        }
        anet_cuda_sgd_update_list(&l, h->lr, h->momentum);
        return;
    }
#endif
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
