/* Reader for the reference fixtures (see fixture.h for the format). The whole file is
 * read and checked at load time, so a lookup never fails halfway. */
#include "fixture.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX_MAGIC "ANETFIX1"
#define FIX_MAX_NAME 4096
#define NO_RECORD SIZE_MAX /* an error about the whole file */

struct fixture_record {
    char *name;
    int ndim;
    size_t dims[4];
    size_t count;
    float *data;
};

struct fixture {
    size_t n;
    struct fixture_record *rec;
};

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

/* A cursor over the file's bytes. */
struct cursor {
    const unsigned char *p;
    size_t left;
};

static int take(struct cursor *c, size_t n, const unsigned char **out)
{
    if (c->left < n) return 0;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return 1;
}

static int take_u32(struct cursor *c, uint32_t *v)
{
    const unsigned char *p;
    if (!take(c, 4, &p)) return 0;
    *v = le32(p);
    return 1;
}

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "fixture: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap) break;
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf) {
        fprintf(stderr, "fixture: '%s': out of memory\n", path);
    } else if (ferror(fp)) {
        fprintf(stderr, "fixture: cannot read '%s': %s\n", path, strerror(errno));
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *size = n;
    return buf;
}

void fixture_free(struct fixture *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->rec[i].name);
        free(f->rec[i].data);
    }
    free(f->rec);
    free(f);
}

static struct fixture *bad(const char *path, struct fixture *f, unsigned char *buf,
                           const char *what, size_t rec)
{
    if (rec == NO_RECORD)
        fprintf(stderr, "fixture: '%s': %s\n", path, what);
    else
        fprintf(stderr, "fixture: '%s': record %zu: %s\n", path, rec, what);
    fixture_free(f);
    free(buf);
    return NULL;
}

struct fixture *fixture_load(const char *path)
{
    size_t size;
    unsigned char *buf = read_all(path, &size);
    if (!buf) return NULL;
    struct cursor c = {buf, size};
    const unsigned char *p;
    uint32_t nrec;
    if (size < 8)
        return bad(path, NULL, buf, "truncated (no magic)", NO_RECORD);
    if (memcmp(buf, FIX_MAGIC, 8) != 0)
        return bad(path, NULL, buf, "bad magic (not an ANETFIX1 fixture)", NO_RECORD);
    take(&c, 8, &p);
    if (!take_u32(&c, &nrec))
        return bad(path, NULL, buf, "truncated (no record count)", NO_RECORD);
    /* every record needs at least 16 bytes: a bound that keeps the allocation sane */
    if (nrec > c.left / 16)
        return bad(path, NULL, buf, "truncated (fewer bytes than the records need)",
                   NO_RECORD);

    struct fixture *f = calloc(1, sizeof *f);
    if (!f || !(f->rec = calloc(nrec ? nrec : 1, sizeof *f->rec)))
        return bad(path, f, buf, "out of memory", NO_RECORD);
    for (size_t i = 0; i < nrec; i++) {
        struct fixture_record *r = &f->rec[i];
        uint32_t len, ndim, d;
        if (!take_u32(&c, &len)) return bad(path, f, buf, "truncated (name length)", i);
        if (len == 0 || len > FIX_MAX_NAME) return bad(path, f, buf, "bad name length", i);
        if (!take(&c, len, &p)) return bad(path, f, buf, "truncated (name)", i);
        if (memchr(p, 0, len)) return bad(path, f, buf, "NUL byte in the name", i);
        if (!(r->name = malloc(len + 1))) return bad(path, f, buf, "out of memory", i);
        memcpy(r->name, p, len);
        r->name[len] = 0;
        f->n = i + 1; /* from here on fixture_free() releases this record */
        if (!take_u32(&c, &ndim)) return bad(path, f, buf, "truncated (ndim)", i);
        if (ndim < 1 || ndim > 4) return bad(path, f, buf, "ndim not in 1..4", i);
        r->ndim = (int)ndim;
        r->count = 1;
        for (uint32_t k = 0; k < ndim; k++) {
            if (!take_u32(&c, &d)) return bad(path, f, buf, "truncated (dims)", i);
            r->dims[k] = d;
            if (d != 0 && r->count > SIZE_MAX / 4 / d)
                return bad(path, f, buf, "dims too large", i);
            r->count *= d;
        }
        if (!take(&c, r->count * 4, &p)) return bad(path, f, buf, "truncated (values)", i);
        if (!(r->data = malloc(r->count ? r->count * sizeof(float) : 1)))
            return bad(path, f, buf, "out of memory", i);
        for (size_t k = 0; k < r->count; k++) {
            uint32_t u = le32(p + 4 * k);
            memcpy(&r->data[k], &u, sizeof u);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->rec[j].name, r->name) == 0)
                return bad(path, f, buf, "duplicate name", i);
    }
    if (c.left != 0)
        return bad(path, f, buf, "trailing bytes after the last record", NO_RECORD);
    free(buf);
    return f;
}

static const struct fixture_record *find(const struct fixture *f, const char *name)
{
    if (!f || !name) return NULL;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->rec[i].name, name) == 0) return &f->rec[i];
    return NULL;
}

const float *fixture_get(const struct fixture *f, const char *name, size_t *count)
{
    const struct fixture_record *r = find(f, name);
    if (count) *count = r ? r->count : 0;
    return r ? r->data : NULL;
}

int fixture_shape(const struct fixture *f, const char *name, size_t dims[4])
{
    const struct fixture_record *r = find(f, name);
    if (!r) return 0;
    if (dims)
        for (int k = 0; k < r->ndim; k++) dims[k] = r->dims[k];
    return r->ndim;
}

float fixture_scalar(const struct fixture *f, const char *name, float fallback)
{
    const struct fixture_record *r = find(f, name);
    return r && r->count == 1 ? r->data[0] : fallback;
}

size_t fixture_count(const struct fixture *f)
{
    return f ? f->n : 0;
}

const char *fixture_name(const struct fixture *f, size_t i)
{
    return f && i < f->n ? f->rec[i].name : NULL;
}

const char *fixture_path(const char *file)
{
    static char buf[4096];
    const char *dir = getenv("ANET_SRCDIR");
    if (dir && *dir)
        snprintf(buf, sizeof buf, "%s/tests/ref/%s", dir, file);
    else
        snprintf(buf, sizeof buf, "tests/ref/%s", file);
    return buf;
}
