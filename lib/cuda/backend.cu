/* The CUDA backend: a context (lanes, pool, plans, precision, first failure) behind the
 * table of alexnet/backend.h. Every entry makes the current lane's device current on the
 * calling thread first (anet_cuda_enter), since another context may have moved it. */
#include <stdlib.h>
#include <string.h>
#include "common.cuh"

#define CUDA_OP(name, params, args)                                       \
    static void cuda_##name(struct anet_backend *be, ANET_UNPAREN params) \
    {                                                                      \
        struct anet_cuda *cx = cuda_of(be);                                \
        anet_cuda_enter(cx);                                               \
        anet_cuda_##name(cx, ANET_UNPAREN args);                           \
    }
ANET_OPS(CUDA_OP)

static void cuda_augment(struct anet_backend *b, int n, int crops, int ch, int h, int w,
                         int crop, const uint8_t *src, const float *mean,
                         const struct anet_crop_draw *draws, float *out)
{
    anet_cuda_enter(cuda_of(b));
    anet_cuda_augment(cuda_of(b), n, crops, ch, h, w, crop, src, mean, draws, out);
}

static void cuda_sgd_list(struct anet_backend *b, const struct anet_sgd_list *l, float lr,
                          float momentum)
{
    anet_cuda_enter(cuda_of(b));
    anet_cuda_sgd_update_list(cuda_of(b), l, lr, momentum);
}

static void cuda_add(struct anet_backend *b, float *y, const float *x, size_t count)
{
    anet_cuda_enter(cuda_of(b));
    anet_cuda_add(cuda_of(b), y, x, count);
}

static size_t cuda_conv_workspace(const struct anet_backend *b, const struct anet_conv_desc *d)
{
    (void)b, (void)d;
    return 0; /* the lane's own, grown to what the chosen algorithms need */
}

static void cuda_use(struct anet_backend *b, int lane) { anet_cuda_use(cuda_of(b), lane); }

static void cuda_barrier(struct anet_backend *b, int count, const int *lanes)
{
    anet_cuda_barrier(cuda_of(b), count, lanes);
}

static void cuda_copy2d(struct anet_backend *b, void *dst, size_t dpitch, int src_lane,
                        const void *src, size_t spitch, size_t width, size_t rows)
{
    anet_cuda_enter(cuda_of(b));
    anet_cuda_copy2d(cuda_of(b), dst, dpitch, src_lane, src, spitch, width, rows);
}

static void *cuda_alloc(struct anet_backend *b, size_t bytes)
{
    anet_cuda_enter(cuda_of(b));
    return anet_cuda_calloc(cuda_of(b), bytes ? bytes : 1);
}

static void cuda_free(struct anet_backend *b, void *p) { anet_cuda_free(cuda_of(b), p); }

static void *cuda_host_alloc(struct anet_backend *b, size_t bytes)
{
    return anet_cuda_host_alloc(cuda_of(b), bytes);
}

static void cuda_host_free(struct anet_backend *b, void *p)
{
    anet_cuda_host_free(cuda_of(b), p);
}

static void cuda_upload(struct anet_backend *b, void *dst, const void *src, size_t bytes)
{
    anet_cuda_enter(cuda_of(b));
    anet_cuda_upload(cuda_of(b), dst, src, bytes);
}

static void cuda_download(struct anet_backend *b, void *dst, const void *src, size_t bytes)
{
    anet_cuda_enter(cuda_of(b));
    anet_cuda_download(cuda_of(b), dst, src, bytes);
}

static void cuda_zero(struct anet_backend *b, void *dst, size_t bytes)
{
    struct anet_cuda *cx = cuda_of(b);
    anet_cuda_enter(cx);
    if (bytes && anet_cuda_ok(cx)) CU(cx, cudaMemsetAsync(dst, 0, bytes, cx->cur->stream));
}

static const void *cuda_stage(struct anet_backend *b, const void *host, size_t bytes)
{
    anet_cuda_enter(cuda_of(b));
    return anet_cuda_stage(cuda_of(b), host, bytes);
}

static enum anet_status cuda_error(struct anet_backend *b) { return anet_cuda_error(cuda_of(b)); }
static enum anet_status cuda_sync(struct anet_backend *b) { return anet_cuda_sync(cuda_of(b)); }

static const char *cuda_lane_name(const struct anet_backend *b, int lane)
{
    const struct anet_cuda *cx = (const struct anet_cuda *)b;
    return lane >= 0 && lane < b->lanes ? cx->lane[lane].name : "";
}

static int cuda_lane_gpu(const struct anet_backend *b, int lane)
{
    const struct anet_cuda *cx = (const struct anet_cuda *)b;
    return lane >= 0 && lane < b->lanes ? cx->lane[lane].device : -1;
}

static enum anet_precision cuda_precision(const struct anet_backend *b)
{
    return ((const struct anet_cuda *)b)->precision;
}

static void cuda_memory(struct anet_backend *b, struct anet_backend_memory *m)
{
    anet_cuda_memory(cuda_of(b), m);
}

static void cuda_trim(struct anet_backend *b) { anet_cuda_trim(cuda_of(b)); }
static void cuda_destroy(struct anet_backend *b) { anet_cuda_destroy(cuda_of(b)); }

/* C++ has no designated initialisers in this dialect: the table is filled member by
 * member, once, when the library is loaded. */
static struct anet_backend_ops make_ops(void)
{
    struct anet_backend_ops o;
    memset(&o, 0, sizeof o);
    o.name = "cuda";
#define CUDA_ENTRY(name, params, args) o.name = cuda_##name;
    ANET_OPS(CUDA_ENTRY)
#undef CUDA_ENTRY
    o.augment = cuda_augment, o.sgd_list = cuda_sgd_list, o.add = cuda_add;
    o.conv_workspace = cuda_conv_workspace;
    o.use = cuda_use, o.barrier = cuda_barrier, o.copy2d = cuda_copy2d;
    o.alloc = cuda_alloc, o.free = cuda_free;
    o.host_alloc = cuda_host_alloc, o.host_free = cuda_host_free;
    o.upload = cuda_upload, o.download = cuda_download, o.stage = cuda_stage;
    o.zero = cuda_zero;
    o.error = cuda_error, o.sync = cuda_sync;
    o.lane_name = cuda_lane_name, o.lane_gpu = cuda_lane_gpu, o.precision = cuda_precision;
    o.memory = cuda_memory, o.trim = cuda_trim, o.destroy = cuda_destroy;
    anet_cuda_comm_table(&o);
    return o;
}
static const struct anet_backend_ops cuda_ops = make_ops();

static int env_on(const char *name)
{
    const char *e = getenv(name);
    return e && *e && strcmp(e, "0");
}

extern "C" int anet_cuda_device_count(void) { return anet_cuda_device_count_quiet(); }

extern "C" enum anet_status anet_cuda_backend_open(const int *gpus, int count,
                                                   enum anet_precision precision,
                                                   struct anet_backend **out)
{
    *out = NULL;
    int have = anet_cuda_device_count_quiet();
    if (have == 0) return anet_fail(ANET_ERR_UNSUPPORTED, "no CUDA device");
    for (int l = 0; l < count; l++)
        if (gpus[l] < 0 || gpus[l] >= have)
            return anet_fail(ANET_ERR_INVALID,
                             "CUDA device %d does not exist (this machine has %d: 0..%d)",
                             gpus[l], have, have - 1);
    struct anet_cuda *cx = (struct anet_cuda *)calloc(1, sizeof *cx);
    if (!cx) return anet_fail(ANET_ERR_NOMEM, "out of memory for a CUDA context");
    cx->base.ops = &cuda_ops;
    cx->base.device = ANET_DEVICE_CUDA;
    cx->base.lanes = count;
    cx->base.host_memory = 0;
    cx->base.feed_pixels = 1;
    cx->precision = precision;
    cx->sync_each = env_on("ANET_CUDA_SYNC");
    cx->bf16_nhwc = env_on("ANET_CUDA_BF16_NHWC");
    for (int l = 0; l < ANET_MAX_LANES; l++) cx->lane[l].device = -1;
    cx->cur = &cx->lane[0];
    int ok = 1;
    for (int l = 0; l < count && ok; l++) ok = anet_cuda_open_lane(cx, l, gpus[l]);
    if (ok) anet_cuda_use(cx, 0);
    if (!anet_cuda_ok(cx)) {
        enum anet_status s = anet_cuda_error(cx);
        anet_cuda_destroy(cx);
        return s;
    }
    *out = &cx->base;
    return ANET_OK;
}
