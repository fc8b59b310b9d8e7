/* Caffe's BlobProto decoded from memory: the mean image (blobproto.c) and the weights of a
 * caffemodel (lib/model/caffe.c) share this one reader. Internal to the library.
 *
 *   message BlobProto { optional BlobShape shape = 7; repeated float data = 5 [packed];
 *                       repeated float diff = 6 [packed]; repeated double double_data = 8;
 *                       repeated double double_diff = 9; optional int32 num = 1,
 *                       channels = 2, height = 3, width = 4; }
 *   message BlobShape { repeated int64 dim = 1 [packed]; } */
#ifndef ANET_BLOB_H
#define ANET_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include "alexnet/status.h"

#define ANET_BLOB_MAX_DIMS 4

struct anet_blob {
    int64_t dims[ANET_BLOB_MAX_DIMS]; /* shape.dim, when has_shape */
    int ndims, has_shape;
    int64_t legacy[4]; /* num, channels, height, width, when has_legacy */
    int has_legacy;
    float *data; /* count floats, malloc'ed */
    size_t count;
};

/* Decodes buf[0..len): packed or unpacked repeated fields, split packed runs, fields in any
 * order, unknown fields skipped by wire type (what any protobuf writer may produce). `what`
 * names the blob in messages as it should appear ("'mean.binaryproto'", "'x.caffemodel':
 * conv1's weights"): truncated data, a group, a shape of more than 4 dimensions, packed
 * data that is not whole floats are ANET_ERR_FORMAT; double_data ANET_ERR_UNSUPPORTED. The
 * data never takes more than len bytes' worth of floats. On failure b is empty. */
enum anet_status anet_blob_decode(const uint8_t *buf, size_t len, const char *what,
                                  struct anet_blob *b);
/* The dimensions, outermost first: shape's when present, else num, channels, height, width
 * (4) when any of them was given; 0 when the blob has neither. */
int anet_blob_dims(const struct anet_blob *b, int64_t dims[ANET_BLOB_MAX_DIMS]);
void anet_blob_free(struct anet_blob *b);

#endif
