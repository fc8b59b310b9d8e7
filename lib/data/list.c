/* Lists of images: Caffe's "path label" lines and Kaggle's LOC_val_solution.csv. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/data.h"
#include "alexnet/file.h"

static enum anet_status no_memory(const char *what)
{
    return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", what);
}

static enum anet_status add(struct anet_list *l, size_t *cap, struct anet_list_item it,
                            const char *what)
{
    if (l->count == *cap) {
        size_t c = *cap ? 2 * *cap : 1024;
        struct anet_list_item *p = realloc(l->items, c * sizeof *p);
        if (!p) return no_memory(what);
        l->items = p, *cap = c;
    }
    l->items[l->count++] = it;
    return ANET_OK;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    return r < 0 ? NULL : s;
}

/* A path a list may name: relative, and not climbing out of the root. */
static int under_root(const char *p)
{
    if (p[0] == '/') return 0;
    for (const char *c = p; *c; c += strcspn(c, "/"), c += *c == '/')
        if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == 0)) return 0;
    return 1;
}

/* An item for a line that cannot be used: the line kept as its path, and why. */
static enum anet_status add_bad(struct anet_list *l, size_t *cap, const char *line, char *why,
                                const char *what)
{
    struct anet_list_item it = {strdup(line), -1, NULL, why};
    if (!it.path || !why || add(l, cap, it, what)) {
        free(it.path), free(why);
        return no_memory(what);
    }
    return ANET_OK;
}

typedef enum anet_status (*line_fn)(struct anet_list *l, size_t *cap, char *line, long no,
                                    const char *what);

/* Every line of f through parse, with the line end dropped and blank lines skipped. */
static enum anet_status read_lines(FILE *f, const char *what, struct anet_list *out,
                                   line_fn parse)
{
    memset(out, 0, sizeof *out);
    out->max_label = -1;
    char *line = malloc(ANET_LIST_MAX_LINE + 2);
    if (!line) return no_memory(what);
    size_t cap = 0, len;
    enum anet_status s = ANET_OK;
    int got;
    for (long no = 1; !s && (got = anet_file_line(f, line, ANET_LIST_MAX_LINE + 2, &len)); no++) {
        if (got == -2) s = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", what, strerror(errno));
        else if (got == -1)
            s = anet_fail(ANET_ERR_FORMAT, "%s:%ld: a line longer than %d bytes", what, no,
                          ANET_LIST_MAX_LINE);
        else if (strlen(line) != len)
            s = anet_fail(ANET_ERR_FORMAT, "%s:%ld: a NUL byte: not a text file", what, no);
        if (s) break;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len) s = parse(out, &cap, line, no, what);
    }
    free(line);
    if (s) anet_list_free(out);
    return s;
}

static enum anet_status caffe_line(struct anet_list *l, size_t *cap, char *line, long no,
                                   const char *what)
{
    char *sp = strrchr(line, ' '), *end = NULL;
    errno = 0;
    long label = sp && sp[1] >= '0' && sp[1] <= '9' ? strtol(sp + 1, &end, 10) : -1;
    if (!sp || sp == line || !end || *end || errno || label > INT32_MAX)
        return add_bad(l, cap, line, format("%s:%ld: expected 'path label', got '%.200s'", what,
                                            no, line), what);
    *sp = 0;
    if (!under_root(line))
        return add_bad(l, cap, line, format("%s:%ld: '%.200s' is not a path under the root",
                                            what, no, line), what);
    struct anet_list_item it = {strdup(line), (int32_t)label, NULL, NULL};
    if (!it.path || add(l, cap, it, what)) return free(it.path), no_memory(what);
    if (label > l->max_label) l->max_label = (int32_t)label;
    return ANET_OK;
}

static enum anet_status kaggle_line(struct anet_list *l, size_t *cap, char *line, long no,
                                    const char *what)
{
    if (no == 1 && !strncmp(line, "ImageId", 7)) return ANET_OK; /* the header */
    char *comma = strchr(line, ',');
    size_t wl = comma ? strcspn(comma + 1, " ") : 0;
    if (!comma || comma == line || wl == 0)
        return add_bad(l, cap, line, format("%s:%ld: expected 'ImageId,wnid ...', got '%.200s'",
                                            what, no, line), what);
    *comma = 0;
    if (!under_root(line))
        return add_bad(l, cap, line, format("%s:%ld: '%.200s' is not a path under the root",
                                            what, no, line), what);
    struct anet_list_item it = {format("%s.JPEG", line), -1, strndup(comma + 1, wl), NULL};
    if (!it.path || !it.wnid || add(l, cap, it, what)) {
        free(it.path), free(it.wnid);
        return no_memory(what);
    }
    return ANET_OK;
}

enum anet_status anet_list_read_caffe(FILE *f, const char *what, struct anet_list *out)
{
    return read_lines(f, what, out, caffe_line);
}

enum anet_status anet_list_read_kaggle(FILE *f, const char *what, struct anet_list *out)
{
    return read_lines(f, what, out, kaggle_line);
}

void anet_list_free(struct anet_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i].path), free(l->items[i].wnid), free(l->items[i].bad);
    free(l->items);
    memset(l, 0, sizeof *l);
    l->max_label = -1;
}
