/* Caffe's Datum message (caffe.proto) encoded and decoded by hand, as protobuf's wire
 * format defines it: a record is a sequence of (tag, value) pairs, tag = field << 3 | wire
 * type; wire type 0 is a varint, 1 eight bytes, 2 a varint length then that many bytes, 5
 * four bytes (3 and 4 are the long-deprecated groups).
 *
 * Encoding writes what Caffe's convert_imageset writes, byte for byte: a raw image sets
 * channels, height, width, data, label and encoded=false (CVMatToDatum calls
 * set_encoded(false), and proto2 writes every field that was set), in field-number order;
 * an encoded image sets data, label and encoded=true (ReadFileToDatum), plus the shape
 * when we know it. */
#include <string.h>
#include "alexnet/data.h"
#include "wire.h"

enum { F_CHANNELS = 1, F_HEIGHT = 2, F_WIDTH = 3, F_DATA = 4, F_LABEL = 5, F_FLOAT_DATA = 6,
       F_ENCODED = 7 };

/* ---- encoding ----------------------------------------------------------------------------- */

/* protobuf writes a negative int32 sign-extended to 64 bits: always 10 bytes. */
static uint64_t int32_wire(int32_t v) { return (uint64_t)(int64_t)v; }

static size_t put_tag(uint8_t *p, int field, int wire) { return wire_put_varint(p, (uint64_t)(field << 3 | wire)); }

static int writes_shape(const struct anet_datum *d)
{
    return !d->encoded || d->channels || d->height || d->width;
}

size_t anet_datum_size(const struct anet_datum *d)
{
    size_t n = 0;
    if (writes_shape(d))
        n += 3 + wire_varint_size(int32_wire(d->channels)) + wire_varint_size(int32_wire(d->height)) +
             wire_varint_size(int32_wire(d->width));
    n += 1 + wire_varint_size(d->data_len) + d->data_len;
    n += 1 + wire_varint_size(int32_wire(d->label));
    n += 2; /* encoded */
    return n;
}

size_t anet_datum_encode(const struct anet_datum *d, uint8_t *buf)
{
    uint8_t *p = buf;
    if (writes_shape(d)) {
        p += put_tag(p, F_CHANNELS, WIRE_VARINT);
        p += wire_put_varint(p, int32_wire(d->channels));
        p += put_tag(p, F_HEIGHT, WIRE_VARINT);
        p += wire_put_varint(p, int32_wire(d->height));
        p += put_tag(p, F_WIDTH, WIRE_VARINT);
        p += wire_put_varint(p, int32_wire(d->width));
    }
    p += put_tag(p, F_DATA, WIRE_BYTES);
    p += wire_put_varint(p, d->data_len);
    if (d->data_len) memcpy(p, d->data, d->data_len);
    p += d->data_len;
    p += put_tag(p, F_LABEL, WIRE_VARINT);
    p += wire_put_varint(p, int32_wire(d->label));
    p += put_tag(p, F_ENCODED, WIRE_VARINT);
    *p++ = d->encoded ? 1 : 0;
    return (size_t)(p - buf);
}

/* ---- decoding ----------------------------------------------------------------------------- */

struct reader {
    const uint8_t *start, *p, *end;
};

static size_t offset(const struct reader *r) { return (size_t)(r->p - r->start); }
static size_t left(const struct reader *r) { return (size_t)(r->end - r->p); }

/* A varint is at most 10 bytes (64 bits, 7 a byte). field is only for the message; 0 for a
 * tag. */
static enum anet_status get_varint(struct reader *r, int field, uint64_t *v)
{
    size_t at = offset(r);
    *v = 0;
    switch (wire_get_varint(&r->p, r->end, v)) {
    case WIRE_OK: return ANET_OK;
    case WIRE_TRUNCATED:
        if (field)
            return anet_fail(ANET_ERR_FORMAT,
                             "truncated Datum: the value of field %d at byte %zu runs past the end",
                             field, at);
        return anet_fail(ANET_ERR_FORMAT, "truncated Datum: the tag at byte %zu runs past the end",
                         at);
    case WIRE_OVERLONG: break;
    }
    return anet_fail(ANET_ERR_FORMAT, "malformed Datum: varint at byte %zu is longer than 10 bytes",
                     at);
}

static enum anet_status need(const struct reader *r, int field, uint64_t n)
{
    if (n > left(r))
        return anet_fail(ANET_ERR_FORMAT, "truncated Datum: field %d needs %llu bytes, %zu left",
                         field, (unsigned long long)n, left(r));
    return ANET_OK;
}

/* Moves past the value of an unknown field, as protobuf does. */
static enum anet_status skip_value(struct reader *r, int field, int wire)
{
    uint64_t v;
    enum anet_status s;
    switch (wire) {
    case WIRE_VARINT: return get_varint(r, field, &v);
    case WIRE_FIXED64: v = 8; break;
    case WIRE_FIXED32: v = 4; break;
    case WIRE_BYTES:
        if ((s = get_varint(r, field, &v))) return s;
        break;
    default:
        return anet_fail(ANET_ERR_FORMAT, "malformed Datum: field %d uses wire type %d%s", field,
                         wire, wire == WIRE_GROUP_START || wire == WIRE_GROUP_END
                                   ? " (a group; Datum has none)" : " (no such wire type)");
    }
    if ((s = need(r, field, v))) return s;
    r->p += v;
    return ANET_OK;
}

/* A known field with the wrong wire type is not the Datum we know (protobuf would keep it
 * as an unknown field and read the record as empty); refusing it is safer than a silently
 * wrong image. */
static enum anet_status expect_wire(int field, int wire, int want)
{
    if (wire == want) return ANET_OK;
    return anet_fail(ANET_ERR_FORMAT, "malformed Datum: field %d has wire type %d, expected %d",
                     field, wire, want);
}

/* Raw data must be exactly one CHW image; computed without overflow for any int32 shape. */
static enum anet_status check_raw_shape(const struct anet_datum *d)
{
    if (d->channels < 0 || d->height < 0 || d->width < 0)
        return anet_fail(ANET_ERR_FORMAT, "malformed Datum: negative shape %dx%dx%d",
                         d->channels, d->height, d->width);
    uint64_t ch = (uint64_t)d->channels * (uint64_t)d->height, w = (uint64_t)d->width;
    int overflow = ch && w > UINT64_MAX / ch;
    uint64_t want = ch * w;
    if (overflow)
        return anet_fail(ANET_ERR_FORMAT, "malformed Datum: shape %dx%dx%d is too large",
                         d->channels, d->height, d->width);
    if (want != d->data_len)
        return anet_fail(ANET_ERR_FORMAT,
                         "malformed Datum: %zu data bytes for a %dx%dx%d image (expected %llu)",
                         d->data_len, d->channels, d->height, d->width,
                         (unsigned long long)want);
    /* protobuf reads an empty value as a Datum of defaults: no image at all */
    if (want == 0)
        return anet_fail(ANET_ERR_FORMAT, "malformed Datum: no image (shape %dx%dx%d)",
                         d->channels, d->height, d->width);
    return ANET_OK;
}

/* Reads the value of field 1-7 into d (later occurrences win, as in protobuf). */
static enum anet_status read_known(struct reader *r, int field, int wire, struct anet_datum *d)
{
    enum anet_status s;
    uint64_t v;
    if (field == F_FLOAT_DATA)
        return anet_fail(ANET_ERR_UNSUPPORTED, "float_data records are not supported");
    if ((s = expect_wire(field, wire, field == F_DATA ? WIRE_BYTES : WIRE_VARINT))) return s;
    if ((s = get_varint(r, field, &v))) return s;
    switch (field) {
    case F_CHANNELS: d->channels = (int32_t)(uint32_t)v; break; /* int32: the low 32 bits */
    case F_HEIGHT: d->height = (int32_t)(uint32_t)v; break;
    case F_WIDTH: d->width = (int32_t)(uint32_t)v; break;
    case F_LABEL: d->label = (int32_t)(uint32_t)v; break;
    case F_ENCODED: d->encoded = v != 0; break;
    case F_DATA:
        if ((s = need(r, field, v))) return s;
        d->data = r->p;
        d->data_len = (size_t)v;
        r->p += v;
        break;
    }
    return ANET_OK;
}

enum anet_status anet_datum_decode(const void *buf, size_t len, struct anet_datum *d)
{
    static const uint8_t empty[1];
    memset(d, 0, sizeof *d);
    d->data = empty;
    struct reader r = {buf, buf, (const uint8_t *)buf + len};
    while (r.p < r.end) {
        size_t at = offset(&r);
        uint64_t tag;
        enum anet_status s = get_varint(&r, 0, &tag);
        if (s) return s;
        uint64_t field = tag >> 3;
        int wire = (int)(tag & 7);
        if (field == 0 || field > 0x1fffffff)
            return anet_fail(ANET_ERR_FORMAT, "malformed Datum: bad field number %llu at byte %zu",
                             (unsigned long long)field, at);
        s = field <= F_ENCODED ? read_known(&r, (int)field, wire, d)
                               : skip_value(&r, (int)field, wire);
        if (s) return s;
    }
    return d->encoded ? ANET_OK : check_raw_shape(d);
}
