/* Feature files and the search over them (include/alexnet/features.h): .npy written and
 * read back bit for bit, the header forms NumPy writes, damaged files refused without a
 * crash; keys; exact k-NN against a brute force in double, whatever the blocks and threads;
 * the PNG writer against the decoder. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/features.h"
#include "alexnet/image.h"
#include "alexnet/threads.h"
#include "test.h"

static char dir[] = "/tmp/anet-features-XXXXXX";

static const char *tmp_path(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static int has(const char *text, const char *part) { return strstr(text, part) != NULL; }

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(b, 1, n, f);
    fclose(f);
}

/* ---- .npy ------------------------------------------------------------------------------------ */

static void test_npy_roundtrip(void)
{
    const char *path = tmp_path("a.npy");
    float x[5 * 7];
    t_seed(1);
    t_fill(x, 35, -3, 3);
    x[4] = -0.0f;
    struct anet_npy_writer *w;
    enum anet_status s = anet_npy_create(path, 7, 0, &w);
    if (!s) s = anet_npy_append(w, x, 3);
    struct stat st;
    T_OK(!s && stat(path, &st) != 0, "nothing at the path while the matrix is written");
    if (!s) s = anet_npy_append(w, x + 21, 2);
    if (!s) s = anet_npy_finish(w);
    T_OK(!s, "5 x 7 written in two pieces: %s", s ? anet_error_detail() : "ok");
    struct anet_npy f;
    float back[35];
    s = anet_npy_open(path, &f);
    T_OK(!s && f.rows == 5 && f.cols == 7 && f.offset == 128, "read: 5 x 7, data at byte 128");
    T_OK(!s && !anet_npy_read(&f, 0, 5, back) && !memcmp(back, x, sizeof x),
         "the floats bit for bit (-0 included)");
    T_OK(!s && !anet_npy_read(&f, 3, 2, back) && !memcmp(back, x + 21, 2 * 7 * 4),
         "rows 3..4 alone");
    T_OK(!s && anet_npy_read(&f, 4, 2, back) == ANET_ERR_INVALID, "rows past the end refused");
    anet_npy_close(&f);
    T_OK(anet_npy_create(path, 7, 0, &w) == ANET_ERR_IO && has(anet_error_detail(), "exists"),
         "an existing file is refused without overwrite");
    T_OK(anet_npy_create(path, 7, 1, &w) == ANET_OK && anet_npy_finish(w) == ANET_OK &&
             anet_npy_open(path, &f) == ANET_OK && f.rows == 0,
         "with overwrite: an empty 0 x 7 matrix");
    anet_npy_close(&f);
}

/* A .npy file with the given version, header text and float count (data 1, 2, 3, ...). */
static void npy_with(const char *path, int major, const char *dict, size_t floats)
{
    unsigned char buf[4096];
    size_t n = 0, len = strlen(dict);
    memcpy(buf, "\x93NUMPY", 6), n = 6;
    buf[n++] = (unsigned char)major, buf[n++] = 0;
    for (int i = 0; i < (major == 1 ? 2 : 4); i++) buf[n++] = (unsigned char)(len >> (8 * i));
    memcpy(buf + n, dict, len), n += len;
    for (size_t i = 0; i < floats; i++) {
        float v = (float)(i + 1);
        memcpy(buf + n, &v, 4), n += 4;
    }
    write_bytes(path, buf, n);
}

static void test_npy_headers(void)
{
    const char *path = tmp_path("h.npy");
    struct anet_npy f;
    static const struct {
        int major;
        const char *dict;
        size_t floats;
        uint64_t rows, cols;
    } good[] = {
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }      \n", 6, 3, 2},
        {2, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}\n", 6, 2, 3},
        {3, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (4,)}\n", 4, 4, 1},
        {1, "{'descr':'<f4','fortran_order':False,'shape':(0, 5)}\n", 0, 0, 5},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        npy_with(path, good[i].major, good[i].dict, good[i].floats);
        enum anet_status s = anet_npy_open(path, &f);
        T_OK(!s && f.rows == good[i].rows && f.cols == good[i].cols, "header %zu (version %d) "
             "reads as %llu x %llu: %s", i, good[i].major, (unsigned long long)good[i].rows,
             (unsigned long long)good[i].cols, s ? anet_error_detail() : "ok");
        anet_npy_close(&f);
    }
    static const struct {
        const char *dict;
        size_t floats;
        const char *why;
    } bad[] = {
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }\n", 12, "dtype '<f8'"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }\n", 6, "Fortran"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2, 1), }\n", 6, "more than 2"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }\n", 5, "needs 24 bytes"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }\n", 7, "needs 24 bytes"},
        {"{'descr': '<f4', 'shape': (3, 2), }\n", 6, "missing"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'x': 1}\n", 6, "unknown key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2), }\n", 6, "other than sizes"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999, 2), }\n", 6,
         "too large"},
        {"['descr', '<f4']\n", 0, "not a dict"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        npy_with(path, 1, bad[i].dict, bad[i].floats);
        enum anet_status s = anet_npy_open(path, &f);
        T_OK(s == ANET_ERR_FORMAT && has(anet_error_detail(), bad[i].why) &&
                 has(anet_error_detail(), "h.npy"),
             "refused: %s", anet_error_detail());
        anet_npy_close(&f);
    }
    npy_with(path, 4, "{}", 0);
    T_OK(anet_npy_open(path, &f) == ANET_ERR_FORMAT && has(anet_error_detail(), "version 4.0"),
         "version 4.0 refused: %s", anet_error_detail());
    T_OK(anet_npy_open(tmp_path("none.npy"), &f) == ANET_ERR_IO, "a missing file: %s",
         anet_error_detail());
    T_OK(anet_npy_open(dir, &f) == ANET_ERR_IO && has(anet_error_detail(), "is a directory"),
         "a directory: %s", anet_error_detail());
    T_OK(anet_npy_open("/dev/zero", &f) == ANET_ERR_IO &&
             has(anet_error_detail(), "'/dev/zero' is a character device, not a .npy file"),
         "a device is refused as anet_file_open refuses it: %s", anet_error_detail());
}

/* The header from bytes in memory: what the file gives, and a header cut short refused. */
static void test_npy_header_bytes(void)
{
    const char *path = tmp_path("b.npy");
    float x[6] = {1, 2, 3, 4, 5, 6};
    struct anet_npy_writer *w;
    if (anet_npy_create(path, 3, 1, &w) || anet_npy_append(w, x, 2) || anet_npy_finish(w)) abort();
    uint8_t b[128 + 24];
    FILE *in = fopen(path, "rb");
    if (!in || fread(b, 1, sizeof b, in) != sizeof b) abort();
    fclose(in);
    struct anet_npy m;
    T_OK(anet_npy_header(b, sizeof b, sizeof b, "mem", &m) == ANET_OK && m.rows == 2 &&
             m.cols == 3 && m.offset == 128 && m.fd == -1 && !m.path,
         "anet_npy_header: 2 x 3 at byte 128, from bytes");
    T_OK(anet_npy_header(b, 100, sizeof b, "mem", &m) == ANET_ERR_FORMAT &&
             has(anet_error_detail(), "'mem': a .npy header of 118 bytes; 100 given"),
         "bytes that end inside the header are refused: %s", anet_error_detail());
    T_OK(anet_npy_header(b, 8, sizeof b, "mem", &m) == ANET_ERR_FORMAT &&
             has(anet_error_detail(), "preamble cut short (8 bytes given)"),
         "bytes that end inside the preamble are refused: %s", anet_error_detail());
}

/* Every prefix and every one-byte change of the header: refused or read, never a crash, and
 * a file read is one whose data fits. */
static void test_npy_damage(void)
{
    const char *good = tmp_path("a.npy"), *path = tmp_path("d.npy");
    float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    struct anet_npy_writer *w;
    if (anet_npy_create(good, 4, 1, &w) || anet_npy_append(w, x, 3) || anet_npy_finish(w)) abort();
    unsigned char b[128 + 48], c[sizeof b];
    FILE *f = fopen(good, "rb");
    if (!f || fread(b, 1, sizeof b, f) != sizeof b) abort();
    fclose(f);
    int ok = 1;
    struct anet_npy m;
    for (size_t n = 0; n < sizeof b; n++) {
        write_bytes(path, b, n);
        ok &= anet_npy_open(path, &m) != ANET_OK;
        anet_npy_close(&m);
    }
    T_OK(ok, "every cut of the file is refused");
    t_seed(3);
    int opened = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(c, b, sizeof b);
        c[(size_t)t_uniform(0, 128)] = (unsigned char)t_uniform(0, 256);
        write_bytes(path, c, sizeof c);
        if (anet_npy_open(path, &m) == ANET_OK) {
            opened++;
            ok &= m.offset + m.rows * m.cols * 4 == sizeof c;
        }
        anet_npy_close(&m);
    }
    T_OK(ok, "3000 one-byte changes of the header: no crash; each file read is consistent "
         "(%d read)", opened);
}

/* ---- keys ------------------------------------------------------------------------------------ */

static void test_keys(void)
{
    const char *path = tmp_path("k.tsv");
    const char text[] = "#key\tlabel\nimg/a.png\t3\r\nimg/b c.png\n# a comment\n00000002_x\textra\tmore\n";
    write_bytes(path, text, sizeof text - 1);
    struct anet_keys k;
    enum anet_status s = anet_keys_read(path, &k);
    T_OK(!s && k.count == 3 && !strcmp(k.key[0], "img/a.png") && !strcmp(k.key[1], "img/b c.png") &&
             !strcmp(k.key[2], "00000002_x"),
         "keys: the first field, comments skipped, CRLF and spaces handled");
    anet_keys_free(&k);
    write_bytes(path, "a\n\tb\n", 5);
    T_OK(anet_keys_read(path, &k) == ANET_ERR_FORMAT && has(anet_error_detail(), "k.tsv:2: an empty key"),
         "an empty key: %s", anet_error_detail());
    FILE *f = fopen(path, "w");
    anet_keys_put_header(f);
    int put = !anet_keys_put(f, "x/y.png") && anet_keys_put(f, "a\tb") == ANET_ERR_INVALID &&
              anet_keys_put(f, "") == ANET_ERR_INVALID && anet_keys_put(f, "#x") == ANET_ERR_INVALID;
    fclose(f);
    T_OK(put && !anet_keys_read(path, &k) && k.count == 1 && !strcmp(k.key[0], "x/y.png"),
         "keys written read back; keys that would not are refused");
    anet_keys_free(&k);
    T_OK(anet_keys_read("/dev/zero", &k) == ANET_ERR_IO &&
             has(anet_error_detail(), "'/dev/zero' is a character device, not a keys file"),
         "a device is refused, never read: %s", anet_error_detail());
    char *longer = malloc(ANET_KEYS_MAX_LINE + 10);
    memset(longer, 'a', ANET_KEYS_MAX_LINE + 9);
    memcpy(longer, "k\n", 2);
    longer[ANET_KEYS_MAX_LINE + 9] = '\n';
    write_bytes(path, longer, ANET_KEYS_MAX_LINE + 10);
    T_OK(anet_keys_read(path, &k) == ANET_ERR_FORMAT &&
             has(anet_error_detail(), "k.tsv:2: a line longer than 65536 bytes"),
         "a line beyond the bound is refused: %s", anet_error_detail());
    longer[2 + ANET_KEYS_MAX_LINE] = '\n';
    write_bytes(path, longer + 2, ANET_KEYS_MAX_LINE + 1);
    T_OK(anet_keys_read(path, &k) == ANET_OK && k.count == 1 &&
             strlen(k.key[0]) == ANET_KEYS_MAX_LINE,
         "a key of the bound's length is read");
    anet_keys_free(&k);
    free(longer);
    const char text2[] = "#key\nb\n";
    FILE *m = fmemopen((void *)text2, sizeof text2 - 1, "r");
    T_OK(m && !anet_keys_read_stream(m, "mem", &k) && k.count == 1 && !strcmp(k.key[0], "b"),
         "anet_keys_read_stream reads a stream");
    if (m) fclose(m);
    anet_keys_free(&k);
}

/* ---- k-NN ------------------------------------------------------------------------------------ */

/* Brute force in double: the k nearest (distance, row) pairs of each query. */
static void brute(const float *q, uint64_t nq, const float *x, uint64_t n, uint64_t d, int k,
                  uint64_t *rows, double *dist)
{
    double *all = malloc(n * sizeof *all);
    for (uint64_t i = 0; i < nq; i++) {
        for (uint64_t j = 0; j < n; j++) {
            double s = 0;
            for (uint64_t c = 0; c < d; c++) {
                double t = (double)q[i * d + c] - x[j * d + c];
                s += t * t;
            }
            all[j] = s;
        }
        for (int r = 0; r < k; r++) { /* selection: smallest (distance, row) not yet taken */
            uint64_t best = n;
            for (uint64_t j = 0; j < n; j++) {
                int taken = 0;
                for (int p = 0; p < r; p++) taken |= rows[i * k + p] == j;
                if (!taken && (best == n || all[j] < all[best])) best = j;
            }
            rows[i * k + r] = best, dist[i * k + r] = sqrt(all[best]);
        }
    }
    free(all);
}

/* The search with the index offered in the given blocks, in reverse order. */
static struct anet_knn *search(const float *q, uint64_t nq, const float *x, uint64_t n,
                               uint64_t d, int k, uint64_t block)
{
    struct anet_knn *s;
    if (anet_knn_create(q, nq, d, k, &s)) return NULL;
    uint64_t blocks = (n + block - 1) / block;
    for (uint64_t b = blocks; b-- > 0;) {
        uint64_t first = b * block, count = n - first < block ? n - first : block;
        if (anet_knn_add(s, x + first * d, first, count)) return anet_knn_free(s), NULL;
    }
    return s;
}

static int same_results(const struct anet_knn *s, uint64_t nq, int k, const uint64_t *rows,
                        const double *dist, double *worst)
{
    uint64_t r[64];
    double dd[64];
    *worst = 0;
    for (uint64_t i = 0; i < nq; i++) {
        if (anet_knn_result(s, i, r, dd) != k) return 0;
        for (int p = 0; p < k; p++) {
            if (r[p] != rows[i * k + p]) return 0;
            double e = fabs(dd[p] - dist[i * k + p]);
            if (e > *worst) *worst = e;
        }
    }
    return 1;
}

static void test_knn(void)
{
    const uint64_t n = 700, nq = 37, d = 300;
    const int k = 5;
    float *x = t_alloc(n * d), *q = t_alloc(nq * d);
    t_seed(8);
    t_fill(x, n * d, 0, 1);
    t_fill(q, nq * d, 0, 1);
    memcpy(q + 2 * d, x + 100 * d, d * sizeof *x);        /* a query that is a row */
    memcpy(x + 501 * d, x + 500 * d, d * sizeof *x);      /* two equal rows: a tie */
    memcpy(q + 3 * d, x + 500 * d, d * sizeof *x);
    uint64_t *rows = malloc(nq * k * sizeof *rows);
    double *dist = malloc(nq * k * sizeof *dist), worst;
    brute(q, nq, x, n, d, k, rows, dist);
    T_OK(rows[2 * k] == 100 && dist[2 * k] == 0 && rows[3 * k] == 500 && rows[3 * k + 1] == 501,
         "brute force: the row itself first, the tie in row order");
    static const uint64_t blocks[] = {700, 64, 1, 333};
    for (int b = 0; b < 4; b++)
        for (int threads = 1; threads <= 2; threads++) {
            anet_threads_set(threads);
            struct anet_knn *s = search(q, nq, x, n, d, k, blocks[b]);
            int same = s && same_results(s, nq, k, rows, dist, &worst);
            T_OK(same && worst < 1e-12, "blocks of %llu rows, %d thread%s: the brute force's "
                 "rows, distances within %.2g", (unsigned long long)blocks[b], threads,
                 threads > 1 ? "s" : "", worst);
            anet_knn_free(s);
        }
    struct anet_knn *s = search(q, nq, x, 3, d, k, 2);
    uint64_t r[8];
    double dd[8];
    T_OK(s && anet_knn_result(s, 0, r, dd) == 3, "fewer rows than k: as many results as rows");
    anet_knn_free(s);
    T_OK(anet_knn_create(q, nq, d, 0, &s) == ANET_ERR_INVALID, "k 0 refused");
    free(x), free(q), free(rows), free(dist);
}

/* Nearly equal distances: rows whose float estimates tie or cross are ranked by the double
 * distance. */
static void test_knn_near_ties(void)
{
    const uint64_t n = 200, d = 4096;
    float *x = t_alloc(n * d), *q = t_alloc(d);
    t_seed(9);
    t_fill(q, d, 100, 101);
    for (uint64_t j = 0; j < n; j++)
        for (uint64_t c = 0; c < d; c++) /* each row the query plus a tiny, different offset */
            x[j * d + c] = q[c] + (c == j ? 1e-3f * (float)(n - j) : 0);
    uint64_t rows[3];
    double dist[3], dd[3];
    uint64_t r[3];
    brute(q, 1, x, n, d, 3, rows, dist);
    struct anet_knn *s = search(q, 1, x, n, d, 3, 50);
    int ok = s && anet_knn_result(s, 0, r, dd) == 3;
    for (int p = 0; ok && p < 3; p++) ok = r[p] == rows[p] && dd[p] == dist[p];
    T_OK(ok && rows[0] == n - 1, "distances far below the vectors' float rounding: the exact order");
    anet_knn_free(s);
    free(x), free(q);
}

/* ---- PNG ------------------------------------------------------------------------------------- */

static void test_png(void)
{
    const char *path = tmp_path("p.png");
    struct anet_image im = {.w = 37, .h = 5}, back = {0};
    im.rgb = malloc(37 * 5 * 3);
    for (int i = 0; i < 37 * 5 * 3; i++) im.rgb[i] = (uint8_t)(i * 7);
    enum anet_status s = anet_image_write_png(path, &im, 0);
    if (!s) s = anet_image_load(path, 0, &back);
    T_OK(!s && back.w == 37 && back.h == 5 && !memcmp(back.rgb, im.rgb, 37 * 5 * 3),
         "a PNG written decodes to the same pixels: %s", s ? anet_error_detail() : "ok");
    T_OK(anet_image_write_png(path, &im, 0) == ANET_ERR_IO, "an existing PNG is refused");
    struct anet_image empty = {0};
    T_OK(anet_image_write_png(path, &empty, 1) == ANET_ERR_INVALID, "an empty image is refused");
    anet_image_free(&im);
    anet_image_free(&back);
}

static void cleanup(void)
{
    static const char *names[] = {"a.npy", "h.npy", "d.npy", "k.tsv", "p.png"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tmp_path(names[i]));
    rmdir(dir);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_npy_roundtrip();
    test_npy_headers();
    test_npy_damage();
    test_npy_header_bytes();
    test_keys();
    test_knn();
    test_knn_near_ties();
    test_png();
    cleanup();
    return t_done();
}
