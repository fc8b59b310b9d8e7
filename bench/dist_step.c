/* Times the data-parallel training step of the paper's network on the CPU: each rank's
 * forward and backward on its share of a global batch, the sum of the gradients across the
 * ranks (alexnet/dist.h: one MPI_Allreduce over the gradient block), the update. Run alone
 * or under mpirun; rank 0 prints one TSV line:
 *   ranks threads batch img_per_s step_ms sum_ms sum_share
 * (the median step over iters, after a warm-up step; sum_ms is the sum's part of it).
 *
 *   dist_step [--batch 64] [--iters 4] [--threads N] [--overlap] [network options]
 * --overlap starts each layer's sum as backward finishes it (as alexnet-train --overlap on);
 * sum_ms is then the wait for the sums after backward. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../cmd/cli.h"
#include "alexnet/dist.h"
#include "alexnet/rng.h"
#include "alexnet/threads.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The layer hook: layer l's gradients start their sum. */
static void start_sum(void *user, struct anet_model *m, int l)
{
    struct anet_tensor *t;
    anet_model_tensors(m, &t);
    anet_dist_start_sum(user, t[2 * l].grad, t[2 * l].count + t[2 * l + 1].count);
    anet_dist_progress(user);
}

static void fail_if(enum anet_status s, struct anet_dist *d)
{
    if (!s) return;
    cli_fail(s, 0, "dist_step");
    anet_dist_abort(d, 1);
}

int main(int argc, char **argv)
{
    enum { O_BATCH = CLI_OPT_MODEL_LAST, O_ITERS, O_THREADS, O_OVERLAP };
    static const struct option longopts[] = {
        CLI_MODEL_LONGOPTS,
        {"batch", required_argument, 0, O_BATCH}, {"iters", required_argument, 0, O_ITERS},
        {"threads", required_argument, 0, O_THREADS}, {"overlap", no_argument, 0, O_OVERLAP},
        {0, 0, 0, 0}};
    cli_fast_blas(argv);
    cli_init("dist_step");
    struct anet_dist *d;
    if (anet_dist_open(&argc, &argv, &d)) return cli_fail(ANET_ERR_IO, 0, "MPI");
    struct anet_config c;
    anet_config_default(&c);
    int batch = 64, iters = 4, threads = 0, overlap = 0, opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (cli_model_option(opt, optarg, &c)) continue;
        switch (opt) {
        case O_BATCH: batch = cli_int("batch", optarg, 1, 4096); break;
        case O_ITERS: iters = cli_int("iters", optarg, 1, 100000); break;
        case O_THREADS: threads = cli_int("threads", optarg, 0, 1024); break;
        case O_OVERLAP: overlap = 1; break;
        default: fprintf(stderr, "Usage: dist_step [--batch N] [--iters N] [--threads N]\n"); return 2;
        }
    }
    int ranks = anet_dist_size(d), rank = anet_dist_rank(d), share = batch / ranks;
    if (batch % ranks) return fprintf(stderr, "dist_step: --batch %d does not divide among %d\n", batch, ranks), 2;
    threads = anet_threads_set(threads);
    struct anet_model *m;
    fail_if(anet_model_create(&c, share, &m), d);
    anet_model_init(m, 1);
    fail_if(anet_dist_connect(d, anet_model_backend(m)), d);
    size_t in = (size_t)share * c.channels * c.crop * c.crop;
    float *x = malloc(in * sizeof *x);
    int32_t *labels = malloc((size_t)share * sizeof *labels);
    double *step = malloc((size_t)iters * sizeof *step), *sum = malloc((size_t)iters * sizeof *sum);
    if (!x || !labels || !step || !sum) fail_if(ANET_ERR_NOMEM, d);
    for (size_t i = 0; i < in; i++)
        x[i] = 50.0f * anet_rng_normal(3, (uint32_t)rank, ANET_RNG_TEST, i);
    for (int i = 0; i < share; i++) labels[i] = (int32_t)((rank * share + i) % c.classes);
    struct anet_sgd h;
    anet_sgd_default(&h);
    anet_model_set_share(m, rank * share, ranks > 1 ? batch : 0);
    if (overlap) anet_model_set_layer_hook(m, start_sum, d);
    for (int i = 0; i < 1 + iters; i++) {
        double t0 = anet_seconds(), loss, t1, t2;
        struct anet_span spans[ANET_MAX_PARTS];
        fail_if(anet_model_forward(m, x, share, 1, 1, (uint32_t)i, NULL), d);
        fail_if(anet_model_loss(m, labels, &loss), d);
        fail_if(anet_model_backward(m), d);
        t1 = anet_seconds();
        int n = anet_model_gradients(m, spans);
        if (overlap) fail_if(anet_dist_finish(d), d);
        else fail_if(anet_dist_sum_gradients(d, anet_model_backend(m), spans, n), d);
        t2 = anet_seconds();
        fail_if(anet_model_update(m, &h), d);
        if (i > 0) step[i - 1] = anet_seconds() - t0, sum[i - 1] = t2 - t1;
    }
    qsort(step, (size_t)iters, sizeof *step, cmp_double);
    qsort(sum, (size_t)iters, sizeof *sum, cmp_double);
    double ms = step[iters / 2] * 1e3, sms = sum[iters / 2] * 1e3;
    if (rank == 0) {
        printf("#%s; %d threads a rank%s\n", anet_dist_describe(d), threads,
               overlap ? "; sums overlapped" : "");
        printf("%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.3f\n", ranks, threads, batch, batch / (ms / 1e3),
               ms, sms, sms / ms);
    }
    free(x), free(labels), free(step), free(sum);
    anet_model_free(m);
    anet_dist_close(d);
    return 0;
}
