#include "common.cuh"

/* Max pooling without padding on the GPU, as lib/cpu/pool.c defines it. x, dx: n × c × h × w;
 * y, dy, arg: n × c × oh × ow with o = (in − size)/stride + 1 (0 when in < size); arg is the
 * offset ih·w + iw of the window's FIRST maximum in row-major order (strict ">").
 * Forward: one thread per output. Backward: a deterministic gather, one thread per input
 * element summing, in ascending output order as the CPU does, the dy of every output whose
 * arg names it; every dx element is written, so no memset and no atomics. */

#define POOL_THREADS 256

/* Output side (in − size)/stride + 1, 0 when in < size (anet_pool_out). */
static int pool_out(int in, int size, int stride)
{
    return in < size ? 0 : (in - size) / stride + 1;
}

/* Output t: ox = t % ow, oy = (t / ow) % oh, plane pl = t / (oh·ow). */
__global__ static void maxpool_forward_kernel(size_t planes, int h, int w, int size, int stride,
                                              int oh, int ow, const float *x, float *y,
                                              int32_t *arg)
{
    size_t total = planes * oh * ow;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        int ox = (int)(t % ow);
        size_t r = t / ow;
        int oy = (int)(r % oh);
        size_t pl = r / oh;
        const float *xp = x + pl * h * w;
        int best = oy * stride * w + ox * stride;
        float bestv = xp[best];
        for (int ky = 0; ky < size; ky++) {
            for (int kx = 0; kx < size; kx++) {
                int at = (oy * stride + ky) * w + ox * stride + kx;
                float v = xp[at];
                if (v > bestv) {
                    bestv = v;
                    best = at;
                }
            }
        }
        y[t] = bestv;
        arg[t] = best;
    }
}

/* Input t: iw = t % w, ih = (t / w) % h, plane pl = t / (h·w). The outputs whose window
 * covers (ih, iw) are oy in [ceil((ih − size + 1)/stride), ih/stride] ∩ [0, oh), the same
 * for ox; they are visited oy ascending, then ox ascending: the CPU's order of addition. */
__global__ static void maxpool_backward_kernel(size_t planes, int h, int w, int size,
                                               int stride, int oh, int ow, const float *dy,
                                               const int32_t *arg, float *dx)
{
    size_t total = planes * h * w;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        int iw = (int)(t % w);
        size_t r = t / w;
        int ih = (int)(r % h);
        size_t pl = r / h;
        int32_t self = ih * w + iw;
        int oy0 = ih < size ? 0 : (ih - size + stride) / stride;
        int ox0 = iw < size ? 0 : (iw - size + stride) / stride;
        int oy1 = min(ih / stride, oh - 1), ox1 = min(iw / stride, ow - 1);
        const float *dyp = dy + pl * oh * ow;
        const int32_t *ap = arg + pl * oh * ow;
        float sum = 0;
        for (int oy = oy0; oy <= oy1; oy++) {
            for (int ox = ox0; ox <= ox1; ox++) {
                int o = oy * ow + ox;
                if (ap[o] == self) sum = __fadd_rn(sum, dyp[o]);
            }
        }
        dx[t] = sum;
    }
}

void anet_cuda_maxpool_forward(struct anet_cuda *cx, const struct anet_pool_desc *d, const float *x,
                                          float *y, int32_t *arg)
{
    if (!anet_cuda_ok(cx)) return;
    int oh = pool_out(d->h, d->size, d->stride), ow = pool_out(d->w, d->size, d->stride);
    size_t planes = (size_t)(d->n > 0 ? d->n : 0) * (size_t)(d->c > 0 ? d->c : 0);
    size_t total = planes * oh * ow;
    if (total == 0) return;
    maxpool_forward_kernel<<<anet_grid(total, POOL_THREADS), POOL_THREADS, 0,
                             cx->cur->stream>>>(planes, d->h, d->w, d->size, d->stride, oh,
                                                 ow, x, y, arg);
    LAUNCHED(cx, "maxpool_forward_kernel");
}

void anet_cuda_maxpool_backward(struct anet_cuda *cx, const struct anet_pool_desc *d, const float *dy,
                                           const int32_t *arg, float *dx)
{
    if (!anet_cuda_ok(cx)) return;
    int oh = pool_out(d->h, d->size, d->stride), ow = pool_out(d->w, d->size, d->stride);
    size_t planes = (size_t)(d->n > 0 ? d->n : 0) * (size_t)(d->c > 0 ? d->c : 0);
    if (d->h <= 0 || d->w <= 0) return;
    size_t total = planes * d->h * d->w;
    if (total == 0) return;
    maxpool_backward_kernel<<<anet_grid(total, POOL_THREADS), POOL_THREADS, 0,
                              cx->cur->stream>>>(planes, d->h, d->w, d->size, d->stride, oh,
                                                  ow, dy, arg, dx);
    LAUNCHED(cx, "maxpool_backward_kernel");
}
