/* Fully connected layers on the GPU with cuBLAS: y = x·Wᵀ + b and its gradients.
 *
 * Row-major x (n × in), W (out × in) and y (n × out) are, to column-major cuBLAS, xᵀ
 * (in × n), Wᵀ (in × out) and yᵀ (out × n), so
 *   forward   yᵀ (out × n) = (Wᵀ)ᵀ · xᵀ           gemm(T, N, out, n, in)
 *   dx        dxᵀ (in × n) = Wᵀ · dyᵀ              gemm(N, N, in, n, out)
 *   dw        dWᵀ (in × out) = xᵀ · (dyᵀ)ᵀ         gemm(N, T, in, out, n)
 * Precision: fp32 computes in IEEE single (CUBLAS_COMPUTE_32F, no tensor cores), tf32
 * with CUBLAS_COMPUTE_32F_FAST_TF32, bf16 from bfloat16 copies of the operands with fp32
 * accumulation and fp32 results. Bias and its gradient are own kernels. */
#include "common.cuh"

static const float one = 1.0f, zero = 0.0f;

/* C (m × n, column-major, ldc = m) = op(A) · op(B); A, B float or bf16 by precision. */
static int gemm(struct anet_cuda *cx, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void *a,
                int lda, const void *b, int ldb, float *c)
{
    enum anet_precision p = cx->precision;
    cudaDataType_t t = p == ANET_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasComputeType_t compute = p == ANET_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    return BLAS(cx, cublasGemmEx(cx->cur->blas, ta, tb, m, n, k, &one, a, t, lda, b, t, ldb, &zero, c,
                             CUDA_R_32F, m, compute, CUBLAS_GEMM_DEFAULT));
}

/* The operand as cuBLAS should read it: x itself, or its bf16 copy in a scratch slot. */
static const void *operand(struct anet_cuda *cx, int slot, const float *x, size_t count)
{
    if (cx->precision != ANET_BF16) return x;
    __nv_bfloat16 *b = (__nv_bfloat16 *)anet_cuda_scratch(cx, slot, count * sizeof *b);
    if (b) anet_cuda_to_bf16(cx, x, b, count);
    return b;
}

/* y: n × out; y[r][j] += b[j] */
__global__ static void fc_bias_kernel(float *y, const float *b, int out, size_t count)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] += b[i % out];
}

/* db[j] = Σ_r dy[r][j], rows in order: one thread a column. */
__global__ static void fc_bias_grad_kernel(const float *dy, float *db, int n, int out)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= out) return;
    float s = 0;
    for (int r = 0; r < n; r++) s += dy[(size_t)r * out + j];
    db[j] = s;
}

void anet_cuda_fc_forward(struct anet_cuda *cx, int n, int in, int out, const float *x, const float *w,
                                     const float *b, float *y)
{
    if (!anet_cuda_ok(cx) || n < 1) return;
    const void *xa = operand(cx, ANET_SCRATCH_A, x, (size_t)n * in);
    const void *wa = operand(cx, ANET_SCRATCH_B, w, (size_t)out * in);
    if (!xa || !wa || !gemm(cx, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, wa, in, xa, in, y)) return;
    if (b) {
        size_t count = (size_t)n * out;
        unsigned g = anet_grid(count, 256);
        fc_bias_kernel<<<g > 65535u ? 65535u : g, 256, 0, cx->cur->stream>>>(y, b, out, count);
        LAUNCHED(cx, "fc_bias_kernel");
    }
}

void anet_cuda_fc_backward(struct anet_cuda *cx, int n, int in, int out, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db)
{
    if (!anet_cuda_ok(cx) || n < 1) return;
    if (db) {
        fc_bias_grad_kernel<<<anet_grid(out, 256), 256, 0, cx->cur->stream>>>(dy, db, n, out);
        if (!LAUNCHED(cx, "fc_bias_grad_kernel")) return;
    }
    const void *dya = operand(cx, ANET_SCRATCH_C, dy, (size_t)n * out);
    if (!dya) return;
    if (dx) {
        const void *wa = operand(cx, ANET_SCRATCH_B, w, (size_t)out * in);
        if (!wa || !gemm(cx, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, wa, in, dya, out, dx)) return;
    }
    if (dw) {
        const void *xa = operand(cx, ANET_SCRATCH_A, x, (size_t)n * in);
        if (!xa) return;
        gemm(cx, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, xa, in, dya, out, dw);
    }
}
