/* Atomic file output: temp file in the same directory, fsync, rename, fsync directory. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/file.h"

struct anet_afile {
    FILE *fp;
    char *path, *tmp;
};

enum anet_status anet_afile_open(const char *path, int overwrite, struct anet_afile **out)
{
    *out = NULL;
    struct stat st;
    if (!overwrite && stat(path, &st) == 0)
        return anet_fail(ANET_ERR_IO, "'%s' exists (use --force to overwrite)", path);
    struct anet_afile *f = calloc(1, sizeof *f);
    size_t n = strlen(path) + 32;
    if (!f || !(f->path = strdup(path)) || !(f->tmp = malloc(n))) {
        if (f) free(f->path);
        free(f);
        return anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    snprintf(f->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !(f->fp = fdopen(fd, "wb"))) {
        int e = errno;
        if (fd >= 0) close(fd);
        free(f->tmp), free(f->path), free(f);
        return anet_fail(ANET_ERR_IO, "cannot create '%s': %s", path, strerror(e));
    }
    *out = f;
    return ANET_OK;
}

FILE *anet_afile_stream(struct anet_afile *f) { return f->fp; }

static void afile_free(struct anet_afile *f)
{
    free(f->tmp), free(f->path), free(f);
}

void anet_afile_abort(struct anet_afile *f)
{
    if (!f) return;
    if (f->fp) fclose(f->fp);
    unlink(f->tmp);
    afile_free(f);
}

static void fsync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse directory fsync */
        close(fd);
    }
    free(copy);
}

enum anet_status anet_afile_commit(struct anet_afile *f)
{
    enum anet_status s = ANET_OK;
    int bad = ferror(f->fp) != 0;
    int e = bad ? EIO : 0;
    if (fflush(f->fp) != 0 && !e) e = errno;
    if (!e && fsync(fileno(f->fp)) != 0) e = errno;
    if (fclose(f->fp) != 0 && !e) e = errno;
    f->fp = NULL;
    if (!e && rename(f->tmp, f->path) != 0) e = errno;
    if (e) {
        s = anet_fail(ANET_ERR_IO, "cannot write '%s': %s", f->path, strerror(e));
        unlink(f->tmp);
    } else {
        fsync_parent(f->path);
    }
    afile_free(f);
    return s;
}
