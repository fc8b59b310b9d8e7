/* LMDB databases: the bytes as data.mdb, opened (anet_db_open checks the file before LMDB
 * maps it) and every record read through a cursor and through the record table, as every
 * reader of a database does. The database lives in a directory of its own under TMPDIR
 * (/dev/shm when there is one, to spare the disk). */
#include <fcntl.h>
#include <sys/stat.h>
#include "alexnet/data.h"
#include "fuzz.h"

static char dir[256], file[300];

static void cleanup(void)
{
    unlink(file);
    rmdir(dir);
}

static int setup(void)
{
    if (dir[0]) return 0;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/anet-fuzz-lmdb-%ld", base ? base : "/tmp", (long)getpid());
    if (mkdir(dir, 0700) != 0) return -1;
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (setup()) return 0;
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 0;
    int ok = write(fd, data, size) == (ssize_t)size;
    close(fd);
    struct anet_db *db;
    if (!ok || anet_db_open(dir, &db)) return 0;
    volatile size_t sum = 0;
    struct anet_db_cursor *c;
    if (!anet_db_cursor_open(db, &c)) {
        const char *k;
        const void *v;
        size_t kl, vl;
        while (!anet_db_cursor_next(c, &k, &kl, &v, &vl) && k)
            for (size_t i = 0; i < vl; i++) sum += ((const uint8_t *)v)[i] + (size_t)k[kl ? kl - 1 : 0];
        anet_db_cursor_close(c);
    }
    const struct anet_db_record *r;
    size_t n;
    if (!anet_db_records(db, &r, &n))
        for (size_t i = 0; i < n; i++)
            sum += r[i].key_len + (r[i].val_len ? ((const uint8_t *)r[i].val)[r[i].val_len - 1] : 0);
    anet_db_close(db);
    (void)sum;
    return 0;
}
