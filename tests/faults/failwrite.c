/* A full disk on demand, for the fault-injection tests (LD_PRELOAD=.../libfailwrite.so):
 * write, pwrite and writev to regular files fail with ENOSPC once FAILWRITE_AFTER bytes (0
 * when unset) have gone to such files, or, with FAILWRITE_MATCH set, to the files whose
 * path contains it (the others are written as usual). Pipes, terminals and devices are
 * never touched, so standard output and error keep working. A write that does not fit
 * fails whole (a filling disk may write part of it first: the real full file system of
 * the tests, a tmpfs, does that). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long long left = -1; /* bytes the files under the rule may still take */

/* Whether writes to fd count: a regular file, whose path contains FAILWRITE_MATCH. */
static int under_rule(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    const char *match = getenv("FAILWRITE_MATCH");
    if (match && *match) {
        char link[64], path[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(link, path, sizeof path - 1);
        if (len < 0) return 0;
        path[len] = 0;
        if (!strstr(path, match)) return 0;
    }
    if (left < 0) {
        const char *after = getenv("FAILWRITE_AFTER");
        left = after ? atoll(after) : 0;
    }
    return 1;
}

static int fits(size_t n) { return (long long)n <= left; }

static ssize_t counted(ssize_t w)
{
    if (w > 0) left -= w;
    return w;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);

#define REAL(name, type) \
    static type real_##name; \
    if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write, write_fn);
    if (!under_rule(fd)) return real_write(fd, buf, n);
    if (!fits(n)) return errno = ENOSPC, -1;
    return counted(real_write(fd, buf, n));
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite, pwrite_fn);
    if (!under_rule(fd)) return real_pwrite(fd, buf, n, off);
    if (!fits(n)) return errno = ENOSPC, -1;
    return counted(real_pwrite(fd, buf, n, off));
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(writev, writev_fn);
    if (!under_rule(fd)) return real_writev(fd, iov, cnt);
    size_t n = 0;
    for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
    if (!fits(n)) return errno = ENOSPC, -1;
    return counted(real_writev(fd, iov, cnt));
}
