/* The protocol buffer wire format, the parts Caffe's Datum and BlobProto need: varints,
 * tags and wire types. Shared by datum.c and blobproto.c, which each add their own error
 * messages. Internal to the library. */
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

#endif
