/* alexnet-neighbours: the paper's Figure 4 — for each query image, the training images whose
 * feature vectors are nearest in Euclidean distance.
 *
 * Usage: alexnet-neighbours --index TRAIN.npy [--keys TRAIN.tsv] --query VAL.npy
 *                           [--query-keys VAL.tsv] [-k 6] [--sheet OUT.png ...]
 * Exact search (anet_knn: one sgemm a block, candidates confirmed in double). The index is
 * read a block at a time, so it need not fit in memory; the queries are read whole. One TSV
 * line a neighbour on stdout; with --sheet, a contact sheet: a query a row, its neighbours
 * beside it, from the image files or the LMDB records the keys name. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alexnet/data.h"
#include "alexnet/features.h"
#include "alexnet/image.h"
#include "alexnet/threads.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-neighbours --index FEATS.npy --query FEATS.npy [OPTIONS]\n"
            "For each query row, the k index rows nearest in Euclidean distance (exact), as\n"
            "TSV: #query rank neighbour row distance. Rows are images' feature vectors\n"
            "(float32 .npy, a row an image); keys name them (a line a row, the key first).\n"
            "\n"
            "      --index FILE       the rows searched (the training images' features)\n"
            "      --keys FILE        their keys: image paths, or records of --data\n"
            "      --query FILE       the queries (as many columns as the index)\n"
            "      --query-keys FILE  their keys: image paths, or records of --query-data\n"
            "  -k, --neighbours N     neighbours a query (6)\n"
            "      --sheet FILE       draw a contact sheet (PNG): a query a row, then its\n"
            "                         neighbours, nearest first (needs both key files)\n"
            "      --data DB          the index keys are records of this LMDB\n"
            "      --query-data DB    the query keys are records of this LMDB\n"
            "      --root DIR         image paths in the keys are relative to DIR\n"
            "      --sheet-rows N     queries on the sheet, the first N (10)\n"
            "      --cell N           side of an image on the sheet, in pixels (96)\n"
            "      --force            replace an existing sheet\n"
            "  -j, --threads N        threads (all cores)\n"
            "  -q, --quiet            no summary on stderr\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

struct options {
    const char *index, *keys, *query, *query_keys, *sheet, *data, *query_data, *root;
    int k, rows, cell, force, threads, quiet;
};

static void parse_args(int argc, char **argv, struct options *o)
{
    enum { O_INDEX = 1000, O_KEYS, O_QUERY, O_QKEYS, O_SHEET, O_DATA, O_QDATA, O_ROOT, O_ROWS,
           O_CELL, O_FORCE, O_VERSION };
    static const struct option longopts[] = {
        {"index", required_argument, 0, O_INDEX},  {"keys", required_argument, 0, O_KEYS},
        {"query", required_argument, 0, O_QUERY},  {"query-keys", required_argument, 0, O_QKEYS},
        {"neighbours", required_argument, 0, 'k'}, {"sheet", required_argument, 0, O_SHEET},
        {"data", required_argument, 0, O_DATA},    {"query-data", required_argument, 0, O_QDATA},
        {"root", required_argument, 0, O_ROOT},    {"sheet-rows", required_argument, 0, O_ROWS},
        {"cell", required_argument, 0, O_CELL},    {"force", no_argument, 0, O_FORCE},
        {"threads", required_argument, 0, 'j'},    {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},             {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->k = 6, o->rows = 10, o->cell = 96;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:j:qh", longopts, NULL)) != -1) {
        switch (c) {
        case O_INDEX: o->index = optarg; break;
        case O_KEYS: o->keys = optarg; break;
        case O_QUERY: o->query = optarg; break;
        case O_QKEYS: o->query_keys = optarg; break;
        case 'k': o->k = cli_int("neighbours", optarg, 1, 10000); break;
        case O_SHEET: o->sheet = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_QDATA: o->query_data = optarg; break;
        case O_ROOT: o->root = optarg; break;
        case O_ROWS: o->rows = cli_int("sheet-rows", optarg, 1, 1000); break;
        case O_CELL: o->cell = cli_int("cell", optarg, 8, 1024); break;
        case O_FORCE: o->force = 1; break;
        case 'j': o->threads = cli_int("threads", optarg, 1, 1024); break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(EXIT_OK);
        case O_VERSION: cli_version(); exit(EXIT_OK);
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->index) cli_usage_error("--index FILE is required");
    if (!o->query) cli_usage_error("--query FILE is required");
    if (o->sheet && (!o->keys || !o->query_keys))
        cli_usage_error("--sheet needs --keys and --query-keys: the images to draw");
    if ((o->data && !o->keys) || (o->query_data && !o->query_keys))
        cli_usage_error("--data and --query-data name where keys are found: give the keys");
    if (o->k > 1000 && o->sheet) cli_usage_error("--sheet draws at most 1000 neighbours a row");
    const struct cli_file out = {"--sheet", o->sheet};
    const struct cli_file in[6] = {{"--index", o->index}, {"--keys", o->keys},
                                   {"--query", o->query}, {"--query-keys", o->query_keys},
                                   {"--data", o->data}, {"--query-data", o->query_data}};
    cli_refuse_same_files(&out, 1, in, 6);
}

/* ---- the search ---------------------------------------------------------------------------- */

/* Feeds the index to the search a block of about 32 MB at a time. */
static enum anet_status search(const struct anet_npy *index, struct anet_knn *knn)
{
    uint64_t block = (32u << 20) / (index->cols * 4);
    if (block < 1) block = 1;
    if (block > index->rows) block = index->rows ? index->rows : 1;
    float *buf = malloc(block * index->cols * sizeof *buf);
    if (!buf) return anet_fail(ANET_ERR_NOMEM, "out of memory for a block of the index");
    enum anet_status s = ANET_OK;
    for (uint64_t at = 0; !s && at < index->rows; at += block) {
        uint64_t n = index->rows - at < block ? index->rows - at : block;
        if (!(s = anet_npy_read(index, at, n, buf))) s = anet_knn_add(knn, buf, at, n);
    }
    free(buf);
    return s;
}

static int print_results(const struct anet_knn *knn, uint64_t nq,
                         const struct anet_keys *keys, const struct anet_keys *qkeys,
                         uint64_t *rows, double *dist)
{
    printf("#query\trank\tneighbour\trow\tdistance\n");
    for (uint64_t q = 0; q < nq; q++) {
        int n = anet_knn_result(knn, q, rows, dist);
        for (int r = 0; r < n; r++) {
            if (qkeys->count) printf("%s\t", qkeys->key[q]);
            else printf("%llu\t", (unsigned long long)q);
            if (keys->count) printf("%d\t%s\t", r + 1, keys->key[rows[r]]);
            else printf("%d\t%llu\t", r + 1, (unsigned long long)rows[r]);
            printf("%llu\t%.9g\n", (unsigned long long)rows[r], dist[r]);
        }
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

/* ---- the sheet ----------------------------------------------------------------------------- */

/* An image by key: a record of db (LMDB key order is memcmp, then length), or a file. */
static int cmp_record(const void *k, const void *r)
{
    const char *key = k;
    const struct anet_db_record *rec = r;
    size_t n = strlen(key), m = rec->key_len < n ? rec->key_len : n;
    int c = memcmp(key, rec->key, m);
    return c ? c : (n > rec->key_len) - (n < rec->key_len);
}

static enum anet_status datum_image(const struct anet_datum *d, struct anet_image *out)
{
    if (d->encoded) return anet_image_decode(d->data, d->data_len, 0, out);
    if (d->channels != 3 && d->channels != 1)
        return anet_fail(ANET_ERR_FORMAT, "a record of %d channels", d->channels);
    size_t plane = (size_t)d->width * d->height;
    if (!(out->rgb = malloc(plane * 3))) return anet_fail(ANET_ERR_NOMEM, "out of memory");
    out->w = d->width, out->h = d->height;
    for (size_t p = 0; p < plane; p++)
        for (int ch = 0; ch < 3; ch++) /* B, G, R planes to R, G, B */
            out->rgb[3 * p + ch] = d->data[(d->channels == 3 ? 2 - ch : 0) * plane + p];
    return ANET_OK;
}

struct source {
    struct anet_db *db;
    const struct anet_db_record *recs;
    size_t count;
    const char *name, *root;
};

static enum anet_status load_image(const struct source *src, const char *key,
                                   struct anet_image *out)
{
    memset(out, 0, sizeof *out);
    if (!src->db) {
        char *path = NULL;
        if (src->root && asprintf(&path, "%s/%s", src->root, key) < 0)
            return anet_fail(ANET_ERR_NOMEM, "out of memory");
        enum anet_status s = anet_image_load(path ? path : key, 0, out);
        free(path);
        return s;
    }
    const struct anet_db_record *r = bsearch(key, src->recs, src->count, sizeof *src->recs,
                                             cmp_record);
    if (!r) return anet_fail(ANET_ERR_FORMAT, "'%s': no record '%s'", src->name, key);
    struct anet_datum d;
    enum anet_status s = anet_datum_decode(r->val, r->val_len, &d);
    if (!s) s = datum_image(&d, out);
    if (s) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", anet_error_detail());
        return anet_fail(s, "'%s': record '%s': %s", src->name, key, detail);
    }
    return ANET_OK;
}

static enum anet_status open_source(const char *db, const char *root, struct source *src)
{
    memset(src, 0, sizeof *src);
    src->root = root;
    if (!db) return ANET_OK;
    src->name = db;
    enum anet_status s = anet_db_open(db, &src->db);
    if (!s) s = anet_db_records(src->db, &src->recs, &src->count);
    return s;
}

/* Copies im, fitted to a cell (shorter side to the cell, the central square), to (x, y). */
static enum anet_status paste(struct anet_image *sheet, const struct anet_image *im, int cell,
                              int x, int y)
{
    struct anet_image fit = {0};
    enum anet_status s = anet_image_fit(im, cell, ANET_FIT_CROP, &fit);
    if (s) return s;
    for (int r = 0; r < cell; r++)
        memcpy(sheet->rgb + ((size_t)(y + r) * sheet->w + x) * 3,
               fit.rgb + (size_t)r * cell * 3, (size_t)cell * 3);
    anet_image_free(&fit);
    return ANET_OK;
}

enum { MARGIN = 6, GAP = 4, QUERY_GAP = 16 };

static int draw_sheet(const struct options *o, const struct anet_knn *knn, uint64_t nq,
                      const struct anet_keys *keys, const struct anet_keys *qkeys)
{
    struct source isrc, qsrc;
    enum anet_status s = open_source(o->data, o->root, &isrc);
    if (!s) s = open_source(o->query_data, o->root, &qsrc);
    if (s) return cli_fail(s, 0, NULL), -1;
    int rows = nq < (uint64_t)o->rows ? (int)nq : o->rows, cols = 1 + o->k, cell = o->cell;
    struct anet_image sheet = {.w = 2 * MARGIN + cols * cell + (cols - 2) * GAP + QUERY_GAP,
                               .h = 2 * MARGIN + rows * cell + (rows - 1) * GAP};
    sheet.rgb = malloc((size_t)sheet.w * sheet.h * 3);
    char **why = calloc((size_t)rows * cols, sizeof *why);
    int rc = 0;
    if (!sheet.rgb || !why) {
        cli_error("out of memory for a %dx%d sheet", sheet.w, sheet.h);
        rc = -1;
        goto out;
    }
    memset(sheet.rgb, 255, (size_t)sheet.w * sheet.h * 3);
#pragma omp parallel for schedule(dynamic) collapse(2)
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            uint64_t nrow[1000];
            double ndist[1000];
            int n = c ? anet_knn_result(knn, (uint64_t)r, nrow, ndist) : 1;
            if (c > n) continue;
            const char *key = c ? keys->key[nrow[c - 1]] : qkeys->key[r];
            struct anet_image im;
            enum anet_status e = load_image(c ? &isrc : &qsrc, key, &im);
            int x = MARGIN + c * (cell + GAP) + (c ? QUERY_GAP - GAP : 0);
            if (!e) e = paste(&sheet, &im, cell, x, MARGIN + r * (cell + GAP));
            anet_image_free(&im);
            if (e) why[r * cols + c] = strdup(anet_error_detail());
        }
    for (int i = 0; i < rows * cols; i++)
        if (why[i]) {
            if (!rc) cli_error("%s", why[i]);
            rc = -1;
        }
    if (!rc && (s = anet_image_write_png(o->sheet, &sheet, o->force))) {
        cli_fail(s, 0, NULL);
        rc = -1;
    }
out:
    for (int i = 0; why && i < rows * cols; i++) free(why[i]);
    free(why);
    free(sheet.rgb);
    anet_db_close(isrc.db);
    anet_db_close(qsrc.db);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------------ */

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The sheet must not exist (without --force) and must not be an input. */
static int check_sheet(const struct options *o)
{
    struct stat st;
    if (!o->sheet) return 0;
    const char *ins[4] = {o->index, o->keys, o->query, o->query_keys};
    for (int i = 0; i < 4; i++)
        if (same_file(o->sheet, ins[i])) {
            cli_error("'%s' is both an input and the sheet", o->sheet);
            return -1;
        }
    if (!o->force && stat(o->sheet, &st) == 0) {
        cli_error("'%s' exists (use --force to overwrite)", o->sheet);
        return -1;
    }
    return 0;
}

static int read_keys(const char *path, uint64_t rows, const char *of, struct anet_keys *k)
{
    if (!path) return 0;
    enum anet_status s = anet_keys_read(path, k);
    if (s) return cli_fail(s, 0, NULL), -1;
    if (k->count != rows) {
        cli_error("'%s' has %llu keys but '%s' %llu rows", path, (unsigned long long)k->count, of,
                  (unsigned long long)rows);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_fast_blas(argv);
    cli_init("alexnet-neighbours");
    struct options o;
    parse_args(argc, argv, &o);
    anet_threads_set(cli_threads(o.threads));
    if (check_sheet(&o)) return EXIT_RUNTIME;
    struct anet_npy index, query;
    struct anet_keys keys = {0}, qkeys = {0};
    struct anet_knn *knn = NULL;
    float *q = NULL;
    enum anet_status s = anet_npy_open(o.index, &index);
    if (s) return cli_fail(s, 0, NULL);
    if ((s = anet_npy_open(o.query, &query))) {
        anet_npy_close(&index);
        return cli_fail(s, 0, NULL);
    }
    uint64_t *nrow = malloc((size_t)o.k * sizeof *nrow);
    double *ndist = malloc((size_t)o.k * sizeof *ndist);
    int rc = EXIT_RUNTIME;
    if (index.cols != query.cols) {
        cli_error("'%s' has %llu columns but '%s' %llu: features of different layers?", o.index,
                  (unsigned long long)index.cols, o.query, (unsigned long long)query.cols);
        goto out;
    }
    if (!index.rows || !query.rows) {
        cli_error("'%s' has no rows", index.rows ? o.query : o.index);
        goto out;
    }
    if (read_keys(o.keys, index.rows, o.index, &keys) ||
        read_keys(o.query_keys, query.rows, o.query, &qkeys))
        goto out;
    if (!nrow || !ndist || !(q = malloc(query.rows * query.cols * sizeof *q))) {
        cli_error("out of memory for %llu queries", (unsigned long long)query.rows);
        goto out;
    }
    double t0 = anet_seconds();
    if ((s = anet_npy_read(&query, 0, query.rows, q)) ||
        (s = anet_knn_create(q, query.rows, query.cols, o.k, &knn)) || (s = search(&index, knn))) {
        cli_fail(s, 0, NULL);
        goto out;
    }
    double secs = anet_seconds() - t0;
    if (print_results(knn, query.rows, &keys, &qkeys, nrow, ndist)) {
        cli_error("cannot write to standard output: %s", strerror(errno));
        goto out;
    }
    if (!o.quiet)
        fprintf(stderr, "alexnet-neighbours: %llu queries x %llu rows of %llu dimensions in "
                "%.3f s (%.1f GFLOP/s)\n", (unsigned long long)query.rows,
                (unsigned long long)index.rows, (unsigned long long)index.cols, secs,
                2.0 * query.rows * index.rows * index.cols / secs / 1e9);
    if (o.sheet && draw_sheet(&o, knn, query.rows, &keys, &qkeys)) goto out;
    rc = EXIT_OK;
out:
    anet_knn_free(knn);
    free(q), free(nrow), free(ndist);
    anet_keys_free(&keys);
    anet_keys_free(&qkeys);
    anet_npy_close(&index);
    anet_npy_close(&query);
    return rc;
}
