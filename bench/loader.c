/* Times the training loader: batches of the paper's training transformation (shuffle,
 * random crop, mirror, colour noise σ = 0.1 when the stats are given, mean subtraction
 * when the mean is) read from a database as fast as the consumer takes them, and prints
 * one TSV line: loader threads images seconds img_s (after a "#" line describing the run).
 *
 *   loader DB [--stats DIR] [--batch 128] [--threads 1] [--batches 20] [--crop 227]
 *
 * DIR holds mean.binaryproto and stats.txt as alexnet-stats writes them. One warm-up batch
 * is read first (it also starts the workers); the time covers the batches after it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "../cmd/cli.h"
#include "alexnet/loader.h"
#include "alexnet/threads.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: loader DB [--stats DIR] [--batch N] [--threads N] [--batches N] "
               "[--crop N]\n"
               "Times the training loader on DB; DIR holds mean.binaryproto and stats.txt.\n");
}

/* DIR/mean.binaryproto and DIR/stats.txt into *mean (malloc'ed) and *st. */
static int read_stats(const char *dir, float **mean, int shape[3], struct anet_stats *st)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/mean.binaryproto", dir);
    enum anet_status s = anet_mean_read(path, mean, &shape[0], &shape[1], &shape[2]);
    if (s) return cli_fail(s, 0, "mean image");
    snprintf(path, sizeof path, "%s/stats.txt", dir);
    if ((s = anet_stats_read(path, st))) return cli_fail(s, 0, "colour statistics");
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_STATS = 1, O_BATCH, O_THREADS, O_BATCHES, O_CROP };
    static const struct option longopts[] = {
        {"stats", required_argument, 0, O_STATS},     {"batch", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS}, {"batches", required_argument, 0, O_BATCHES},
        {"crop", required_argument, 0, O_CROP},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    cli_init("loader");
    const char *stats_dir = NULL;
    int batch = 128, threads = 1, batches = 20, crop = 227, opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_STATS: stats_dir = optarg; break;
        case O_BATCH: batch = cli_int("batch", optarg, 1, 4096); break;
        case O_THREADS: threads = cli_int("threads", optarg, 1, 1024); break;
        case O_BATCHES: batches = cli_int("batches", optarg, 1, 1000000); break;
        case O_CROP: crop = cli_int("crop", optarg, 1, 65500); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) cli_usage_error("one database expected");
    const char *path = argv[optind];

    float *mean = NULL;
    int shape[3] = {0, 0, 0};
    struct anet_stats st;
    if (stats_dir && read_stats(stats_dir, &mean, shape, &st)) return 1;
    struct anet_db *db;
    enum anet_status s = anet_db_open(path, &db);
    if (s) return cli_fail(s, 0, "database");
    struct anet_loader_config cfg = {
        .batch = batch, .crop = crop, .shuffle = 1, .random_crop = 1, .mirror = 1,
        .color_sigma = stats_dir ? 0.1f : 0.0f, .seed = 1, .mean = mean, .mean_c = shape[0],
        .mean_h = shape[1], .mean_w = shape[2], .stats = stats_dir ? &st : NULL,
        .threads = threads, .depth = 0};
    struct anet_loader *l;
    if ((s = anet_loader_open(db, &cfg, &l))) return cli_fail(s, 1, "loader");

    struct anet_batch b;
    if ((s = anet_loader_next(l, &b))) return cli_fail(s, 0, "warm-up batch");
    long images = 0;
    double t0 = anet_seconds();
    for (int i = 0; i < batches; i++) {
        if ((s = anet_loader_next(l, &b))) return cli_fail(s, 0, "batch");
        images += b.n;
    }
    double dt = anet_seconds() - t0;
    printf("#loader %s %dx%dx%d, %zu records, batch %d, crop %d, %s\n", path,
           anet_loader_channels(l), anet_loader_height(l), anet_loader_width(l),
           anet_loader_count(l), batch, crop,
           stats_dir ? "mean and colour noise" : "no mean, no colour noise");
    printf("loader\t%d\t%ld\t%.3f\t%.1f\n", threads, images, dt, images / dt);
    anet_loader_free(l);
    anet_db_close(db);
    free(mean);
    return 0;
}
