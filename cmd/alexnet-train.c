/* alexnet-train: the paper's training recipe on a database of images.
 *
 * Usage: alexnet-train --train T.lmdb [--val V.lmdb] --stats DIR -o RUNDIR [OPTIONS]
 *        alexnet-train --init-from CKPT --train T.lmdb ... -o RUNDIR [OPTIONS]
 *        alexnet-train --resume CKPT|RUNDIR [OPTIONS]
 * The run itself is the library's (alexnet/run.h: batches through the loader, SGD steps,
 * validation after every epoch, the learning-rate schedule, checkpoints that let the run
 * stop at any point and go on exactly where it was). This tool parses the options, checks
 * them against a checkpoint on --resume, turns signals into a clean stop, and writes the
 * metrics to stdout as TSV and the messages and a progress line to stderr. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alexnet/checkpoint.h"
#include "alexnet/dist.h"
#include "alexnet/run.h"
#include "alexnet/threads.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-train --train DB [--val DB] --stats DIR -o RUNDIR [OPTIONS]\n"
            "       alexnet-train --init-from CKPT --train DB ... -o RUNDIR [OPTIONS]\n"
            "       alexnet-train --resume CKPT|RUNDIR [OPTIONS]\n"
            "Train the network with the paper's recipe; metrics as TSV on stdout.\n"
            "\n"
            "Data and run:\n"
            "      --train DB         training database (alexnet-prep)\n"
            "      --val DB           validation database, centre crops after each epoch\n"
            "      --stats DIR        DIR/mean.binaryproto and DIR/stats.txt (alexnet-stats)\n"
            "  -o, --out RUNDIR       run directory: checkpoints, best.anet, run.txt\n"
            "      --resume PATH      go on from a checkpoint, or from RUNDIR's latest\n"
            "      --force            start afresh in a RUNDIR that holds another run\n"
            "Recipe (defaults are the paper's):\n"
            "      --epochs N         epochs to train (90)\n"
            "      --max-iter N       stop (with a checkpoint) after N steps in all\n"
            "      --batch N          images a step (128)\n"
            "      --lr X             initial learning rate (0.01)\n"
            "      --momentum X       momentum (0.9)\n"
            "      --decay X          weight decay (0.0005)\n"
            "      --lr-policy P      plateau, step or fixed (plateau)\n"
            "      --patience N       plateau: epochs without improvement before a drop (2)\n"
            "      --max-drops N      plateau: drops at most (3)\n"
            "      --step-epochs N    step: epochs between drops (30)\n"
            "      --gamma X          factor of a drop (0.1)\n"
            "      --seed N           weights, data order, augmentation, dropout (1)\n"
            "      --random-crop on|off  random crops, or the centre one (on)\n"
            "      --mirror on|off    horizontal mirrors with probability 1/2 (on)\n"
            "      --color-noise S    sigma of the PCA colour noise; 0 turns it off (0.1)\n"
            "      --init-std X       std of the initial weights (0.01)\n"
            "      --init-bias X      bias of conv2, conv4, conv5, fc6, fc7 (1)\n"
            "Fine-tuning:\n"
            "      --init-from CKPT   start from a trained model: its network and weights, fc8\n"
            "                         drawn afresh when the classes are others; fresh momentum\n"
            "                         and schedule\n"
            "      --freeze LAYERS    keep these layers' weights and biases as they are:\n"
            "                         conv1..conv5, or a list (conv1,conv2,fc6..fc7)\n"
            "      --lr-mult LAYERS=X multiply these layers' learning rate by X (repeatable)\n"
            CLI_MODEL_OPTS_HELP
            "Running:\n"
            CLI_DEVICE_HELP
            "  -j, --threads N        compute threads (all cores)\n"
            "      --loader-threads N threads preparing batches (2)\n"
            "      --log-every N      a training row every N steps (20)\n"
            "      --ckpt-every N     a checkpoint every N steps too; 0: epoch ends only (0)\n"
            "      --keep K           keep the last K checkpoints (3), plus best.anet\n"
            "      --check-ranks N    under mpirun: every N steps, check that every process\n"
            "                         holds the same weights (0: never) (0)\n"
            "      --overlap on|off   under mpirun, on the CPU: sum each layer's gradients\n"
            "                         while backward goes on below it (off)\n"
            "  -q, --quiet            no messages or progress on stderr\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "stdout: #phase epoch iter images loss top1_err top5_err lr img_s elapsed_s\n"
            "SIGINT/SIGTERM/SIGUSR1: finish the step, write a checkpoint, exit 130/143/138;\n"
            "a second signal stops at once without one, exit 1.\n"
            "Exit status: 0 success, 1 failure, 2 usage error, 130/138/143 stopped by a signal.\n");
}

/* ---- options ----------------------------------------------------------------------------- */
enum {
    O_TRAIN = CLI_OPT_MODEL_LAST + 1, O_VAL, O_STATS, O_RESUME, O_FORCE, O_EPOCHS, O_MAX_ITER,
    O_BATCH, O_LR, O_MOMENTUM, O_DECAY, O_POLICY, O_PATIENCE, O_MAX_DROPS, O_STEP_EPOCHS,
    O_GAMMA, O_SEED, O_RANDOM_CROP, O_MIRROR, O_COLOR, O_INIT_STD, O_INIT_BIAS, O_FREEZE,
    O_LR_MULT, O_INIT_FROM, O_DEVICE, O_GPUS, O_PRECISION,
    O_LOADER_THREADS, O_LOG_EVERY, O_CKPT_EVERY, O_KEEP, O_CHECK_RANKS, O_OVERLAP, O_VERSION
};

/* An option that shapes the run (the network or the recipe): kept in the order given, so
 * that on --resume each can be checked against what the checkpoint says. */
struct given { int opt; const char *arg, *name; };

struct options {
    const char *train, *val, *stats, *out, *resume, *init_from, *device, *gpus, *precision;
    int force, quiet, threads, loader_threads, log_every, ckpt_every, keep, check_ranks, overlap;
    uint64_t max_iter;
    int epochs; /* 0: the recipe's */
    struct given given[64];
    int ngiven;
};

/* --freeze LAYERS: the layers join the frozen ones. */
static void freeze_option(const char *arg, struct anet_layer_sgd *l)
{
    uint32_t set;
    if (anet_layers_parse(arg, &set)) cli_usage_error("--freeze: %s", anet_error_detail());
    l->frozen |= set;
}

/* --lr-mult LAYERS=X: the layers' learning-rate multiplier. */
static void lr_mult_option(const char *arg, struct anet_layer_sgd *l)
{
    const char *eq = strrchr(arg, '=');
    if (!eq || eq == arg)
        cli_usage_error("--lr-mult: expected LAYERS=X (fc8=10, conv1..conv5=0.1), got '%s'", arg);
    char layers[64];
    uint32_t set;
    snprintf(layers, sizeof layers, "%.*s", (int)(eq - arg), arg);
    if (anet_layers_parse(layers, &set)) cli_usage_error("--lr-mult: %s", anet_error_detail());
    float x = (float)cli_double("lr-mult", eq + 1, 0, ANET_MAX_LR_MULT);
    for (int i = 0; i < ANET_LAYERS; i++)
        if (set >> i & 1) l->lr_mult[i] = x;
}

/* Applies a recipe option; 0 when opt is not one. */
static int recipe_option(int opt, const char *arg, struct anet_recipe *r, struct anet_config *c)
{
    switch (opt) {
    case O_BATCH: r->batch = cli_int("batch", arg, 1, 65536); break;
    case O_LR: r->lr = (float)cli_double("lr", arg, 0, 1e6); break;
    case O_MOMENTUM: r->momentum = (float)cli_double("momentum", arg, 0, 1); break;
    case O_DECAY: r->decay = (float)cli_double("decay", arg, 0, 1); break;
    case O_POLICY:
        if (!anet_lr_policy_parse(arg, &r->policy))
            cli_usage_error("--lr-policy: expected plateau, step or fixed, got '%s'", arg);
        break;
    case O_PATIENCE: r->patience = cli_int("patience", arg, 1, 1000000); break;
    case O_MAX_DROPS: r->max_drops = cli_int("max-drops", arg, 0, 1000); break;
    case O_STEP_EPOCHS: r->step_epochs = cli_int("step-epochs", arg, 1, 1000000); break;
    case O_GAMMA: r->gamma = (float)cli_double("gamma", arg, 1e-9, 1); break;
    case O_SEED: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(arg, &end, 10);
        if (errno || end == arg || *end || *arg == '-')
            cli_usage_error("--seed: '%s' is not a non-negative integer", arg);
        r->seed = v;
        break;
    }
    case O_RANDOM_CROP: r->random_crop = cli_on_off("random-crop", arg); break;
    case O_MIRROR: r->mirror = cli_on_off("mirror", arg); break;
    case O_COLOR: r->color_sigma = (float)cli_double("color-noise", arg, 0, 100); break;
    case O_INIT_STD: c->init_std = (float)cli_double("init-std", arg, 0, 100); break;
    case O_INIT_BIAS: c->init_bias = (float)cli_double("init-bias", arg, -100, 100); break;
    case O_FREEZE: freeze_option(arg, &r->layers); break;
    case O_LR_MULT: lr_mult_option(arg, &r->layers); break;
    default: return 0;
    }
    return 1;
}

static const struct option longopts[] = {
    {"train", required_argument, 0, O_TRAIN},
    {"val", required_argument, 0, O_VAL},
    {"stats", required_argument, 0, O_STATS},
    {"out", required_argument, 0, 'o'},
    {"resume", required_argument, 0, O_RESUME},
    {"force", no_argument, 0, O_FORCE},
    {"epochs", required_argument, 0, O_EPOCHS},
    {"max-iter", required_argument, 0, O_MAX_ITER},
    {"batch", required_argument, 0, O_BATCH},
    {"lr", required_argument, 0, O_LR},
    {"momentum", required_argument, 0, O_MOMENTUM},
    {"decay", required_argument, 0, O_DECAY},
    {"lr-policy", required_argument, 0, O_POLICY},
    {"patience", required_argument, 0, O_PATIENCE},
    {"max-drops", required_argument, 0, O_MAX_DROPS},
    {"step-epochs", required_argument, 0, O_STEP_EPOCHS},
    {"gamma", required_argument, 0, O_GAMMA},
    {"seed", required_argument, 0, O_SEED},
    {"random-crop", required_argument, 0, O_RANDOM_CROP},
    {"mirror", required_argument, 0, O_MIRROR},
    {"color-noise", required_argument, 0, O_COLOR},
    {"init-std", required_argument, 0, O_INIT_STD},
    {"init-bias", required_argument, 0, O_INIT_BIAS},
    {"init-from", required_argument, 0, O_INIT_FROM},
    {"freeze", required_argument, 0, O_FREEZE},
    {"lr-mult", required_argument, 0, O_LR_MULT},
    CLI_MODEL_LONGOPTS,
    {"device", required_argument, 0, O_DEVICE}, {"gpus", required_argument, 0, O_GPUS},
        {"precision", required_argument, 0, O_PRECISION},
    {"threads", required_argument, 0, 'j'},
    {"loader-threads", required_argument, 0, O_LOADER_THREADS},
    {"log-every", required_argument, 0, O_LOG_EVERY},
    {"ckpt-every", required_argument, 0, O_CKPT_EVERY},
    {"keep", required_argument, 0, O_KEEP},
    {"check-ranks", required_argument, 0, O_CHECK_RANKS},
    {"overlap", required_argument, 0, O_OVERLAP},
    {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, O_VERSION},
    {0, 0, 0, 0}};

static const char *long_name(int opt)
{
    for (const struct option *o = longopts; o->name; o++)
        if (o->val == opt) return o->name;
    return "?";
}

static void parse_args(int argc, char **argv, struct options *o, struct anet_config *cfg,
                       struct anet_recipe *r)
{
    memset(o, 0, sizeof *o);
    o->loader_threads = 2, o->log_every = 20, o->keep = 3, o->device = "cpu", o->gpus = NULL, o->precision = "fp32";
    anet_config_default(cfg);
    anet_recipe_default(r);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:j:qh", longopts, NULL)) != -1) {
        if (cli_model_option(c, optarg, cfg) || recipe_option(c, optarg, r, cfg)) {
            if (o->ngiven == (int)(sizeof o->given / sizeof o->given[0]))
                cli_usage_error("too many options");
            o->given[o->ngiven++] = (struct given){c, optarg, long_name(c)};
            continue;
        }
        switch (c) {
        case O_TRAIN: o->train = optarg; break;
        case O_VAL: o->val = optarg; break;
        case O_STATS: o->stats = optarg; break;
        case 'o': o->out = optarg; break;
        case O_RESUME: o->resume = optarg; break;
        case O_INIT_FROM: o->init_from = optarg; break;
        case O_FORCE: o->force = 1; break;
        case O_EPOCHS: o->epochs = cli_int("epochs", optarg, 1, 1000000); break;
        case O_MAX_ITER: o->max_iter = (uint64_t)cli_int("max-iter", optarg, 1, 2147483647); break;
        case O_DEVICE: o->device = cli_device(optarg); break;
        case O_GPUS: o->gpus = cli_gpus(optarg); break;
        case O_PRECISION: o->precision = cli_precision(optarg); break;
        case 'j': o->threads = cli_int("threads", optarg, 1, 1024); break;
        case O_LOADER_THREADS: o->loader_threads = cli_int("loader-threads", optarg, 1, 256); break;
        case O_LOG_EVERY: o->log_every = cli_int("log-every", optarg, 1, 2147483647); break;
        case O_CKPT_EVERY: o->ckpt_every = cli_int("ckpt-every", optarg, 0, 2147483647); break;
        case O_KEEP: o->keep = cli_int("keep", optarg, 1, 1000000); break;
        case O_CHECK_RANKS: o->check_ranks = cli_int("check-ranks", optarg, 0, 2147483647); break;
        case O_OVERLAP: o->overlap = cli_on_off("overlap", optarg); break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(EXIT_OK);
        case O_VERSION: cli_version(); exit(EXIT_OK);
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->resume) {
        if (!o->train) cli_usage_error("--train DB is required (or --resume)");
        if (!o->stats) cli_usage_error("--stats DIR is required (or --resume)");
        if (!o->out) cli_usage_error("-o RUNDIR is required (or --resume)");
    } else if (o->force) {
        cli_usage_error("--force and --resume contradict each other");
    } else if (o->init_from) {
        cli_usage_error("--init-from and --resume contradict each other: a resumed run goes on "
                        "from its own weights");
    }
    const struct cli_file out = {"-o", o->out};
    const struct cli_file in[] = {{"--train", o->train}, {"--val", o->val}, {"--stats", o->stats}};
    cli_refuse_same_files(&out, 1, in, 3);
    if (o->epochs) r->epochs = o->epochs;
}


/* ---- the run's output ---------------------------------------------------------------------- */
struct tool {
    struct options o;
    int rank;                /* of a data-parallel job: rank 0 alone writes output */
    int progress;            /* a progress line on stderr */
    double last_draw;        /* when it was drawn */
};

static volatile sig_atomic_t stop_signal;

/* A second signal stops at once, without the checkpoint the first one asked for: exit 1,
 * not 128 + sig, which promises one (files are atomic: those written are intact). */
static void on_signal(int sig)
{
    static const char msg[] = "alexnet-train: a second signal: stopped at once, without "
                              "writing a checkpoint\n";
    if (stop_signal) {
        (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(EXIT_RUNTIME);
    }
    stop_signal = sig;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL); /* what mpirun forwards at once */
}

static int stop_requested(void *user)
{
    (void)user;
    return stop_signal;
}

static void clear_progress(struct tool *t)
{
    if (t->progress) fputs("\r\033[K", stderr);
}

static void message(void *user, enum anet_log_level level, const char *text)
{
    struct tool *t = user;
    if (t->o.quiet) return;
    clear_progress(t);
    fprintf(stderr, "%s: %s%s\n", cli_name, level == ANET_LOG_WARN ? "warning: " : "", text);
}

static void say(struct tool *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct tool *t, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    message(t, ANET_LOG_INFO, text);
}

static void print_header(const struct tool *t)
{
    if (t->rank) return;
    printf("#phase\tepoch\titer\timages\tloss\ttop1_err\ttop5_err\tlr\timg_s\telapsed_s\n");
    fflush(stdout);
}

static void print_row(void *user, const struct anet_run_row *w)
{
    struct tool *t = user;
    if (t->rank) return;
    clear_progress(t);
    printf("%s\t%" PRIu32 "\t%" PRIu64 "\t%" PRIu64 "\t%.6f\t%.6f\t%.6f\t%.6g\t%.1f\t%.1f\n",
           w->phase, w->epoch, w->iter, w->images, w->loss, w->top1_err, w->top5_err,
           (double)w->lr, w->img_s, w->elapsed);
    fflush(stdout);
}

static void show_progress(void *user, const struct anet_run *r, double loss, double img_s)
{
    struct tool *t = user;
    if (!t->progress) return;
    const struct anet_progress *p = &anet_run_state(r)->progress;
    uint32_t batches = anet_run_batches(r);
    double now = anet_seconds();
    if (now - t->last_draw < 0.2 && p->batch < batches) return; /* a few redraws a second */
    t->last_draw = now;
    int width = 30, done = (int)((double)width * p->batch / batches);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r\033[Kepoch %" PRIu32 "/%d [%s] %" PRIu32 "/%" PRIu32 " loss %.4f %.1f img/s",
            p->epoch + 1, anet_run_state(r)->recipe.epochs, bar, p->batch, batches, loss, img_s);
}

/* Refuses options that contradict the checkpoint's network or recipe. */
static enum anet_status check_given(void *user, const char *ckpt,
                                    const struct anet_config *net,
                                    const struct anet_recipe *ck)
{
    struct tool *t = user;
    for (int i = 0; i < t->o.ngiven; i++) {
        const struct given *g = &t->o.given[i];
        struct anet_config c = *net;
        struct anet_recipe rc = *ck;
        if (!cli_model_option(g->opt, g->arg, &c)) recipe_option(g->opt, g->arg, &rc, &c);
        rc.epochs = ck->epochs;
        if (memcmp(&c, net, sizeof c) || memcmp(&rc, ck, sizeof rc))
            return anet_fail(ANET_ERR_INVALID, "--%s %s contradicts the checkpoint '%s' (see "
                             "its settings with alexnet-info %s)", g->name, g->arg, ckpt, ckpt);
    }
    return ANET_OK;
}

/* A fine-tuning run's network: the checkpoint's, with the network options given applied to
 * it in order (the recipe's are applied already). 0, or the failure's exit status. */
static int init_network(const struct options *o, struct anet_config *cfg)
{
    struct anet_ckpt ck;
    enum anet_status s = anet_ckpt_peek(o->init_from, &ck);
    if (s) return cli_fail(s, 0, NULL);
    *cfg = ck.config;
    anet_ckpt_free(&ck);
    for (int i = 0; i < o->ngiven; i++) {
        struct anet_recipe scratch;
        anet_recipe_default(&scratch);
        if (!cli_model_option(o->given[i].opt, o->given[i].arg, cfg))
            recipe_option(o->given[i].opt, o->given[i].arg, &scratch, cfg);
    }
    return 0;
}

/* 60965224 -> "60,965,224" */
static const char *grouped(size_t v, char buf[32])
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%zu", v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}

/* The command line, as run.txt records it. */
static char *command_line(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = malloc(n), *at = s;
    if (!s) return NULL;
    for (int i = 0; i < argc; i++) at += sprintf(at, "%s%s", i ? " " : "", argv[i]);
    *at = 0;
    return s;
}

static void opening_lines(struct tool *t, const struct anet_run *r, const struct anet_dist *d)
{
    char b1[32], b2[32], where[800];
    const struct anet_placement *w = anet_model_placement(anet_run_model(r));
    uint32_t batches = anet_run_batches(r);
    size_t images = anet_run_train_images(r);
    say(t, "%s parameters; %s training %s, %u %s of %d an epoch%s",
        grouped(anet_config_params(anet_run_config(r)), b1), grouped(images, b2),
        cli_plural((long long)images, "image", "images"), batches,
        cli_plural(batches, "batch", "batches"),
        anet_run_state(r)->recipe.batch, anet_run_validates(r) ? "; validating after each epoch" : "");
    if (w->backend->device == ANET_DEVICE_CUDA)
        say(t, "on %s, %s arithmetic", cli_placement_text(w, where, sizeof where),
            anet_precision_name(anet_backend_precision(w->backend)));
    if (anet_dist_size(d) > 1)
        say(t, "data parallel: %s; a share of %d images each", anet_dist_describe(d),
            anet_run_state(r)->recipe.batch / anet_dist_size(d));
}

/* What every rank needs of the GPUs: with several ranks on a machine, rank r's --gpus
 * numbers count from r times the GPUs one rank takes (--gpus 0 is GPU r; --gpus 0,1 is
 * GPUs 2r and 2r+1), so that each has its own; with fewer GPUs than that, ranks share
 * them round the machine's GPUs (and sum through host memory). */
static void place_rank(const struct anet_dist *d, const char *device, char *buf, size_t size,
                       const char **gpus)
{
    int local = anet_dist_local_rank(d);
    if (anet_dist_size(d) == 1 || local == 0 || strcmp(device, "cuda")) return;
    int a = 0, b = -1;
    if (*gpus && sscanf(*gpus, "%d,%d", &a, &b) < 1) return;
    int stride = (b > a ? b : a) + 1, have = anet_cuda_devices();
    int ga = a + local * stride, gb = b + local * stride;
    if (have > 0) ga %= have, gb %= have;
    if (b >= 0) snprintf(buf, size, "%d,%d", ga, gb);
    else snprintf(buf, size, "%d", ga);
    *gpus = buf;
}

/* A failure: rank 0 says it, and a rank its own; the ranks learn of each other's failures
 * (alexnet/run.h) and leave the job together. */
static int failed(struct tool *t, const struct anet_run *r, enum anet_status s)
{
    int rc = EXIT_RUNTIME;
    if (t->rank == 0 || !anet_run_failed_elsewhere(r)) {
        if (t->rank) fprintf(stderr, "%s: rank %d: %s\n", cli_name, t->rank, anet_error_detail());
        else rc = cli_fail(s, 0, NULL);
    }
    if (anet_run_refused(r)) {
        if (t->rank == 0) fprintf(stderr, "Try '%s --help' for more information.\n", cli_name);
        rc = EXIT_USAGE;
    }
    return rc;
}

int main(int argc, char **argv)
{
    cli_fast_blas(argv);
    cli_init("alexnet-train");
    struct tool t;
    memset(&t, 0, sizeof t);
    struct anet_dist *dist;
    enum anet_status s = anet_dist_open(&argc, &argv, &dist);
    if (s) return cli_fail(s, 0, NULL);
    t.rank = anet_dist_rank(dist);
    struct anet_run_options ro;
    memset(&ro, 0, sizeof ro);
    parse_args(argc, argv, &t.o, &ro.net, &ro.recipe);
    int unfit = t.o.init_from ? init_network(&t.o, &ro.net) : 0;
    if (unfit) anet_dist_abort(dist, unfit); /* every rank fails alike */
    ro.init_from = t.o.init_from;
    char gpus[32];
    place_rank(dist, t.o.device, gpus, sizeof gpus, &t.o.gpus);
    struct anet_backend *be = NULL;
    int opened = cli_open_backend(t.o.device, t.o.gpus, t.o.precision, &be, &ro.where);
    if (opened) anet_dist_abort(dist, opened); /* this rank alone: end the job */
    for (int i = 0; i < t.o.ngiven; i++) ro.classes_given |= t.o.given[i].opt == CLI_OPT_CLASSES;
    anet_threads_set(cli_threads(t.o.threads));
    if (t.rank) t.o.quiet = 1; /* the others are quiet unless something fails */
    t.progress = !t.o.quiet && isatty(2);
    char *command = command_line(argc, argv);
    ro.dir = t.o.out, ro.resume = t.o.resume, ro.force = t.o.force;
    ro.train_db = t.o.train, ro.val_db = t.o.val, ro.stats = t.o.stats;
    ro.epochs = t.o.epochs, ro.max_iter = t.o.max_iter;
    ro.log_every = t.o.log_every, ro.ckpt_every = t.o.ckpt_every, ro.keep = t.o.keep;
    ro.loader_threads = t.o.loader_threads, ro.command = command, ro.dist = dist;
    ro.check_every = t.o.check_ranks, ro.overlap = t.o.overlap;
    struct anet_run_callbacks cb = {.user = &t, .message = message, .row = print_row,
                                    .step = show_progress, .stop = stop_requested,
                                    .check_resume = check_given};
    struct anet_run *r;
    s = anet_run_open(&ro, &cb, &r);
    int rc = EXIT_OK;
    if (s) {
        rc = failed(&t, r, s);
    } else {
        opening_lines(&t, r, dist);
        install_signals();
        print_header(&t);
        enum anet_run_end end;
        s = anet_run_train(r, &end);
        clear_progress(&t);
        if (s) rc = failed(&t, r, s);
        else if (end == ANET_RUN_STOPPED) rc = 128 + anet_run_signal(r);
        if (!s && anet_run_checksum(r))
            say(&t, "every process holds the same weights (checksum %016llx at iteration %llu)",
                (unsigned long long)anet_run_checksum(r),
                (unsigned long long)anet_run_state(r)->progress.iter);
    }
    anet_run_free(r);
    anet_backend_free(be);
    free(command);
    anet_dist_close(dist);
    return rc;
}
