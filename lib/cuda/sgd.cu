#include "common.cuh"

/* SGD with momentum and weight decay on the GPU, as lib/cpu/sgd.c computes it (paper §5):
 *   v ← (momentum·v − (decay·lr)·w) − lr·g;   w ← w + v
 * every operation separately rounded in float in that order (no FMA), with decay·lr
 * computed once on the host, so the result is the CPU's bit for bit (a tensor's learning
 * rate is lr·lr_scale, rounded once on the host as the CPU rounds it). One thread per
 * element; anet_cuda_sgd_update_list updates up to ANET_SGD_LIST_MAX tensors in one launch,
 * each block belonging to one tensor. */

#define SGD_THREADS 256

/* The list and where each tensor's blocks start, passed by value (about 1.5 KB of the
 * 4 KB of kernel parameters): tensor t owns blocks [start[t], start[t + 1]). */
struct sgd_launch {
    int count;
    float momentum;
    float lr[ANET_SGD_LIST_MAX];
    float *w[ANET_SGD_LIST_MAX];
    const float *g[ANET_SGD_LIST_MAX];
    float *v[ANET_SGD_LIST_MAX];
    size_t n[ANET_SGD_LIST_MAX];
    float decay_lr[ANET_SGD_LIST_MAX];
    size_t start[ANET_SGD_LIST_MAX + 1];
};

/* One element: (m·v − dl·w) − lr·g, then w + v. */
__device__ static void sgd_element(float *w, const float *g, float *v, size_t i, float lr,
                                   float momentum, float decay_lr)
{
    float wi = w[i];
    float vi = __fsub_rn(__fsub_rn(__fmul_rn(momentum, v[i]), __fmul_rn(decay_lr, wi)),
                         __fmul_rn(lr, g[i]));
    v[i] = vi;
    w[i] = __fadd_rn(wi, vi);
}

__global__ static void sgd_kernel(size_t count, float lr, float momentum, float decay_lr,
                                  float *w, const float *g, float *v)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        sgd_element(w, g, v, i, lr, momentum, decay_lr);
}

/* Virtual block b (grid-stride over start[count] blocks) belongs to the tensor t with
 * start[t] <= b < start[t + 1]; its thread k takes element (b − start[t])·blockDim + k. */
__global__ static void sgd_list_kernel(struct sgd_launch L)
{
    size_t blocks = L.start[L.count];
    for (size_t b = blockIdx.x; b < blocks; b += gridDim.x) {
        int t = 0;
        while (b >= L.start[t + 1]) t++;
        size_t i = (b - L.start[t]) * blockDim.x + threadIdx.x;
        if (i < L.n[t])
            sgd_element(L.w[t], L.g[t], L.v[t], i, L.lr[t], L.momentum, L.decay_lr[t]);
    }
}

void anet_cuda_sgd_update(struct anet_cuda *cx, size_t count, float lr, float momentum, float decay,
                                     float *w, const float *g, float *v)
{
    if (!anet_cuda_ok(cx)) return;
    if (count == 0) return;
    float decay_lr = decay * lr;
    sgd_kernel<<<anet_grid(count, SGD_THREADS), SGD_THREADS, 0, cx->cur->stream>>>(
        count, lr, momentum, decay_lr, w, g, v);
    LAUNCHED(cx, "sgd_kernel");
}

void anet_cuda_sgd_update_list(struct anet_cuda *cx, const struct anet_sgd_list *l, float lr,
                                          float momentum)
{
    if (!anet_cuda_ok(cx)) return;
    if (l->count <= 0) return;
    if (l->count > ANET_SGD_LIST_MAX) {
        anet_cuda_fail_msg(cx, "anet_cuda_sgd_update_list: more than ANET_SGD_LIST_MAX tensors",
                           __FILE__, __LINE__);
        return;
    }
    struct sgd_launch L;
    L.count = l->count;
    L.momentum = momentum;
    L.start[0] = 0;
    for (int t = 0; t < l->count; t++) {
        L.w[t] = l->w[t];
        L.g[t] = l->g[t];
        L.v[t] = l->v[t];
        L.n[t] = l->n[t];
        L.lr[t] = lr * l->lr_scale[t];
        L.decay_lr[t] = l->decay[t] * L.lr[t];
        L.start[t + 1] = L.start[t] + (l->n[t] + SGD_THREADS - 1) / SGD_THREADS;
    }
    for (int t = l->count; t < ANET_SGD_LIST_MAX; t++) { /* unused slots: defined values */
        L.w[t] = NULL;
        L.g[t] = NULL;
        L.v[t] = NULL;
        L.n[t] = 0;
        L.lr[t] = 0;
        L.decay_lr[t] = 0;
        L.start[t + 1] = L.start[l->count];
    }
    size_t blocks = L.start[l->count];
    if (blocks == 0) return;
    unsigned grid = blocks > 0x7fffffffu ? 0x7fffffffu : (unsigned)blocks;
    sgd_list_kernel<<<grid, SGD_THREADS, 0, cx->cur->stream>>>(L);
    LAUNCHED(cx, "sgd_list_kernel");
}
