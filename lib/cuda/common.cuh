/* What every lib/cuda file shares: the lanes (a device, a stream, its handles and scratch
 * buffers; the current one is anet_cuda_cur), the checked-call macros, launch helpers. */
#ifndef ANET_CUDA_COMMON_CUH
#define ANET_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cublas_v2.h>
#include <cudnn.h>
#include <stdint.h>
#include <stddef.h>

extern "C" {
#include "alexnet/cuda.h"
#include "alexnet/status.h"
}

/* Scratch memory owned by a lane, grown on demand and kept: slot 0 the cuDNN workspace,
 * slots 1.. bf16 copies and small reductions. */
enum { ANET_SCRATCH_WORKSPACE = 0, ANET_SCRATCH_A, ANET_SCRATCH_B, ANET_SCRATCH_C,
       ANET_SCRATCH_LOSS, ANET_SCRATCH_SLOTS };

/* A lane: ops issued while it is current run on its stream, in order, on its device. Two
 * lanes run concurrently; they meet at anet_cuda_barrier. */
struct anet_cuda_ctx {
    int device;               /* -1: not open */
    cudaStream_t stream;
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    cudaEvent_t mark;         /* recorded by anet_cuda_barrier */
    enum anet_precision precision; /* the same on every lane */
    int sync_each;            /* ANET_CUDA_SYNC=1 */
    void *scratch_ptr[ANET_SCRATCH_SLOTS];
    size_t scratch_bytes[ANET_SCRATCH_SLOTS];
    char name[320];
};
extern struct anet_cuda_ctx *anet_cuda_cur; /* the current lane (lane 0 until one is chosen) */

/* Record a failure (the first one is kept; later ones are dropped). Return 0 on failure
 * so that callers can write `if (!CU(...)) return;`. */
int anet_cuda_fail_rt(cudaError_t e, const char *call, const char *file, int line);
int anet_cuda_fail_dnn(cudnnStatus_t e, const char *call, const char *file, int line);
int anet_cuda_fail_blas(cublasStatus_t e, const char *call, const char *file, int line);
int anet_cuda_fail_msg(const char *what, const char *file, int line);
/* After a kernel launch: cudaGetLastError, and cudaStreamSynchronize with ANET_CUDA_SYNC. */
int anet_cuda_launched(const char *kernel, const char *file, int line);
/* 1 while no failure is recorded: ops return early once one is. */
int anet_cuda_ok(void);

#define CU(call) anet_cuda_rt_check((call), #call, __FILE__, __LINE__)
#define DNN(call) anet_cuda_dnn_check((call), #call, __FILE__, __LINE__)
#define BLAS(call) anet_cuda_blas_check((call), #call, __FILE__, __LINE__)
#define LAUNCHED(kernel) anet_cuda_launched(kernel, __FILE__, __LINE__)

static inline int anet_cuda_rt_check(cudaError_t e, const char *call, const char *file, int line)
{
    return e == cudaSuccess ? 1 : anet_cuda_fail_rt(e, call, file, line);
}
static inline int anet_cuda_dnn_check(cudnnStatus_t e, const char *call, const char *file,
                                      int line)
{
    return e == CUDNN_STATUS_SUCCESS ? 1 : anet_cuda_fail_dnn(e, call, file, line);
}
static inline int anet_cuda_blas_check(cublasStatus_t e, const char *call, const char *file,
                                       int line)
{
    return e == CUBLAS_STATUS_SUCCESS ? 1 : anet_cuda_fail_blas(e, call, file, line);
}

/* The current lane's scratch buffer `slot`, at least `bytes` long; NULL on failure
 * (recorded). */
void *anet_cuda_scratch(int slot, size_t bytes);

/* Grid for count elements, block threads each (at most 2^31−1 blocks in x). */
static inline unsigned anet_grid(size_t count, unsigned block)
{
    size_t g = (count + block - 1) / block;
    if (g < 1) g = 1;
    return g > 0x7fffffffu ? 0x7fffffffu : (unsigned)g;
}

/* fp32 -> bf16 copies (round to nearest even), for the bf16 mode of conv and fc. */
void anet_cuda_to_bf16(const float *x, __nv_bfloat16 *y, size_t count);
void anet_cuda_from_bf16(const __nv_bfloat16 *x, float *y, size_t count);

#endif
