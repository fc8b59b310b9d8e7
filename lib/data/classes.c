/* The class table: WNIDs in label order, with their words.
 *
 * The order is a given (a synsets file's, or sorted names), so anet_classes_find cannot
 * bisect the table itself; it bisects by_name, the indices sorted by WNID, made once
 * when the table is made (alexnet-prep looks a class up per image: 1.28 M lookups into
 * 1000 classes). The same sorted index finds duplicates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/data.h"
#include "alexnet/file.h"

struct table {
    struct anet_classes *c;
    int cap;
    int *line; /* the line each class came from, for messages */
};

static enum anet_status add_class(struct table *t, const char *wnid, size_t wnid_len,
                                  const char *words, int line)
{
    struct anet_classes *c = t->c;
    if (c->count == t->cap) {
        int cap = t->cap ? 2 * t->cap : 1024;
        char **w = realloc(c->wnid, (size_t)cap * sizeof *w);
        if (w) c->wnid = w;
        char **d = realloc(c->words, (size_t)cap * sizeof *d);
        if (d) c->words = d;
        int *l = realloc(t->line, (size_t)cap * sizeof *l);
        if (l) t->line = l;
        if (!w || !d || !l) return anet_fail(ANET_ERR_NOMEM, "out of memory reading classes");
        t->cap = cap;
    }
    char *wn = strndup(wnid, wnid_len), *wd = strdup(words);
    if (!wn || !wd) {
        free(wn), free(wd);
        return anet_fail(ANET_ERR_NOMEM, "out of memory reading classes");
    }
    c->wnid[c->count] = wn;
    c->words[c->count] = wd;
    t->line[c->count] = line;
    c->count++;
    return ANET_OK;
}

struct named {
    const char *name;
    int index;
};

static int cmp_named(const void *a, const void *b)
{
    const struct named *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Builds c->by_name; *dup is the first class (in table order) that repeats an earlier
 * one, or -1. */
static enum anet_status index_names(struct anet_classes *c, int *dup)
{
    *dup = -1;
    size_t n = (size_t)(c->count ? c->count : 1);
    struct named *v = malloc(n * sizeof *v);
    c->by_name = malloc(n * sizeof *c->by_name);
    if (!v || !c->by_name) {
        free(v);
        return anet_fail(ANET_ERR_NOMEM, "out of memory indexing classes");
    }
    for (int i = 0; i < c->count; i++) v[i] = (struct named){c->wnid[i], i};
    qsort(v, (size_t)c->count, sizeof *v, cmp_named);
    for (int k = 0; k < c->count; k++) {
        c->by_name[k] = v[k].index;
        if (k && !strcmp(v[k - 1].name, v[k].name) && (*dup < 0 || v[k].index < *dup))
            *dup = v[k].index;
    }
    free(v);
    return ANET_OK;
}

/* ---- reading ------------------------------------------------------------------------------ */

static int is_space(char ch) { return ch == ' ' || ch == '\t'; }

/* Drops the line end (\n, and \r from files written on Windows) and trailing blanks. */
static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || is_space(s[n - 1]))) s[--n] = 0;
}

/* "n01440764 tench, Tinca tinca": the WNID, a run of white space, the words. */
static enum anet_status parse_synset(struct table *t, char *s, int line)
{
    while (is_space(*s)) s++;
    size_t n = 0;
    while (s[n] && !is_space(s[n])) n++;
    const char *words = s + n;
    while (is_space(*words)) words++;
    return add_class(t, s, n, words, line);
}

/* "2<TAB>n01484850<TAB>great white shark": index, WNID, words (which may be absent). */
static enum anet_status parse_tsv(struct table *t, const char *path, char *s, int line)
{
    char *tab = strchr(s, '\t');
    if (!tab)
        return anet_fail(ANET_ERR_FORMAT, "%s:%d: expected 'index<TAB>wnid<TAB>words'", path,
                         line);
    *tab = 0;
    char *end;
    errno = 0;
    long index = strtol(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || s[0] == '+' || is_space(s[0]))
        return anet_fail(ANET_ERR_FORMAT, "%s:%d: bad index '%s'", path, line, s);
    if (index != t->c->count)
        return anet_fail(ANET_ERR_FORMAT, "%s:%d: index %ld out of order (expected %d)", path,
                         line, index, t->c->count);
    char *wnid = tab + 1, *words = strchr(wnid, '\t');
    size_t n = words ? (size_t)(words - wnid) : strlen(wnid);
    if (n == 0) return anet_fail(ANET_ERR_FORMAT, "%s:%d: empty class name", path, line);
    return add_class(t, wnid, n, words ? words + 1 : "", line);
}

static enum anet_status read_lines(FILE *f, const char *path, struct table *t)
{
    char *buf = NULL;
    size_t cap = 0;
    int line = 0, tsv = 0, seen = 0;
    enum anet_status s = ANET_OK;
    while (!s && getline(&buf, &cap, f) >= 0) {
        char *p = buf;
        line++;
        if (line == 1 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* a UTF-8 byte-order mark */
        chomp(p);
        const char *q = p;
        while (is_space(*q)) q++;
        if (!*q) continue;
        if (!seen++ && p[0] == '#') { /* our header: the classes.tsv form */
            tsv = 1;
            continue;
        }
        s = tsv ? parse_tsv(t, path, p, line) : parse_synset(t, p, line);
    }
    free(buf);
    if (!s && ferror(f))
        s = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    return s;
}

enum anet_status anet_classes_read(const char *path, struct anet_classes *out)
{
    memset(out, 0, sizeof *out);
    FILE *f;
    enum anet_status s = anet_file_open(path, "a class table", &f);
    if (s) return s;
    s = anet_classes_read_stream(f, path, out);
    fclose(f);
    return s;
}

enum anet_status anet_classes_read_stream(FILE *f, const char *what, struct anet_classes *out)
{
    memset(out, 0, sizeof *out);
    struct table t = {out, 0, NULL};
    enum anet_status s = read_lines(f, what, &t);
    int dup = -1;
    if (!s) s = index_names(out, &dup);
    if (!s && dup >= 0) {
        int first = 0;
        while (strcmp(out->wnid[first], out->wnid[dup])) first++;
        s = anet_fail(ANET_ERR_FORMAT, "%s:%d: duplicate class '%s' (first on line %d)", what,
                      t.line[dup], out->wnid[dup], t.line[first]);
    }
    free(t.line);
    if (s) anet_classes_free(out);
    return s;
}

/* ---- making and writing ------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum anet_status anet_classes_from_names(char **names, int count, struct anet_classes *out)
{
    memset(out, 0, sizeof *out);
    if (count < 0) return anet_fail(ANET_ERR_INVALID, "class count %d is negative", count);
    for (int i = 0; i < count; i++)
        if (!names[i] || !names[i][0]) return anet_fail(ANET_ERR_INVALID, "empty class name");
    char **sorted = malloc((size_t)(count ? count : 1) * sizeof *sorted);
    if (!sorted) return anet_fail(ANET_ERR_NOMEM, "out of memory sorting classes");
    memcpy(sorted, names, (size_t)count * sizeof *sorted);
    qsort(sorted, (size_t)count, sizeof *sorted, cmp_str);
    struct table t = {out, 0, NULL};
    enum anet_status s = ANET_OK;
    for (int i = 0; !s && i < count; i++)
        if (i == 0 || strcmp(sorted[i], sorted[i - 1]))
            s = add_class(&t, sorted[i], strlen(sorted[i]), "", 0);
    free(sorted);
    free(t.line);
    int dup;
    if (!s) s = index_names(out, &dup);
    if (s) anet_classes_free(out);
    return s;
}

enum anet_status anet_classes_write(FILE *f, const struct anet_classes *c)
{
    for (int i = 0; i < c->count; i++)
        if (strpbrk(c->wnid[i], "\t\n\r") || strpbrk(c->words[i], "\n\r"))
            return anet_fail(ANET_ERR_INVALID,
                             "class %d: a name with a tab or a line break, or words with a line "
                             "break, cannot be written to a class table",
                             i);
    fputs("#index\twnid\twords\n", f);
    for (int i = 0; i < c->count; i++) fprintf(f, "%d\t%s\t%s\n", i, c->wnid[i], c->words[i]);
    if (fflush(f) != 0 || ferror(f))
        return anet_fail(ANET_ERR_IO, "cannot write the class table: %s", strerror(errno));
    return ANET_OK;
}

/* ---- lookup -------------------------------------------------------------------------------- */

int anet_classes_find(const struct anet_classes *c, const char *wnid)
{
    if (!c->by_name) {
        for (int i = 0; i < c->count; i++)
            if (!strcmp(c->wnid[i], wnid)) return i;
        return -1;
    }
    int lo = 0, hi = c->count; /* the answer, if any, is in by_name[lo, hi) */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, i = c->by_name[mid];
        int cmp = strcmp(c->wnid[i], wnid);
        if (cmp == 0) return i;
        if (cmp < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

void anet_classes_free(struct anet_classes *c)
{
    for (int i = 0; i < c->count; i++) {
        if (c->wnid) free(c->wnid[i]);
        if (c->words) free(c->words[i]);
    }
    free(c->wnid), free(c->words), free(c->by_name);
    memset(c, 0, sizeof *c);
}
