/* The CPU backends: the fast path and the reference loops, as tables generated from the
 * one op list (ANET_OPS), and host memory for everything else. The CPU's lanes run one
 * after the other, so barriers do nothing and a copy between lanes is a memcpy. A CPU
 * backend holds no state beyond its table: any number of models and threads may share
 * one (each op parallelises itself with OpenMP). */
#include <stdlib.h>
#include <string.h>
#include "alexnet/backend.h"

#define CPU_FAST_OP(name, params, args)                                  \
    static void cpu_##name(struct anet_backend *be, ANET_UNPAREN params) \
    {                                                                     \
        (void)be;                                                         \
        anet_cpu_##name args;                                            \
    }
#define CPU_REF_OP(name, params, args)                                       \
    static void cpu_ref_##name(struct anet_backend *be, ANET_UNPAREN params) \
    {                                                                         \
        (void)be;                                                             \
        anet_cpu_##name##_ref args;                                          \
    }
ANET_OPS(CPU_FAST_OP)
ANET_OPS(CPU_REF_OP)

static void cpu_augment(struct anet_backend *b, int n, int crops, int c, int h, int w,
                        int crop, const uint8_t *src, const float *mean,
                        const struct anet_crop_draw *draws, float *out)
{
    (void)b;
    anet_cpu_augment(n, crops, c, h, w, crop, src, mean, draws, out);
}

/* Tensor by tensor through the table's own sgd_update, in list order. */
static void cpu_sgd_list(struct anet_backend *b, const struct anet_sgd_list *l, float lr,
                         float momentum)
{
    for (int t = 0; t < l->count; t++)
        b->ops->sgd_update(b, l->n[t], lr * l->lr_scale[t], momentum, l->decay[t], l->w[t],
                           l->g[t], l->v[t]);
}

static void cpu_add(struct anet_backend *b, float *y, const float *x, size_t count)
{
    (void)b;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) y[i] += x[i];
}

static size_t cpu_conv_workspace(const struct anet_backend *b, const struct anet_conv_desc *d)
{
    (void)b;
    return anet_cpu_conv_workspace(d);
}

static size_t no_workspace(const struct anet_backend *b, const struct anet_conv_desc *d)
{
    (void)b, (void)d;
    return 0;
}

static void cpu_use(struct anet_backend *b, int lane) { (void)b, (void)lane; }

static void cpu_barrier(struct anet_backend *b, int count, const int *lanes)
{
    (void)b, (void)count, (void)lanes;
}

static void cpu_copy2d(struct anet_backend *b, void *dst, size_t dpitch, int src_lane,
                       const void *src, size_t spitch, size_t width, size_t rows)
{
    (void)b, (void)src_lane;
    for (size_t r = 0; r < rows; r++)
        memcpy((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
}

/* 64-byte aligned and zeroed, rounded up to whole cache lines. */
static void *cpu_alloc(struct anet_backend *b, size_t bytes)
{
    (void)b;
    void *p = NULL;
    bytes = ((bytes ? bytes : 1) + 63) / 64 * 64;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    memset(p, 0, bytes);
    return p;
}

static void cpu_free(struct anet_backend *b, void *p)
{
    (void)b;
    free(p);
}

static void cpu_copy(struct anet_backend *b, void *dst, const void *src, size_t bytes)
{
    (void)b;
    if (dst != src && bytes) memcpy(dst, src, bytes);
}

static void cpu_zero(struct anet_backend *b, void *dst, size_t bytes)
{
    (void)b;
    memset(dst, 0, bytes);
}

static const void *cpu_stage(struct anet_backend *b, const void *host, size_t bytes)
{
    (void)b, (void)bytes;
    return host;
}

static enum anet_status cpu_ok(struct anet_backend *b)
{
    (void)b;
    return ANET_OK;
}

static const char *cpu_lane_name(const struct anet_backend *b, int lane)
{
    (void)b, (void)lane;
    return "the CPU";
}

static int cpu_lane_gpu(const struct anet_backend *b, int lane)
{
    (void)b, (void)lane;
    return -1;
}

static enum anet_precision cpu_precision(const struct anet_backend *b)
{
    (void)b;
    return ANET_FP32;
}

static void cpu_memory(struct anet_backend *b, struct anet_backend_memory *m)
{
    (void)b;
    memset(m, 0, sizeof *m);
}

static void cpu_trim(struct anet_backend *b) { (void)b; }

static void cpu_destroy(struct anet_backend *b) { free(b); }

#define CPU_COMMON                                                                          \
    .augment = cpu_augment, .sgd_list = cpu_sgd_list, .add = cpu_add, .use = cpu_use,      \
    .barrier = cpu_barrier, .copy2d = cpu_copy2d, .alloc = cpu_alloc, .free = cpu_free,    \
    .host_alloc = cpu_alloc, .host_free = cpu_free, .upload = cpu_copy,                    \
    .download = cpu_copy, .zero = cpu_zero, .stage = cpu_stage, .error = cpu_ok, .sync = cpu_ok,             \
    .lane_name = cpu_lane_name, .lane_gpu = cpu_lane_gpu, .precision = cpu_precision,      \
    .memory = cpu_memory, .trim = cpu_trim, .destroy = cpu_destroy

#define CPU_FAST_ENTRY(name, params, args) .name = cpu_##name,
#define CPU_REF_ENTRY(name, params, args) .name = cpu_ref_##name,
static const struct anet_backend_ops cpu_fast_ops = {
    .name = "cpu", ANET_OPS(CPU_FAST_ENTRY) .conv_workspace = cpu_conv_workspace, CPU_COMMON};
static const struct anet_backend_ops cpu_ref_ops = {
    .name = "cpu-ref", ANET_OPS(CPU_REF_ENTRY) .conv_workspace = no_workspace, CPU_COMMON};

enum anet_status anet_backend_cpu(enum anet_path path, struct anet_backend **out)
{
    struct anet_backend *b = calloc(1, sizeof *b);
    if (!b) return *out = NULL, anet_fail(ANET_ERR_NOMEM, "out of memory for a CPU backend");
    b->ops = path == ANET_PATH_REF ? &cpu_ref_ops : &cpu_fast_ops;
    b->device = ANET_DEVICE_CPU;
    b->lanes = ANET_MAX_LANES;
    b->host_memory = 1;
    b->feed_pixels = 0;
    *out = b;
    return ANET_OK;
}
