/* What every backend shares: the precision names, the accessors that go through the
 * table, and the one place that knows whether this build has CUDA. */
#include <string.h>
#include "alexnet/backend.h"

const char *anet_precision_name(enum anet_precision p)
{
    return p == ANET_TF32 ? "tf32" : p == ANET_BF16 ? "bf16" : "fp32";
}

enum anet_status anet_precision_parse(const char *text, enum anet_precision *p)
{
    if (!strcmp(text, "fp32")) *p = ANET_FP32;
    else if (!strcmp(text, "tf32")) *p = ANET_TF32;
    else if (!strcmp(text, "bf16")) *p = ANET_BF16;
    else
        return anet_fail(ANET_ERR_INVALID, "precision: expected fp32, tf32 or bf16, got '%s'",
                         text);
    return ANET_OK;
}

#ifdef ANET_CUDA
/* lib/cuda/backend.cu */
enum anet_status anet_cuda_backend_open(const int *gpus, int count,
                                        enum anet_precision precision,
                                        struct anet_backend **out);
int anet_cuda_device_count(void);
int anet_cuda_built(void) { return 1; }
int anet_cuda_devices(void) { return anet_cuda_device_count(); }
#else
int anet_cuda_built(void) { return 0; }
int anet_cuda_devices(void) { return 0; }
#endif

enum anet_status anet_backend_cuda(const int *gpus, int count, enum anet_precision precision,
                                   struct anet_backend **out)
{
    *out = NULL;
    if (count < 1 || count > ANET_MAX_LANES)
        return anet_fail(ANET_ERR_INVALID, "a GPU backend has 1 to %d lanes, not %d",
                         ANET_MAX_LANES, count);
#ifdef ANET_CUDA
    return anet_cuda_backend_open(gpus, count, precision, out);
#else
    (void)gpus, (void)precision;
    return anet_fail(ANET_ERR_UNSUPPORTED, "built without CUDA");
#endif
}

void anet_backend_free(struct anet_backend *b)
{
    if (b) b->ops->destroy(b);
}

const char *anet_backend_lane_name(const struct anet_backend *b, int lane)
{
    return b->ops->lane_name(b, lane);
}

int anet_backend_lane_gpu(const struct anet_backend *b, int lane)
{
    return b->ops->lane_gpu(b, lane);
}

enum anet_precision anet_backend_precision(const struct anet_backend *b)
{
    return b->ops->precision(b);
}

enum anet_status anet_backend_error(struct anet_backend *b) { return b->ops->error(b); }
enum anet_status anet_backend_sync(struct anet_backend *b) { return b->ops->sync(b); }

void anet_backend_memory(struct anet_backend *b, struct anet_backend_memory *m)
{
    b->ops->memory(b, m);
}

void anet_backend_trim(struct anet_backend *b) { b->ops->trim(b); }
