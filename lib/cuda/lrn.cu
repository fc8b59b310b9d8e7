#include "common.cuh"

/* Local response normalisation across channels (paper §3.3) on the GPU:
 *   scale_i = k + α Σ_{j=max(0,i−size/2)}^{min(c−1,i+size/2)} x_j²,   y_i = x_i · scale_i^−β
 *   dx_i = dy_i·scale_i^−β − 2αβ·x_i·Σ_{j in window(i)} dy_j·y_j / scale_j
 * x, y, scale, dy, dx: n × c × hw. One thread per (image, pixel) walks the channels keeping
 * a running window sum in double, exactly as lib/cpu/lrn.c's fast path does (same terms,
 * same order, same roundings), so the results are the CPU's; threads of a warp read
 * adjacent pixels, so every access is coalesced. */

#define LRN_THREADS 256

/* s^−β. For the paper's β = 3/4, 1 / (√s·√√s) with correctly rounded operations, as the
 * CPU computes it; powf otherwise. */
__device__ static float lrn_pow_neg_beta(float s, float beta)
{
    if (beta == 0.75f) {
        float r = __fsqrt_rn(s);
        return __fdiv_rn(1.0f, __fmul_rn(r, __fsqrt_rn(r)));
    }
    return powf(s, -beta);
}

/* a² in double (exact for a float) */
__device__ static double lrn_square(float a)
{
    return __dmul_rn((double)a, (double)a);
}

/* dy·y/scale in float, widened */
__device__ static double lrn_ratio(float dy, float y, float s)
{
    return (double)__fdiv_rn(__fmul_rn(dy, y), s);
}

/* Thread t: image m = t / hw, pixel q = t % hw; rows of channel i are i·hw apart. */
__global__ static void lrn_forward_kernel(int n, int c, int hw, int half, float k, float alpha,
                                          float beta, const float *x, float *y, float *scale)
{
    size_t total = (size_t)n * hw;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        size_t m = t / hw, q = t % hw;
        size_t base = m * c * hw + q;
        const float *xp = x + base;
        double sum = 0;
        /* before channel 0 the window holds channels [0, half) */
        for (int j = 0; j < half && j < c; j++) sum = __dadd_rn(sum, lrn_square(xp[(size_t)j * hw]));
        for (int i = 0; i < c; i++) {
            size_t row = (size_t)i * hw;
            if (i + half < c) sum = __dadd_rn(sum, lrn_square(xp[(size_t)(i + half) * hw]));
            float s = __fadd_rn(k, __fmul_rn(alpha, (float)sum));
            scale[base + row] = s;
            y[base + row] = __fmul_rn(xp[row], lrn_pow_neg_beta(s, beta));
            if (i - half >= 0) sum = __dsub_rn(sum, lrn_square(xp[(size_t)(i - half) * hw]));
        }
    }
}

__global__ static void lrn_backward_kernel(int n, int c, int hw, int half, float beta,
                                           float two_ab, const float *x, const float *y,
                                           const float *scale, const float *dy, float *dx)
{
    size_t total = (size_t)n * hw;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        size_t m = t / hw, q = t % hw;
        size_t base = m * c * hw + q;
        const float *xp = x + base, *yp = y + base, *sp = scale + base, *dyp = dy + base;
        double sum = 0;
        for (int j = 0; j < half && j < c; j++) {
            size_t r = (size_t)j * hw;
            sum = __dadd_rn(sum, lrn_ratio(dyp[r], yp[r], sp[r]));
        }
        for (int i = 0; i < c; i++) {
            size_t row = (size_t)i * hw;
            if (i + half < c) {
                size_t r = (size_t)(i + half) * hw;
                sum = __dadd_rn(sum, lrn_ratio(dyp[r], yp[r], sp[r]));
            }
            float pw = lrn_pow_neg_beta(sp[row], beta);
            dx[base + row] = __fsub_rn(__fmul_rn(dyp[row], pw),
                                       __fmul_rn(__fmul_rn(two_ab, xp[row]), (float)sum));
            if (i - half >= 0) {
                size_t r = (size_t)(i - half) * hw;
                sum = __dsub_rn(sum, lrn_ratio(dyp[r], yp[r], sp[r]));
            }
        }
    }
}

void anet_cuda_lrn_forward(struct anet_cuda *cx, int n, int c, int hw, const struct anet_lrn_param *p,
                                      const float *x, float *y, float *scale)
{
    if (!anet_cuda_ok(cx)) return;
    if (n <= 0 || c <= 0 || hw <= 0) return;
    size_t total = (size_t)n * hw;
    lrn_forward_kernel<<<anet_grid(total, LRN_THREADS), LRN_THREADS, 0, cx->cur->stream>>>(
        n, c, hw, p->size / 2, p->k, p->alpha, p->beta, x, y, scale);
    LAUNCHED(cx, "lrn_forward_kernel");
}

void anet_cuda_lrn_backward(struct anet_cuda *cx, int n, int c, int hw, const struct anet_lrn_param *p,
                                       const float *x, const float *y, const float *scale,
                                       const float *dy, float *dx)
{
    if (!anet_cuda_ok(cx)) return;
    if (n <= 0 || c <= 0 || hw <= 0) return;
    float two_ab = 2 * p->alpha * p->beta; /* as the CPU computes it, in float */
    size_t total = (size_t)n * hw;
    lrn_backward_kernel<<<anet_grid(total, LRN_THREADS), LRN_THREADS, 0, cx->cur->stream>>>(
        n, c, hw, p->size / 2, p->beta, two_ab, x, y, scale, dy, dx);
    LAUNCHED(cx, "lrn_backward_kernel");
}
