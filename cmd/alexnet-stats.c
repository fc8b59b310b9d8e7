/* alexnet-stats: the mean image and the PCA colour statistics of a training set.
 *
 * Usage: alexnet-stats [OPTIONS] TRAIN.lmdb -o DIR
 * Reads every record of the database (raw or encoded Datum; ours or Caffe's) and writes
 * DIR/mean.binaryproto (Caffe's BlobProto, B, G, R planes, 0..255) and DIR/stats.txt (per
 * channel mean and std, the RGB covariance, its eigenvalues and eigenvectors, in 0..1
 * units). Threads each walk the database and take every T-th selected record into their
 * own exact integer accumulator; the accumulators merge exactly, so the result does not
 * depend on the thread count. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/data.h"
#include "alexnet/file.h"
#include "alexnet/image.h"
#include "alexnet/rng.h"
#include "alexnet/stats.h"
#include "alexnet/threads.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-stats [OPTIONS] TRAIN.lmdb -o DIR\n"
            "Compute the mean image and the PCA colour statistics of a training database:\n"
            "DIR/mean.binaryproto (Caffe BlobProto, B,G,R planes, 0..255) and DIR/stats.txt\n"
            "(mean, std, RGB covariance, eigenvalues and eigenvectors of pixel values / 255).\n"
            "\n"
            "  -o, --output DIR       directory for both files (created if missing)\n"
            "      --mean-file FILE   write the mean image here instead\n"
            "      --stats-file FILE  write the colour statistics here instead\n"
            "      --force            replace existing files\n"
            "      --max-images N     use only the first N (selected) images\n"
            "      --sample P         use each image with probability P (0 < P <= 1)\n"
            "      --seed S           seed of --sample (1)\n"
            "      --resize N         bring every image to NxN (shorter side N, central crop)\n"
            "                         instead of refusing images of another size\n"
            "  -j, --threads N        threads (all cores)\n"
            "  -q, --quiet            no summary on stderr\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "A one-line TSV summary goes to stdout.\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

struct options {
    const char *db, *dir, *mean_file, *stats_file;
    int force, threads, quiet, resize;
    uint64_t max_images, seed;
    double sample;
};

struct job {
    const struct options *o;
    struct anet_db *db;
    int c, h, w;   /* the mean image's shape */
    int index, count; /* this thread's share: selected records with rank % count == index */
    struct anet_stats_acc *acc;
    uint64_t bytes;
    enum anet_status status;
    char *error;
};

static int selected(const struct options *o, uint64_t i)
{
    return o->sample >= 1.0 || anet_rng_uniform(o->seed, 0, ANET_RNG_TEST, i) < o->sample;
}

/* One record into B, G, R planes of the mean image's shape (in *buf, reused). */
static enum anet_status record_planes(const struct job *j, const char *key, const void *val,
                                      size_t len, uint8_t **buf)
{
    struct anet_datum d;
    enum anet_status s = anet_datum_decode(val, len, &d);
    if (s) return anet_fail(s, "'%s': record '%s': %s", j->o->db, key, anet_error_detail());
    if (!d.encoded && d.channels == j->c && d.height == j->h && d.width == j->w) {
        *buf = (uint8_t *)d.data; /* raw and the right size: no copy */
        return ANET_OK;
    }
    struct anet_image im = {0}, fit = {0};
    if (d.encoded) {
        s = anet_image_decode(d.data, d.data_len, j->o->resize, &im);
        if (s) return anet_fail(s, "'%s': record '%s': %s", j->o->db, key, anet_error_detail());
    } else if (d.channels != 3) {
        return anet_fail(ANET_ERR_FORMAT, "'%s': record '%s' has %d channels, not 3", j->o->db,
                         key, d.channels);
    } else if (j->o->resize) {
        im.w = d.width, im.h = d.height;
        im.rgb = malloc((size_t)3 * im.w * im.h);
        if (!im.rgb) return anet_fail(ANET_ERR_NOMEM, "out of memory");
        size_t plane = (size_t)im.w * im.h;
        for (size_t p = 0; p < plane; p++)
            for (int ch = 0; ch < 3; ch++) im.rgb[3 * p + ch] = d.data[(2 - ch) * plane + p];
    }
    if (!im.rgb || (!j->o->resize && (im.w != j->w || im.h != j->h))) {
        int ih = im.rgb ? im.h : d.height, iw = im.rgb ? im.w : d.width;
        anet_image_free(&im);
        return anet_fail(ANET_ERR_FORMAT,
                         "'%s': record '%s' is %dx%dx%d but the mean image is %dx%dx%d "
                         "(use --resize %d)", j->o->db, key, 3, ih, iw, j->c, j->h, j->w, j->h);
    }
    const struct anet_image *src = &im;
    if (im.w != j->w || im.h != j->h) {
        s = anet_image_fit(&im, j->w, ANET_FIT_CROP, &fit);
        anet_image_free(&im);
        if (s) return s;
        src = &fit;
    }
    anet_image_to_bgr_planes(src, *buf);
    anet_image_free(&im);
    anet_image_free(&fit);
    return ANET_OK;
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    struct anet_db_cursor *cur;
    uint8_t *own = malloc((size_t)j->c * j->h * j->w);
    j->status = own ? anet_db_cursor_open(j->db, &cur) : anet_fail(ANET_ERR_NOMEM, "out of memory");
    if (j->status) goto out;
    uint64_t rank = 0;
    for (uint64_t i = 0;; i++) {
        const char *key;
        const void *val;
        size_t kl, vl;
        if ((j->status = anet_db_cursor_next(cur, &key, &kl, &val, &vl)) || !key) break;
        if (!selected(j->o, i)) continue;
        if (j->o->max_images && rank >= j->o->max_images) break;
        if (rank++ % (uint64_t)j->count != (uint64_t)j->index) continue;
        uint8_t *planes = own;
        if ((j->status = record_planes(j, key, val, vl, &planes))) break;
        anet_stats_acc_add(j->acc, planes);
        j->bytes += vl;
    }
    anet_db_cursor_close(cur);
out:
    if (j->status) j->error = strdup(anet_error_detail());
    free(own);
    return NULL;
}

/* The mean image's shape: --resize, else the first selected record's. */
static int first_shape(const struct options *o, struct anet_db *db, int *c, int *h, int *w)
{
    if (o->resize) {
        *c = 3, *h = *w = o->resize;
        return 0;
    }
    struct anet_db_cursor *cur;
    enum anet_status s = anet_db_cursor_open(db, &cur);
    if (s) return cli_fail(s, 0, NULL), -1;
    int r = -1;
    for (uint64_t i = 0;; i++) {
        const char *key;
        const void *val;
        size_t kl, vl;
        struct anet_datum d;
        if ((s = anet_db_cursor_next(cur, &key, &kl, &val, &vl))) {
            cli_fail(s, 0, NULL);
            break;
        }
        if (!key) {
            cli_error("'%s': no images%s", o->db, o->sample < 1 ? " selected" : "");
            break;
        }
        if (!selected(o, i)) continue;
        if ((s = anet_datum_decode(val, vl, &d))) {
            cli_error("'%s': record '%s': %s", o->db, key, anet_error_detail());
            break;
        }
        if (d.encoded) {
            struct anet_image im;
            if ((s = anet_image_decode(d.data, d.data_len, 0, &im))) {
                cli_error("'%s': record '%s': %s", o->db, key, anet_error_detail());
                break;
            }
            *c = 3, *h = im.h, *w = im.w;
            anet_image_free(&im);
        } else {
            *c = d.channels, *h = d.height, *w = d.width;
        }
        if (*c != 3) cli_error("'%s': record '%s' has %d channels, not 3", o->db, key, *c);
        else r = 0;
        break;
    }
    anet_db_cursor_close(cur);
    return r;
}

/* Runs the threads and merges their accumulators into *total. */
static int accumulate(const struct options *o, struct anet_db *db, int c, int h, int w,
                      struct anet_stats_acc **total, uint64_t *bytes)
{
    int T = o->threads;
    struct job *jobs = calloc((size_t)T, sizeof *jobs);
    pthread_t *th = calloc((size_t)T, sizeof *th);
    if (!jobs || !th) return cli_error("out of memory"), -1;
    int r = 0, started = 0;
    for (int t = 0; t < T; t++) {
        jobs[t] = (struct job){.o = o, .db = db, .c = c, .h = h, .w = w, .index = t, .count = T};
        enum anet_status s = anet_stats_acc_create(c, h, w, &jobs[t].acc);
        if (s) {
            r = -1, cli_fail(s, 0, NULL);
            break;
        }
    }
    for (; r == 0 && started < T; started++)
        if (pthread_create(&th[started], NULL, run_job, &jobs[started])) {
            r = -1, cli_error("cannot start threads");
            break;
        }
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        if (r == 0 && jobs[t].error) r = -1, cli_error("%s", jobs[t].error);
        if (t > 0 && jobs[t].acc && jobs[0].acc) anet_stats_acc_merge(jobs[0].acc, jobs[t].acc);
        *bytes += jobs[t].bytes;
        if (t > 0) anet_stats_acc_free(jobs[t].acc);
        free(jobs[t].error);
    }
    if (r == 0) *total = jobs[0].acc;
    else anet_stats_acc_free(jobs[0].acc);
    free(jobs);
    free(th);
    return r;
}

static char *join(const char *dir, const char *name)
{
    char *p;
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* Opens both outputs before reading a 250 GB database, so that one that exists without
 * --force (or cannot be created) stops the run at once. */
static int open_outputs(const struct options *o, struct anet_afile *out[2])
{
    struct stat st;
    out[0] = out[1] = NULL;
    if (o->dir && stat(o->dir, &st) != 0 && mkdir(o->dir, 0777) != 0) {
        cli_error("cannot create '%s': %s", o->dir, strerror(errno));
        return -1;
    }
    enum anet_status s = anet_afile_open(o->mean_file, o->force, &out[0]);
    if (!s) s = anet_afile_open(o->stats_file, o->force, &out[1]);
    if (!s) return 0;
    anet_afile_abort(out[0]);
    out[0] = NULL;
    return cli_fail(s, 0, NULL), -1;
}

/* Both files, committed together: a full disk leaves neither. */
static enum anet_status write_outputs(struct anet_afile *out[2], const float *mean, int c, int h,
                                      int w, const struct anet_stats *st)
{
    enum anet_status s = anet_mean_write_stream(anet_afile_stream(out[0]), mean, c, h, w);
    if (s) return s;
    anet_stats_write_stream(anet_afile_stream(out[1]), st);
    s = anet_afile_commit_all(out, 2);
    out[0] = out[1] = NULL;
    return s;
}

static int compute(const struct options *o)
{
    struct anet_afile *out[2];
    if (open_outputs(o, out)) return EXIT_RUNTIME;
    struct anet_db *db;
    enum anet_status s = anet_db_open(o->db, &db);
    if (s) {
        anet_afile_abort(out[0]), anet_afile_abort(out[1]);
        return cli_fail(s, 0, NULL);
    }
    double t0 = anet_seconds();
    int c, h, w, r = EXIT_RUNTIME;
    struct anet_stats_acc *acc = NULL;
    uint64_t bytes = 0;
    float *mean = NULL;
    struct anet_stats st;
    if (first_shape(o, db, &c, &h, &w) || accumulate(o, db, c, h, w, &acc, &bytes)) goto out;
    mean = malloc((size_t)c * h * w * sizeof *mean);
    if (!mean) {
        cli_error("out of memory");
        goto out;
    }
    if ((s = anet_stats_acc_finish(acc, &st, mean)) ||
        (s = write_outputs(out, mean, c, h, w, &st))) {
        cli_fail(s, 0, NULL);
        goto out;
    }
    double dt = anet_seconds() - t0;
    /* standard output carries a file: no summary line to mix into it */
    if (strcmp(o->mean_file, "-") && strcmp(o->stats_file, "-")) {
        printf("#images\tpixels\tmean_r\tmean_g\tmean_b\teigval_1\teigval_2\teigval_3\tseconds\tMB_per_s\timg_per_s\n");
    printf("%llu\t%llu\t%.6f\t%.6f\t%.6f\t%.6g\t%.6g\t%.6g\t%.3f\t%.1f\t%.1f\n",
           (unsigned long long)st.images, (unsigned long long)st.pixels, st.mean[0], st.mean[1],
           st.mean[2], st.eigval[0], st.eigval[1], st.eigval[2], dt, bytes / 1e6 / dt,
           st.images / dt);
    }
    if (!o->quiet)
        fprintf(stderr, "%s: %llu %s of %dx%dx%d in %.2f s (%.0f MB/s): wrote '%s' and '%s'\n",
                cli_name, (unsigned long long)st.images,
                cli_plural((long long)st.images, "image", "images"), c, h, w, dt, bytes / 1e6 / dt,
                o->mean_file, o->stats_file);
    r = EXIT_OK;
out:
    anet_afile_abort(out[0]), anet_afile_abort(out[1]);
    free(mean);
    anet_stats_acc_free(acc);
    anet_db_close(db);
    return r;
}

int main(int argc, char **argv)
{
    enum { O_MEAN = 1000, O_STATS, O_FORCE, O_MAX, O_SAMPLE, O_SEED, O_RESIZE, O_VERSION };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},     {"mean-file", required_argument, 0, O_MEAN},
        {"stats-file", required_argument, 0, O_STATS}, {"force", no_argument, 0, O_FORCE},
        {"max-images", required_argument, 0, O_MAX}, {"sample", required_argument, 0, O_SAMPLE},
        {"seed", required_argument, 0, O_SEED},     {"resize", required_argument, 0, O_RESIZE},
        {"threads", required_argument, 0, 'j'},     {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},              {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0}};
    cli_init("alexnet-stats");
    struct options o = {.sample = 1.0, .seed = 1};
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:j:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': o.dir = optarg; break;
        case O_MEAN: o.mean_file = optarg; break;
        case O_STATS: o.stats_file = optarg; break;
        case O_FORCE: o.force = 1; break;
        case O_MAX: o.max_images = (uint64_t)cli_double("max-images", optarg, 1, 1e15); break;
        case O_SAMPLE: o.sample = cli_double("sample", optarg, 1e-9, 1); break;
        case O_SEED: o.seed = (uint64_t)cli_double("seed", optarg, 0, 9007199254740992.0); break;
        case O_RESIZE: o.resize = cli_int("resize", optarg, 1, 16384); break;
        case 'j': o.threads = cli_int("threads", optarg, 1, 1024); break;
        case 'q': o.quiet = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case O_VERSION: cli_version(); return EXIT_OK;
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) cli_usage_error("missing TRAIN.lmdb, the database to read");
    if (optind + 1 < argc) cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
    o.db = argv[optind];
    if (!o.dir && (!o.mean_file || !o.stats_file))
        cli_usage_error("missing -o DIR (or both --mean-file and --stats-file)");
    char *mean_default = o.dir ? join(o.dir, "mean.binaryproto") : NULL;
    char *stats_default = o.dir ? join(o.dir, "stats.txt") : NULL;
    if (!o.mean_file) o.mean_file = mean_default;
    if (!o.stats_file) o.stats_file = stats_default;
    if (!strcmp(o.mean_file, "-") && !strcmp(o.stats_file, "-"))
        cli_usage_error("--mean-file and --stats-file cannot both be standard output");
    const struct cli_file outs[] = {{"--mean-file", o.mean_file}, {"--stats-file", o.stats_file}};
    const struct cli_file ins[] = {{"TRAIN.lmdb", o.db}};
    cli_refuse_same_files(outs, 2, ins, 1);
    o.threads = cli_threads(o.threads);
    int r = compute(&o);
    free(mean_default);
    free(stats_default);
    return r;
}
