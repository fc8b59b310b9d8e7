/* alexnet-eval: top-1 and top-5 error as the paper reports them.
 *
 * Usage: alexnet-eval -m CKPT [-m CKPT ...] --data VAL.lmdb --stats DIR [--crops 1|10]
 * Every image of the database gives its centre crop, or the paper's ten (four corners and
 * the centre, and their mirrors); the softmax outputs are averaged over the crops, then
 * over the models (an ensemble), and the averages are scored against the labels. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alexnet/data.h"
#include "alexnet/file.h"
#include "alexnet/infer.h"
#include "alexnet/loader.h"
#include "alexnet/stats.h"
#include "alexnet/threads.h"
#include "cli.h"

#define MAX_MODELS 64

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-eval -m CKPT [-m CKPT ...] --data DB --stats DIR [OPTIONS]\n"
            "Top-1 and top-5 error of a model, or of an ensemble, on a database of labelled\n"
            "images: softmax outputs averaged over the crops, then over the models.\n"
            "\n"
            "  -m, --model CKPT       a checkpoint (alexnet-train); repeat for an ensemble\n"
            "      --data DB          the images (alexnet-prep), e.g. the validation set\n"
            "      --stats DIR        DIR/mean.binaryproto of the training set (alexnet-stats)\n"
            "      --crops 1|10       the centre crop, or the paper's ten (1)\n"
            "      --per-image FILE   a line an image: key, label, top-5 classes and probabilities\n"
            "      --per-class        a second table: accuracy of every class\n"
            "      --force            replace an existing --per-image file\n"
            CLI_DEVICE_HELP
            "      --batch N          crops a forward pass (64)\n"
            "  -j, --threads N        threads (all cores)\n"
            "      --loader-threads N threads reading and cropping the records (2)\n"
            "  -q, --quiet            no progress on stderr\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "stdout: #images top1_err top5_err top1_acc top5_acc loss crops models seconds img_s\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

struct options {
    const char *models[MAX_MODELS];
    int nmodels;
    const char *data, *stats, *per_image, *device, *gpus, *precision;
    struct anet_placement where;
    int crops, per_class, batch, threads, loader_threads, quiet, force;
};

enum { O_DATA = 1000, O_STATS, O_CROPS, O_PER_IMAGE, O_PER_CLASS, O_DEVICE, O_GPUS, O_PRECISION, O_BATCH, O_FORCE,
       O_LOADER_THREADS, O_VERSION };

static void parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},       {"data", required_argument, 0, O_DATA},
        {"stats", required_argument, 0, O_STATS},   {"crops", required_argument, 0, O_CROPS},
        {"per-image", required_argument, 0, O_PER_IMAGE},
        {"per-class", no_argument, 0, O_PER_CLASS}, {"device", required_argument, 0, O_DEVICE}, {"gpus", required_argument, 0, O_GPUS},
        {"precision", required_argument, 0, O_PRECISION},
        {"force", no_argument, 0, O_FORCE},
        {"batch", required_argument, 0, O_BATCH},   {"threads", required_argument, 0, 'j'},
        {"loader-threads", required_argument, 0, O_LOADER_THREADS},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, O_VERSION},     {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->crops = 1, o->batch = 64, o->loader_threads = 2, o->device = "cpu", o->gpus = NULL, o->precision = "fp32";
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:j:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (o->nmodels == MAX_MODELS) cli_usage_error("at most %d models", MAX_MODELS);
            o->models[o->nmodels++] = optarg;
            break;
        case O_DATA: o->data = optarg; break;
        case O_STATS: o->stats = optarg; break;
        case O_CROPS:
            o->crops = cli_int("crops", optarg, 1, 10);
            if (o->crops != 1 && o->crops != 10) cli_usage_error("--crops: expected 1 or 10, got %s", optarg);
            break;
        case O_PER_IMAGE: o->per_image = optarg; break;
        case O_PER_CLASS: o->per_class = 1; break;
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
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->nmodels) cli_usage_error("-m CKPT is required");
    if (!o->data) cli_usage_error("--data DB is required");
    if (!o->stats) cli_usage_error("--stats DIR is required");
    struct cli_file in[MAX_MODELS + 2], out = {"--per-image", o->per_image};
    for (int i = 0; i < o->nmodels; i++) in[i] = (struct cli_file){"-m", o->models[i]};
    in[o->nmodels] = (struct cli_file){"--data", o->data};
    in[o->nmodels + 1] = (struct cli_file){"--stats", o->stats};
    cli_refuse_same_files(&out, 1, in, o->nmodels + 2);
}

/* Running sums of the evaluation. */
struct tally {
    uint64_t images, top1, top5; /* hits */
    double loss;
    uint64_t *class_images, *class_top1, *class_top5;
};

/* Scores one image's averaged probabilities; writes its per-image line. */
static void score(struct tally *t, const float *prob, int classes, int32_t label, FILE *per,
                  const char *key, size_t key_len)
{
    int k = classes < 5 ? classes : 5;
    int32_t top[5];
    anet_topk(prob, classes, k, top);
    int hit5 = 0;
    for (int j = 0; j < k; j++) hit5 |= top[j] == label;
    int hit1 = top[0] == label;
    float p = prob[label] > 1e-30f ? prob[label] : 1e-30f;
    t->images++, t->top1 += (uint64_t)hit1, t->top5 += (uint64_t)hit5;
    t->loss -= log((double)p);
    if (t->class_images) {
        t->class_images[label]++;
        t->class_top1[label] += (uint64_t)hit1, t->class_top5[label] += (uint64_t)hit5;
    }
    if (!per) return;
    cli_tsv_field(per, key, key_len);
    fprintf(per, "\t%d", (int)label);
    for (int j = 0; j < k; j++) fprintf(per, "\t%d\t%.6f", (int)top[j], (double)prob[top[j]]);
    fputc('\n', per);
}

/* The database's class table must be the models'. */
static int check_db_classes(const struct options *o, const struct anet_ensemble *e)
{
    size_t n = strlen(o->data) + sizeof "/classes.tsv";
    char *path = malloc(n);
    if (!path) return cli_error("out of memory"), -1;
    snprintf(path, n, "%s/classes.tsv", o->data);
    int r = 0;
    if (access(path, F_OK) == 0) {
        struct anet_classes c;
        enum anet_status s = anet_classes_read(path, &c);
        if (s) {
            r = -1, cli_fail(s, 0, NULL);
        } else {
            const struct anet_classes *t = anet_ensemble_table(e);
            int same = c.count == anet_ensemble_classes(e);
            for (int i = 0; same && t->count && i < c.count; i++)
                same = !strcmp(c.wnid[i], t->wnid[i]);
            if (!same) {
                r = -1;
                cli_error("the class table of '%s' (%d classes) differs from the model's "
                          "('%s', %d classes)", o->data, c.count, anet_ensemble_table_from(e),
                          anet_ensemble_classes(e));
            }
            anet_classes_free(&c);
        }
    }
    free(path);
    return r;
}

static int evaluate(const struct options *o, struct anet_db *db, struct anet_loader *l,
                    struct anet_ensemble *e, struct anet_feed *f, struct tally *t, FILE *per)
{
    const struct anet_db_record *recs;
    size_t count;
    enum anet_status s = anet_db_records(db, &recs, &count);
    int classes = anet_ensemble_classes(e);
    float *prob = NULL;
    uint32_t batches = anet_loader_batches(l);
    int progress = !o->quiet && isatty(2);
    if (!s) s = anet_loader_start(l, 0, 0);
    for (uint32_t b = 0; b < batches && !s; b++) {
        struct anet_batch bt;
        if ((s = anet_loader_next(l, &bt))) break;
        if (!prob && !(prob = malloc((size_t)bt.n * classes * sizeof *prob)))
            return cli_error("out of memory"), -1;
        if ((s = anet_ensemble_classify(e, f, &bt, prob))) break;
        for (int i = 0; i < bt.n; i++) {
            const struct anet_db_record *r = &recs[bt.recs[i]];
            score(t, prob + (size_t)i * classes, classes, bt.labels[i], per, r->key,
                  r->key_len);
        }
        if (progress)
            fprintf(stderr, "\r\033[K%s: %" PRIu64 "/%zu images, top-1 error %.4f", cli_name,
                    t->images, count, 1.0 - (double)t->top1 / (double)t->images);
    }
    if (progress) fputs("\r\033[K", stderr);
    free(prob);
    return s ? cli_fail(s, 0, NULL), -1 : 0;
}

static void print_summary(const struct options *o, const struct tally *t, double secs)
{
    double n = (double)t->images;
    printf("#images\ttop1_err\ttop5_err\ttop1_acc\ttop5_acc\tloss\tcrops\tmodels\tseconds\timg_s\n");
    printf("%" PRIu64 "\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%d\t%d\t%.2f\t%.1f\n", t->images,
           1 - t->top1 / n, 1 - t->top5 / n, t->top1 / n, t->top5 / n, t->loss / n, o->crops,
           o->nmodels, secs, secs > 0 ? n / secs : 0);
}

static void print_per_class(const struct tally *t, const struct anet_ensemble *e)
{
    char buf[16];
    printf("#class\twnid\timages\ttop1_acc\ttop5_acc\n");
    for (int c = 0; c < anet_ensemble_classes(e); c++) {
        double n = (double)t->class_images[c];
        printf("%d\t%s\t%" PRIu64 "\t%.6f\t%.6f\n", c, anet_ensemble_wnid(e, c, buf), t->class_images[c],
               n ? t->class_top1[c] / n : 0, n ? t->class_top5[c] / n : 0);
    }
}

/* DIR/mean.binaryproto; prints the error and returns -1 on failure. */
static int read_mean(const char *dir, float **mean, int *c, int *h, int *w)
{
    size_t n = strlen(dir) + sizeof "/mean.binaryproto";
    char *path = malloc(n);
    if (!path) return cli_error("out of memory"), -1;
    snprintf(path, n, "%s/mean.binaryproto", dir);
    enum anet_status s = anet_mean_read(path, mean, c, h, w);
    free(path);
    return s ? cli_fail(s, 0, NULL), -1 : 0;
}

int main(int argc, char **argv)
{
    cli_fast_blas(argv);
    cli_init("alexnet-eval");
    struct options o;
    parse_args(argc, argv, &o);
    struct anet_backend *be;
    int opened = cli_open_backend(o.device, o.gpus, o.precision, &be, &o.where);
    if (opened) return opened;
    anet_threads_set(cli_threads(o.threads));
    struct anet_ensemble *e = NULL;
    struct anet_feed *f = NULL;
    struct anet_db *db = NULL;
    struct anet_loader *l = NULL;
    float *mean = NULL;
    FILE *per = NULL;
    struct anet_afile *per_file = NULL;
    struct tally t = {0};
    int rc = EXIT_RUNTIME, mc, mh, mw;
    double t0 = 0;
    enum anet_status s = anet_ensemble_load(o.models, o.nmodels, o.batch, &o.where, &e);
    if (s) {
        cli_fail(s, 0, NULL);
        goto out;
    }
    if ((s = anet_db_open(o.data, &db))) {
        cli_fail(s, 0, NULL);
        goto out;
    }
    if (check_db_classes(&o, e) || read_mean(o.stats, &mean, &mc, &mh, &mw)) goto out;
    struct anet_loader_config lc = {
        .batch = o.crops == 10 ? (o.batch >= 10 ? o.batch / 10 : 1) : o.batch,
        .crop = anet_ensemble_crop(e), .crops = o.crops, .mean = mean, .mean_c = mc,
        .mean_h = mh, .mean_w = mw, .classes = anet_ensemble_classes(e),
        .threads = o.loader_threads};
    anet_feed_loader_config(be, &lc); /* pixels go to a GPU, crops stay on the CPU */
    if ((s = anet_loader_open(db, &lc, &l)) ||
        (s = anet_ensemble_feed(e, mean, anet_loader_channels(l), anet_loader_height(l),
                                anet_loader_width(l), lc.batch, o.crops, &f))) {
        cli_fail(s, 0, NULL);
        goto out;
    }
    if (o.per_image) { /* written whole or not at all, like every output */
        if ((s = anet_afile_open(o.per_image, o.force, &per_file))) {
            cli_fail(s, 0, NULL);
            goto out;
        }
        per = anet_afile_stream(per_file);
    }
    int classes = anet_ensemble_classes(e);
    if (per) {
        fprintf(per, "#key\tlabel");
        for (int k = 1; k <= 5 && k <= classes; k++) fprintf(per, "\tpred%d\tprob%d", k, k);
        fputc('\n', per);
    }
    if (o.per_class) {
        t.class_images = calloc((size_t)classes, sizeof *t.class_images);
        t.class_top1 = calloc((size_t)classes, sizeof *t.class_top1);
        t.class_top5 = calloc((size_t)classes, sizeof *t.class_top5);
        if (!t.class_images || !t.class_top1 || !t.class_top5) {
            cli_error("out of memory");
            goto out;
        }
    }
    t0 = anet_seconds();
    if (evaluate(&o, db, l, e, f, &t, per)) goto out;
    if (per_file) {
        per = NULL;
        s = anet_afile_commit(per_file);
        per_file = NULL;
        if (s) {
            cli_fail(s, 0, NULL);
            goto out;
        }
    }
    print_summary(&o, &t, anet_seconds() - t0);
    if (o.per_class) print_per_class(&t, e);
    rc = EXIT_OK;
out:
    anet_afile_abort(per_file);
    anet_loader_free(l);
    anet_feed_free(f);
    anet_db_close(db);
    anet_ensemble_free(e);
    anet_backend_free(be);
    free(mean);
    free(t.class_images), free(t.class_top1), free(t.class_top5);
    return rc;
}
