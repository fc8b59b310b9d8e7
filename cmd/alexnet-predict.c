/* alexnet-predict: the classes of any image, from a model or an ensemble.
 *
 * Usage: alexnet-predict -m CKPT [-m CKPT ...] --stats DIR [-k 5] [--crops 1|10] [IMAGE ...]
 * With no IMAGE arguments it reads paths from standard input, one a line, so that
 * `find photos -name '*.jpg' | alexnet-predict -m run/best.anet --stats stats` works.
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
#include "alexnet/loader.h"
#include "alexnet/threads.h"
#include "cli.h"
#include "infer.h"

#define MAX_MODELS 64

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-predict -m CKPT [-m CKPT ...] --stats DIR [OPTIONS] [IMAGE ...]\n"
            "The k most probable classes of each image (JPEG or PNG); with no IMAGE, paths\n"
            "are read from standard input, one a line.\n"
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
    enum anet_device dev;
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
 * line is waiting (stdio's buffer would hide it from poll). */
struct paths {
    const struct options *o;
    int next_arg;
    char buf[1 << 16];
    size_t start, end;
    int eof;
    char *line; /* the last line returned, malloc'ed */
};

static int line_buffered(const struct paths *p)
{
    return memchr(p->buf + p->start, '\n', p->end - p->start) != NULL ||
           (p->eof && p->end > p->start);
}

/* 1 when a path can be had without waiting. */
static int path_ready(struct paths *p)
{
    if (p->o->nimages || p->eof || line_buffered(p)) return 1;
    struct pollfd fd = {.fd = 0, .events = POLLIN};
    return poll(&fd, 1, 0) > 0;
}

/* The next path, or NULL at the end. Empty lines are skipped; a trailing \r is dropped. */
static const char *next_path(struct paths *p)
{
    if (p->o->nimages) return p->next_arg < p->o->nimages ? p->o->images[p->next_arg++] : NULL;
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

/* ---- a batch of images ------------------------------------------------------------------- */
struct batch {
    int cap, n;
    char **path;
    char **error;          /* why an image failed, or NULL */
    float *x;              /* cap × crops × c × crop × crop */
    float *prob;           /* cap × classes */
    int32_t *top;          /* k */
    uint8_t **pixels;      /* per image: c × side × side */
};

/* Decodes image i and writes its crops into the batch; sets error[i] on failure. */
static void prepare(struct batch *b, int i, int side, int crop, int crops, const float *mean)
{
    struct anet_image im = {0}, fit = {0};
    enum anet_status s = anet_image_load(b->path[i], side, &im);
    if (!s) s = anet_image_fit(&im, side, ANET_FIT_CROP, &fit);
    if (s) {
        b->error[i] = strdup(anet_error_detail());
    } else {
        anet_image_to_bgr_planes(&fit, b->pixels[i]);
        struct anet_loader_config lc = {.crop = crop, .mean = mean};
        size_t img = (size_t)3 * crop * crop;
        float *x = b->x + (size_t)i * crops * img;
        for (int k = 0; k < crops; k++, x += img) {
            struct anet_crop_draw d;
            anet_loader_test_crop(crop, side, side, crops == 10 ? k : 0, &d);
            anet_loader_transform(&lc, b->pixels[i], 3, side, side, &d, x);
        }
    }
    anet_image_free(&im);
    anet_image_free(&fit);
}

static void print_image(const struct options *o, const struct infer_models *im,
                        const char *path, const float *prob, int32_t *top)
{
    int k = o->top < im->num_classes ? o->top : im->num_classes;
    char buf[16];
    anet_topk(prob, im->num_classes, k, top);
    if (o->line_format) {
        cli_tsv_field(stdout, path, strlen(path));
        for (int j = 0; j < k; j++) {
            const char *w = infer_wnid(im, top[j], buf);
            putchar('\t');
            cli_tsv_field(stdout, w, strlen(w));
            printf("\t%.6f", (double)prob[top[j]]);
        }
        putchar('\n');
        return;
    }
    for (int j = 0; j < k; j++) {
        const char *w = infer_wnid(im, top[j], buf), *words = infer_words(im, top[j]);
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
static int run_batch(const struct options *o, struct infer_models *im, struct batch *b,
                     int side, const float *mean)
{
    int crops = o->crops;
    size_t img = (size_t)3 * im->crop * im->crop;
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < b->n; i++) prepare(b, i, side, im->crop, crops, mean);
    /* pack the good images to the front (their crops stay together) */
    int good = 0, bad = 0;
    for (int i = 0; i < b->n; i++) {
        if (b->error[i]) continue;
        if (good != i)
            memmove(b->x + (size_t)good * crops * img, b->x + (size_t)i * crops * img,
                    (size_t)crops * img * sizeof *b->x);
        good++;
    }
    enum anet_status s = good ? anet_models_predict(im->m, im->count, b->x, good, crops, b->prob)
                              : ANET_OK;
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
        print_image(o, im, b->path[i], b->prob + (size_t)g++ * im->num_classes, b->top);
    }
    fflush(stdout);
    for (int i = 0; i < b->n; i++) free(b->path[i]);
    b->n = 0;
    return bad;
}

static int alloc_batch(struct batch *b, int cap, int crops, const struct infer_models *im,
                       int side, int k)
{
    memset(b, 0, sizeof *b);
    b->cap = cap;
    size_t img = (size_t)3 * im->crop * im->crop;
    b->path = calloc((size_t)cap, sizeof *b->path);
    b->error = calloc((size_t)cap, sizeof *b->error);
    b->pixels = calloc((size_t)cap, sizeof *b->pixels);
    b->x = malloc((size_t)cap * crops * img * sizeof *b->x);
    b->prob = malloc((size_t)cap * im->num_classes * sizeof *b->prob);
    b->top = malloc((size_t)(k < im->num_classes ? k : im->num_classes) * sizeof *b->top);
    int ok = b->path && b->error && b->pixels && b->x && b->prob && b->top;
    for (int i = 0; ok && i < cap; i++) ok = !!(b->pixels[i] = malloc((size_t)3 * side * side));
    if (!ok) cli_error("out of memory for a batch of %d images", cap);
    return ok ? 0 : -1;
}

static void free_batch(struct batch *b)
{
    for (int i = 0; b->pixels && i < b->cap; i++) free(b->pixels[i]);
    for (int i = 0; b->path && i < b->n; i++) free(b->path[i]);
    free(b->path), free(b->error), free(b->pixels), free(b->x), free(b->prob), free(b->top);
}

static void print_header(const struct options *o, const struct infer_models *im)
{
    if (!o->line_format) {
        printf("#path\trank\tclass\twnid\twords\tprob\n");
        return;
    }
    printf("#path");
    for (int j = 1; j <= o->top && j <= im->num_classes; j++) printf("\twnid%d\tprob%d", j, j);
    putchar('\n');
}

/* Reads paths, fills batches, runs them; the number of bad images, or -1. */
static int predict_all(const struct options *o, struct infer_models *im, struct batch *b,
                       int side, const float *mean, int *seen)
{
    struct paths *p = calloc(1, sizeof *p);
    if (!p) return cli_error("out of memory"), -1;
    p->o = o;
    int bad = 0;
    const char *path;
    *seen = 0;
    for (;;) {
        if (b->n && !path_ready(p)) { /* nothing more to read yet: answer what we have */
            int r = run_batch(o, im, b, side, mean);
            if (r < 0) return free(p->line), free(p), -1;
            bad += r;
        }
        if (!(path = next_path(p))) break;
        if (!*seen) print_header(o, im);
        (*seen)++;
        if (!(b->path[b->n++] = strdup(path))) return free(p->line), free(p), -1;
        if (b->n == b->cap) {
            int r = run_batch(o, im, b, side, mean);
            if (r < 0) return free(p->line), free(p), -1;
            bad += r;
        }
    }
    if (b->n) {
        int r = run_batch(o, im, b, side, mean);
        bad = r < 0 ? -1 : bad + r;
    }
    free(p->line);
    free(p);
    return bad;
}

int main(int argc, char **argv)
{
    cli_init("alexnet-predict");
    struct options o;
    parse_args(argc, argv, &o);
    int opened = cli_open_device(o.device, o.gpus, o.precision, &o.where);
    if (opened) return opened;
    o.dev = o.where.device;
    anet_threads_set(cli_threads(o.threads));
    struct infer_models im;
    struct batch b = {0};
    float *mean = NULL;
    int rc = EXIT_RUNTIME, mc, mh, mw, seen = 0;
    int max_batch = o.batch * o.crops < 64 ? o.batch * o.crops : 64;
    if (infer_load_models(o.models, o.nmodels, max_batch, &o.where, &im)) goto out;
    if (infer_read_mean(o.stats, &mean, &mc, &mh, &mw)) goto out;
    if (mc != 3 || mh != mw || mh < im.crop) {
        cli_error("'%s/mean.binaryproto' is %dx%dx%d: it must be 3xNxN with N >= the models' "
                  "crop, %d", o.stats, mc, mh, mw, im.crop);
        goto out;
    }
    if (alloc_batch(&b, o.batch, o.crops, &im, mh, o.top)) goto out;
    int bad = predict_all(&o, &im, &b, mh, mean, &seen);
    if (bad < 0) goto out;
    if (!seen) {
        cli_error("no images: give IMAGE arguments or paths on standard input");
        goto out;
    }
    if (bad) cli_error("%d of %d images could not be read", bad, seen);
    rc = bad ? EXIT_RUNTIME : EXIT_OK;
out:
    free_batch(&b);
    infer_free_models(&im);
    free(mean);
    return rc;
}
