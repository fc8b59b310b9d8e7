/* The CUDA context: device, stream, cuDNN and cuBLAS handles, precision, the first
 * recorded failure, a pool of device memory and the scratch buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.cuh"

struct anet_cuda_ctx anet_cuda = {-1};

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
    if (anet_cuda.sync_each) {
        e = cudaStreamSynchronize(anet_cuda.stream);
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

extern "C" enum anet_status anet_cuda_sync(void)
{
    if (anet_cuda.device >= 0) CU(cudaStreamSynchronize(anet_cuda.stream));
    return anet_cuda_error();
}

/* ---- precision ------------------------------------------------------------------------ */
extern "C" void anet_cuda_set_precision(enum anet_precision p) { anet_cuda.precision = p; }
extern "C" enum anet_precision anet_cuda_precision(void) { return anet_cuda.precision; }

/* ---- device ----------------------------------------------------------------------------- */
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

extern "C" const char *anet_cuda_device_name(void) { return anet_cuda.name; }

extern "C" enum anet_status anet_cuda_init(int device)
{
    if (anet_cuda.device == device) return anet_cuda_error();
    if (anet_cuda.device >= 0)
        return anet_fail(ANET_ERR_INVALID, "CUDA device %d is in use; one device a process for now",
                         anet_cuda.device);
    int count = anet_cuda_device_count();
    if (count == 0) return anet_fail(ANET_ERR_UNSUPPORTED, "no CUDA device");
    if (device < 0 || device >= count)
        return anet_fail(ANET_ERR_INVALID, "CUDA device %d does not exist (this machine has %d: 0..%d)",
                         device, count, count - 1);
    const char *sync = getenv("ANET_CUDA_SYNC");
    anet_cuda.sync_each = sync && *sync && strcmp(sync, "0");
    cudaDeviceProp prop;
    if (!CU(cudaSetDevice(device)) || !CU(cudaGetDeviceProperties(&prop, device)) ||
        !CU(cudaStreamCreateWithFlags(&anet_cuda.stream, cudaStreamNonBlocking)) ||
        !DNN(cudnnCreate(&anet_cuda.dnn)) || !DNN(cudnnSetStream(anet_cuda.dnn, anet_cuda.stream)) ||
        !BLAS(cublasCreate(&anet_cuda.blas)) ||
        !BLAS(cublasSetStream(anet_cuda.blas, anet_cuda.stream)))
        return anet_cuda_error();
    snprintf(anet_cuda.name, sizeof anet_cuda.name, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major,
             prop.minor, prop.totalGlobalMem / 1073741824.0);
    anet_cuda.device = device;
    return ANET_OK;
}

/* ---- memory pool -------------------------------------------------------------------------
 * Blocks come from cudaMalloc in sizes rounded up (to 512 B, then to 1/8 of the next power
 * of two), are handed out whole, and go back to a free list when freed; a request takes the
 * smallest free block that fits and is no more than a quarter larger. A model allocates
 * once and frees once, so the pool mostly saves the cudaMalloc/cudaFree pairs of repeated
 * models (tests, ensembles) and of the scratch buffers. */
struct block {
    void *ptr;
    size_t bytes;
    int used;
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
    if (anet_cuda.device < 0) {
        anet_cuda_fail_msg("device memory asked before anet_cuda_init", __FILE__, __LINE__);
        return NULL;
    }
    size_t want = round_size(bytes);
    struct block *best = NULL;
    for (struct block *b = blocks; b; b = b->next)
        if (!b->used && b->bytes >= want && b->bytes <= want + want / 4 &&
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
        best->ptr = p, best->bytes = want, best->next = blocks;
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
    if (p && !CU(cudaMemsetAsync(p, 0, bytes, anet_cuda.stream))) return NULL;
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
    void *p = NULL;
    if (!CU(cudaMallocHost(&p, bytes ? bytes : 1))) return NULL;
    return p;
}

extern "C" void anet_cuda_host_free(void *p)
{
    if (p) CU(cudaFreeHost(p));
}

extern "C" size_t anet_cuda_bytes_in_use(void) { return in_use; }
extern "C" size_t anet_cuda_bytes_pooled(void) { return pooled; }
extern "C" size_t anet_cuda_peak_bytes(void) { return peak; }

static void release_pool(void)
{
    /* freed blocks may still be read by queued work: wait first */
    if (anet_cuda.device >= 0) cudaStreamSynchronize(anet_cuda.stream);
    while (blocks) {
        struct block *b = blocks;
        blocks = b->next;
        cudaFree(b->ptr);
        free(b);
    }
    in_use = pooled = 0;
}

extern "C" enum anet_status anet_cuda_upload(void *dst, const void *src, size_t bytes)
{
    if (bytes && anet_cuda_ok())
        CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, anet_cuda.stream));
    return anet_cuda_error();
}

extern "C" enum anet_status anet_cuda_download(void *dst, const void *src, size_t bytes)
{
    if (bytes && anet_cuda_ok() &&
        CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, anet_cuda.stream)))
        CU(cudaStreamSynchronize(anet_cuda.stream));
    return anet_cuda_error();
}

extern "C" enum anet_status anet_cuda_memset0(void *dst, size_t bytes)
{
    if (bytes && anet_cuda_ok()) CU(cudaMemsetAsync(dst, 0, bytes, anet_cuda.stream));
    return anet_cuda_error();
}

/* ---- scratch ------------------------------------------------------------------------------ */
static void *scratch_ptr[ANET_SCRATCH_SLOTS];
static size_t scratch_bytes[ANET_SCRATCH_SLOTS];

void *anet_cuda_scratch(int slot, size_t bytes)
{
    if (bytes <= scratch_bytes[slot] && scratch_ptr[slot]) return scratch_ptr[slot];
    anet_cuda_free(scratch_ptr[slot]); /* queued work that reads it runs before any reuse */
    size_t grow = bytes + bytes / 4;
    scratch_ptr[slot] = anet_cuda_malloc(grow);
    scratch_bytes[slot] = scratch_ptr[slot] ? grow : 0;
    return scratch_ptr[slot];
}

extern "C" void anet_cuda_trim(void)
{
    if (anet_cuda.device < 0) return;
    for (int i = 0; i < ANET_SCRATCH_SLOTS; i++) {
        anet_cuda_free(scratch_ptr[i]);
        scratch_ptr[i] = NULL, scratch_bytes[i] = 0;
    }
    cudaStreamSynchronize(anet_cuda.stream);
    for (struct block **at = &blocks; *at;) {
        struct block *b = *at;
        if (b->used) {
            at = &b->next;
            continue;
        }
        *at = b->next;
        cudaFree(b->ptr);
        pooled -= b->bytes;
        free(b);
    }
}

void anet_cuda_forget_algorithms(void); /* conv.cu */

extern "C" void anet_cuda_shutdown(void)
{
    if (anet_cuda.device < 0) return;
    release_pool();
    memset(scratch_ptr, 0, sizeof scratch_ptr);
    memset(scratch_bytes, 0, sizeof scratch_bytes);
    anet_cuda_forget_algorithms();
    cublasDestroy(anet_cuda.blas);
    cudnnDestroy(anet_cuda.dnn);
    cudaStreamDestroy(anet_cuda.stream);
    memset(&anet_cuda, 0, sizeof anet_cuda);
    anet_cuda.device = -1;
    peak = 0;
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
    to_bf16_kernel<<<stride_grid(count), 256, 0, anet_cuda.stream>>>(x, y, count);
    LAUNCHED("to_bf16_kernel");
}

void anet_cuda_from_bf16(const __nv_bfloat16 *x, float *y, size_t count)
{
    if (!count || !anet_cuda_ok()) return;
    from_bf16_kernel<<<stride_grid(count), 256, 0, anet_cuda.stream>>>(x, y, count);
    LAUNCHED("from_bf16_kernel");
}
