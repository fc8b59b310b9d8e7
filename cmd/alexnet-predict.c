/* alexnet-predict: the classes of any image, from a model or an ensemble.
 *
 * Usage: alexnet-predict -m CKPT [-m CKPT ...] --stats DIR [-k 5] [--crops 1|10] [IMAGE ...]
 * With no IMAGE arguments, or where one is "-", it reads paths from standard input, one
 * a line, so that `find photos -name '*.jpg' | alexnet-predict -m run/best.anet --stats
 * stats` works.
 * Each image is decoded and brought to the size of the mean image exactly as alexnet-prep
 * does it (shorter side to N, the central N x N), so an image gives the same answer through
 * alexnet-prep and alexnet-eval as here. Results stream out as TSV, batch by batch; a
 * batch goes out early whenever standard input has nothing more to read yet. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alexnet/image.h"
#include "alexnet/infer.h"
#include "alexnet/loader.h"
#include "alexnet/stats.h"
#include "alexnet/threads.h"
#include "cli.h"

#define MAX_MODELS 64

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-predict -m CKPT [-m CKPT ...] --stats DIR [OPTIONS] [IMAGE ...]\n"
            "The k most probable classes of each image (JPEG or PNG); with no IMAGE, or for\n"
            "an IMAGE that is -, paths are read from standard input, one a line (./- for a\n"
            "file named -).\n"
            "\n"
            "  -m, --model CKPT       a checkpoint (alexnet-train); repeat for an ensemble\n"
            "      --stats DIR        DIR/mean.binaryproto of the training set (alexnet-stats);\n"
            "                         images are brought to its size as alexnet-prep does\n"
            "  -k, --top K            classes an image (5)\n"
            "      --crops 1|10       the centre crop, or the paper's ten (1)\n"
            "      --format F         rows: a line a class (default); line: a line an image\n"
            CLI_DEVICE_HELP
            "      --batch N          images a batch (16)\n"
            "  -j, --threads N        threads (all cores)\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "rows:  #path rank class wnid words prob\n"
            "line:  #path wnid1 prob1 ... wnidK probK\n"
            "A bad image is named on stderr and skipped; the exit status is then 1.\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

struct options {
    const char *models[MAX_MODELS];
    int nmodels;
    const char *stats, *device, *gpus, *precision;
    struct anet_placement where;
    int top, crops, line_format, batch, threads;
    char **images;
    int nimages;
};

enum { O_STATS = 1000, O_CROPS, O_FORMAT, O_DEVICE, O_GPUS, O_PRECISION, O_BATCH, O_VERSION };

static void parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},     {"stats", required_argument, 0, O_STATS},
        {"top", required_argument, 0, 'k'},       {"crops", required_argument, 0, O_CROPS},
        {"format", required_argument, 0, O_FORMAT}, {"device", required_argument, 0, O_DEVICE}, {"gpus", required_argument, 0, O_GPUS},
        {"precision", required_argument, 0, O_PRECISION},
        {"batch", required_argument, 0, O_BATCH}, {"threads", required_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},            {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->top = 5, o->crops = 1, o->batch = 16, o->device = "cpu", o->gpus = NULL, o->precision = "fp32";
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:k:j:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (o->nmodels == MAX_MODELS) cli_usage_error("at most %d models", MAX_MODELS);
            o->models[o->nmodels++] = optarg;
            break;
        case O_STATS: o->stats = optarg; break;
        case 'k': o->top = cli_int("top", optarg, 1, 1000000); break;
        case O_CROPS:
            o->crops = cli_int("crops", optarg, 1, 10);
            if (o->crops != 1 && o->crops != 10) cli_usage_error("--crops: expected 1 or 10, got %s", optarg);
            break;
        case O_FORMAT:
            if (!strcmp(optarg, "line")) o->line_format = 1;
            else if (strcmp(optarg, "rows")) cli_usage_error("--format: expected rows or line, got '%s'", optarg);
            break;
        case O_DEVICE: o->device = cli_device(optarg); break;
        case O_GPUS: o->gpus = cli_gpus(optarg); break;
        case O_PRECISION: o->precision = cli_precision(optarg); break;
        case O_BATCH: o->batch = cli_int("batch", optarg, 1, 65536); break;
        case 'j': o->threads = cli_int("threads", optarg, 1, 1024); break;
        case 'h': usage(stdout); exit(EXIT_OK);
        case O_VERSION: cli_version(); exit(EXIT_OK);
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!o->nmodels) cli_usage_error("-m CKPT is required");
    if (!o->stats) cli_usage_error("--stats DIR is required");
    o->images = argv + optind;
    o->nimages = argc - optind;
}

/* ---- paths from the arguments or from standard input ------------------------------------- */
/* Standard input is read with read(2) into our own buffer, so that we know whether a whole
 * line is waiting (stdio's buffer would hide it from poll). It is read where an argument
 * is "-", or when there are no arguments. */
struct paths {
    const struct options *o;
    int next_arg;
    int from_stdin; /* the paths come from standard input until its end */
    char buf[1 << 16];
    size_t start, end;
    int eof;
    char *line; /* the last line returned, malloc'ed */
};

static int is_stdin_arg(const struct paths *p, int i)
{
    return i < p->o->nimages && !strcmp(p->o->images[i], "-");
}

static int line_buffered(const struct paths *p)
{
    return memchr(p->buf + p->start, '\n', p->end - p->start) != NULL ||
           (p->eof && p->end > p->start);
}

/* 1 when a path can be had without waiting. */
static int path_ready(struct paths *p)
{
    if (!p->from_stdin && !is_stdin_arg(p, p->next_arg)) return 1;
    if (p->eof || line_buffered(p)) return 1;
    struct pollfd fd = {.fd = 0, .events = POLLIN};
    return poll(&fd, 1, 0) > 0;
}

/* The next line of standard input, or NULL at its end. Empty lines are skipped; a trailing
 * \r is dropped. */
static const char *next_line(struct paths *p)
{
    for (;;) {
        char *nl = memchr(p->buf + p->start, '\n', p->end - p->start);
        if (nl || (p->eof && p->end > p->start)) {
            size_t len = (nl ? (size_t)(nl - p->buf) : p->end) - p->start;
            free(p->line);
            p->line = strndup(p->buf + p->start, len);
            p->start += len + (nl != NULL);
            if (!p->line) return NULL;
            size_t n = strlen(p->line);
            if (n && p->line[n - 1] == '\r') p->line[--n] = 0;
            if (n) return p->line;
            continue;
        }
        if (p->eof) return NULL;
        if (p->start) { /* move what is left to the front */
            memmove(p->buf, p->buf + p->start, p->end - p->start);
            p->end -= p->start, p->start = 0;
        }
        if (p->end == sizeof p->buf) { /* a line longer than the buffer: cut it */
            p->buf[p->end - 1] = '\n';
            continue;
        }
        ssize_t r = read(0, p->buf + p->end, sizeof p->buf - p->end);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) p->eof = 1;
        else p->end += (size_t)r;
    }
}

/* The next path, from the arguments or standard input, or NULL at the end. */
static const char *next_path(struct paths *p)
{
    for (;;) {
        if (p->from_stdin) {
            const char *line = next_line(p);
            if (line) return line;
            p->from_stdin = 0;
        }
        if (p->next_arg >= p->o->nimages) return NULL;
        if (!is_stdin_arg(p, p->next_arg)) return p->o->images[p->next_arg++];
        p->next_arg++;
        p->from_stdin = 1;
    }
}

/* ---- a batch of images -------------------------------------------------------------------
 * Each image is decoded and fitted to side × side (as alexnet-prep stores it) into its row
 * of the batch's pixels; its crops (the centre, or the paper's ten) are draws, and the
 * models' backend cuts them (anet_ensemble_classify), as it does the loader's. */
struct batch {
    int cap, n;
    char **path;
    char **error;                 /* why an image failed, or NULL */
    uint8_t *pixels;              /* cap × 3 × side × side */
    struct anet_crop_draw *draws; /* cap × crops */
    float *prob;                  /* cap × classes */
    int32_t *top;                 /* k */
};

/* Decodes image i into row i of the pixels; sets error[i] on failure. */
static void prepare(struct batch *b, int i, int side)
{
    struct anet_image im = {0}, fit = {0};
    enum anet_status s = anet_image_load(b->path[i], side, &im);
    if (!s) s = anet_image_fit(&im, side, ANET_FIT_CROP, &fit);
    if (s) b->error[i] = strdup(anet_error_detail());
    else anet_image_to_bgr_planes(&fit, b->pixels + (size_t)i * 3 * side * side);
    anet_image_free(&im);
    anet_image_free(&fit);
}

static void print_image(const struct options *o, const struct anet_ensemble *e,
                        const char *path, const float *prob, int32_t *top)
{
    int classes = anet_ensemble_classes(e);
    int k = o->top < classes ? o->top : classes;
    char buf[16];
    anet_topk(prob, classes, k, top);
    if (o->line_format) {
        cli_tsv_field(stdout, path, strlen(path));
        for (int j = 0; j < k; j++) {
            const char *w = anet_ensemble_wnid(e, top[j], buf);
            putchar('\t');
            cli_tsv_field(stdout, w, strlen(w));
            printf("\t%.6f", (double)prob[top[j]]);
        }
        putchar('\n');
        return;
    }
    for (int j = 0; j < k; j++) {
        const char *w = anet_ensemble_wnid(e, top[j], buf), *words = anet_ensemble_words(e, top[j]);
        cli_tsv_field(stdout, path, strlen(path));
        printf("\t%d\t%d\t", j + 1, (int)top[j]);
        cli_tsv_field(stdout, w, strlen(w));
        putchar('\t');
        cli_tsv_field(stdout, words, strlen(words));
        printf("\t%.6f\n", (double)prob[top[j]]);
    }
}

/* Decodes the batch (in parallel), runs the models on the good images, prints in order.
 * Returns the number of bad images, or -1 when the models failed. */
static int run_batch(const struct options *o, struct anet_ensemble *e, struct anet_feed *f,
                     struct batch *b, int side)
{
    int crops = o->crops, classes = anet_ensemble_classes(e);
    size_t img = (size_t)3 * side * side;
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < b->n; i++) prepare(b, i, side);
    /* pack the good images to the front */
    int good = 0, bad = 0;
    for (int i = 0; i < b->n; i++) {
        if (b->error[i]) continue;
        if (good != i) memmove(b->pixels + good * img, b->pixels + i * img, img);
        good++;
    }
    for (int i = 0; i < good * crops; i++)
        anet_loader_test_crop(anet_ensemble_crop(e), side, side, crops == 10 ? i % crops : 0,
                              &b->draws[i]);
    struct anet_batch bt = {.n = good, .crops = crops, .pixels = b->pixels, .draws = b->draws};
    enum anet_status s = good ? anet_ensemble_classify(e, f, &bt, b->prob) : ANET_OK;
    if (s) return cli_fail(s, 0, NULL), -1;
    for (int i = 0, g = 0; i < b->n; i++) {
        if (b->error[i]) {
            fflush(stdout);
            cli_error("%s", b->error[i]);
            free(b->error[i]);
            b->error[i] = NULL;
            bad++;
            continue;
        }
        print_image(o, e, b->path[i], b->prob + (size_t)g++ * classes, b->top);
    }
    fflush(stdout);
    for (int i = 0; i < b->n; i++) free(b->path[i]);
    b->n = 0;
    return bad;
}

static int alloc_batch(struct batch *b, int cap, int crops, const struct anet_ensemble *e,
                       int side, int k)
{
    int classes = anet_ensemble_classes(e);
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->path = calloc((size_t)cap, sizeof *b->path);
    b->error = calloc((size_t)cap, sizeof *b->error);
    b->pixels = malloc((size_t)cap * 3 * side * side);
    b->draws = malloc((size_t)cap * crops * sizeof *b->draws);
    b->prob = malloc((size_t)cap * classes * sizeof *b->prob);
    b->top = malloc((size_t)(k < classes ? k : classes) * sizeof *b->top);
    int ok = b->path && b->error && b->pixels && b->draws && b->prob && b->top;
    if (!ok) cli_error("out of memory for a batch of %d images", cap);
    return ok ? 0 : -1;
}

static void free_batch(struct batch *b)
{
    for (int i = 0; b->path && i < b->n; i++) free(b->path[i]);
    free(b->path), free(b->error), free(b->pixels), free(b->draws), free(b->prob), free(b->top);
}

static void print_header(const struct options *o, const struct anet_ensemble *e)
{
    if (!o->line_format) {
        printf("#path\trank\tclass\twnid\twords\tprob\n");
        return;
    }
    printf("#path");
    for (int j = 1; j <= o->top && j <= anet_ensemble_classes(e); j++)
        printf("\twnid%d\tprob%d", j, j);
    putchar('\n');
}

/* Reads paths, fills batches, runs them; the number of bad images, or -1. */
static int predict_all(const struct options *o, struct anet_ensemble *e, struct anet_feed *f,
                       struct batch *b, int side, int *seen)
{
    struct paths *p = calloc(1, sizeof *p);
    if (!p) return cli_error("out of memory"), -1;
    p->o = o;
    p->from_stdin = o->nimages == 0;
    int bad = 0;
    const char *path;
    *seen = 0;
    for (;;) {
        if (b->n && !path_ready(p)) { /* nothing more to read yet: answer what we have */
            int r = run_batch(o, e, f, b, side);
            if (r < 0) return free(p->line), free(p), -1;
            bad += r;
        }
        if (!(path = next_path(p))) break;
        if (!*seen) print_header(o, e);
        (*seen)++;
        if (!(b->path[b->n++] = strdup(path))) return free(p->line), free(p), -1;
        if (b->n == b->cap) {
            int r = run_batch(o, e, f, b, side);
            if (r < 0) return free(p->line), free(p), -1;
            bad += r;
        }
    }
    if (b->n) {
        int r = run_batch(o, e, f, b, side);
        bad = r < 0 ? -1 : bad + r;
    }
    free(p->line);
    free(p);
    return bad;
}

int main(int argc, char **argv)
{
    cli_fast_blas(argv);
    cli_init("alexnet-predict");
    struct options o;
    parse_args(argc, argv, &o);
    struct anet_backend *be;
    int opened = cli_open_backend(o.device, o.gpus, o.precision, &be, &o.where);
    if (opened) return opened;
    anet_threads_set(cli_threads(o.threads));
    struct anet_ensemble *e = NULL;
    struct anet_feed *f = NULL;
    struct batch b = {0};
    float *mean = NULL;
    char *path = NULL;
    int rc = EXIT_RUNTIME, mc, mh, mw, seen = 0;
    int max_batch = o.batch * o.crops < 64 ? o.batch * o.crops : 64;
    enum anet_status s = anet_ensemble_load(o.models, o.nmodels, max_batch, &o.where, &e);
    if (s) {
        cli_fail(s, 0, NULL);
        goto out;
    }
    size_t n = strlen(o.stats) + sizeof "/mean.binaryproto";
    if (!(path = malloc(n))) {
        cli_error("out of memory");
        goto out;
    }
    snprintf(path, n, "%s/mean.binaryproto", o.stats);
    if ((s = anet_mean_read(path, &mean, &mc, &mh, &mw))) {
        cli_fail(s, 0, NULL);
        goto out;
    }
    int crop = anet_ensemble_crop(e);
    if (mc != 3 || mh != mw || mh < crop) {
        cli_error("'%s/mean.binaryproto' is %dx%dx%d: it must be 3xNxN with N >= the models' "
                  "crop, %d", o.stats, mc, mh, mw, crop);
        goto out;
    }
    if (alloc_batch(&b, o.batch, o.crops, e, mh, o.top)) goto out;
    if ((s = anet_ensemble_feed(e, mean, 3, mh, mw, o.batch, o.crops, &f))) {
        cli_fail(s, 0, NULL);
        goto out;
    }
    int bad = predict_all(&o, e, f, &b, mh, &seen);
    if (bad < 0) goto out;
    if (!seen) {
        cli_error("no images: give IMAGE arguments or paths on standard input");
        goto out;
    }
    if (bad) cli_error("%d of %d %s could not be read", bad, seen, cli_plural(seen, "image", "images"));
    rc = bad ? EXIT_RUNTIME : EXIT_OK;
out:
    free_batch(&b);
    anet_feed_free(f);
    anet_ensemble_free(e);
    anet_backend_free(be);
    free(mean), free(path);
    return rc;
}
