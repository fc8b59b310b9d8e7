#include "common.cuh"

/* Dropout over count floats on the GPU, as lib/cpu/dropout.c computes it: element i is
 * kept iff u_i >= p, u_i = (word >> 8)·2^−24 with word = word i % 4 of the Philox4x32-10
 * block i / 4 of stream (seed, step, purpose) (lib/core/rng.c), and kept elements are
 * multiplied by scale (1/(1 − p) for inverted dropout, computed in float by the caller). The
 * backward is the same operation applied to dy. One thread per Philox block writes its
 * (up to) four elements; with p = 0 (the paper's test-time product) nothing is drawn and a
 * thread multiplies one element. x == y is allowed. */

#define DROPOUT_THREADS 256

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* anet_philox4x32: ten rounds on counter c with key k; c becomes the output block. */
__device__ static void dropout_philox(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        uint32_t hi0 = __umulhi(PHILOX_M0, c[0]), lo0 = PHILOX_M0 * c[0];
        uint32_t hi1 = __umulhi(PHILOX_M1, c[2]), lo1 = PHILOX_M1 * c[2];
        uint32_t n0 = hi1 ^ c[1] ^ k0, n1 = lo1;
        uint32_t n2 = hi0 ^ c[3] ^ k1, n3 = lo0;
        c[0] = n0, c[1] = n1, c[2] = n2, c[3] = n3;
        k0 += PHILOX_W0, k1 += PHILOX_W1;
    }
}

/* anet_u32_to_uniform */
__device__ static float dropout_uniform(uint32_t u)
{
    return (float)(u >> 8) * (1.0f / 16777216.0f);
}

/* Thread k: Philox block b = first / 4 + k, whole-array elements max(4b, first) ..
 * min(4b + 3, first + count − 1), element a of the array at a − first here. */
__global__ static void dropout_kernel(size_t count, float p, float scale, uint32_t key0,
                                      uint32_t key1, uint32_t step, uint32_t purpose,
                                      uint64_t first, const float *x, float *y)
{
    uint64_t b0 = first / 4, end = first + count, blocks = (end + 3) / 4 - b0;
    for (uint64_t k = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; k < blocks;
         k += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t b = b0 + k;
        uint32_t word[4] = {(uint32_t)b, (uint32_t)(b >> 32), step, purpose};
        dropout_philox(word, key0, key1);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            uint64_t a = 4 * b + (uint64_t)j;
            if (a < first || a >= end) continue;
            float u = dropout_uniform(word[j]);
            /* a select, so that p = 1 (scale ∞) gives 0, not 0·∞ */
            y[a - first] = u >= p ? __fmul_rn(x[a - first], scale) : 0.0f;
        }
    }
}

/* p = 0: every element kept, y = x·scale. */
__global__ static void dropout_scale_kernel(size_t count, float scale, const float *x, float *y)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = __fmul_rn(x[i], scale);
}

/* y = mask(x), shared by forward and backward. */
static void dropout_apply(struct anet_cuda *cx, size_t count, float p, float scale,
                          uint64_t seed, uint32_t step, uint32_t purpose, uint64_t first,
                          const float *x, float *y)
{
    if (!anet_cuda_ok(cx)) return;
    if (count == 0) return;
    if (p == 0 && scale == 1) { /* everything kept, times exactly 1 */
        if (x != y)
            CU(cx, cudaMemcpyAsync(y, x, count * sizeof *y, cudaMemcpyDeviceToDevice,
                                   cx->cur->stream));
        return;
    }
    if (p == 0) { /* everything kept: the paper's test-time product */
        dropout_scale_kernel<<<anet_grid(count, DROPOUT_THREADS), DROPOUT_THREADS, 0,
                               cx->cur->stream>>>(count, scale, x, y);
        LAUNCHED(cx, "dropout_scale_kernel");
        return;
    }
    uint64_t blocks = (first + count + 3) / 4 - first / 4;
    dropout_kernel<<<anet_grid(blocks, DROPOUT_THREADS), DROPOUT_THREADS, 0,
                     cx->cur->stream>>>(count, p, scale, (uint32_t)seed,
                                         (uint32_t)(seed >> 32), step, purpose, first, x, y);
    LAUNCHED(cx, "dropout_kernel");
}

void anet_cuda_dropout_forward(struct anet_cuda *cx, size_t count, float p, float scale,
                               uint64_t seed, uint32_t step, uint32_t purpose, uint64_t first,
                               const float *x, float *y)
{
    dropout_apply(cx, count, p, scale, seed, step, purpose, first, x, y);
}

void anet_cuda_dropout_backward(struct anet_cuda *cx, size_t count, float p, float scale,
                                uint64_t seed, uint32_t step, uint32_t purpose, uint64_t first,
                                const float *dy, float *dx)
{
    dropout_apply(cx, count, p, scale, seed, step, purpose, first, dy, dx);
}
