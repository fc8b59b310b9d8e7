/* alexnet-features: a layer's activations of every image, as feature vectors.
 *
 * Usage: alexnet-features -m CKPT --stats DIR -o FEATS.npy [--layer fc7] [--crops 1|10]
 *                         (--data DB | IMAGE... | -)
 * The images are those of a database (every record, in its order), the paths given, or the
 * paths read from standard input ("-"), decoded and brought to the mean image's size as
 * alexnet-predict does. Each gives a row of FEATS.npy (float32, rows in input order), the
 * layer's activations in the forward pass alexnet-eval makes (the centre crop, or the
 * paper's ten crops averaged), and a line of the keys file (the record's key or the path).
 * The forward passes are the library's (alexnet/infer.h), as eval's and predict's are. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alexnet/features.h"
#include "alexnet/file.h"
#include "alexnet/image.h"
#include "alexnet/infer.h"
#include "alexnet/loader.h"
#include "alexnet/stats.h"
#include "alexnet/threads.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-features -m CKPT --stats DIR -o FEATS.npy [OPTIONS] --data DB\n"
            "       alexnet-features -m CKPT --stats DIR -o FEATS.npy [OPTIONS] IMAGE...\n"
            "       alexnet-features -m CKPT --stats DIR -o FEATS.npy [OPTIONS] -\n"
            "A layer's activations of every image as a float32 .npy matrix, a row an image\n"
            "in input order, and the images' keys; '-' reads image paths from standard\n"
            "input, one a line.\n"
            "\n"
            "  -m, --model CKPT       the checkpoint (alexnet-train, alexnet-import)\n"
            "      --stats DIR        DIR/mean.binaryproto of the training set (alexnet-stats);\n"
            "                         images are brought to its size as alexnet-prep does\n"
            "      --layer NAME       conv1..conv5 (after ReLU), norm1, norm2 (after LRN),\n"
            "                         pool1, pool2, pool5 (after pooling), fc6, fc7 (after\n"
            "                         ReLU), fc8 (the logits) (fc7)\n"
            "      --data DB          every record of a database (alexnet-prep), in order\n"
            "      --crops 1|10       the centre crop, or the paper's ten averaged (1)\n"
            "  -o, --out FILE         the features (.npy)\n"
            "      --keys FILE        the rows' keys: record keys or paths, a line a row\n"
            "                         (FILE of -o without .npy, and .keys.tsv)\n"
            "      --force            replace existing outputs\n"
            CLI_DEVICE_HELP
            "      --batch N          images a batch (32)\n"
            "  -j, --threads N        threads (all cores)\n"
            "      --loader-threads N threads reading and cropping the records (2)\n"
            "  -q, --quiet            no summary on stderr\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "A bad image is named on stderr and left out (its key too); the exit status is\n"
            "then 1. Exit status: 0 success, 1 failure, 2 usage error.\n");
}

struct options {
    const char *model, *stats, *layer, *data, *out, *keys, *device, *gpus, *precision;
    struct anet_placement where;
    int crops, batch, threads, loader_threads, quiet, force, from_stdin;
    char **images;
    int nimages;
    char *keys_buf; /* the default keys path */
};

enum { O_STATS = 1000, O_LAYER, O_DATA, O_CROPS, O_KEYS, O_FORCE, O_DEVICE, O_GPUS,
       O_PRECISION, O_BATCH, O_LOADER_THREADS, O_VERSION };

/* FEATS.npy -> FEATS.keys.tsv; any other name gets .keys.tsv added. */
static char *default_keys(const char *out)
{
    size_t n = strlen(out);
    if (n > 4 && !strcmp(out + n - 4, ".npy")) n -= 4;
    char *p = malloc(n + sizeof ".keys.tsv");
    if (p) snprintf(p, n + sizeof ".keys.tsv", "%.*s.keys.tsv", (int)n, out);
    return p;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},       {"stats", required_argument, 0, O_STATS},
        {"layer", required_argument, 0, O_LAYER},   {"data", required_argument, 0, O_DATA},
        {"crops", required_argument, 0, O_CROPS},   {"out", required_argument, 0, 'o'},
        {"keys", required_argument, 0, O_KEYS},     {"force", no_argument, 0, O_FORCE},
        {"device", required_argument, 0, O_DEVICE}, {"gpus", required_argument, 0, O_GPUS},
        {"precision", required_argument, 0, O_PRECISION},
        {"batch", required_argument, 0, O_BATCH},   {"threads", required_argument, 0, 'j'},
        {"loader-threads", required_argument, 0, O_LOADER_THREADS},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, O_VERSION},     {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->layer = "fc7", o->crops = 1, o->batch = 32, o->loader_threads = 2, o->device = "cpu";
    o->precision = "fp32";
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:o:j:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (o->model) cli_usage_error("-m: features come from one model");
            o->model = optarg;
            break;
        case O_STATS: o->stats = optarg; break;
        case O_LAYER: o->layer = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_CROPS:
            o->crops = cli_int("crops", optarg, 1, 10);
            if (o->crops != 1 && o->crops != 10)
                cli_usage_error("--crops: expected 1 or 10, got %s", optarg);
            break;
        case 'o': o->out = optarg; break;
        case O_KEYS: o->keys = optarg; break;
        case O_FORCE: o->force = 1; break;
        case O_DEVICE: o->device = cli_device(optarg); break;
        case O_GPUS: o->gpus = cli_gpus(optarg); break;
        case O_PRECISION: o->precision = cli_precision(optarg); break;
        case O_BATCH: o->batch = cli_int("batch", optarg, 1, 65536); break;
        case 'j': o->threads = cli_int("threads", optarg, 1, 1024); break;
        case O_LOADER_THREADS: o->loader_threads = cli_int("loader-threads", optarg, 1, 256); break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(EXIT_OK);
        case O_VERSION: cli_version(); exit(EXIT_OK);
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!o->model) cli_usage_error("-m CKPT is required");
    if (!o->stats) cli_usage_error("--stats DIR is required");
    if (!o->out) cli_usage_error("-o FEATS.npy is required");
    if (!strcmp(o->out, "-"))
        cli_usage_error("-o -: a .npy file gets its shape when it is complete; give a file");
    o->images = argv + optind;
    o->nimages = argc - optind;
    o->from_stdin = o->nimages == 1 && !strcmp(o->images[0], "-");
    if (o->data && o->nimages)
        cli_usage_error("--data and IMAGE arguments: give one or the other");
    if (!o->data && !o->nimages)
        cli_usage_error("no images: give --data DB, IMAGE arguments, or - to read paths from "
                        "standard input");
    if (!o->keys && !(o->keys = o->keys_buf = default_keys(o->out)))
        cli_usage_error("out of memory");
    const struct cli_file out[2] = {{"-o", o->out}, {"--keys", o->keys}};
    const struct cli_file in[3] = {{"-m", o->model}, {"--stats", o->stats}, {"--data", o->data}};
    cli_refuse_same_files(out, 2, in, 3);
}

/* ---- the outputs ------------------------------------------------------------------------- */
struct outputs {
    struct anet_npy_writer *npy;
    struct anet_afile *keys;
    uint64_t rows;
};

static int open_outputs(const struct options *o, uint64_t cols, struct outputs *w)
{
    enum anet_status s = anet_npy_create(o->out, cols, o->force, &w->npy);
    if (!s) s = anet_afile_open(o->keys, o->force, &w->keys);
    if (s) return cli_fail(s, 0, NULL);
    anet_keys_put_header(anet_afile_stream(w->keys));
    return 0;
}

/* A row and its key. */
static int put_row(struct outputs *w, const float *row, const char *key)
{
    enum anet_status s = anet_keys_put(anet_afile_stream(w->keys), key);
    if (!s) s = anet_npy_append(w->npy, row, 1);
    if (s) return cli_fail(s, 0, NULL);
    w->rows++;
    return 0;
}

/* Both files into place; 0 or EXIT_RUNTIME. */
static int finish_outputs(struct outputs *w)
{
    enum anet_status s = anet_npy_finish(w->npy);
    w->npy = NULL;
    if (!s) s = anet_afile_commit(w->keys);
    else anet_afile_abort(w->keys);
    w->keys = NULL;
    return s ? cli_fail(s, 0, NULL) : 0;
}

static void abort_outputs(struct outputs *w)
{
    anet_npy_abort(w->npy);
    anet_afile_abort(w->keys);
    w->npy = NULL, w->keys = NULL;
}

/* ---- a database ---------------------------------------------------------------------------- */
static int from_database(const struct options *o, struct anet_ensemble *e,
                         const struct anet_named_blob *blob, const float *mean, int mc, int mh,
                         int mw, struct outputs *w)
{
    struct anet_db *db = NULL;
    struct anet_loader *l = NULL;
    struct anet_feed *f = NULL;
    float *feats = NULL;
    size_t size = (size_t)blob->c * blob->h * blob->w;
    const struct anet_db_record *recs;
    size_t count;
    enum anet_status s = anet_db_open(o->data, &db);
    if (!s) s = anet_db_records(db, &recs, &count);
    struct anet_loader_config lc = {
        .batch = o->batch, .crop = anet_ensemble_crop(e), .crops = o->crops, .mean = mean,
        .mean_c = mc, .mean_h = mh, .mean_w = mw, .classes = 0, .threads = o->loader_threads};
    anet_feed_loader_config(anet_model_backend(anet_ensemble_model(e, 0)), &lc);
    if (!s) s = anet_loader_open(db, &lc, &l);
    if (!s)
        s = anet_ensemble_feed(e, mean, anet_loader_channels(l), anet_loader_height(l),
                               anet_loader_width(l), lc.batch, o->crops, &f);
    if (!s && !(feats = malloc((size_t)o->batch * size * sizeof *feats)))
        s = anet_fail(ANET_ERR_NOMEM, "out of memory for %d x %zu features", o->batch, size);
    uint32_t batches = s ? 0 : anet_loader_batches(l);
    if (!s) s = anet_loader_start(l, 0, 0);
    int rc = s ? cli_fail(s, 0, NULL) : 0;
    for (uint32_t i = 0; i < batches && !rc; i++) {
        struct anet_batch b;
        if ((s = anet_loader_next(l, &b)) || (s = anet_ensemble_features(e, 0, f, &b, blob, feats))) {
            rc = cli_fail(s, 0, NULL);
            break;
        }
        for (int k = 0; k < b.n && !rc; k++) {
            const struct anet_db_record *r = &recs[b.recs[k]];
            char *key = strndup(r->key, r->key_len);
            rc = key ? put_row(w, feats + (size_t)k * size, key)
                     : (cli_error("out of memory"), EXIT_RUNTIME);
            free(key);
        }
    }
    free(feats);
    anet_feed_free(f);
    anet_loader_free(l);
    anet_db_close(db);
    return rc;
}

/* ---- image files ---------------------------------------------------------------------------- */
struct images {
    int cap, n, side, crops;
    char **path;
    char **error;                 /* why an image could not be read, or NULL */
    uint8_t *pixels;              /* cap × 3 × side × side */
    struct anet_crop_draw *draws; /* cap × crops */
    float *feats;                 /* cap × size */
};

/* Decodes image i into row i of the pixels; sets error[i] when it cannot. */
static void decode(struct images *im, int i)
{
    struct anet_image raw = {0}, fit = {0};
    enum anet_status s = anet_image_load(im->path[i], im->side, &raw);
    if (!s) s = anet_image_fit(&raw, im->side, ANET_FIT_CROP, &fit);
    if (s) im->error[i] = strdup(anet_error_detail());
    else anet_image_to_bgr_planes(&fit, im->pixels + (size_t)i * 3 * im->side * im->side);
    anet_image_free(&raw);
    anet_image_free(&fit);
}

/* The batch's images through the model, their rows and keys out in order; the number of
 * bad images, or -1 on a failure. */
static int run_images(struct anet_ensemble *e, struct anet_feed *f,
                      const struct anet_named_blob *blob, struct images *im, struct outputs *w)
{
    size_t img = (size_t)3 * im->side * im->side, size = (size_t)blob->c * blob->h * blob->w;
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < im->n; i++) decode(im, i);
    int good = 0, bad = 0;
    for (int i = 0; i < im->n; i++) { /* the good images to the front */
        if (im->error[i]) continue;
        if (good != i) memmove(im->pixels + good * img, im->pixels + i * img, img);
        good++;
    }
    for (int i = 0; i < good * im->crops; i++)
        anet_loader_test_crop(anet_ensemble_crop(e), im->side, im->side,
                              im->crops == 10 ? i % 10 : 0, &im->draws[i]);
    struct anet_batch b = {.n = good, .crops = im->crops, .pixels = im->pixels,
                           .draws = im->draws};
    enum anet_status s = good ? anet_ensemble_features(e, 0, f, &b, blob, im->feats) : ANET_OK;
    if (s) return cli_fail(s, 0, NULL), -1;
    for (int i = 0, g = 0; i < im->n; i++) {
        if (im->error[i]) {
            cli_error("%s", im->error[i]);
            free(im->error[i]);
            im->error[i] = NULL;
            bad++;
            continue;
        }
        if (put_row(w, im->feats + (size_t)g++ * size, im->path[i])) return -1;
    }
    for (int i = 0; i < im->n; i++) free(im->path[i]);
    im->n = 0;
    return bad;
}

/* The next path: an argument, or a line of standard input (empty lines skipped, a trailing
 * \r dropped); NULL at the end. */
static const char *next_path(const struct options *o, int *arg, char **line, size_t *cap)
{
    if (!o->from_stdin) return *arg < o->nimages ? o->images[(*arg)++] : NULL;
    ssize_t n;
    while ((n = getline(line, cap, stdin)) >= 0) {
        if (n && (*line)[n - 1] == '\n') (*line)[--n] = 0;
        if (n && (*line)[n - 1] == '\r') (*line)[--n] = 0;
        if (n) return *line;
    }
    return NULL;
}

static int from_images(const struct options *o, struct anet_ensemble *e,
                       const struct anet_named_blob *blob, const float *mean, int side,
                       struct outputs *w, int *seen, int *bad)
{
    struct images im = {.cap = o->batch, .side = side, .crops = o->crops};
    size_t size = (size_t)blob->c * blob->h * blob->w;
    struct anet_feed *f = NULL;
    im.path = calloc((size_t)im.cap, sizeof *im.path);
    im.error = calloc((size_t)im.cap, sizeof *im.error);
    im.pixels = malloc((size_t)im.cap * 3 * side * side);
    im.draws = malloc((size_t)im.cap * im.crops * sizeof *im.draws);
    im.feats = malloc((size_t)im.cap * size * sizeof *im.feats);
    int rc = 0, arg = 0;
    if (!im.path || !im.error || !im.pixels || !im.draws || !im.feats)
        rc = (cli_error("out of memory for a batch of %d images", im.cap), EXIT_RUNTIME);
    enum anet_status s = rc ? ANET_OK : anet_ensemble_feed(e, mean, 3, side, side, im.cap,
                                                           im.crops, &f);
    if (s) rc = cli_fail(s, 0, NULL);
    char *line = NULL;
    size_t cap = 0;
    const char *path;
    *seen = *bad = 0;
    while (!rc && (path = next_path(o, &arg, &line, &cap))) {
        (*seen)++;
        if (!(im.path[im.n++] = strdup(path))) {
            rc = (cli_error("out of memory"), EXIT_RUNTIME);
            break;
        }
        if (im.n < im.cap) continue;
        int r = run_images(e, f, blob, &im, w);
        if (r < 0) rc = EXIT_RUNTIME;
        else *bad += r;
    }
    if (!rc && im.n) {
        int r = run_images(e, f, blob, &im, w);
        if (r < 0) rc = EXIT_RUNTIME;
        else *bad += r;
    }
    for (int i = 0; i < im.n; i++) free(im.path[i]), free(im.error[i]);
    free(line);
    free(im.path), free(im.error), free(im.pixels), free(im.draws), free(im.feats);
    anet_feed_free(f);
    return rc;
}

/* DIR/mean.binaryproto; prints the error and returns EXIT_RUNTIME on failure. */
static int read_mean(const char *dir, float **mean, int *c, int *h, int *w)
{
    size_t n = strlen(dir) + sizeof "/mean.binaryproto";
    char *path = malloc(n);
    if (!path) return cli_error("out of memory"), EXIT_RUNTIME;
    snprintf(path, n, "%s/mean.binaryproto", dir);
    enum anet_status s = anet_mean_read(path, mean, c, h, w);
    free(path);
    return s ? cli_fail(s, 0, NULL) : 0;
}

int main(int argc, char **argv)
{
    cli_fast_blas(argv);
    cli_init("alexnet-features");
    struct options o;
    parse_args(argc, argv, &o);
    struct anet_backend *be;
    int rc = cli_open_backend(o.device, o.gpus, o.precision, &be, &o.where);
    if (rc) return free(o.keys_buf), rc;
    anet_threads_set(cli_threads(o.threads));
    struct anet_ensemble *e = NULL;
    struct outputs w = {0};
    struct anet_named_blob blob;
    float *mean = NULL;
    int mc, mh, mw, seen = 0, bad = 0;
    double t0 = anet_seconds();
    int max_batch = o.batch * o.crops < 64 ? o.batch * o.crops : 64;
    enum anet_status s = anet_ensemble_load(&o.model, 1, max_batch, &o.where, &e);
    if (!s && (s = anet_model_blob(anet_ensemble_model(e, 0), o.layer, &blob))) {
        rc = cli_fail(s, 1, "--layer");
        goto out;
    }
    if (s) {
        rc = cli_fail(s, 0, NULL);
        goto out;
    }
    if ((rc = read_mean(o.stats, &mean, &mc, &mh, &mw))) goto out;
    int crop = anet_ensemble_crop(e);
    if (mc != 3 || mh != mw || mh < crop) {
        cli_error("'%s/mean.binaryproto' is %dx%dx%d: it must be 3xNxN with N >= the model's "
                  "crop, %d", o.stats, mc, mh, mw, crop);
        rc = EXIT_RUNTIME;
        goto out;
    }
    if ((rc = open_outputs(&o, (uint64_t)blob.c * blob.h * blob.w, &w))) goto out;
    if (o.data) rc = from_database(&o, e, &blob, mean, mc, mh, mw, &w);
    else rc = from_images(&o, e, &blob, mean, mh, &w, &seen, &bad);
    if (!rc && !o.data && !seen) {
        cli_error("no images: standard input held no paths");
        rc = EXIT_RUNTIME;
    }
    if (rc) goto out;
    uint64_t rows = w.rows;
    if ((rc = finish_outputs(&w))) goto out;
    if (bad) cli_error("%d of %d images could not be read; their rows are left out", bad, seen);
    if (!o.quiet)
        fprintf(stderr, "%s: wrote %s (%llu x %d: %s, %dx%dx%d an image) and %s in %.1f s\n",
                cli_name, o.out, (unsigned long long)rows, blob.c * blob.h * blob.w, blob.name,
                blob.c, blob.h, blob.w, o.keys, anet_seconds() - t0);
    rc = bad ? EXIT_RUNTIME : EXIT_OK;
out:
    abort_outputs(&w);
    anet_ensemble_free(e);
    anet_backend_free(be);
    free(mean);
    free(o.keys_buf);
    return rc;
}
