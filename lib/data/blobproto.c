/* The mean image as Caffe's BlobProto (caffe.proto), encoded and decoded by hand:
 *
 *   message BlobProto { optional BlobShape shape = 7; repeated float data = 5 [packed];
 *                       repeated float diff = 6 [packed]; repeated double double_data = 8;
 *                       repeated double double_diff = 9; optional int32 num = 1, channels = 2,
 *                       height = 3, width = 4; }
 *   message BlobShape { repeated int64 dim = 1 [packed]; }
 *
 * Writing follows compute_image_mean: num 1, channels, height, width, then data packed,
 * in field-number order as proto2 serialises them. Reading accepts what any protobuf
 * writer may produce: packed or unpacked repeated fields, split packed runs, fields in any
 * order, unknown fields (skipped by wire type). The reader of a blob (blob.h) is also the
 * reader of a caffemodel's weights. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/file.h"
#include "alexnet/stats.h"
#include "blob.h"
#include "wire.h"

enum { F_NUM = 1, F_CHANNELS = 2, F_HEIGHT = 3, F_WIDTH = 4, F_DATA = 5, F_DIFF = 6,
       F_SHAPE = 7, F_DOUBLE_DATA = 8, F_DOUBLE_DIFF = 9 };
enum { F_SHAPE_DIM = 1 };

/* ---- writing ------------------------------------------------------------------------- */

static void put_f32le(uint8_t *p, float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    p[0] = (uint8_t)u, p[1] = (uint8_t)(u >> 8), p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

enum anet_status anet_mean_write_stream(FILE *f, const float *mean, int channels, int height,
                                        int width)
{
    if (channels < 1 || height < 1 || width < 1)
        return anet_fail(ANET_ERR_INVALID, "mean image shape %dx%dx%d is not positive",
                         channels, height, width);
    size_t n = (size_t)channels * (size_t)height * (size_t)width;
    uint8_t head[64], *p = head;
    p += wire_put_varint(p, F_NUM << 3 | WIRE_VARINT);
    p += wire_put_varint(p, 1);
    p += wire_put_varint(p, F_CHANNELS << 3 | WIRE_VARINT);
    p += wire_put_varint(p, (uint64_t)channels);
    p += wire_put_varint(p, F_HEIGHT << 3 | WIRE_VARINT);
    p += wire_put_varint(p, (uint64_t)height);
    p += wire_put_varint(p, F_WIDTH << 3 | WIRE_VARINT);
    p += wire_put_varint(p, (uint64_t)width);
    p += wire_put_varint(p, F_DATA << 3 | WIRE_BYTES);
    p += wire_put_varint(p, (uint64_t)n * 4);
    fwrite(head, 1, (size_t)(p - head), f);
    uint8_t buf[4096];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < sizeof buf / 4 && i < n; k++, i++) put_f32le(buf + 4 * k, mean[i]);
        fwrite(buf, 4, k, f);
    }
    return ANET_OK; /* a failed fwrite marks the stream: its commit reports it */
}

enum anet_status anet_mean_write(const char *path, const float *mean, int channels,
                                 int height, int width, int overwrite)
{
    if (channels < 1 || height < 1 || width < 1)
        return anet_fail(ANET_ERR_INVALID, "'%s': mean image shape %dx%dx%d is not positive",
                         path, channels, height, width);
    struct anet_afile *af;
    enum anet_status st = anet_afile_open(path, overwrite, &af);
    if (st) return st;
    anet_mean_write_stream(anet_afile_stream(af), mean, channels, height, width);
    return anet_afile_commit(af);
}

/* ---- reading ------------------------------------------------------------------------- */

static enum anet_status truncated(const char *what)
{
    return anet_fail(ANET_ERR_FORMAT, "%s is truncated (not a complete BlobProto)", what);
}

static enum anet_status corrupt(const char *what, const char *why)
{
    return anet_fail(ANET_ERR_FORMAT, "%s is not a valid BlobProto: %s", what, why);
}

/* A field that the iterator could not read, explained. */
static enum anet_status bad_field(const char *what, enum wire_field_result r)
{
    switch (r) {
    case WIRE_FIELD_OK: break;
    case WIRE_FIELD_TRUNCATED: return truncated(what);
    case WIRE_FIELD_OVERLONG: return corrupt(what, "a varint longer than 10 bytes");
    case WIRE_FIELD_NUMBER: return corrupt(what, "a field number out of range");
    case WIRE_FIELD_GROUP: return corrupt(what, "a group or an unknown wire type");
    }
    return ANET_OK;
}

static float get_f32le(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static enum anet_status wrong_wire(const char *what, const struct wire_field *f)
{
    char why[64];
    snprintf(why, sizeof why, "field %u has wire type %d", f->number, f->wire);
    return corrupt(what, why);
}

static enum anet_status read_dim(struct anet_blob *b, const char *what, uint64_t v)
{
    if (b->ndims == ANET_BLOB_MAX_DIMS) return corrupt(what, "a shape of more than 4 dimensions");
    b->dims[b->ndims++] = (int64_t)v;
    return ANET_OK;
}

/* BlobShape: dim = 1 arrives unpacked (one varint a field) or packed (a run of varints). */
static enum anet_status read_shape(struct anet_blob *b, const char *what, const uint8_t *p,
                                   const uint8_t *end)
{
    b->has_shape = 1; /* a repeated shape field merges, as protobuf merges messages */
    while (p < end) {
        struct wire_field f = {0};
        enum anet_status st = bad_field(what, wire_next_field(&p, end, &f));
        if (st || f.number != F_SHAPE_DIM) {
            if (st) return st;
            continue;
        }
        if (f.wire == WIRE_VARINT) {
            if ((st = read_dim(b, what, f.v))) return st;
        } else if (f.wire == WIRE_BYTES) {
            for (const uint8_t *q = f.p, *e = f.p + f.len; q < e;) {
                uint64_t v = 0;
                if ((st = bad_field(what, wire_field_varint(&q, e, &v))) ||
                    (st = read_dim(b, what, v)))
                    return st;
            }
        } else {
            return wrong_wire(what, &f);
        }
    }
    return ANET_OK;
}

/* data = 5: one float a fixed32 field, or a packed run of them. */
static enum anet_status read_floats(struct anet_blob *b, const char *what,
                                    const struct wire_field *f)
{
    if (f->wire != WIRE_FIXED32 && f->wire != WIRE_BYTES) return wrong_wire(what, f);
    if (f->len % 4) return corrupt(what, "packed data is not whole floats");
    for (size_t i = 0; i < f->len; i += 4) b->data[b->count++] = get_f32le(f->p + i);
    return ANET_OK;
}

static enum anet_status read_field(struct anet_blob *b, const char *what,
                                   const struct wire_field *f)
{
    switch (f->number) {
    case F_NUM: case F_CHANNELS: case F_HEIGHT: case F_WIDTH:
        if (f->wire != WIRE_VARINT) return wrong_wire(what, f);
        b->legacy[f->number - F_NUM] = (int64_t)f->v; /* int32 negatives arrive sign-extended */
        b->has_legacy = 1;
        return ANET_OK;
    case F_DATA: return read_floats(b, what, f);
    case F_SHAPE:
        if (f->wire != WIRE_BYTES) return wrong_wire(what, f);
        return read_shape(b, what, f->p, f->p + f->len);
    case F_DOUBLE_DATA: case F_DOUBLE_DIFF:
        return anet_fail(ANET_ERR_UNSUPPORTED,
                         "%s holds double-precision data (double_data/double_diff), which "
                         "this build does not read: write it as float",
                         what);
    default: return ANET_OK; /* diff (6) and unknown fields */
    }
}

enum anet_status anet_blob_decode(const uint8_t *buf, size_t len, const char *what,
                                  struct anet_blob *b)
{
    memset(b, 0, sizeof *b);
    /* Every float takes at least 4 bytes of the input, so this bounds the data. */
    if (!(b->data = malloc((len / 4 + 1) * sizeof *b->data)))
        return anet_fail(ANET_ERR_NOMEM, "out of memory reading %s", what);
    enum anet_status st = ANET_OK;
    for (const uint8_t *p = buf, *end = buf + len; !st && p < end;) {
        struct wire_field f = {0};
        if (!(st = bad_field(what, wire_next_field(&p, end, &f)))) st = read_field(b, what, &f);
    }
    if (st) anet_blob_free(b);
    return st;
}

int anet_blob_dims(const struct anet_blob *b, int64_t dims[ANET_BLOB_MAX_DIMS])
{
    if (b->has_shape) {
        memcpy(dims, b->dims, sizeof b->dims);
        return b->ndims;
    }
    if (!b->has_legacy) return 0;
    memcpy(dims, b->legacy, sizeof b->legacy);
    return 4;
}

void anet_blob_free(struct anet_blob *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Channels, height and width from the shape field when present, else the legacy fields. */
static enum anet_status blob_shape(const char *path, const struct anet_blob *b, int64_t chw[3])
{
    if (b->has_shape) {
        if (b->ndims == 4 && b->dims[0] != 1)
            return anet_fail(ANET_ERR_FORMAT, "'%s' holds %lld images, not one mean image",
                             path, (long long)b->dims[0]);
        if (b->ndims != 3 && b->ndims != 4)
            return anet_fail(ANET_ERR_FORMAT,
                             "'%s': shape has %d dimensions (expected CxHxW or 1xCxHxW)",
                             path, b->ndims);
        memcpy(chw, b->dims + b->ndims - 3, 3 * sizeof *chw);
    } else if (b->has_legacy) {
        if (b->legacy[0] != 1)
            return anet_fail(ANET_ERR_FORMAT, "'%s' has num %lld (expected 1 mean image)",
                             path, (long long)b->legacy[0]);
        memcpy(chw, b->legacy + 1, 3 * sizeof *chw);
    } else {
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s' has no shape (neither num/channels/height/width nor shape)",
                         path);
    }
    for (int i = 0; i < 3; i++)
        if (chw[i] < 1 || chw[i] > INT_MAX)
            return anet_fail(ANET_ERR_FORMAT, "'%s': shape %lldx%lldx%lld is not valid",
                             path, (long long)chw[0], (long long)chw[1], (long long)chw[2]);
    return ANET_OK;
}

/* count == C·H·W, where the product of three int-sized dimensions may not fit 64 bits. */
static int count_matches(size_t count, const int64_t chw[3])
{
    uint64_t n = 1;
    for (int i = 0; i < 3; i++)
        if (__builtin_mul_overflow(n, (uint64_t)chw[i], &n)) return 0;
    return n == (uint64_t)count;
}

/* A mean of 8-bit pixels: every value in 0..255 (NaN fails the test too). */
static enum anet_status check_values(const char *path, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= 0.0f && x[i] <= 255.0f))
            return anet_fail(ANET_ERR_FORMAT, "'%s': element %zu of the mean image is %g, not "
                             "a mean of 0..255 pixels", path, i, (double)x[i]);
    return ANET_OK;
}

enum anet_status anet_mean_decode(const void *data, size_t len, const char *path, float **mean,
                                  int *channels, int *height, int *width)
{
    *mean = NULL;
    enum anet_status st;
    size_t n = strlen(path) + 3;
    char *what = malloc(n);
    struct anet_blob b = {0};
    if (!what) st = anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", path);
    else snprintf(what, n, "'%s'", path), st = anet_blob_decode(data, len, what, &b);
    free(what);
    int64_t chw[3];
    if (!st) st = blob_shape(path, &b, chw);
    if (!st && !count_matches(b.count, chw))
        st = anet_fail(ANET_ERR_FORMAT, "'%s' holds %zu floats, but its shape %lldx%lldx%lld "
                       "needs %.0f", path, b.count, (long long)chw[0], (long long)chw[1],
                       (long long)chw[2], (double)chw[0] * (double)chw[1] * (double)chw[2]);
    if (!st) st = check_values(path, b.data, b.count);
    if (st) {
        anet_blob_free(&b);
        return st;
    }
    *mean = b.data;
    *channels = (int)chw[0], *height = (int)chw[1], *width = (int)chw[2];
    return ANET_OK;
}

enum anet_status anet_mean_read(const char *path, float **mean, int *channels, int *height,
                                int *width)
{
    *mean = NULL;
    uint8_t *buf;
    size_t len;
    enum anet_status st = anet_file_read(path, ANET_MEAN_MAX_BYTES, "a mean image", &buf, &len);
    if (st) return st;
    st = anet_mean_decode(buf, len, path, mean, channels, height, width);
    free(buf);
    return st;
}
