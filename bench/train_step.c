/* Times training steps (forward, loss, backward, SGD update) of the network on the CPU
 * from random input, and prints one TSV line in the format of the PyTorch peer
 * (bench/peers/torch_alexnet.py): model mode phase batch img_per_s ms peak_MiB.
 *
 *   train_step [--batch 64] [--iters 4] [--warmup 1] [--threads 2] [--phase train|infer]
 *              [--lr X] [--freeze LAYERS] [--crop N --classes N ...] [--show-loss]
 * Steps are timed one by one and the median is reported. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../cmd/cli.h"
#include "alexnet/rng.h"
#include "alexnet/threads.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: train_step [--batch N] [--iters N] [--warmup N] [--threads N] "
               "[--phase train|infer] [--lr X] [--freeze LAYERS] [--show-loss] "
               "[network options]\n\n%s",
            CLI_MODEL_OPTS_HELP);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    enum { O_BATCH = CLI_OPT_MODEL_LAST, O_ITERS, O_WARMUP, O_THREADS, O_PHASE, O_SHOW, O_LR,
           O_FREEZE };
    static const struct option longopts[] = {
        CLI_MODEL_LONGOPTS,
        {"batch", required_argument, 0, O_BATCH},   {"iters", required_argument, 0, O_ITERS},
        {"warmup", required_argument, 0, O_WARMUP}, {"threads", required_argument, 0, O_THREADS},
        {"phase", required_argument, 0, O_PHASE},   {"show-loss", no_argument, 0, O_SHOW},
        {"lr", required_argument, 0, O_LR},         {"freeze", required_argument, 0, O_FREEZE},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    cli_fast_blas(argv);
    cli_init("train_step");
    struct anet_config c;
    anet_config_default(&c);
    int batch = 64, iters = 4, warmup = 1, threads = 0, train = 1, show = 0, opt;
    struct anet_sgd h;
    anet_sgd_default(&h);
    struct anet_layer_sgd layers;
    anet_layer_sgd_default(&layers);
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (cli_model_option(opt, optarg, &c)) continue;
        switch (opt) {
        case O_BATCH: batch = cli_int("batch", optarg, 1, 4096); break;
        case O_ITERS: iters = cli_int("iters", optarg, 1, 100000); break;
        case O_WARMUP: warmup = cli_int("warmup", optarg, 0, 1000); break;
        case O_THREADS: threads = cli_int("threads", optarg, 0, 1024); break;
        case O_PHASE:
            if (strcmp(optarg, "train") && strcmp(optarg, "infer"))
                cli_usage_error("--phase: train or infer");
            train = !strcmp(optarg, "train");
            break;
        case O_SHOW: show = 1; break;
        case O_LR: h.lr = (float)cli_double("lr", optarg, 0, 10); break;
        case O_FREEZE:
            if (anet_layers_parse(optarg, &layers.frozen))
                cli_usage_error("--freeze: %s", anet_error_detail());
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    threads = anet_threads_set(threads);
    struct anet_model *m;
    enum anet_status s = anet_model_create(&c, batch, &m);
    if (s) return cli_fail(s, 1, "cannot create the model");
    anet_model_init(m, 1);
    anet_model_set_layer_sgd(m, &layers);
    size_t in = (size_t)batch * c.channels * c.crop * c.crop;
    float *x = malloc(in * sizeof *x);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    double *t = malloc((size_t)iters * sizeof *t);
    if (!x || !labels || !t) return cli_fail(ANET_ERR_NOMEM, 0, "input");
    /* mean-subtracted pixels: roughly N(0, 50) */
    for (size_t i = 0; i < in; i++) x[i] = 50.0f * anet_rng_normal(3, 0, ANET_RNG_TEST, i);
    for (int i = 0; i < batch; i++) labels[i] = (int32_t)(anet_rng_u32(3, 1, ANET_RNG_TEST, i) % c.classes);
    for (int i = 0; i < warmup + iters; i++) {
        double t0 = anet_seconds(), loss = 0;
        s = train ? anet_model_train_step(m, x, labels, batch, &h, 1, (uint32_t)i, &loss)
                  : anet_model_forward(m, x, batch, 0, 1, 0, NULL);
        if (s) return cli_fail(s, 0, "training step");
        double dt = anet_seconds() - t0;
        if (i >= warmup) t[i - warmup] = dt;
        if (show) fprintf(stderr, "step %d: %.3f s, loss %.5f\n", i, dt, loss);
    }
    qsort(t, (size_t)iters, sizeof *t, cmp_double);
    double med = t[iters / 2];
    printf("#alexnet-c cpu threads %d\n", threads);
    printf("alexnet-c\tfp32\t%s\t%d\t%.1f\t%.2f\t0\n", train ? "train" : "infer", batch,
           batch / med, med * 1e3);
    free(x), free(labels), free(t);
    anet_model_free(m);
    return 0;
}
