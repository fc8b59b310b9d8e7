/* The protocol buffer wire format, the parts Caffe's Datum, BlobProto and NetParameter
 * need: varints, tags, wire types and a field iterator. Shared by datum.c, blobproto.c and
 * the Caffe importer, which each add their own error messages. Internal to the library. */
#ifndef ANET_WIRE_H
#define ANET_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_BYTES = 2, WIRE_GROUP_START = 3,
       WIRE_GROUP_END = 4, WIRE_FIXED32 = 5 };

/* Writes v as a varint (7 bits a byte, low first, high bit = more); returns its length. */
static inline size_t wire_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline size_t wire_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

/* Reads a varint at *p, before end, and moves *p past it. */
enum wire_result { WIRE_OK = 0, WIRE_TRUNCATED, WIRE_OVERLONG };
static inline enum wire_result wire_get_varint(const uint8_t **p, const uint8_t *end,
                                               uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) { /* at most 10 bytes for 64 bits */
        if (*p == end) return WIRE_TRUNCATED;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return WIRE_OK;
        }
    }
    return WIRE_OVERLONG;
}

/* One field of a message: its number and wire type, and its value: v for a varint (and
 * the length of a length-delimited value), the payload p[0..len) for the fixed-size and
 * length-delimited types. */
struct wire_field {
    uint32_t number;
    int wire;
    uint64_t v;
    const uint8_t *p;
    size_t len;
};
enum wire_field_result { WIRE_FIELD_OK = 0, WIRE_FIELD_TRUNCATED, WIRE_FIELD_OVERLONG,
                         WIRE_FIELD_NUMBER, WIRE_FIELD_GROUP };

static inline enum wire_field_result wire_field_varint(const uint8_t **p, const uint8_t *end,
                                                        uint64_t *v)
{
    switch (wire_get_varint(p, end, v)) {
    case WIRE_OK: return WIRE_FIELD_OK;
    case WIRE_TRUNCATED: return WIRE_FIELD_TRUNCATED;
    case WIRE_OVERLONG: break;
    }
    return WIRE_FIELD_OVERLONG;
}

/* Reads the field at *p, before end, and moves *p past it. A payload that runs past end is
 * WIRE_FIELD_TRUNCATED; a field number of 0 or over 2^29 − 1, WIRE_FIELD_NUMBER; a group
 * (wire types 3 and 4, which no Caffe message uses) or an unknown wire type,
 * WIRE_FIELD_GROUP. */
static inline enum wire_field_result wire_next_field(const uint8_t **p, const uint8_t *end,
                                                      struct wire_field *f)
{
    uint64_t tag = 0;
    enum wire_field_result r = wire_field_varint(p, end, &tag);
    if (r) return r;
    if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff) return WIRE_FIELD_NUMBER;
    *f = (struct wire_field){.number = (uint32_t)(tag >> 3), .wire = (int)(tag & 7)};
    size_t n;
    switch (f->wire) {
    case WIRE_VARINT: return wire_field_varint(p, end, &f->v);
    case WIRE_FIXED64: n = 8; break;
    case WIRE_FIXED32: n = 4; break;
    case WIRE_BYTES:
        if ((r = wire_field_varint(p, end, &f->v))) return r;
        if (f->v > (uint64_t)(end - *p)) return WIRE_FIELD_TRUNCATED;
        n = (size_t)f->v;
        break;
    default: return WIRE_FIELD_GROUP;
    }
    if (n > (size_t)(end - *p)) return WIRE_FIELD_TRUNCATED;
    f->p = *p, f->len = n;
    *p += n;
    return WIRE_FIELD_OK;
}

#endif
