/* LMDB databases: write, finish, reopen and read back; the database appears only at
 * finish; abort leaves nothing; overwriting; growth past a tiny map; duplicate keys; open
 * errors; sidecar files; readers on several threads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/data.h"
#include "scratch.h"
#include "test.h"

/* Not in data.h: the first map size, so that a test can make the map grow. */
enum anet_status anet_db_writer_set_map_size(struct anet_db_writer *w, size_t bytes);

static char dir[] = "/tmp/anet-db-XXXXXX";

/* The detail of a failure, and nothing stale after a success. */
static const char *why(enum anet_status s) { return s ? anet_error_detail() : "ok"; }

static const char *in_dir(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static char *temp_of(const char *path)
{
    static char t[600];
    snprintf(t, sizeof t, "%s.tmp.%ld", path, (long)getpid());
    return t;
}

/* Entries of the test directory other than those named (NULL-terminated list). */
static int strays(const char *const *keep)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int kept = 0;
        for (int i = 0; keep[i]; i++) kept |= !strcmp(e->d_name, keep[i]);
        if (!kept) {
            printf("# stray: %s\n", e->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Record i: a value whose length and bytes follow from i. */
static size_t value_len(int i, size_t base) { return base + (size_t)(i * 7919) % 1000; }
static void value_fill(uint8_t *v, size_t n, int i)
{
    for (size_t j = 0; j < n; j++) v[j] = (uint8_t)(j * 31 + (size_t)i * 17 + (j >> 8));
}

static enum anet_status write_records(const char *path, int overwrite, int n, size_t base,
                                      size_t map)
{
    struct anet_db_writer *w;
    enum anet_status s = anet_db_create(path, overwrite, &w);
    if (s) return s;
    if (map && (s = anet_db_writer_set_map_size(w, map))) return anet_db_abort(w), s;
    uint8_t *v = malloc(base + 1000);
    char key[64];
    for (int i = 0; i < n && !s; i++) {
        size_t len = value_len(i, base);
        value_fill(v, len, i);
        snprintf(key, sizeof key, "%08d_n%03d/img_%d.JPEG", i, i % 13, i);
        s = anet_db_put(w, key, v, len);
    }
    free(v);
    if (s) return anet_db_abort(w), s;
    return anet_db_finish(w);
}

/* Reads every record back: keys in order, values intact; returns the number right. */
static int check_records(const char *path, int n, size_t base)
{
    struct anet_db *db;
    if (anet_db_open(path, &db)) {
        printf("# open: %s\n", anet_error_detail());
        return -1;
    }
    struct anet_db_cursor *c;
    int right = 0, count = (int)anet_db_count(db);
    uint8_t *v = malloc(base + 1000);
    if (count == n && !anet_db_cursor_open(db, &c)) {
        const char *key;
        const void *val;
        size_t kl, vl;
        char want[64];
        for (int i = 0; i <= n; i++) {
            if (anet_db_cursor_next(c, &key, &kl, &val, &vl)) break;
            if (i == n) {
                right += key == NULL;
                break;
            }
            size_t len = value_len(i, base);
            value_fill(v, len, i);
            snprintf(want, sizeof want, "%08d_n%03d/img_%d.JPEG", i, i % 13, i);
            right += key && !strcmp(key, want) && kl == strlen(want) && vl == len &&
                     !memcmp(val, v, len);
        }
        anet_db_cursor_close(c);
    }
    free(v);
    anet_db_close(db);
    return right;
}

static void test_write_read(void)
{
    const char *path = in_dir("a.lmdb");
    struct anet_db_writer *w;
    enum anet_status s = anet_db_create(path, 0, &w);
    T_OK(s == ANET_OK, "create (%s)", why(s));
    if (s) return;
    uint8_t v[600];
    char key[64];
    int n = 2500;
    for (int i = 0; i < n && !s; i++) {
        size_t len = value_len(i, 0) % sizeof v;
        value_fill(v, len, i);
        snprintf(key, sizeof key, "%08d_n%03d/img_%d.JPEG", i, i % 13, i);
        s = anet_db_put(w, key, v, len);
    }
    T_OK(s == ANET_OK, "2500 puts (%s)", why(s));
    T_OK(!exists(path) && exists(temp_of(path)),
         "before finish: no '%s', only its temp", "a.lmdb");
    s = anet_db_finish(w);
    T_OK(s == ANET_OK && exists(path) && !exists(temp_of(path)),
         "after finish: the database, no temp (%s)", why(s));
    T_OK(exists(in_dir("a.lmdb/data.mdb")) && !exists(in_dir("a.lmdb/lock.mdb")) &&
             !exists(in_dir("a.lmdb/.alexnet-incomplete")),
         "data.mdb, no lock table (Caffe's readers make lock.mdb) and no marker");

    /* values of 0..599 bytes, as written */
    struct anet_db *db;
    s = anet_db_open(path, &db);
    T_OK(s == ANET_OK && anet_db_count(db) == (size_t)n && !strcmp(anet_db_path(db), path),
         "open: count %zu, path", s ? 0 : anet_db_count(db));
    if (s) return;
    struct anet_db_cursor *c;
    int right = 0;
    if (!anet_db_cursor_open(db, &c)) {
        const char *k;
        const void *val;
        size_t kl, vl;
        for (int i = 0; i < n; i++) {
            if (anet_db_cursor_next(c, &k, &kl, &val, &vl) || !k) break;
            size_t len = value_len(i, 0) % sizeof v;
            value_fill(v, len, i);
            snprintf(key, sizeof key, "%08d_n%03d/img_%d.JPEG", i, i % 13, i);
            right += !strcmp(k, key) && vl == len && !memcmp(val, v, len);
        }
        int at_end = !anet_db_cursor_next(c, &k, &kl, &val, &vl) && !k && !val &&
                     !anet_db_cursor_next(c, &k, &kl, &val, &vl) && !k;
        T_OK(right == n && at_end, "%d of %d records in key order with their values; then "
                                   "the end, twice",
             right, n);
        anet_db_cursor_close(c);
    }
    anet_db_close(db);
}

/* Keys given out of order come back in LMDB's order: bytes, then the shorter first. */
static void test_key_order(void)
{
    const char *path = in_dir("order.lmdb");
    const char *keys[] = {"b", "a0", "a", "\xC3\xA9", "B", "ab", "a00", "c", "0"};
    const char *sorted[] = {"0", "B", "a", "a0", "a00", "ab", "b", "c", "\xC3\xA9"};
    int n = sizeof keys / sizeof keys[0];
    struct anet_db_writer *w;
    if (anet_db_create(path, 0, &w)) {
        T_OK(0, "create: %s", anet_error_detail());
        return;
    }
    enum anet_status s = ANET_OK;
    for (int i = 0; i < n && !s; i++) s = anet_db_put(w, keys[i], keys[i], strlen(keys[i]));
    if (!s) s = anet_db_finish(w);
    else anet_db_abort(w);
    struct anet_db *db;
    int right = 0;
    if (!s && !(s = anet_db_open(path, &db))) {
        struct anet_db_cursor *c;
        if (!anet_db_cursor_open(db, &c)) {
            const char *k;
            const void *v;
            size_t kl, vl;
            for (int i = 0; i < n; i++)
                if (!anet_db_cursor_next(c, &k, &kl, &v, &vl) && k && !strcmp(k, sorted[i]) &&
                    vl == kl && !memcmp(v, k, kl))
                    right++;
            anet_db_cursor_close(c);
        }
        anet_db_close(db);
    }
    T_OK(right == n, "keys put out of order are read in byte order (%d of %d; %s)", right, n,
         why(s));
}

static void test_abort(void)
{
    const char *path = in_dir("aborted.lmdb");
    struct anet_db_writer *w;
    if (anet_db_create(path, 0, &w)) {
        T_OK(0, "create: %s", anet_error_detail());
        return;
    }
    anet_db_put(w, "k1", "v", 1);
    anet_db_add_file(w, "classes.tsv", "x", 1);
    anet_db_abort(w);
    T_OK(!exists(path) && !exists(temp_of(path)), "abort leaves neither the database nor a temp");
    anet_db_abort(NULL);
}

static void test_overwrite(void)
{
    const char *path = in_dir("over.lmdb");
    write_records(path, 0, 10, 100, 0);
    enum anet_status s = write_records(path, 0, 20, 100, 0);
    char want[600];
    snprintf(want, sizeof want, "'%s' exists (use --force to overwrite)", path);
    T_OK(s == ANET_ERR_IO && !strcmp(anet_error_detail(), want), "no overwrite without the "
                                                                  "flag: %s",
         anet_error_detail());
    T_OK(check_records(path, 10, 100) == 11, "the old database is intact");
    s = write_records(path, 1, 20, 100, 0);
    T_OK(s == ANET_OK && check_records(path, 20, 100) == 21, "overwritten with the flag (%s)",
         why(s));

    /* "x.lmdb/" is the directory x.lmdb: the temp is its sibling */
    char slash[600];
    snprintf(slash, sizeof slash, "%s/", path);
    s = write_records(slash, 1, 5, 100, 0);
    T_OK(s == ANET_OK && check_records(path, 5, 100) == 6, "a path with a trailing slash (%s)",
         why(s));

    /* what does not look like a database is never deleted */
    const char *plain = in_dir("plain.lmdb");
    FILE *f = fopen(plain, "w");
    fputs("precious", f);
    fclose(f);
    s = write_records(plain, 1, 5, 100, 0);
    T_OK(s == ANET_ERR_IO && strstr(anet_error_detail(), "refusing to replace") && exists(plain),
         "a plain file is not replaced: %s", anet_error_detail());

    const char *empty = in_dir("empty.lmdb");
    mkdir(empty, 0777);
    s = write_records(empty, 1, 5, 100, 0);
    T_OK(s == ANET_ERR_IO && strstr(anet_error_detail(), "no LMDB data.mdb") && exists(empty),
         "a directory without data.mdb is not replaced: %s", anet_error_detail());

    const char *sub = in_dir("sub.lmdb");
    write_records(sub, 0, 5, 100, 0);
    mkdir(in_dir("sub.lmdb/keep"), 0777);
    s = write_records(sub, 1, 5, 100, 0);
    T_OK(s == ANET_ERR_IO && strstr(anet_error_detail(), "('keep')") &&
             exists(in_dir("sub.lmdb/keep")),
         "a database directory holding a subdirectory is not replaced: %s",
         anet_error_detail());

    const char *fake = in_dir("fake.lmdb");
    mkdir(fake, 0777);
    f = fopen(in_dir("fake.lmdb/data.mdb"), "w");
    for (int i = 0; i < 5000; i++) fputs("notlmdb", f);
    fclose(f);
    s = write_records(fake, 1, 5, 100, 0);
    T_OK(s == ANET_ERR_IO && exists(in_dir("fake.lmdb/data.mdb")),
         "a data.mdb that is not LMDB is not replaced: %s", anet_error_detail());
    const char *keep[] = {"a.lmdb", "order.lmdb", "over.lmdb", "plain.lmdb", "empty.lmdb",
                          "sub.lmdb", "fake.lmdb", NULL};
    T_OK(strays(keep) == 0, "no temp left behind by the refusals");
}

/* A 64 KiB first map must grow to hold thousands of records, some of them large: every
 * MDB_MAP_FULL is absorbed (the map grows and the transaction is replayed). */
static void test_growth(void)
{
    const char *path = in_dir("grow.lmdb");
    enum anet_status s = write_records(path, 0, 4000, 3000, 64 << 10);
    struct stat st;
    long long size = stat(in_dir("grow.lmdb/data.mdb"), &st) == 0 ? (long long)st.st_size : 0;
    T_OK(s == ANET_OK && size > 12000000,
         "4000 records of 3-4 KB into a 64 KiB map: data.mdb of %lld bytes (%s)", size, why(s));
    T_OK(check_records(path, 4000, 3000) == 4001, "all 4000 read back intact");

    const char *big = in_dir("growbig.lmdb");
    s = write_records(big, 0, 300, 600000, 64 << 10);
    T_OK(s == ANET_OK && check_records(big, 300, 600000) == 301,
         "300 records of 600 KB (180 MB, several 64 MiB batches) into a 64 KiB map (%s)",
         why(s));
    t_remove_tree(big);

    /* keys in scattered order (no MDB_APPEND) into a 64 KiB map; with LMDB 0.9.24 this
     * meets MDB_MAP_FULL inside mdb_txn_commit as well as inside mdb_put */
    const char *scattered = in_dir("scattered.lmdb");
    struct anet_db_writer *w;
    s = anet_db_create(scattered, 0, &w);
    if (!s) s = anet_db_writer_set_map_size(w, 64 << 10);
    char key[32], val[100];
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 2500 && !s; i++) {
        snprintf(key, sizeof key, "%08d", i * 7919 % 100003);
        val[0] = (char)i;
        s = anet_db_put(w, key, val, sizeof val);
    }
    s = s ? (anet_db_abort(w), s) : anet_db_finish(w);
    struct anet_db *db;
    int right = 0;
    if (!s && !(s = anet_db_open(scattered, &db))) {
        struct anet_db_cursor *c;
        const char *k, *prev = "";
        const void *v;
        size_t kl, vl;
        char last[32] = "";
        if (!anet_db_cursor_open(db, &c)) {
            while (!anet_db_cursor_next(c, &k, &kl, &v, &vl) && k) {
                int i = 0;
                while (i < 2500 && atoi(k) != i * 7919 % 100003) i++;
                right += strcmp(k, prev) > 0 && vl == sizeof val && ((const char *)v)[0] == (char)i;
                snprintf(last, sizeof last, "%s", k);
                prev = last;
            }
            anet_db_cursor_close(c);
        }
        anet_db_close(db);
    }
    T_OK(right == 2500, "2500 records in scattered key order into a 64 KiB map: %d in order "
                        "and intact (%s)",
         right, why(s));
    t_remove_tree(scattered);
}

static void test_duplicates(void)
{
    const char *path = in_dir("dup.lmdb");
    struct anet_db_writer *w;
    if (anet_db_create(path, 0, &w)) {
        T_OK(0, "create: %s", anet_error_detail());
        return;
    }
    char key[32];
    enum anet_status s = ANET_OK;
    for (int i = 0; i < 1500 && !s; i++) { /* past the first commit at 1000 */
        snprintf(key, sizeof key, "%08d", i);
        s = anet_db_put(w, key, "first", 5);
    }
    s = anet_db_put(w, "00000003", "again", 5);
    T_OK(s == ANET_ERR_INVALID && strstr(anet_error_detail(), "duplicate key '00000003'"),
         "a key committed earlier, again: %s", anet_error_detail());
    s = anet_db_put(w, "00001499", "again", 5);
    T_OK(s == ANET_ERR_INVALID && strstr(anet_error_detail(), "duplicate key '00001499'"),
         "the last key put, again: %s", anet_error_detail());
    s = anet_db_put(w, "00001500", "more", 4);
    T_OK(s == ANET_OK, "puts go on after a duplicate (%s)", why(s));
    char longkey[600];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    T_OK(anet_db_put(w, longkey, "v", 1) == ANET_ERR_INVALID &&
             strstr(anet_error_detail(), "is 599 bytes; LMDB takes 1 to 511"),
         "a 599-byte key is refused: %.60s...", anet_error_detail());
    T_OK(anet_db_put(w, "", "v", 1) == ANET_ERR_INVALID, "an empty key is refused");
    s = anet_db_finish(w);
    struct anet_db *db;
    if (!s) s = anet_db_open(path, &db);
    int first = 0;
    if (!s) {
        struct anet_db_cursor *c;
        const char *k;
        const void *v;
        size_t kl, vl;
        if (!anet_db_cursor_open(db, &c)) {
            for (int i = 0; i < 4; i++) anet_db_cursor_next(c, &k, &kl, &v, &vl);
            first = k && !strcmp(k, "00000003") && vl == 5 && !memcmp(v, "first", 5);
            anet_db_cursor_close(c);
        }
    }
    T_OK(!s && anet_db_count(db) == 1501 && first,
         "finish: 1501 records, the first value of a duplicate kept (%s)", why(s));
    if (!s) anet_db_close(db);
}

static void test_open_errors(void)
{
    struct anet_db *db = (struct anet_db *)1;
    const char *missing = in_dir("missing.lmdb");
    char want[700];
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", missing);
    T_OK(anet_db_open(missing, &db) == ANET_ERR_IO && !strcmp(anet_error_detail(), want) && !db,
         "missing: %s", anet_error_detail());

    static const struct { const char *name, *says; } bad[] = {
        {"plain.lmdb", "not an LMDB database (not a directory)"},
        {"empty.lmdb", "not an LMDB database (no data.mdb)"},
        {"fake.lmdb", "not an LMDB database (meta page 0)"},
        {"short.lmdb", "not an LMDB database (data.mdb is too short)"},
    };
    mkdir(in_dir("short.lmdb"), 0777);
    close(open(in_dir("short.lmdb/data.mdb"), O_WRONLY | O_CREAT, 0666));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = in_dir(bad[i].name);
        snprintf(want, sizeof want, "'%s': %s", p, bad[i].says);
        T_OK(anet_db_open(p, &db) == ANET_ERR_FORMAT &&
                 !strncmp(anet_error_detail(), want, strlen(want)),
             "%s: %s", bad[i].name, anet_error_detail());
    }
}

/* A database to damage: small values inline, big ones in overflow pages, enough keys for
 * a tree three levels deep. Returns its data.mdb, read whole into *len bytes. */
static uint8_t *damage_target(const char *path, size_t *len)
{
    struct anet_db_writer *w;
    if (anet_db_create(path, 0, &w)) return NULL;
    uint8_t v[6000];
    char key[300];
    enum anet_status s = ANET_OK;
    for (int i = 0; i < 4000 && !s; i++) {
        size_t n = i % 400 == 0 ? 5000 + (size_t)i % 900 : (size_t)(i % 40);
        value_fill(v, n, i);
        snprintf(key, sizeof key, "%08d_%.*s", i, 8 + i % 200, "a-long-key-padding-to-make-pages-"
                 "fill-up-faster-and-the-tree-grow-deeper-so-that-branch-pages-are-damaged-too-"
                 "abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvw");
        s = anet_db_put(w, key, v, n);
    }
    if (s || anet_db_finish(w)) return NULL;
    char file[600];
    snprintf(file, sizeof file, "%s/data.mdb", path);
    FILE *f = fopen(file, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*len);
    if (b && fread(b, 1, *len, f) != *len) free(b), b = NULL;
    fclose(f);
    return b;
}

/* Opens the database and reads every record both ways; the status of the first failure. */
static enum anet_status read_everything(const char *path, uint64_t *sum)
{
    struct anet_db *db;
    enum anet_status s = anet_db_open(path, &db);
    if (s) return s;
    struct anet_db_cursor *c;
    if (!(s = anet_db_cursor_open(db, &c))) {
        const char *k;
        const void *val;
        size_t kl, vl;
        while (!(s = anet_db_cursor_next(c, &k, &kl, &val, &vl)) && k)
            for (size_t i = 0; i < vl; i += 97) *sum += ((const uint8_t *)val)[i] + kl;
        anet_db_cursor_close(c);
    }
    const struct anet_db_record *r;
    size_t n;
    if (!s && !(s = anet_db_records(db, &r, &n)))
        for (size_t i = 0; i < n; i++) *sum += r[i].val_len ? ((const uint8_t *)r[i].val)[r[i].val_len - 1] : 0;
    anet_db_close(db);
    return s;
}

/* Damage in the pages LMDB trusts (meta pages, branch and leaf pages) must be an error
 * naming the database, never a crash: every byte of the first pages and a few thousand
 * random ones elsewhere get a bit flipped, or 0x00 or 0xFF written. */
static void test_damage(void)
{
    const char *path = in_dir("damage.lmdb"), *copy = in_dir("dmg.lmdb");
    size_t len = 0;
    uint8_t *good = damage_target(path, &len);
    T_OK(good && len > 16 * 4096, "a database of %zu bytes to damage", len);
    if (!good) return;
    uint64_t sum = 0;
    T_OK(read_everything(path, &sum) == ANET_OK, "it reads whole: %s", anet_error_detail());
    mkdir(copy, 0777);
    char file[600];
    snprintf(file, sizeof file, "%s/data.mdb", copy);
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0666);
    int crashes = fd < 0 || write(fd, good, len) != (ssize_t)len;
    int refused = 0, named = 0, trials = 0;
    t_seed(15);
    /* the meta pages, then offsets in the branch and leaf pages (flags 1 or 2 at byte 10) */
    size_t tree[4096], ntree = 0;
    for (size_t pg = 2; pg < len / 4096 && ntree < 4096; pg++)
        if (good[pg * 4096 + 10] == 1 || good[pg * 4096 + 10] == 2) tree[ntree++] = pg;
    for (int t = 0; t < 4000 && !crashes; t++) {
        size_t pg = tree[(size_t)t_uniform(0, (double)ntree)];
        size_t at = t < 2 * 160 ? (size_t)(t / 160 * 4096 + t % 160)
                                : pg * 4096 + (size_t)(t % 2 ? t_uniform(0, 64) : t_uniform(0, 4096));
        int how = t % 3;
        uint8_t b = how == 0 ? good[at] ^ (uint8_t)(1u << (t % 8)) : how == 1 ? 0x00 : 0xFF;
        if (b == good[at]) continue;
        crashes += pwrite(fd, &b, 1, (off_t)at) != 1; /* one byte damaged ... */
        enum anet_status s = read_everything(copy, &sum);
        crashes += pwrite(fd, good + at, 1, (off_t)at) != 1; /* ... and mended */
        trials++;
        if (s) {
            refused++;
            named += strstr(anet_error_detail(), copy) != NULL;
        }
    }
    close(fd);
    T_OK(crashes == 0 && trials > 3000 && ntree > 20, "%d damaged copies read without a crash: %d refused, "
                                        "the others read as some other data (%zu tree pages)", trials, refused, ntree);
    T_OK(named == refused, "every refusal names the database (%d of %d)", named, refused);
    free(good);
}

static void test_sidecar(void)
{
    const char *path = in_dir("side.lmdb");
    struct anet_db_writer *w;
    if (anet_db_create(path, 0, &w)) {
        T_OK(0, "create: %s", anet_error_detail());
        return;
    }
    const char *text = "#index\twnid\twords\n0\tn01\tone\n";
    enum anet_status s = anet_db_put(w, "k", "v", 1);
    if (!s) s = anet_db_add_file(w, "classes.tsv", text, strlen(text));
    T_OK(s == ANET_OK && !exists(path), "sidecar added; nothing at the path yet (%s)", why(s));
    const char *names[] = {"", ".hidden", "../escape", "a/b", "data.mdb", "lock.mdb"};
    int refused = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        refused += anet_db_add_file(w, names[i], "x", 1) == ANET_ERR_INVALID;
    T_OK(refused == 6, "bad sidecar names refused (%d of 6)", refused);
    s = anet_db_finish(w);
    char got[128] = "";
    FILE *f = fopen(in_dir("side.lmdb/classes.tsv"), "r");
    if (f) {
        size_t n = fread(got, 1, sizeof got - 1, f);
        got[n] = 0;
        fclose(f);
    }
    T_OK(s == ANET_OK && !strcmp(got, text), "the sidecar is in the database after finish");
    struct anet_db *db;
    s = anet_db_open(path, &db);
    T_OK(s == ANET_OK && anet_db_count(db) == 1, "a sidecar does not disturb the database");
    if (!s) anet_db_close(db);

    /* an empty database */
    const char *none = in_dir("none.lmdb");
    s = write_records(none, 0, 0, 0, 0);
    const char *k = "x";
    if (!s && !(s = anet_db_open(none, &db))) {
        struct anet_db_cursor *c;
        const void *v;
        size_t kl, vl;
        if (!anet_db_cursor_open(db, &c)) {
            anet_db_cursor_next(c, &k, &kl, &v, &vl);
            anet_db_cursor_close(c);
        }
        T_OK(anet_db_count(db) == 0 && !k, "an empty database: count 0, the cursor at its end");
        anet_db_close(db);
    } else {
        T_OK(0, "an empty database: %s", anet_error_detail());
    }
}

/* One cursor per thread, all reading the same database at once. */
struct reader_job {
    struct anet_db *db;
    uint64_t sum;
    size_t records;
    enum anet_status s;
};

static void *read_all(void *arg)
{
    struct reader_job *j = arg;
    struct anet_db_cursor *c;
    if ((j->s = anet_db_cursor_open(j->db, &c))) return NULL;
    const char *k;
    const void *v;
    size_t kl, vl;
    while (!(j->s = anet_db_cursor_next(c, &k, &kl, &v, &vl)) && k) {
        const uint8_t *b = v;
        for (size_t i = 0; i < vl; i += 97) j->sum = j->sum * 31 + b[i];
        j->records++;
    }
    anet_db_cursor_close(c);
    return NULL;
}

static void test_threads(void)
{
    struct anet_db *db;
    if (anet_db_open(in_dir("grow.lmdb"), &db)) {
        T_OK(0, "open grow.lmdb: %s", anet_error_detail());
        return;
    }
    enum { T = 8 };
    struct reader_job jobs[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        jobs[i] = (struct reader_job){db, 0, 0, ANET_OK};
        pthread_create(&th[i], NULL, read_all, &jobs[i]);
    }
    int same = 1;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        same &= jobs[i].s == ANET_OK && jobs[i].records == 4000 && jobs[i].sum == jobs[0].sum;
    }
    T_OK(same, "8 threads, a cursor each, read the same 4000 records at once");
    anet_db_close(db);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        T_OK(0, "mkdtemp: %s", strerror(errno));
        return t_done();
    }
    test_write_read();
    test_key_order();
    test_abort();
    test_overwrite();
    test_growth();
    test_duplicates();
    test_open_errors();
    test_damage();
    test_sidecar();
    test_threads();
    t_remove_tree(dir);
    return t_done();
}
