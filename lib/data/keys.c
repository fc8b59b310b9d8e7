/* The keys of a feature file's rows (include/alexnet/features.h): one line a row, the key in
 * the first tab-separated field, '#' lines skipped; a line is read into a buffer of bounded
 * size, so a file without line breaks cannot make us allocate more. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/features.h"
#include "alexnet/file.h"

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

/* One line (its end dropped) into out, unless it is a comment. */
static enum anet_status key_line(struct anet_keys *out, uint64_t *cap, char *line, size_t len,
                                 const char *what, uint64_t no)
{
    if (len && line[len - 1] == '\n') line[--len] = 0;
    if (len && line[len - 1] == '\r') line[--len] = 0;
    if (line[0] == '#') return ANET_OK;
    size_t n = strcspn(line, "\t");
    if (n == 0 || strlen(line) != len)
        return anet_fail(ANET_ERR_FORMAT, "%s:%llu: %s", what, (unsigned long long)no,
                         n == 0 ? "an empty key" : "a NUL byte in a key");
    return add_key(out, cap, line, n);
}

enum anet_status anet_keys_read_stream(FILE *f, const char *what, struct anet_keys *out)
{
    memset(out, 0, sizeof *out);
    char *line = malloc(ANET_KEYS_MAX_LINE + 2);
    if (!line) return anet_fail(ANET_ERR_NOMEM, "out of memory reading keys");
    uint64_t cap = 0, no = 0;
    size_t len;
    int got;
    enum anet_status s = ANET_OK;
    while (!s && (got = anet_file_line(f, line, ANET_KEYS_MAX_LINE + 2, &len)) != 0) {
        no++;
        if (got == -2) s = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", what, strerror(errno));
        else if (got == -1)
            s = anet_fail(ANET_ERR_FORMAT, "%s:%llu: a line longer than %d bytes", what,
                          (unsigned long long)no, ANET_KEYS_MAX_LINE);
        else s = key_line(out, &cap, line, len, what, no);
    }
    free(line);
    if (s) anet_keys_free(out);
    return s;
}

enum anet_status anet_keys_read(const char *path, struct anet_keys *out)
{
    memset(out, 0, sizeof *out);
    FILE *f;
    enum anet_status s = anet_file_open(path, "a keys file", &f);
    if (s) return s;
    s = anet_keys_read_stream(f, path, out);
    fclose(f);
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
