/* Elementwise activations over count floats: ReLU (the paper's) and tanh (its ablation).
 * The backward takes the forward's output y, which is all either derivative needs:
 * relu'(x) = [y > 0], tanh'(x) = 1 − y². x == y and dx == dy are allowed: every element
 * is read before it is written and by the same iteration only. */
#include <math.h>
#include "alexnet/ops.h"

static float relu(float x) { return x > 0 ? x : 0; }
static float relu_grad(float y, float dy) { return y > 0 ? dy : 0; }
static float tanh_grad(float y, float dy) { return dy * (1 - y * y); }

/* ---- reference ----------------------------------------------------------------------- */

void anet_cpu_act_forward_ref(enum anet_act a, size_t count, const float *x, float *y)
{
    for (size_t i = 0; i < count; i++) y[i] = a == ANET_ACT_RELU ? relu(x[i]) : tanhf(x[i]);
}

void anet_cpu_act_backward_ref(enum anet_act a, size_t count, const float *y,
                               const float *dy, float *dx)
{
    for (size_t i = 0; i < count; i++)
        dx[i] = a == ANET_ACT_RELU ? relu_grad(y[i], dy[i]) : tanh_grad(y[i], dy[i]);
}

/* ---- fast path -------------------------------------------------------------------------
 * The same expressions, one loop per activation so that the ReLU loops vectorise, split
 * over threads. tanhf stays the scalar libm call: a vectorised approximation would no
 * longer equal the reference, and tanh only serves the ablation. */

#define ACT_PARALLEL_MIN 65536 /* below this many floats threads cost more than they save */

void anet_cpu_act_forward(enum anet_act a, size_t count, const float *x, float *y)
{
    if (a == ANET_ACT_RELU) {
#pragma omp parallel for simd schedule(static) if (count >= ACT_PARALLEL_MIN)
        for (size_t i = 0; i < count; i++) y[i] = relu(x[i]);
    } else {
#pragma omp parallel for schedule(static) if (count >= ACT_PARALLEL_MIN / 16)
        for (size_t i = 0; i < count; i++) y[i] = tanhf(x[i]);
    }
}

void anet_cpu_act_backward(enum anet_act a, size_t count, const float *y, const float *dy,
                           float *dx)
{
    if (a == ANET_ACT_RELU) {
#pragma omp parallel for simd schedule(static) if (count >= ACT_PARALLEL_MIN)
        for (size_t i = 0; i < count; i++) dx[i] = relu_grad(y[i], dy[i]);
    } else {
#pragma omp parallel for simd schedule(static) if (count >= ACT_PARALLEL_MIN)
        for (size_t i = 0; i < count; i++) dx[i] = tanh_grad(y[i], dy[i]);
    }
}
