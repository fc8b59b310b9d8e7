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
 * order, unknown fields (skipped by wire type). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/file.h"
#include "alexnet/stats.h"
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

struct cursor {
    const uint8_t *p, *end;
};

struct blob {
    const char *path;
    int64_t legacy[4]; /* num, channels, height, width */
    int has_legacy;
    int64_t dims[4];
    int ndims, has_shape;
    float *data;       /* room for every float the file could hold */
    size_t count;
};

static enum anet_status truncated(const struct blob *b)
{
    return anet_fail(ANET_ERR_FORMAT, "'%s' is truncated (not a complete BlobProto)",
                     b->path);
}

static enum anet_status corrupt(const struct blob *b, const char *what)
{
    return anet_fail(ANET_ERR_FORMAT, "'%s' is not a valid BlobProto: %s", b->path, what);
}

static enum anet_status get_varint(const struct blob *b, struct cursor *c, uint64_t *v)
{
    switch (wire_get_varint(&c->p, c->end, v)) {
    case WIRE_OK: return ANET_OK;
    case WIRE_TRUNCATED: return truncated(b);
    case WIRE_OVERLONG: break;
    }
    return corrupt(b, "a varint longer than 10 bytes");
}

static float get_f32le(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Moves past a value of the given wire type; *payload (when not NULL) gets the bytes it
 * spans, without the length prefix of WIRE_BYTES. */
static enum anet_status skip_value(const struct blob *b, struct cursor *c, int wire,
                                   struct cursor *payload)
{
    uint64_t v = 0;
    size_t left = (size_t)(c->end - c->p), n;
    switch (wire) {
    case WIRE_VARINT: return get_varint(b, c, &v);
    case WIRE_FIXED64: n = 8; break;
    case WIRE_FIXED32: n = 4; break;
    case WIRE_BYTES: {
        enum anet_status st = get_varint(b, c, &v);
        if (st) return st;
        left = (size_t)(c->end - c->p);
        if (v > left) return truncated(b);
        n = (size_t)v;
        break;
    }
    default: return corrupt(b, "a group or an unknown wire type");
    }
    if (n > left) return truncated(b);
    if (payload) payload->p = c->p, payload->end = c->p + n;
    c->p += n;
    return ANET_OK;
}

static enum anet_status get_tag(const struct blob *b, struct cursor *c, int *field, int *wire)
{
    uint64_t tag = 0;
    enum anet_status st = get_varint(b, c, &tag);
    if (st) return st;
    if (tag >> 3 == 0 || tag >> 3 > INT_MAX) return corrupt(b, "a field number out of range");
    *field = (int)(tag >> 3), *wire = (int)(tag & 7);
    return ANET_OK;
}

static enum anet_status wrong_wire(const struct blob *b, int field, int wire)
{
    char what[64];
    snprintf(what, sizeof what, "field %d has wire type %d", field, wire);
    return corrupt(b, what);
}

static enum anet_status read_dim(struct blob *b, uint64_t v)
{
    if (b->ndims == 4) return corrupt(b, "a shape of more than 4 dimensions");
    b->dims[b->ndims++] = (int64_t)v;
    return ANET_OK;
}

/* dim = 1 arrives unpacked (one varint a record) or packed (a run of varints). */
static enum anet_status read_dims(struct blob *b, struct cursor *c, int wire)
{
    uint64_t v = 0;
    enum anet_status st;
    if (wire == WIRE_VARINT) return (st = get_varint(b, c, &v)) ? st : read_dim(b, v);
    if (wire != WIRE_BYTES) return wrong_wire(b, F_SHAPE_DIM, wire);
    struct cursor run = {0};
    if ((st = skip_value(b, c, wire, &run))) return st;
    while (run.p < run.end)
        if ((st = get_varint(b, &run, &v)) || (st = read_dim(b, v))) return st;
    return ANET_OK;
}

static enum anet_status read_shape(struct blob *b, struct cursor c)
{
    b->has_shape = 1; /* a repeated shape field merges, as protobuf merges messages */
    while (c.p < c.end) {
        int field = 0, wire = 0;
        enum anet_status st = get_tag(b, &c, &field, &wire);
        if (!st)
            st = field == F_SHAPE_DIM ? read_dims(b, &c, wire) : skip_value(b, &c, wire, NULL);
        if (st) return st;
    }
    return ANET_OK;
}

static enum anet_status read_floats(struct blob *b, struct cursor *c, int wire)
{
    struct cursor run = {0};
    enum anet_status st;
    if (wire == WIRE_FIXED32) {
        if ((st = skip_value(b, c, wire, &run))) return st;
    } else if (wire == WIRE_BYTES) {
        if ((st = skip_value(b, c, wire, &run))) return st;
        if ((run.end - run.p) % 4) return corrupt(b, "packed data is not whole floats");
    } else {
        return wrong_wire(b, F_DATA, wire);
    }
    for (; run.p < run.end; run.p += 4) b->data[b->count++] = get_f32le(run.p);
    return ANET_OK;
}

static enum anet_status read_field(struct blob *b, struct cursor *c, int field, int wire)
{
    uint64_t v = 0;
    enum anet_status st;
    switch (field) {
    case F_NUM: case F_CHANNELS: case F_HEIGHT: case F_WIDTH:
        if (wire != WIRE_VARINT) return wrong_wire(b, field, wire);
        if ((st = get_varint(b, c, &v))) return st;
        b->legacy[field - F_NUM] = (int64_t)v; /* int32 negatives arrive sign-extended */
        b->has_legacy = 1;
        return ANET_OK;
    case F_DATA: return read_floats(b, c, wire);
    case F_SHAPE: {
        struct cursor sub = {0};
        if (wire != WIRE_BYTES) return wrong_wire(b, field, wire);
        if ((st = skip_value(b, c, wire, &sub))) return st;
        return read_shape(b, sub);
    }
    case F_DOUBLE_DATA: case F_DOUBLE_DIFF:
        return anet_fail(ANET_ERR_UNSUPPORTED,
                         "'%s' holds double-precision data (double_data/double_diff), which "
                         "this build does not read: write the mean image as float",
                         b->path);
    default: return skip_value(b, c, wire, NULL); /* diff (6) and unknown fields */
    }
}

/* Channels, height and width from the shape field when present, else the legacy fields. */
static enum anet_status blob_shape(const struct blob *b, int64_t chw[3])
{
    if (b->has_shape) {
        if (b->ndims == 4 && b->dims[0] != 1)
            return anet_fail(ANET_ERR_FORMAT, "'%s' holds %lld images, not one mean image",
                             b->path, (long long)b->dims[0]);
        if (b->ndims != 3 && b->ndims != 4)
            return anet_fail(ANET_ERR_FORMAT,
                             "'%s': shape has %d dimensions (expected CxHxW or 1xCxHxW)",
                             b->path, b->ndims);
        memcpy(chw, b->dims + b->ndims - 3, 3 * sizeof *chw);
    } else if (b->has_legacy) {
        if (b->legacy[0] != 1)
            return anet_fail(ANET_ERR_FORMAT, "'%s' has num %lld (expected 1 mean image)",
                             b->path, (long long)b->legacy[0]);
        memcpy(chw, b->legacy + 1, 3 * sizeof *chw);
    } else {
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s' has no shape (neither num/channels/height/width nor shape)",
                         b->path);
    }
    for (int i = 0; i < 3; i++)
        if (chw[i] < 1 || chw[i] > INT_MAX)
            return anet_fail(ANET_ERR_FORMAT, "'%s': shape %lldx%lldx%lld is not valid",
                             b->path, (long long)chw[0], (long long)chw[1], (long long)chw[2]);
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
    const uint8_t *buf = data;
    enum anet_status st = ANET_OK;
    struct blob b = {.path = path};
    /* Every float takes at least 4 bytes of the file, so this bounds the data. */
    if (!(b.data = malloc((len / 4 + 1) * sizeof *b.data)))
        return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", path);
    struct cursor c = {buf, buf + len};
    while (!st && c.p < c.end) {
        int field = 0, wire = 0;
        if (!(st = get_tag(&b, &c, &field, &wire))) st = read_field(&b, &c, field, wire);
    }
    int64_t chw[3];
    if (!st) st = blob_shape(&b, chw);
    if (!st && !count_matches(b.count, chw))
        st = anet_fail(ANET_ERR_FORMAT, "'%s' holds %zu floats, but its shape %lldx%lldx%lld "
                       "needs %.0f", path, b.count, (long long)chw[0], (long long)chw[1],
                       (long long)chw[2], (double)chw[0] * (double)chw[1] * (double)chw[2]);
    if (!st) st = check_values(path, b.data, b.count);
    if (st) {
        free(b.data);
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
