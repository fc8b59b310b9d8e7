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
 * spans both towers (Caffe's network: anet_config_lrn), which runs in one part only. */
#include <stdlib.h>
#include <string.h>
#include "alexnet/cuda.h"
#include "alexnet/model.h"
#include "alexnet/rng.h"
#include "backend.h"

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
    int lane;                                /* its CUDA lane (GPU model) */
    struct anet_tensor t[ANET_TENSORS];      /* its rows of each tensor, where the ops read */
    size_t host_off[ANET_TENSORS];           /* where those rows start in the whole tensor */
    size_t nparams;
    float *dparams, *dgrads, *dmoms;         /* GPU: its rows of every tensor */
    float *input;                            /* where it reads the batch */
    float *own_input;                        /* GPU part on another device: its copy */
    struct conv_block conv[ANET_CONV_LAYERS];
    struct fc_block fc[ANET_FC_LAYERS];
    float *g, *o;                            /* backward: the gradient and a scratch buffer */
    float *recv;                             /* an exchange's incoming partial sums */
    float *work;                             /* CPU conv workspace */
};

struct anet_model {
    struct anet_config cfg;
    const struct anet_backend *ops;
    struct anet_placement where;
    enum anet_device device; /* where.device */
    int parts;               /* where.parts */
    int max_batch;
    struct anet_tensor tensors[ANET_TENSORS]; /* on the host (copies on a GPU model) */
    float *params, *grads, *moms; /* one allocation each; tensors point into them */
    size_t nparams;
    struct part part[ANET_MAX_PARTS];
    float *d_prob, *h_logits; /* GPU: probabilities (part 0); logits on the host */
    int32_t *d_labels;
    size_t input_size; /* floats an image */
    float *prob;       /* n × classes */
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

/* Activations and gradient buffers live where the ops run (a GPU part: its lane). */
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

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Part p of `parts` owns units [*first, *first + *count) of a layer's `units` outputs. */
static void part_range(int units, int parts, int p, int *first, int *count)
{
    *first = (int)((long)units * p / parts);
    *count = (int)((long)units * (p + 1) / parts) - *first;
}

/* ---- parts: where they run and how they meet ------------------------------------------- */
static int on_gpu(const struct anet_model *m) { return m->device == ANET_DEVICE_CUDA; }

static void use(struct anet_model *m, int p)
{
    if (on_gpu(m)) anet_cuda_lane_use(m->part[p].lane);
}

/* Every part's later work waits for what every part has issued so far (GPU lanes; on the
 * CPU the parts run one after the other anyway). */
static void meet(struct anet_model *m)
{
    if (!on_gpu(m) || m->parts < 2) return;
    int lanes[ANET_MAX_PARTS];
    for (int p = 0; p < m->parts; p++) lanes[p] = m->part[p].lane;
    anet_cuda_barrier(m->parts, lanes);
}

/* rows rows of width floats from part q's src (row pitch spitch) to the current part's dst
 * (row pitch dpitch). */
static void copy_rows(struct anet_model *m, int q, float *dst, size_t dpitch, const float *src,
                      size_t spitch, size_t width, size_t rows)
{
    if (on_gpu(m)) {
        anet_cuda_copy2d(dst, dpitch * sizeof(float), m->part[q].lane, src,
                         spitch * sizeof(float), width * sizeof(float), rows);
        return;
    }
    for (size_t r = 0; r < rows; r++)
        memcpy(dst + r * dpitch, src + r * spitch, width * sizeof(float));
}

static void add_to(struct anet_model *m, float *y, const float *x, size_t count)
{
    if (on_gpu(m)) {
        anet_cuda_add(y, x, count);
        return;
    }
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) y[i] += x[i];
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
 * matrix, elements of the bias), consecutive in the whole tensor. On the CPU the part reads
 * the host tensors in place; a GPU part has them in its own dparams/dgrads/dmoms. */
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
            if (on_gpu(m)) {
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

/* Describes part p's blocks and allocates their activations; returns the largest gradient
 * the part's backward holds (the size of g and o) through *grad_max, and the largest
 * exchange it receives through *recv_max. */
#define alloc_floats(n, failed) alloc_floats_on(m->device, n, failed)

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
    if (cb->gather) cb->gathered = alloc_floats(B * cb->in_size, failed);
    cb->conv_out = alloc_floats(B * cb->conv_size, failed);
    cb->out = cb->conv_out;
    cb->out_size = cb->conv_size;
    if (cb->has_lrn) {
        cb->lrn_out = alloc_floats(B * cb->conv_size, failed);
        cb->lrn_scale = alloc_floats(B * cb->conv_size, failed);
        cb->out = cb->lrn_out;
    }
    if (cb->has_pool) {
        cb->pool_out = alloc_floats(B * cb->pool_size, failed);
        cb->pool_arg = (int32_t *)alloc_floats(B * cb->pool_size, failed);
        cb->out = cb->pool_out;
        cb->out_size = cb->pool_size;
    }
    *gmax = max_sz(*gmax, max_sz(B * cb->conv_size, B * cb->in_size));
    if (cb->gather) *rmax = max_sz(*rmax, B * cb->in_size / (size_t)parts);
    if (m->device == ANET_DEVICE_CPU) *wmax = max_sz(*wmax, anet_cpu_conv_workspace(&cb->cd));
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
    if (m->parts > 1 && j == 0) fb->xin = alloc_floats(B * fb->in, failed);
    fb->fc_out = alloc_floats(B * fb->out, failed);
    fb->all = m->parts > 1 ? alloc_floats(B * fb->full, failed) : fb->fc_out;
    if (fb->has_dropout) fb->drop_out = alloc_floats(B * fb->full, failed);
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
    P->g = alloc_floats(gmax, failed);
    P->o = alloc_floats(gmax, failed);
    if (m->parts > 1) P->recv = alloc_floats(rmax, failed);
    if (m->device == ANET_DEVICE_CPU) P->work = alloc_floats(wmax, failed);
    if (!on_gpu(m)) return;
    size_t B = (size_t)m->max_batch;
    P->dparams = alloc_floats(P->nparams, failed);
    P->dgrads = alloc_floats(P->nparams, failed);
    P->dmoms = alloc_floats(P->nparams, failed);
    if (p == 0 || anet_cuda_lane_device(P->lane) != anet_cuda_lane_device(m->part[0].lane))
        P->own_input = alloc_floats(B * m->input_size, failed);
    if (p > 0) return;
    m->d_prob = alloc_floats(B * m->cfg.classes, failed);
    m->d_labels = (int32_t *)alloc_floats(B, failed);
}

static void free_part(struct anet_model *m, struct part *P)
{
    enum anet_device dev = m->device;
    for (int i = 0; i < ANET_CONV_LAYERS; i++) {
        struct conv_block *cb = &P->conv[i];
        free_on(dev, cb->gathered), free_on(dev, cb->conv_out), free_on(dev, cb->lrn_out);
        free_on(dev, cb->lrn_scale), free_on(dev, cb->pool_out), free_on(dev, cb->pool_arg);
    }
    for (int j = 0; j < ANET_FC_LAYERS; j++) {
        struct fc_block *fb = &P->fc[j];
        free_on(dev, fb->xin), free_on(dev, fb->fc_out), free_on(dev, fb->drop_out);
        if (fb->all != fb->fc_out) free_on(dev, fb->all);
    }
    free_on(dev, P->g), free_on(dev, P->o), free_on(dev, P->recv), free_on(dev, P->work);
    free_on(dev, P->dparams), free_on(dev, P->dgrads), free_on(dev, P->dmoms);
    free_on(dev, P->own_input);
}

static const struct anet_backend *device_ops(enum anet_device dev)
{
#ifdef ANET_CUDA
    if (dev == ANET_DEVICE_CUDA) return &anet_backend_cuda;
#endif
    (void)dev;
    return &anet_backend_cpu;
}

/* What a placement needs of the configuration and of the machine. */
static enum anet_status check_placement(const struct anet_config *c,
                                        const struct anet_placement *w)
{
    if (w->parts < 1 || w->parts > ANET_MAX_PARTS)
        return anet_fail(ANET_ERR_INVALID, "a model runs in 1 or 2 parts, not %d", w->parts);
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

/* Opens the lanes of a GPU placement: part p on lane p, on device gpu[p]. */
static enum anet_status open_lanes(const struct anet_placement *w)
{
    if (w->device != ANET_DEVICE_CUDA) return ANET_OK;
    enum anet_status s = ANET_OK;
    if (anet_cuda_lane_device(0) < 0 || anet_cuda_lane_device(0) != w->gpu[0])
        s = anet_cuda_init(w->gpu[0]);
    for (int p = 1; p < w->parts && !s; p++) s = anet_cuda_lane_open(p, w->gpu[p]);
    if (!s) anet_cuda_lane_use(0);
    return s ? s : anet_cuda_error();
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
    if ((s = check_placement(c, where)) || (s = open_lanes(where))) return s;
    struct anet_model *m = calloc(1, sizeof *m);
    if (!m) return anet_fail(ANET_ERR_NOMEM, "out of memory creating the model");
    m->cfg = *c;
    m->where = *where;
    m->device = where->device;
    m->parts = where->parts;
    m->ops = device_ops(m->device);
    m->max_batch = max_batch;
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
        m->part[p].lane = p;
        use(m, p);
        build_part(m, p, info, &failed);
    }
    use(m, 0);
    m->prob = alloc_host((size_t)max_batch * c->classes, &failed);
    if (on_gpu(m)) m->h_logits = alloc_host((size_t)max_batch * c->classes, &failed);
    if (failed) {
        anet_model_free(m);
        if (where->device == ANET_DEVICE_CUDA && (s = anet_cuda_error())) return s;
        return anet_fail(ANET_ERR_NOMEM, "out of memory allocating the model for batch %d",
                         max_batch);
    }
    point_tensors(m);
    *out = m;
    return ANET_OK;
}

enum anet_status anet_model_create_on(const struct anet_config *c, int max_batch,
                                      enum anet_device device, struct anet_model **out)
{
    struct anet_placement w = {.device = device, .parts = 1};
    if (device == ANET_DEVICE_CUDA) {
        if (anet_cuda_lane_device(0) < 0) {
            enum anet_status s = anet_cuda_init(0);
            if (s) return *out = NULL, s;
        }
        w.gpu[0] = anet_cuda_lane_device(0);
    }
    return anet_model_create_placed(c, max_batch, &w, out);
}

enum anet_status anet_model_create(const struct anet_config *c, int max_batch,
                                   struct anet_model **out)
{
    return anet_model_create_on(c, max_batch, ANET_DEVICE_CPU, out);
}

enum anet_device anet_model_device(const struct anet_model *m) { return m->device; }
const struct anet_placement *anet_model_placement(const struct anet_model *m)
{
    return &m->where;
}
float *anet_model_input_buffer(struct anet_model *m) { return m->part[0].own_input; }

/* Parameters, gradients and momentum between the host copies and the GPU parts. */
static enum anet_status copy_params(struct anet_model *m, int to_device)
{
    if (!on_gpu(m)) return ANET_OK;
    enum anet_status s = ANET_OK;
    for (int p = 0; p < m->parts && !s; p++) {
        struct part *P = &m->part[p];
        use(m, p);
        for (int t = 0; t < ANET_TENSORS && !s; t++) {
            const struct anet_tensor *H = &m->tensors[t], *D = &P->t[t];
            float *host[3] = {H->data, H->grad, H->momentum};
            float *dev[3] = {D->data, D->grad, D->momentum};
            size_t bytes = D->count * sizeof(float);
            for (int i = 0; i < 3 && !s; i++)
                s = to_device ? anet_cuda_upload(dev[i], host[i] + P->host_off[t], bytes)
                              : anet_cuda_download(host[i] + P->host_off[t], dev[i], bytes);
        }
    }
    use(m, 0);
    return s;
}

enum anet_status anet_model_pull(struct anet_model *m) { return copy_params(m, 0); }
enum anet_status anet_model_push(struct anet_model *m) { return copy_params(m, 1); }

static int same_placement(const struct anet_placement *a, const struct anet_placement *b)
{
    if (a->device != b->device || a->parts != b->parts) return 0;
    for (int p = 0; a->device == ANET_DEVICE_CUDA && p < a->parts; p++)
        if (a->gpu[p] != b->gpu[p]) return 0;
    return 1;
}

enum anet_status anet_model_place(struct anet_model **m, const struct anet_placement *where)
{
    struct anet_model *old = *m, *fresh;
    if (same_placement(&old->where, where)) return ANET_OK;
    enum anet_status s = anet_model_pull(old);
    if (!s) s = anet_model_create_placed(&old->cfg, old->max_batch, where, &fresh);
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

enum anet_status anet_model_move(struct anet_model **m, enum anet_device device)
{
    struct anet_placement w = {.device = device, .parts = 1};
    if (device == ANET_DEVICE_CUDA) {
        const struct anet_placement *now = &(*m)->where;
        if (now->device == ANET_DEVICE_CUDA && now->parts == 1) return ANET_OK;
        if (anet_cuda_lane_device(0) < 0) {
            enum anet_status s = anet_cuda_init(0);
            if (s) return s;
        }
        w.gpu[0] = anet_cuda_lane_device(0);
    }
    return anet_model_place(m, &w);
}

void anet_model_free(struct anet_model *m)
{
    if (!m) return;
    for (int p = 0; p < m->parts; p++) free_part(m, &m->part[p]);
    free(m->params), free(m->grads), free(m->moms), free(m->prob), free(m->h_logits);
    if (on_gpu(m)) anet_cuda_free(m->d_prob), anet_cuda_free(m->d_labels);
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
    m->ops->conv_forward(&cb->cd, x, w->data, b->data, cb->conv_out, P->work);
    m->ops->act_forward(c->act, count, cb->conv_out, cb->conv_out);
    const float *cur = cb->conv_out;
    if (cb->has_lrn) { /* n × k maps as (n·T) × (k/T): each tower's maps on their own */
        m->ops->lrn_forward(n * T, cb->cd.k / T, hw, &cb->lrn, cur, cb->lrn_out,
                            cb->lrn_scale);
        cur = cb->lrn_out;
    }
    if (cb->has_pool) m->ops->maxpool_forward(&cb->pd, cur, cb->pool_out, cb->pool_arg);
}

/* The fully connected layer and its activation: n × out. */
static void fc_block_forward(struct anet_model *m, struct part *P, int j, const float *x, int n)
{
    struct fc_block *fb = &P->fc[j];
    const struct anet_tensor *w = &P->t[2 * (ANET_CONV_LAYERS + j)], *b = w + 1;
    fb->x = x;
    m->ops->fc_forward(n, fb->in, fb->out, x, w->data, b->data, fb->fc_out);
    if (fb->has_act) m->ops->act_forward(m->cfg.act, (size_t)n * fb->out, fb->fc_out, fb->fc_out);
}

/* Dropout on every part's outputs (n × full), the same masks in each part. */
static void fc_block_dropout(struct anet_model *m, struct part *P, int j, int n)
{
    struct fc_block *fb = &P->fc[j];
    fb->y = fb->all;
    if (!fb->has_dropout || !m->train) return;
    m->ops->dropout_forward((size_t)n * fb->full, m->cfg.dropout, m->seed, m->step,
                            fb->purpose, fb->all, fb->drop_out);
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

/* Every part's input: part 0's (uploaded there), shared on the same device, copied to
 * another. */
static void share_input(struct anet_model *m, const float *x, int n)
{
    m->part[0].input = (float *)x;
    meet(m);
    for (int p = 1; p < m->parts; p++) {
        struct part *P = &m->part[p];
        P->input = (float *)x;
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

enum anet_status anet_model_forward(struct anet_model *m, const float *x, int n, int train,
                                    uint64_t seed, uint32_t step, const float **logits)
{
    m->n = 0;
    if (n < 1 || n > m->max_batch)
        return anet_fail(ANET_ERR_INVALID, "batch of %d images: the model holds 1 to %d", n,
                         m->max_batch);
    m->n = n, m->train = train, m->seed = seed, m->step = step;
    enum anet_status s;
    use(m, 0);
    float *in = m->part[0].own_input;
    if (on_gpu(m) && x != in) {
        if ((s = anet_cuda_upload(in, x, (size_t)n * m->input_size * sizeof(float))))
            return m->n = 0, s;
        x = in;
    }
    share_input(m, x, n);
    forward_layers(m, n);
    const float *cur = m->part[0].fc[ANET_FC_LAYERS - 1].y;
    if (on_gpu(m)) {
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
    const float *logits = m->part[0].fc[ANET_FC_LAYERS - 1].y; /* every part's, in part 0 */
    if (!on_gpu(m)) {
        *loss = m->ops->softmax_xent_forward(m->n, m->cfg.classes, logits, labels, m->prob);
        return ANET_OK;
    }
    use(m, 0);
    size_t len = (size_t)m->n * m->cfg.classes;
    enum anet_status s = anet_cuda_upload(m->d_labels, labels, (size_t)m->n * sizeof *labels);
    if (s) return s;
    *loss = m->ops->softmax_xent_forward(m->n, m->cfg.classes, logits, m->d_labels, m->d_prob);
    return anet_cuda_download(m->prob, m->d_prob, len * sizeof(float));
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
    if (fb->has_dropout && m->train)
        m->ops->dropout_backward((size_t)n * fb->full, m->cfg.dropout, m->seed, m->step,
                                 fb->purpose, P->g, P->g);
    if (m->parts > 1) { /* this part's columns */
        copy_rows(m, (int)(P - m->part), P->o, (size_t)fb->out, P->g + fb->off,
                  (size_t)fb->full, (size_t)fb->out, (size_t)n);
        swap(&P->g, &P->o);
    }
    if (fb->has_act) m->ops->act_backward(m->cfg.act, (size_t)n * fb->out, fb->fc_out, P->g, P->g);
    m->ops->fc_backward(n, fb->in, fb->out, fb->x, w->data, P->g, P->o, w->grad, b->grad);
    swap(&P->g, &P->o);
}

/* P->g holds dL/d(block output); leaves dL/d(block input) in P->g (a partial sum over the
 * parts when the block gathers its input). */
static void conv_block_backward(struct anet_model *m, struct part *P, int i)
{
    const struct anet_config *c = &m->cfg;
    struct conv_block *cb = &P->conv[i];
    struct anet_tensor *w = &P->t[2 * i], *b = &P->t[2 * i + 1];
    int n = m->n, hw = cb->pd.h * cb->pd.w, T = cb->lrn_towers;
    if (cb->has_pool) {
        m->ops->maxpool_backward(&cb->pd, P->g, cb->pool_arg, P->o);
        swap(&P->g, &P->o);
    }
    if (cb->has_lrn) {
        m->ops->lrn_backward(n * T, cb->cd.k / T, hw, &cb->lrn, cb->conv_out, cb->lrn_out,
                             cb->lrn_scale, P->g, P->o);
        swap(&P->g, &P->o);
    }
    m->ops->act_backward(c->act, (size_t)n * cb->conv_size, cb->conv_out, P->g, P->g);
    m->ops->conv_backward(&cb->cd, cb->in, w->data, P->g, i > 0 ? P->o : NULL, w->grad,
                          b->grad, P->work);
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

void anet_model_backward(struct anet_model *m, const int32_t *labels)
{
    int parts = m->parts;
    struct part *P0 = &m->part[0];
    use(m, 0);
    if (!on_gpu(m))
        m->ops->softmax_xent_backward(m->n, m->cfg.classes, m->prob, labels, P0->g);
    else /* the labels and probabilities anet_model_loss left on the device */
        m->ops->softmax_xent_backward(m->n, m->cfg.classes, m->d_prob, m->d_labels, P0->g);
    if (parts > 1) share_logit_gradient(m);
    size_t cnt[ANET_MAX_PARTS];
    for (int j = ANET_FC_LAYERS - 1; j >= 0; j--) {
        for (int p = 0; p < parts; p++) {
            use(m, p);
            fc_block_backward(m, &m->part[p], j);
        }
        if (parts == 1) continue;
        for (int p = 0; p < parts; p++) /* fc6: each part's conv5 maps; else whole rows */
            cnt[p] = m->part[p].conv[ANET_CONV_LAYERS - 1].out_size;
        sum_gradients(m, (size_t)P0->fc[j].in, j == 0 ? cnt : NULL);
    }
    for (int i = ANET_CONV_LAYERS - 1; i >= 0; i--) {
        for (int p = 0; p < parts; p++) {
            use(m, p);
            conv_block_backward(m, &m->part[p], i);
        }
        if (!P0->conv[i].gather) continue;
        for (int p = 0; p < parts; p++) cnt[p] = m->part[p].conv[i - 1].out_size;
        sum_gradients(m, P0->conv[i].in_size, cnt);
    }
    /* conv1's weight gradient of every part reads the batch, which may be part 0's buffer:
       nothing may write the next batch there before they are done */
    meet(m);
    use(m, 0);
}

void anet_model_update(struct anet_model *m, const struct anet_sgd *h)
{
#ifdef ANET_CUDA
    if (on_gpu(m)) { /* every tensor of a part in one launch, on its lane */
        for (int p = 0; p < m->parts; p++) {
            struct anet_cuda_sgd_list l = {.count = ANET_TENSORS};
            for (int t = 0; t < ANET_TENSORS; t++) {
                struct anet_tensor *T = &m->part[p].t[t];
                l.w[t] = T->data, l.g[t] = T->grad, l.v[t] = T->momentum, l.n[t] = T->count;
                l.decay[t] = T->is_weight ? h->decay : 0.0f;
            }
            use(m, p);
            anet_cuda_sgd_update_list(&l, h->lr, h->momentum);
        }
        use(m, 0);
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
