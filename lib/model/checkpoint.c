/* Checkpoints (include/alexnet/checkpoint.h, alexnet-files(5)): the configuration as text,
 * the class table, the training text, and every parameter and momentum tensor, streamed
 * to and from disk.
 *
 * The full network is ~61 M parameters: with momentum ~490 MB a file, so nothing here
 * holds the file in memory. Tensors go from the model's arrays to the stream and back,
 * and the CRC is computed on the same buffers as they pass. Every length read from a file
 * is checked against the file's size and a cap before anything is allocated for it, so a
 * corrupt file cannot make a reader allocate more than the file itself justifies. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alexnet/checkpoint.h"
#include "alexnet/file.h"

_Static_assert(sizeof(float) == 4, "checkpoints hold IEEE 754 single-precision floats");

static const char MAGIC[8] = {'A', 'N', 'E', 'T', 'C', 'K', 'P', 'T'};
static const char END_MAGIC[8] = {'A', 'N', 'E', 'T', 'E', 'N', 'D', '\0'};

enum {
    HEADER_BYTES = 16,   /* magic, version, sections */
    SECTION_BYTES = 16,  /* tag, reserved 0, length */
    TRAILER_BYTES = 12,  /* "ANETEND\0", CRC */
    DTYPE_F32 = 1,
    MAX_NAME = 255,      /* bytes of a tensor name */
    MAX_NDIM = 4,
};
#define MAX_TEXT (16u << 20) /* bytes of a text section (CONF, CLAS, TRAN) */

/* The sections, in the order they must appear. CONF and TENS are required. */
enum section { SEC_CONF, SEC_CLAS, SEC_TRAN, SEC_TENS, SEC_COUNT };
static const char SECTION_TAG[SEC_COUNT][5] = {"CONF", "CLAS", "TRAN", "TENS"};

/* The floats are written as they lie in memory, so the format's little-endian order
 * needs a little-endian host. Headers are encoded byte by byte and work anywhere. */
static int little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static enum anet_status refuse_big_endian(void)
{
    return anet_fail(ANET_ERR_UNSUPPORTED,
                     "checkpoints store little-endian floats; this host is big-endian");
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* ---- tensors: names and sizes ---------------------------------------------------------- */

/* The i-th tensor record of a checkpoint with `count` parameter tensors: parameters
 * first, then "momentum.<name>". */
static void record_name(struct anet_tensor *t, int count, int i, char *buf, size_t size)
{
    if (i < count) snprintf(buf, size, "%s", t[i].name);
    else snprintf(buf, size, "momentum.%s", t[i - count].name);
}

/* Bytes of one tensor record: name length, name, ndim, dims, dtype, elements, floats. */
static uint64_t record_bytes(const struct anet_tensor *t, size_t name_len)
{
    return 4 + name_len + 4 + 4 * (uint64_t)t->ndim + 4 + 8 + 4 * (uint64_t)t->count;
}

static void shape_text(const int *dims, int ndim, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < ndim && o < size; k++)
        o += (size_t)snprintf(buf + o, size - o, k ? "x%d" : "%d", dims[k]);
}

/* A name from a file, safe to print: at most 64 bytes, anything unprintable as '?'. */
static void printable(const char *s, size_t len, char *buf, size_t size)
{
    size_t n = len < size - 1 ? len : size - 1;
    if (n > 64) n = 64;
    for (size_t i = 0; i < n; i++) buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    buf[n] = 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

struct writer {
    FILE *f;
    uint32_t crc; /* of every byte written so far */
    int err;      /* the first errno of a failed write; then nothing more is written */
};

static void put_bytes(struct writer *w, const void *p, size_t n)
{
    if (w->err || n == 0) return;
    w->crc = anet_crc32(w->crc, p, n);
    errno = 0;
    if (fwrite(p, 1, n, w->f) != n) w->err = errno ? errno : EIO;
}

static void put_word(struct writer *w, uint32_t v)
{
    unsigned char b[4];
    put_u32(b, v);
    put_bytes(w, b, 4);
}

static void put_long(struct writer *w, uint64_t v)
{
    unsigned char b[8];
    put_u64(b, v);
    put_bytes(w, b, 8);
}

static void put_section_header(struct writer *w, enum section sec, uint64_t len)
{
    put_bytes(w, SECTION_TAG[sec], 4);
    put_word(w, 0);
    put_long(w, len);
}

static void put_text_section(struct writer *w, enum section sec, const char *text, size_t len)
{
    put_section_header(w, sec, len);
    put_bytes(w, text, len);
}

static void put_tensor(struct writer *w, const char *name, const struct anet_tensor *t,
                       const float *values)
{
    size_t n = strlen(name);
    put_word(w, (uint32_t)n);
    put_bytes(w, name, n);
    put_word(w, (uint32_t)t->ndim);
    for (int k = 0; k < t->ndim; k++) put_word(w, (uint32_t)t->dims[k]);
    put_word(w, DTYPE_F32);
    put_long(w, t->count);
    put_bytes(w, values, t->count * sizeof(float));
}

/* The TENS section: the parameters, then their momentum. */
static void put_tensors(struct writer *w, struct anet_tensor *t, int count)
{
    char name[MAX_NAME + 1];
    uint64_t len = 4;
    for (int i = 0; i < 2 * count; i++) {
        record_name(t, count, i, name, sizeof name);
        len += record_bytes(&t[i % count], strlen(name));
    }
    put_section_header(w, SEC_TENS, len);
    put_word(w, (uint32_t)(2 * count));
    for (int i = 0; i < 2 * count; i++) {
        record_name(t, count, i, name, sizeof name);
        const struct anet_tensor *ti = &t[i % count];
        put_tensor(w, name, ti, i < count ? ti->data : ti->momentum);
    }
}

/* The class table as classes.tsv text; none (NULL or no classes) is an empty text. */
static enum anet_status classes_text(const char *path, const struct anet_classes *classes,
                                     int model_classes, char **text, size_t *len)
{
    *text = NULL, *len = 0;
    if (!classes || classes->count == 0) return ANET_OK;
    if (classes->count != model_classes)
        return anet_fail(ANET_ERR_INVALID,
                         "'%s': the class table has %d classes but the model %d", path,
                         classes->count, model_classes);
    FILE *f = open_memstream(text, len);
    if (!f) return anet_fail(ANET_ERR_NOMEM, "out of memory writing '%s'", path);
    enum anet_status s = anet_classes_write(f, classes);
    if (fclose(f) != 0 && !s) s = anet_fail(ANET_ERR_NOMEM, "out of memory writing '%s'", path);
    if (!s && *len > MAX_TEXT)
        s = anet_fail(ANET_ERR_INVALID, "'%s': the class table is %zu bytes (at most %u)", path,
                      *len, MAX_TEXT);
    if (s) free(*text), *text = NULL, *len = 0;
    return s;
}

static void write_all(struct writer *w, struct anet_model *m, const char *conf,
                      const char *clas, size_t clas_len, const char *train)
{
    unsigned char head[HEADER_BYTES];
    memcpy(head, MAGIC, 8);
    put_u32(head + 8, ANET_CKPT_VERSION);
    put_u32(head + 12, train ? 4 : 3);
    put_bytes(w, head, sizeof head);
    put_text_section(w, SEC_CONF, conf, strlen(conf));
    put_text_section(w, SEC_CLAS, clas, clas_len);
    if (train) put_text_section(w, SEC_TRAN, train, strlen(train));
    struct anet_tensor *t;
    int count = anet_model_tensors(m, &t);
    put_tensors(w, t, count);
    uint32_t crc = w->crc;
    unsigned char tail[TRAILER_BYTES];
    memcpy(tail, END_MAGIC, 8);
    put_u32(tail + 8, crc);
    put_bytes(w, tail, sizeof tail);
}

/* The index of the first value of x[0..n) that is not finite, or n. A float is NaN or
 * infinite when its exponent bits are all ones; the largest exponent of a block is an
 * integer maximum, which the compiler vectorises (a float sum would have to go in order):
 * the 122 M floats of the paper's network and its momentum take 0.04 s (BENCHMARKS.md). */
static size_t first_non_finite(const float *x, size_t n)
{
    enum { BLOCK = 4096 };
    const uint32_t EXPONENT = 0x7f800000u;
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t e = n - b < BLOCK ? n : b + BLOCK;
        uint32_t top = 0;
        for (size_t i = b; i < e; i++) {
            uint32_t u;
            memcpy(&u, x + i, sizeof u);
            u &= EXPONENT;
            top = u > top ? u : top;
        }
        if (top != EXPONENT) continue;
        for (size_t i = b; i < e; i++)
            if (!isfinite(x[i])) return i;
    }
    return n;
}

/* A model that diverged is never saved: every parameter and momentum must be finite. */
static enum anet_status check_finite(const char *path, struct anet_model *m)
{
    struct anet_tensor *t;
    int count = anet_model_tensors(m, &t);
    for (int i = 0; i < 2 * count; i++) {
        const struct anet_tensor *ti = &t[i % count];
        const float *x = i < count ? ti->data : ti->momentum;
        size_t at = x ? first_non_finite(x, ti->count) : ti->count;
        if (at < ti->count)
            return anet_fail(ANET_ERR_INVALID,
                             "'%s' not written: %s%s[%zu] is %g (a model with a value that is "
                             "not finite is never saved: the training diverged)",
                             path, i < count ? "" : "momentum.", ti->name, at, (double)x[at]);
    }
    return ANET_OK;
}

enum anet_status anet_ckpt_save(const char *path, struct anet_model *m,
                                const struct anet_classes *classes, const char *train,
                                int overwrite)
{
    if (!little_endian()) return refuse_big_endian();
    if (!m) return anet_fail(ANET_ERR_INVALID, "'%s': no model to save", path);
    enum anet_status pulled = anet_model_pull(m); /* a GPU model's tensors to the host */
    if (pulled) return pulled;
    if ((pulled = check_finite(path, m))) return pulled;
    if (train && strlen(train) > MAX_TEXT)
        return anet_fail(ANET_ERR_INVALID, "'%s': the training text is %zu bytes (at most %u)",
                         path, strlen(train), MAX_TEXT);
    char *clas;
    size_t clas_len;
    enum anet_status s = classes_text(path, classes, anet_model_config(m)->classes, &clas,
                                      &clas_len);
    if (s) return s;
    char *conf = anet_config_format(anet_model_config(m));
    if (!conf) {
        free(clas);
        return anet_fail(ANET_ERR_NOMEM, "out of memory writing '%s'", path);
    }
    struct anet_afile *af;
    s = anet_afile_open(path, overwrite, &af);
    if (!s) {
        struct writer w = {anet_afile_stream(af), 0, 0};
        write_all(&w, m, conf, clas ? clas : "", clas_len, train);
        if (w.err) {
            anet_afile_abort(af);
            s = anet_fail(ANET_ERR_IO, "cannot write '%s': %s", path, strerror(w.err));
        } else {
            s = anet_afile_commit(af);
        }
    }
    free(conf);
    free(clas);
    return s;
}

/* ---- reading ---------------------------------------------------------------------------- */

struct reader {
    FILE *f;
    const char *path;
    uint64_t pos, size; /* offset of the next byte; the file's size */
    uint32_t crc;       /* of every byte read so far */
    int peek;           /* skip the tensors and the CRC */
};

static enum anet_status truncated(const struct reader *r, const char *where)
{
    return anet_fail(ANET_ERR_FORMAT,
                     "'%s': truncated checkpoint (%s at offset %llu; the file ends at %llu)",
                     r->path, where, (unsigned long long)r->pos,
                     (unsigned long long)r->size);
}

static enum anet_status get_bytes(struct reader *r, void *buf, size_t n, const char *where)
{
    if (n == 0) return ANET_OK;
    size_t got = fread(buf, 1, n, r->f);
    if (got != n) {
        if (ferror(r->f))
            return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", r->path, strerror(errno));
        return truncated(r, where);
    }
    r->crc = anet_crc32(r->crc, buf, n);
    r->pos += n;
    return ANET_OK;
}

static enum anet_status skip_bytes(struct reader *r, uint64_t n)
{
    if (fseeko(r->f, (off_t)n, SEEK_CUR) != 0)
        return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", r->path, strerror(errno));
    r->pos += n;
    return ANET_OK;
}

static enum anet_status read_header(struct reader *r, uint32_t *sections)
{
    unsigned char h[HEADER_BYTES];
    size_t got = fread(h, 1, sizeof h, r->f);
    if (ferror(r->f))
        return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", r->path, strerror(errno));
    if (got == 0)
        return anet_fail(ANET_ERR_FORMAT, "'%s': not an alexnet checkpoint (the file is empty)",
                         r->path);
    if (memcmp(h, MAGIC, got < 8 ? got : 8))
        return anet_fail(ANET_ERR_FORMAT, "'%s': not an alexnet checkpoint", r->path);
    if (got < 12) return truncated(r, "the header");
    uint32_t version = get_u32(h + 8);
    if (version != ANET_CKPT_VERSION)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': checkpoint format version %u is not supported (this build "
                         "reads version %d)",
                         r->path, version, ANET_CKPT_VERSION);
    if (got < HEADER_BYTES) return truncated(r, "the header");
    r->crc = anet_crc32(0, h, sizeof h);
    r->pos = HEADER_BYTES;
    *sections = get_u32(h + 12);
    if (*sections < 2 || *sections > SEC_COUNT)
        return anet_fail(ANET_ERR_FORMAT, "'%s': %u sections (a checkpoint has 2 to %d)",
                         r->path, *sections, SEC_COUNT);
    return ANET_OK;
}

/* A section header: its tag (one of ours, after the previous one), reserved 0, and a
 * length that fits between here and the trailer. */
static enum anet_status read_section_header(struct reader *r, int previous, enum section *sec,
                                            uint64_t *len)
{
    unsigned char h[SECTION_BYTES];
    uint64_t at = r->pos;
    enum anet_status s = get_bytes(r, h, sizeof h, "a section header");
    if (s) return s;
    char tag[8];
    printable((const char *)h, 4, tag, sizeof tag);
    int found = -1;
    for (int i = 0; i < SEC_COUNT; i++)
        if (!memcmp(h, SECTION_TAG[i], 4)) found = i;
    if (found < 0)
        return anet_fail(ANET_ERR_FORMAT, "'%s': unknown section '%s' at offset %llu", r->path,
                         tag, (unsigned long long)at);
    if (found <= previous)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': section %s at offset %llu is repeated or out of order "
                         "(the order is CONF, CLAS, TRAN, TENS)",
                         r->path, tag, (unsigned long long)at);
    if (get_u32(h + 4) != 0)
        return anet_fail(ANET_ERR_FORMAT, "'%s': section %s: reserved field is %u, not 0",
                         r->path, tag, get_u32(h + 4));
    *len = get_u64(h + 8);
    uint64_t room = r->size >= r->pos + TRAILER_BYTES ? r->size - r->pos - TRAILER_BYTES : 0;
    if (*len > room) {
        char where[96];
        snprintf(where, sizeof where, "section %s of %llu bytes", tag,
                 (unsigned long long)*len);
        return truncated(r, where);
    }
    *sec = (enum section)found;
    return ANET_OK;
}

/* A text section, NUL-terminated, into a new buffer. */
static enum anet_status read_text(struct reader *r, enum section sec, uint64_t len, char **out)
{
    *out = NULL;
    if (len > MAX_TEXT)
        return anet_fail(ANET_ERR_FORMAT, "'%s': section %s is %llu bytes (at most %u)",
                         r->path, SECTION_TAG[sec], (unsigned long long)len, MAX_TEXT);
    char *text = malloc((size_t)len + 1);
    if (!text) return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", r->path);
    char where[32];
    snprintf(where, sizeof where, "section %s", SECTION_TAG[sec]);
    enum anet_status s = get_bytes(r, text, (size_t)len, where);
    text[len] = 0;
    if (!s && strlen(text) != len)
        s = anet_fail(ANET_ERR_FORMAT, "'%s': section %s holds a NUL byte: not text", r->path,
                      SECTION_TAG[sec]);
    if (s) free(text);
    else *out = text;
    return s;
}

static enum anet_status read_conf(struct reader *r, uint64_t len, struct anet_config *c)
{
    char *text, what[4200];
    enum anet_status s = read_text(r, SEC_CONF, len, &text);
    if (s) return s;
    snprintf(what, sizeof what, "%s:CONF", r->path);
    s = anet_config_parse(text, what, c);
    free(text);
    if (s) return s;
    if ((s = anet_config_check(c)) || (s = anet_config_check_limits(c))) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", anet_error_detail());
        return anet_fail(ANET_ERR_FORMAT, "'%s': invalid configuration: %s", r->path, detail);
    }
    return ANET_OK;
}

static enum anet_status read_classes(struct reader *r, uint64_t len, int config_classes,
                                     struct anet_classes *out)
{
    char *text, what[4200];
    enum anet_status s = read_text(r, SEC_CLAS, len, &text);
    if (s || len == 0) {
        free(text);
        return s;
    }
    FILE *f = fmemopen(text, (size_t)len, "r");
    if (!f) {
        free(text);
        return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", r->path);
    }
    snprintf(what, sizeof what, "%s:CLAS", r->path);
    s = anet_classes_read_stream(f, what, out);
    fclose(f);
    free(text);
    if (!s && out->count && out->count != config_classes) {
        s = anet_fail(ANET_ERR_FORMAT,
                      "'%s': the class table has %d classes but the configuration %d",
                      r->path, out->count, config_classes);
        anet_classes_free(out);
    }
    return s;
}

/* Reads from the TENS section, which has *left bytes still unread. */
static enum anet_status get_in_section(struct reader *r, uint64_t *left, void *buf, size_t n,
                                       const char *where)
{
    if (n > *left)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': %s at offset %llu runs past the end of the TENS section",
                         r->path, where, (unsigned long long)r->pos);
    *left -= n;
    return get_bytes(r, buf, n, where);
}

/* A record's name length and name, which must be `expect`. */
static enum anet_status read_tensor_name(struct reader *r, uint64_t *left, const char *expect,
                                         const char *where)
{
    unsigned char b[4];
    char name[MAX_NAME + 1], shown[72];
    enum anet_status s = get_in_section(r, left, b, 4, where);
    if (s) return s;
    uint32_t n = get_u32(b);
    if (n == 0 || n > MAX_NAME)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': where tensor %s should be, a name of %u bytes (1 to %d)",
                         r->path, expect, n, MAX_NAME);
    if ((s = get_in_section(r, left, name, n, where))) return s;
    if (strlen(expect) == n && !memcmp(name, expect, n)) return ANET_OK;
    printable(name, n, shown, sizeof shown);
    return anet_fail(ANET_ERR_FORMAT, "'%s': found tensor '%s' where %s should be", r->path,
                     shown, expect);
}

/* A record's ndim and dims, which must be t's. */
static enum anet_status read_tensor_shape(struct reader *r, uint64_t *left, const char *expect,
                                          const struct anet_tensor *t, const char *where)
{
    unsigned char b[4];
    enum anet_status s = get_in_section(r, left, b, 4, where);
    if (s) return s;
    uint32_t ndim = get_u32(b);
    if (ndim < 1 || ndim > MAX_NDIM)
        return anet_fail(ANET_ERR_FORMAT, "'%s': tensor %s has %u dimensions (1 to %d)",
                         r->path, expect, ndim, MAX_NDIM);
    int dims[MAX_NDIM], same = (int)ndim == t->ndim;
    for (uint32_t k = 0; k < ndim; k++) {
        if ((s = get_in_section(r, left, b, 4, where))) return s;
        uint32_t d = get_u32(b);
        dims[k] = d > 0x7fffffffu ? -1 : (int)d;
        same = same && dims[k] == t->dims[k];
    }
    if (same) return ANET_OK;
    char want[64], got[64];
    shape_text(t->dims, t->ndim, want, sizeof want);
    shape_text(dims, (int)ndim, got, sizeof got);
    return anet_fail(ANET_ERR_FORMAT,
                     "'%s': tensor %s has shape %s but the configuration needs %s", r->path,
                     expect, got, want);
}

/* A tensor record's header, checked against t (named `expect` in the file): name, shape,
 * dtype and element count. */
static enum anet_status read_tensor_header(struct reader *r, uint64_t *left, const char *expect,
                                           const struct anet_tensor *t, const char *where)
{
    unsigned char b[8];
    enum anet_status s = read_tensor_name(r, left, expect, where);
    if (!s) s = read_tensor_shape(r, left, expect, t, where);
    if (!s) s = get_in_section(r, left, b, 4, where);
    if (s) return s;
    if (get_u32(b) != DTYPE_F32)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': tensor %s has dtype %u (only 1, f32, is known)", r->path,
                         expect, get_u32(b));
    if ((s = get_in_section(r, left, b, 8, where))) return s;
    if (get_u64(b) != t->count)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': tensor %s says %llu elements; its shape has %zu", r->path,
                         expect, (unsigned long long)get_u64(b), t->count);
    return ANET_OK;
}

/* One tensor record, checked against the model's tensor t (named `expect` in the file),
 * its floats read straight into dst (t->count floats). */
static enum anet_status read_tensor(struct reader *r, uint64_t *left, const char *expect,
                                    const struct anet_tensor *t, float *dst)
{
    char where[MAX_NAME + 32];
    snprintf(where, sizeof where, "tensor %s", expect);
    enum anet_status s = read_tensor_header(r, left, expect, t, where);
    return s ? s : get_in_section(r, left, dst, t->count * sizeof(float), where);
}

/* The tensors a configuration makes, without making them: names, shapes and sizes, as the
 * model lays them out (a weight and a bias a layer: conv out x in/groups x k x k, fc out x
 * in, bias out). */
static void config_tensors(const struct anet_config *c, struct anet_tensor t[ANET_TENSORS],
                           char names[ANET_TENSORS][16])
{
    struct anet_layer_info L[ANET_LAYERS];
    anet_config_layers(c, L);
    memset(t, 0, ANET_TENSORS * sizeof *t);
    for (int l = 0; l < ANET_LAYERS; l++) {
        struct anet_tensor *w = &t[2 * l], *b = &t[2 * l + 1];
        snprintf(names[2 * l], 16, "%.7s.weight", L[l].name);
        snprintf(names[2 * l + 1], 16, "%.7s.bias", L[l].name);
        w->name = names[2 * l], b->name = names[2 * l + 1];
        if (L[l].is_conv) {
            w->ndim = 4;
            w->dims[0] = L[l].out_c, w->dims[1] = L[l].in_c / L[l].groups;
            w->dims[2] = L[l].kh, w->dims[3] = L[l].kw;
        } else {
            w->ndim = 2;
            w->dims[0] = L[l].out_c, w->dims[1] = L[l].in_c;
        }
        w->count = L[l].weights;
        b->ndim = 1, b->dims[0] = L[l].out_c, b->count = L[l].biases;
    }
}

/* Every record of the section checked against the configuration before anything is
 * allocated for it (the floats skipped); then the reader is put back where it was, CRC and
 * all, for the pass that reads them. So a file cannot make the reader allocate a model
 * (and the activations of its batch) that its own bytes do not hold. */
static enum anet_status survey_tensors(struct reader *r, uint64_t left, uint32_t records,
                                       const struct anet_config *c)
{
    struct anet_tensor t[ANET_TENSORS];
    char names[ANET_TENSORS][16], name[MAX_NAME + 1], where[MAX_NAME + 32];
    config_tensors(c, t, names);
    const uint64_t pos = r->pos;
    const uint32_t crc = r->crc;
    off_t start = ftello(r->f);
    enum anet_status s = start < 0 ? anet_fail(ANET_ERR_IO, "cannot read '%s': %s", r->path,
                                               strerror(errno))
                                   : ANET_OK;
    for (uint32_t i = 0; i < records && !s; i++) {
        record_name(t, ANET_TENSORS, (int)i, name, sizeof name);
        snprintf(where, sizeof where, "tensor %s", name);
        const struct anet_tensor *ti = &t[i % ANET_TENSORS];
        s = read_tensor_header(r, &left, name, ti, where);
        uint64_t n = 4 * (uint64_t)ti->count;
        if (!s && n > left)
            s = anet_fail(ANET_ERR_FORMAT,
                          "'%s': %s at offset %llu runs past the end of the TENS section",
                          r->path, where, (unsigned long long)r->pos);
        if (!s) left -= n, s = skip_bytes(r, n);
    }
    if (!s && left)
        s = anet_fail(ANET_ERR_FORMAT, "'%s': %llu unused bytes at the end of the TENS section",
                      r->path, (unsigned long long)left);
    if (start >= 0 && fseeko(r->f, start, SEEK_SET) != 0 && !s)
        s = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", r->path, strerror(errno));
    r->pos = pos, r->crc = crc;
    return s;
}

/* The TENS section into a new model made from the configuration. */
static enum anet_status read_tensors(struct reader *r, uint64_t len, int max_batch,
                                     struct anet_ckpt *out)
{
    /* The model is allocated before its tensors are read, so first make sure the
     * configuration's parameters can be in this section: a corrupt CONF cannot make the
     * reader allocate more than the file justifies. */
    uint64_t param_bytes = 4 * (uint64_t)anet_config_params(&out->config);
    if (param_bytes > len)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': the configuration has %llu parameters (%llu bytes) but the "
                         "TENS section only %llu bytes: the tensors are not this "
                         "configuration's",
                         r->path, (unsigned long long)(param_bytes / 4),
                         (unsigned long long)param_bytes, (unsigned long long)len);
    uint64_t left = len;
    unsigned char b[4];
    enum anet_status s = get_in_section(r, &left, b, 4, "the tensor count");
    if (s) return s;
    uint32_t records = get_u32(b);
    if (records != ANET_TENSORS && records != 2 * ANET_TENSORS)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': %u tensors (expected %d parameters, or %d with momentum)",
                         r->path, records, ANET_TENSORS, 2 * ANET_TENSORS);
    out->has_momentum = records == 2 * ANET_TENSORS;
    if (r->peek) return skip_bytes(r, left);
    if ((s = survey_tensors(r, left, records, &out->config))) return s;
    if ((s = anet_model_create(&out->config, max_batch, &out->model))) return s;
    struct anet_tensor *t;
    int count = anet_model_tensors(out->model, &t);
    char name[MAX_NAME + 1];
    for (int i = 0; !s && i < (int)records; i++) {
        record_name(t, count, i, name, sizeof name);
        const struct anet_tensor *ti = &t[i % count];
        s = read_tensor(r, &left, name, ti, i < count ? ti->data : ti->momentum);
    }
    if (!s && left)
        s = anet_fail(ANET_ERR_FORMAT, "'%s': %llu unused bytes at the end of the TENS section",
                      r->path, (unsigned long long)left);
    return s;
}

/* The trailer: the end marker, the CRC of everything before it (unless peeking), and the
 * end of the file. */
static enum anet_status read_trailer(struct reader *r)
{
    uint32_t crc = r->crc;
    unsigned char t[TRAILER_BYTES];
    enum anet_status s = get_bytes(r, t, sizeof t, "the end marker");
    if (s) return s;
    if (memcmp(t, END_MAGIC, 8))
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': no end marker after the last section (offset %llu): corrupt "
                         "checkpoint",
                         r->path, (unsigned long long)(r->pos - TRAILER_BYTES));
    if (!r->peek && get_u32(t + 8) != crc)
        return anet_fail(ANET_ERR_FORMAT, "'%s': checksum mismatch (file corrupt)", r->path);
    if (r->pos != r->size)
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': %llu bytes of trailing data after the end marker", r->path,
                         (unsigned long long)(r->size - r->pos));
    return ANET_OK;
}

static enum anet_status read_sections(struct reader *r, uint32_t sections, int max_batch,
                                      struct anet_ckpt *out)
{
    int previous = -1, have_conf = 0, have_tens = 0;
    enum anet_status s = ANET_OK;
    for (uint32_t i = 0; !s && i < sections; i++) {
        enum section sec = SEC_COUNT;
        uint64_t len = 0;
        if ((s = read_section_header(r, previous, &sec, &len))) break;
        previous = (int)sec;
        if (sec != SEC_CONF && !have_conf)
            return anet_fail(ANET_ERR_FORMAT, "'%s': section %s before the CONF section",
                             r->path, SECTION_TAG[sec]);
        switch (sec) {
        case SEC_CONF: s = read_conf(r, len, &out->config), have_conf = 1; break;
        case SEC_CLAS: s = read_classes(r, len, out->config.classes, &out->classes); break;
        case SEC_TRAN: s = read_text(r, SEC_TRAN, len, &out->train); break;
        case SEC_TENS: s = read_tensors(r, len, max_batch, out), have_tens = 1; break;
        case SEC_COUNT: s = anet_fail(ANET_ERR_INTERNAL, "unhandled section"); break;
        }
    }
    if (!s && !have_tens)
        s = anet_fail(ANET_ERR_FORMAT, "'%s': no TENS section (the tensors)", r->path);
    return s;
}

static enum anet_status read_ckpt(const char *path, int max_batch, int peek,
                                  struct anet_ckpt *out)
{
    memset(out, 0, sizeof *out);
    if (!peek && !little_endian()) return refuse_big_endian();
    struct reader r = {.path = path, .peek = peek};
    enum anet_status s = anet_file_open(path, "an alexnet checkpoint", &r.f);
    if (s) return s;
    struct stat st;
    if (fstat(fileno(r.f), &st) != 0)
        s = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    else
        r.size = (uint64_t)st.st_size;
    uint32_t sections = 0;
    if (!s) s = read_header(&r, &sections);
    if (!s) s = read_sections(&r, sections, max_batch, out);
    if (!s) s = read_trailer(&r);
    fclose(r.f);
    if (s) anet_ckpt_free(out);
    return s;
}

enum anet_status anet_ckpt_load(const char *path, int max_batch, struct anet_ckpt *out)
{
    return read_ckpt(path, max_batch, 0, out);
}

enum anet_status anet_ckpt_peek(const char *path, struct anet_ckpt *out)
{
    return read_ckpt(path, 1, 1, out);
}

void anet_ckpt_free(struct anet_ckpt *c)
{
    anet_classes_free(&c->classes);
    free(c->train);
    anet_model_free(c->model);
    memset(c, 0, sizeof *c);
}
