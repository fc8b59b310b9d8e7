/* The network's operations on the CPU, forward and backward.
 *
 * Every op exists twice: `anet_cpu_<op>_<dir>_ref`, a plain loop nest that is easy to read
 * and is the definition, and `anet_cpu_<op>_<dir>`, the fast path (im2col + OpenBLAS sgemm,
 * OpenMP over images or channels), tested equal to the reference. A GPU twin
 * `anet_cuda_<op>_<dir>` in lib/cuda/<op>.cu takes the same arguments with device pointers.
 *
 * Conventions: float32, NCHW, contiguous. Backward functions OVERWRITE their gradient
 * outputs (they do not accumulate). A gradient output that is NULL is not computed (e.g.
 * conv1 needs no input gradient). Shapes are in the comments; the op functions do not
 * validate user input: lib/model validates a configuration once, before any op runs. */
#ifndef ANET_OPS_H
#define ANET_OPS_H

#include <stddef.h>
#include <stdint.h>

/* ---- convolution (cross-correlation, as every framework computes it) ---------------- */
struct anet_conv_desc {
    int n, c, h, w;        /* input  x: n × c × h × w */
    int k, kh, kw;         /* weights w: k × (c/groups) × kh × kw; bias b: k */
    int stride, pad;       /* same in both directions; zero padding */
    int groups;            /* c and k divisible by groups; group g maps input channels
                              [g·c/groups, (g+1)·c/groups) to outputs [g·k/groups, ...) */
};
/* Output side: (in + 2·pad − kernel) / stride + 1, floor. y: n × k × oh × ow. */
int anet_conv_out(int in, int kernel, int stride, int pad);
/* Floats of scratch memory the fast forward/backward need for this shape. */
size_t anet_cpu_conv_workspace(const struct anet_conv_desc *d);

void anet_cpu_conv_forward_ref(const struct anet_conv_desc *d, const float *x,
                               const float *w, const float *b, float *y);
void anet_cpu_conv_forward(const struct anet_conv_desc *d, const float *x,
                           const float *w, const float *b, float *y, float *work);
/* dy: n × k × oh × ow. dx: like x (may be NULL); dw: like w; db: k (may be NULL). */
void anet_cpu_conv_backward_ref(const struct anet_conv_desc *d, const float *x,
                                const float *w, const float *dy, float *dx, float *dw,
                                float *db);
void anet_cpu_conv_backward(const struct anet_conv_desc *d, const float *x,
                            const float *w, const float *dy, float *dx, float *dw,
                            float *db, float *work);

/* ---- fully connected: y = x·Wᵀ + b ------------------------------------------------------ */
/* x: n × in; w: out × in (row per output neuron); b: out; y: n × out. */
void anet_cpu_fc_forward_ref(int n, int in, int out, const float *x, const float *w,
                             const float *b, float *y);
void anet_cpu_fc_forward(int n, int in, int out, const float *x, const float *w,
                         const float *b, float *y);
/* dx = dy·W (may be NULL); dw = dyᵀ·x; db = Σ_n dy. */
void anet_cpu_fc_backward_ref(int n, int in, int out, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db);
void anet_cpu_fc_backward(int n, int in, int out, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db);

/* ---- local response normalisation across channels (paper §3.3) ------------------------- */
/* b_i = a_i / (k + α Σ_{j=max(0,i−size/2)}^{min(c−1,i+size/2)} a_j²)^β
 * with the paper's k=2, size=5, α=1e−4, β=0.75. α is NOT divided by size (Caffe, PyTorch
 * and cuDNN divide it). x, y, scale: n × c × hw; scale = k + α Σ a_j², kept for backward.
 * Not in place: y must not alias x, nor dx alias dy. The window is size/2 each side, so an
 * even size spans size + 1 channels (the network uses 5). */
struct anet_lrn_param { int size; float k, alpha, beta; };
void anet_cpu_lrn_forward_ref(int n, int c, int hw, const struct anet_lrn_param *p,
                              const float *x, float *y, float *scale);
void anet_cpu_lrn_forward(int n, int c, int hw, const struct anet_lrn_param *p,
                          const float *x, float *y, float *scale);
/* dx_i = dy_i·scale_i^−β − 2αβ·x_i·Σ_{j: i in window(j)} dy_j·y_j / scale_j */
void anet_cpu_lrn_backward_ref(int n, int c, int hw, const struct anet_lrn_param *p,
                               const float *x, const float *y, const float *scale,
                               const float *dy, float *dx);
void anet_cpu_lrn_backward(int n, int c, int hw, const struct anet_lrn_param *p,
                           const float *x, const float *y, const float *scale,
                           const float *dy, float *dx);

/* ---- max pooling, no padding -------------------------------------------------------------- */
/* size 3 stride 2 is the paper's overlapping pooling; size 2 stride 2 the plain one.
 * Output side (in − size) / stride + 1, floor (both give 55→27→13→6); 0 when in < size. x: n × c × h × w;
 * y, arg: n × c × oh × ow; arg holds the flat index h·w-plane offset (ih·w + iw) of the
 * maximum, the first one in row-major window order on ties. */
struct anet_pool_desc { int n, c, h, w, size, stride; };
int anet_pool_out(int in, int size, int stride);
void anet_cpu_maxpool_forward_ref(const struct anet_pool_desc *d, const float *x, float *y,
                                  int32_t *arg);
void anet_cpu_maxpool_forward(const struct anet_pool_desc *d, const float *x, float *y,
                              int32_t *arg);
/* dx (like x) = 0 everywhere but the maxima, which receive the sum of their dy. */
void anet_cpu_maxpool_backward_ref(const struct anet_pool_desc *d, const float *dy,
                                   const int32_t *arg, float *dx);
void anet_cpu_maxpool_backward(const struct anet_pool_desc *d, const float *dy,
                               const int32_t *arg, float *dx);

/* ---- activations: y = f(x), elementwise over count floats; x == y is allowed ------------ */
/* Backward takes the forward OUTPUT y: relu' = (y > 0), tanh' = 1 − y². dx == dy allowed. */
enum anet_act { ANET_ACT_RELU = 0, ANET_ACT_TANH = 1 };
void anet_cpu_act_forward_ref(enum anet_act a, size_t count, const float *x, float *y);
void anet_cpu_act_forward(enum anet_act a, size_t count, const float *x, float *y);
void anet_cpu_act_backward_ref(enum anet_act a, size_t count, const float *y,
                               const float *dy, float *dx);
void anet_cpu_act_backward(enum anet_act a, size_t count, const float *y, const float *dy,
                           float *dx);

/* ---- dropout (inverted: kept units are scaled by 1/(1−p) while training, and the
 * test-time network is the plain one; this equals the paper's "multiply by 0.5 at test
 * time" up to that constant factor on the next layer's input) ------------------------------ */
/* Element i is kept iff anet_rng_uniform(seed, step, purpose, i) >= p. The mask is not
 * stored: backward draws it again. x == y and dx == dy are allowed. */
void anet_cpu_dropout_forward_ref(size_t count, float p, uint64_t seed, uint32_t step,
                                  uint32_t purpose, const float *x, float *y);
void anet_cpu_dropout_forward(size_t count, float p, uint64_t seed, uint32_t step,
                              uint32_t purpose, const float *x, float *y);
void anet_cpu_dropout_backward_ref(size_t count, float p, uint64_t seed, uint32_t step,
                                   uint32_t purpose, const float *dy, float *dx);
void anet_cpu_dropout_backward(size_t count, float p, uint64_t seed, uint32_t step,
                               uint32_t purpose, const float *dy, float *dx);

/* ---- softmax + cross-entropy --------------------------------------------------------------- */
/* logits, prob: n × classes; label: n values in [0, classes). Returns the mean loss
 * −(1/n) Σ log prob[label] (computed in double, log-sum-exp with the max subtracted). */
double anet_cpu_softmax_xent_forward_ref(int n, int classes, const float *logits,
                                         const int32_t *label, float *prob);
double anet_cpu_softmax_xent_forward(int n, int classes, const float *logits,
                                     const int32_t *label, float *prob);
/* dlogits = (prob − onehot(label)) / n, the gradient of the mean loss. */
void anet_cpu_softmax_xent_backward_ref(int n, int classes, const float *prob,
                                        const int32_t *label, float *dlogits);
void anet_cpu_softmax_xent_backward(int n, int classes, const float *prob,
                                    const int32_t *label, float *dlogits);

/* ---- SGD with momentum and weight decay, as the paper writes it (§5) -------------------- */
/* v ← momentum·v − decay·lr·w − lr·g;  w ← w + v. Over count floats. */
void anet_cpu_sgd_update_ref(size_t count, float lr, float momentum, float decay, float *w,
                             const float *g, float *v);
void anet_cpu_sgd_update(size_t count, float lr, float momentum, float decay, float *w,
                         const float *g, float *v);

#endif
