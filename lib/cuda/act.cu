#include "common.cuh"

/* Elementwise activations over count floats on the GPU, as lib/cpu/act.c computes them:
 *   forward   relu: y = x > 0 ? x : 0 (−0 and NaN give +0);  tanh: y = tanhf(x)
 *   backward  from the forward OUTPUT y: relu: dx = y > 0 ? dy : 0;  tanh: dx = dy·(1 − y·y)
 * One thread per element (grid-stride); x == y and dx == dy are allowed, each element being
 * read before it is written by the same thread only. */

#define ACT_THREADS 256

/* x > 0 ? x : 0 as the CPU writes it: −0 and NaN give +0. nvcc emits max.f32, which
 * gives exactly that (it emits the same instruction for the bit mask
 * __float_as_int(x) & -(x > 0), whose result is unambiguous). */
__device__ static float act_relu(float x) { return x > 0.0f ? x : 0.0f; }
__device__ static float act_relu_grad(float y, float dy) { return y > 0.0f ? dy : 0.0f; }
/* dy·(1 − y·y), three separately rounded operations as on the CPU (no FMA) */
__device__ static float act_tanh_grad(float y, float dy)
{
    return __fmul_rn(dy, __fsub_rn(1.0f, __fmul_rn(y, y)));
}

__global__ static void relu_forward_kernel(size_t count, const float *x, float *y)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = act_relu(x[i]);
}

__global__ static void tanh_forward_kernel(size_t count, const float *x, float *y)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = tanhf(x[i]);
}

__global__ static void relu_backward_kernel(size_t count, const float *y, const float *dy,
                                            float *dx)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        dx[i] = act_relu_grad(y[i], dy[i]);
}

__global__ static void tanh_backward_kernel(size_t count, const float *y, const float *dy,
                                            float *dx)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        dx[i] = act_tanh_grad(y[i], dy[i]);
}

void anet_cuda_act_forward(struct anet_cuda *cx, enum anet_act a, size_t count, const float *x, float *y)
{
    if (!anet_cuda_ok(cx)) return;
    if (count == 0) return;
    unsigned grid = anet_grid(count, ACT_THREADS);
    if (a == ANET_ACT_RELU) {
        relu_forward_kernel<<<grid, ACT_THREADS, 0, cx->cur->stream>>>(count, x, y);
        LAUNCHED(cx, "relu_forward_kernel");
    } else {
        tanh_forward_kernel<<<grid, ACT_THREADS, 0, cx->cur->stream>>>(count, x, y);
        LAUNCHED(cx, "tanh_forward_kernel");
    }
}

void anet_cuda_act_backward(struct anet_cuda *cx, enum anet_act a, size_t count, const float *y,
                                       const float *dy, float *dx)
{
    if (!anet_cuda_ok(cx)) return;
    if (count == 0) return;
    unsigned grid = anet_grid(count, ACT_THREADS);
    if (a == ANET_ACT_RELU) {
        relu_backward_kernel<<<grid, ACT_THREADS, 0, cx->cur->stream>>>(count, y, dy, dx);
        LAUNCHED(cx, "relu_backward_kernel");
    } else {
        tanh_backward_kernel<<<grid, ACT_THREADS, 0, cx->cur->stream>>>(count, y, dy, dx);
        LAUNCHED(cx, "tanh_backward_kernel");
    }
}
