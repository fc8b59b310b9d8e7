/* What every lib/cuda file shares: the CUDA context (a backend: its lanes, memory pool,
 * convolution plans, precision and first failure), the checked-call macros, launch helpers,
 * and the GPU twin of every op. */
#ifndef ANET_CUDA_COMMON_CUH
#define ANET_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cublas_v2.h>
#include <cudnn.h>
#include <stdint.h>
#include <stddef.h>

extern "C" {
#include "alexnet/backend.h"
#include "alexnet/status.h"
}

/* Scratch memory owned by a lane, grown on demand and kept: slot 0 the cuDNN workspace,
 * slots 1.. bf16 copies and small reductions, and the staging buffer of host inputs. */
enum { ANET_SCRATCH_WORKSPACE = 0, ANET_SCRATCH_A, ANET_SCRATCH_B, ANET_SCRATCH_C,
       ANET_SCRATCH_LOSS, ANET_SCRATCH_STAGE, ANET_SCRATCH_SLOTS };

/* A lane: ops issued while it is current run on its stream, in order, on its device. Two
 * lanes run concurrently; they meet at barriers. */
struct anet_cuda_lane {
    int device;               /* -1: not open */
    cudaStream_t stream;
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    cudaEvent_t mark;         /* recorded by a barrier */
    void *scratch_ptr[ANET_SCRATCH_SLOTS];
    size_t scratch_bytes[ANET_SCRATCH_SLOTS];
    char name[320];
};

struct cuda_block; /* common.cu: the memory pool */
struct conv_plan;  /* conv.cu: descriptors and algorithms of a convolution shape */

/* The context. The backend comes first, so that the table's struct anet_backend * is this. */
struct anet_cuda {
    struct anet_backend base;
    struct anet_cuda_lane lane[ANET_MAX_LANES];
    struct anet_cuda_lane *cur;   /* the current lane */
    enum anet_precision precision;
    int sync_each;                /* ANET_CUDA_SYNC=1 when the context was made */
    int bf16_nhwc;                /* ANET_CUDA_BF16_NHWC=1 when the context was made */
    struct cuda_block *blocks;    /* the pool */
    size_t in_use, pooled, peak;
    struct conv_plan *plans;
    void *comm[ANET_MAX_LANES];   /* NCCL communicators (ncclComm_t) of the lanes */
    enum anet_status failed;      /* the first failure, kept with its text */
    char detail[512];
};

static inline struct anet_cuda *cuda_of(struct anet_backend *b) { return (struct anet_cuda *)b; }

/* Record a failure (the first one is kept; later ones are dropped). Return 0 so that
 * callers can write `if (!CU(cx, ...)) return;`. */
int anet_cuda_fail_rt(struct anet_cuda *cx, cudaError_t e, const char *call, const char *file,
                      int line);
int anet_cuda_fail_dnn(struct anet_cuda *cx, cudnnStatus_t e, const char *call,
                       const char *file, int line);
int anet_cuda_fail_blas(struct anet_cuda *cx, cublasStatus_t e, const char *call,
                        const char *file, int line);
int anet_cuda_fail_msg(struct anet_cuda *cx, const char *what, const char *file, int line);
/* Any other library's failed call (NCCL's): its name and what went wrong. */
int anet_cuda_fail_call(struct anet_cuda *cx, const char *call, const char *what,
                        const char *file, int line);
#define ANET_STR_(x) #x
#define ANET_STR(x) ANET_STR_(x)
/* After a kernel launch: cudaGetLastError, and cudaStreamSynchronize with ANET_CUDA_SYNC. */
int anet_cuda_launched(struct anet_cuda *cx, const char *kernel, const char *file, int line);
/* 1 while no failure is recorded: ops return early once one is. */
static inline int anet_cuda_ok(const struct anet_cuda *cx) { return cx->failed == ANET_OK; }

#define CU(cx, call) anet_cuda_rt_check((cx), (call), #call, __FILE__, __LINE__)
#define DNN(cx, call) anet_cuda_dnn_check((cx), (call), #call, __FILE__, __LINE__)
#define BLAS(cx, call) anet_cuda_blas_check((cx), (call), #call, __FILE__, __LINE__)
#define LAUNCHED(cx, kernel) anet_cuda_launched((cx), kernel, __FILE__, __LINE__)

static inline int anet_cuda_rt_check(struct anet_cuda *cx, cudaError_t e, const char *call,
                                     const char *file, int line)
{
    return e == cudaSuccess ? 1 : anet_cuda_fail_rt(cx, e, call, file, line);
}
static inline int anet_cuda_dnn_check(struct anet_cuda *cx, cudnnStatus_t e, const char *call,
                                      const char *file, int line)
{
    return e == CUDNN_STATUS_SUCCESS ? 1 : anet_cuda_fail_dnn(cx, e, call, file, line);
}
static inline int anet_cuda_blas_check(struct anet_cuda *cx, cublasStatus_t e, const char *call,
                                       const char *file, int line)
{
    return e == CUBLAS_STATUS_SUCCESS ? 1 : anet_cuda_fail_blas(cx, e, call, file, line);
}

/* Makes the current lane's device current on this thread (another context may have made
 * another one current since): every entry of the table calls it first. */
void anet_cuda_enter(struct anet_cuda *cx);

/* The current lane's scratch buffer `slot`, at least `bytes` long; NULL on failure
 * (recorded). */
void *anet_cuda_scratch(struct anet_cuda *cx, int slot, size_t bytes);

/* The context's machinery (common.cu), what the table's entries call: */
enum anet_status anet_cuda_error(struct anet_cuda *cx); /* the first failure, as anet_fail */
enum anet_status anet_cuda_sync(struct anet_cuda *cx);  /* waits for every lane first */
int anet_cuda_device_count_quiet(void);                /* 0 when there is none */
int anet_cuda_open_lane(struct anet_cuda *cx, int lane, int device); /* 0 on failure */
void anet_cuda_use(struct anet_cuda *cx, int lane);
void anet_cuda_barrier(struct anet_cuda *cx, int count, const int *lanes);
void anet_cuda_copy2d(struct anet_cuda *cx, void *dst, size_t dpitch, int src_lane,
                      const void *src, size_t spitch, size_t width, size_t rows);
/* Device memory of the current lane from the context's pool (NULL on failure, recorded);
 * calloc zeroes it on the lane's stream. */
void *anet_cuda_malloc(struct anet_cuda *cx, size_t bytes);
void *anet_cuda_calloc(struct anet_cuda *cx, size_t bytes);
void anet_cuda_free(struct anet_cuda *cx, void *p);
void *anet_cuda_host_alloc(struct anet_cuda *cx, size_t bytes); /* page-locked, portable */
void anet_cuda_host_free(struct anet_cuda *cx, void *p);
void anet_cuda_memory(struct anet_cuda *cx, struct anet_backend_memory *m);
void anet_cuda_upload(struct anet_cuda *cx, void *dst, const void *src, size_t bytes);
void anet_cuda_download(struct anet_cuda *cx, void *dst, const void *src, size_t bytes);
const void *anet_cuda_stage(struct anet_cuda *cx, const void *host, size_t bytes);
void anet_cuda_trim(struct anet_cuda *cx);
void anet_cuda_destroy(struct anet_cuda *cx);

/* Grid for count elements, block threads each (at most 2^31−1 blocks in x). */
static inline unsigned anet_grid(size_t count, unsigned block)
{
    size_t g = (count + block - 1) / block;
    if (g < 1) g = 1;
    return g > 0x7fffffffu ? 0x7fffffffu : (unsigned)g;
}

/* fp32 -> bf16 copies (round to nearest even), for the bf16 mode of conv and fc. */
void anet_cuda_to_bf16(struct anet_cuda *cx, const float *x, __nv_bfloat16 *y, size_t count);
void anet_cuda_from_bf16(struct anet_cuda *cx, const __nv_bfloat16 *x, float *y, size_t count);

/* conv.cu: the plan cache's end, with the context. */
void anet_cuda_forget_plans(struct anet_cuda *cx);

/* nccl.cu: sums across processes, NULL entries in a build without NCCL. */
void anet_cuda_comm_table(struct anet_backend_ops *o);
void anet_cuda_comm_free(struct anet_cuda *cx);

/* ---- the GPU twins of the ops: alexnet/ops.h's list, after the context, with device
 * pointers, on the current lane. conv: algorithms are chosen with cudnnFind once per shape
 * and precision and cached; the workspace is the lane's own, so `work` is ignored.
 * softmax_xent_forward: label is a device array; the loss is summed over rows in row order
 * in double on the host (this waits for the stream), as the CPU does. */
#define ANET_CUDA_DECLARE(name, params, args) \
    void anet_cuda_##name(struct anet_cuda *cx, ANET_UNPAREN params);
ANET_OPS(ANET_CUDA_DECLARE)
#undef ANET_CUDA_DECLARE
void anet_cuda_augment(struct anet_cuda *cx, int n, int crops, int ch, int h, int w, int crop,
                       const uint8_t *src, const float *mean,
                       const struct anet_crop_draw *draws, float *out);
void anet_cuda_sgd_update_list(struct anet_cuda *cx, const struct anet_sgd_list *l, float lr,
                               float momentum);
void anet_cuda_add(struct anet_cuda *cx, float *y, const float *x, size_t count);

#endif
