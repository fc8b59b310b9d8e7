#include "common.cuh"

/* Softmax and cross-entropy, fused, on the GPU, as lib/cpu/softmax.c computes them:
 * logits, prob, dlogits: n × classes; label: n int32 (device). Per row, with m the row's
 * float maximum and S = Σ_j exp((double)l_j − m) in double:
 *   prob_j = (float)(exp((double)l_j − m) / S),   loss = log S − ((double)l_label − m).
 * Forward: one block per row, shared-memory reductions for m and S; the row losses are
 * copied to the host and summed there in row order, as the CPU sums them, then divided by
 * n. Backward: dlogits_j = (prob_j − [j == label]) / n, one thread per element. */

#include <math.h>
#include <stdlib.h>

#define SOFTMAX_THREADS 256 /* a power of two: the reductions halve it */
#define SOFTMAX_GRAD_THREADS 256

/* Block r: row r. */
__global__ static void softmax_xent_forward_kernel(int classes, const float *logits,
                                                   const int32_t *label, float *prob,
                                                   double *row_loss)
{
    __shared__ float smax[SOFTMAX_THREADS];
    __shared__ double ssum[SOFTMAX_THREADS];
    int tid = threadIdx.x;
    size_t at = (size_t)blockIdx.x * classes;
    const float *l = logits + at;

    /* m = max_j l_j */
    float m = l[0];
    for (int j = tid; j < classes; j += SOFTMAX_THREADS) m = l[j] > m ? l[j] : m;
    smax[tid] = m;
    __syncthreads();
    for (int half = SOFTMAX_THREADS / 2; half > 0; half /= 2) {
        if (tid < half) smax[tid] = smax[tid + half] > smax[tid] ? smax[tid + half] : smax[tid];
        __syncthreads();
    }
    m = smax[0];

    /* S = Σ_j exp(l_j − m), in double */
    double s = 0;
    for (int j = tid; j < classes; j += SOFTMAX_THREADS) s += exp((double)l[j] - (double)m);
    ssum[tid] = s;
    __syncthreads();
    for (int half = SOFTMAX_THREADS / 2; half > 0; half /= 2) {
        if (tid < half) ssum[tid] += ssum[tid + half];
        __syncthreads();
    }
    s = ssum[0];

    for (int j = tid; j < classes; j += SOFTMAX_THREADS)
        prob[at + j] = (float)(exp((double)l[j] - (double)m) / s);
    if (tid == 0) {
        int32_t y = label[blockIdx.x];
        /* a label outside [0, classes) (undefined on the CPU) gives a NaN loss here
         * instead of a read out of bounds */
        row_loss[blockIdx.x] = y >= 0 && y < classes ? log(s) - ((double)l[y] - (double)m)
                                                     : (double)NAN;
    }
}

/* Element t: row t / classes, column t % classes. */
__global__ static void softmax_xent_backward_kernel(int n, int classes, const float *prob,
                                                    const int32_t *label, int images,
                                                    float *dlogits)
{
    size_t total = (size_t)n * classes;
    float fn = (float)images;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        int j = (int)(t % classes);
        int32_t y = label[t / classes];
        dlogits[t] = __fdiv_rn(__fsub_rn(prob[t], j == y ? 1.0f : 0.0f), fn);
    }
}

void anet_cuda_softmax_xent_forward(struct anet_cuda *cx, int n, int classes, const float *logits,
                                    const int32_t *label, float *prob, double *loss)
{
    *loss = NAN;
    if (!anet_cuda_ok(cx)) return;
    if (n <= 0 || classes <= 0) return; /* the CPU's 0 / 0 for n = 0 */
    double *dev_loss = (double *)anet_cuda_scratch(cx, ANET_SCRATCH_LOSS, (size_t)n * sizeof(double));
    if (!dev_loss) return;
    double *row_loss = (double *)malloc((size_t)n * sizeof(double));
    if (!row_loss) {
        anet_cuda_fail_msg(cx, "softmax: out of host memory for the row losses", __FILE__, __LINE__);
        return;
    }
    softmax_xent_forward_kernel<<<n, SOFTMAX_THREADS, 0, cx->cur->stream>>>(
        classes, logits, label, prob, dev_loss);
    if (LAUNCHED(cx, "softmax_xent_forward_kernel") &&
        CU(cx, cudaMemcpyAsync(row_loss, dev_loss, (size_t)n * sizeof(double),
                              cudaMemcpyDeviceToHost, cx->cur->stream)) &&
        CU(cx, cudaStreamSynchronize(cx->cur->stream))) {
        double sum = 0;
        for (int r = 0; r < n; r++) sum += row_loss[r];
        *loss = sum / n;
    }
    free(row_loss);
}

void anet_cuda_softmax_xent_backward(struct anet_cuda *cx, int n, int classes, const float *prob,
                                     const int32_t *label, int images, float *dlogits)
{
    if (!anet_cuda_ok(cx)) return;
    if (n <= 0 || classes <= 0) return;
    size_t total = (size_t)n * classes;
    softmax_xent_backward_kernel<<<anet_grid(total, SOFTMAX_GRAD_THREADS),
                                   SOFTMAX_GRAD_THREADS, 0, cx->cur->stream>>>(
        n, classes, prob, label, images, dlogits);
    LAUNCHED(cx, "softmax_xent_backward_kernel");
}
