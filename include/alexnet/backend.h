/* Backends: where a model computes, as objects.
 *
 * A backend is a device context that the caller creates, places models on, and frees after
 * them. It owns everything a device needs: on a GPU its lanes (a stream on a device, with
 * its own cuDNN and cuBLAS handles, scratch buffers and workspace), a pool of device memory,
 * the cache of convolution plans, the arithmetic (precision), and the first failure it met.
 * Nothing of it is global: two backends on two GPUs, or at two precisions, live side by
 * side in one process. A backend is used by one thread at a time; threads that compute at
 * once use backends of their own.
 *
 * The interface is a table of functions (struct anet_backend_ops): every op of
 * alexnet/ops.h, generated from its one list, plus what a model needs to live on a device:
 * memory, copies to and from the host and between lanes, barriers between lanes, a sum, the
 * SGD update of a list of tensors, and the augmentation of uint8 batches. The CPU tables
 * (the fast path and the reference loops) are in lib/cpu/backend.c, the CUDA table in
 * lib/cuda/backend.cu; lib/model calls through the table and nothing else.
 *
 * Failures: the ops return nothing, like the CPU ops. A backend records the first failure
 * (a CUDA, cuDNN or cuBLAS call, a kernel launch, an allocation) with the call, file and
 * line; every later call does nothing, and anet_backend_error() returns it. The model checks
 * after each of its calls and returns the failure from the call that met it. A backend that
 * failed stays failed: free it. */
#ifndef ANET_BACKEND_H
#define ANET_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "ops.h"
#include "status.h"

enum anet_device { ANET_DEVICE_CPU = 0, ANET_DEVICE_CUDA = 1 };

/* Which implementation of the CPU ops: the fast path (default) or the reference loops
 * (for tests). */
enum anet_path { ANET_PATH_FAST = 0, ANET_PATH_REF = 1 };

/* The arithmetic of convolutions and fully connected layers on a GPU (the other ops are
 * fp32; the CPU is always fp32):
 *   fp32  IEEE single precision, tensor cores off: the paper's arithmetic
 *   tf32  fp32 storage, tensor-core products with 10-bit mantissas, fp32 sums
 *   bf16  inputs rounded to bfloat16, fp32 accumulation, fp32 weights and updates */
enum anet_precision { ANET_FP32 = 0, ANET_TF32 = 1, ANET_BF16 = 2 };
const char *anet_precision_name(enum anet_precision p);
/* "fp32", "tf32", "bf16" -> *p; ANET_ERR_INVALID naming the text otherwise. */
enum anet_status anet_precision_parse(const char *text, enum anet_precision *p);

/* Lanes: a model's two towers may run side by side on two lanes of one backend (the paper's
 * two GPUs: a lane on each; or two streams of one GPU). Ops run on the current lane, in
 * order; lanes meet at barriers. The CPU has ANET_MAX_LANES lanes that run one after the
 * other. */
#define ANET_MAX_LANES 4

struct anet_backend_ops;
struct anet_backend {
    const struct anet_backend_ops *ops;
    enum anet_device device;
    int lanes;       /* lanes 0 .. lanes−1 */
    int host_memory; /* its memory is the host's (the CPU): host tensors serve in place */
    int feed_pixels; /* batches go to it as uint8 pixels and are augmented there */
};

/* The CPU. */
enum anet_status anet_backend_cpu(enum anet_path path, struct anet_backend **out);
/* CUDA: lane i on GPU gpus[i], i < count <= ANET_MAX_LANES (the same GPU twice gives two
 * streams of it), every conv and fc in `precision`. ANET_ERR_UNSUPPORTED "built without
 * CUDA" or "no CUDA device"; ANET_ERR_INVALID for a GPU that does not exist. */
enum anet_status anet_backend_cuda(const int *gpus, int count, enum anet_precision precision,
                                   struct anet_backend **out);
/* Frees the backend and everything it holds; models placed on it must be freed first. */
void anet_backend_free(struct anet_backend *b);

int anet_cuda_built(void);   /* 1 when this build has the CUDA backend */
int anet_cuda_devices(void); /* GPUs visible (0 without CUDA or without a GPU) */

/* "the CPU", or "NVIDIA H200 (sm_90, 139.8 GiB)" for a lane of a GPU backend. */
const char *anet_backend_lane_name(const struct anet_backend *b, int lane);
int anet_backend_lane_gpu(const struct anet_backend *b, int lane); /* -1 on the CPU */
enum anet_precision anet_backend_precision(const struct anet_backend *b);
/* The first failure (ANET_OK when none); sets this thread's detail to its text, e.g.
 * "cudnnConvolutionForward (lib/cuda/conv.cu:210): CUDNN_STATUS_BAD_PARAM". */
enum anet_status anet_backend_error(struct anet_backend *b);
/* Waits for every lane; then as anet_backend_error. */
enum anet_status anet_backend_sync(struct anet_backend *b);
/* Device memory: in use, held from the device (in use or cached), and the most held. */
struct anet_backend_memory { size_t in_use, pooled, peak; };
void anet_backend_memory(struct anet_backend *b, struct anet_backend_memory *m);
/* Gives cached memory and scratch buffers back to the device; live allocations stay. */
void anet_backend_trim(struct anet_backend *b);

/* ---- the table ------------------------------------------------------------------------- */
/* The SGD update of many tensors: tensor t is w[t], g[t], v[t] (n[t] floats) with weight
 * decay decay[t] and the learning rate lr·lr_scale[t] (every entry is read: 1 leaves lr as
 * it is, bit for bit); what sgd_update does for each, in one launch on a GPU. */
#define ANET_SGD_LIST_MAX 32
struct anet_sgd_list {
    int count;
    float *w[ANET_SGD_LIST_MAX];
    const float *g[ANET_SGD_LIST_MAX];
    float *v[ANET_SGD_LIST_MAX];
    size_t n[ANET_SGD_LIST_MAX];
    float decay[ANET_SGD_LIST_MAX];
    float lr_scale[ANET_SGD_LIST_MAX];
};

/* The bytes of the id every rank's communicator is made from (NCCL's unique id). */
#define ANET_COMM_ID_BYTES 128

#define ANET_BACKEND_OP(name, params, args) \
    void (*name)(struct anet_backend *be, ANET_UNPAREN params);
struct anet_backend_ops {
    const char *name;
    /* every op of ANET_OPS (alexnet/ops.h), with the backend first; pointers are the
       backend's memory. conv's `work` is the CPU's workspace (NULL elsewhere). */
    ANET_OPS(ANET_BACKEND_OP)
    /* the rest of the data path and of a training step */
    void (*augment)(struct anet_backend *b, int n, int crops, int c, int h, int w, int crop,
                    const uint8_t *src, const float *mean, const struct anet_crop_draw *draws,
                    float *out); /* anet_cpu_augment */
    void (*sgd_list)(struct anet_backend *b, const struct anet_sgd_list *l, float lr,
                     float momentum);
    void (*add)(struct anet_backend *b, float *y, const float *x, size_t count); /* y += x */
    /* floats of the workspace conv's `work` needs for this shape (0: pass NULL) */
    size_t (*conv_workspace)(const struct anet_backend *b, const struct anet_conv_desc *d);
    /* lanes: ops, copies and allocations go to the current one */
    void (*use)(struct anet_backend *b, int lane);
    /* each listed lane's later work waits for what every listed lane has issued so far */
    void (*barrier)(struct anet_backend *b, int count, const int *lanes);
    /* rows rows of width bytes from src (pitch spitch, memory of lane src_lane, which may
       be on another GPU) to dst (pitch dpitch, the current lane's); order it after src's
       writer with a barrier */
    void (*copy2d)(struct anet_backend *b, void *dst, size_t dpitch, int src_lane,
                   const void *src, size_t spitch, size_t width, size_t rows);
    /* memory of the current lane, zeroed; NULL when it cannot be had (recorded) */
    void *(*alloc)(struct anet_backend *b, size_t bytes);
    void (*free)(struct anet_backend *b, void *p);
    /* host memory that copies to and from this backend fastest (page-locked on a GPU) */
    void *(*host_alloc)(struct anet_backend *b, size_t bytes);
    void (*host_free)(struct anet_backend *b, void *p);
    /* copies on the current lane: host to backend; backend to host, which waits for it */
    void (*upload)(struct anet_backend *b, void *dst, const void *src, size_t bytes);
    void (*zero)(struct anet_backend *b, void *dst, size_t bytes); /* on the current lane */
    void (*download)(struct anet_backend *b, void *dst, const void *src, size_t bytes);
    /* host memory as the backend reads it, valid until the next stage on this lane: the
       host memory itself on the CPU, a copy in a lane buffer on a GPU; NULL on failure */
    const void *(*stage)(struct anet_backend *b, const void *host, size_t bytes);
    /* sums across processes with the device's own library (NCCL); NULL where the backend
       has none (the CPU, a GPU build without NCCL): alexnet/dist.h then uses MPI. comm_id
       makes the id (on one rank), comm_init joins lane's communicator of `size` ranks with
       it, allreduce sums count floats in place on the current lane's stream. */
    enum anet_status (*comm_id)(struct anet_backend *b, void *id);
    enum anet_status (*comm_init)(struct anet_backend *b, int lane, const void *id, int rank,
                                  int size);
    void (*allreduce)(struct anet_backend *b, float *data, size_t count);
    const char *(*comm_name)(struct anet_backend *b); /* "NCCL 2.28.9" */
    enum anet_status (*error)(struct anet_backend *b);
    enum anet_status (*sync)(struct anet_backend *b);
    const char *(*lane_name)(const struct anet_backend *b, int lane);
    int (*lane_gpu)(const struct anet_backend *b, int lane);
    enum anet_precision (*precision)(const struct anet_backend *b);
    void (*memory)(struct anet_backend *b, struct anet_backend_memory *m);
    void (*trim)(struct anet_backend *b);
    void (*destroy)(struct anet_backend *b);
};
#undef ANET_BACKEND_OP

#endif
