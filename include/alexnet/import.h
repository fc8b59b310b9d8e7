/* Weights from and for other frameworks: Caffe's NetParameter (a .caffemodel, such as the
 * published bvlc_alexnet.caffemodel) in, and safetensors (which PyTorch, JAX and most
 * tools read) out and in.
 *
 * Every reader takes the file as hostile: every length is bounded by the file's size before
 * anything is allocated for it, and anything that is not exactly what the reader expects
 * is refused with ANET_ERR_FORMAT and a detail naming the file and what is wrong (for a
 * caffemodel: the layer and the shapes). A parameter that is not finite is refused too:
 * nothing here ever yields a model with a NaN or an infinity. */
#ifndef ANET_IMPORT_H
#define ANET_IMPORT_H

#include "data.h"
#include "model.h"
#include "status.h"

/* What an import yields: a CPU model (for batches of one image) with the file's
 * configuration and parameters (momentum zero), the class table the file carries (count 0
 * when none), and one line that says how the file became the network. */
struct anet_import {
    struct anet_model *model;
    struct anet_classes classes;
    char how[512];
};
void anet_import_free(struct anet_import *im);

/* ---- Caffe --------------------------------------------------------------------------------
 * A NetParameter in the binary protobuf format, with the current `layer` field (100) or the
 * V1 `layers` field (2). Its layers, in file order, must be this network's: for conv1 to
 * conv5 a Convolution, a ReLU (or TanH, the same in every layer), an LRN after conv1 and
 * conv2 (in both or in neither, with the same parameters; norm_region ACROSS_CHANNELS) and
 * a MAX Pooling after conv1, conv2 and conv5 (the same window and stride each time, no
 * padding); then three InnerProduct layers fc6, fc7, fc8, the first two followed by the
 * activation and, optionally, a Dropout. Each layer must read what the one before wrote.
 * Data, Input, Softmax, SoftmaxWithLoss, Accuracy, Split, Silence and Flatten layers are
 * passed over, and so are layers that run in the TRAIN phase only. The weighted layers take
 * the names conv1 ... fc8 by position; another of those names in the wrong place is refused.
 *
 * Mapped: kernels, strides and padding must be the network's (11/4/0, 5/1/2, 3/1/1 x 3);
 * the widths, groups, classes and input channels come from the file; the crop from its
 * input shape, an Input layer or a data layer's crop_size, else 227; fc6's input must be
 * conv5's pooled maps at that crop. Groups 1,2,1,2,2 make the two-tower network, any others
 * one column with those groups. Caffe's LRN is carried exactly: k, alpha divided by the
 * window (lrn_alpha_per_size) and windows across every channel (lrn_across_towers).
 * Caffe's pooling rounds its output size up where this network rounds down: a crop at
 * which they differ is refused, naming the layer and both sizes (at 227 they agree:
 * 55 -> 27 -> 13 -> 6). Weights blobs are K x C/g x h x w and K x N (or the legacy
 * 1 x 1 x K x N; transposed ones are transposed back), biases K (or 1 x 1 x 1 x K); a layer
 * with bias_term false gets zero biases. The dropout probability is the Dropout layers'. */
enum anet_status anet_caffe_import(const char *path, struct anet_import *out);
/* The same from the bytes of a NetParameter in memory (which anet_caffe_import reads whole
 * from a regular file of at most 2 GB, protobuf's limit); `name` names it in messages. */
enum anet_status anet_caffe_decode(const uint8_t *buf, size_t len, const char *name,
                                   struct anet_import *out);

/* ---- safetensors --------------------------------------------------------------------------
 * A u64 little-endian header length N, N bytes of JSON, then the tensors' bytes. The
 * header maps each parameter (conv1.weight ... fc8.bias, anet_model_tensors order and
 * shapes) to {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, offsets into
 * the bytes after the header; "__metadata__" holds "format": "pt", the configuration as
 * CONF text ("alexnet.config") and the class table as classes.tsv text
 * ("alexnet.classes", absent without one). The names and layouts are PyTorch's for a
 * module whose layers are attributes conv1 ... fc8 (nn.Conv2d with groups, nn.Linear), so
 * load_state_dict(strict=True) takes the file as it is (alexnet-export(1) shows the
 * module). Written atomically; an existing path is refused unless overwrite is set. */
enum anet_status anet_safetensors_export(const char *path, struct anet_model *m,
                                         const struct anet_classes *classes, int overwrite);
/* Reads a safetensors file back: every parameter must be there, F32, in the configuration's
 * shape, inside the file; other tensors are refused. Without "alexnet.config" the network
 * is inferred from the shapes (widths, groups, classes; two towers for groups 1,2,1,2,2)
 * with the paper's other settings and the crop whose conv5 maps fc6 reads (227 for 6x6).
 * An export read back gives the same configuration, classes and parameters, bit for bit. */
enum anet_status anet_safetensors_import(const char *path, struct anet_import *out);
/* The same from a stream at its start that holds size bytes (a regular file, which
 * anet_safetensors_import opens as anet_file_open does, or bytes in memory); `name` names
 * it in messages. */
enum anet_status anet_safetensors_read_stream(FILE *f, uint64_t size, const char *name,
                                              struct anet_import *out);

#endif
