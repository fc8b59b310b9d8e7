/* Checkpoints: a model's configuration, its class table, the state of its training and its
 * parameters with their momentum, in one little-endian binary file (alexnet-files(5)).
 *
 *   offset 0   "ANETCKPT"                     8 bytes, the magic
 *          8   u32 version (1)
 *         12   u32 sections
 *         16   sections, each: u32 tag (4 ASCII bytes), u32 0, u64 length, payload,
 *              in this order:
 *                "CONF"  the configuration as text (anet_config_format, alexnet/model.h)
 *                "CLAS"  the class table as classes.tsv text (may be empty: 0 classes;
 *                        always written, but a reader takes it absent as empty)
 *                "TRAN"  the training state as text, "key value" lines (may be absent)
 *                "TENS"  u32 count, then a tensor each: u32 name length, name bytes,
 *                        u32 ndim, u32 dims[ndim], u32 dtype (1 = f32), u64 elements,
 *                        elements × f32; the parameters in anet_model_tensors order
 *                        ("conv1.weight" ... "fc8.bias"), then their momentum
 *                        ("momentum.conv1.weight" ...), which may be absent
 *   end - 12   "ANETEND\0" and u32 CRC-32 (anet_crc32) of every byte before the "ANETEND"
 *
 * Written atomically (anet_afile: temporary file, fsync, rename), so a crash at any moment
 * leaves the previous file intact; a model holding a NaN or an infinity, in a parameter or
 * its momentum, is never written. Reading refuses, naming the file, anything that is not
 * exactly this: a foreign file, another version, a truncated file, a CRC mismatch, a tensor
 * whose name or shape is not the configuration's, a configuration outside the ranges the
 * tools' options allow. Text sections are capped at 16 MiB and every length is checked
 * against the file's size before anything is allocated for it; the tensor records are all
 * checked against the configuration before the model is made, so what the file cannot
 * hold is never allocated. */
#ifndef ANET_CHECKPOINT_H
#define ANET_CHECKPOINT_H

#include <stddef.h>
#include "data.h"
#include "model.h"
#include "status.h"

#define ANET_CKPT_VERSION 1


struct anet_ckpt {
    struct anet_config config;
    struct anet_classes classes; /* count 0 when the file holds none */
    char *train;                 /* the TRAN text, NUL-terminated; NULL when absent */
    int has_momentum;
    struct anet_model *model;    /* NULL from anet_ckpt_peek */
};

/* Writes m's configuration, parameters and momentum, the class table (NULL or count 0:
 * none; otherwise exactly the model's classes, else ANET_ERR_INVALID) and the training
 * text (NULL: none) to path. With overwrite == 0 an existing path is refused. A value that
 * is not finite, in any parameter or momentum, is ANET_ERR_INVALID naming the tensor and
 * the element, and nothing is written: a model that diverged is never saved. A big-endian
 * host is ANET_ERR_UNSUPPORTED (the floats are written as they lie in memory). */
enum anet_status anet_ckpt_save(const char *path, struct anet_model *m,
                                const struct anet_classes *classes, const char *train,
                                int overwrite);
/* Reads a checkpoint whole: checks the CRC, creates a model for batches of up to
 * max_batch images and loads its parameters and momentum (zero when absent). On failure
 * *out is empty (anet_ckpt_free is harmless on it). */
enum anet_status anet_ckpt_load(const char *path, int max_batch, struct anet_ckpt *out);
/* The configuration, classes and training text only, without the tensors or the CRC
 * check (cheap: for alexnet-info and for checks before allocating). It still refuses a
 * foreign, newer or truncated file, and sets has_momentum from the tensor count. */
enum anet_status anet_ckpt_peek(const char *path, struct anet_ckpt *out);
void anet_ckpt_free(struct anet_ckpt *c);

#endif
