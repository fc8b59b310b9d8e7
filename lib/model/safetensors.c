/* safetensors out and in (include/alexnet/import.h):
 *
 *   u64 N (little-endian) | N bytes of JSON, padded with spaces to a multiple of 8 | data
 *
 * The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, the
 * offsets counted from the first byte after the header, and "__metadata__" to a map of
 * strings. The reader's JSON parser takes only what a header can hold (objects, arrays,
 * strings, numbers, true, false, null), nests at most 8 deep, and stays inside the N bytes
 * it was given; N itself must fit in the file and be at most 100 MB (the format's own
 * limit). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alexnet/checkpoint.h"
#include "alexnet/file.h"
#include "alexnet/import.h"

_Static_assert(sizeof(float) == 4, "safetensors F32 is IEEE 754 single precision");

#define MAX_HEADER (100u << 20)
#define MAX_DEPTH 8
#define MAX_SHAPE 8
static const char KEY_CONFIG[] = "alexnet.config", KEY_CLASSES[] = "alexnet.classes";

static int little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0 when it is not one. */
static int utf8_length(const unsigned char *s)
{
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
                         : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 2 && s[0] < 0xc2) return 0; /* overlong */
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3) {
        unsigned cp = (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
        if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    }
    if (n == 4) {
        unsigned cp = (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 |
                      (s[3] & 0x3fu);
        if (cp < 0x10000 || cp > 0x10ffff) return 0;
    }
    return n;
}

/* s as a JSON string: quotes, backslashes and control characters escaped; bytes that are
 * not UTF-8 (a Latin-1 class name) become U+FFFD, since JSON must be UTF-8. */
static void put_json_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        int n = utf8_length(p);
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else if (n) fwrite(p, 1, (size_t)n, f);
        else fputs("\\ufffd", f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

/* The header: metadata, then each parameter with its place in the data. */
static char *header_json(struct anet_model *m, const struct anet_classes *classes, size_t *len)
{
    char *text = NULL, *conf = anet_config_format(anet_model_config(m)), *clas = NULL;
    size_t n = 0, clas_len = 0;
    if (!conf) return NULL;
    if (classes && classes->count) {
        FILE *cf = open_memstream(&clas, &clas_len);
        int bad = !cf || anet_classes_write(cf, classes) != ANET_OK;
        if (cf && fclose(cf) != 0) bad = 1;
        if (bad) {
            free(conf), free(clas);
            return NULL;
        }
    }
    FILE *f = open_memstream(&text, &n);
    if (!f) {
        free(conf), free(clas);
        return NULL;
    }
    fputs("{\"__metadata__\":{\"format\":\"pt\",", f);
    fprintf(f, "\"%s\":", KEY_CONFIG);
    put_json_string(f, conf);
    if (clas) {
        fprintf(f, ",\"%s\":", KEY_CLASSES);
        put_json_string(f, clas);
    }
    fputc('}', f);
    struct anet_tensor *t;
    int count = anet_model_tensors(m, &t);
    uint64_t at = 0;
    for (int i = 0; i < count; i++) {
        fprintf(f, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", t[i].name);
        for (int k = 0; k < t[i].ndim; k++) fprintf(f, k ? ",%d" : "%d", t[i].dims[k]);
        uint64_t end = at + 4 * (uint64_t)t[i].count;
        fprintf(f, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                (unsigned long long)end);
        at = end;
    }
    fputc('}', f);
    while ((size_t)ftell(f) % 8) fputc(' ', f); /* the data starts 8-aligned */
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) free(text), text = NULL;
    free(conf), free(clas);
    *len = n;
    return text;
}

enum anet_status anet_safetensors_export(const char *path, struct anet_model *m,
                                         const struct anet_classes *classes, int overwrite)
{
    if (!little_endian())
        return anet_fail(ANET_ERR_UNSUPPORTED, "safetensors holds little-endian floats; this "
                         "host is big-endian");
    struct anet_tensor *t;
    int count = anet_model_tensors(m, &t);
    for (int i = 0; i < count; i++)
        for (size_t j = 0; j < t[i].count; j++)
            if (!isfinite(t[i].data[j]))
                return anet_fail(ANET_ERR_INVALID, "'%s' not written: %s[%zu] is %g (not finite)",
                                 path, t[i].name, j, (double)t[i].data[j]);
    size_t len = 0;
    char *head = header_json(m, classes, &len);
    if (!head) return anet_fail(ANET_ERR_NOMEM, "out of memory writing '%s'", path);
    struct anet_afile *af;
    enum anet_status s = anet_afile_open(path, overwrite, &af);
    if (s) {
        free(head);
        return s;
    }
    FILE *f = anet_afile_stream(af);
    unsigned char n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (unsigned char)((uint64_t)len >> (8 * i));
    fwrite(n8, 1, 8, f);
    fwrite(head, 1, len, f);
    free(head);
    for (int i = 0; i < count; i++) fwrite(t[i].data, sizeof(float), t[i].count, f);
    return anet_afile_commit(af); /* a failed fwrite leaves the stream error it reports */
}

/* ---- the JSON of a header ------------------------------------------------------------------ */

struct entry {
    char *name, *dtype;
    int64_t shape[MAX_SHAPE];
    int ndim, has_shape, has_offsets, has_dtype;
    uint64_t begin, end;
};

struct header {
    const char *path;
    const char *start, *p, *end; /* the header's bytes; where the parser is */
    struct entry *e;
    int count, cap;
    char *config, *classes; /* metadata values */
};

static enum anet_status bad_json(struct header *h, const char *why)
{
    return anet_fail(ANET_ERR_FORMAT, "'%s': the safetensors header is not valid: %s (at byte "
                     "%lld of the header)", h->path, why, (long long)(h->p - h->start));
}

static void skip_ws(struct header *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return 0;
        *v = *v << 4 | (unsigned)d;
    }
    return 1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A \u escape at h->p (after the backslash and u): one code point, or a surrogate pair. */
static int read_u_escape(struct header *h, unsigned *cp)
{
    if (h->end - h->p < 4 || !hex4(h->p, cp)) return 0;
    h->p += 4;
    if (*cp >= 0xdc00 && *cp <= 0xdfff) return 0;
    if (*cp < 0xd800 || *cp > 0xdbff) return 1;
    unsigned lo;
    if (h->end - h->p < 6 || h->p[0] != '\\' || h->p[1] != 'u' || !hex4(h->p + 2, &lo) ||
        lo < 0xdc00 || lo > 0xdfff)
        return 0;
    h->p += 6;
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    return 1;
}

/* A string at h->p (its opening quote): *out gets it decoded and NUL-terminated (NULL to
 * skip it). Escaped NULs are refused: no name or metadata value needs one. */
static enum anet_status read_string(struct header *h, char **out)
{
    if (out) *out = NULL;
    if (h->p >= h->end || *h->p != '"') return bad_json(h, "a string expected");
    const char *start = ++h->p;
    char *o = out ? malloc((size_t)(h->end - start) + 1) : NULL, *w = o;
    if (out && !o) return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", h->path);
    while (h->p < h->end && *h->p != '"') {
        unsigned char c = (unsigned char)*h->p++;
        if (c < 0x20) return free(o), bad_json(h, "a control character inside a string");
        if (c != '\\') {
            if (w) *w++ = (char)c;
            continue;
        }
        if (h->p >= h->end) break;
        char e = *h->p++;
        unsigned cp = 0;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            if (w) *w++ = to[simple - "\"\\/bfnrt"];
        } else if (e == 'u' && read_u_escape(h, &cp) && cp != 0) {
            if (w) w += put_utf8(w, cp);
        } else {
            return free(o), bad_json(h, "a bad escape in a string");
        }
    }
    if (h->p >= h->end) return free(o), bad_json(h, "a string runs past the end");
    h->p++;
    if (w) *w = 0, *out = o;
    return ANET_OK;
}

/* A non-negative integer below 2^53 (shape dims and offsets). */
static enum anet_status read_uint(struct header *h, uint64_t *v)
{
    *v = 0;
    if (h->p >= h->end || *h->p < '0' || *h->p > '9') return bad_json(h, "a number expected");
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
        *v = *v * 10 + (uint64_t)(*h->p++ - '0');
        if (*v >= (1ull << 53)) return bad_json(h, "a number too large");
    }
    if (h->p < h->end && (*h->p == '.' || *h->p == 'e' || *h->p == 'E'))
        return bad_json(h, "an integer expected");
    return ANET_OK;
}

static enum anet_status skip_value(struct header *h, int depth);

/* [ v, v, ... ] or { "k": v, ... }, each value handed to skip_value. */
static enum anet_status skip_container(struct header *h, int depth, char close)
{
    h->p++;
    skip_ws(h);
    if (h->p < h->end && *h->p == close) return h->p++, ANET_OK;
    for (;;) {
        enum anet_status s;
        skip_ws(h);
        if (close == '}') {
            if ((s = read_string(h, NULL))) return s;
            skip_ws(h);
            if (h->p >= h->end || *h->p++ != ':') return bad_json(h, "':' expected");
            skip_ws(h);
        }
        if ((s = skip_value(h, depth + 1))) return s;
        skip_ws(h);
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            continue;
        }
        if (h->p < h->end && *h->p == close) return h->p++, ANET_OK;
        return bad_json(h, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static enum anet_status skip_value(struct header *h, int depth)
{
    if (depth > MAX_DEPTH) return bad_json(h, "nested too deep");
    if (h->p >= h->end) return bad_json(h, "a value expected");
    char c = *h->p;
    if (c == '"') return read_string(h, NULL);
    if (c == '{') return skip_container(h, depth, '}');
    if (c == '[') return skip_container(h, depth, ']');
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(h->end - h->p) >= n && !memcmp(h->p, words[i], n)) return h->p += n, ANET_OK;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *start = h->p;
        while (h->p < h->end && *h->p && strchr("+-0123456789.eE", *h->p)) h->p++;
        return h->p > start ? ANET_OK : bad_json(h, "a number expected");
    }
    return bad_json(h, "a value expected");
}

/* [n, n, ...] of up to max non-negative integers; *n counts them. */
static enum anet_status read_uint_list(struct header *h, uint64_t *v, int max, int *n)
{
    *n = 0;
    if (h->p >= h->end || *h->p != '[') return bad_json(h, "a list expected");
    h->p++;
    skip_ws(h);
    if (h->p < h->end && *h->p == ']') return h->p++, ANET_OK;
    for (;;) {
        uint64_t x;
        skip_ws(h);
        enum anet_status s = read_uint(h, &x);
        if (s) return s;
        if (*n == max) return bad_json(h, "a list too long");
        v[(*n)++] = x;
        skip_ws(h);
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            continue;
        }
        if (h->p < h->end && *h->p == ']') return h->p++, ANET_OK;
        return bad_json(h, "',' or ']' expected");
    }
}

/* Iterates an object's members: fn gets each key (decoded) with h->p at its value. */
typedef enum anet_status (*member_fn)(struct header *h, const char *key, void *ctx);
static enum anet_status each_member(struct header *h, member_fn fn, void *ctx)
{
    skip_ws(h);
    if (h->p >= h->end || *h->p != '{') return bad_json(h, "an object expected");
    h->p++;
    skip_ws(h);
    if (h->p < h->end && *h->p == '}') return h->p++, ANET_OK;
    for (;;) {
        char *key;
        skip_ws(h);
        enum anet_status s = read_string(h, &key);
        if (s) return s;
        skip_ws(h);
        if (h->p >= h->end || *h->p++ != ':') s = bad_json(h, "':' expected");
        skip_ws(h);
        if (!s) s = fn(h, key, ctx);
        free(key);
        if (s) return s;
        skip_ws(h);
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            continue;
        }
        if (h->p < h->end && *h->p == '}') return h->p++, ANET_OK;
        return bad_json(h, "',' or '}' expected");
    }
}

static enum anet_status metadata_member(struct header *h, const char *key, void *ctx)
{
    (void)ctx;
    char **slot = !strcmp(key, KEY_CONFIG) ? &h->config : !strcmp(key, KEY_CLASSES) ? &h->classes
                                                                                    : NULL;
    if (!slot) return skip_value(h, 2);
    if (*slot) return bad_json(h, "a repeated metadata key");
    return read_string(h, slot);
}

static enum anet_status tensor_member(struct header *h, const char *key, void *ctx)
{
    struct entry *e = ctx;
    if (!strcmp(key, "dtype")) {
        if (e->has_dtype++) return bad_json(h, "a repeated dtype");
        return read_string(h, &e->dtype);
    }
    if (!strcmp(key, "shape")) {
        uint64_t v[MAX_SHAPE];
        if (e->has_shape++) return bad_json(h, "a repeated shape");
        enum anet_status s = read_uint_list(h, v, MAX_SHAPE, &e->ndim);
        for (int k = 0; !s && k < e->ndim; k++) e->shape[k] = (int64_t)v[k];
        return s;
    }
    if (!strcmp(key, "data_offsets")) {
        uint64_t v[2];
        int n;
        if (e->has_offsets++) return bad_json(h, "repeated data_offsets");
        enum anet_status s = read_uint_list(h, v, 2, &n);
        if (!s && (n != 2 || v[1] < v[0])) s = bad_json(h, "data_offsets must be [begin, end]");
        e->begin = v[0], e->end = v[1];
        return s;
    }
    return skip_value(h, 2);
}

static enum anet_status top_member(struct header *h, const char *key, void *ctx)
{
    (void)ctx;
    if (!strcmp(key, "__metadata__")) return each_member(h, metadata_member, NULL);
    for (int i = 0; i < h->count; i++)
        if (!strcmp(h->e[i].name, key)) return bad_json(h, "a tensor named twice");
    if (h->count == h->cap) {
        int cap = h->cap ? 2 * h->cap : 32;
        struct entry *e = realloc(h->e, (size_t)cap * sizeof *e);
        if (!e) return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", h->path);
        h->e = e, h->cap = cap;
    }
    struct entry *e = &h->e[h->count++];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(key))) return anet_fail(ANET_ERR_NOMEM, "out of memory");
    enum anet_status s = each_member(h, tensor_member, e);
    if (!s && (!e->has_dtype || !e->has_shape || !e->has_offsets))
        s = bad_json(h, "a tensor without dtype, shape or data_offsets");
    return s;
}

static void header_free(struct header *h)
{
    for (int i = 0; i < h->count; i++) free(h->e[i].name), free(h->e[i].dtype);
    free(h->e), free(h->config), free(h->classes);
}

/* ---- reading a file ------------------------------------------------------------------------ */

static uint64_t u64le(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

/* The header of the open file f (size bytes) into h; *data gets the offset of the data. */
static enum anet_status read_header(FILE *f, uint64_t size, struct header *h, char **text,
                                    uint64_t *data)
{
    unsigned char b[8];
    *text = NULL;
    if (size < 8 || fread(b, 1, 8, f) != 8)
        return anet_fail(ANET_ERR_FORMAT, "'%s': not a safetensors file (shorter than 8 bytes)",
                         h->path);
    uint64_t n = u64le(b);
    if (n > size - 8)
        return anet_fail(ANET_ERR_FORMAT, "'%s': not a safetensors file (a header of %llu bytes "
                         "in a file of %llu)", h->path, (unsigned long long)n,
                         (unsigned long long)size);
    if (n > MAX_HEADER || n < 2)
        return anet_fail(ANET_ERR_FORMAT, "'%s': a safetensors header of %llu bytes (2 to %u)",
                         h->path, (unsigned long long)n, MAX_HEADER);
    if (!(*text = malloc((size_t)n)))
        return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", h->path);
    if (fread(*text, 1, (size_t)n, f) != (size_t)n)
        return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", h->path,
                         ferror(f) ? strerror(errno) : "the file shrank");
    if ((*text)[0] != '{')
        return anet_fail(ANET_ERR_FORMAT, "'%s': not a safetensors file (the header is not a "
                         "JSON object)", h->path);
    h->start = h->p = *text, h->end = *text + n;
    enum anet_status s = each_member(h, top_member, NULL);
    skip_ws(h);
    if (!s && h->p != h->end) s = bad_json(h, "bytes after the object");
    *data = 8 + n;
    return s;
}

static const struct entry *find_entry(const struct header *h, const char *name)
{
    for (int i = 0; i < h->count; i++)
        if (!strcmp(h->e[i].name, name)) return &h->e[i];
    return NULL;
}

static void dims_text(const int64_t *d, int n, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < n && o < size; k++)
        o += (size_t)snprintf(buf + o, size - o, k ? "x%lld" : "%lld", (long long)d[k]);
    if (!n) snprintf(buf, size, "a scalar");
}

/* Every entry must be one of the network's parameters, F32, inside the data. */
static enum anet_status check_entries(const struct header *h, uint64_t data_bytes)
{
    static const char *const names[ANET_TENSORS] = {
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
        "conv3.bias",   "conv4.weight", "conv4.bias", "conv5.weight", "conv5.bias",
        "fc6.weight",   "fc6.bias",   "fc7.weight",   "fc7.bias",   "fc8.weight", "fc8.bias"};
    for (int i = 0; i < h->count; i++) {
        const struct entry *e = &h->e[i];
        char shown[72];
        snprintf(shown, sizeof shown, "%.64s", e->name);
        int known = 0;
        for (int k = 0; k < ANET_TENSORS; k++) known |= !strcmp(e->name, names[k]);
        if (!known)
            return anet_fail(ANET_ERR_FORMAT, "'%s': tensor '%s' is not one of this network's "
                             "(conv1.weight ... fc8.bias)", h->path, shown);
        if (strcmp(e->dtype, "F32"))
            return anet_fail(ANET_ERR_FORMAT, "'%s': tensor %s is %.16s; only F32 is read",
                             h->path, shown, e->dtype);
        if (e->end > data_bytes)
            return anet_fail(ANET_ERR_FORMAT, "'%s': tensor %s lies at bytes %llu..%llu of the "
                             "data, which has %llu (truncated file?)", h->path, shown,
                             (unsigned long long)e->begin, (unsigned long long)e->end,
                             (unsigned long long)data_bytes);
    }
    for (int k = 0; k < ANET_TENSORS; k++)
        if (!find_entry(h, names[k]))
            return anet_fail(ANET_ERR_FORMAT, "'%s': no tensor %s", h->path, names[k]);
    return ANET_OK;
}

/* The 2-D or 4-D shape of a parameter, or an error naming it. */
static enum anet_status weight_dims(const struct header *h, const char *name, int ndim,
                                    int64_t *d)
{
    const struct entry *e = find_entry(h, name);
    char got[64];
    int ok = e->ndim == ndim;
    for (int k = 0; ok && k < ndim; k++) ok = e->shape[k] >= 1 && e->shape[k] <= (1 << 24);
    if (ok) {
        memcpy(d, e->shape, (size_t)ndim * sizeof *d);
        return ANET_OK;
    }
    dims_text(e->shape, e->ndim, got, sizeof got);
    return anet_fail(ANET_ERR_FORMAT, "'%s': tensor %s is %s: %d dimensions expected", h->path,
                     name, got, ndim);
}

/* Without alexnet.config: the network the shapes describe, otherwise the paper's. */
static enum anet_status infer_config(const struct header *h, struct anet_config *c, char *how,
                                     size_t how_size)
{
    anet_config_default(c);
    static const char *const conv[5] = {"conv1.weight", "conv2.weight", "conv3.weight",
                                        "conv4.weight", "conv5.weight"};
    int64_t d[4], in = 0;
    enum anet_status s = ANET_OK;
    for (int i = 0; !s && i < 5; i++) {
        if ((s = weight_dims(h, conv[i], 4, d))) break;
        if (i == 0) c->channels = (int)d[1], in = d[1];
        if (d[1] > in || in % d[1])
            return anet_fail(ANET_ERR_FORMAT, "'%s': %s reads %lld channels a group, which do "
                             "not divide the %lld maps before it", h->path, conv[i],
                             (long long)d[1], (long long)in);
        c->conv[i] = (int)d[0], c->groups[i] = (int)(in / d[1]), in = d[0];
    }
    int64_t f6[2], f7[2], f8[2];
    if (!s) s = weight_dims(h, "fc6.weight", 2, f6);
    if (!s) s = weight_dims(h, "fc7.weight", 2, f7);
    if (!s) s = weight_dims(h, "fc8.weight", 2, f8);
    if (s) return s;
    c->fc[0] = (int)f6[0], c->fc[1] = (int)f7[0], c->classes = (int)f8[0];
    static const int towers[5] = {1, 2, 1, 2, 2};
    struct anet_config two = *c;
    two.towers = 2;
    memset(two.groups, 0, sizeof two.groups);
    if (!memcmp(c->groups, towers, sizeof towers) && anet_config_check(&two) == ANET_OK) *c = two;
    else c->towers = 1;
    /* the crop: 227 when fc6 reads conv5's maps there, else the smallest that does */
    struct anet_layer_info info[ANET_LAYERS];
    int found = 0;
    for (int crop = 0; crop <= 4096 && !found; crop++) {
        c->crop = crop ? crop : 227;
        if (anet_config_check(c) != ANET_OK) continue;
        anet_config_layers(c, info);
        found = info[5].in_c == f6[1];
    }
    if (!found)
        return anet_fail(ANET_ERR_FORMAT, "'%s': fc6 reads %lld inputs, which conv5's %d maps "
                         "give at no crop", h->path, (long long)f6[1], c->conv[4]);
    snprintf(how, how_size, "no alexnet.config in the file: the network inferred from the "
             "shapes (crop %d, %s), the paper's LRN and dropout assumed", c->crop,
             c->towers == 2 ? "two towers" : "one column");
    return ANET_OK;
}

static enum anet_status file_config(const struct header *h, struct anet_config *c, char *how,
                                    size_t how_size)
{
    if (!h->config) return infer_config(h, c, how, how_size);
    char what[4200], detail[512];
    snprintf(what, sizeof what, "%s:%s", h->path, KEY_CONFIG);
    enum anet_status s = anet_config_parse(h->config, what, c);
    if (s) return s;
    if (anet_config_check(c)) {
        snprintf(detail, sizeof detail, "%s", anet_error_detail());
        return anet_fail(ANET_ERR_FORMAT, "'%s': invalid configuration: %s", h->path, detail);
    }
    snprintf(how, how_size, "the network of its alexnet.config");
    return ANET_OK;
}

static enum anet_status file_classes(const struct header *h, int classes,
                                     struct anet_classes *out)
{
    if (!h->classes || !*h->classes) return ANET_OK;
    FILE *f = fmemopen(h->classes, strlen(h->classes), "r");
    if (!f) return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", h->path);
    char what[4200];
    snprintf(what, sizeof what, "%s:%s", h->path, KEY_CLASSES);
    enum anet_status s = anet_classes_read_stream(f, what, out);
    fclose(f);
    if (!s && out->count != classes) {
        s = anet_fail(ANET_ERR_FORMAT, "'%s': %d classes named but fc8 has %d", h->path,
                      out->count, classes);
        anet_classes_free(out);
    }
    return s;
}

/* The floats of each parameter, from where the header says, in the model's shapes. */
static enum anet_status read_tensors(FILE *f, const struct header *h, uint64_t data,
                                     struct anet_model *m)
{
    struct anet_tensor *t;
    int count = anet_model_tensors(m, &t);
    for (int i = 0; i < count; i++) {
        const struct entry *e = find_entry(h, t[i].name);
        int64_t want[4];
        char got[64], need[64];
        for (int k = 0; k < t[i].ndim; k++) want[k] = t[i].dims[k];
        int same = e->ndim == t[i].ndim && !memcmp(e->shape, want, (size_t)e->ndim * 8);
        if (!same || e->end - e->begin != 4 * (uint64_t)t[i].count) {
            dims_text(e->shape, e->ndim, got, sizeof got);
            dims_text(want, t[i].ndim, need, sizeof need);
            return anet_fail(ANET_ERR_FORMAT, "'%s': tensor %s is %s (%llu bytes); the network "
                             "needs %s", h->path, t[i].name, got,
                             (unsigned long long)(e->end - e->begin), need);
        }
        if (fseeko(f, (off_t)(data + e->begin), SEEK_SET) != 0 ||
            fread(t[i].data, sizeof(float), t[i].count, f) != t[i].count)
            return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", h->path,
                             ferror(f) ? strerror(errno) : "the file shrank");
        for (size_t j = 0; j < t[i].count; j++)
            if (!isfinite(t[i].data[j]))
                return anet_fail(ANET_ERR_FORMAT, "'%s': %s[%zu] is %g (not finite)", h->path,
                                 t[i].name, j, (double)t[i].data[j]);
    }
    return ANET_OK;
}

enum anet_status anet_safetensors_read_stream(FILE *f, uint64_t size, const char *name,
                                              struct anet_import *out)
{
    memset(out, 0, sizeof *out);
    if (!little_endian())
        return anet_fail(ANET_ERR_UNSUPPORTED, "safetensors holds little-endian floats; this "
                         "host is big-endian");
    struct header h = {.path = name};
    char *text = NULL, how[400] = "";
    uint64_t data = 0;
    enum anet_status s = read_header(f, size, &h, &text, &data);
    if (!s) s = check_entries(&h, size - data);
    struct anet_config c;
    if (!s) s = file_config(&h, &c, how, sizeof how);
    /* the configuration's parameters must be in the file before a model is made for them */
    if (!s && 4 * (uint64_t)anet_config_params(&c) > size - data)
        s = anet_fail(ANET_ERR_FORMAT, "'%s': its configuration has %zu parameters, more than "
                      "the file holds", name, anet_config_params(&c));
    if (!s) s = anet_model_create(&c, 1, &out->model);
    if (!s) s = file_classes(&h, c.classes, &out->classes);
    if (!s) s = read_tensors(f, &h, data, out->model);
    if (!s) snprintf(out->how, sizeof out->how, "%s: %s; %d classes%s", name, how, c.classes,
                     out->classes.count ? ", named" : "");
    free(text);
    header_free(&h);
    if (s) anet_import_free(out);
    return s;
}

enum anet_status anet_safetensors_import(const char *path, struct anet_import *out)
{
    memset(out, 0, sizeof *out);
    FILE *f;
    enum anet_status s = anet_file_open(path, "a safetensors file", &f);
    if (s) return s;
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        s = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    else
        s = anet_safetensors_read_stream(f, (uint64_t)st.st_size, path, out);
    fclose(f);
    return s;
}
