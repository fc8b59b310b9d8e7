/* NumPy .npy matrices of float32 (include/alexnet/features.h): written atomically with a
 * fixed 128-byte preamble patched at the end, read by parsing the header's dict literal and
 * pread-ing rows, so a matrix of 1.28 M x 4096 (21 GB) never has to fit in memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alexnet/features.h"
#include "alexnet/file.h"

static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
enum { PREAMBLE = 128, MAX_HEADER = 1 << 20 };

static int little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---- writing -------------------------------------------------------------------------------- */

struct anet_npy_writer {
    struct anet_afile *af;
    uint64_t cols, rows;
    char *path;
};

/* The 128 bytes before the data: magic, version 1.0, header length, the dict, spaces, '\n'. */
static void preamble(char out[PREAMBLE], uint64_t rows, uint64_t cols)
{
    char dict[PREAMBLE];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(%llu, %llu), }", (unsigned long long)rows, (unsigned long long)cols);
    memcpy(out, MAGIC, 6);
    out[6] = 1, out[7] = 0;
    uint16_t len = PREAMBLE - 10;
    out[8] = (char)(len & 0xff), out[9] = (char)(len >> 8);
    memset(out + 10, ' ', len);
    memcpy(out + 10, dict, (size_t)n);
    out[PREAMBLE - 1] = '\n';
}

enum anet_status anet_npy_create(const char *path, uint64_t cols, int overwrite,
                                 struct anet_npy_writer **out)
{
    *out = NULL;
    if (!little_endian())
        return anet_fail(ANET_ERR_UNSUPPORTED, "'%s': .npy '<f4' data needs a little-endian "
                         "host", path);
    if (cols < 1 || cols > (1ull << 40))
        return anet_fail(ANET_ERR_INVALID, "'%s': %llu columns", path, (unsigned long long)cols);
    struct anet_npy_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    w->cols = cols;
    enum anet_status s = anet_afile_open(path, overwrite, &w->af);
    char head[PREAMBLE];
    preamble(head, 0, cols);
    if (!s) fwrite(head, 1, sizeof head, anet_afile_stream(w->af));
    if (s) {
        free(w->path), free(w);
        return s;
    }
    *out = w;
    return ANET_OK;
}

enum anet_status anet_npy_append(struct anet_npy_writer *w, const float *rows, uint64_t count)
{
    FILE *f = anet_afile_stream(w->af);
    size_t n = (size_t)(count * w->cols);
    if (fwrite(rows, sizeof *rows, n, f) != n)
        return anet_fail(ANET_ERR_IO, "cannot write '%s': %s", w->path, strerror(errno));
    w->rows += count;
    return ANET_OK;
}

enum anet_status anet_npy_finish(struct anet_npy_writer *w)
{
    FILE *f = anet_afile_stream(w->af);
    char head[PREAMBLE];
    preamble(head, w->rows, w->cols);
    enum anet_status s = ANET_OK;
    if (fseeko(f, 0, SEEK_SET) != 0 || fwrite(head, 1, sizeof head, f) != sizeof head)
        s = anet_fail(ANET_ERR_IO, "cannot write '%s': %s", w->path, strerror(errno));
    if (s) anet_afile_abort(w->af);
    else s = anet_afile_commit(w->af);
    free(w->path), free(w);
    return s;
}

void anet_npy_abort(struct anet_npy_writer *w)
{
    if (!w) return;
    anet_afile_abort(w->af);
    free(w->path), free(w);
}

/* ---- reading the header -------------------------------------------------------------------- */

struct dict {
    const char *p, *end, *path;
    int have_descr, have_order, have_shape;
    uint64_t dims[2];
    int ndims;
};

static enum anet_status bad_header(const struct dict *d, const char *why)
{
    return anet_fail(ANET_ERR_FORMAT, "'%s': not a .npy file this reads: %s", d->path, why);
}

static void skip_space(struct dict *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
        d->p++;
}

/* A quoted string ('...' or "..."): *s and *n span its text. No escapes are needed here. */
static int quoted(struct dict *d, const char **s, size_t *n)
{
    if (d->p >= d->end || (*d->p != '\'' && *d->p != '"')) return 0;
    char q = *d->p++;
    *s = d->p;
    while (d->p < d->end && *d->p != q && *d->p != '\\') d->p++;
    if (d->p >= d->end || *d->p != q) return 0;
    *n = (size_t)(d->p - *s);
    d->p++;
    return 1;
}

static int word(struct dict *d, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, w, n)) return 0;
    d->p += n;
    return 1;
}

/* (a, b) or (a,) or (): at most two dimensions below 2^40. */
static enum anet_status shape_tuple(struct dict *d)
{
    if (d->p >= d->end || *d->p++ != '(') return bad_header(d, "'shape' is not a tuple");
    d->ndims = 0;
    for (;;) {
        skip_space(d);
        if (d->p < d->end && *d->p == ')') return d->p++, ANET_OK;
        if (d->p >= d->end || *d->p < '0' || *d->p > '9')
            return bad_header(d, "'shape' holds something other than sizes");
        uint64_t v = 0;
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
            v = v * 10 + (uint64_t)(*d->p++ - '0');
            if (v >= (1ull << 40)) return bad_header(d, "a dimension too large");
        }
        if (d->ndims == 2) return bad_header(d, "more than 2 dimensions (a matrix expected)");
        d->dims[d->ndims++] = v;
        skip_space(d);
        if (d->p < d->end && *d->p == ',') d->p++;
        else if (d->p >= d->end || *d->p != ')') return bad_header(d, "'shape' is not a tuple");
    }
}

static enum anet_status dict_entry(struct dict *d)
{
    const char *k, *v;
    size_t kn, vn;
    if (!quoted(d, &k, &kn)) return bad_header(d, "a quoted key expected");
    skip_space(d);
    if (d->p >= d->end || *d->p++ != ':') return bad_header(d, "':' expected");
    skip_space(d);
    if (kn == 5 && !memcmp(k, "descr", 5)) {
        if (d->have_descr++ || !quoted(d, &v, &vn)) return bad_header(d, "a bad 'descr'");
        if (!(vn == 3 && !memcmp(v, "<f4", 3)))
            return anet_fail(ANET_ERR_FORMAT, "'%s': dtype '%.*s'; float32 ('<f4') expected",
                             d->path, (int)(vn < 16 ? vn : 16), v);
        return ANET_OK;
    }
    if (kn == 13 && !memcmp(k, "fortran_order", 13)) {
        if (d->have_order++) return bad_header(d, "a repeated 'fortran_order'");
        if (word(d, "False")) return ANET_OK;
        if (word(d, "True"))
            return anet_fail(ANET_ERR_FORMAT, "'%s': Fortran (column-major) order; rows "
                             "expected (numpy.ascontiguousarray before saving)", d->path);
        return bad_header(d, "a bad 'fortran_order'");
    }
    if (kn == 5 && !memcmp(k, "shape", 5)) {
        if (d->have_shape++) return bad_header(d, "a repeated 'shape'");
        return shape_tuple(d);
    }
    return bad_header(d, "an unknown key");
}

static enum anet_status parse_dict(struct dict *d)
{
    skip_space(d);
    if (d->p >= d->end || *d->p++ != '{') return bad_header(d, "the header is not a dict");
    for (;;) {
        skip_space(d);
        if (d->p < d->end && *d->p == '}') break;
        enum anet_status s = dict_entry(d);
        if (s) return s;
        skip_space(d);
        if (d->p < d->end && *d->p == ',') d->p++;
        else if (d->p >= d->end || *d->p != '}') return bad_header(d, "',' or '}' expected");
    }
    d->p++;
    skip_space(d);
    if (d->p != d->end) return bad_header(d, "bytes after the dict");
    if (!d->have_descr || !d->have_order || !d->have_shape)
        return bad_header(d, "'descr', 'fortran_order' or 'shape' missing");
    return ANET_OK;
}

/* ---- reading -------------------------------------------------------------------------------- */

static enum anet_status read_exact(int fd, void *buf, size_t n, uint64_t at, const char *path)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(at + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
        if (r == 0) return anet_fail(ANET_ERR_IO, "cannot read '%s': the file shrank", path);
        got += (size_t)r;
    }
    return ANET_OK;
}

/* The header's length and where it starts (*at), from the preamble: the first 10 or 12 of
 * a file's `size` bytes, `len` of them in b. */
static enum anet_status preamble_of(const uint8_t *b, size_t len, uint64_t size,
                                    const char *path, uint64_t *at, uint64_t *hlen)
{
    int wide = len > 6 && (b[6] == 2 || b[6] == 3); /* a u32 length: 12 bytes */
    if (size < 10 || (len >= 10 && wide && size < 12))
        return anet_fail(ANET_ERR_FORMAT, "'%s': not a .npy file (%llu bytes)", path,
                         (unsigned long long)size);
    if (len < 10 || (wide && len < 12))
        return anet_fail(ANET_ERR_FORMAT, "'%s': a .npy preamble cut short (%zu bytes given)",
                         path, len);
    if (memcmp(b, MAGIC, 6))
        return anet_fail(ANET_ERR_FORMAT, "'%s': not a .npy file (no \\x93NUMPY magic)", path);
    if (b[6] == 1) {
        *hlen = (uint64_t)b[8] | (uint64_t)b[9] << 8;
        *at = 10;
    } else if (wide) {
        *hlen = (uint64_t)b[8] | (uint64_t)b[9] << 8 | (uint64_t)b[10] << 16 |
                (uint64_t)b[11] << 24;
        *at = 12;
    } else {
        return anet_fail(ANET_ERR_FORMAT, "'%s': .npy format version %d.%d is not known",
                         path, b[6], b[7]);
    }
    if (*hlen > size - *at || *hlen > MAX_HEADER)
        return anet_fail(ANET_ERR_FORMAT, "'%s': a .npy header of %llu bytes in a file of %llu",
                         path, (unsigned long long)*hlen, (unsigned long long)size);
    return ANET_OK;
}

enum anet_status anet_npy_header(const uint8_t *head, size_t len, uint64_t size,
                                 const char *path, struct anet_npy *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    uint64_t at = 0, hlen = 0;
    enum anet_status s = preamble_of(head, len, size, path, &at, &hlen);
    if (s) return s;
    if (at + hlen > len)
        return anet_fail(ANET_ERR_FORMAT, "'%s': a .npy header of %llu bytes; %zu given",
                         path, (unsigned long long)hlen, len);
    struct dict d = {.p = (const char *)head + at, .end = (const char *)head + at + hlen,
                     .path = path};
    if ((s = parse_dict(&d))) return s;
    out->offset = at + hlen;
    out->rows = d.ndims > 0 ? d.dims[0] : 1;
    out->cols = d.ndims > 1 ? d.dims[1] : 1;
    uint64_t bytes = 0; /* rows x cols x 4, when it fits 64 bits */
    int overflow = __builtin_mul_overflow(out->rows, out->cols, &bytes) ||
                   __builtin_mul_overflow(bytes, (uint64_t)4, &bytes);
    if (out->cols == 0 || overflow || size - out->offset != bytes)
        return anet_fail(ANET_ERR_FORMAT, "'%s': a %llu x %llu float32 matrix needs %llu bytes "
                         "after the header; the file has %llu", path,
                         (unsigned long long)out->rows, (unsigned long long)out->cols,
                         (unsigned long long)bytes, (unsigned long long)(size - out->offset));
    return ANET_OK;
}

/* The preamble first, for the header's length, then the preamble and the header whole. */
static enum anet_status open_npy(struct anet_npy *f, uint64_t size)
{
    uint8_t pre[12];
    size_t n = size < sizeof pre ? (size_t)size : sizeof pre;
    uint64_t at = 0, hlen = 0;
    enum anet_status s = read_exact(f->fd, pre, n, 0, f->path);
    if (!s) s = preamble_of(pre, n, size, f->path, &at, &hlen);
    if (s) return s;
    uint8_t *head = malloc((size_t)(at + hlen));
    if (!head) return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", f->path);
    struct anet_npy m;
    s = read_exact(f->fd, head, (size_t)(at + hlen), 0, f->path);
    if (!s) s = anet_npy_header(head, (size_t)(at + hlen), size, f->path, &m);
    free(head);
    if (!s) f->rows = m.rows, f->cols = m.cols, f->offset = m.offset;
    return s;
}

enum anet_status anet_npy_open(const char *path, struct anet_npy *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (!little_endian())
        return anet_fail(ANET_ERR_UNSUPPORTED, "'%s': .npy '<f4' data needs a little-endian "
                         "host", path);
    if (!(out->path = strdup(path))) return anet_fail(ANET_ERR_NOMEM, "out of memory");
    uint64_t size = 0;
    enum anet_status s = anet_file_open_fd(path, "a .npy file", &out->fd, &size);
    if (!s) s = open_npy(out, size);
    if (s) anet_npy_close(out);
    return s;
}

enum anet_status anet_npy_read(const struct anet_npy *f, uint64_t first, uint64_t count,
                               float *dst)
{
    if (first > f->rows || count > f->rows - first)
        return anet_fail(ANET_ERR_INVALID, "'%s': rows %llu..%llu of %llu", f->path,
                         (unsigned long long)first, (unsigned long long)(first + count),
                         (unsigned long long)f->rows);
    return read_exact(f->fd, dst, (size_t)(count * f->cols * 4), f->offset + first * f->cols * 4,
                      f->path);
}

void anet_npy_close(struct anet_npy *f)
{
    if (f->fd >= 0) close(f->fd);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}
