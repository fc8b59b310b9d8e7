/* Times every op of the paper's network on the GPU at its shapes, forward and backward,
 * and the whole training step (forward, loss, backward, SGD update), in each precision.
 *
 *   cuda_ops [--batch 128] [--iters 20] [--precision fp32,tf32,bf16] [--device 0]
 *
 * Prints "#op precision batch fwd_ms bwd_ms" rows, then for the whole step a line in the
 * format of the PyTorch peer (bench/peers/torch_alexnet.py):
 *   model mode phase batch img_per_s ms peak_MiB
 * Times are the mean over iters after 3 warm-up rounds, measured between stream
 * synchronisations. Without a GPU it says so and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "alexnet/backend.h"
#include "alexnet/loader.h"
#include "alexnet/model.h"
#include "alexnet/ops.h"
#include "alexnet/rng.h"

static int iters = 20, batch = 128;
static struct anet_backend *B; /* the GPU backend of the precision being timed */

static void fail_if(enum anet_status s)
{
    if (!s) return;
    fprintf(stderr, "cuda_ops: %s\n", anet_error_detail());
    exit(1);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *dev(size_t n)
{
    float *p = B->ops->alloc(B, n * sizeof(float));
    if (!p) fail_if(anet_backend_error(B) ? ANET_ERR_DEVICE : ANET_ERR_NOMEM);
    return p;
}

/* The op under test, run once: fwd (dir 0) or bwd (dir 1). */
typedef void (*op_fn)(void *ctx, int dir);

static double time_ms(op_fn f, void *ctx, int dir)
{
    for (int i = 0; i < 3; i++) f(ctx, dir);
    fail_if(anet_backend_sync(B));
    double t0 = now();
    for (int i = 0; i < iters; i++) f(ctx, dir);
    fail_if(anet_backend_sync(B));
    return (now() - t0) * 1e3 / iters;
}

static void report(const char *name, enum anet_precision p, op_fn f, void *ctx)
{
    double fw = time_ms(f, ctx, 0), bw = time_ms(f, ctx, 1);
    printf("%s\t%s\t%d\t%.4f\t%.4f\n", name, anet_precision_name(p), batch, fw, bw);
    fflush(stdout);
}

/* ---- one context per kind of op ---------------------------------------------------------- */
struct conv_ctx { struct anet_conv_desc d; float *x, *w, *b, *y, *dx, *dw, *db; };
static void conv_op(void *v, int dir)
{
    struct conv_ctx *c = v;
    if (!dir) B->ops->conv_forward(B, &c->d, c->x, c->w, c->b, c->y, NULL);
    else B->ops->conv_backward(B, &c->d, c->x, c->w, c->y, c->d.c == 3 ? NULL : c->dx, c->dw, c->db, NULL);
}

struct fc_ctx { int in, out; float *x, *w, *b, *y, *dx, *dw, *db; };
static void fc_op(void *v, int dir)
{
    struct fc_ctx *c = v;
    if (!dir) B->ops->fc_forward(B, batch, c->in, c->out, c->x, c->w, c->b, c->y);
    else B->ops->fc_backward(B, batch, c->in, c->out, c->x, c->w, c->y, c->dx, c->dw, c->db);
}

struct ew_ctx { int c, hw; size_t count; struct anet_pool_desc pd; float *x, *y, *s, *dx; int32_t *arg; };
static const struct anet_lrn_param lrnp = {5, 2.0f, 1e-4f, 0.75f};
static void lrn_op(void *v, int dir)
{
    struct ew_ctx *c = v;
    if (!dir) B->ops->lrn_forward(B, batch, c->c, c->hw, &lrnp, c->x, c->y, c->s);
    else B->ops->lrn_backward(B, batch, c->c, c->hw, &lrnp, c->x, c->y, c->s, c->y, c->dx);
}
static void pool_op(void *v, int dir)
{
    struct ew_ctx *c = v;
    if (!dir) B->ops->maxpool_forward(B, &c->pd, c->x, c->y, c->arg);
    else B->ops->maxpool_backward(B, &c->pd, c->y, c->arg, c->dx);
}
static void relu_op(void *v, int dir)
{
    struct ew_ctx *c = v;
    if (!dir) B->ops->act_forward(B, ANET_ACT_RELU, c->count, c->x, c->y);
    else B->ops->act_backward(B, ANET_ACT_RELU, c->count, c->y, c->y, c->dx);
}
static void dropout_op(void *v, int dir)
{
    struct ew_ctx *c = v;
    if (!dir) B->ops->dropout_forward(B, c->count, 0.5f, 2.0f, 1, 2, ANET_RNG_DROPOUT, 0, c->x, c->y);
    else B->ops->dropout_backward(B, c->count, 0.5f, 2.0f, 1, 2, ANET_RNG_DROPOUT, 0, c->y, c->dx);
}

static void bench_ops(enum anet_precision p, const struct anet_layer_info *info, const struct anet_config *cfg)
{
    for (int l = 0; l < ANET_LAYERS; l++) {
        const struct anet_layer_info *L = &info[l];
        size_t xs = (size_t)batch * L->in_c * L->in_h * L->in_w;
        size_t ys = (size_t)batch * L->out_c * L->out_h * L->out_w;
        if (L->is_conv) {
            struct conv_ctx c = {.d = {batch, L->in_c, L->in_h, L->in_w, L->out_c, L->kh, L->kw,
                                       L->stride, L->pad, L->groups}};
            c.x = dev(xs), c.dx = dev(xs), c.w = dev(L->weights), c.dw = dev(L->weights);
            c.b = dev(L->biases), c.db = dev(L->biases), c.y = dev(ys);
            report(L->name, p, conv_op, &c);
            B->ops->free(B, c.x), B->ops->free(B, c.dx), B->ops->free(B, c.w), B->ops->free(B, c.dw);
            B->ops->free(B, c.b), B->ops->free(B, c.db), B->ops->free(B, c.y);
        } else {
            struct fc_ctx c = {.in = L->in_c, .out = L->out_c};
            c.x = dev((size_t)batch * c.in), c.dx = dev((size_t)batch * c.in);
            c.w = dev(L->weights), c.dw = dev(L->weights), c.b = dev(L->biases);
            c.db = dev(L->biases), c.y = dev((size_t)batch * c.out);
            report(L->name, p, fc_op, &c);
            B->ops->free(B, c.x), B->ops->free(B, c.dx), B->ops->free(B, c.w), B->ops->free(B, c.dw);
            B->ops->free(B, c.b), B->ops->free(B, c.db), B->ops->free(B, c.y);
        }
    }
    if (p != ANET_FP32) return; /* the rest is fp32 in every mode */
    for (int l = 0; l < 2; l++) { /* lrn1, lrn2; pool1, pool2 */
        const struct anet_layer_info *L = &info[l];
        struct ew_ctx c = {.c = L->out_c, .hw = L->out_h * L->out_w};
        c.count = (size_t)batch * c.c * c.hw;
        c.x = dev(c.count), c.y = dev(c.count), c.s = dev(c.count), c.dx = dev(c.count);
        c.arg = (int32_t *)dev(c.count);
        c.pd = (struct anet_pool_desc){batch, L->out_c, L->out_h, L->out_w, cfg->pool_size, cfg->pool_stride};
        char name[16];
        snprintf(name, sizeof name, "lrn%d", l + 1), report(name, p, lrn_op, &c);
        snprintf(name, sizeof name, "pool%d", l + 1), report(name, p, pool_op, &c);
        snprintf(name, sizeof name, "relu%d", l + 1), report(name, p, relu_op, &c);
        B->ops->free(B, c.x), B->ops->free(B, c.y), B->ops->free(B, c.s), B->ops->free(B, c.dx);
        B->ops->free(B, c.arg);
    }
    struct ew_ctx d = {.count = (size_t)batch * cfg->fc[0]};
    d.x = dev(d.count), d.y = dev(d.count), d.dx = dev(d.count);
    report("dropout6", p, dropout_op, &d);
    B->ops->free(B, d.x), B->ops->free(B, d.y), B->ops->free(B, d.dx);
}

/* The whole step of a GPU model placed as *w with its input already on the device (fed
 * once: every step reads the same batch). */
static void bench_step(enum anet_precision p, const struct anet_config *cfg,
                       const struct anet_placement *w)
{
    struct anet_model *m;
    struct anet_feed *f;
    char model[32] = "alexnet-c";
    if (w->parts > 1)
        snprintf(model, sizeof model, "alexnet-c-%d,%d", anet_backend_lane_gpu(B, w->lane[0]),
                 anet_backend_lane_gpu(B, w->lane[1]));
    fail_if(anet_model_create_placed(cfg, batch, w, &m));
    anet_model_init(m, 1);
    size_t in = (size_t)batch * cfg->channels * cfg->crop * cfg->crop;
    float *hx = malloc(in * sizeof *hx);
    int32_t *labels = malloc(batch * sizeof *labels);
    for (size_t i = 0; i < in; i++) hx[i] = 50.0f * anet_rng_normal(3, 0, ANET_RNG_TEST, i);
    for (int i = 0; i < batch; i++) labels[i] = i % cfg->classes;
    fail_if(anet_feed_open(m, NULL, cfg->channels, cfg->crop, cfg->crop, batch, 1, &f));
    struct anet_batch b = {.n = batch, .crops = 1, .x = hx, .labels = labels};
    fail_if(anet_feed_put(f, &b));
    struct anet_sgd h;
    anet_sgd_default(&h);
    double loss = 0, t0 = 0;
    for (int phase = 0; phase < 2; phase++) {
        for (int i = 0; i < 3 + iters; i++) {
            if (i == 3) fail_if(anet_backend_sync(B)), t0 = now();
            fail_if(anet_model_forward_fed(m, f, 0, batch, !phase, 1, (uint32_t)i, NULL));
            if (phase == 0) {
                fail_if(anet_model_loss(m, labels, &loss));
                fail_if(anet_model_backward(m));
                fail_if(anet_model_update(m, &h));
            }
            if (i == 2 + iters) {
                fail_if(anet_backend_sync(B));
                double ms = (now() - t0) * 1e3 / iters;
                struct anet_backend_memory mem;
                anet_backend_memory(B, &mem);
                printf("%s\t%s\t%s\t%d\t%.1f\t%.2f\t%.0f\n", model, anet_precision_name(p),
                       phase ? "infer" : "train", batch, batch * 1e3 / ms, ms,
                       mem.peak / 1048576.0);
                fflush(stdout);
            }
        }
    }
    fprintf(stderr, "cuda_ops: %s last training loss %.4f\n", anet_precision_name(p), loss);
    anet_feed_free(f);
    anet_model_free(m);
    free(hx), free(labels);
}

/* A fresh backend for precision p (a fresh pool: its peak is what was timed). */
static int open_backend(const int *gpus, int lanes, enum anet_precision p)
{
    anet_backend_free(B);
    B = NULL;
    return anet_backend_cuda(gpus, lanes, p, &B) ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *precisions = "fp32,tf32,bf16";
    int gpus[2] = {0, 0}, lanes = 1, step_only = 0;
    struct anet_placement w = {.parts = 1};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) precisions = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) gpus[0] = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--gpus") && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d", &gpus[0], &gpus[1]) != 2) {
                fprintf(stderr, "cuda_ops: --gpus wants two GPU numbers, e.g. 0,0\n");
                return 2;
            }
            lanes = 2, w.parts = 2, w.lane[1] = 1;
        } else if (!strcmp(argv[i], "--step-only")) step_only = 1;
        else {
            fprintf(stderr, "Usage: cuda_ops [--batch N] [--iters N] [--precision LIST] [--device N]\n"
                            "                [--gpus A,B] [--step-only]\n"
                            "  --gpus A,B: the step with a tower on each of two lanes (GPUs A, B)\n"
                            "  --step-only: the whole step, not every op\n");
            return 2;
        }
    }
    if (batch < 1 || iters < 1) {
        fprintf(stderr, "cuda_ops: --batch and --iters must be >= 1\n");
        return 2;
    }
    if (open_backend(gpus, lanes, ANET_FP32)) {
        printf("# cuda_ops: %s: nothing to time\n", anet_error_detail());
        return 0;
    }
    struct anet_config cfg;
    anet_config_default(&cfg);
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(&cfg, info);
    printf("# %s\n#op\tprecision\tbatch\tfwd_ms\tbwd_ms\n", anet_backend_lane_name(B, 0));
    char list[64];
    snprintf(list, sizeof list, "%s", precisions);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        enum anet_precision p;
        if (anet_precision_parse(tok, &p)) {
            fprintf(stderr, "cuda_ops: %s\n", anet_error_detail());
            return 2;
        }
        if (open_backend(gpus, lanes, p)) fail_if(ANET_ERR_DEVICE);
        if (!step_only) bench_ops(p, info, &cfg);
    }
    printf("#model\tmode\tphase\tbatch\timg_per_s\tms\tpeak_MiB\n");
    snprintf(list, sizeof list, "%s", precisions);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        enum anet_precision p;
        anet_precision_parse(tok, &p);
        if (open_backend(gpus, lanes, p)) fail_if(ANET_ERR_DEVICE);
        w.backend = B;
        bench_step(p, &cfg, &w);
    }
    anet_backend_free(B);
    return 0;
}
