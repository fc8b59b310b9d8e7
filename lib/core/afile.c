/* Outputs that appear complete or not at all, and inputs that cannot hang or flood us.
 *
 * Every byte of an output goes through a stdio stream whose write function is ours
 * (fopencookie): it keeps the errno of the first failed write, so that a full disk is
 * reported as ENOSPC naming the file, not as the EIO that ferror() alone would leave. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/file.h"

/* Where the bytes of an output go. */
enum afile_kind {
    AF_TEMP,   /* a temporary beside path, renamed over it by commit */
    AF_DIRECT, /* a FIFO or a character device, written as it is */
    AF_STDOUT  /* file descriptor 1, left open */
};

/* Names tried for the temporary before giving up: "<path>.tmp.<pid>", then ".<pid>.<n>". */
enum { TEMP_TRIES = 64 };
/* stdio's buffer; 4 KiB writes would cost a system call each. */
enum { STREAM_BUFFER = 1 << 17 };

struct anet_afile {
    FILE *fp;
    int fd;
    enum afile_kind kind;
    int err;     /* errno of the first failed write, flush, sync or close */
    int overwrite;
    int existed; /* path was there when opened (not removed again by commit_all) */
    int created; /* the temporary exists: abort and failures remove it */
    int synced;  /* the data is written out and fd closed: only the rename is left */
    char *path, *tmp;
};

static ssize_t cookie_write(void *cookie, const char *buf, size_t n)
{
    struct anet_afile *f = cookie;
    size_t done = 0;
    while (!f->err && done < n) {
        ssize_t w = write(f->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) f->err = errno;
        else if (w == 0) f->err = EIO;
        else done += (size_t)w;
    }
    return (ssize_t)done; /* less than n marks the stream's error */
}

/* A temporary can be sought (a .npy's header is written last); a FIFO or standard output
 * cannot (ESPIPE), and the writer that needs it says so. */
static int cookie_seek(void *cookie, off64_t *pos, int whence)
{
    struct anet_afile *f = cookie;
    off_t at = lseek(f->fd, (off_t)*pos, whence);
    if (at < 0) return -1;
    *pos = at;
    return 0;
}

static const cookie_io_functions_t cookie_io = {.write = cookie_write, .seek = cookie_seek};

static void afile_free(struct anet_afile *f)
{
    free(f->tmp), free(f->path), free(f);
}

static enum anet_status open_stream(struct anet_afile *f)
{
    if (!(f->fp = fopencookie(f, "w", cookie_io)))
        return anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", f->path);
    setvbuf(f->fp, NULL, _IOFBF, STREAM_BUFFER);
    return ANET_OK;
}

/* Creates the temporary exclusively: O_EXCL fails on anything already there, a symbolic
 * link included, so a link planted at the name cannot send our bytes elsewhere. */
static enum anet_status create_temp(struct anet_afile *f)
{
    size_t n = strlen(f->path) + 48;
    if (!(f->tmp = malloc(n))) return anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", f->path);
    for (int i = 0; i < TEMP_TRIES; i++) {
        if (i == 0) snprintf(f->tmp, n, "%s.tmp.%ld", f->path, (long)getpid());
        else snprintf(f->tmp, n, "%s.tmp.%ld.%d", f->path, (long)getpid(), i);
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (f->fd >= 0) return f->created = 1, ANET_OK;
        if (errno != EEXIST) break;
    }
    return anet_fail(ANET_ERR_IO, "cannot create '%s': %s", f->path, strerror(errno));
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int is_stream(mode_t m) { return S_ISFIFO(m) || S_ISCHR(m); }

/* Writes straight into a FIFO or a character device. A FIFO's open waits for a reader, as
 * a shell's redirection does. */
static enum anet_status open_direct(struct anet_afile *f)
{
    f->kind = AF_DIRECT;
    f->fd = open(f->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (f->fd < 0) return anet_fail(ANET_ERR_IO, "cannot open '%s': %s", f->path, strerror(errno));
    struct stat st;
    if (fstat(f->fd, &st) != 0 || !is_stream(st.st_mode)) /* replaced since we looked */
        return anet_fail(ANET_ERR_IO, "cannot open '%s': it changed while being opened", f->path);
    return ANET_OK;
}

static enum anet_status open_stdout(struct anet_afile *f)
{
    fflush(stdout); /* what the caller printed before comes first */
    f->kind = AF_STDOUT;
    f->fd = STDOUT_FILENO;
    return ANET_OK;
}

/* path is a symbolic link: followed only to a stream, or to our own standard output. */
static enum anet_status open_link(struct anet_afile *f)
{
    struct stat target, out;
    if (stat(f->path, &target) == 0) {
        if (is_stream(target.st_mode)) return open_direct(f);
        if (fstat(STDOUT_FILENO, &out) == 0 && same_file(&target, &out)) return open_stdout(f);
    }
    return anet_fail(ANET_ERR_IO,
                     "'%s' is a symbolic link; refusing to replace it or to write through it "
                     "(name the file it points to)",
                     f->path);
}

/* What path is decides where the bytes go (file.h). */
static enum anet_status choose(struct anet_afile *f)
{
    if (!strcmp(f->path, "-")) return open_stdout(f);
    struct stat st;
    if (lstat(f->path, &st) != 0) {
        if (errno != ENOENT)
            return anet_fail(ANET_ERR_IO, "cannot create '%s': %s", f->path, strerror(errno));
        return create_temp(f);
    }
    f->existed = 1;
    if (S_ISLNK(st.st_mode)) return open_link(f);
    if (is_stream(st.st_mode)) return open_direct(f);
    if (S_ISDIR(st.st_mode))
        return anet_fail(ANET_ERR_IO, "cannot create '%s': it is a directory", f->path);
    if (!S_ISREG(st.st_mode))
        return anet_fail(ANET_ERR_IO, "'%s' is a %s; refusing to write to it", f->path,
                         S_ISBLK(st.st_mode) ? "block device" : "socket");
    if (!f->overwrite)
        return anet_fail(ANET_ERR_IO, "'%s' exists (use --force to overwrite)", f->path);
    return create_temp(f);
}

enum anet_status anet_afile_open(const char *path, int overwrite, struct anet_afile **out)
{
    *out = NULL;
    struct anet_afile *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    f->fd = -1;
    f->overwrite = overwrite;
    enum anet_status s = choose(f);
    if (!s) s = open_stream(f);
    if (s) {
        anet_afile_abort(f);
        return s;
    }
    *out = f;
    return ANET_OK;
}

FILE *anet_afile_stream(struct anet_afile *f) { return f->fp; }

static void close_fd(struct anet_afile *f)
{
    if (f->fd >= 0 && f->kind != AF_STDOUT) close(f->fd);
    f->fd = -1;
}

void anet_afile_abort(struct anet_afile *f)
{
    if (!f) return;
    if (f->fp) {
        f->err = f->err ? f->err : ECANCELED; /* drop what is buffered */
        fclose(f->fp);
    }
    close_fd(f);
    if (f->created) unlink(f->tmp);
    afile_free(f);
}

static void fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse directory fsync */
        close(fd);
    }
    free(dir);
}

/* Flushes, and for a temporary syncs and closes it: after this only the rename is left.
 * On failure f->err says why. */
static void finish_data(struct anet_afile *f)
{
    if (f->synced) return;
    if (fflush(f->fp) != 0 && !f->err) f->err = EIO;
    if (ferror(f->fp) && !f->err) f->err = EIO;
    if (f->kind == AF_TEMP && !f->err && fsync(f->fd) != 0) f->err = errno;
    fclose(f->fp); /* the cookie's stream: it writes nothing more, f->err holds the verdict */
    f->fp = NULL;
    if (f->kind != AF_STDOUT && f->fd >= 0 && close(f->fd) != 0 && !f->err) f->err = errno;
    if (f->kind != AF_STDOUT) f->fd = -1;
    f->synced = 1;
}

/* Puts the temporary at path: over what is there with overwrite, else only where nothing
 * is (something may have appeared since the open). */
static int rename_into_place(const struct anet_afile *f)
{
    if (f->overwrite) return rename(f->tmp, f->path) == 0 ? 0 : errno;
    if (renameat2(AT_FDCWD, f->tmp, AT_FDCWD, f->path, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
    /* a file system without RENAME_NOREPLACE: link(2) refuses an existing name too */
    if (link(f->tmp, f->path) != 0) return errno;
    unlink(f->tmp);
    return 0;
}

static enum anet_status write_failure(const struct anet_afile *f, int e)
{
    return anet_fail(ANET_ERR_IO, "cannot write '%s': %s", f->path, strerror(e));
}

enum anet_status anet_afile_commit_all(struct anet_afile **f, int n)
{
    enum anet_status s = ANET_OK;
    for (int i = 0; i < n; i++) {
        finish_data(f[i]);
        if (f[i]->err && !s) s = write_failure(f[i], f[i]->err);
    }
    int placed = 0; /* f[0 .. placed) are in place */
    for (; !s && placed < n; placed++) {
        if (f[placed]->kind != AF_TEMP) continue;
        int e = rename_into_place(f[placed]);
        if (e == EEXIST)
            s = anet_fail(ANET_ERR_IO, "'%s' exists (use --force to overwrite)", f[placed]->path);
        else if (e)
            s = write_failure(f[placed], e);
        if (e) break;
        f[placed]->created = 0; /* the temporary is the output now */
        fsync_parent(f[placed]->path);
    }
    for (int i = 0; s && i < placed; i++) /* take back what was not there before */
        if (f[i]->kind == AF_TEMP && !f[i]->existed) unlink(f[i]->path);
    for (int i = 0; i < n; i++) {
        if (f[i]->created) unlink(f[i]->tmp);
        afile_free(f[i]);
    }
    return s;
}

enum anet_status anet_afile_commit(struct anet_afile *f) { return anet_afile_commit_all(&f, 1); }

/* ---- inputs ------------------------------------------------------------------------------ */

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/* Opens without blocking (a FIFO's open would wait for a writer), then insists on a
 * regular file and goes back to blocking reads. */
static enum anet_status open_regular(const char *path, const char *what, int *fd, off_t *size)
{
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (*fd < 0) return anet_fail(ANET_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(*fd, &st) != 0) {
        int e = errno;
        close(*fd);
        return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(*fd);
        return anet_fail(ANET_ERR_IO, "'%s' is %s, not %s", path, kind_of(st.st_mode), what);
    }
    int flags = fcntl(*fd, F_GETFL);
    if (flags >= 0) fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK);
    *size = st.st_size;
    return ANET_OK;
}

enum anet_status anet_file_open(const char *path, const char *what, FILE **out)
{
    *out = NULL;
    int fd;
    off_t size = 0;
    enum anet_status s = open_regular(path, what, &fd, &size);
    if (s) return s;
    if (!(*out = fdopen(fd, "rb"))) {
        close(fd);
        return anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    return ANET_OK;
}

enum anet_status anet_file_open_fd(const char *path, const char *what, int *fd, uint64_t *size)
{
    off_t n = 0;
    enum anet_status s = open_regular(path, what, fd, &n);
    if (s) *fd = -1;
    *size = s ? 0 : (uint64_t)n;
    return s;
}

enum anet_status anet_file_read(const char *path, size_t max, const char *what, uint8_t **data,
                                size_t *len)
{
    *data = NULL, *len = 0;
    int fd;
    off_t size = 0;
    enum anet_status s = open_regular(path, what, &fd, &size);
    if (s) return s;
    if ((uint64_t)size > max) {
        close(fd);
        return anet_fail(ANET_ERR_FORMAT, "'%s' is %lld bytes: larger than %s can be (%zu)",
                         path, (long long)size, what, max);
    }
    /* The size is a hint: a file that grows while read is read up to max + 1 bytes. */
    size_t cap = (size_t)size + 1, n = 0;
    uint8_t *buf = malloc(cap + 1);
    while (buf && !s) {
        if (n == cap) {
            if (n > max) {
                s = anet_fail(ANET_ERR_FORMAT, "'%s' grew past %zu bytes while read: not %s",
                              path, max, what);
                break;
            }
            size_t more = cap < max + 1 - cap ? 2 * cap : max + 1;
            uint8_t *bigger = realloc(buf, more + 1);
            if (!bigger) break;
            buf = bigger, cap = more;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) s = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
        else if (got == 0) break;
        else n += (size_t)got;
    }
    close(fd);
    if (!s && !buf) s = anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", path);
    if (s) {
        free(buf);
        return s;
    }
    buf[n] = 0;
    *data = buf, *len = n;
    return ANET_OK;
}

int anet_file_line(FILE *f, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int c = EOF;
    while (n + 1 < cap && (c = getc_unlocked(f)) != EOF) {
        buf[n++] = (char)c;
        if (c == '\n') break;
    }
    buf[n] = 0;
    *len = n;
    if (c == EOF && ferror(f)) return -2;
    if (n + 1 == cap && c != '\n') {
        int next = getc_unlocked(f);
        if (next == EOF) return ferror(f) ? -2 : 1; /* it just fits */
        ungetc(next, f);
        return -1;
    }
    return n > 0 ? 1 : 0;
}
