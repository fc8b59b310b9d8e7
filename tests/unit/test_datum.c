/* Datum records: round trips, the bytes Caffe writes, unknown fields, refusals, and every
 * truncation of a record. */
#include <string.h>
#include "alexnet/data.h"
#include "test.h"

static uint8_t *encode(const struct anet_datum *d, size_t *n)
{
    *n = anet_datum_size(d);
    uint8_t *buf = malloc(*n);
    if (!buf) abort();
    size_t wrote = anet_datum_encode(d, buf);
    if (wrote != *n) {
        printf("# anet_datum_size %zu, anet_datum_encode wrote %zu\n", *n, wrote);
        *n = wrote;
    }
    return buf;
}

static int same_datum(const struct anet_datum *a, const struct anet_datum *b)
{
    return a->channels == b->channels && a->height == b->height && a->width == b->width &&
           a->label == b->label && !a->encoded == !b->encoded && a->data_len == b->data_len &&
           (a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
}

static int detail_has(const char *text) { return strstr(anet_error_detail(), text) != NULL; }

static void test_round_trips(void)
{
    uint8_t pix[3 * 4 * 5];
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (uint8_t)(i * 37 + 11);
    const struct anet_datum cases[] = {
        {3, 4, 5, pix, sizeof pix, 7, 0},                /* raw */
        {0, 0, 0, (const uint8_t *)"\xFF\xD8JPEG", 6, 2, 1}, /* encoded, shape unknown */
        {3, 480, 640, (const uint8_t *)"\x89PNG", 4, 999, 1}, /* encoded, shape known */
        {3, 4, 5, pix, sizeof pix, -1, 0},               /* negative label */
        {3, 4, 5, pix, sizeof pix, INT32_MIN, 0},
        {3, 4, 5, pix, sizeof pix, INT32_MAX, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *buf = encode(&cases[i], &n);
        struct anet_datum d;
        enum anet_status s = anet_datum_decode(buf, n, &d);
        T_OK(s == ANET_OK && same_datum(&d, &cases[i]),
             "round trip %zu: %dx%dx%d label %d %s, %zu bytes (%s)", i, cases[i].channels,
             cases[i].height, cases[i].width, cases[i].label,
             cases[i].encoded ? "encoded" : "raw", n, anet_error_detail());
        free(buf);
    }

    /* a 3x256x256 image: the data points into the record, not a copy */
    size_t big = 3 * 256 * 256, n;
    uint8_t *img = malloc(big);
    for (size_t i = 0; i < big; i++) img[i] = (uint8_t)(i ^ (i >> 8));
    struct anet_datum in = {3, 256, 256, img, big, 123, 0}, d;
    uint8_t *buf = encode(&in, &n);
    T_OK(anet_datum_decode(buf, n, &d) == ANET_OK && same_datum(&d, &in) &&
             d.data > buf && d.data + d.data_len <= buf + n,
         "3x256x256 round trip (%zu bytes) decodes in place", n);
    /* 08 03, 10 80 02, 18 80 02, 22 80 80 0C, 28 7B, 38 00 */
    T_OK(n == big + 16, "record size %zu = data + 16 bytes of fields", n);
    free(buf);
    free(img);
}

/* Negative int32 values are sign-extended to 64 bits: ten bytes. */
static void test_negative_label_bytes(void)
{
    uint8_t pix[1] = {9};
    struct anet_datum in = {1, 1, 1, pix, 1, -1, 0};
    uint8_t buf[64];
    if (anet_datum_size(&in) > sizeof buf) abort();
    size_t n = anet_datum_encode(&in, buf);
    static const uint8_t label[] = {0x28, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                    0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    T_OK(n == 6 + 3 + 11 + 2 && memcmp(buf + 9, label, sizeof label) == 0,
         "label -1 is written as 28 ff ff ff ff ff ff ff ff ff 01 (%zu bytes)", n);
}

/* What Caffe's protobuf serialisation writes for convert_imageset's raw record of a
 * 3x2x2 image labelled 5 (CVMatToDatum then set_label; proto2 writes every field set, in
 * field-number order). */
static const uint8_t caffe_raw[] = {
    0x08, 0x03,             /* field 1 channels, varint: 3 */
    0x10, 0x02,             /* field 2 height, varint: 2 */
    0x18, 0x02,             /* field 3 width, varint: 2 */
    0x22, 0x0C,             /* field 4 data, length-delimited: 12 bytes follow */
    'b', 'b', 'b', 'b',     /* plane 0 (blue), 2 rows of 2 */
    'g', 'g', 'g', 'g',     /* plane 1 (green) */
    'r', 'r', 'r', 'r',     /* plane 2 (red) */
    0x28, 0x05,             /* field 5 label, varint: 5 */
    0x38, 0x00,             /* field 7 encoded, varint: false (CVMatToDatum sets it) */
};

/* And of an encoded record (ReadFileToDatum: set_data, set_label, set_encoded(true); no
 * shape), label 999, whose data is a 4-byte stand-in for a JPEG file. */
static const uint8_t caffe_encoded[] = {
    0x22, 0x04, 0xFF, 0xD8, 0xFF, 0xD9, /* field 4 data: 4 bytes */
    0x28, 0xE7, 0x07,                   /* field 5 label: 999 = 0x67 | 0x80, 0x07 */
    0x38, 0x01,                         /* field 7 encoded: true */
};

static void test_caffe_bytes(void)
{
    struct anet_datum d;
    T_OK(anet_datum_decode(caffe_raw, sizeof caffe_raw, &d) == ANET_OK && d.channels == 3 &&
             d.height == 2 && d.width == 2 && d.label == 5 && !d.encoded && d.data_len == 12 &&
             memcmp(d.data, "bbbbggggrrrr", 12) == 0,
         "decodes Caffe's raw record (%s)", anet_error_detail());
    uint8_t buf[1024];
    size_t n = anet_datum_encode(&d, buf);
    T_OK(n == sizeof caffe_raw && memcmp(buf, caffe_raw, n) == 0,
         "encodes a raw record byte for byte as Caffe does");

    T_OK(anet_datum_decode(caffe_encoded, sizeof caffe_encoded, &d) == ANET_OK &&
             d.encoded && d.label == 999 && d.channels == 0 && d.data_len == 4 &&
             memcmp(d.data, "\xFF\xD8\xFF\xD9", 4) == 0,
         "decodes Caffe's encoded record (%s)", anet_error_detail());
    n = anet_datum_encode(&d, buf);
    T_OK(n == sizeof caffe_encoded && memcmp(buf, caffe_encoded, n) == 0,
         "encodes an encoded record of unknown shape byte for byte as Caffe does");

    /* 256 needs two varint bytes: 0x80 0x02 */
    static uint8_t pix[3 * 256 * 1];
    struct anet_datum wide = {3, 1, 256, pix, sizeof pix, 0, 0};
    if (anet_datum_size(&wide) > sizeof buf) abort();
    n = anet_datum_encode(&wide, buf);
    T_OK(buf[4] == 0x18 && buf[5] == 0x80 && buf[6] == 0x02 && buf[7] == 0x22 &&
             buf[8] == 0x80 && buf[9] == 0x06,
         "width 256 is 18 80 02, data length 768 is 80 06");
}

/* Fields 8 and up in every wire type, before, between and after the known ones. */
static void test_unknown_fields(void)
{
    static const uint8_t rec[] = {
        0x40, 0x96, 0x01,                                     /* field 8 varint 150 */
        0x08, 0x03, 0x10, 0x02, 0x18, 0x02,                   /* shape 3x2x2 */
        0x49, 1, 2, 3, 4, 5, 6, 7, 8,                         /* field 9 fixed64 */
        0x22, 0x0C, 'b', 'b', 'b', 'b', 'g', 'g', 'g', 'g', 'r', 'r', 'r', 'r',
        0x52, 0x03, 'a', 'b', 'c',                            /* field 10 bytes */
        0x28, 0x05,                                           /* label 5 */
        0x5D, 1, 2, 3, 4,                                     /* field 11 fixed32 */
        0xA0, 0x06, 0x01,                                     /* field 100 varint */
        0xFA, 0xFF, 0xFF, 0xFF, 0x0F, 0x00,                   /* field 2^29-1, bytes, 0 */
        0x38, 0x00,                                           /* encoded false */
    };
    struct anet_datum d;
    T_OK(anet_datum_decode(rec, sizeof rec, &d) == ANET_OK && d.channels == 3 &&
             d.height == 2 && d.width == 2 && d.label == 5 && d.data_len == 12 &&
             memcmp(d.data, "bbbbggggrrrr", 12) == 0,
         "unknown fields of wire types 0, 1, 2, 5 are skipped (%s)", anet_error_detail());

    /* a repeated optional field: the last one wins, as in protobuf */
    uint8_t twice[sizeof caffe_raw + 2];
    memcpy(twice, caffe_raw, sizeof caffe_raw);
    twice[sizeof caffe_raw] = 0x28, twice[sizeof caffe_raw + 1] = 0x09;
    T_OK(anet_datum_decode(twice, sizeof twice, &d) == ANET_OK && d.label == 9,
         "a field given twice: the last value wins");
}

static enum anet_status decode_bytes(const uint8_t *p, size_t n)
{
    struct anet_datum d;
    return anet_datum_decode(p, n, &d);
}

static void test_refusals(void)
{
    /* float_data, unpacked (wire type 5, as proto2 writes it) and packed (wire type 2) */
    static const uint8_t unpacked[] = {0x08, 0x01, 0x10, 0x01, 0x18, 0x01,
                                       0x35, 0x00, 0x00, 0x80, 0x3F, 0x28, 0x00};
    static const uint8_t packed[] = {0x32, 0x08, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x40};
    T_OK(decode_bytes(unpacked, sizeof unpacked) == ANET_ERR_UNSUPPORTED &&
             detail_has("float_data records are not supported"),
         "float_data refused: %s", anet_error_detail());
    T_OK(decode_bytes(packed, sizeof packed) == ANET_ERR_UNSUPPORTED,
         "packed float_data refused: %s", anet_error_detail());

    static const struct { uint8_t b[16]; size_t n; const char *what, *says; } bad[] = {
        {{0x43, 0x44}, 2, "a group (wire type 3)", "wire type 3"},
        {{0x08, 0x03, 0x44}, 3, "a group end (wire type 4)", "wire type 4"},
        {{0x46, 0x00}, 2, "wire type 6", "wire type 6"},
        {{0x47, 0x00}, 2, "wire type 7", "wire type 7"},
        {{0x00, 0x00}, 2, "field number 0", "bad field number 0"},
        {{0x20, 0x05}, 2, "data as a varint", "field 4 has wire type 0, expected 2"},
        {{0x0A, 0x00}, 2, "channels as bytes", "field 1 has wire type 2, expected 0"},
        {{0x28, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 12,
         "an 11-byte varint", "longer than 10 bytes"},
        {{0x08, 0x03, 0x10, 0x02, 0x18, 0x02, 0x22, 0x03, 1, 2, 3}, 11,
         "3 data bytes for 3x2x2", "3 data bytes for a 3x2x2 image (expected 12)"},
        {{0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x10, 0x01, 0x18, 0x01, 0x22, 0x00}, 12,
         "channels -1", "negative shape -1x1x1"},
        {{0x28, 0x01}, 2, "a raw record without an image", "no image (shape 0x0x0)"},
        {{0}, 0, "an empty record", "no image"},
        {{0x22, 0x02, 0xFF, 0xD8}, 4, "an encoded record cut before field 7",
         "2 data bytes for a 0x0x0 image"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        T_OK(decode_bytes(bad[i].b, bad[i].n) == ANET_ERR_FORMAT && detail_has(bad[i].says),
             "refused: %s (%s)", bad[i].what, anet_error_detail());
}

static void test_truncation_message(void)
{
    /* a 3x256x256 record of which only the first 12 data bytes arrived */
    uint8_t rec[32] = {0x08, 0x03, 0x10, 0x80, 0x02, 0x18, 0x80, 0x02, 0x22, 0x80, 0x80, 0x0C};
    T_OK(decode_bytes(rec, 12 + 12) == ANET_ERR_FORMAT &&
             !strcmp(anet_error_detail(), "truncated Datum: field 4 needs 196608 bytes, 12 left"),
         "message: %s", anet_error_detail());
    T_OK(decode_bytes(rec, 10) == ANET_ERR_FORMAT && detail_has("truncated Datum") &&
             detail_has("field 4"),
         "a length cut short: %s", anet_error_detail());
}

/* Every prefix of a record, each in a buffer of exactly its size (so that a read past the
 * end shows up under a memory checker). Protobuf cannot tell a cut at a field boundary
 * from a shorter record: the raw record survives the cuts after its data (label 0) and
 * after its label (encoded false) and no others; the encoded record survives none. */
static void test_every_truncation(void)
{
    size_t big = 3 * 16 * 16, n;
    uint8_t *img = malloc(big);
    for (size_t i = 0; i < big; i++) img[i] = (uint8_t)i;
    struct anet_datum raw = {3, 16, 16, img, big, -7, 0};
    struct anet_datum enc = {3, 16, 16, img, big - 5, 300, 1}; /* a "JPEG" of 763 bytes */
    const struct anet_datum *recs[] = {&raw, &enc};
    for (int r = 0; r < 2; r++) {
        uint8_t *buf = encode(recs[r], &n);
        size_t data_end = 6 + 3 + big, label_end = n - 2;
        int wrong = 0;
        size_t first_wrong = 0;
        for (size_t k = 0; k < n; k++) {
            uint8_t *cut = malloc(k ? k : 1);
            memcpy(cut, buf, k);
            struct anet_datum d;
            enum anet_status s = anet_datum_decode(cut, k, &d);
            int may_pass = r == 0 && (k == data_end || k == label_end);
            int ok = may_pass ? s == ANET_OK && d.data_len == big &&
                                    d.label == (k == label_end ? -7 : 0)
                              : s == ANET_ERR_FORMAT;
            if (!ok && !wrong++) first_wrong = k;
            free(cut);
        }
        T_OK(!wrong, "%s record of %zu bytes: every truncation refused but the field "
                     "boundaries after data and label (%d wrong, first at %zu)",
             r ? "encoded" : "raw", n, wrong, first_wrong);
        free(buf);
    }
    free(img);
}

/* Random corruption must give an answer, never a crash or a read outside the record. */
static void test_corruption(void)
{
    size_t n;
    uint8_t pix[3 * 5 * 7];
    struct anet_datum in = {3, 5, 7, pix, sizeof pix, 42, 0};
    memset(pix, 1, sizeof pix);
    uint8_t *buf = encode(&in, &n);
    t_seed(7);
    int answered = 0;
    for (int trial = 0; trial < 20000; trial++) {
        uint8_t *m = malloc(n);
        memcpy(m, buf, n);
        for (int f = 0; f < 3; f++) m[(size_t)t_uniform(0, (double)n)] = (uint8_t)t_uniform(0, 256);
        struct anet_datum d;
        enum anet_status s = anet_datum_decode(m, n, &d);
        if (s == ANET_OK) answered += !d.data_len || (d.data >= m && d.data + d.data_len <= m + n);
        else answered += s == ANET_ERR_FORMAT || s == ANET_ERR_UNSUPPORTED;
        free(m);
    }
    T_OK(answered == 20000, "20000 corrupted records: each decoded in bounds or refused");
    free(buf);
}

int main(void)
{
    test_round_trips();
    test_negative_label_bytes();
    test_caffe_bytes();
    test_unknown_fields();
    test_refusals();
    test_truncation_message();
    test_every_truncation();
    test_corruption();
    return t_done();
}
