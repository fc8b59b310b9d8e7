/* The table of ops a model calls through, one per implementation. The CPU reference and
 * the CPU fast path are two tables; a GPU backend adds its own with device pointers. */
#ifndef ANET_BACKEND_H
#define ANET_BACKEND_H

#include "alexnet/ops.h"

struct anet_backend {
    const char *name;
    void (*conv_forward)(const struct anet_conv_desc *d, const float *x, const float *w,
                         const float *b, float *y, float *work);
    void (*conv_backward)(const struct anet_conv_desc *d, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db, float *work);
    void (*fc_forward)(int n, int in, int out, const float *x, const float *w,
                       const float *b, float *y);
    void (*fc_backward)(int n, int in, int out, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db);
    void (*lrn_forward)(int n, int c, int hw, const struct anet_lrn_param *p, const float *x,
                        float *y, float *scale);
    void (*lrn_backward)(int n, int c, int hw, const struct anet_lrn_param *p,
                         const float *x, const float *y, const float *scale,
                         const float *dy, float *dx);
    void (*maxpool_forward)(const struct anet_pool_desc *d, const float *x, float *y,
                            int32_t *arg);
    void (*maxpool_backward)(const struct anet_pool_desc *d, const float *dy,
                             const int32_t *arg, float *dx);
    void (*act_forward)(enum anet_act a, size_t count, const float *x, float *y);
    void (*act_backward)(enum anet_act a, size_t count, const float *y, const float *dy,
                         float *dx);
    void (*dropout_forward)(size_t count, float p, uint64_t seed, uint32_t step,
                            uint32_t purpose, const float *x, float *y);
    void (*dropout_backward)(size_t count, float p, uint64_t seed, uint32_t step,
                             uint32_t purpose, const float *dy, float *dx);
    double (*softmax_xent_forward)(int n, int classes, const float *logits,
                                   const int32_t *label, float *prob);
    void (*softmax_xent_backward)(int n, int classes, const float *prob,
                                  const int32_t *label, float *dlogits);
    void (*sgd_update)(size_t count, float lr, float momentum, float decay, float *w,
                       const float *g, float *v);
};

extern const struct anet_backend anet_backend_cpu, anet_backend_cpu_ref;
#ifdef ANET_CUDA
extern const struct anet_backend anet_backend_cuda; /* device pointers (alexnet/cuda.h) */
#endif

#endif
