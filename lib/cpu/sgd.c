/* The paper's update (§5), over count floats of weights w, gradients g and momentum v:
 *   v ← momentum·v − decay·lr·w − lr·g;   w ← w + v
 * Weight decay enters through the velocity, scaled by the learning rate, exactly as the
 * paper writes it (not as a term added to g, and not decoupled from v). */
#include "alexnet/ops.h"

/* Both paths evaluate the same expression in the same order, (m·v − (d·lr)·w) − lr·g, so
 * they agree bit for bit (the build's -std=c11 keeps the compiler from fusing into FMAs). */
static float velocity(float v, float w, float g, float lr, float momentum, float decay_lr)
{
    return momentum * v - decay_lr * w - lr * g;
}

void anet_cpu_sgd_update_ref(size_t count, float lr, float momentum, float decay, float *w,
                             const float *g, float *v)
{
    for (size_t i = 0; i < count; i++) {
        v[i] = velocity(v[i], w[i], g[i], lr, momentum, decay * lr);
        w[i] += v[i];
    }
}

/* The same loop over threads; it streams 16 bytes in and 8 out a float, so it runs at
 * memory bandwidth once vectorised. */
void anet_cpu_sgd_update(size_t count, float lr, float momentum, float decay,
                         float *restrict w, const float *restrict g, float *restrict v)
{
    float decay_lr = decay * lr;
#pragma omp parallel for simd schedule(static) if (count >= 65536)
    for (size_t i = 0; i < count; i++) {
        float vi = velocity(v[i], w[i], g[i], lr, momentum, decay_lr);
        v[i] = vi;
        w[i] += vi;
    }
}
