/* The network's operations, forward and backward, and the one list that declares them.
 *
 * Every op is written once, in ANET_OPS at the end of this file, as its name, its
 * parameters and its arguments. From that list come the CPU functions, each twice:
 * `anet_cpu_<op>_<dir>_ref`, a plain loop nest that is easy to read and is the definition,
 * and `anet_cpu_<op>_<dir>`, the fast path (im2col + OpenBLAS sgemm, OpenMP over images or
 * channels), tested equal to the reference; the GPU twins `anet_cuda_<op>_<dir>` of
 * lib/cuda/<op>.cu (the same parameters after a CUDA context, pointers into device memory);
 * and the backend tables (alexnet/backend.h) through which a model calls one or the other.
 *
 * Conventions: float32, NCHW, contiguous. Backward functions OVERWRITE their gradient
 * outputs (they do not accumulate). A gradient output that is NULL is not computed (e.g.
 * conv1 needs no input gradient). Shapes are in the comments; the op functions do not
 * validate user input: lib/model validates a configuration once, before any op runs. */
#ifndef ANET_OPS_H
#define ANET_OPS_H

#include <stddef.h>
#include <stdint.h>

/* ---- shapes ------------------------------------------------------------------------------ */
/* Convolution (cross-correlation, as every framework computes it). */
struct anet_conv_desc {
    int n, c, h, w;        /* input  x: n × c × h × w */
    int k, kh, kw;         /* weights w: k × (c/groups) × kh × kw; bias b: k */
    int stride, pad;       /* same in both directions; zero padding */
    int groups;            /* c and k divisible by groups; group g maps input channels
                              [g·c/groups, (g+1)·c/groups) to outputs [g·k/groups, ...) */
};
/* Output side: (in + 2·pad − kernel) / stride + 1, floor. y: n × k × oh × ow. */
int anet_conv_out(int in, int kernel, int stride, int pad);
/* Floats of scratch memory the fast CPU forward/backward need for this shape (`work`; the
 * reference and the GPU take NULL). */
size_t anet_cpu_conv_workspace(const struct anet_conv_desc *d);

/* Local response normalisation across channels (paper §3.3):
 * b_i = a_i / (k + α Σ_{j=max(0,i−size/2)}^{min(c−1,i+size/2)} a_j²)^β
 * with the paper's k=2, size=5, α=1e−4, β=0.75. α is NOT divided by size (Caffe, PyTorch
 * and cuDNN divide it). The window is size/2 each side, so an even size spans size + 1
 * channels (the network uses 5). */
struct anet_lrn_param { int size; float k, alpha, beta; };

/* Max pooling, no padding: size 3 stride 2 is the paper's overlapping pooling, size 2
 * stride 2 the plain one. Output side (in − size) / stride + 1, floor (both give
 * 55→27→13→6); 0 when in < size. */
struct anet_pool_desc { int n, c, h, w, size, stride; };
int anet_pool_out(int in, int size, int stride);

enum anet_act { ANET_ACT_RELU = 0, ANET_ACT_TANH = 1 };

/* What to cut of an image (alexnet/loader.h draws it): the crop's corner, whether it is
 * mirrored, and the PCA colour noise in RGB, 0..1 units. */
struct anet_crop_draw { int x0, y0, mirror; float noise_rgb[3]; };

/* ---- the ops --------------------------------------------------------------------------------
 * X(name, (parameters), (arguments)) for every op; what each computes, and its shapes:
 *
 * conv_forward      x: n × c × h × w; w: k × (c/groups) × kh × kw; b: k; y: n × k × oh × ow.
 * conv_backward     dy: like y. dx: like x (may be NULL); dw: like w; db: k (may be NULL).
 * fc_forward        y = x·Wᵀ + b. x: n × in; w: out × in (a row per output neuron); b: out;
 *                   y: n × out.
 * fc_backward       dx = dy·W (may be NULL); dw = dyᵀ·x; db = Σ_n dy.
 * lrn_forward       x, y, scale: n × c × hw; scale = k + α Σ a_j², kept for backward. Not in
 *                   place: y must not alias x.
 * lrn_backward      dx_i = dy_i·scale_i^−β − 2αβ·x_i·Σ_{j: i in window(j)} dy_j·y_j / scale_j;
 *                   dx must not alias dy.
 * maxpool_forward   x: n × c × h × w; y, arg: n × c × oh × ow; arg holds the offset
 *                   (ih·w + iw) of the maximum in its h·w plane, the first one in row-major
 *                   window order on ties.
 * maxpool_backward  dx (like x) = 0 everywhere but the maxima, which receive the sum of their
 *                   dy.
 * act_forward       y = f(x), elementwise over count floats; x == y is allowed.
 * act_backward      from the forward OUTPUT y: relu' = (y > 0), tanh' = 1 − y²; dx == dy
 *                   allowed.
 * dropout_forward   y_i = x_i·scale when element i is kept, 0 when it is dropped; element i
 * dropout_backward  is kept iff anet_rng_uniform(seed, step, purpose, first + i) >= p (first:
 *                   the index of element 0 in the whole batch's array, for a share of a batch
 *                   computed apart: 0 otherwise). Inverted dropout, the default, trains with
 *                   scale = 1/(1−p) (computed in float) and does nothing at test; the paper's
 *                   form trains with scale 1 and multiplies every unit by 1−p at test time
 *                   (p = 0, scale = 1−p: no draw, a plain product). The same test-time
 *                   function, not the same training: see alexnet(7). p = 0 with scale 1 is a
 *                   copy. The mask is not stored: backward draws it again. x == y and
 *                   dx == dy are allowed.
 * softmax_xent_forward   logits, prob: n × classes; label: n values in [0, classes);
 *                   *loss = −(1/n) Σ log prob[label] (in double, log-sum-exp with the
 *                   maximum subtracted, rows summed in row order).
 * softmax_xent_backward  dlogits = (prob − onehot(label)) / total, the gradient of the loss
 *                   summed over the batch and divided by total: the mean loss for total = n;
 *                   for a batch that is a share of a larger one (one process's part of a
 *                   data-parallel step), total is the larger one's count.
 * sgd_update        SGD with momentum and weight decay as the paper writes it (§5), over count
 *                   floats: v ← momentum·v − decay·lr·w − lr·g;  w ← w + v. */
#define ANET_OPS(X)                                                                            \
    X(conv_forward,                                                                            \
      (const struct anet_conv_desc *d, const float *x, const float *w, const float *b,        \
       float *y, float *work),                                                                 \
      (d, x, w, b, y, work))                                                                   \
    X(conv_backward,                                                                           \
      (const struct anet_conv_desc *d, const float *x, const float *w, const float *dy,       \
       float *dx, float *dw, float *db, float *work),                                          \
      (d, x, w, dy, dx, dw, db, work))                                                         \
    X(fc_forward,                                                                              \
      (int n, int in, int out, const float *x, const float *w, const float *b, float *y),     \
      (n, in, out, x, w, b, y))                                                                \
    X(fc_backward,                                                                             \
      (int n, int in, int out, const float *x, const float *w, const float *dy, float *dx,    \
       float *dw, float *db),                                                                  \
      (n, in, out, x, w, dy, dx, dw, db))                                                      \
    X(lrn_forward,                                                                             \
      (int n, int c, int hw, const struct anet_lrn_param *p, const float *x, float *y,        \
       float *scale),                                                                          \
      (n, c, hw, p, x, y, scale))                                                              \
    X(lrn_backward,                                                                            \
      (int n, int c, int hw, const struct anet_lrn_param *p, const float *x, const float *y,  \
       const float *scale, const float *dy, float *dx),                                        \
      (n, c, hw, p, x, y, scale, dy, dx))                                                      \
    X(maxpool_forward, (const struct anet_pool_desc *d, const float *x, float *y, int32_t *arg), \
      (d, x, y, arg))                                                                          \
    X(maxpool_backward,                                                                        \
      (const struct anet_pool_desc *d, const float *dy, const int32_t *arg, float *dx),       \
      (d, dy, arg, dx))                                                                        \
    X(act_forward, (enum anet_act a, size_t count, const float *x, float *y), (a, count, x, y)) \
    X(act_backward, (enum anet_act a, size_t count, const float *y, const float *dy, float *dx), \
      (a, count, y, dy, dx))                                                                   \
    X(dropout_forward,                                                                         \
      (size_t count, float p, float scale, uint64_t seed, uint32_t step, uint32_t purpose,    \
       uint64_t first, const float *x, float *y),                                              \
      (count, p, scale, seed, step, purpose, first, x, y))                                     \
    X(dropout_backward,                                                                        \
      (size_t count, float p, float scale, uint64_t seed, uint32_t step, uint32_t purpose,    \
       uint64_t first, const float *dy, float *dx),                                            \
      (count, p, scale, seed, step, purpose, first, dy, dx))                                   \
    X(softmax_xent_forward,                                                                    \
      (int n, int classes, const float *logits, const int32_t *label, float *prob,            \
       double *loss),                                                                          \
      (n, classes, logits, label, prob, loss))                                                 \
    X(softmax_xent_backward,                                                                   \
      (int n, int classes, const float *prob, const int32_t *label, int total,                \
       float *dlogits),                                                                        \
      (n, classes, prob, label, total, dlogits))                                               \
    X(sgd_update,                                                                              \
      (size_t count, float lr, float momentum, float decay, float *w, const float *g,         \
       float *v),                                                                              \
      (count, lr, momentum, decay, w, g, v))

/* The data path's last step (lib/cpu/augment.c, GPU twin lib/cuda/augment.cu): n crops of
 * n / crops images. src: (n / crops) × c × h × w uint8 (B, G, R planes); mean: c × h × w
 * floats or NULL; draws[i]: crop i's, cut from image i / crops; out: n × c × crop × crop,
 *   out[i][ch][y][x] = (src[i / crops][ch][sy][sx] − mean[ch][sy][sx]) + 255·noise_rgb[2 − ch]
 * with sy = y0 + y, sx = x0 + (mirror ? crop − 1 − x : x), the noise only in the first three
 * planes. anet_cpu_augment_image is one image's (n = crops = 1). */
void anet_cpu_augment(int n, int crops, int c, int h, int w, int crop, const uint8_t *src,
                      const float *mean, const struct anet_crop_draw *draws, float *out);
void anet_cpu_augment_image(int c, int h, int w, int crop, const uint8_t *src,
                            const float *mean, const struct anet_crop_draw *d, float *out);

/* (a, b, c) -> a, b, c: to splice a list's parameters after another one. */
#define ANET_UNPAREN(...) __VA_ARGS__

/* The CPU functions: the fast path and the reference of every op. */
#define ANET_CPU_DECLARE(name, params, args) \
    void anet_cpu_##name params;              \
    void anet_cpu_##name##_ref params;
ANET_OPS(ANET_CPU_DECLARE)
#undef ANET_CPU_DECLARE

#endif
