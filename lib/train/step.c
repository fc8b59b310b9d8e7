/* Stochastic gradient descent as the paper trains (§5): batch 128, momentum 0.9, weight
 * decay 0.0005, learning rate 0.01. The update itself is the backend's sgd_update. */
#include "alexnet/model.h"

enum anet_status anet_model_train_step(struct anet_model *m, const float *x,
                                       const int32_t *labels, int n, const struct anet_sgd *h,
                                       uint64_t seed, uint32_t step, double *loss)
{
    enum anet_status s = anet_model_forward(m, x, n, 1, seed, step, NULL);
    if (!s) s = anet_model_loss(m, labels, loss);
    if (!s) s = anet_model_backward(m);
    if (!s) s = anet_model_update(m, h);
    return s;
}

void anet_sgd_default(struct anet_sgd *h)
{
    h->lr = 0.01f;
    h->momentum = 0.9f;
    h->decay = 0.0005f;
}
