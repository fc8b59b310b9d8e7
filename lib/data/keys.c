/* The keys of a feature file's rows (include/alexnet/features.h): one line a row, the key in
 * the first tab-separated field, '#' lines skipped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/features.h"

static enum anet_status add_key(struct anet_keys *k, uint64_t *cap, const char *s, size_t n)
{
    if (k->count == *cap) {
        uint64_t c = *cap ? 2 * *cap : 1024;
        char **p = realloc(k->key, (size_t)c * sizeof *p);
        if (!p) return anet_fail(ANET_ERR_NOMEM, "out of memory reading keys");
        k->key = p, *cap = c;
    }
    if (!(k->key[k->count] = strndup(s, n)))
        return anet_fail(ANET_ERR_NOMEM, "out of memory reading keys");
    k->count++;
    return ANET_OK;
}

enum anet_status anet_keys_read(const char *path, struct anet_keys *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return anet_fail(ANET_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    char *line = NULL;
    size_t size = 0;
    uint64_t cap = 0, no = 0;
    ssize_t len;
    enum anet_status s = ANET_OK;
    while (!s && (len = getline(&line, &size, f)) >= 0) {
        no++;
        if (len && line[len - 1] == '\n') line[--len] = 0;
        if (len && line[len - 1] == '\r') line[--len] = 0;
        if (line[0] == '#') continue;
        size_t n = strcspn(line, "\t");
        if (n == 0 || strlen(line) != (size_t)len)
            s = anet_fail(ANET_ERR_FORMAT, "%s:%llu: %s", path, (unsigned long long)no,
                          n == 0 ? "an empty key" : "a NUL byte in a key");
        else
            s = add_key(out, &cap, line, n);
    }
    if (!s && ferror(f)) s = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (s) anet_keys_free(out);
    return s;
}

void anet_keys_free(struct anet_keys *k)
{
    for (uint64_t i = 0; i < k->count; i++) free(k->key[i]);
    free(k->key);
    memset(k, 0, sizeof *k);
}

void anet_keys_put_header(FILE *f) { fputs("#key\n", f); }

enum anet_status anet_keys_put(FILE *f, const char *key)
{
    if (!*key || strpbrk(key, "\t\r\n") || key[0] == '#')
        return anet_fail(ANET_ERR_INVALID, "the key '%.64s' cannot be written: empty, or holding "
                         "a tab or a line break, or starting with '#'", key);
    fputs(key, f);
    fputc('\n', f);
    return ANET_OK;
}
