/* The GPU interface where it does not depend on CUDA (precision names), and the whole of
 * it for a build without CUDA: every entry answers "built without CUDA". */
#include <string.h>
#include "alexnet/cuda.h"

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

#ifndef ANET_CUDA
static enum anet_precision precision;

int anet_cuda_built(void) { return 0; }
int anet_cuda_device_count(void) { return 0; }
enum anet_status anet_cuda_init(int device)
{
    (void)device;
    return anet_fail(ANET_ERR_UNSUPPORTED, "built without CUDA");
}
const char *anet_cuda_device_name(void) { return ""; }
void anet_cuda_shutdown(void) {}
void anet_cuda_trim(void) {}
enum anet_status anet_cuda_lane_open(int lane, int device)
{
    (void)lane, (void)device;
    return anet_fail(ANET_ERR_UNSUPPORTED, "built without CUDA");
}
void anet_cuda_lane_use(int lane) { (void)lane; }
int anet_cuda_lane_current(void) { return 0; }
int anet_cuda_lane_device(int lane) { (void)lane; return -1; }
const char *anet_cuda_lane_name(int lane) { (void)lane; return ""; }
void anet_cuda_barrier(int count, const int *lanes) { (void)count, (void)lanes; }
void anet_cuda_copy2d(void *dst, size_t dpitch, int src_lane, const void *src, size_t spitch,
                      size_t width, size_t rows)
{
    (void)dst, (void)dpitch, (void)src_lane, (void)src, (void)spitch, (void)width, (void)rows;
}
void anet_cuda_add(float *y, const float *x, size_t count) { (void)y, (void)x, (void)count; }
void anet_cuda_set_precision(enum anet_precision p) { precision = p; }
enum anet_precision anet_cuda_precision(void) { return precision; }
void *anet_cuda_malloc(size_t bytes) { (void)bytes; return NULL; }
void *anet_cuda_calloc(size_t bytes) { (void)bytes; return NULL; }
void anet_cuda_free(void *p) { (void)p; }
void *anet_cuda_host_alloc(size_t bytes) { (void)bytes; return NULL; }
void anet_cuda_host_free(void *p) { (void)p; }
size_t anet_cuda_bytes_in_use(void) { return 0; }
size_t anet_cuda_bytes_pooled(void) { return 0; }
size_t anet_cuda_peak_bytes(void) { return 0; }
static enum anet_status without(void) { return anet_fail(ANET_ERR_UNSUPPORTED, "built without CUDA"); }
enum anet_status anet_cuda_upload(void *dst, const void *src, size_t bytes)
{
    (void)dst, (void)src, (void)bytes;
    return without();
}
enum anet_status anet_cuda_download(void *dst, const void *src, size_t bytes)
{
    (void)dst, (void)src, (void)bytes;
    return without();
}
enum anet_status anet_cuda_memset0(void *dst, size_t bytes)
{
    (void)dst, (void)bytes;
    return without();
}
/* The op twins: never reached, since nothing gets a device without anet_cuda_init. */
void anet_cuda_conv_forward(const struct anet_conv_desc *d, const float *x, const float *w,
                            const float *b, float *y, float *work)
{
    (void)d, (void)x, (void)w, (void)b, (void)y, (void)work;
}
void anet_cuda_conv_backward(const struct anet_conv_desc *d, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db, float *work)
{
    (void)d, (void)x, (void)w, (void)dy, (void)dx, (void)dw, (void)db, (void)work;
}
void anet_cuda_fc_forward(int n, int in, int out, const float *x, const float *w,
                          const float *b, float *y)
{
    (void)n, (void)in, (void)out, (void)x, (void)w, (void)b, (void)y;
}
void anet_cuda_fc_backward(int n, int in, int out, const float *x, const float *w,
                           const float *dy, float *dx, float *dw, float *db)
{
    (void)n, (void)in, (void)out, (void)x, (void)w, (void)dy, (void)dx, (void)dw, (void)db;
}
void anet_cuda_lrn_forward(int n, int c, int hw, const struct anet_lrn_param *p,
                           const float *x, float *y, float *scale)
{
    (void)n, (void)c, (void)hw, (void)p, (void)x, (void)y, (void)scale;
}
void anet_cuda_lrn_backward(int n, int c, int hw, const struct anet_lrn_param *p,
                            const float *x, const float *y, const float *scale,
                            const float *dy, float *dx)
{
    (void)n, (void)c, (void)hw, (void)p, (void)x, (void)y, (void)scale, (void)dy, (void)dx;
}
void anet_cuda_maxpool_forward(const struct anet_pool_desc *d, const float *x, float *y,
                               int32_t *arg)
{
    (void)d, (void)x, (void)y, (void)arg;
}
void anet_cuda_maxpool_backward(const struct anet_pool_desc *d, const float *dy,
                                const int32_t *arg, float *dx)
{
    (void)d, (void)dy, (void)arg, (void)dx;
}
void anet_cuda_act_forward(enum anet_act a, size_t count, const float *x, float *y)
{
    (void)a, (void)count, (void)x, (void)y;
}
void anet_cuda_act_backward(enum anet_act a, size_t count, const float *y, const float *dy,
                            float *dx)
{
    (void)a, (void)count, (void)y, (void)dy, (void)dx;
}
void anet_cuda_dropout_forward(size_t count, float p, uint64_t seed, uint32_t step,
                               uint32_t purpose, const float *x, float *y)
{
    (void)count, (void)p, (void)seed, (void)step, (void)purpose, (void)x, (void)y;
}
void anet_cuda_dropout_backward(size_t count, float p, uint64_t seed, uint32_t step,
                                uint32_t purpose, const float *dy, float *dx)
{
    (void)count, (void)p, (void)seed, (void)step, (void)purpose, (void)dy, (void)dx;
}
double anet_cuda_softmax_xent_forward(int n, int classes, const float *logits,
                                      const int32_t *label, float *prob)
{
    (void)n, (void)classes, (void)logits, (void)label, (void)prob;
    return 0.0 / 0.0;
}
void anet_cuda_softmax_xent_backward(int n, int classes, const float *prob,
                                     const int32_t *label, float *dlogits)
{
    (void)n, (void)classes, (void)prob, (void)label, (void)dlogits;
}
void anet_cuda_sgd_update(size_t count, float lr, float momentum, float decay, float *w,
                          const float *g, float *v)
{
    (void)count, (void)lr, (void)momentum, (void)decay, (void)w, (void)g, (void)v;
}
void anet_cuda_sgd_update_list(const struct anet_cuda_sgd_list *l, float lr, float momentum)
{
    (void)l, (void)lr, (void)momentum;
}
void anet_cuda_augment(int n, int crops, int c, int h, int w, int crop, const uint8_t *src,
                       const float *mean, const struct anet_crop_draw *draws, float *out)
{
    (void)n, (void)crops, (void)c, (void)h, (void)w, (void)crop, (void)src, (void)mean,
        (void)draws, (void)out;
}
enum anet_status anet_cuda_sync(void) { return ANET_OK; }
enum anet_status anet_cuda_error(void) { return ANET_OK; }
void anet_cuda_clear_error(void) {}
#endif
