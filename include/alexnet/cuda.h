/* The GPU: which device, which arithmetic, device memory, and the op twins.
 *
 * Every op of alexnet/ops.h has a twin anet_cuda_<op>_<dir> with the same arguments, the
 * pointers being device pointers (lib/cuda/<op>.cu). The twins run on the stream of the
 * current lane (below), in order; they return nothing, like the CPU ops: the first failing CUDA,
 * cuDNN or cuBLAS call (or kernel launch) is recorded with its name, file and line, and
 * anet_cuda_error() / anet_cuda_sync() return it as ANET_ERR_DEVICE. ANET_CUDA_SYNC=1 in
 * the environment synchronises after every launch, so that an asynchronous failure is
 * charged to the kernel that caused it.
 *
 * A build without CUDA links the same functions: anet_cuda_init() then returns
 * ANET_ERR_UNSUPPORTED "built without CUDA", and a machine without a GPU gets
 * ANET_ERR_UNSUPPORTED "no CUDA device". */
#ifndef ANET_CUDA_H
#define ANET_CUDA_H

#include <stddef.h>
#include <stdint.h>
#include "ops.h"
#include "status.h"

/* The arithmetic of convolutions and fully connected layers (the other ops are fp32):
 *   fp32  IEEE single precision, tensor cores off: the paper's arithmetic
 *   tf32  fp32 storage, tensor-core products with 10-bit mantissas, fp32 sums
 *   bf16  inputs rounded to bfloat16, fp32 accumulation, fp32 weights and updates */
enum anet_precision { ANET_FP32 = 0, ANET_TF32 = 1, ANET_BF16 = 2 };
const char *anet_precision_name(enum anet_precision p);
/* "fp32", "tf32", "bf16" -> *p; ANET_ERR_INVALID naming the text otherwise. */
enum anet_status anet_precision_parse(const char *text, enum anet_precision *p);

/* 1 when this build has the CUDA backend. */
int anet_cuda_built(void);
/* GPUs visible (0 without CUDA or without a device). */
int anet_cuda_device_count(void);
/* Makes `device` current and creates its stream and cuDNN/cuBLAS handles (once; a second
 * call with the same device does nothing). ANET_ERR_UNSUPPORTED "built without CUDA" or
 * "no CUDA device"; ANET_ERR_INVALID for a device number out of range. */
enum anet_status anet_cuda_init(int device);
/* "NVIDIA H100 80GB HBM3 (sm_90, 79.2 GiB)" after anet_cuda_init; "" before. */
const char *anet_cuda_device_name(void);
/* Frees the memory pool, the workspaces, the handles and the streams of every lane (the next
 * anet_cuda_init starts afresh). Live allocations are freed too. */
void anet_cuda_shutdown(void);
/* Gives the cached blocks and the scratch buffers back to CUDA; live allocations stay. */
void anet_cuda_trim(void);

/* Lanes: a lane is a stream on a device with its own cuDNN and cuBLAS handles and scratch
 * buffers. anet_cuda_init(d) opens lane 0 on device d and makes it current; a model whose
 * two towers run side by side opens lane 1 on the second tower's device (the same device
 * or another). Ops, copies and allocations go to the current lane; lanes run
 * concurrently and meet at barriers. Device memory belongs to the lane that allocated it. */
#define ANET_CUDA_LANES 4
/* Opens `lane` on `device` (lane 0 first); nothing when it is open there already;
 * ANET_ERR_INVALID when it is open on another device. Where two lanes' devices can reach
 * each other's memory (NVLink, PCIe peer to peer) that access is enabled. The current lane
 * stays current (a first lane 0 becomes current). */
enum anet_status anet_cuda_lane_open(int lane, int device);
void anet_cuda_lane_use(int lane);
int anet_cuda_lane_current(void);
int anet_cuda_lane_device(int lane);     /* -1 when not open */
const char *anet_cuda_lane_name(int lane); /* as anet_cuda_device_name */
/* Each listed lane's later work waits for the work every other listed lane has issued so
 * far. The current lane stays current. */
void anet_cuda_barrier(int count, const int *lanes);
/* On the current lane: rows rows of width bytes from src (pitch spitch, memory of lane
 * src_lane, which may be on another device) to dst (pitch dpitch, the current lane's).
 * Order it after src's writer with a barrier. */
void anet_cuda_copy2d(void *dst, size_t dpitch, int src_lane, const void *src, size_t spitch,
                      size_t width, size_t rows);
/* y[i] += x[i], i < count, on the current lane. */
void anet_cuda_add(float *y, const float *x, size_t count);

/* The precision of every lane. */
void anet_cuda_set_precision(enum anet_precision p);
enum anet_precision anet_cuda_precision(void);

/* Device memory, from a pool that keeps freed blocks for reuse: NULL when cudaMalloc
 * fails (and the failure is recorded). Zeroed by anet_cuda_calloc. */
void *anet_cuda_malloc(size_t bytes);
void *anet_cuda_calloc(size_t bytes);
void anet_cuda_free(void *p);
/* Page-locked host memory, which copies to and from the GPU read at full speed (NULL on
 * failure, recorded). For the loader's buffers (anet_loader_config.host_alloc). */
void *anet_cuda_host_alloc(size_t bytes);
void anet_cuda_host_free(void *p);
size_t anet_cuda_bytes_in_use(void);   /* allocated and not freed */
size_t anet_cuda_bytes_pooled(void);   /* held from cudaMalloc, in use or cached */
size_t anet_cuda_peak_bytes(void);     /* the largest bytes_pooled so far */
/* Copies on the current lane's stream; the download waits for it. An upload's source may also be device
 * memory (a copy on the device). */
enum anet_status anet_cuda_upload(void *dst, const void *src, size_t bytes);
enum anet_status anet_cuda_download(void *dst, const void *src, size_t bytes);
enum anet_status anet_cuda_memset0(void *dst, size_t bytes);
/* Waits for every lane; returns the first recorded failure (or one the wait reveals). */
enum anet_status anet_cuda_sync(void);
/* The first recorded failure without waiting; ANET_OK when none. The detail names the
 * call, e.g. "cudnnConvolutionForward (lib/cuda/conv.cu:210): CUDNN_STATUS_BAD_PARAM". */
enum anet_status anet_cuda_error(void);
/* Forgets the recorded failure (tests that provoke one). */
void anet_cuda_clear_error(void);

/* ---- op twins: alexnet/ops.h with device pointers -------------------------------------- */
/* conv: algorithms are chosen with cudnnFind once per shape and precision and cached; the
 * workspace is the backend's own, so `work` is ignored (pass NULL). */
void anet_cuda_conv_forward(const struct anet_conv_desc *d, const float *x, const float *w,
                            const float *b, float *y, float *work);
void anet_cuda_conv_backward(const struct anet_conv_desc *d, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db, float *work);
void anet_cuda_fc_forward(int n, int in, int out, const float *x, const float *w,
                          const float *b, float *y);
void anet_cuda_fc_backward(int n, int in, int out, const float *x, const float *w,
                           const float *dy, float *dx, float *dw, float *db);
void anet_cuda_lrn_forward(int n, int c, int hw, const struct anet_lrn_param *p,
                           const float *x, float *y, float *scale);
void anet_cuda_lrn_backward(int n, int c, int hw, const struct anet_lrn_param *p,
                            const float *x, const float *y, const float *scale,
                            const float *dy, float *dx);
void anet_cuda_maxpool_forward(const struct anet_pool_desc *d, const float *x, float *y,
                               int32_t *arg);
void anet_cuda_maxpool_backward(const struct anet_pool_desc *d, const float *dy,
                                const int32_t *arg, float *dx);
void anet_cuda_act_forward(enum anet_act a, size_t count, const float *x, float *y);
void anet_cuda_act_backward(enum anet_act a, size_t count, const float *y, const float *dy,
                            float *dx);
void anet_cuda_dropout_forward(size_t count, float p, uint64_t seed, uint32_t step,
                               uint32_t purpose, const float *x, float *y);
void anet_cuda_dropout_backward(size_t count, float p, uint64_t seed, uint32_t step,
                                uint32_t purpose, const float *dy, float *dx);
/* label is a device array; the loss is summed over rows in row order in double on the
 * host (this waits for the stream), as the CPU does. */
double anet_cuda_softmax_xent_forward(int n, int classes, const float *logits,
                                      const int32_t *label, float *prob);
void anet_cuda_softmax_xent_backward(int n, int classes, const float *prob,
                                     const int32_t *label, float *dlogits);
void anet_cuda_sgd_update(size_t count, float lr, float momentum, float decay, float *w,
                          const float *g, float *v);

/* The SGD update of many tensors in one launch: tensor t is w[t], g[t], v[t] (count[t]
 * floats) with weight decay decay[t]. At most ANET_CUDA_SGD_MAX tensors. */
#define ANET_CUDA_SGD_MAX 32
struct anet_cuda_sgd_list {
    int count;
    float *w[ANET_CUDA_SGD_MAX];
    const float *g[ANET_CUDA_SGD_MAX];
    float *v[ANET_CUDA_SGD_MAX];
    size_t n[ANET_CUDA_SGD_MAX];
    float decay[ANET_CUDA_SGD_MAX];
};
void anet_cuda_sgd_update_list(const struct anet_cuda_sgd_list *l, float lr, float momentum);

/* The loader's transformation (alexnet/loader.h, anet_loader_transform) on the GPU for n
 * crops of n / crops images: src is (n / crops) × c × h × w uint8 (B, G, R planes), mean
 * c × h × w floats (NULL: none), draws[i] crop i's offset, mirror and noise (device array;
 * crop i comes from image i / crops), out n × c × crop × crop. Bit for bit the loader's. */
struct anet_crop_draw;
void anet_cuda_augment(int n, int crops, int c, int h, int w, int crop, const uint8_t *src,
                       const float *mean, const struct anet_crop_draw *draws, float *out);

#endif
