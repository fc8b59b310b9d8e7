/* The op tables: the CPU fast path, the CPU reference and, in a CUDA build, the GPU. */
#include "alexnet/cuda.h"
#include "backend.h"

/* The reference convolution needs no workspace; these adapt it to the table's signature. */
static void conv_forward_ref(const struct anet_conv_desc *d, const float *x, const float *w,
                             const float *b, float *y, float *work)
{
    (void)work;
    anet_cpu_conv_forward_ref(d, x, w, b, y);
}

static void conv_backward_ref(const struct anet_conv_desc *d, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db, float *work)
{
    (void)work;
    anet_cpu_conv_backward_ref(d, x, w, dy, dx, dw, db);
}

const struct anet_backend anet_backend_cpu = {
    .name = "cpu",
    .conv_forward = anet_cpu_conv_forward,
    .conv_backward = anet_cpu_conv_backward,
    .fc_forward = anet_cpu_fc_forward,
    .fc_backward = anet_cpu_fc_backward,
    .lrn_forward = anet_cpu_lrn_forward,
    .lrn_backward = anet_cpu_lrn_backward,
    .maxpool_forward = anet_cpu_maxpool_forward,
    .maxpool_backward = anet_cpu_maxpool_backward,
    .act_forward = anet_cpu_act_forward,
    .act_backward = anet_cpu_act_backward,
    .dropout_forward = anet_cpu_dropout_forward,
    .dropout_backward = anet_cpu_dropout_backward,
    .softmax_xent_forward = anet_cpu_softmax_xent_forward,
    .softmax_xent_backward = anet_cpu_softmax_xent_backward,
    .sgd_update = anet_cpu_sgd_update,
};

const struct anet_backend anet_backend_cpu_ref = {
    .name = "cpu-ref",
    .conv_forward = conv_forward_ref,
    .conv_backward = conv_backward_ref,
    .fc_forward = anet_cpu_fc_forward_ref,
    .fc_backward = anet_cpu_fc_backward_ref,
    .lrn_forward = anet_cpu_lrn_forward_ref,
    .lrn_backward = anet_cpu_lrn_backward_ref,
    .maxpool_forward = anet_cpu_maxpool_forward_ref,
    .maxpool_backward = anet_cpu_maxpool_backward_ref,
    .act_forward = anet_cpu_act_forward_ref,
    .act_backward = anet_cpu_act_backward_ref,
    .dropout_forward = anet_cpu_dropout_forward_ref,
    .dropout_backward = anet_cpu_dropout_backward_ref,
    .softmax_xent_forward = anet_cpu_softmax_xent_forward_ref,
    .softmax_xent_backward = anet_cpu_softmax_xent_backward_ref,
    .sgd_update = anet_cpu_sgd_update_ref,
};

#ifdef ANET_CUDA
const struct anet_backend anet_backend_cuda = {
    .name = "cuda",
    .conv_forward = anet_cuda_conv_forward,
    .conv_backward = anet_cuda_conv_backward,
    .fc_forward = anet_cuda_fc_forward,
    .fc_backward = anet_cuda_fc_backward,
    .lrn_forward = anet_cuda_lrn_forward,
    .lrn_backward = anet_cuda_lrn_backward,
    .maxpool_forward = anet_cuda_maxpool_forward,
    .maxpool_backward = anet_cuda_maxpool_backward,
    .act_forward = anet_cuda_act_forward,
    .act_backward = anet_cuda_act_backward,
    .dropout_forward = anet_cuda_dropout_forward,
    .dropout_backward = anet_cuda_dropout_backward,
    .softmax_xent_forward = anet_cuda_softmax_xent_forward,
    .softmax_xent_backward = anet_cuda_softmax_xent_backward,
    .sgd_update = anet_cuda_sgd_update,
};
#endif
