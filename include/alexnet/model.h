/* The network: its configuration, its layer table, and a model that runs it.
 *
 * A configuration is a plain struct; anet_config_default() gives the paper's network and
 * every field can be changed (classes, crop, towers, widths, groups, and each ablation the
 * paper reports: LRN on/off, overlapping or plain pooling, ReLU or tanh, dropout on/off).
 * anet_config_check() validates it once and explains any problem; after that the model
 * trusts its shapes. */
#ifndef ANET_MODEL_H
#define ANET_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "ops.h"
#include "status.h"

#define ANET_CONV_LAYERS 5
#define ANET_FC_LAYERS 3
#define ANET_LAYERS (ANET_CONV_LAYERS + ANET_FC_LAYERS)
#define ANET_TENSORS (2 * ANET_LAYERS) /* a weight and a bias a layer */

struct anet_config {
    int classes;                  /* 1000 */
    int crop;                     /* input side: 227 (the paper writes 224) */
    int channels;                 /* 3 */
    int towers;                   /* 2: the paper's two GPUs; 1: one column */
    int conv[ANET_CONV_LAYERS];   /* kernels a layer, both towers: 96 256 384 384 256 */
    int groups[ANET_CONV_LAYERS]; /* 0 = from towers: 1 2 1 2 2 with two, all 1 with one */
    int fc[2];                    /* fc6, fc7 neurons: 4096 4096 */
    int lrn;                      /* 1: LRN after conv1 and conv2 (§3.3) */
    struct anet_lrn_param lrn_param; /* size 5, k 2, alpha 1e-4, beta 0.75 */
    /* How lrn_param is read. The paper's network (both 0, the defaults) uses α as given and
     * normalises within each tower's maps, as its two GPUs did. Caffe's bvlc_alexnet divides
     * α by the window (lrn_alpha_per_size 1) and its windows span every channel of the
     * layer, across the towers' boundary (lrn_across_towers 1). */
    int lrn_alpha_per_size;       /* 1: α / size, as Caffe, PyTorch and cuDNN define it */
    int lrn_across_towers;        /* 1: windows span both towers' maps (two towers only) */
    int pool_size, pool_stride;   /* 3/2 overlapping (§3.4) or 2/2 plain */
    enum anet_act act;            /* ReLU (§3.1) or tanh */
    float dropout;                /* 0.5 on fc6 and fc7 outputs (§4.2); 0 = off */
    float init_std;               /* weights ~ N(0, 0.01) (§5) */
    float init_bias;              /* 1 in conv2, conv4, conv5, fc6, fc7; 0 elsewhere */
};

void anet_config_default(struct anet_config *c);
/* ANET_ERR_INVALID with a detail naming the field and the value when anything is out of
 * range: zero classes, widths not divisible by their groups or towers, a crop too small
 * for the network (the detail gives the smallest that works), ... */
enum anet_status anet_config_check(const struct anet_config *c);
/* Effective groups of conv layer i (resolves 0 from towers). */
int anet_config_groups(const struct anet_config *c, int i);
/* The LRN the network computes: *p gets lrn_param with α divided by the window when
 * lrn_alpha_per_size is set (in float, as Caffe computes alpha / local_size); the result is
 * the number of channel groups each LRN normalises within (its windows never cross them):
 * the towers, or 1 when lrn_across_towers is set. */
int anet_config_lrn(const struct anet_config *c, struct anet_lrn_param *p);

/* One row of the architecture table. */
struct anet_layer_info {
    char name[8];            /* conv1 ... fc8 */
    int is_conv;
    int in_c, in_h, in_w;    /* what the layer reads */
    int out_c, out_h, out_w; /* what the layer writes, before pooling */
    int kh, kw, stride, pad, groups;
    int cross_towers;        /* reads both towers' maps (conv3, fc6, fc7, fc8 with two) */
    int lrn, pool;           /* followed by LRN; by max pooling */
    int pool_h, pool_w;      /* side after pooling (= out when no pooling) */
    int act, dropout;        /* followed by the activation; by dropout */
    size_t weights, biases;
    double macs;             /* multiply-adds of the forward pass, one image */
};
/* Fills info[0..7] (conv1..fc8). The configuration must have passed anet_config_check. */
void anet_config_layers(const struct anet_config *c, struct anet_layer_info info[ANET_LAYERS]);
size_t anet_config_params(const struct anet_config *c);

/* ---- the model ------------------------------------------------------------------------ */
struct anet_model;

/* Which implementation of the ops the model calls: the fast CPU path (default) or the
 * plain reference loops (for tests). */
enum anet_path { ANET_PATH_FAST = 0, ANET_PATH_REF = 1 };

/* Allocates parameters, gradients, momentum and activations for batches of up to
 * max_batch images. Parameters start at zero: call anet_model_init or load them. */
enum anet_status anet_model_create(const struct anet_config *c, int max_batch,
                                   struct anet_model **out);

/* Where a model runs. A GPU model (lib/cuda) keeps parameters, gradients, momentum and
 * activations on the GPU and takes the same host inputs as a CPU model: forward uploads x
 * (or copies it on the device when x is device memory already), loss uploads the labels
 * and leaves prob on the host too, logits come back to the host. Its tensors
 * (anet_model_tensors) are host copies: anet_model_pull refreshes them from the GPU,
 * anet_model_push sends them back after they were changed (anet_model_init pushes). */
enum anet_device { ANET_DEVICE_CPU = 0, ANET_DEVICE_CUDA = 1 };

/* A placement: the device, and whether the two towers run together (parts 1: grouped
 * layers) or each as a part of its own (parts 2), exchanging maps and gradients at conv3,
 * fc6, fc7 and fc8 as the paper's two GPUs do. On a GPU part p runs on CUDA lane p (its
 * own stream) on device gpu[p]: {0, 1} is the paper's two GPUs, {0, 0} two streams of one
 * (alexnet/cuda.h opens the lanes; lane 0 stays on one device per process). On the CPU the
 * parts run one after the other (the exchanges are then memory copies): slower, and the
 * same numbers, which is what tests prove. Two parts need the two-tower network. */
#define ANET_MAX_PARTS 2
struct anet_placement {
    enum anet_device device;
    int parts;                /* 1 or 2 */
    int gpu[ANET_MAX_PARTS];  /* CUDA device of each part */
};
enum anet_status anet_model_create_placed(const struct anet_config *c, int max_batch,
                                          const struct anet_placement *where,
                                          struct anet_model **out);
/* One part on `device`; a GPU model goes on lane 0's device (anet_cuda_init; device 0
 * when none was chosen). */
enum anet_status anet_model_create_on(const struct anet_config *c, int max_batch,
                                      enum anet_device device, struct anet_model **out);
enum anet_device anet_model_device(const struct anet_model *m);
const struct anet_placement *anet_model_placement(const struct anet_model *m);
/* A GPU model's own input batch on the device (max_batch images, part 0's; NULL on the
 * CPU): fill it on the GPU (anet_cuda_upload, anet_cuda_augment) and pass it as x to skip
 * the upload. */
float *anet_model_input_buffer(struct anet_model *m);
enum anet_status anet_model_pull(struct anet_model *m); /* GPU -> host copies; CPU: nothing */
enum anet_status anet_model_push(struct anet_model *m); /* host copies -> GPU; CPU: nothing */
/* Replaces *m by the same model (parameters, gradients, momentum, batch size) placed
 * elsewhere; on failure *m is unchanged. anet_model_move is the one-part placement on
 * `device` (a GPU model already in one part stays where it is). */
enum anet_status anet_model_place(struct anet_model **m, const struct anet_placement *where);
enum anet_status anet_model_move(struct anet_model **m, enum anet_device device);
void anet_model_free(struct anet_model *m);
const struct anet_config *anet_model_config(const struct anet_model *m);
void anet_model_set_path(struct anet_model *m, enum anet_path p);

/* Parameter tensors in a fixed order: conv1.weight, conv1.bias, ..., fc8.bias. */
struct anet_tensor {
    const char *name;
    int ndim, dims[4];
    size_t count;
    float *data, *grad, *momentum;
    int is_weight; /* weight decay applies to weights, not biases (as cuda-convnet) */
};
int anet_model_tensors(struct anet_model *m, struct anet_tensor **out); /* returns count */
struct anet_tensor *anet_model_tensor(struct anet_model *m, const char *name);

/* The paper's initialisation from the counter-based RNG: weights N(0, init_std) drawn as
 * anet_rng_normal(seed, 0, ANET_RNG_INIT + tensor index, element); biases init_bias in
 * conv2, conv4, conv5, fc6, fc7 and 0 elsewhere. Momentum is zeroed. */
void anet_model_init(struct anet_model *m, uint64_t seed);

/* Forward pass on 1 <= n <= max_batch images x (n × channels × crop × crop, mean already
 * subtracted). train != 0 applies dropout with masks keyed by (seed, step). *logits
 * (n × classes) stays valid until the next forward. ANET_ERR_INVALID for a bad n. */
enum anet_status anet_model_forward(struct anet_model *m, const float *x, int n, int train,
                                    uint64_t seed, uint32_t step, const float **logits);
/* Softmax and mean cross-entropy of the last forward; prob (n × classes) stays valid.
 * ANET_ERR_INVALID when a label is outside [0, classes) or no forward ran. */
enum anet_status anet_model_loss(struct anet_model *m, const int32_t *labels, double *loss);
const float *anet_model_prob(const struct anet_model *m);
/* Gradients of the mean loss for every parameter; call after a successful forward and
 * anet_model_loss with the same labels. */
void anet_model_backward(struct anet_model *m, const int32_t *labels);

struct anet_sgd { float lr, momentum, decay; };
void anet_sgd_default(struct anet_sgd *h); /* 0.01, 0.9, 0.0005 */
/* v ← momentum·v − decay·lr·w − lr·g; w ← w + v, for every tensor (decay 0 for biases). */
void anet_model_update(struct anet_model *m, const struct anet_sgd *h);

/* One SGD iteration: forward (training), loss, backward, update; the loss of the forward
 * in *loss. Nothing is updated when the batch or a label is invalid. */
enum anet_status anet_model_train_step(struct anet_model *m, const float *x,
                                       const int32_t *labels, int n, const struct anet_sgd *h,
                                       uint64_t seed, uint32_t step, double *loss);

/* ---- inference ------------------------------------------------------------------------ */
int anet_model_max_batch(const struct anet_model *m);

/* The softmax outputs of x averaged over each image's crops, then over the models: x holds
 * n × crops images (an image's crops together), each channels × crop × crop with the mean
 * subtracted; prob gets n × classes. Each model's crop average is computed on its own and
 * the models' are summed and divided by count, so an ensemble of a model with itself gives
 * the model's own numbers. The forward pass (test mode: no dropout) runs in pieces of at
 * most each model's max batch. The models must agree on classes, channels and crop
 * (ANET_ERR_INVALID otherwise). */
enum anet_status anet_models_predict(struct anet_model *const *models, int count,
                                     const float *x, int n, int crops, float *prob);

/* The k largest of scores[0..classes) in descending order, ties to the lower index. */
void anet_topk(const float *scores, int classes, int k, int32_t *idx);

#endif
