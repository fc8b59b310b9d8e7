/* The CUDA context's machinery: its first recorded failure, its lanes (device, stream, cuDNN
 * and cuBLAS handles, scratch buffers), its pool of device memory, and what lanes share:
 * barriers, copies between them, sums. Everything here belongs to one context
 * (struct anet_cuda); nothing is global. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.cuh"

/* ---- failures ----------------------------------------------------------------------------
 * The first failure is kept with its text; every later op returns early (anet_cuda_ok), and
 * the table's error() hands the text to anet_fail on the caller's thread. */
static int record(struct anet_cuda *cx, const char *call, const char *file, int line,
                  const char *what)
{
    if (cx->failed == ANET_OK) {
        cx->failed = ANET_ERR_DEVICE;
        snprintf(cx->detail, sizeof cx->detail, "%s (%s:%d): %s", call, file, line, what);
    }
    return 0;
}

int anet_cuda_fail_rt(struct anet_cuda *cx, cudaError_t e, const char *call, const char *file,
                      int line)
{
    char what[200];
    snprintf(what, sizeof what, "%s: %s", cudaGetErrorName(e), cudaGetErrorString(e));
    return record(cx, call, file, line, what);
}

int anet_cuda_fail_dnn(struct anet_cuda *cx, cudnnStatus_t e, const char *call, const char *file,
                       int line)
{
    return record(cx, call, file, line, cudnnGetErrorString(e));
}

static const char *blas_name(cublasStatus_t e)
{
    switch (e) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
    }
}

int anet_cuda_fail_blas(struct anet_cuda *cx, cublasStatus_t e, const char *call,
                        const char *file, int line)
{
    return record(cx, call, file, line, blas_name(e));
}

int anet_cuda_fail_msg(struct anet_cuda *cx, const char *what, const char *file, int line)
{
    return record(cx, "alexnet", file, line, what);
}

int anet_cuda_fail_call(struct anet_cuda *cx, const char *call, const char *what,
                        const char *file, int line)
{
    return record(cx, call, file, line, what);
}

int anet_cuda_launched(struct anet_cuda *cx, const char *kernel, const char *file, int line)
{
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return anet_cuda_fail_rt(cx, e, kernel, file, line);
    if (cx->sync_each) {
        e = cudaStreamSynchronize(cx->cur->stream);
        if (e != cudaSuccess) return anet_cuda_fail_rt(cx, e, kernel, file, line);
    }
    return 1;
}

enum anet_status anet_cuda_error(struct anet_cuda *cx)
{
    if (cx->failed) return anet_fail(cx->failed, "%s", cx->detail);
    return ANET_OK;
}

/* Waits for every open lane; the current lane's device stays current. Failures are
 * recorded only when asked (shutdown waits without caring). */
static void sync_lanes(struct anet_cuda *cx, int record_failures)
{
    for (int l = 0; l < cx->base.lanes; l++) {
        struct anet_cuda_lane *L = &cx->lane[l];
        if (L->device < 0) continue;
        cudaError_t e = cudaSetDevice(L->device);
        if (e == cudaSuccess) e = cudaStreamSynchronize(L->stream);
        if (e != cudaSuccess && record_failures) CU(cx, e);
    }
    if (cx->cur->device < 0) return;
    cudaError_t e = cudaSetDevice(cx->cur->device);
    if (e != cudaSuccess && record_failures) CU(cx, e);
}

enum anet_status anet_cuda_sync(struct anet_cuda *cx)
{
    sync_lanes(cx, 1);
    return anet_cuda_error(cx);
}

/* ---- devices and lanes -------------------------------------------------------------------- */
int anet_cuda_device_count_quiet(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError(); /* "no device" is not a failure of ours */
        return 0;
    }
    return count;
}

void anet_cuda_enter(struct anet_cuda *cx)
{
    int d = -1;
    if (!anet_cuda_ok(cx)) return;
    if (cudaGetDevice(&d) != cudaSuccess || d != cx->cur->device)
        CU(cx, cudaSetDevice(cx->cur->device));
}

void anet_cuda_use(struct anet_cuda *cx, int lane)
{
    if (lane < 0 || lane >= cx->base.lanes) {
        anet_cuda_fail_msg(cx, "a lane this backend does not have", __FILE__, __LINE__);
        return;
    }
    struct anet_cuda_lane *to = &cx->lane[lane];
    if (to != cx->cur && to->device != cx->cur->device) CU(cx, cudaSetDevice(to->device));
    cx->cur = to;
}

/* Lets device `from` read device `to`'s memory directly where the hardware can (NVLink or
 * PCIe peer to peer); copies between them work either way, so a refusal is no failure. */
static void enable_peer(struct anet_cuda *cx, int from, int to)
{
    int can = 0;
    if (cudaDeviceCanAccessPeer(&can, from, to) != cudaSuccess || !can) {
        cudaGetLastError();
        return;
    }
    if (!CU(cx, cudaSetDevice(from))) return;
    cudaError_t e = cudaDeviceEnablePeerAccess(to, 0);
    if (e == cudaErrorPeerAccessAlreadyEnabled) cudaGetLastError();
    else CU(cx, e);
}

/* Opens lane l on `device`: its stream, event, handles and name. */
int anet_cuda_open_lane(struct anet_cuda *cx, int l, int device)
{
    struct anet_cuda_lane *L = &cx->lane[l];
    cudaDeviceProp prop;
    if (!CU(cx, cudaSetDevice(device)) || !CU(cx, cudaGetDeviceProperties(&prop, device)) ||
        !CU(cx, cudaStreamCreateWithFlags(&L->stream, cudaStreamNonBlocking)) ||
        !CU(cx, cudaEventCreateWithFlags(&L->mark, cudaEventDisableTiming)) ||
        !DNN(cx, cudnnCreate(&L->dnn)) || !DNN(cx, cudnnSetStream(L->dnn, L->stream)) ||
        !BLAS(cx, cublasCreate(&L->blas)) || !BLAS(cx, cublasSetStream(L->blas, L->stream)))
        return 0;
    snprintf(L->name, sizeof L->name, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major,
             prop.minor, prop.totalGlobalMem / 1073741824.0);
    L->device = device;
    for (int o = 0; o < l; o++)
        if (cx->lane[o].device != device)
            enable_peer(cx, device, cx->lane[o].device), enable_peer(cx, cx->lane[o].device, device);
    return anet_cuda_ok(cx);
}

void anet_cuda_barrier(struct anet_cuda *cx, int count, const int *which)
{
    if (!anet_cuda_ok(cx)) return;
    int back = (int)(cx->cur - cx->lane);
    for (int i = 0; i < count; i++) {
        anet_cuda_use(cx, which[i]);
        CU(cx, cudaEventRecord(cx->cur->mark, cx->cur->stream));
    }
    for (int i = 0; i < count; i++) {
        anet_cuda_use(cx, which[i]);
        for (int j = 0; j < count; j++)
            if (which[j] != which[i])
                CU(cx, cudaStreamWaitEvent(cx->cur->stream, cx->lane[which[j]].mark, 0));
    }
    anet_cuda_use(cx, back);
}

void anet_cuda_copy2d(struct anet_cuda *cx, void *dst, size_t dpitch, int src_lane,
                      const void *src, size_t spitch, size_t width, size_t rows)
{
    if (!width || !rows || !anet_cuda_ok(cx)) return;
    if (src_lane < 0 || src_lane >= cx->base.lanes) {
        anet_cuda_fail_msg(cx, "a copy from a lane this backend does not have", __FILE__,
                           __LINE__);
        return;
    }
    int from = cx->lane[src_lane].device;
    if (from == cx->cur->device) {
        CU(cx, cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, rows, cudaMemcpyDeviceToDevice,
                                cx->cur->stream));
        return;
    }
    cudaMemcpy3DPeerParms p;
    memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr((void *)src, spitch, width, rows);
    p.srcDevice = from;
    p.dstPtr = make_cudaPitchedPtr(dst, dpitch, width, rows);
    p.dstDevice = cx->cur->device;
    p.extent = make_cudaExtent(width, rows, 1);
    CU(cx, cudaMemcpy3DPeerAsync(&p, cx->cur->stream));
}

__global__ static void add_kernel(float *y, const float *x, size_t count)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

void anet_cuda_add(struct anet_cuda *cx, float *y, const float *x, size_t count)
{
    if (!count || !anet_cuda_ok(cx)) return;
    unsigned g = anet_grid(count, 256);
    add_kernel<<<g > 65535u ? 65535u : g, 256, 0, cx->cur->stream>>>(y, x, count);
    LAUNCHED(cx, "add_kernel");
}

/* ---- memory pool -------------------------------------------------------------------------
 * Blocks come from cudaMalloc in sizes rounded up (to 512 B, then to 1/8 of the next power
 * of two), are handed out whole, and go back to a free list when freed; a request takes the
 * smallest free block of the current lane that fits and is no more than a quarter larger
 * (a block is only reused by the lane, hence the stream, that last had it, so queued work
 * that still reads it runs first). A model allocates once and frees once, so the pool
 * mostly saves the cudaMalloc/cudaFree pairs of repeated models (tests, ensembles) and of
 * the scratch buffers. */
struct cuda_block {
    void *ptr;
    size_t bytes;
    int used, lane;
    struct cuda_block *next;
};

static size_t round_size(size_t bytes)
{
    if (bytes < 512) return 512;
    size_t p = 512;
    while (p < bytes) p <<= 1;
    size_t step = p >= 4096 ? p / 8 : 512;
    return (bytes + step - 1) / step * step;
}

void *anet_cuda_malloc(struct anet_cuda *cx, size_t bytes)
{
    if (!anet_cuda_ok(cx)) return NULL;
    int lane = (int)(cx->cur - cx->lane);
    size_t want = round_size(bytes);
    struct cuda_block *best = NULL;
    for (struct cuda_block *b = cx->blocks; b; b = b->next)
        if (!b->used && b->lane == lane && b->bytes >= want && b->bytes <= want + want / 4 &&
            (!best || b->bytes < best->bytes))
            best = b;
    if (!best) {
        void *p = NULL;
        cudaError_t e = cudaMalloc(&p, want);
        if (e != cudaSuccess) {
            char what[200];
            snprintf(what, sizeof what, "%s: %zu bytes (%.1f MiB) on top of %.1f MiB",
                     cudaGetErrorString(e), want, want / 1048576.0, cx->pooled / 1048576.0);
            cudaGetLastError();
            record(cx, "cudaMalloc", __FILE__, __LINE__, what);
            return NULL;
        }
        best = (struct cuda_block *)calloc(1, sizeof *best);
        if (!best) {
            CU(cx, cudaFree(p));
            anet_cuda_fail_msg(cx, "out of host memory for the pool's list", __FILE__, __LINE__);
            return NULL;
        }
        best->ptr = p, best->bytes = want, best->lane = lane, best->next = cx->blocks;
        cx->blocks = best;
        cx->pooled += want;
        if (cx->pooled > cx->peak) cx->peak = cx->pooled;
    }
    best->used = 1;
    cx->in_use += best->bytes;
    return best->ptr;
}

void *anet_cuda_calloc(struct anet_cuda *cx, size_t bytes)
{
    void *p = anet_cuda_malloc(cx, bytes);
    if (p && !CU(cx, cudaMemsetAsync(p, 0, bytes, cx->cur->stream))) return NULL;
    return p;
}

void anet_cuda_free(struct anet_cuda *cx, void *p)
{
    if (!p) return;
    for (struct cuda_block *b = cx->blocks; b; b = b->next)
        if (b->ptr == p && b->used) {
            b->used = 0;
            cx->in_use -= b->bytes;
            return;
        }
    anet_cuda_fail_msg(cx, "a free of a pointer the pool did not give", __FILE__, __LINE__);
}

void *anet_cuda_host_alloc(struct anet_cuda *cx, size_t bytes)
{
    void *p = NULL; /* portable: every device copies from it at full speed */
    if (!CU(cx, cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocPortable))) return NULL;
    return p;
}

void anet_cuda_host_free(struct anet_cuda *cx, void *p)
{
    if (p) CU(cx, cudaFreeHost(p));
}

void anet_cuda_memory(struct anet_cuda *cx, struct anet_backend_memory *m)
{
    m->in_use = cx->in_use, m->pooled = cx->pooled, m->peak = cx->peak;
}

/* Gives blocks back to CUDA: every block, or only the unused ones. Waits for all lanes
 * first, since freed blocks may still be read by queued work. */
static void release_blocks(struct anet_cuda *cx, int all)
{
    sync_lanes(cx, 0);
    for (struct cuda_block **at = &cx->blocks; *at;) {
        struct cuda_block *b = *at;
        if (b->used && !all) {
            at = &b->next;
            continue;
        }
        *at = b->next;
        if (cudaSetDevice(cx->lane[b->lane].device) == cudaSuccess) CU(cx, cudaFree(b->ptr));
        cx->pooled -= b->bytes;
        if (b->used) cx->in_use -= b->bytes;
        free(b);
    }
    if (cudaSetDevice(cx->cur->device) != cudaSuccess) cudaGetLastError();
}

void anet_cuda_upload(struct anet_cuda *cx, void *dst, const void *src, size_t bytes)
{
    if (bytes && anet_cuda_ok(cx))
        CU(cx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, cx->cur->stream));
}

void anet_cuda_download(struct anet_cuda *cx, void *dst, const void *src, size_t bytes)
{
    if (bytes && anet_cuda_ok(cx) &&
        CU(cx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cx->cur->stream)))
        CU(cx, cudaStreamSynchronize(cx->cur->stream));
}

/* ---- scratch ------------------------------------------------------------------------------ */
void *anet_cuda_scratch(struct anet_cuda *cx, int slot, size_t bytes)
{
    struct anet_cuda_lane *L = cx->cur;
    if (bytes <= L->scratch_bytes[slot] && L->scratch_ptr[slot]) return L->scratch_ptr[slot];
    anet_cuda_free(cx, L->scratch_ptr[slot]); /* same lane: queued readers run before reuse */
    size_t grow = bytes + bytes / 4;
    L->scratch_ptr[slot] = anet_cuda_malloc(cx, grow);
    L->scratch_bytes[slot] = L->scratch_ptr[slot] ? grow : 0;
    return L->scratch_ptr[slot];
}

/* Host memory in the current lane's staging buffer, where the model reads an input. */
const void *anet_cuda_stage(struct anet_cuda *cx, const void *host, size_t bytes)
{
    void *d = anet_cuda_scratch(cx, ANET_SCRATCH_STAGE, bytes ? bytes : 1);
    if (!d) return NULL;
    anet_cuda_upload(cx, d, host, bytes);
    return anet_cuda_ok(cx) ? d : NULL;
}

static void drop_scratch(struct anet_cuda *cx)
{
    struct anet_cuda_lane *back = cx->cur;
    for (int l = 0; l < cx->base.lanes; l++) {
        cx->cur = &cx->lane[l];
        for (int i = 0; i < ANET_SCRATCH_SLOTS; i++) {
            anet_cuda_free(cx, cx->cur->scratch_ptr[i]);
            cx->cur->scratch_ptr[i] = NULL, cx->cur->scratch_bytes[i] = 0;
        }
    }
    cx->cur = back;
}

void anet_cuda_trim(struct anet_cuda *cx)
{
    drop_scratch(cx);
    release_blocks(cx, 0);
}

/* Everything the context holds, in the reverse order of its making. Failures are checked
 * and recorded as everywhere, though nothing more will run on the context to report them. */
void anet_cuda_destroy(struct anet_cuda *cx)
{
    int opened = 0;
    for (int l = 0; l < cx->base.lanes; l++) opened |= cx->lane[l].device >= 0;
    if (opened) {
        anet_cuda_comm_free(cx);
        drop_scratch(cx);
        release_blocks(cx, 1);
        anet_cuda_forget_plans(cx);
    }
    for (int l = 0; l < cx->base.lanes; l++) {
        struct anet_cuda_lane *L = &cx->lane[l];
        if (L->device < 0 || cudaSetDevice(L->device) != cudaSuccess) continue;
        if (L->blas) BLAS(cx, cublasDestroy(L->blas));
        if (L->dnn) DNN(cx, cudnnDestroy(L->dnn));
        if (L->mark) CU(cx, cudaEventDestroy(L->mark));
        if (L->stream) CU(cx, cudaStreamDestroy(L->stream));
    }
    cudaGetLastError();
    free(cx);
}

/* ---- bf16 copies -------------------------------------------------------------------------- */
__global__ static void to_bf16_kernel(const float *x, __nv_bfloat16 *y, size_t count)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = __float2bfloat16_rn(x[i]);
}

__global__ static void from_bf16_kernel(const __nv_bfloat16 *x, float *y, size_t count)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = __bfloat162float(x[i]);
}

static unsigned stride_grid(size_t count)
{
    unsigned g = anet_grid(count, 256);
    return g > 65535u ? 65535u : g;
}

void anet_cuda_to_bf16(struct anet_cuda *cx, const float *x, __nv_bfloat16 *y, size_t count)
{
    if (!count || !anet_cuda_ok(cx)) return;
    to_bf16_kernel<<<stride_grid(count), 256, 0, cx->cur->stream>>>(x, y, count);
    LAUNCHED(cx, "to_bf16_kernel");
}

void anet_cuda_from_bf16(struct anet_cuda *cx, const __nv_bfloat16 *x, float *y, size_t count)
{
    if (!count || !anet_cuda_ok(cx)) return;
    from_bf16_kernel<<<stride_grid(count), 256, 0, cx->cur->stream>>>(x, y, count);
    LAUNCHED(cx, "from_bf16_kernel");
}
