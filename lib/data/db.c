/* LMDB databases of Datum records: a writer that builds "<path>.tmp.<pid>" and renames it
 * into place, and a read-only reader with one cursor (one read transaction) per thread,
 * plus a table of every record for random access (one read transaction for the table).
 *
 * Writer choices. Writing 10,000 raw 3x256x256 records (1.97 GB) with finish took 1.1 s
 * on a quiet shared 2-core VM (9,000 records/s, 1.8 GB/s) and 2 s when it was busy; 0.15 s
 * of it is user CPU, the rest the kernel copying into the page cache and syncing. The
 * variants below were within that noise unless said.
 * - MDB_NOSYNC: a half-written temp directory is thrown away after a crash anyway, so
 *   syncing each commit buys nothing; finish syncs once (mdb_env_sync) before the rename.
 * - No MDB_WRITEMAP: it makes data.mdb as large as the map (a sparse file that some tools
 *   copy at full size) and was not faster.
 * - Commits every 1000 records or 16 MiB of values; 256 MiB batches were slower. After each
 *   commit the kernel is asked to write it out, and the one before is dropped from the page
 *   cache (writeback_and_drop): alexnet-prep on 2,000 ILSVRC-like JPEGs went from
 *   1,250-2,160 img/s (64 MiB commits, nothing dropped) to 2,270-2,340 img/s and from 325 to
 *   210 MiB of peak memory, and the peak no longer grows with the database.
 * - The map grows on demand: a put or commit that meets MDB_MAP_FULL aborts the open
 *   transaction (what earlier commits wrote stays), doubles the map, and replays the
 *   transaction's records, which the writer keeps until they are committed. That is exact
 *   where predicting LMDB's page use is not; the copy costs about 5% of the CPU time. The
 *   map starts at 1 GiB: it is address space, not disk (data.mdb grows with what is
 *   written).
 * - Keys that arrive in increasing order (the usual "%08d_..." keys) go in with
 *   MDB_APPEND, which fills leaf pages instead of splitting them in half.
 * - The temp is a new directory, "<path>.tmp.<pid>" or, when that name is taken, with a
 *   counter after the pid: whatever is there already (a leftover of an interrupted run, a
 *   stranger's directory, a planted link) is left alone, and only the files the writer
 *   made are removed on failure. A marker file inside it, removed when the database is
 *   complete, tells readers an unfinished database from a finished one.
 * - No lock table (MDB_NOLOCK): this writer is the temp's only user, and the lock file
 *   is a memory map that LMDB writes through, which on a full disk is a SIGBUS rather than
 *   an error. Readers open without one too; Caffe's make lock.mdb when they first open.
 * - LMDB reports a short write as EIO; a write that stopped short because the disk filled
 *   (or the file reached RLIMIT_FSIZE) is reported as such (ENOSPC, EFBIG). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "alexnet/data.h"
#include "alexnet/file.h"
#include "lmdb_check.h"

#define INITIAL_MAP ((size_t)1 << 30)
#define BATCH_RECORDS 1000
#define BATCH_BYTES ((size_t)16 << 20)
#define LMDB_MAGIC 0xBEEFC0DEu /* mm_magic, just after the 16-byte header of page 0 */
/* In a database directory while it is being written; readers refuse a directory that
 * holds it. A leading dot keeps it apart from sidecar names. */
#define INCOMPLETE_MARKER ".alexnet-incomplete"
/* Names tried for the temp: "<path>.tmp.<pid>", then "<path>.tmp.<pid>.<n>". */
#define TEMP_TRIES 64

/* ---- directories that hold a database ------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", dir, name);
    return s;
}

/* Only a regular file is read (anet_file_open_fd): a FIFO planted as data.mdb cannot block. */
static int has_lmdb_magic(const char *file)
{
    uint8_t head[20];
    int fd;
    uint64_t size;
    if (anet_file_open_fd(file, "an LMDB data.mdb", &fd, &size)) return 0;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    uint32_t magic = 0;
    if (n == (ssize_t)sizeof head) memcpy(&magic, head + 16, sizeof magic);
    return magic == LMDB_MAGIC;
}

/* Whether dir holds only regular files (a database and its sidecars): the one thing we
 * delete. Sets *why to the reason when it does not. */
static int only_files(const char *dir, const char **why, char *name_out, size_t name_cap)
{
    DIR *d = opendir(dir);
    if (!d) return *why = "cannot be listed", 0;
    int ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat st;
        char *p = join(dir, e->d_name);
        if (!p || lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            ok = 0;
            *why = "holds something other than files";
            snprintf(name_out, name_cap, "%s", e->d_name);
        }
        free(p);
    }
    closedir(d);
    return ok;
}

/* Refuses to replace anything that is not plainly an LMDB directory: a plain file, a
 * symbolic link, a directory without an LMDB data.mdb, or one with subdirectories. */
static enum anet_status check_replaceable(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return anet_fail(ANET_ERR_IO, "cannot replace '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return anet_fail(ANET_ERR_IO, "'%s' is not an LMDB directory; refusing to replace it",
                         path);
    char *data = join(path, "data.mdb");
    if (!data) return anet_fail(ANET_ERR_NOMEM, "out of memory checking '%s'", path);
    int is_db = has_lmdb_magic(data);
    free(data);
    if (!is_db)
        return anet_fail(ANET_ERR_IO,
                         "'%s' has no LMDB data.mdb; refusing to replace it", path);
    const char *why = NULL;
    char name[256] = "";
    if (!only_files(path, &why, name, sizeof name))
        return anet_fail(ANET_ERR_IO, "'%s' %s%s%s%s; refusing to replace it", path, why,
                         name[0] ? " ('" : "", name, name[0] ? "')" : "");
    return ANET_OK;
}

/* Removes a directory of regular files (check_replaceable or our own temp). */
static enum anet_status remove_db_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return anet_fail(ANET_ERR_IO, "cannot remove '%s': %s", dir, strerror(errno));
    int e = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        if (unlinkat(dirfd(d), ent->d_name, 0) != 0 && !e) e = errno;
    }
    closedir(d);
    if (!e && rmdir(dir) != 0) e = errno;
    if (e) return anet_fail(ANET_ERR_IO, "cannot remove '%s': %s", dir, strerror(e));
    return ANET_OK;
}


static enum anet_status fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return anet_fail(ANET_ERR_IO, "cannot open '%s': %s", dir, strerror(errno));
    /* some file systems refuse fsync on a directory; the data itself was synced */
    if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
        int e = errno;
        close(fd);
        return anet_fail(ANET_ERR_IO, "cannot sync '%s': %s", dir, strerror(e));
    }
    close(fd);
    return ANET_OK;
}

static enum anet_status fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return fsync_dir(".");
    if (slash == path) return fsync_dir("/");
    char *parent = strndup(path, (size_t)(slash - path));
    if (!parent) return anet_fail(ANET_ERR_NOMEM, "out of memory syncing '%s'", path);
    enum anet_status s = fsync_dir(parent);
    free(parent);
    return s;
}

/* ---- the writer ------------------------------------------------------------------------- */

/* A record of the open transaction: key and value live in the writer's arena. */
struct pending {
    size_t off, key_len, val_len;
    unsigned flags; /* MDB_APPEND or not, so that a replay does exactly what the put did */
};

struct anet_db_writer {
    char *path, *tmp;
    int overwrite;
    char **made;  /* the files this writer made in tmp (sidecars), for clean-up */
    int nmade;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn; /* the open write transaction, or NULL */
    size_t map_size;
    uint8_t *arena; /* keys and values of the open transaction, for a replay */
    size_t arena_len, arena_cap;
    struct pending *recs;
    size_t nrecs, recs_cap;
    char *max_key; /* the greatest key written, for MDB_APPEND */
    size_t max_key_len, max_key_cap;
    int failed; /* an LMDB error left the environment unusable: only abort is left */
    off_t sent_to, dropped_to; /* data.mdb: writeback started below; cache dropped below */
};

/* LMDB turns a short write into EIO. The usual causes of one are a disk that just filled
 * and RLIMIT_FSIZE; when the free space or the file size says so, that is the error. */
static int likely_errno(const struct anet_db_writer *w, int rc)
{
    if (rc != EIO || !w->tmp) return rc;
    struct statvfs vs;
    if (statvfs(w->tmp, &vs) == 0) {
        unsigned long long blocks = geteuid() == 0 ? vs.f_bfree : vs.f_bavail;
        if (blocks * (unsigned long long)vs.f_frsize < BATCH_BYTES) return ENOSPC;
    }
    struct rlimit rl;
    struct stat st;
    int fd;
    if (w->env && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        !mdb_env_get_fd(w->env, &fd) && !fstat(fd, &st) &&
        (unsigned long long)st.st_size + BATCH_BYTES >= (unsigned long long)rl.rlim_cur)
        return EFBIG;
    return rc;
}

static enum anet_status lmdb_fail(struct anet_db_writer *w, const char *what, int rc)
{
    w->failed = 1;
    return anet_fail(ANET_ERR_IO, "cannot %s '%s': %s", what, w->path,
                     mdb_strerror(likely_errno(w, rc)));
}

static void writer_free(struct anet_db_writer *w)
{
    for (int i = 0; i < w->nmade; i++) free(w->made[i]);
    free(w->made);
    free(w->path), free(w->tmp), free(w->arena), free(w->recs), free(w->max_key);
    free(w);
}

/* Removes the temp after a failure: the files this writer made, then the directory if that
 * left it empty; anything else found there stays. Keeps the message of the failure that is
 * being reported. */
static void remove_temp(struct anet_db_writer *w)
{
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", anet_error_detail());
    int dir = open(w->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir >= 0) {
        static const char *const own[] = {"data.mdb", "lock.mdb", INCOMPLETE_MARKER};
        for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) unlinkat(dir, own[i], 0);
        for (int i = 0; i < w->nmade; i++) unlinkat(dir, w->made[i], 0);
        close(dir);
        if (rmdir(w->tmp) != 0)
            anet_log(ANET_LOG_WARN, "'%s' is left behind: %s", w->tmp, strerror(errno));
    }
    anet_fail(ANET_ERR_IO, "%s", saved);
}

/* "x.lmdb/" names the directory x.lmdb; the temp must be its sibling, not inside it. */
static char *strip_slashes(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    return strndup(path, n);
}

/* A file of our own in the temp, made exclusively. */
static int create_in_temp(const struct anet_db_writer *w, const char *name)
{
    char *file = join(w->tmp, name);
    if (!file) return errno = ENOMEM, -1;
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    free(file);
    return fd;
}

/* A new directory for the temp; mkdir refuses any name that is taken, a link included. */
static enum anet_status make_temp_dir(struct anet_db_writer *w)
{
    size_t n = strlen(w->path) + 48;
    if (!(w->tmp = malloc(n))) return anet_fail(ANET_ERR_NOMEM, "out of memory creating '%s'", w->path);
    int made = 0;
    for (int i = 0; i < TEMP_TRIES && !made; i++) {
        if (i == 0) snprintf(w->tmp, n, "%s.tmp.%ld", w->path, (long)getpid());
        else snprintf(w->tmp, n, "%s.tmp.%ld.%d", w->path, (long)getpid(), i);
        made = mkdir(w->tmp, 0777) == 0;
        if (!made && errno != EEXIST) break;
    }
    if (!made) {
        int e = errno;
        free(w->tmp);
        w->tmp = NULL;
        return anet_fail(ANET_ERR_IO, "cannot create '%s': %s", w->path, strerror(e));
    }
    int fd = create_in_temp(w, INCOMPLETE_MARKER);
    if (fd < 0) {
        anet_fail(ANET_ERR_IO, "cannot create '%s': %s", w->path, strerror(errno));
        remove_temp(w);
        return ANET_ERR_IO;
    }
    close(fd);
    return ANET_OK;
}

static enum anet_status open_env(struct anet_db_writer *w)
{
    int rc = mdb_env_create(&w->env);
    if (rc) return w->env = NULL, lmdb_fail(w, "create", rc);
    MDB_txn *txn;
    if ((rc = mdb_env_set_mapsize(w->env, w->map_size)) ||
        (rc = mdb_env_open(w->env, w->tmp, MDB_NOSYNC | MDB_NOLOCK, 0666)) ||
        (rc = mdb_txn_begin(w->env, NULL, 0, &txn)))
        return lmdb_fail(w, "create", rc);
    if ((rc = mdb_dbi_open(txn, NULL, 0, &w->dbi))) {
        mdb_txn_abort(txn);
        return lmdb_fail(w, "create", rc);
    }
    if ((rc = mdb_txn_commit(txn))) return lmdb_fail(w, "create", rc);
    return ANET_OK;
}

enum anet_status anet_db_create(const char *path, int overwrite, struct anet_db_writer **out)
{
    *out = NULL;
    struct anet_db_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strip_slashes(path))) {
        if (w) writer_free(w);
        return anet_fail(ANET_ERR_NOMEM, "out of memory creating '%s'", path);
    }
    w->overwrite = overwrite;
    w->map_size = INITIAL_MAP;
    struct stat st;
    enum anet_status s = ANET_OK;
    if (lstat(w->path, &st) == 0)
        s = overwrite ? check_replaceable(w->path)
                      : anet_fail(ANET_ERR_IO, "'%s' exists (use --force to overwrite)", w->path);
    if (!s) s = make_temp_dir(w);
    if (s) {
        writer_free(w);
        return s;
    }
    if ((s = open_env(w))) {
        anet_db_abort(w);
        return s;
    }
    *out = w;
    return ANET_OK;
}

/* For tests of map growth: a tiny first map. Declared only in tests/unit/test_db.c. Must
 * come before the first put. */
enum anet_status anet_db_writer_set_map_size(struct anet_db_writer *w, size_t bytes);
enum anet_status anet_db_writer_set_map_size(struct anet_db_writer *w, size_t bytes)
{
    if (w->txn) return anet_fail(ANET_ERR_INVALID, "map size set after the first put");
    int rc = mdb_env_set_mapsize(w->env, bytes);
    if (rc) return lmdb_fail(w, "resize", rc);
    w->map_size = bytes;
    return ANET_OK;
}

/* LMDB's default order: bytes compared as unsigned, then the shorter first. */
static int key_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static enum anet_status keep(struct anet_db_writer *w, const char *key, size_t key_len,
                             const void *val, size_t len, unsigned flags)
{
    size_t need = w->arena_len + key_len + len;
    if (need > w->arena_cap) {
        size_t cap = w->arena_cap ? w->arena_cap : (size_t)1 << 20;
        while (cap < need) cap *= 2;
        uint8_t *a = realloc(w->arena, cap);
        if (!a) return anet_fail(ANET_ERR_NOMEM, "out of memory writing '%s'", w->path);
        w->arena = a, w->arena_cap = cap;
    }
    if (w->nrecs == w->recs_cap) {
        size_t cap = w->recs_cap ? 2 * w->recs_cap : 256;
        struct pending *r = realloc(w->recs, cap * sizeof *r);
        if (!r) return anet_fail(ANET_ERR_NOMEM, "out of memory writing '%s'", w->path);
        w->recs = r, w->recs_cap = cap;
    }
    w->recs[w->nrecs++] = (struct pending){w->arena_len, key_len, len, flags};
    memcpy(w->arena + w->arena_len, key, key_len);
    if (len) memcpy(w->arena + w->arena_len + key_len, val, len);
    w->arena_len = need;
    return ANET_OK;
}

static int put_pending(struct anet_db_writer *w, const struct pending *p)
{
    MDB_val k = {p->key_len, w->arena + p->off};
    MDB_val v = {p->val_len, w->arena + p->off + p->key_len};
    return mdb_put(w->txn, w->dbi, &k, &v, p->flags);
}

static int begin(struct anet_db_writer *w)
{
    return w->txn ? 0 : mdb_txn_begin(w->env, NULL, 0, &w->txn);
}

/* After MDB_MAP_FULL: drop the transaction, double the map and put its records again,
 * doubling until they fit. */
static enum anet_status grow_and_replay(struct anet_db_writer *w)
{
    for (;;) {
        if (w->txn) mdb_txn_abort(w->txn);
        w->txn = NULL;
        int rc = w->map_size > SIZE_MAX / 2 ? ENOMEM : mdb_env_set_mapsize(w->env, 2 * w->map_size);
        if (rc) return lmdb_fail(w, "grow the map of", rc);
        w->map_size *= 2;
        if ((rc = begin(w))) return lmdb_fail(w, "write", rc);
        for (size_t i = 0; i < w->nrecs && !rc; i++) rc = put_pending(w, &w->recs[i]);
        if (rc == 0) return ANET_OK;
        if (rc != MDB_MAP_FULL) return lmdb_fail(w, "write", rc);
    }
}

static void forget_pending(struct anet_db_writer *w)
{
    w->nrecs = 0;
    w->arena_len = 0;
}

/* After a commit: asks the kernel to start writing what this commit put in the page cache,
 * without waiting, so that the disk works while the next records are decoded and the final
 * sync finds little left; and drops from the cache what the commit before wrote (waiting
 * for its writeback first, which has had a commit's time to finish). Dropping behind keeps
 * the database out of memory, and it makes the next commit's writes reuse those pages:
 * on the virtual machines we measured, putting data into memory pages the system had never
 * used cost three times as much kernel time as putting it into recycled ones. Advice
 * only: errors are ignored, the final mdb_env_sync is what guarantees the data. */
static void writeback_and_drop(struct anet_db_writer *w)
{
#if defined(SYNC_FILE_RANGE_WRITE) && defined(POSIX_FADV_DONTNEED)
    int fd;
    struct stat st;
    if (mdb_env_get_fd(w->env, &fd) || fstat(fd, &st)) return;
    if (w->sent_to > w->dropped_to) {
        off_t len = w->sent_to - w->dropped_to;
        (void)sync_file_range(fd, w->dropped_to, len, SYNC_FILE_RANGE_WAIT_BEFORE |
                                                          SYNC_FILE_RANGE_WRITE |
                                                          SYNC_FILE_RANGE_WAIT_AFTER);
        (void)posix_fadvise(fd, w->dropped_to, len, POSIX_FADV_DONTNEED);
        w->dropped_to = w->sent_to;
    }
    if (st.st_size > w->sent_to) {
        (void)sync_file_range(fd, w->sent_to, st.st_size - w->sent_to, SYNC_FILE_RANGE_WRITE);
        w->sent_to = st.st_size;
    }
#else
    (void)w;
#endif
}

static enum anet_status commit(struct anet_db_writer *w)
{
    for (;;) {
        if (!w->txn) return ANET_OK;
        int rc = mdb_txn_commit(w->txn); /* frees the transaction, committed or not */
        w->txn = NULL;
        if (rc == 0) break;
        if (rc != MDB_MAP_FULL) return lmdb_fail(w, "write", rc);
        enum anet_status s = grow_and_replay(w);
        if (s) return s;
    }
    forget_pending(w);
    writeback_and_drop(w);
    return ANET_OK;
}

static enum anet_status remember_max_key(struct anet_db_writer *w, const char *key, size_t n)
{
    if (n > w->max_key_cap) {
        char *k = realloc(w->max_key, n);
        if (!k) return anet_fail(ANET_ERR_NOMEM, "out of memory writing '%s'", w->path);
        w->max_key = k, w->max_key_cap = n;
    }
    memcpy(w->max_key, key, n);
    w->max_key_len = n;
    return ANET_OK;
}

enum anet_status anet_db_put(struct anet_db_writer *w, const char *key, const void *val,
                             size_t len)
{
    if (w->failed)
        return anet_fail(ANET_ERR_IO, "cannot write '%s': an earlier write failed", w->path);
    size_t key_len = strlen(key), max = (size_t)mdb_env_get_maxkeysize(w->env);
    if (key_len == 0 || key_len > max)
        return anet_fail(ANET_ERR_INVALID, "'%s': key '%s' is %zu bytes; LMDB takes 1 to %zu",
                         w->path, key, key_len, max);
    int ascending = w->max_key_len == 0 || key_cmp(key, key_len, w->max_key, w->max_key_len) > 0;
    unsigned flags = ascending ? MDB_APPEND : MDB_NOOVERWRITE;
    enum anet_status s = keep(w, key, key_len, val, len, flags);
    if (s) return s;
    int rc = begin(w);
    if (rc) return lmdb_fail(w, "write", rc);
    rc = put_pending(w, &w->recs[w->nrecs - 1]);
    if (rc == MDB_KEYEXIST) {
        /* refused before LMDB changed anything: the transaction goes on without it */
        w->nrecs--;
        w->arena_len = w->recs[w->nrecs].off;
        return anet_fail(ANET_ERR_INVALID, "'%s': duplicate key '%s'", w->path, key);
    }
    if (rc == MDB_MAP_FULL) s = grow_and_replay(w);
    else if (rc) s = lmdb_fail(w, "write", rc);
    if (!s && ascending) s = remember_max_key(w, key, key_len);
    if (!s && (w->nrecs >= BATCH_RECORDS || w->arena_len >= BATCH_BYTES)) s = commit(w);
    return s;
}

static int valid_sidecar(const char *name)
{
    return name[0] && name[0] != '.' && !strchr(name, '/') && strcmp(name, "data.mdb") &&
           strcmp(name, "lock.mdb");
}

enum anet_status anet_db_add_file(struct anet_db_writer *w, const char *name, const void *data,
                                  size_t len)
{
    if (!valid_sidecar(name))
        return anet_fail(ANET_ERR_INVALID, "'%s': bad sidecar name '%s'", w->path, name);
    char **made = realloc(w->made, (size_t)(w->nmade + 1) * sizeof *made);
    char *copy = strdup(name);
    if (made) w->made = made;
    if (!made || !copy) {
        free(copy);
        return anet_fail(ANET_ERR_NOMEM, "out of memory writing '%s'", w->path);
    }
    int fd = create_in_temp(w, name);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) w->made[w->nmade++] = copy;
    else free(copy);
    for (const uint8_t *p = data; !e && len;) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) e = errno;
        else p += n, len -= (size_t)n;
    }
    if (!e && fsync(fd) != 0) e = errno;
    if (fd >= 0 && close(fd) != 0 && !e) e = errno;
    if (e) return anet_fail(ANET_ERR_IO, "cannot write '%s/%s': %s", w->path, name, strerror(e));
    return ANET_OK;
}

/* Puts the finished temp at path. Over an old database, the two directories swap places
 * in one step (readers see the old or the new one, never none), then the old one goes. */
static enum anet_status install(struct anet_db_writer *w)
{
    struct stat st;
    if (lstat(w->path, &st) != 0) {
        if (rename(w->tmp, w->path) != 0)
            return anet_fail(ANET_ERR_IO, "cannot rename '%s' to '%s': %s", w->tmp, w->path,
                             strerror(errno));
        return ANET_OK;
    }
    if (!w->overwrite)
        return anet_fail(ANET_ERR_IO, "'%s' exists (use --force to overwrite)", w->path);
    enum anet_status s = check_replaceable(w->path);
    if (s) return s;
    if (renameat2(AT_FDCWD, w->tmp, AT_FDCWD, w->path, RENAME_EXCHANGE) == 0) {
        /* the new database is in place; a leftover old one is not worth failing for */
        if (remove_db_dir(w->tmp))
            anet_log(ANET_LOG_WARN, "the replaced database stays at '%s': %s", w->tmp,
                     anet_error_detail());
        return ANET_OK;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return anet_fail(ANET_ERR_IO, "cannot rename '%s' to '%s': %s", w->tmp, w->path,
                         strerror(errno));
    /* a file system without the exchange: remove, then rename */
    if ((s = remove_db_dir(w->path))) return s;
    if (rename(w->tmp, w->path) != 0)
        return anet_fail(ANET_ERR_IO, "cannot rename '%s' to '%s': %s", w->tmp, w->path,
                         strerror(errno));
    return ANET_OK;
}

enum anet_status anet_db_finish(struct anet_db_writer *w)
{
    enum anet_status s = w->failed ? anet_fail(ANET_ERR_IO, "cannot write '%s': an earlier "
                                               "write failed", w->path)
                                   : commit(w);
    int rc;
    if (!s && (rc = mdb_env_sync(w->env, 1))) s = lmdb_fail(w, "sync", rc);
    if (s) {
        anet_db_abort(w);
        return s;
    }
    mdb_env_close(w->env);
    w->env = NULL;
    char *marker = join(w->tmp, INCOMPLETE_MARKER);
    if (!marker || unlink(marker) != 0)
        s = anet_fail(ANET_ERR_IO, "cannot finish '%s': %s", w->path, strerror(errno));
    free(marker);
    if (!s && !(s = fsync_dir(w->tmp)) && !(s = install(w))) s = fsync_parent(w->path);
    struct stat st;
    if (s && lstat(w->tmp, &st) == 0) remove_temp(w);
    writer_free(w);
    return s;
}

void anet_db_abort(struct anet_db_writer *w)
{
    if (!w) return;
    if (w->txn) mdb_txn_abort(w->txn);
    if (w->env) mdb_env_close(w->env);
    w->env = NULL;
    remove_temp(w);
    writer_free(w);
}

/* ---- the reader ------------------------------------------------------------------------- */

/* Opened MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS. Our databases are never written after
 * finish (a new one replaces the directory), so there is no writer for the lock table to
 * guard against; without it, lock.mdb need not be writable (read-only media, shared
 * datasets), and there is no limit of 126 readers. Each cursor owns a read transaction;
 * NOTLS ties it to the transaction, not the thread. */
struct anet_db {
    char *path;
    MDB_env *env;
    MDB_dbi dbi;
    size_t count;
    /* The record table of anet_db_records, built once under `lock`; its pointers live as
     * long as `recs_txn`, which stays open until the close. */
    pthread_mutex_t lock;
    int lock_ready;
    MDB_txn *recs_txn;
    struct anet_db_record *recs;
    size_t nrecs;
};

struct anet_db_cursor {
    const struct anet_db *db;
    MDB_txn *txn;
    MDB_cursor *cur;
    char *key; /* a NUL-terminated copy of the current key */
    size_t key_cap;
};

static enum anet_status check_db_dir(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return anet_fail(ANET_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return anet_fail(ANET_ERR_FORMAT, "'%s': not an LMDB database (not a directory)", path);
    char *data = join(path, "data.mdb");
    if (!data) return anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", path);
    int r = stat(data, &st), e = errno;
    free(data);
    if (r != 0 && e == ENOENT)
        return anet_fail(ANET_ERR_FORMAT, "'%s': not an LMDB database (no data.mdb)", path);
    if (r != 0) return anet_fail(ANET_ERR_IO, "cannot open '%s/data.mdb': %s", path, strerror(e));
    char *marker = join(path, INCOMPLETE_MARKER);
    if (!marker) return anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", path);
    struct stat ms;
    r = lstat(marker, &ms);
    free(marker);
    if (r == 0)
        return anet_fail(ANET_ERR_FORMAT, "'%s' is an unfinished database, left by an "
                         "alexnet-prep that did not complete (it may be removed)", path);
    /* an empty data.mdb would be taken for a new database */
    if (!S_ISREG(st.st_mode) || st.st_size < 2 * 4096)
        return anet_fail(ANET_ERR_FORMAT, "'%s': not an LMDB database (data.mdb is %s)", path,
                         S_ISREG(st.st_mode) ? "too short" : "not a file");
    return ANET_OK;
}

/* The map covers the file and no more: the check has made sure every page LMDB reaches is
 * inside it. */
static enum anet_status db_open_env(struct anet_db *db, uint64_t file_size)
{
    int rc = mdb_env_create(&db->env);
    if (rc) return db->env = NULL, anet_fail(ANET_ERR_IO, "cannot open '%s': %s", db->path,
                                             mdb_strerror(rc));
    if ((rc = mdb_env_set_mapsize(db->env, (size_t)file_size)))
        return anet_fail(ANET_ERR_IO, "cannot open '%s': %s", db->path, mdb_strerror(rc));
    rc = mdb_env_open(db->env, db->path, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0);
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
        return anet_fail(ANET_ERR_FORMAT, "'%s': not an LMDB database (%s)", db->path,
                         mdb_strerror(rc));
    if (rc) return anet_fail(ANET_ERR_IO, "cannot open '%s': %s", db->path, mdb_strerror(rc));
    MDB_txn *txn;
    MDB_stat st;
    if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)))
        return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", db->path, mdb_strerror(rc));
    if (!(rc = mdb_dbi_open(txn, NULL, 0, &db->dbi))) rc = mdb_stat(txn, db->dbi, &st);
    mdb_txn_abort(txn);
    if (rc) return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", db->path, mdb_strerror(rc));
    db->count = st.ms_entries;
    return ANET_OK;
}

enum anet_status anet_db_open(const char *path, struct anet_db **out)
{
    *out = NULL;
    enum anet_status s = check_db_dir(path);
    if (s) return s;
    struct anet_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    if (pthread_mutex_init(&db->lock, NULL) != 0) {
        anet_db_close(db);
        return anet_fail(ANET_ERR_NOMEM, "cannot create a lock for '%s'", path);
    }
    db->lock_ready = 1;
    char *data = join(path, "data.mdb");
    uint64_t entries = 0, size = 0;
    s = data ? anet_lmdb_check(path, data, &entries, &size)
             : anet_fail(ANET_ERR_NOMEM, "out of memory opening '%s'", path);
    free(data);
    if (s || (s = db_open_env(db, size))) {
        anet_db_close(db);
        return s;
    }
    *out = db;
    return ANET_OK;
}

void anet_db_close(struct anet_db *db)
{
    if (!db) return;
    if (db->recs_txn) mdb_txn_abort(db->recs_txn);
    if (db->env) mdb_env_close(db->env);
    if (db->lock_ready) pthread_mutex_destroy(&db->lock);
    free(db->recs);
    free(db->path);
    free(db);
}

size_t anet_db_count(const struct anet_db *db) { return db->count; }
const char *anet_db_path(const struct anet_db *db) { return db->path; }

enum anet_status anet_db_cursor_open(struct anet_db *db, struct anet_db_cursor **out)
{
    *out = NULL;
    struct anet_db_cursor *c = calloc(1, sizeof *c);
    if (!c) return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", db->path);
    c->db = db;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &c->txn);
    if (!rc) rc = mdb_cursor_open(c->txn, db->dbi, &c->cur);
    if (rc) {
        anet_db_cursor_close(c);
        return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", db->path, mdb_strerror(rc));
    }
    *out = c;
    return ANET_OK;
}

enum anet_status anet_db_cursor_next(struct anet_db_cursor *c, const char **key,
                                     size_t *key_len, const void **val, size_t *val_len)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT);
    *key = NULL, *key_len = 0, *val = NULL, *val_len = 0;
    if (rc == MDB_NOTFOUND) return ANET_OK;
    if (rc)
        return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", c->db->path, mdb_strerror(rc));
    if (k.mv_size + 1 > c->key_cap) {
        char *p = realloc(c->key, k.mv_size + 1);
        if (!p) return anet_fail(ANET_ERR_NOMEM, "out of memory reading '%s'", c->db->path);
        c->key = p, c->key_cap = k.mv_size + 1;
    }
    memcpy(c->key, k.mv_data, k.mv_size);
    c->key[k.mv_size] = 0;
    *key = c->key, *key_len = k.mv_size, *val = v.mv_data, *val_len = v.mv_size;
    return ANET_OK;
}

void anet_db_cursor_close(struct anet_db_cursor *c)
{
    if (!c) return;
    if (c->cur) mdb_cursor_close(c->cur);
    if (c->txn) mdb_txn_abort(c->txn);
    free(c->key);
    free(c);
}

/* ---- the record table --------------------------------------------------------------------
 * One pass of a cursor over the keys. A large value lives in overflow pages; LMDB hands out
 * a pointer to them without reading them (the map is read-only and not written through),
 * so the pass reads the B-tree pages only and a 1.28 M-record database is listed in a
 * fraction of a second. */

static enum anet_status list_records(struct anet_db *db, struct anet_db_record *recs)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(db->recs_txn, db->dbi, &cur);
    if (rc) return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", db->path, mdb_strerror(rc));
    MDB_val k, v;
    size_t n = 0;
    while (!(rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        if (n == db->count) break;
        recs[n++] = (struct anet_db_record){k.mv_data, k.mv_size, v.mv_data, v.mv_size};
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", db->path, mdb_strerror(rc));
    if (n != db->count || !rc)
        return anet_fail(ANET_ERR_FORMAT, "'%s': the database counts %zu records but holds %s%zu",
                         db->path, db->count, rc ? "" : "more than ", n);
    return ANET_OK;
}

static enum anet_status build_records(struct anet_db *db)
{
    struct anet_db_record *recs = malloc((db->count ? db->count : 1) * sizeof *recs);
    if (!recs)
        return anet_fail(ANET_ERR_NOMEM, "out of memory listing the %zu records of '%s'",
                         db->count, db->path);
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &db->recs_txn);
    if (rc) {
        free(recs);
        db->recs_txn = NULL;
        return anet_fail(ANET_ERR_IO, "cannot read '%s': %s", db->path, mdb_strerror(rc));
    }
    enum anet_status s = list_records(db, recs);
    if (s) {
        free(recs);
        mdb_txn_abort(db->recs_txn);
        db->recs_txn = NULL;
        return s;
    }
    db->recs = recs, db->nrecs = db->count;
    return ANET_OK;
}

/* Thread-safe: the first caller builds the table under the database's lock, later callers
 * (on any thread) get the same one. A failed build is tried again by the next call. */
enum anet_status anet_db_records(struct anet_db *db, const struct anet_db_record **recs,
                                 size_t *count)
{
    pthread_mutex_lock(&db->lock);
    enum anet_status s = db->recs ? ANET_OK : build_records(db);
    pthread_mutex_unlock(&db->lock);
    *recs = s ? NULL : db->recs;
    *count = s ? 0 : db->nrecs;
    return s;
}
