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
#include "backend.h"
#include "ops.h"
#include "status.h"

#define ANET_CONV_LAYERS 5
#define ANET_FC_LAYERS 3
#define ANET_LAYERS (ANET_CONV_LAYERS + ANET_FC_LAYERS)
#define ANET_TENSORS (2 * ANET_LAYERS) /* a weight and a bias a layer */

/* What dropout does to the units it keeps (§4.2; alexnet(7) tells how the two differ). */
enum anet_dropout_scale {
    ANET_DROPOUT_SCALE_TRAIN = 0, /* inverted: kept units × 1/(1 − p) while training, nothing
                                     at test (the default) */
    ANET_DROPOUT_SCALE_TEST = 1,  /* the paper's: kept units as they are while training,
                                     every unit × (1 − p) at test */
};

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
    enum anet_dropout_scale dropout_scale; /* where the 1/(1 − p) goes (train) */
    float init_std;               /* weights ~ N(0, 0.01) (§5) */
    float init_bias;              /* 1 in conv2, conv4, conv5, fc6, fc7; 0 elsewhere */
};

void anet_config_default(struct anet_config *c);
/* ANET_ERR_INVALID with a detail naming the field and the value when anything is out of
 * range: zero classes, widths not divisible by their groups or towers, a crop too small
 * for the network (the detail gives the smallest that works), ... */
enum anet_status anet_config_check(const struct anet_config *c);
/* The ranges of the tools' options (cli.c, alexnet-train), which a configuration read from
 * a file must keep to as well: no file asks for what no command line could. */
#define ANET_MAX_CLASSES 1000000
#define ANET_MAX_CROP 4096
#define ANET_MAX_CONV 65536      /* kernels of a convolution, and its groups */
#define ANET_MAX_FC (1 << 20)    /* neurons of fc6, fc7 */
#define ANET_MAX_DROPOUT 0.99
#define ANET_MAX_INIT 100.0      /* init_std up to it, init_bias within ± it */
/* ANET_ERR_INVALID naming the field when c is outside those ranges (3 channels, 1 or 2
 * towers, pooling 3/2 or 2/2 included); call after anet_config_check. */
enum anet_status anet_config_check_limits(const struct anet_config *c);

/* The configuration as text: one "key value..." line per field, every field written:
 *   classes 1000 / crop 227 / channels 3 / towers 2 / conv 96 256 384 384 256 /
 *   groups 0 0 0 0 0 / fc 4096 4096 / lrn 1 / lrn_size 5 / lrn_k 2 / lrn_alpha 0.0001 /
 *   lrn_beta 0.75 / pool 3 2 / act relu / dropout 0.5 / init_std 0.01 / init_bias 1
 * and, only when they are not 0 (absent: 0, the paper's LRN), lrn_alpha_per_size 1 and
 * lrn_across_towers 1 after lrn_beta (Caffe's LRN); only when not train (absent: train,
 * inverted dropout), dropout_scale test after dropout (the paper's form of dropout).
 * Floats in the shortest %g form that reads back as the same float (9 digits at most), so
 * parsing gives the same floats back. The result is malloc'ed; NULL when out of memory. */
char *anet_config_format(const struct anet_config *c);
/* Parses that text (fields in any order; every field once, the three optional ones at most
 * once; blank lines and lines starting with '#' skipped); ANET_ERR_FORMAT naming `what` (a
 * file name) and the line for anything else ("model.anet:CONF:3: unknown key 'width'").
 * Does not validate ranges: call anet_config_check. */
enum anet_status anet_config_parse(const char *text, const char *what, struct anet_config *c);
/* The dropout a pass applies to fc6's and fc7's outputs: 1 with *p and *scale for the
 * dropout ops (alexnet/ops.h), or 0 when the pass leaves them as they are (no dropout, or a
 * test pass of inverted dropout). */
int anet_config_dropout(const struct anet_config *c, int train, float *p, float *scale);
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

/* ---- layers by name ---------------------------------------------------------------------
 * The eight layers with parameters, conv1 .. conv5 and fc6 .. fc8, are layers 0 .. 7; a set
 * of them is a bit mask, bit l for layer l (conv1 is bit 0). */
#define ANET_ALL_LAYERS ((1u << ANET_LAYERS) - 1)
/* "conv1" .. "fc8" -> 0 .. 7; -1 for anything else. */
int anet_layer_index(const char *name);
const char *anet_layer_name(int layer); /* 0 .. 7 -> "conv1" .. "fc8" */
/* A set of layers as text: layers and ranges separated by commas ("conv1..conv5",
 * "fc6,fc7", "conv1,conv3..fc6"); ANET_ERR_INVALID naming the part that is neither. */
enum anet_status anet_layers_parse(const char *text, uint32_t *set);
/* The set in the shortest form anet_layers_parse reads back ("conv1..conv5,fc7"; "" for
 * none); buf of at least 64 bytes. */
const char *anet_layers_format(uint32_t set, char *buf, size_t size);

/* ---- the model ------------------------------------------------------------------------
 * A model holds parameters, gradients, momentum and activations for batches of up to
 * max_batch images, where a placement says: on a backend (alexnet/backend.h), in one part
 * (both towers together: grouped layers) or two (each tower a part of its own, on its own
 * lane, exchanging maps and gradients at conv3, fc6, fc7 and fc8 as the paper's two GPUs
 * do). Lanes {0, 1} of a backend on two GPUs are the paper's two GPUs; two lanes of one GPU
 * are two streams of it; on the CPU the parts run one after the other (the exchanges are
 * then memory copies): slower, and the same numbers, which is what the tests prove. Two
 * parts need the two-tower network.
 *
 * Whatever the backend, the model takes host inputs and gives host outputs: forward reads
 * host images (or a feed's batch, below), loss reads host labels and leaves the
 * probabilities on the host, logits come back to the host. Its tensors (anet_model_tensors)
 * are host memory: on a GPU, copies that anet_model_pull refreshes and anet_model_push sends
 * back. Every call that computes returns the failure of the call that met it (a CUDA call,
 * named, for a GPU); after a device failure the backend is unusable (see backend.h). */
struct anet_model;

#define ANET_MAX_PARTS 2
struct anet_placement {
    struct anet_backend *backend;  /* NULL: a CPU backend of the model's own (fast path) */
    int parts;                     /* 1 or 2 */
    int lane[ANET_MAX_PARTS];      /* the backend lane each part runs on */
};

/* Parameters start at zero: call anet_model_init or load them. The backend must outlive
 * the model. */
enum anet_status anet_model_create_placed(const struct anet_config *c, int max_batch,
                                          const struct anet_placement *where,
                                          struct anet_model **out);
/* On a CPU backend of the model's own, in one part. */
enum anet_status anet_model_create(const struct anet_config *c, int max_batch,
                                   struct anet_model **out);
/* Where the model is (backend filled in even when it is the model's own). */
const struct anet_placement *anet_model_placement(const struct anet_model *m);
struct anet_backend *anet_model_backend(const struct anet_model *m);
enum anet_status anet_model_pull(struct anet_model *m); /* device -> host copies */
enum anet_status anet_model_push(struct anet_model *m); /* host copies -> device */
/* Replaces *m by the same model (parameters, gradients, momentum, batch size) placed
 * elsewhere; on failure *m is unchanged. */
enum anet_status anet_model_place(struct anet_model **m, const struct anet_placement *where);
void anet_model_free(struct anet_model *m);
const struct anet_config *anet_model_config(const struct anet_model *m);
int anet_model_max_batch(const struct anet_model *m);

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

/* Forward pass on 1 <= n <= max_batch images x in host memory (n × channels × crop × crop,
 * mean already subtracted). train != 0 applies dropout with masks keyed by (seed, step).
 * *logits (n × classes, host memory; logits may be NULL) stays valid until the next
 * forward. ANET_ERR_INVALID for a bad n. */
enum anet_status anet_model_forward(struct anet_model *m, const float *x, int n, int train,
                                    uint64_t seed, uint32_t step, const float **logits);
/* Softmax and mean cross-entropy of the last forward; prob (n × classes, host) stays valid.
 * ANET_ERR_INVALID when a label is outside [0, classes) or no forward ran. */
enum anet_status anet_model_loss(struct anet_model *m, const int32_t *labels, double *loss);
const float *anet_model_prob(const struct anet_model *m);
/* Gradients of the mean loss for every parameter; after a successful forward and
 * anet_model_loss with the same labels. */
enum anet_status anet_model_backward(struct anet_model *m);
/* In a data-parallel step, the batch of the next forward is images [first, first + n) of a
 * global batch of `total` images spread over processes: dropout then draws the masks of
 * those images in the global batch (the same numbers as one process computing it all),
 * and backward takes the mean loss over `total`, so that the gradients summed across the
 * processes are those of the global batch's mean loss. 0, 0 (the default): the batch is
 * the whole. */
void anet_model_set_share(struct anet_model *m, int first, int total);
/* Called by backward as soon as every part's gradients of layer l (0 = conv1 ... 7 = fc8,
 * its weight and bias) are written, fc8 first: where a sum across processes can start
 * while the layers below are still computing. Only layers that train are told (backward
 * stops above frozen ones). NULL: none. */
typedef void (*anet_layer_hook)(void *user, struct anet_model *m, int layer);
void anet_model_set_layer_hook(struct anet_model *m, anet_layer_hook hook, void *user);
/* All gradients zero: a process whose share of a global batch is empty contributes them.
 * The layer hook is told of the same layers, in the same order, as by a backward pass, so
 * that every process starts the same sums. */
enum anet_status anet_model_zero_gradients(struct anet_model *m);

/* The gradients as the backward pass left them, where they live: one span of host memory on
 * a CPU backend (every tensor, in anet_model_tensors order), one span a part on a GPU (the
 * part's rows of every tensor, in that order, in the memory of its lane). Between backward
 * and update a caller may change them in place: the place for summing them across
 * processes (an all-reduce). Returns the number of spans. */
struct anet_span { int lane; float *data; size_t count; };
int anet_model_gradients(struct anet_model *m, struct anet_span spans[ANET_MAX_PARTS]);

struct anet_sgd { float lr, momentum, decay; };
void anet_sgd_default(struct anet_sgd *h); /* 0.01, 0.9, 0.0005 */
/* v ← momentum·v − decay·lr'·w − lr'·g; w ← w + v, for every tensor of every layer that
 * trains, with lr' = lr × the layer's lr_mult (below) and decay 0 for biases. */
enum anet_status anet_model_update(struct anet_model *m, const struct anet_sgd *h);

/* How training treats each layer, for fine-tuning. A frozen layer stays exactly as it is:
 * anet_model_update leaves its tensors out, and anet_model_backward stops below the lowest
 * layer that trains (so freezing conv1 .. conv5 saves the convolutions' backward pass);
 * the gradients of frozen layers are then not to be read. The learning rate of a layer
 * that trains is multiplied by its lr_mult. A model starts with none frozen and every
 * multiplier 1, and keeps its setting when it is placed elsewhere. */
struct anet_layer_sgd {
    uint32_t frozen;            /* a set of layers, as anet_layers_parse gives it */
    float lr_mult[ANET_LAYERS]; /* conv1 .. fc8 */
};
void anet_layer_sgd_default(struct anet_layer_sgd *l); /* none frozen, multipliers 1 */
void anet_model_set_layer_sgd(struct anet_model *m, const struct anet_layer_sgd *l);
const struct anet_layer_sgd *anet_model_layer_sgd(const struct anet_model *m);

/* ---- activations ------------------------------------------------------------------------
 * What a layer of the last forward pass computed, for a feature extractor. The names are
 * Caffe's names of the same blobs:
 *   conv1 .. conv5   the convolution after its activation (ReLU), before LRN and pooling
 *   norm1, norm2     after LRN (networks with LRN)
 *   pool1 pool2 pool5  after max pooling (pool5 is what fc6 reads)
 *   fc6, fc7         after the activation; without dropout in a test pass (in a training
 *                    pass, before dropout)
 *   fc8              the logits, before the softmax
 * A layer's maps are the towers' kernels in order (tower 1's, then tower 2's), whether the
 * towers run in one part or two. */
struct anet_named_blob {
    char name[8];
    int layer;   /* the layer (0 .. 7) it belongs to */
    int c, h, w; /* an image's activations: c × h × w floats (fc: c × 1 × 1) */
};
/* The blob's shape in this model's network; ANET_ERR_INVALID naming the names there are. */
enum anet_status anet_model_blob(const struct anet_model *m, const char *name,
                                 struct anet_named_blob *out);
/* dst (n × c × h × w floats, host memory) = blob's activations of the n images of the last
 * forward pass, copied from wherever they are; ANET_ERR_INVALID before a forward pass. */
enum anet_status anet_model_activations(struct anet_model *m, const struct anet_named_blob *blob,
                                        float *dst);

/* One SGD iteration: forward (training), loss, backward, update; the loss of the forward
 * in *loss. Nothing is updated when the batch or a label is invalid. */
enum anet_status anet_model_train_step(struct anet_model *m, const float *x,
                                       const int32_t *labels, int n, const struct anet_sgd *h,
                                       uint64_t seed, uint32_t step, double *loss);

/* ---- feeding batches --------------------------------------------------------------------
 * A feed puts the loader's batches (alexnet/loader.h) where a model computes: on the CPU the
 * loader's float crops are used in place; on a GPU the loader hands over each record's uint8
 * pixels and its draws (5x fewer bytes than floats), which go up to the device and are
 * cropped, mirrored, mean-subtracted and coloured there, bit for bit as the loader would.
 * A batch of pixels the caller made itself (alexnet-predict's images) goes through the same
 * path on any backend. One feed serves every model placed like the one it was opened for. */
struct anet_feed;
struct anet_batch;
struct anet_loader_config;
/* Sets lc's pixels mode and host buffers for the backend: pixels in page-locked memory for
 * a GPU, floats for the CPU. */
void anet_feed_loader_config(struct anet_backend *be, struct anet_loader_config *lc);
/* For batches of up to `images` images of c × h × w pixels, `crops` crops each, cut to m's
 * crop; mean: c × h × w floats (the mean image, B, G, R), or NULL. */
enum anet_status anet_feed_open(const struct anet_model *m, const float *mean, int c, int h,
                                int w, int images, int crops, struct anet_feed **out);
void anet_feed_free(struct anet_feed *f);
/* Puts batch b (its x, or its pixels and draws) where the models read it. */
enum anet_status anet_feed_put(struct anet_feed *f, const struct anet_batch *b);
/* Forward pass on images [first, first + n) of the feed's batch (its n × crops crops). */
enum anet_status anet_model_forward_fed(struct anet_model *m, const struct anet_feed *f,
                                        int first, int n, int train, uint64_t seed,
                                        uint32_t step, const float **logits);

/* The k largest of scores[0..classes) in descending order, ties to the lower index. */
void anet_topk(const float *scores, int classes, int k, int32_t *idx);

#endif
