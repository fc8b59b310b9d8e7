/* The CUDA lanes (device, stream, cuDNN and cuBLAS handles, scratch buffers), the first
 * recorded failure, a pool of device memory, and what lanes share: barriers, copies between
 * them, sums. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.cuh"

static struct anet_cuda_ctx lanes[ANET_CUDA_LANES] = {{-1}, {-1}, {-1}, {-1}};
struct anet_cuda_ctx *anet_cuda_cur = &lanes[0];

/* ---- failures ----------------------------------------------------------------------------
 * The first failure is kept with its text; every later op returns early (anet_cuda_ok), and
 * anet_cuda_error() hands the text to anet_fail on the caller's thread. */
static enum anet_status first_status;
static char first_detail[512];

static int record(const char *call, const char *file, int line, const char *what)
{
    if (first_status == ANET_OK) {
        first_status = ANET_ERR_DEVICE;
        snprintf(first_detail, sizeof first_detail, "%s (%s:%d): %s", call, file, line, what);
    }
    return 0;
}

int anet_cuda_fail_rt(cudaError_t e, const char *call, const char *file, int line)
{
    char what[200];
    snprintf(what, sizeof what, "%s: %s", cudaGetErrorName(e), cudaGetErrorString(e));
    return record(call, file, line, what);
}

int anet_cuda_fail_dnn(cudnnStatus_t e, const char *call, const char *file, int line)
{
    return record(call, file, line, cudnnGetErrorString(e));
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

int anet_cuda_fail_blas(cublasStatus_t e, const char *call, const char *file, int line)
{
    return record(call, file, line, blas_name(e));
}

int anet_cuda_fail_msg(const char *what, const char *file, int line)
{
    return record("alexnet", file, line, what);
}

int anet_cuda_ok(void) { return first_status == ANET_OK; }

int anet_cuda_launched(const char *kernel, const char *file, int line)
{
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return anet_cuda_fail_rt(e, kernel, file, line);
    if (anet_cuda_cur->sync_each) {
        e = cudaStreamSynchronize(anet_cuda_cur->stream);
        if (e != cudaSuccess) return anet_cuda_fail_rt(e, kernel, file, line);
    }
    return 1;
}

extern "C" enum anet_status anet_cuda_error(void)
{
    if (first_status) return anet_fail(first_status, "%s", first_detail);
    return ANET_OK;
}

extern "C" void anet_cuda_clear_error(void)
{
    first_status = ANET_OK;
    first_detail[0] = 0;
}

/* Waits for every open lane; the current lane stays current. */
static void sync_lanes(int record_failures)
{
    for (int l = 0; l < ANET_CUDA_LANES; l++) {
        if (lanes[l].device < 0) continue;
        cudaError_t e = cudaSetDevice(lanes[l].device);
        if (e == cudaSuccess) e = cudaStreamSynchronize(lanes[l].stream);
        if (e != cudaSuccess && record_failures) CU(e);
    }
    if (anet_cuda_cur->device >= 0) cudaSetDevice(anet_cuda_cur->device);
}

extern "C" enum anet_status anet_cuda_sync(void)
{
    sync_lanes(1);
    return anet_cuda_error();
}

/* ---- precision ------------------------------------------------------------------------ */
extern "C" void anet_cuda_set_precision(enum anet_precision p)
{
    for (int l = 0; l < ANET_CUDA_LANES; l++) lanes[l].precision = p;
}
extern "C" enum anet_precision anet_cuda_precision(void) { return lanes[0].precision; }

/* ---- devices and lanes -------------------------------------------------------------------- */
extern "C" int anet_cuda_built(void) { return 1; }

extern "C" int anet_cuda_device_count(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError(); /* "no device" is not a failure of ours */
        return 0;
    }
    return count;
}

extern "C" const char *anet_cuda_device_name(void) { return lanes[0].name; }

extern "C" const char *anet_cuda_lane_name(int lane)
{
    return lane >= 0 && lane < ANET_CUDA_LANES ? lanes[lane].name : "";
}

extern "C" int anet_cuda_lane_device(int lane)
{
    return lane >= 0 && lane < ANET_CUDA_LANES ? lanes[lane].device : -1;
}

extern "C" int anet_cuda_lane_current(void) { return (int)(anet_cuda_cur - lanes); }

extern "C" void anet_cuda_lane_use(int lane)
{
    if (lane < 0 || lane >= ANET_CUDA_LANES || lanes[lane].device < 0) {
        anet_cuda_fail_msg("anet_cuda_lane_use of a lane that is not open", __FILE__, __LINE__);
        return;
    }
    struct anet_cuda_ctx *to = &lanes[lane];
    if (to != anet_cuda_cur && to->device != anet_cuda_cur->device)
        CU(cudaSetDevice(to->device));
    anet_cuda_cur = to;
}

/* Lets device `from` read device `to`'s memory directly where the hardware can (NVLink or
 * PCIe peer to peer); copies between them work either way. */
static void enable_peer(int from, int to)
{
    int can = 0;
    if (cudaDeviceCanAccessPeer(&can, from, to) != cudaSuccess || !can) return;
    cudaSetDevice(from);
    if (cudaDeviceEnablePeerAccess(to, 0) != cudaSuccess)
        cudaGetLastError(); /* already enabled, or not possible */
}

static int open_lane(struct anet_cuda_ctx *c, int device)
{
    const char *sync = getenv("ANET_CUDA_SYNC");
    c->sync_each = sync && *sync && strcmp(sync, "0");
    c->precision = lanes[0].device >= 0 ? lanes[0].precision : c->precision;
    cudaDeviceProp prop;
    if (!CU(cudaSetDevice(device)) || !CU(cudaGetDeviceProperties(&prop, device)) ||
        !CU(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) ||
        !CU(cudaEventCreateWithFlags(&c->mark, cudaEventDisableTiming)) ||
        !DNN(cudnnCreate(&c->dnn)) || !DNN(cudnnSetStream(c->dnn, c->stream)) ||
        !BLAS(cublasCreate(&c->blas)) || !BLAS(cublasSetStream(c->blas, c->stream)))
        return 0;
    snprintf(c->name, sizeof c->name, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major,
             prop.minor, prop.totalGlobalMem / 1073741824.0);
    c->device = device;
    return 1;
}

extern "C" enum anet_status anet_cuda_lane_open(int lane, int device)
{
    if (lane < 0 || lane >= ANET_CUDA_LANES)
        return anet_fail(ANET_ERR_INVALID, "CUDA lane %d: there are lanes 0..%d", lane,
                         ANET_CUDA_LANES - 1);
    struct anet_cuda_ctx *c = &lanes[lane];
    if (c->device == device) return anet_cuda_error();
    if (c->device >= 0)
        return anet_fail(ANET_ERR_INVALID, "CUDA lane %d is open on device %d, not %d", lane,
                         c->device, device);
    if (lane > 0 && lanes[0].device < 0)
        return anet_fail(ANET_ERR_INVALID, "CUDA lane %d opened before lane 0", lane);
    int count = anet_cuda_device_count();
    if (count == 0) return anet_fail(ANET_ERR_UNSUPPORTED, "no CUDA device");
    if (device < 0 || device >= count)
        return anet_fail(ANET_ERR_INVALID, "CUDA device %d does not exist (this machine has %d: 0..%d)",
                         device, count, count - 1);
    int current = anet_cuda_cur->device;
    int ok = open_lane(c, device);
    for (int l = 0; ok && l < ANET_CUDA_LANES; l++)
        if (l != lane && lanes[l].device >= 0 && lanes[l].device != device)
            enable_peer(device, lanes[l].device), enable_peer(lanes[l].device, device);
    if (current >= 0) cudaSetDevice(current);
    else anet_cuda_cur = c;
    return anet_cuda_error();
}

extern "C" enum anet_status anet_cuda_init(int device)
{
    if (lanes[0].device >= 0 && lanes[0].device != device)
        return anet_fail(ANET_ERR_INVALID, "CUDA device %d is in use; lane 0 stays on one device",
                         lanes[0].device);
    enum anet_status s = anet_cuda_lane_open(0, device);
    if (!s) anet_cuda_lane_use(0);
    return s ? s : anet_cuda_error();
}

extern "C" void anet_cuda_barrier(int count, const int *which)
{
    if (!anet_cuda_ok()) return;
    struct anet_cuda_ctx *back = anet_cuda_cur;
    for (int i = 0; i < count; i++) {
        anet_cuda_lane_use(which[i]);
        CU(cudaEventRecord(anet_cuda_cur->mark, anet_cuda_cur->stream));
    }
    for (int i = 0; i < count; i++) {
        anet_cuda_lane_use(which[i]);
        for (int j = 0; j < count; j++)
            if (which[j] != which[i])
                CU(cudaStreamWaitEvent(anet_cuda_cur->stream, lanes[which[j]].mark, 0));
    }
    anet_cuda_lane_use((int)(back - lanes));
}

extern "C" void anet_cuda_copy2d(void *dst, size_t dpitch, int src_lane, const void *src,
                                 size_t spitch, size_t width, size_t rows)
{
    if (!width || !rows || !anet_cuda_ok()) return;
    int from = anet_cuda_lane_device(src_lane);
    if (from < 0) {
        anet_cuda_fail_msg("anet_cuda_copy2d from a lane that is not open", __FILE__, __LINE__);
        return;
    }
    if (from == anet_cuda_cur->device) {
        CU(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, rows, cudaMemcpyDeviceToDevice,
                             anet_cuda_cur->stream));
        return;
    }
    cudaMemcpy3DPeerParms p;
    memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr((void *)src, spitch, width, rows);
    p.srcDevice = from;
    p.dstPtr = make_cudaPitchedPtr(dst, dpitch, width, rows);
    p.dstDevice = anet_cuda_cur->device;
    p.extent = make_cudaExtent(width, rows, 1);
    CU(cudaMemcpy3DPeerAsync(&p, anet_cuda_cur->stream));
}

__global__ static void add_kernel(float *y, const float *x, size_t count)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

extern "C" void anet_cuda_add(float *y, const float *x, size_t count)
{
    if (!count || !anet_cuda_ok()) return;
    unsigned g = anet_grid(count, 256);
    add_kernel<<<g > 65535u ? 65535u : g, 256, 0, anet_cuda_cur->stream>>>(y, x, count);
    LAUNCHED("add_kernel");
}

/* ---- memory pool -------------------------------------------------------------------------
 * Blocks come from cudaMalloc in sizes rounded up (to 512 B, then to 1/8 of the next power
 * of two), are handed out whole, and go back to a free list when freed; a request takes the
 * smallest free block of the current lane that fits and is no more than a quarter larger
 * (a block is only reused by the lane, hence the stream, that last had it, so queued work
 * that still reads it runs first). A model allocates once and frees once, so the pool
 * mostly saves the cudaMalloc/cudaFree pairs of repeated models (tests, ensembles) and of
 * the scratch buffers. */
struct block {
    void *ptr;
    size_t bytes;
    int used, lane;
    struct block *next;
};
static struct block *blocks;
static size_t in_use, pooled, peak;

static size_t round_size(size_t bytes)
{
    if (bytes < 512) return 512;
    size_t p = 512;
    while (p < bytes) p <<= 1;
    size_t step = p >= 4096 ? p / 8 : 512;
    return (bytes + step - 1) / step * step;
}

extern "C" void *anet_cuda_malloc(size_t bytes)
{
    if (anet_cuda_cur->device < 0) {
        anet_cuda_fail_msg("device memory asked before anet_cuda_init", __FILE__, __LINE__);
        return NULL;
    }
    int lane = anet_cuda_lane_current();
    size_t want = round_size(bytes);
    struct block *best = NULL;
    for (struct block *b = blocks; b; b = b->next)
        if (!b->used && b->lane == lane && b->bytes >= want && b->bytes <= want + want / 4 &&
            (!best || b->bytes < best->bytes))
            best = b;
    if (!best) {
        void *p = NULL;
        cudaError_t e = cudaMalloc(&p, want);
        if (e != cudaSuccess) {
            char what[160];
            snprintf(what, sizeof what, "%s: %zu bytes (%.1f MiB) on top of %.1f MiB",
                     cudaGetErrorString(e), want, want / 1048576.0, pooled / 1048576.0);
            cudaGetLastError();
            record("cudaMalloc", __FILE__, __LINE__, what);
            return NULL;
        }
        best = (struct block *)calloc(1, sizeof *best);
        if (!best) {
            cudaFree(p);
            anet_cuda_fail_msg("out of host memory for the pool's list", __FILE__, __LINE__);
            return NULL;
        }
        best->ptr = p, best->bytes = want, best->lane = lane, best->next = blocks;
        blocks = best;
        pooled += want;
        if (pooled > peak) peak = pooled;
    }
    best->used = 1;
    in_use += best->bytes;
    return best->ptr;
}

extern "C" void *anet_cuda_calloc(size_t bytes)
{
    void *p = anet_cuda_malloc(bytes);
    if (p && !CU(cudaMemsetAsync(p, 0, bytes, anet_cuda_cur->stream))) return NULL;
    return p;
}

extern "C" void anet_cuda_free(void *p)
{
    if (!p) return;
    for (struct block *b = blocks; b; b = b->next)
        if (b->ptr == p && b->used) {
            b->used = 0;
            in_use -= b->bytes;
            return;
        }
    anet_cuda_fail_msg("anet_cuda_free of a pointer the pool did not give", __FILE__, __LINE__);
}

extern "C" void *anet_cuda_host_alloc(size_t bytes)
{
    void *p = NULL; /* portable: every device copies from it at full speed */
    if (!CU(cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocPortable))) return NULL;
    return p;
}

extern "C" void anet_cuda_host_free(void *p)
{
    if (p) CU(cudaFreeHost(p));
}

extern "C" size_t anet_cuda_bytes_in_use(void) { return in_use; }
extern "C" size_t anet_cuda_bytes_pooled(void) { return pooled; }
extern "C" size_t anet_cuda_peak_bytes(void) { return peak; }

/* Gives blocks back to CUDA: every block, or only the unused ones. Waits for all lanes
 * first, since freed blocks may still be read by queued work. */
static void release_blocks(int all)
{
    sync_lanes(0);
    for (struct block **at = &blocks; *at;) {
        struct block *b = *at;
        if (b->used && !all) {
            at = &b->next;
            continue;
        }
        *at = b->next;
        cudaSetDevice(lanes[b->lane].device);
        cudaFree(b->ptr);
        pooled -= b->bytes;
        if (b->used) in_use -= b->bytes;
        free(b);
    }
    if (anet_cuda_cur->device >= 0) cudaSetDevice(anet_cuda_cur->device);
}

extern "C" enum anet_status anet_cuda_upload(void *dst, const void *src, size_t bytes)
{
    if (bytes && anet_cuda_ok())
        CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, anet_cuda_cur->stream));
    return anet_cuda_error();
}

extern "C" enum anet_status anet_cuda_download(void *dst, const void *src, size_t bytes)
{
    if (bytes && anet_cuda_ok() &&
        CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, anet_cuda_cur->stream)))
        CU(cudaStreamSynchronize(anet_cuda_cur->stream));
    return anet_cuda_error();
}

extern "C" enum anet_status anet_cuda_memset0(void *dst, size_t bytes)
{
    if (bytes && anet_cuda_ok()) CU(cudaMemsetAsync(dst, 0, bytes, anet_cuda_cur->stream));
    return anet_cuda_error();
}

/* ---- scratch ------------------------------------------------------------------------------ */
void *anet_cuda_scratch(int slot, size_t bytes)
{
    struct anet_cuda_ctx *c = anet_cuda_cur;
    if (bytes <= c->scratch_bytes[slot] && c->scratch_ptr[slot]) return c->scratch_ptr[slot];
    anet_cuda_free(c->scratch_ptr[slot]); /* same lane: queued readers run before any reuse */
    size_t grow = bytes + bytes / 4;
    c->scratch_ptr[slot] = anet_cuda_malloc(grow);
    c->scratch_bytes[slot] = c->scratch_ptr[slot] ? grow : 0;
    return c->scratch_ptr[slot];
}

static void drop_scratch(struct anet_cuda_ctx *c)
{
    for (int i = 0; i < ANET_SCRATCH_SLOTS; i++) {
        anet_cuda_free(c->scratch_ptr[i]);
        c->scratch_ptr[i] = NULL, c->scratch_bytes[i] = 0;
    }
}

extern "C" void anet_cuda_trim(void)
{
    if (lanes[0].device < 0) return;
    for (int l = 0; l < ANET_CUDA_LANES; l++)
        if (lanes[l].device >= 0) drop_scratch(&lanes[l]);
    release_blocks(0);
}

void anet_cuda_forget_algorithms(void); /* conv.cu */

extern "C" void anet_cuda_shutdown(void)
{
    if (lanes[0].device < 0) return;
    release_blocks(1);
    in_use = pooled = peak = 0;
    anet_cuda_forget_algorithms();
    for (int l = 0; l < ANET_CUDA_LANES; l++) {
        struct anet_cuda_ctx *c = &lanes[l];
        if (c->device < 0) continue;
        cudaSetDevice(c->device);
        cublasDestroy(c->blas);
        cudnnDestroy(c->dnn);
        cudaEventDestroy(c->mark);
        cudaStreamDestroy(c->stream);
        memset(c, 0, sizeof *c);
        c->device = -1;
    }
    anet_cuda_cur = &lanes[0];
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

void anet_cuda_to_bf16(const float *x, __nv_bfloat16 *y, size_t count)
{
    if (!count || !anet_cuda_ok()) return;
    to_bf16_kernel<<<stride_grid(count), 256, 0, anet_cuda_cur->stream>>>(x, y, count);
    LAUNCHED("to_bf16_kernel");
}

void anet_cuda_from_bf16(const __nv_bfloat16 *x, float *y, size_t count)
{
    if (!count || !anet_cuda_ok()) return;
    from_bf16_kernel<<<stride_grid(count), 256, 0, anet_cuda_cur->stream>>>(x, y, count);
    LAUNCHED("from_bf16_kernel");
}
