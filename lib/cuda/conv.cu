/* Grouped convolution on the GPU with cuDNN, forward and backward.
 *
 * For each shape (batch included) and precision the tensor descriptors are built once and
 * the fastest algorithm of each direction is measured with cudnnFind*; the choice is kept
 * in a small cache, and the workspace is the context's, grown to the largest any choice
 * needs. Bias is added, and its gradient summed, by own kernels (deterministic).
 *
 * Precision: fp32 restricts cuDNN to FMA math (no tensor cores, no TF32); tf32 allows
 * tensor-op math on float data; bf16 rounds x, w and dy to bfloat16 copies, runs cuDNN
 * with bf16 data and float compute, and widens the outputs back to float, all in NCHW.
 * ANET_CUDA_BF16_NHWC=1 makes the bf16 copies channels-last instead (NHWC, weights KRSC;
 * for 8k channels a group, other shapes stay NCHW), with the channels of an ungrouped
 * layer padded with zeros to a multiple of 8 (conv1's 3 become 8: zero inputs times zero
 * weights change nothing), rounded and transposed in one tiled pass and back. It gives the
 * same results (tests/unit/test_cuda.c passes either way) but the whole step was 15%
 * slower on an H200 (BENCHMARKS.md), so it is off by default. */
#include <stdlib.h>
#include <string.h>
#include "common.cuh"

struct conv_plan {
    struct anet_conv_desc d;
    enum anet_precision precision;
    int device;     /* algorithms are measured on, and kept for, one device */
    int nhwc;       /* bf16 copies channels-last */
    int cp;         /* input channels of the copies: c, or c padded to a multiple of 8 */
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    cudnnMathType_t fwd_math, data_math, filter_math;
    size_t fwd_bytes, data_bytes, filter_bytes;
    int have_fwd, have_data, have_filter;
    struct conv_plan *next;
};
void anet_cuda_forget_plans(struct anet_cuda *cx)
{
    while (cx->plans) {
        struct conv_plan *p = cx->plans;
        cx->plans = p->next;
        DNN(cx, cudnnDestroyTensorDescriptor(p->x));
        DNN(cx, cudnnDestroyTensorDescriptor(p->y));
        DNN(cx, cudnnDestroyFilterDescriptor(p->w));
        DNN(cx, cudnnDestroyConvolutionDescriptor(p->conv));
        free(p);
    }
}

static int same_desc(const struct anet_conv_desc *a, const struct anet_conv_desc *b)
{
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w && a->k == b->k &&
           a->kh == b->kh && a->kw == b->kw && a->stride == b->stride && a->pad == b->pad &&
           a->groups == b->groups;
}

static cudnnMathType_t base_math(enum anet_precision p)
{
    return p == ANET_FP32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

/* fp32 takes no algorithm that reports tensor-op math. */
static int math_allowed(enum anet_precision p, cudnnMathType_t m)
{
    return p != ANET_FP32 || (m != CUDNN_TENSOR_OP_MATH && m != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
}

static cudnnMathType_t run_math(enum anet_precision p, cudnnMathType_t found)
{
    return p == ANET_FP32 ? CUDNN_FMA_MATH : found;
}

/* Channels-last bf16 where cuDNN's tensor-core kernels take it: a multiple of 8 output
 * channels a group, and a multiple of 8 input channels a group or one group (padded). */
static int nhwc_for(const struct anet_cuda *cx, const struct anet_conv_desc *d,
                    enum anet_precision prec)
{
    int kg = d->k / d->groups, cg = d->c / d->groups;
    return prec == ANET_BF16 && cx->bf16_nhwc && kg % 8 == 0 && (d->groups == 1 || cg % 8 == 0);
}

static struct conv_plan *make_plan(struct anet_cuda *cx, const struct anet_conv_desc *d,
                                   enum anet_precision prec)
{
    struct conv_plan *p = (struct conv_plan *)calloc(1, sizeof *p);
    if (!p) {
        anet_cuda_fail_msg(cx, "out of host memory for a convolution plan", __FILE__, __LINE__);
        return NULL;
    }
    p->d = *d;
    p->precision = prec;
    p->device = cx->cur->device;
    p->nhwc = nhwc_for(cx, d, prec);
    p->cp = p->nhwc && d->groups == 1 ? (d->c + 7) / 8 * 8 : d->c;
    cudnnDataType_t t = prec == ANET_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    cudnnTensorFormat_t f = p->nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    int oh = (d->h + 2 * d->pad - d->kh) / d->stride + 1;
    int ow = (d->w + 2 * d->pad - d->kw) / d->stride + 1;
    int ok = DNN(cx, cudnnCreateTensorDescriptor(&p->x)) && DNN(cx, cudnnCreateTensorDescriptor(&p->y)) &&
             DNN(cx, cudnnCreateFilterDescriptor(&p->w)) &&
             DNN(cx, cudnnCreateConvolutionDescriptor(&p->conv)) &&
             DNN(cx, cudnnSetTensor4dDescriptor(p->x, f, t, d->n, p->cp, d->h, d->w)) &&
             DNN(cx, cudnnSetTensor4dDescriptor(p->y, f, t, d->n, d->k, oh, ow)) &&
             DNN(cx, cudnnSetFilter4dDescriptor(p->w, t, f, d->k, p->cp / d->groups, d->kh, d->kw)) &&
             DNN(cx, cudnnSetConvolution2dDescriptor(p->conv, d->pad, d->pad, d->stride, d->stride, 1,
                                                 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)) &&
             DNN(cx, cudnnSetConvolutionGroupCount(p->conv, d->groups)) &&
             DNN(cx, cudnnSetConvolutionMathType(p->conv, base_math(prec)));
    if (!ok) {
        if (p->x) DNN(cx, cudnnDestroyTensorDescriptor(p->x));
        if (p->y) DNN(cx, cudnnDestroyTensorDescriptor(p->y));
        if (p->w) DNN(cx, cudnnDestroyFilterDescriptor(p->w));
        if (p->conv) DNN(cx, cudnnDestroyConvolutionDescriptor(p->conv));
        free(p);
        return NULL;
    }
    p->next = cx->plans;
    cx->plans = p;
    return p;
}

static struct conv_plan *plan_for(struct anet_cuda *cx, const struct anet_conv_desc *d)
{
    enum anet_precision prec = cx->precision;
    for (struct conv_plan *p = cx->plans; p; p = p->next)
        if (p->precision == prec && p->device == cx->cur->device && same_desc(&p->d, d) &&
            p->nhwc == nhwc_for(cx, d, prec))
            return p;
    return make_plan(cx, d, prec);
}

#define FIND_MAX 16
static const size_t workspace_cap = (size_t)4 << 30; /* never choose an algorithm wanting more */

static int find_fwd(struct anet_cuda *cx, struct conv_plan *p)
{
    cudnnConvolutionFwdAlgoPerf_t r[FIND_MAX];
    int got = 0;
    if (!DNN(cx, cudnnSetConvolutionMathType(p->conv, base_math(p->precision))) ||
        !DNN(cx, cudnnFindConvolutionForwardAlgorithm(cx->cur->dnn, p->x, p->w, p->conv, p->y,
                                                  FIND_MAX, &got, r)))
        return 0;
    for (int i = 0; i < got; i++)
        if (r[i].status == CUDNN_STATUS_SUCCESS && r[i].memory <= workspace_cap &&
            math_allowed(p->precision, r[i].mathType)) {
            p->fwd = r[i].algo, p->fwd_bytes = r[i].memory;
            p->fwd_math = run_math(p->precision, r[i].mathType);
            return p->have_fwd = 1;
        }
    return anet_cuda_fail_msg(cx, "cudnnFindConvolutionForwardAlgorithm: no usable algorithm", __FILE__,
                              __LINE__);
}

static int find_data(struct anet_cuda *cx, struct conv_plan *p)
{
    cudnnConvolutionBwdDataAlgoPerf_t r[FIND_MAX];
    int got = 0;
    if (!DNN(cx, cudnnSetConvolutionMathType(p->conv, base_math(p->precision))) ||
        !DNN(cx, cudnnFindConvolutionBackwardDataAlgorithm(cx->cur->dnn, p->w, p->y, p->conv, p->x,
                                                       FIND_MAX, &got, r)))
        return 0;
    for (int i = 0; i < got; i++)
        if (r[i].status == CUDNN_STATUS_SUCCESS && r[i].memory <= workspace_cap &&
            math_allowed(p->precision, r[i].mathType)) {
            p->bwd_data = r[i].algo, p->data_bytes = r[i].memory;
            p->data_math = run_math(p->precision, r[i].mathType);
            return p->have_data = 1;
        }
    return anet_cuda_fail_msg(cx, "cudnnFindConvolutionBackwardDataAlgorithm: no usable algorithm",
                              __FILE__, __LINE__);
}

static int find_filter(struct anet_cuda *cx, struct conv_plan *p)
{
    cudnnConvolutionBwdFilterAlgoPerf_t r[FIND_MAX];
    int got = 0;
    if (!DNN(cx, cudnnSetConvolutionMathType(p->conv, base_math(p->precision))) ||
        !DNN(cx, cudnnFindConvolutionBackwardFilterAlgorithm(cx->cur->dnn, p->x, p->y, p->conv, p->w,
                                                         FIND_MAX, &got, r)))
        return 0;
    for (int i = 0; i < got; i++)
        if (r[i].status == CUDNN_STATUS_SUCCESS && r[i].memory <= workspace_cap &&
            math_allowed(p->precision, r[i].mathType)) {
            p->bwd_filter = r[i].algo, p->filter_bytes = r[i].memory;
            p->filter_math = run_math(p->precision, r[i].mathType);
            return p->have_filter = 1;
        }
    return anet_cuda_fail_msg(cx, "cudnnFindConvolutionBackwardFilterAlgorithm: no usable algorithm",
                              __FILE__, __LINE__);
}

/* ---- bias ------------------------------------------------------------------------------- */
/* y: n × k × plane; y[i] += b[channel of i] */
__global__ static void bias_add_kernel(float *y, const float *b, int k, int plane, size_t count)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] += b[(i / plane) % k];
}

/* db[ch] = Σ over images and the plane of dy: one block a channel. */
__global__ static void bias_grad_kernel(const float *dy, float *db, int n, int k, int plane)
{
    __shared__ float part[256];
    int ch = blockIdx.x;
    float s = 0;
    for (int img = 0; img < n; img++) {
        const float *row = dy + ((size_t)img * k + ch) * plane;
        for (int q = threadIdx.x; q < plane; q += blockDim.x) s += row[q];
    }
    part[threadIdx.x] = s;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) db[ch] = part[0];
}

static void bias_add(struct anet_cuda *cx, float *y, const float *b, int n, int k, int plane)
{
    size_t count = (size_t)n * k * plane;
    unsigned g = anet_grid(count, 256);
    bias_add_kernel<<<g > 65535u ? 65535u : g, 256, 0, cx->cur->stream>>>(y, b, k, plane, count);
    LAUNCHED(cx, "bias_add_kernel");
}

/* ---- the ops ------------------------------------------------------------------------------ */
static const float one = 1.0f, zero = 0.0f;

static void out_side(const struct anet_conv_desc *d, int *oh, int *ow)
{
    *oh = (d->h + 2 * d->pad - d->kh) / d->stride + 1;
    *ow = (d->w + 2 * d->pad - d->kw) / d->stride + 1;
}

/* ---- channels-last bf16 copies ----------------------------------------------------------
 * A tensor of N items of C channels × P positions (NCHW: an image's C planes of P = h·w
 * pixels; KCRS weights: a kernel's C input channels of P = kh·kw taps) to N × P × CP bf16
 * (NHWC / KRSC) with channels C..CP−1 zero, and back. 32 × 32 tiles through shared memory,
 * so that both the reads and the writes of a warp are contiguous. */
#define TILE 32
__global__ static void to_nhwc_bf16_kernel(const float *in, __nv_bfloat16 *out, int C, int P,
                                           int CP)
{
    __shared__ float tile[TILE][TILE + 1];
    int p0 = blockIdx.x * TILE, c0 = blockIdx.y * TILE;
    const float *src = in + (size_t)blockIdx.z * C * P;
    __nv_bfloat16 *dst = out + (size_t)blockIdx.z * P * CP;
    for (int j = threadIdx.y; j < TILE; j += blockDim.y) { /* j: channel in the tile */
        int c = c0 + j, p = p0 + threadIdx.x;
        tile[j][threadIdx.x] = c < C && p < P ? src[(size_t)c * P + p] : 0.0f;
    }
    __syncthreads();
    for (int j = threadIdx.y; j < TILE; j += blockDim.y) { /* j: position in the tile */
        int p = p0 + j, c = c0 + threadIdx.x;
        if (p < P && c < CP) dst[(size_t)p * CP + c] = __float2bfloat16_rn(tile[threadIdx.x][j]);
    }
}

__global__ static void from_nhwc_bf16_kernel(const __nv_bfloat16 *in, float *out, int C, int P,
                                             int CP)
{
    __shared__ float tile[TILE][TILE + 1];
    int p0 = blockIdx.x * TILE, c0 = blockIdx.y * TILE;
    const __nv_bfloat16 *src = in + (size_t)blockIdx.z * P * CP;
    float *dst = out + (size_t)blockIdx.z * C * P;
    for (int j = threadIdx.y; j < TILE; j += blockDim.y) { /* j: position in the tile */
        int p = p0 + j, c = c0 + threadIdx.x;
        tile[j][threadIdx.x] = p < P && c < CP ? __bfloat162float(src[(size_t)p * CP + c]) : 0.0f;
    }
    __syncthreads();
    for (int j = threadIdx.y; j < TILE; j += blockDim.y) { /* j: channel in the tile */
        int c = c0 + j, p = p0 + threadIdx.x;
        if (c < C && p < P) dst[(size_t)c * P + p] = tile[threadIdx.x][j];
    }
}

/* x: N × C × P floats -> a scratch slot's N × P × CP bf16; NULL on failure. */
static __nv_bfloat16 *nhwc_copy(struct anet_cuda *cx, int slot, const float *x, int N, int C, int P, int CP)
{
    __nv_bfloat16 *b = (__nv_bfloat16 *)anet_cuda_scratch(cx, slot, (size_t)N * P * CP * sizeof *b);
    if (!b) return NULL;
    dim3 grid((P + TILE - 1) / TILE, (CP + TILE - 1) / TILE, N), block(TILE, 8);
    to_nhwc_bf16_kernel<<<grid, block, 0, cx->cur->stream>>>(x, b, C, P, CP);
    return LAUNCHED(cx, "to_nhwc_bf16_kernel") ? b : NULL;
}

/* b: N × P × CP bf16 -> y: N × C × P floats (channels C.. dropped). */
static void from_nhwc(struct anet_cuda *cx, const __nv_bfloat16 *b, float *y, int N, int C, int P, int CP)
{
    dim3 grid((P + TILE - 1) / TILE, (C + TILE - 1) / TILE, N), block(TILE, 8);
    from_nhwc_bf16_kernel<<<grid, block, 0, cx->cur->stream>>>(b, y, C, P, CP);
    LAUNCHED(cx, "from_nhwc_bf16_kernel");
}

/* bf16 copies of a float array in a scratch slot; NULL on failure. */
static __nv_bfloat16 *bf16_copy(struct anet_cuda *cx, int slot, const float *x, size_t count)
{
    __nv_bfloat16 *b = (__nv_bfloat16 *)anet_cuda_scratch(cx, slot, count * sizeof *b);
    if (b) anet_cuda_to_bf16(cx, x, b, count);
    return b;
}

void anet_cuda_conv_forward(struct anet_cuda *cx, const struct anet_conv_desc *d, const float *x,
                                       const float *w, const float *b, float *y, float *work)
{
    (void)work;
    if (!anet_cuda_ok(cx)) return;
    struct conv_plan *p = plan_for(cx, d);
    if (!p || (!p->have_fwd && !find_fwd(cx, p))) return;
    int oh, ow;
    out_side(d, &oh, &ow);
    size_t xs = (size_t)d->n * d->c * d->h * d->w, ys = (size_t)d->n * d->k * oh * ow;
    size_t ws = (size_t)d->k * (d->c / d->groups) * d->kh * d->kw;
    void *space = p->fwd_bytes ? anet_cuda_scratch(cx, ANET_SCRATCH_WORKSPACE, p->fwd_bytes) : NULL;
    if (p->fwd_bytes && !space) return;
    if (!DNN(cx, cudnnSetConvolutionMathType(p->conv, p->fwd_math))) return;
    int cg = d->c / d->groups, cpg = p->cp / d->groups, taps = d->kh * d->kw;
    if (p->nhwc) {
        __nv_bfloat16 *xb = nhwc_copy(cx, ANET_SCRATCH_A, x, d->n, d->c, d->h * d->w, p->cp);
        __nv_bfloat16 *wb = nhwc_copy(cx, ANET_SCRATCH_B, w, d->k, cg, taps, cpg);
        __nv_bfloat16 *yb = (__nv_bfloat16 *)anet_cuda_scratch(cx, ANET_SCRATCH_C, ys * sizeof *yb);
        if (!xb || !wb || !yb) return;
        if (!DNN(cx, cudnnConvolutionForward(cx->cur->dnn, &one, p->x, xb, p->w, wb, p->conv, p->fwd,
                                         space, p->fwd_bytes, &zero, p->y, yb)))
            return;
        from_nhwc(cx, yb, y, d->n, d->k, oh * ow, d->k);
    } else if (p->precision == ANET_BF16) {
        __nv_bfloat16 *xb = bf16_copy(cx, ANET_SCRATCH_A, x, xs), *wb = bf16_copy(cx, ANET_SCRATCH_B, w, ws);
        __nv_bfloat16 *yb = (__nv_bfloat16 *)anet_cuda_scratch(cx, ANET_SCRATCH_C, ys * sizeof *yb);
        if (!xb || !wb || !yb) return;
        if (!DNN(cx, cudnnConvolutionForward(cx->cur->dnn, &one, p->x, xb, p->w, wb, p->conv, p->fwd,
                                         space, p->fwd_bytes, &zero, p->y, yb)))
            return;
        anet_cuda_from_bf16(cx, yb, y, ys);
    } else if (!DNN(cx, cudnnConvolutionForward(cx->cur->dnn, &one, p->x, x, p->w, w, p->conv, p->fwd,
                                            space, p->fwd_bytes, &zero, p->y, y)))
        return;
    if (b) bias_add(cx, y, b, d->n, d->k, oh * ow);
}

/* The backward pass through channels-last bf16 copies (the bias gradient is done). */
static void nhwc_backward(struct anet_cuda *cx, const struct conv_plan *p, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, void *space, int oplane)
{
    const struct anet_conv_desc *d = &p->d;
    int cg = d->c / d->groups, cpg = p->cp / d->groups, taps = d->kh * d->kw, plane = d->h * d->w;
    __nv_bfloat16 *dyb = nhwc_copy(cx, ANET_SCRATCH_A, dy, d->n, d->k, oplane, d->k);
    if (!dyb) return;
    if (dx) {
        __nv_bfloat16 *wb = nhwc_copy(cx, ANET_SCRATCH_B, w, d->k, cg, taps, cpg);
        __nv_bfloat16 *dxb = (__nv_bfloat16 *)anet_cuda_scratch(cx, 
            ANET_SCRATCH_C, (size_t)d->n * plane * p->cp * sizeof *dxb);
        if (!wb || !dxb || !DNN(cx, cudnnSetConvolutionMathType(p->conv, p->data_math)) ||
            !DNN(cx, cudnnConvolutionBackwardData(cx->cur->dnn, &one, p->w, wb, p->y, dyb, p->conv,
                                              p->bwd_data, space, p->data_bytes, &zero, p->x, dxb)))
            return;
        from_nhwc(cx, dxb, dx, d->n, d->c, plane, p->cp);
    }
    if (dw) {
        __nv_bfloat16 *xb = nhwc_copy(cx, ANET_SCRATCH_B, x, d->n, d->c, plane, p->cp);
        __nv_bfloat16 *dwb = (__nv_bfloat16 *)anet_cuda_scratch(cx, 
            ANET_SCRATCH_C, (size_t)d->k * taps * cpg * sizeof *dwb);
        if (!xb || !dwb || !DNN(cx, cudnnSetConvolutionMathType(p->conv, p->filter_math)) ||
            !DNN(cx, cudnnConvolutionBackwardFilter(cx->cur->dnn, &one, p->x, xb, p->y, dyb, p->conv,
                                                p->bwd_filter, space, p->filter_bytes, &zero, p->w,
                                                dwb)))
            return;
        from_nhwc(cx, dwb, dw, d->k, cg, taps, cpg);
    }
}

void anet_cuda_conv_backward(struct anet_cuda *cx, const struct anet_conv_desc *d, const float *x,
                                        const float *w, const float *dy, float *dx, float *dw,
                                        float *db, float *work)
{
    (void)work;
    if (!anet_cuda_ok(cx)) return;
    struct conv_plan *p = plan_for(cx, d);
    if (!p || (dx && !p->have_data && !find_data(cx, p)) || (dw && !p->have_filter && !find_filter(cx, p)))
        return;
    int oh, ow;
    out_side(d, &oh, &ow);
    size_t xs = (size_t)d->n * d->c * d->h * d->w, ys = (size_t)d->n * d->k * oh * ow;
    size_t ws = (size_t)d->k * (d->c / d->groups) * d->kh * d->kw;
    size_t need = dx && p->data_bytes > (dw ? p->filter_bytes : 0) ? p->data_bytes
                                                                    : (dw ? p->filter_bytes : 0);
    void *space = need ? anet_cuda_scratch(cx, ANET_SCRATCH_WORKSPACE, need) : NULL;
    if (need && !space) return;
    if (db) {
        bias_grad_kernel<<<d->k, 256, 0, cx->cur->stream>>>(dy, db, d->n, d->k, oh * ow);
        if (!LAUNCHED(cx, "bias_grad_kernel")) return;
    }
    if (p->nhwc) {
        nhwc_backward(cx, p, x, w, dy, dx, dw, space, oh * ow);
        return;
    }
    int bf = p->precision == ANET_BF16;
    const void *dyp = dy;
    if (bf && !(dyp = bf16_copy(cx, ANET_SCRATCH_A, dy, ys))) return;
    if (dx) {
        const void *wp = w;
        void *dxp = dx;
        if (bf && (!(wp = bf16_copy(cx, ANET_SCRATCH_B, w, ws)) ||
                   !(dxp = anet_cuda_scratch(cx, ANET_SCRATCH_C, xs * sizeof(__nv_bfloat16)))))
            return;
        if (!DNN(cx, cudnnSetConvolutionMathType(p->conv, p->data_math)) ||
            !DNN(cx, cudnnConvolutionBackwardData(cx->cur->dnn, &one, p->w, wp, p->y, dyp, p->conv,
                                              p->bwd_data, space, p->data_bytes, &zero, p->x, dxp)))
            return;
        if (bf) anet_cuda_from_bf16(cx, (const __nv_bfloat16 *)dxp, dx, xs);
    }
    if (dw) {
        const void *xp = x;
        void *dwp = dw;
        if (bf && (!(xp = bf16_copy(cx, ANET_SCRATCH_B, x, xs)) ||
                   !(dwp = anet_cuda_scratch(cx, ANET_SCRATCH_C, ws * sizeof(__nv_bfloat16)))))
            return;
        if (!DNN(cx, cudnnSetConvolutionMathType(p->conv, p->filter_math)) ||
            !DNN(cx, cudnnConvolutionBackwardFilter(cx->cur->dnn, &one, p->x, xp, p->y, dyp, p->conv,
                                                p->bwd_filter, space, p->filter_bytes, &zero, p->w,
                                                dwp)))
            return;
        if (bf) anet_cuda_from_bf16(cx, (const __nv_bfloat16 *)dwp, dw, ws);
    }
}
