/* The network as a model: parameters, activations, forward, loss, backward, update.
 *
 * A model is made of parts. With one part, both towers run together: their layers are the
 * groups of grouped convolutions and one matrix for each fully connected layer, each
 * tower's kernels in its own half of each weight tensor (tower t owns output rows
 * [t·k/2, (t+1)·k/2)). With two parts, each tower is a part of its own, on its own CUDA
 * lane (a stream on a GPU, the same GPU or another) or, on the CPU, run one after the
 * other: the paper's model parallelism. A part holds its tower's rows of every tensor and
 * its own activations; the parts meet only where the paper's GPUs talk:
 *
 *   forward   conv3's input, fc6's input and the outputs of fc6, fc7, fc8 are gathered:
 *             every part gets every part's maps (exchange_gather);
 *   backward  the partial input gradients of conv3 and fc6 are summed and each part keeps
 *             its own channels; those of fc7 and fc8 are summed whole (exchange_sum);
 *             fc8's output gradient goes from part 0, which computes the loss, to all.
 *
 * The same code runs both placements; one part skips the exchanges. LRN normalises within
 * a tower's maps, as on the paper's GPUs, whatever the placement, unless the configuration
 * spans both towers (Caffe's network: anet_config_lrn), which runs in one part only.
 *
 * Everything device-specific goes through the backend's table (alexnet/backend.h): the ops,
 * memory, copies, barriers. On a backend whose memory is the host's (the CPU), the parts
 * compute on the host tensors in place; elsewhere each part holds its rows of every tensor
 * in one block of its lane's memory, and pull/push copy them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/backend.h"
#include "alexnet/model.h"
#include "alexnet/rng.h"
#include "feed.h"

/* One part's share of a convolutional layer with what follows it (ReLU, LRN, pooling). */
struct conv_block {
    struct anet_conv_desc cd; /* this part's kernels; cd.n is set per forward */
    struct anet_pool_desc pd;
    int has_lrn, has_pool;
    int lrn_towers;                        /* LRN runs within each of this many towers */
    struct anet_lrn_param lrn;             /* what LRN computes (anet_config_lrn) */
    int gather;                            /* reads every part's maps (two parts, conv3) */
    size_t in_size;                        /* floats an image of the input */
    size_t conv_size, pool_size, out_size; /* floats an image */
    const float *in;                       /* the block's input, n × c × h × w */
    float *gathered;                       /* n × c × h × w: every part's maps (gather) */
    float *conv_out;                       /* n × k × oh × ow, activation applied in place */
    float *lrn_out, *lrn_scale;            /* same shape as conv_out */
    float *pool_out;                       /* n × k × ph × pw */
    int32_t *pool_arg;
    float *out; /* the last of the above */
};

/* One part's share of a fully connected layer: its output neurons [off, off + out). */
struct fc_block {
    int in, out;      /* the whole input (every tower's) and this part's outputs */
    int full, off;    /* the layer's outputs; this part's first */
    int has_act, has_dropout;
    uint32_t purpose; /* dropout stream */
    const float *x;   /* n × in */
    float *xin;       /* n × in: fc6's input gathered from every part's conv5 (two parts) */
    float *fc_out;    /* n × out, activation applied in place */
    float *all;       /* n × full: every part's fc_out (two parts); else fc_out itself */
    float *drop_out;  /* n × full when dropout is on */
    float *y;         /* what the next layer read in the last forward */
};

struct part {
    int lane;                                /* its lane of the backend */
    struct anet_tensor t[ANET_TENSORS];      /* its rows of each tensor, where the ops read */
    size_t host_off[ANET_TENSORS];           /* where those rows start in the whole tensor */
    size_t nparams;
    float *dparams, *dgrads, *dmoms;         /* its rows of every tensor (not host memory) */
    const float *input;                      /* where it reads the batch */
    float *own_input;                        /* a part on another GPU than part 0: its copy */
    struct conv_block conv[ANET_CONV_LAYERS];
    struct fc_block fc[ANET_FC_LAYERS];
    float *g, *o;                            /* backward: the gradient and a scratch buffer */
    float *recv;                             /* an exchange's incoming partial sums */
    float *work;                             /* the conv workspace (the CPU's fast path) */
};

struct anet_model {
    struct anet_config cfg;
    struct anet_backend *be;
    const struct anet_backend_ops *ops; /* be->ops */
    struct anet_backend *own_be;        /* the backend made for this model, if it was */
    struct anet_placement where;
    int parts;                          /* where.parts */
    int in_place;                       /* the parts compute on the host tensors */
    int max_batch;
    struct anet_tensor tensors[ANET_TENSORS]; /* on the host (copies of a device's) */
    float *params, *grads, *moms; /* one allocation each; tensors point into them */
    size_t nparams;
    struct part part[ANET_MAX_PARTS];
    float *d_prob;     /* the probabilities, n × classes, part 0's lane */
    int32_t *d_labels; /* the labels of the last loss, part 0's lane */
    float *logits;     /* n × classes on the host */
    size_t input_size; /* floats an image */
    float *prob;       /* n × classes on the host */
    int total;         /* the images a backward's mean is over; 0: the forward's n */
    struct anet_layer_sgd layers; /* frozen layers, learning-rate multipliers */
    int first;         /* the first image of the forward's batch in a global batch */
    anet_layer_hook layer_hook; /* told as backward finishes each layer's gradients */
    void *layer_user;
    /* the last forward: */
    int n, train;
    uint64_t seed;
    uint32_t step;
};

static const char *const layer_names[ANET_LAYERS] = {"conv1", "conv2", "conv3", "conv4",
                                                     "conv5", "fc6",   "fc7",   "fc8"};

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

/* Activations and gradient buffers live where the ops run: the current lane's memory. */
static void *alloc_floats(struct anet_model *m, size_t n, int *failed)
{
    void *p = m->ops->alloc(m->be, (n ? n : 1) * sizeof(float));
    if (!p) *failed = 1;
    return p;
}

static void free_floats(struct anet_model *m, void *p)
{
    if (p) m->ops->free(m->be, p);
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Part p of `parts` owns units [*first, *first + *count) of a layer's `units` outputs. */
static void part_range(int units, int parts, int p, int *first, int *count)
{
    *first = (int)((long)units * p / parts);
    *count = (int)((long)units * (p + 1) / parts) - *first;
}

/* ---- parts: where they run and how they meet ------------------------------------------- */
static void use(struct anet_model *m, int p) { m->ops->use(m->be, m->part[p].lane); }

/* Every part's later work waits for what every part has issued so far (lanes that run side
 * by side; on the CPU the parts run one after the other anyway). */
static void meet(struct anet_model *m)
{
    if (m->parts < 2) return;
    int lanes[ANET_MAX_PARTS];
    for (int p = 0; p < m->parts; p++) lanes[p] = m->part[p].lane;
    m->ops->barrier(m->be, m->parts, lanes);
}

/* rows rows of width floats from part q's src (row pitch spitch) to the current part's dst
 * (row pitch dpitch). */
static void copy_rows(struct anet_model *m, int q, float *dst, size_t dpitch, const float *src,
                      size_t spitch, size_t width, size_t rows)
{
    m->ops->copy2d(m->be, dst, dpitch * sizeof(float), m->part[q].lane, src,
                   spitch * sizeof(float), width * sizeof(float), rows);
}

static void add_to(struct anet_model *m, float *y, const float *x, size_t count)
{
    m->ops->add(m->be, y, x, count);
}

/* The parts' pieces of one exchange: part p's source, destination, and its columns. */
struct exchange {
    const float *src[ANET_MAX_PARTS];
    float *dst[ANET_MAX_PARTS];
    size_t off[ANET_MAX_PARTS], cnt[ANET_MAX_PARTS];
    size_t width; /* floats a row (an image) of the whole */
};

/* Forward: every part's dst (n × width) gets each part q's src (n × cnt[q]) at columns
 * off[q] .. off[q] + cnt[q]. */
static void exchange_gather(struct anet_model *m, const struct exchange *e, int n)
{
    meet(m);
    for (int p = 0; p < m->parts; p++) {
        use(m, p);
        for (int q = 0; q < m->parts; q++)
            copy_rows(m, q, e->dst[p] + e->off[q], e->width, e->src[q], e->cnt[q], e->cnt[q],
                      (size_t)n);
    }
    meet(m); /* no part overwrites a source before every part has read it */
    use(m, 0);
}

/* Backward: each part's src is its partial sum (n × width) of a gradient every part
 * contributes to; part p's dst (n × cnt[p], never a src) gets the sum over the parts of
 * columns off[p] .. off[p] + cnt[p]. Each part adds its own partial first: with two parts
 * both get a + b bit for bit. */
static void exchange_sum(struct anet_model *m, const struct exchange *e, int n)
{
    meet(m);
    for (int p = 0; p < m->parts; p++) {
        use(m, p);
        struct part *P = &m->part[p];
        size_t cnt = e->cnt[p], len = (size_t)n * cnt;
        copy_rows(m, p, e->dst[p], cnt, e->src[p] + e->off[p], e->width, cnt, (size_t)n);
        for (int q = 0; q < m->parts; q++) {
            if (q == p) continue;
            copy_rows(m, q, P->recv, cnt, e->src[q] + e->off[p], e->width, cnt, (size_t)n);
            add_to(m, e->dst[p], P->recv, len);
        }
    }
    meet(m);
    use(m, 0);
}

/* ---- layout ---------------------------------------------------------------------------- */
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

/* Each part's rows of each tensor: its output units of the layer (rows of the weight
 * matrix, elements of the bias), consecutive in the whole tensor. On host memory the part
 * reads the host tensors in place; elsewhere it has them in its own dparams/dgrads/dmoms. */
static void layout_parts(struct anet_model *m)
{
    for (int p = 0; p < m->parts; p++) {
        struct part *P = &m->part[p];
        size_t poff = 0;
        for (int t = 0; t < ANET_TENSORS; t++) {
            const struct anet_tensor *T = &m->tensors[t];
            size_t row = T->count / (size_t)T->dims[0];
            int first, count;
            part_range(T->dims[0], m->parts, p, &first, &count);
            P->t[t] = *T;
            P->t[t].dims[0] = count;
            P->t[t].count = (size_t)count * row;
            P->host_off[t] = (size_t)first * row;
            P->t[t].data = (float *)poff; /* offsets into the part's arrays for now */
            poff += P->t[t].count;
        }
        P->nparams = poff;
    }
}

static void point_tensors(struct anet_model *m)
{
    for (int t = 0; t < ANET_TENSORS; t++) {
        size_t off = (size_t)m->tensors[t].data;
        m->tensors[t].data = m->params + off;
        m->tensors[t].grad = m->grads + off;
        m->tensors[t].momentum = m->moms + off;
    }
    for (int p = 0; p < m->parts; p++) {
        struct part *P = &m->part[p];
        for (int t = 0; t < ANET_TENSORS; t++) {
            struct anet_tensor *T = &P->t[t];
            size_t off = (size_t)T->data;
            if (!m->in_place) {
                T->data = P->dparams + off, T->grad = P->dgrads + off;
                T->momentum = P->dmoms + off;
            } else {
                const struct anet_tensor *H = &m->tensors[t];
                T->data = H->data + P->host_off[t], T->grad = H->grad + P->host_off[t];
                T->momentum = H->momentum + P->host_off[t];
            }
        }
    }
}

/* Describe part p's blocks and allocate their activations on its lane; they raise *gmax to
 * the largest gradient the part's backward holds (the size of g and o), *rmax to the
 * largest exchange it receives, *wmax to the largest conv workspace. */
static void build_conv(struct anet_model *m, int p, const struct anet_layer_info *L, int i,
                       size_t *gmax, size_t *rmax, size_t *wmax, int *failed)
{
    size_t B = (size_t)m->max_batch;
    int parts = m->parts, first, k;
    struct conv_block *cb = &m->part[p].conv[i];
    part_range(L->out_c, parts, p, &first, &k);
    /* two parts: a grouped layer's groups split between them; an ungrouped one (conv1 on
       the image, conv3 on every part's maps) is whole in each */
    int whole_input = parts == 1 || L->groups == 1;
    int groups = parts == 1 ? L->groups : L->groups == 1 ? 1 : L->groups / parts;
    int c = whole_input ? L->in_c : L->in_c / parts;
    cb->gather = parts > 1 && L->groups == 1 && i > 0;
    cb->cd = (struct anet_conv_desc){.n = m->max_batch, .c = c, .h = L->in_h, .w = L->in_w,
                                     .k = k, .kh = L->kh, .kw = L->kw, .stride = L->stride,
                                     .pad = L->pad, .groups = groups};
    cb->has_lrn = L->lrn, cb->has_pool = L->pool;
    cb->lrn_towers = anet_config_lrn(&m->cfg, &cb->lrn) / parts;
    cb->in_size = (size_t)c * L->in_h * L->in_w;
    cb->conv_size = (size_t)k * L->out_h * L->out_w;
    cb->pool_size = (size_t)k * L->pool_h * L->pool_w;
    cb->pd = (struct anet_pool_desc){.n = m->max_batch, .c = k, .h = L->out_h, .w = L->out_w,
                                     .size = m->cfg.pool_size, .stride = m->cfg.pool_stride};
    if (cb->gather) cb->gathered = alloc_floats(m, B * cb->in_size, failed);
    cb->conv_out = alloc_floats(m, B * cb->conv_size, failed);
    cb->out = cb->conv_out;
    cb->out_size = cb->conv_size;
    if (cb->has_lrn) {
        cb->lrn_out = alloc_floats(m, B * cb->conv_size, failed);
        cb->lrn_scale = alloc_floats(m, B * cb->conv_size, failed);
        cb->out = cb->lrn_out;
    }
    if (cb->has_pool) {
        cb->pool_out = alloc_floats(m, B * cb->pool_size, failed);
        cb->pool_arg = (int32_t *)alloc_floats(m, B * cb->pool_size, failed);
        cb->out = cb->pool_out;
        cb->out_size = cb->pool_size;
    }
    *gmax = max_sz(*gmax, max_sz(B * cb->conv_size, B * cb->in_size));
    if (cb->gather) *rmax = max_sz(*rmax, B * cb->in_size / (size_t)parts);
    *wmax = max_sz(*wmax, m->ops->conv_workspace(m->be, &cb->cd));
}

static void build_fc(struct anet_model *m, int p, const struct anet_layer_info *L, int j,
                     size_t *gmax, size_t *rmax, int *failed)
{
    size_t B = (size_t)m->max_batch;
    struct fc_block *fb = &m->part[p].fc[j];
    fb->in = L->in_c, fb->full = L->out_c;
    part_range(L->out_c, m->parts, p, &fb->off, &fb->out);
    fb->has_act = L->act, fb->has_dropout = L->dropout;
    fb->purpose = ANET_RNG_DROPOUT + 6 + j;
    if (m->parts > 1 && j == 0) fb->xin = alloc_floats(m, B * fb->in, failed);
    fb->fc_out = alloc_floats(m, B * fb->out, failed);
    fb->all = m->parts > 1 ? alloc_floats(m, B * fb->full, failed) : fb->fc_out;
    if (fb->has_dropout) fb->drop_out = alloc_floats(m, B * fb->full, failed);
    *gmax = max_sz(*gmax, max_sz(B * fb->in, B * fb->full));
    if (m->parts > 1) *rmax = max_sz(*rmax, B * fb->in);
}

static void build_part(struct anet_model *m, int p, const struct anet_layer_info *info,
                       int *failed)
{
    struct part *P = &m->part[p];
    size_t gmax = 0, rmax = 0, wmax = 0;
    for (int i = 0; i < ANET_CONV_LAYERS; i++)
        build_conv(m, p, &info[i], i, &gmax, &rmax, &wmax, failed);
    for (int j = 0; j < ANET_FC_LAYERS; j++)
        build_fc(m, p, &info[ANET_CONV_LAYERS + j], j, &gmax, &rmax, failed);
    P->g = alloc_floats(m, gmax, failed);
    P->o = alloc_floats(m, gmax, failed);
    if (m->parts > 1) P->recv = alloc_floats(m, rmax, failed);
    if (wmax) P->work = alloc_floats(m, wmax, failed);
    if (!m->in_place) {
        P->dparams = alloc_floats(m, P->nparams, failed);
        P->dgrads = alloc_floats(m, P->nparams, failed);
        P->dmoms = alloc_floats(m, P->nparams, failed);
    }
    /* a part whose lane is on another GPU than part 0's reads a copy of the batch */
    if (p > 0 && anet_backend_lane_gpu(m->be, P->lane) != anet_backend_lane_gpu(m->be, m->part[0].lane))
        P->own_input = alloc_floats(m, (size_t)m->max_batch * m->input_size, failed);
    if (p > 0) return;
    m->d_prob = alloc_floats(m, (size_t)m->max_batch * m->cfg.classes, failed);
    m->d_labels = (int32_t *)alloc_floats(m, (size_t)m->max_batch, failed);
}

static void free_part(struct anet_model *m, struct part *P)
{
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        struct conv_block *cb = &P->conv[i];
        free_floats(m, cb->gathered), free_floats(m, cb->conv_out), free_floats(m, cb->lrn_out);
        free_floats(m, cb->lrn_scale), free_floats(m, cb->pool_out), free_floats(m, cb->pool_arg);
    }
    for (int j = 0; j < ANET_FC_LAYERS; j++) {
        struct fc_block *fb = &P->fc[j];
        free_floats(m, fb->xin), free_floats(m, fb->fc_out), free_floats(m, fb->drop_out);
        if (fb->all != fb->fc_out) free_floats(m, fb->all);
    }
    free_floats(m, P->g), free_floats(m, P->o), free_floats(m, P->recv), free_floats(m, P->work);
    free_floats(m, P->dparams), free_floats(m, P->dgrads), free_floats(m, P->dmoms);
    free_floats(m, P->own_input);
}

/* What a placement needs of the configuration and of the backend. */
static enum anet_status check_placement(const struct anet_config *c,
                                        const struct anet_placement *w,
                                        const struct anet_backend *be)
{
    if (w->parts < 1 || w->parts > ANET_MAX_PARTS)
        return anet_fail(ANET_ERR_INVALID, "a model runs in 1 or 2 parts, not %d", w->parts);
    for (int p = 0; p < w->parts; p++)
        if (w->lane[p] < 0 || w->lane[p] >= be->lanes)
            return anet_fail(ANET_ERR_INVALID, "part %d on lane %d: the backend has lanes 0..%d",
                             p, w->lane[p], be->lanes - 1);
    if (w->parts == 1) return ANET_OK;
    if (c->towers != 2)
        return anet_fail(ANET_ERR_INVALID, "the towers on two lanes need the two-tower network; "
                         "this one has %d tower", c->towers);
    if (c->lrn && c->lrn_across_towers)
        return anet_fail(ANET_ERR_INVALID, "this network's LRN spans both towers' maps (Caffe's "
                         "bvlc_alexnet): the towers cannot run apart");
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        int g = anet_config_groups(c, i);
        if ((g != 1 && g % 2) || (i == 0 && g != 1))
            return anet_fail(ANET_ERR_INVALID, "conv%d: %d groups cannot be split between two "
                             "towers", i + 1, g);
    }
    return ANET_OK;
}

/* The failure that stopped the model being made: the backend's, or the host's memory. */
static enum anet_status creation_failed(struct anet_backend *be, int max_batch)
{
    enum anet_status s = be->ops->error(be);
    if (s) return s;
    return anet_fail(ANET_ERR_NOMEM, "out of memory allocating the model for batch %d",
                     max_batch);
}

enum anet_status anet_model_create_placed(const struct anet_config *c, int max_batch,
                                          const struct anet_placement *where,
                                          struct anet_model **out)
{
    *out = NULL;
    enum anet_status s = anet_config_check(c);
    if (s) return s;
    if (max_batch < 1)
        return anet_fail(ANET_ERR_INVALID, "batch size must be at least 1, got %d", max_batch);
    struct anet_backend *own = NULL, *be = where->backend;
    if (!be && (s = anet_backend_cpu(ANET_PATH_FAST, &own))) return s;
    if (!be) be = own;
    if ((s = check_placement(c, where, be))) return anet_backend_free(own), s;
    struct anet_model *m = calloc(1, sizeof *m);
    if (!m) return anet_backend_free(own), anet_fail(ANET_ERR_NOMEM, "out of memory creating the model");
    m->cfg = *c;
    m->be = be, m->ops = be->ops, m->own_be = own;
    m->where = *where;
    m->where.backend = be;
    m->parts = where->parts;
    m->in_place = be->host_memory;
    m->max_batch = max_batch;
    anet_layer_sgd_default(&m->layers);
    m->input_size = (size_t)c->channels * c->crop * c->crop;
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(c, info);
    layout_tensors(m, info);
    layout_parts(m);
    int failed = 0;
    m->params = alloc_host(m->nparams, &failed);
    m->grads = alloc_host(m->nparams, &failed);
    m->moms = alloc_host(m->nparams, &failed);
    for (int p = 0; p < m->parts; p++) {
        m->part[p].lane = where->lane[p];
        use(m, p);
        build_part(m, p, info, &failed);
    }
    use(m, 0);
    m->prob = alloc_host((size_t)max_batch * c->classes, &failed);
    m->logits = alloc_host((size_t)max_batch * c->classes, &failed);
    if (failed || be->ops->error(be)) {
        s = creation_failed(be, max_batch);
        anet_model_free(m);
        return s;
    }
    point_tensors(m);
    *out = m;
    return ANET_OK;
}

enum anet_status anet_model_create(const struct anet_config *c, int max_batch,
                                   struct anet_model **out)
{
    struct anet_placement w = {.backend = NULL, .parts = 1};
    return anet_model_create_placed(c, max_batch, &w, out);
}

const struct anet_placement *anet_model_placement(const struct anet_model *m)
{
    return &m->where;
}
struct anet_backend *anet_model_backend(const struct anet_model *m) { return m->be; }

/* Parameters, gradients and momentum between the host copies and the parts' memory. */
static enum anet_status copy_params(struct anet_model *m, int to_device)
{
    if (m->in_place) return ANET_OK;
    for (int p = 0; p < m->parts; p++) {
        struct part *P = &m->part[p];
        use(m, p);
        for (int t = 0; t < ANET_TENSORS; t++) {
            const struct anet_tensor *H = &m->tensors[t], *D = &P->t[t];
            float *host[3] = {H->data, H->grad, H->momentum};
            float *dev[3] = {D->data, D->grad, D->momentum};
            size_t bytes = D->count * sizeof(float);
            for (int i = 0; i < 3; i++)
                if (to_device) m->ops->upload(m->be, dev[i], host[i] + P->host_off[t], bytes);
                else m->ops->download(m->be, host[i] + P->host_off[t], dev[i], bytes);
        }
    }
    use(m, 0);
    return to_device ? m->ops->sync(m->be) : m->ops->error(m->be);
}

enum anet_status anet_model_pull(struct anet_model *m) { return copy_params(m, 0); }
enum anet_status anet_model_push(struct anet_model *m) { return copy_params(m, 1); }

static int same_placement(const struct anet_model *m, const struct anet_placement *b)
{
    const struct anet_placement *a = &m->where;
    if (b->backend ? a->backend != b->backend : !m->own_be) return 0;
    if (a->parts != b->parts) return 0;
    for (int p = 0; p < a->parts; p++)
        if (a->lane[p] != b->lane[p]) return 0;
    return 1;
}

enum anet_status anet_model_place(struct anet_model **m, const struct anet_placement *where)
{
    struct anet_model *old = *m, *fresh;
    if (same_placement(old, where)) return ANET_OK;
    enum anet_status s = anet_model_pull(old);
    if (!s) s = anet_model_create_placed(&old->cfg, old->max_batch, where, &fresh);
    if (s) return s;
    size_t bytes = old->nparams * sizeof(float);
    memcpy(fresh->params, old->params, bytes);
    memcpy(fresh->grads, old->grads, bytes);
    memcpy(fresh->moms, old->moms, bytes);
    fresh->layers = old->layers;
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
    for (int p = 0; p < m->parts; p++) {
        use(m, p);
        free_part(m, &m->part[p]);
    }
    use(m, 0);
    free_floats(m, m->d_prob), free_floats(m, m->d_labels);
    free(m->params), free(m->grads), free(m->moms), free(m->prob), free(m->logits);
    anet_backend_free(m->own_be);
    free(m);
}

const struct anet_config *anet_model_config(const struct anet_model *m) { return &m->cfg; }
int anet_model_max_batch(const struct anet_model *m) { return m->max_batch; }

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

/* ---- layers by name --------------------------------------------------------------------- */
int anet_layer_index(const char *name)
{
    for (int l = 0; l < ANET_LAYERS; l++)
        if (strcmp(name, layer_names[l]) == 0) return l;
    return -1;
}

const char *anet_layer_name(int layer)
{
    return layer >= 0 && layer < ANET_LAYERS ? layer_names[layer] : "?";
}

/* One part of a layer list, [text, text + len): a layer or "A..B" with A before B. */
static enum anet_status parse_range(const char *text, size_t len, uint32_t *set)
{
    char part[32], *dots;
    int a, b;
    if (len == 0 || len >= sizeof part) goto bad;
    memcpy(part, text, len);
    part[len] = 0;
    if ((dots = strstr(part, ".."))) {
        *dots = 0;
        a = anet_layer_index(part), b = anet_layer_index(dots + 2);
    } else {
        a = b = anet_layer_index(part);
    }
    if (a < 0 || b < 0 || a > b) goto bad;
    for (int l = a; l <= b; l++) *set |= 1u << l;
    return ANET_OK;
bad:
    return anet_fail(ANET_ERR_INVALID, "'%.*s' is not a layer (conv1..conv5, fc6..fc8) or a "
                     "range of them (conv1..conv5)", (int)(len < 64 ? len : 64), text);
}

enum anet_status anet_layers_parse(const char *text, uint32_t *set)
{
    *set = 0;
    for (const char *p = text;; p++) {
        size_t len = strcspn(p, ",");
        enum anet_status s = parse_range(p, len, set);
        if (s) return *set = 0, s;
        p += len;
        if (!*p) return ANET_OK;
    }
}

const char *anet_layers_format(uint32_t set, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = 0;
    for (int l = 0; l < ANET_LAYERS; l++) {
        if (!(set >> l & 1)) continue;
        int end = l;
        while (end + 1 < ANET_LAYERS && (set >> (end + 1) & 1)) end++;
        int n = end > l ? snprintf(buf + at, size - at, "%s%s..%s", at ? "," : "",
                                   layer_names[l], layer_names[end])
                        : snprintf(buf + at, size - at, "%s%s", at ? "," : "", layer_names[l]);
        if (n < 0 || (size_t)n >= size - at) break;
        at += (size_t)n;
        l = end;
    }
    return buf;
}

void anet_layer_sgd_default(struct anet_layer_sgd *l)
{
    l->frozen = 0;
    for (int i = 0; i < ANET_LAYERS; i++) l->lr_mult[i] = 1.0f;
}

void anet_model_set_layer_sgd(struct anet_model *m, const struct anet_layer_sgd *l)
{
    m->layers = *l;
    m->layers.frozen &= ANET_ALL_LAYERS;
}

const struct anet_layer_sgd *anet_model_layer_sgd(const struct anet_model *m)
{
    return &m->layers;
}

/* ---- activations ------------------------------------------------------------------------ */
/* Where a blob lives in a part: its buffer there and the floats an image holds of it. */
static const float *blob_in_part(const struct anet_model *m, const struct part *P,
                                 const struct anet_named_blob *b, size_t *per_image)
{
    if (b->layer >= ANET_CONV_LAYERS) { /* every part's outputs, gathered in each */
        const struct fc_block *fb = &P->fc[b->layer - ANET_CONV_LAYERS];
        *per_image = (size_t)fb->full;
        return fb->all;
    }
    const struct conv_block *cb = &P->conv[b->layer];
    *per_image = b->name[0] == 'p' ? cb->pool_size : cb->conv_size;
    return b->name[0] == 'p' ? cb->pool_out : b->name[0] == 'n' ? cb->lrn_out : cb->conv_out;
}

enum anet_status anet_model_blob(const struct anet_model *m, const char *name,
                                 struct anet_named_blob *out)
{
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(&m->cfg, info);
    memset(out, 0, sizeof *out);
    int l = anet_layer_index(name), conv = 0;
    if (l < 0 && sscanf(name, "%*[a-z]%d", &conv) == 1 && conv >= 1 &&
        conv <= ANET_CONV_LAYERS && strlen(name) == 5) {
        char want[8];
        snprintf(want, sizeof want, "norm%d", conv);
        if (!strcmp(name, want) && info[conv - 1].lrn) l = conv - 1;
        snprintf(want, sizeof want, "pool%d", conv);
        if (!strcmp(name, want) && info[conv - 1].pool) l = conv - 1;
    }
    if (l < 0) {
        char have[160] = "conv1..conv5";
        for (int i = 0; i < ANET_CONV_LAYERS; i++)
            if (info[i].lrn) snprintf(have + strlen(have), sizeof have - strlen(have), ", norm%d", i + 1);
        for (int i = 0; i < ANET_CONV_LAYERS; i++)
            if (info[i].pool) snprintf(have + strlen(have), sizeof have - strlen(have), ", pool%d", i + 1);
        return anet_fail(ANET_ERR_INVALID, "no layer '%.32s' in this network: it has %s, "
                         "fc6..fc8", name, have);
    }
    const struct anet_layer_info *L = &info[l];
    snprintf(out->name, sizeof out->name, "%s", name);
    out->layer = l;
    out->c = L->out_c;
    int pooled = name[0] == 'p';
    out->h = L->is_conv ? (pooled ? L->pool_h : L->out_h) : 1;
    out->w = L->is_conv ? (pooled ? L->pool_w : L->out_w) : 1;
    return ANET_OK;
}

enum anet_status anet_model_activations(struct anet_model *m, const struct anet_named_blob *blob,
                                        float *dst)
{
    if (m->n < 1) return anet_fail(ANET_ERR_INVALID, "activations asked before a forward pass");
    size_t whole = (size_t)blob->c * blob->h * blob->w, n = (size_t)m->n, per;
    int parts = blob->layer >= ANET_CONV_LAYERS ? 1 : m->parts; /* fc: gathered in part 0 */
    if (parts == 1) {
        use(m, 0);
        m->ops->download(m->be, dst, blob_in_part(m, &m->part[0], blob, &per),
                         n * whole * sizeof *dst);
        return m->ops->error(m->be);
    }
    /* each part holds its towers' maps of every image, n × per: a row each into dst */
    float *tmp = malloc(n * whole * sizeof *tmp);
    if (!tmp) return anet_fail(ANET_ERR_NOMEM, "out of memory for %zu activations", n * whole);
    size_t off = 0;
    for (int p = 0; p < parts; p++) {
        const float *src = blob_in_part(m, &m->part[p], blob, &per);
        use(m, p);
        m->ops->download(m->be, tmp, src, n * per * sizeof *tmp);
        for (size_t i = 0; i < n; i++)
            memcpy(dst + i * whole + off, tmp + i * per, per * sizeof *tmp);
        off += per;
    }
    free(tmp);
    use(m, 0);
    return m->ops->error(m->be);
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

/* ---- forward --------------------------------------------------------------------------- */
static void conv_block_forward(struct anet_model *m, struct part *P, int i, const float *x,
                               int n)
{
    const struct anet_config *c = &m->cfg;
    struct conv_block *cb = &P->conv[i];
    const struct anet_tensor *w = &P->t[2 * i], *b = &P->t[2 * i + 1];
    cb->in = x;
    cb->cd.n = n;
    cb->pd.n = n;
    size_t count = (size_t)n * cb->conv_size;
    int hw = cb->pd.h * cb->pd.w, T = cb->lrn_towers;
    m->ops->conv_forward(m->be, &cb->cd, x, w->data, b->data, cb->conv_out, P->work);
    m->ops->act_forward(m->be, c->act, count, cb->conv_out, cb->conv_out);
    const float *cur = cb->conv_out;
    if (cb->has_lrn) { /* n × k maps as (n·T) × (k/T): each tower's maps on their own */
        m->ops->lrn_forward(m->be, n * T, cb->cd.k / T, hw, &cb->lrn, cur, cb->lrn_out,
                            cb->lrn_scale);
        cur = cb->lrn_out;
    }
    if (cb->has_pool) m->ops->maxpool_forward(m->be, &cb->pd, cur, cb->pool_out, cb->pool_arg);
}

/* The fully connected layer and its activation: n × out. */
static void fc_block_forward(struct anet_model *m, struct part *P, int j, const float *x, int n)
{
    struct fc_block *fb = &P->fc[j];
    const struct anet_tensor *w = &P->t[2 * (ANET_CONV_LAYERS + j)], *b = w + 1;
    fb->x = x;
    m->ops->fc_forward(m->be, n, fb->in, fb->out, x, w->data, b->data, fb->fc_out);
    if (fb->has_act) m->ops->act_forward(m->be, m->cfg.act, (size_t)n * fb->out, fb->fc_out, fb->fc_out);
}

/* Dropout on every part's outputs (n × full), the same masks in each part: in training,
 * or the paper's test-time product (anet_config_dropout). fb->all keeps the activations. */
static void fc_block_dropout(struct anet_model *m, struct part *P, int j, int n)
{
    struct fc_block *fb = &P->fc[j];
    float p, scale;
    fb->y = fb->all;
    if (!fb->has_dropout || !anet_config_dropout(&m->cfg, m->train, &p, &scale)) return;
    m->ops->dropout_forward(m->be, (size_t)n * fb->full, p, scale, m->seed, m->step,
                            fb->purpose, (uint64_t)m->first * fb->full, fb->all, fb->drop_out);
    fb->y = fb->drop_out;
}

/* conv i's input gathered from every part's conv i−1. */
static void gather_conv_input(struct anet_model *m, int i, int n)
{
    struct exchange e = {.width = m->part[0].conv[i].in_size};
    for (int q = 0; q < m->parts; q++) {
        const struct conv_block *prev = &m->part[q].conv[i - 1];
        e.src[q] = prev->out, e.dst[q] = m->part[q].conv[i].gathered;
        e.cnt[q] = prev->out_size, e.off[q] = q ? e.off[q - 1] + e.cnt[q - 1] : 0;
    }
    exchange_gather(m, &e, n);
}

/* fc6's input gathered from every part's conv5. */
static void gather_fc_input(struct anet_model *m, int n)
{
    struct exchange e = {.width = (size_t)m->part[0].fc[0].in};
    for (int q = 0; q < m->parts; q++) {
        const struct conv_block *last = &m->part[q].conv[ANET_CONV_LAYERS - 1];
        e.src[q] = last->out, e.dst[q] = m->part[q].fc[0].xin;
        e.cnt[q] = last->out_size, e.off[q] = q ? e.off[q - 1] + e.cnt[q - 1] : 0;
    }
    exchange_gather(m, &e, n);
}

/* fc j's outputs gathered from every part. */
static void gather_fc_output(struct anet_model *m, int j, int n)
{
    struct exchange e = {.width = (size_t)m->part[0].fc[j].full};
    for (int q = 0; q < m->parts; q++) {
        struct fc_block *fb = &m->part[q].fc[j];
        e.src[q] = fb->fc_out, e.dst[q] = fb->all;
        e.off[q] = (size_t)fb->off, e.cnt[q] = (size_t)fb->out;
    }
    exchange_gather(m, &e, n);
}

/* Every part's input: part 0's (where the backend reads it), shared by parts on the same
 * GPU, copied to a part on another. */
static void share_input(struct anet_model *m, const float *x, int n)
{
    m->part[0].input = x;
    meet(m);
    for (int p = 1; p < m->parts; p++) {
        struct part *P = &m->part[p];
        P->input = x;
        if (!P->own_input) continue;
        use(m, p);
        copy_rows(m, 0, P->own_input, m->input_size, x, m->input_size, m->input_size,
                  (size_t)n);
        P->input = P->own_input;
    }
    use(m, 0);
}

static void forward_layers(struct anet_model *m, int n)
{
    int parts = m->parts;
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        if (m->part[0].conv[i].gather) gather_conv_input(m, i, n);
        for (int p = 0; p < parts; p++) {
            struct part *P = &m->part[p];
            const struct conv_block *cb = &P->conv[i];
            use(m, p);
            conv_block_forward(m, P, i, i == 0 ? P->input : cb->gather ? cb->gathered
                                                                       : P->conv[i - 1].out,
                               n);
        }
    }
    if (parts > 1) gather_fc_input(m, n);
    for (int j = 0; j < ANET_FC_LAYERS; j++) {
        for (int p = 0; p < parts; p++) {
            struct part *P = &m->part[p];
            use(m, p);
            const float *x = j > 0 ? P->fc[j - 1].y
                             : parts > 1 ? P->fc[0].xin : P->conv[ANET_CONV_LAYERS - 1].out;
            fc_block_forward(m, P, j, x, n);
        }
        if (parts > 1) gather_fc_output(m, j, n);
        for (int p = 0; p < parts; p++) {
            use(m, p);
            fc_block_dropout(m, &m->part[p], j, n);
        }
    }
    use(m, 0);
}

static enum anet_status check_batch(struct anet_model *m, int n)
{
    m->n = 0;
    if (n < 1 || n > m->max_batch)
        return anet_fail(ANET_ERR_INVALID, "batch of %d images: the model holds 1 to %d", n,
                         m->max_batch);
    return ANET_OK;
}

/* The forward pass of x (n images in the memory of part 0's lane); the logits to the host
 * when asked for. */
static enum anet_status forward_from(struct anet_model *m, const float *x, int n, int train,
                                     uint64_t seed, uint32_t step, const float **logits)
{
    m->n = n, m->train = train, m->seed = seed, m->step = step;
    share_input(m, x, n);
    forward_layers(m, n);
    if (logits) {
        size_t bytes = (size_t)n * m->cfg.classes * sizeof(float);
        m->ops->download(m->be, m->logits, m->part[0].fc[ANET_FC_LAYERS - 1].y, bytes);
        *logits = m->logits;
    }
    enum anet_status s = m->ops->error(m->be);
    if (s) m->n = 0;
    return s;
}

enum anet_status anet_model_forward(struct anet_model *m, const float *x, int n, int train,
                                    uint64_t seed, uint32_t step, const float **logits)
{
    enum anet_status s = check_batch(m, n);
    if (s) return s;
    use(m, 0);
    const float *in = m->ops->stage(m->be, x, (size_t)n * m->input_size * sizeof(float));
    if (!in) return m->ops->error(m->be);
    return forward_from(m, in, n, train, seed, step, logits);
}

enum anet_status anet_model_forward_fed(struct anet_model *m, const struct anet_feed *f,
                                        int first, int n, int train, uint64_t seed,
                                        uint32_t step, const float **logits)
{
    enum anet_status s = check_batch(m, n);
    if (s) return s;
    const float *x;
    if ((s = anet_feed_images(f, m, first, n, &x))) return s;
    use(m, 0);
    return forward_from(m, x, n, train, seed, step, logits);
}

enum anet_status anet_model_loss(struct anet_model *m, const int32_t *labels, double *loss)
{
    if (m->n < 1) return anet_fail(ANET_ERR_INVALID, "loss asked before a forward pass");
    for (int i = 0; i < m->n; i++)
        if (labels[i] < 0 || labels[i] >= m->cfg.classes)
            return anet_fail(ANET_ERR_INVALID, "label %d of image %d is outside 0..%d",
                             labels[i], i, m->cfg.classes - 1);
    const float *logits = m->part[0].fc[ANET_FC_LAYERS - 1].y; /* every part's, in part 0 */
    use(m, 0);
    size_t len = (size_t)m->n * m->cfg.classes;
    m->ops->upload(m->be, m->d_labels, labels, (size_t)m->n * sizeof *labels);
    m->ops->softmax_xent_forward(m->be, m->n, m->cfg.classes, logits, m->d_labels, m->d_prob,
                                 loss);
    m->ops->download(m->be, m->prob, m->d_prob, len * sizeof(float));
    return m->ops->error(m->be);
}

const float *anet_model_prob(const struct anet_model *m) { return m->prob; }

/* ---- backward -------------------------------------------------------------------------- */
static void swap(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

/* P->g holds dL/d(the layer's output, every part's: n × full); leaves this part's partial
 * dL/d(input) (n × in) in P->g. */
static void fc_block_backward(struct anet_model *m, struct part *P, int j)
{
    struct fc_block *fb = &P->fc[j];
    struct anet_tensor *w = &P->t[2 * (ANET_CONV_LAYERS + j)], *b = w + 1;
    int n = m->n;
    float p, scale;
    if (fb->has_dropout && anet_config_dropout(&m->cfg, m->train, &p, &scale))
        m->ops->dropout_backward(m->be, (size_t)n * fb->full, p, scale, m->seed, m->step,
                                 fb->purpose, (uint64_t)m->first * fb->full, P->g, P->g);
    if (m->parts > 1) { /* this part's columns */
        copy_rows(m, (int)(P - m->part), P->o, (size_t)fb->out, P->g + fb->off,
                  (size_t)fb->full, (size_t)fb->out, (size_t)n);
        swap(&P->g, &P->o);
    }
    if (fb->has_act) m->ops->act_backward(m->be, m->cfg.act, (size_t)n * fb->out, fb->fc_out, P->g, P->g);
    m->ops->fc_backward(m->be, n, fb->in, fb->out, fb->x, w->data, P->g, P->o, w->grad, b->grad);
    swap(&P->g, &P->o);
}

/* P->g holds dL/d(block output); leaves dL/d(block input) in P->g (a partial sum over the
 * parts when the block gathers its input) when input_grad is set. */
static void conv_block_backward(struct anet_model *m, struct part *P, int i, int input_grad)
{
    const struct anet_config *c = &m->cfg;
    struct conv_block *cb = &P->conv[i];
    struct anet_tensor *w = &P->t[2 * i], *b = &P->t[2 * i + 1];
    int n = m->n, hw = cb->pd.h * cb->pd.w, T = cb->lrn_towers;
    if (cb->has_pool) {
        m->ops->maxpool_backward(m->be, &cb->pd, P->g, cb->pool_arg, P->o);
        swap(&P->g, &P->o);
    }
    if (cb->has_lrn) {
        m->ops->lrn_backward(m->be, n * T, cb->cd.k / T, hw, &cb->lrn, cb->conv_out, cb->lrn_out,
                             cb->lrn_scale, P->g, P->o);
        swap(&P->g, &P->o);
    }
    m->ops->act_backward(m->be, c->act, (size_t)n * cb->conv_size, cb->conv_out, P->g, P->g);
    m->ops->conv_backward(m->be, &cb->cd, cb->in, w->data, P->g, input_grad ? P->o : NULL,
                          w->grad, b->grad, P->work);
    swap(&P->g, &P->o);
}

/* Each part's g is its partial gradient of an input it shares with the other parts (width
 * floats an image); each keeps the sum of its own columns (cnt[p] from off[p]; the whole
 * row when cnt is NULL) in g. */
static void sum_gradients(struct anet_model *m, size_t width, const size_t *cnt)
{
    struct exchange e = {.width = width};
    for (int p = 0; p < m->parts; p++) {
        e.src[p] = m->part[p].g, e.dst[p] = m->part[p].o;
        e.cnt[p] = cnt ? cnt[p] : width;
        e.off[p] = cnt && p ? e.off[p - 1] + e.cnt[p - 1] : 0;
    }
    exchange_sum(m, &e, m->n);
    for (int p = 0; p < m->parts; p++) swap(&m->part[p].g, &m->part[p].o);
}

/* dL/dlogits from part 0 to every part. */
static void share_logit_gradient(struct anet_model *m)
{
    size_t width = (size_t)m->cfg.classes;
    meet(m);
    for (int p = 1; p < m->parts; p++) {
        use(m, p);
        copy_rows(m, 0, m->part[p].g, width, m->part[0].g, width, width, (size_t)m->n);
    }
    meet(m);
    use(m, 0);
}

/* Backward has written every part's gradients of layer l. */
static void layer_done(struct anet_model *m, int l)
{
    if (m->layer_hook) m->layer_hook(m->layer_user, m, l);
}

void anet_model_set_layer_hook(struct anet_model *m, anet_layer_hook hook, void *user)
{
    m->layer_hook = hook, m->layer_user = user;
}

/* The lowest layer that trains: backward need not go below it (ANET_LAYERS: none trains). */
static int lowest_trained(const struct anet_model *m)
{
    int l = 0;
    while (l < ANET_LAYERS && (m->layers.frozen >> l & 1)) l++;
    return l;
}

enum anet_status anet_model_backward(struct anet_model *m)
{
    if (m->n < 1) return anet_fail(ANET_ERR_INVALID, "backward asked before a forward pass");
    int parts = m->parts, low = lowest_trained(m);
    struct part *P0 = &m->part[0];
    if (low == ANET_LAYERS) return ANET_OK;
    use(m, 0);
    /* the labels and probabilities anet_model_loss left where the backend computes */
    m->ops->softmax_xent_backward(m->be, m->n, m->cfg.classes, m->d_prob, m->d_labels,
                                  m->total ? m->total : m->n, P0->g);
    if (parts > 1) share_logit_gradient(m);
    size_t cnt[ANET_MAX_PARTS];
    for (int j = ANET_FC_LAYERS - 1; j >= 0 && ANET_CONV_LAYERS + j >= low; j--) {
        for (int p = 0; p < parts; p++) {
            use(m, p);
            fc_block_backward(m, &m->part[p], j);
        }
        layer_done(m, ANET_CONV_LAYERS + j);
        if (parts == 1 || ANET_CONV_LAYERS + j == low) continue;
        for (int p = 0; p < parts; p++) /* fc6: each part's conv5 maps; else whole rows */
            cnt[p] = m->part[p].conv[ANET_CONV_LAYERS - 1].out_size;
        sum_gradients(m, (size_t)P0->fc[j].in, j == 0 ? cnt : NULL);
    }
    for (int i = ANET_CONV_LAYERS - 1; i >= low; i--) {
        for (int p = 0; p < parts; p++) {
            use(m, p);
            conv_block_backward(m, &m->part[p], i, i > low);
        }
        layer_done(m, i);
        if (!P0->conv[i].gather || i == low) continue;
        for (int p = 0; p < parts; p++) cnt[p] = m->part[p].conv[i - 1].out_size;
        sum_gradients(m, P0->conv[i].in_size, cnt);
    }
    /* conv1's weight gradient of every part reads the batch, which may be part 0's buffer:
       nothing may write the next batch there before they are done */
    meet(m);
    use(m, 0);
    return m->ops->error(m->be);
}

void anet_model_set_share(struct anet_model *m, int first, int total)
{
    m->first = first > 0 ? first : 0;
    m->total = total > 0 ? total : 0;
}

enum anet_status anet_model_zero_gradients(struct anet_model *m)
{
    struct anet_span spans[ANET_MAX_PARTS];
    int n = anet_model_gradients(m, spans);
    for (int i = 0; i < n; i++) {
        m->ops->use(m->be, spans[i].lane);
        m->ops->zero(m->be, spans[i].data, spans[i].count * sizeof(float));
    }
    use(m, 0);
    for (int l = ANET_LAYERS - 1; l >= lowest_trained(m); l--) layer_done(m, l);
    return m->ops->error(m->be);
}

int anet_model_gradients(struct anet_model *m, struct anet_span spans[ANET_MAX_PARTS])
{
    if (m->in_place) {
        spans[0] = (struct anet_span){.lane = m->part[0].lane, .data = m->grads,
                                      .count = m->nparams};
        return 1;
    }
    for (int p = 0; p < m->parts; p++)
        spans[p] = (struct anet_span){.lane = m->part[p].lane, .data = m->part[p].dgrads,
                                      .count = m->part[p].nparams};
    return m->parts;
}

/* Every tensor of a part that trains, in one call on its lane (one launch on a GPU; on the
 * CPU, tensor by tensor). On host memory one part's rows are the whole tensors when there
 * is one part. A frozen layer's tensors are left out of the list: not even weight decay or
 * momentum touches them. */
enum anet_status anet_model_update(struct anet_model *m, const struct anet_sgd *h)
{
    for (int p = 0; p < m->parts; p++) {
        struct anet_sgd_list l = {.count = 0};
        for (int t = 0; t < ANET_TENSORS; t++) {
            int layer = t / 2;
            if (m->layers.frozen >> layer & 1) continue;
            struct anet_tensor *T = &m->part[p].t[t];
            int i = l.count++;
            l.w[i] = T->data, l.g[i] = T->grad, l.v[i] = T->momentum, l.n[i] = T->count;
            l.decay[i] = T->is_weight ? h->decay : 0.0f;
            l.lr_scale[i] = m->layers.lr_mult[layer];
        }
        use(m, p);
        m->ops->sgd_list(m->be, &l, h->lr, h->momentum);
    }
    use(m, 0);
    return m->ops->error(m->be);
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
