/* alexnet-train: the paper's training recipe on a database of images.
 *
 * Usage: alexnet-train --train T.lmdb [--val V.lmdb] --stats DIR -o RUNDIR [OPTIONS]
 *        alexnet-train --resume CKPT|RUNDIR [OPTIONS]
 * Reads batches through the loader (random crops, mirrors, PCA colour noise, the mean
 * image subtracted), takes SGD steps, validates on the centre crops after every epoch,
 * follows the learning-rate schedule, and writes checkpoints that let the run stop at any
 * point and go on exactly where it was. Metrics go to stdout as TSV; messages to stderr. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/checkpoint.h"
#include "alexnet/data.h"
#include "alexnet/file.h"
#include "alexnet/loader.h"
#include "alexnet/stats.h"
#include "alexnet/threads.h"
#include "alexnet/train.h"
#include "alexnet/cuda.h"
#include "cli.h"
#include "feed.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-train --train DB [--val DB] --stats DIR -o RUNDIR [OPTIONS]\n"
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
            CLI_MODEL_OPTS_HELP
            "Running:\n"
            CLI_DEVICE_HELP
            "  -j, --threads N        compute threads (all cores)\n"
            "      --loader-threads N threads preparing batches (2)\n"
            "      --log-every N      a training row every N steps (20)\n"
            "      --ckpt-every N     a checkpoint every N steps too; 0: epoch ends only (0)\n"
            "      --keep K           keep the last K checkpoints (3), plus best.anet\n"
            "  -q, --quiet            no messages or progress on stderr\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "stdout: #phase epoch iter images loss top1_err top5_err lr img_s elapsed_s\n"
            "SIGINT/SIGTERM: finish the step, write a checkpoint, exit 130/143; a second\n"
            "signal stops at once without one, exit 1.\n"
            "Exit status: 0 success, 1 failure, 2 usage error, 130/143 interrupted.\n");
}

/* ---- options ----------------------------------------------------------------------------- */
enum {
    O_TRAIN = CLI_OPT_MODEL_LAST + 1, O_VAL, O_STATS, O_RESUME, O_FORCE, O_EPOCHS, O_MAX_ITER,
    O_BATCH, O_LR, O_MOMENTUM, O_DECAY, O_POLICY, O_PATIENCE, O_MAX_DROPS, O_STEP_EPOCHS,
    O_GAMMA, O_SEED, O_RANDOM_CROP, O_MIRROR, O_COLOR, O_INIT_STD, O_INIT_BIAS, O_DEVICE, O_GPUS, O_PRECISION,
    O_LOADER_THREADS, O_LOG_EVERY, O_CKPT_EVERY, O_KEEP, O_VERSION
};

/* An option that shapes the run (the network or the recipe): kept in the order given, so
 * that on --resume each can be checked against what the checkpoint says. */
struct given { int opt; const char *arg, *name; };

struct options {
    const char *train, *val, *stats, *out, *resume, *device, *gpus, *precision;
    enum anet_device dev;
    struct anet_placement where; /* the device, and the towers together or apart */
    int force, quiet, threads, loader_threads, log_every, ckpt_every, keep;
    uint64_t max_iter;
    int epochs; /* 0: the recipe's */
    struct given given[64];
    int ngiven;
};

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
    CLI_MODEL_LONGOPTS,
    {"device", required_argument, 0, O_DEVICE}, {"gpus", required_argument, 0, O_GPUS},
        {"precision", required_argument, 0, O_PRECISION},
    {"threads", required_argument, 0, 'j'},
    {"loader-threads", required_argument, 0, O_LOADER_THREADS},
    {"log-every", required_argument, 0, O_LOG_EVERY},
    {"ckpt-every", required_argument, 0, O_CKPT_EVERY},
    {"keep", required_argument, 0, O_KEEP},
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
    }
    const struct cli_file out = {"-o", o->out};
    const struct cli_file in[] = {{"--train", o->train}, {"--val", o->val}, {"--stats", o->stats}};
    cli_refuse_same_files(&out, 1, in, 3);
    if (o->epochs) r->epochs = o->epochs;
}

/* ---- the run directory ------------------------------------------------------------------- */
static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) {
        cli_error("out of memory");
        exit(EXIT_RUNTIME);
    }
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int is_ckpt_name(const char *name, uint64_t *iter)
{
    char tail[8];
    unsigned long long v;
    if (sscanf(name, "ckpt-%llu%7s", &v, tail) != 2 || strcmp(tail, ".anet")) return 0;
    if (strlen(name) != strlen("ckpt-00000000.anet") && strlen(name) < strlen("ckpt-.anet") + 9)
        return 0;
    if (iter) *iter = v;
    return 1;
}

/* The checkpoints in dir, newest (highest iteration) first. */
static int list_ckpts(const char *dir, char ***names)
{
    DIR *d = opendir(dir);
    *names = NULL;
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_ckpt_name(e->d_name, NULL)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = realloc(*names, (size_t)cap * sizeof *p);
            if (!p) break;
            *names = p;
        }
        (*names)[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort by iteration, descending */
        for (int j = i; j > 0; j--) {
            uint64_t a = 0, b = 0;
            is_ckpt_name((*names)[j - 1], &a), is_ckpt_name((*names)[j], &b);
            if (a >= b) break;
            char *t = (*names)[j - 1];
            (*names)[j - 1] = (*names)[j], (*names)[j] = t;
        }
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int holds_run(const char *dir)
{
    char **names, *runtxt = path_join(dir, "run.txt"), *best = path_join(dir, "best.anet");
    int n = list_ckpts(dir, &names);
    free_names(names, n);
    int r = n > 0 || access(runtxt, F_OK) == 0 || access(best, F_OK) == 0;
    free(runtxt), free(best);
    return r;
}

/* Removes another run's files (--force). */
static void clear_run(const char *dir)
{
    char **names;
    int n = list_ckpts(dir, &names);
    for (int i = 0; i < n; i++) {
        char *p = path_join(dir, names[i]);
        unlink(p);
        free(p);
    }
    free_names(names, n);
    const char *other[] = {"best.anet", "run.txt"};
    for (int i = 0; i < 2; i++) {
        char *p = path_join(dir, other[i]);
        unlink(p);
        free(p);
    }
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
        cli_error("'%s' is not a directory", dir);
        return -1;
    }
    cli_error("cannot create '%s': %s", dir, strerror(errno));
    return -1;
}

/* Keeps the newest `keep` checkpoints of dir. */
static void prune(const char *dir, int keep)
{
    char **names;
    int n = list_ckpts(dir, &names);
    for (int i = keep; i < n; i++) {
        char *p = path_join(dir, names[i]);
        unlink(p);
        free(p);
    }
    free_names(names, n);
}

/* ---- the run ----------------------------------------------------------------------------- */
struct run {
    struct options o;
    struct anet_config cfg;
    struct anet_train_state st;  /* recipe, progress, paths */
    struct anet_classes classes;
    struct anet_model *model;
    struct anet_db *train_db, *val_db;
    struct anet_loader *train, *val;
    float *mean;
    struct feed feed;               /* GPU: batches go up as pixels */
    struct anet_stats stats;
    int mc, mh, mw;
    const char *dir;
    char *last_ckpt; /* the last checkpoint written or resumed from */
    int progress;    /* a progress line on stderr */
    double t0;       /* anet_seconds() when elapsed was last brought up to date */
    char *own_dir;   /* r->dir when made here */
    double last_draw; /* when the progress line was drawn */
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
}

static void clear_progress(struct run *r)
{
    if (r->progress) fputs("\r\033[K", stderr);
}

static void say(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct run *r, const char *fmt, ...)
{
    if (r->o.quiet) return;
    clear_progress(r);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void tick(struct run *r)
{
    double now = anet_seconds();
    r->st.progress.elapsed += now - r->t0;
    r->t0 = now;
}

/* Checks the class tables of the two databases against each other. */
static int same_classes(const struct anet_classes *a, const struct anet_classes *b)
{
    if (a->count != b->count) return 0;
    for (int i = 0; i < a->count; i++)
        if (strcmp(a->wnid[i], b->wnid[i])) return 0;
    return 1;
}

/* The sidecar class table of a database; count 0 when it has none (a Caffe database). */
static int read_db_classes(const char *db, struct anet_classes *c)
{
    memset(c, 0, sizeof *c);
    char *p = path_join(db, "classes.tsv");
    int r = 0;
    if (access(p, F_OK) == 0) {
        enum anet_status s = anet_classes_read(p, c);
        if (s) r = -1, cli_fail(s, 0, NULL);
    }
    free(p);
    return r;
}

static int open_db(const char *path, struct anet_db **db)
{
    enum anet_status s = anet_db_open(path, db);
    return s ? cli_fail(s, 0, NULL), -1 : 0;
}

/* The class table and the number of classes, from the databases and --classes. */
static int settle_classes(struct run *r, int classes_given)
{
    struct anet_classes vc;
    if (read_db_classes(r->st.train_db, &r->classes)) return -1;
    if (r->st.val_db) {
        if (read_db_classes(r->st.val_db, &vc)) return -1;
        int differ = r->classes.count && vc.count && !same_classes(&r->classes, &vc);
        anet_classes_free(&vc);
        if (differ) {
            cli_error("the class tables of '%s' (%d classes) and '%s' differ: prepare both "
                      "with the same --synsets", r->st.train_db, r->classes.count, r->st.val_db);
            return -1;
        }
    }
    if (r->classes.count) {
        if (classes_given && r->cfg.classes != r->classes.count) {
            cli_error("--classes %d contradicts '%s', which has %d classes", r->cfg.classes,
                      r->st.train_db, r->classes.count);
            return -1;
        }
        r->cfg.classes = r->classes.count;
    } else if (!classes_given) {
        cli_error("'%s' has no class table (classes.tsv): give --classes N", r->st.train_db);
        return -1;
    }
    return 0;
}

static int load_stats(struct run *r)
{
    char *mean = path_join(r->st.stats, "mean.binaryproto");
    char *stats = path_join(r->st.stats, "stats.txt");
    enum anet_status s = anet_mean_read(mean, &r->mean, &r->mc, &r->mh, &r->mw);
    if (!s && r->st.recipe.color_sigma > 0) s = anet_stats_read(stats, &r->stats);
    free(mean), free(stats);
    return s ? cli_fail(s, 0, NULL), -1 : 0;
}

static int open_loader(struct run *r, struct anet_db *db, int training, struct anet_loader **l)
{
    const struct anet_recipe *rc = &r->st.recipe;
    struct anet_loader_config lc = {
        .batch = rc->batch, .crop = r->cfg.crop, .shuffle = training,
        .random_crop = training && rc->random_crop, .mirror = training && rc->mirror,
        .color_sigma = training ? rc->color_sigma : 0, .seed = rc->seed,
        .mean = r->mean, .mean_c = r->mc, .mean_h = r->mh, .mean_w = r->mw,
        .stats = &r->stats, .threads = r->o.loader_threads, .depth = 0};
    if (r->o.dev == ANET_DEVICE_CUDA) feed_loader_config(&lc); /* pixels go to the GPU */
    enum anet_status s = anet_loader_open(db, &lc, l);
    return s ? cli_fail(s, 0, NULL), -1 : 0;
}

/* Where the model reads batch b: the loader's x on the CPU; on the GPU, the model's input
 * buffer, filled from b's pixels (feed.h). NULL after a message when the GPU fails. */
static const float *batch_input(struct run *r, const struct anet_loader *l,
                                const struct anet_batch *b)
{
    if (r->o.dev != ANET_DEVICE_CUDA) return b->x;
    if (!r->feed.pix &&
        feed_open(&r->feed, r->mean, anet_loader_channels(l), anet_loader_height(l),
                  anet_loader_width(l), r->cfg.crop, r->st.recipe.batch, 1, 0))
        return NULL;
    return feed_batch(&r->feed, b, anet_model_input_buffer(r->model));
}

/* ---- checkpoints ------------------------------------------------------------------------- */
static int weights_finite(struct anet_model *m)
{
    if (anet_model_pull(m)) return 0; /* a GPU that fails has no trustworthy weights */
    struct anet_tensor *t;
    int n = anet_model_tensors(m, &t);
    for (int i = 0; i < n; i++) {
        float acc = 0;
        for (size_t k = 0; k < t[i].count; k++) acc += t[i].data[k] * 0.0f;
        if (acc != 0) return 0; /* inf·0 and nan·0 are nan */
    }
    return 1;
}

static int save_ckpt(struct run *r)
{
    char name[64];
    snprintf(name, sizeof name, "ckpt-%08" PRIu64 ".anet", r->st.progress.iter);
    char *path = path_join(r->dir, name);
    tick(r);
    char *text = anet_train_format(&r->st);
    enum anet_status s = text ? anet_ckpt_save(path, r->model, r->classes.count ? &r->classes : NULL,
                                               text, 1)
                              : anet_fail(ANET_ERR_NOMEM, "out of memory");
    free(text);
    if (s) {
        free(path);
        return cli_fail(s, 0, "cannot write a checkpoint"), -1;
    }
    free(r->last_ckpt);
    r->last_ckpt = path;
    prune(r->dir, r->o.keep);
    return 0;
}

/* best.anet: a hard link to the checkpoint just written (a copy where links fail). */
static int mark_best(struct run *r)
{
    char *best = path_join(r->dir, "best.anet"), tmp[64];
    snprintf(tmp, sizeof tmp, "best.anet.tmp.%ld", (long)getpid());
    char *tmpp = path_join(r->dir, tmp);
    int rc = 0;
    if (link(r->last_ckpt, tmpp) == 0) { /* only a link this run made is removed */
        if (rename(tmpp, best) == 0) goto out;
        unlink(tmpp);
    }
    char *text = anet_train_format(&r->st);
    enum anet_status s = anet_ckpt_save(best, r->model, r->classes.count ? &r->classes : NULL,
                                        text, 1);
    free(text);
    if (s) rc = -1, cli_fail(s, 0, "cannot write best.anet");
out:
    free(best), free(tmpp);
    return rc;
}

/* ---- metrics ----------------------------------------------------------------------------- */
static void print_header(void)
{
    printf("#phase\tepoch\titer\timages\tloss\ttop1_err\ttop5_err\tlr\timg_s\telapsed_s\n");
    fflush(stdout);
}

static void print_row(const char *phase, uint32_t epoch, uint64_t iter, uint64_t images,
                      double loss, double e1, double e5, float lr, double img_s, double elapsed)
{
    printf("%s\t%" PRIu32 "\t%" PRIu64 "\t%" PRIu64 "\t%.6f\t%.6f\t%.6f\t%.6g\t%.1f\t%.1f\n",
           phase, epoch, iter, images, loss, e1, e5, (double)lr, img_s, elapsed);
    fflush(stdout);
}

/* Top-1 and top-5 misses of a batch from its softmax outputs. */
static void count_errors(const float *prob, const int32_t *labels, int n, int classes,
                         uint64_t *e1, uint64_t *e5)
{
    int k = classes < 5 ? classes : 5;
    int32_t top[5];
    for (int i = 0; i < n; i++) {
        anet_topk(prob + (size_t)i * classes, classes, k, top);
        int hit = 0;
        for (int j = 0; j < k; j++) hit |= top[j] == labels[i];
        *e1 += top[0] != labels[i];
        *e5 += !hit;
    }
}

static void flush_window(struct run *r)
{
    struct anet_progress *p = &r->st.progress;
    if (!p->win_images) return;
    tick(r);
    double n = (double)p->win_images;
    print_row("train", p->epoch + 1, p->iter, p->images, p->win_loss / n, p->win_err1 / n,
              p->win_err5 / n, p->lr, p->win_seconds > 0 ? n / p->win_seconds : 0, p->elapsed);
    p->win_loss = 0, p->win_images = p->win_err1 = p->win_err5 = 0, p->win_seconds = 0;
}

static void show_progress(struct run *r, uint32_t batches, double loss, double img_s)
{
    if (!r->progress) return;
    const struct anet_progress *p = &r->st.progress;
    double now = anet_seconds();
    if (now - r->last_draw < 0.2 && p->batch < batches) return; /* a few redraws a second */
    r->last_draw = now;
    int width = 30, done = (int)((double)width * p->batch / batches);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r\033[Kepoch %" PRIu32 "/%d [%s] %" PRIu32 "/%" PRIu32 " loss %.4f %.1f img/s",
            p->epoch + 1, r->st.recipe.epochs, bar, p->batch, batches, loss, img_s);
}

/* Labels must index the network's outputs; names the record when one does not. */
static int check_labels(struct run *r, struct anet_db *db, const struct anet_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        if (b->labels[i] < r->cfg.classes) continue;
        const struct anet_db_record *recs;
        size_t count;
        anet_db_records(db, &recs, &count);
        const struct anet_db_record *rec = &recs[b->recs[i]];
        cli_error("'%s': record %.*s: label %d is out of range for %d classes",
                  anet_db_path(db), (int)rec->key_len, rec->key, b->labels[i], r->cfg.classes);
        return -1;
    }
    return 0;
}

/* ---- validation -------------------------------------------------------------------------- */
/* Mean loss and top-1/top-5 error over the validation set; 1 when a signal cut it short. */
static int validate(struct run *r, double *loss, double *e1, double *e5, double *img_s)
{
    double t = anet_seconds(), sum = 0;
    uint64_t n = 0, m1 = 0, m5 = 0;
    enum anet_status s = anet_loader_start(r->val, 0, 0);
    uint32_t batches = anet_loader_batches(r->val);
    for (uint32_t i = 0; i < batches && !s; i++) {
        struct anet_batch b;
        const float *logits;
        double l;
        if ((s = anet_loader_next(r->val, &b))) break;
        if (check_labels(r, r->val_db, &b)) return -1;
        const float *x = batch_input(r, r->val, &b);
        if (!x) return -1;
        if ((s = anet_model_forward(r->model, x, b.n, 0, 0, 0, &logits))) break;
        if ((s = anet_model_loss(r->model, b.labels, &l))) break;
        sum += l * b.n;
        n += (uint64_t)b.n;
        count_errors(anet_model_prob(r->model), b.labels, b.n, r->cfg.classes, &m1, &m5);
        if (stop_signal) return 1;
    }
    if (s) return cli_fail(s, 0, "validation"), -1;
    *loss = sum / (double)n, *e1 = (double)m1 / (double)n, *e5 = (double)m5 / (double)n;
    double dt = anet_seconds() - t;
    *img_s = dt > 0 ? (double)n / dt : 0;
    return 0;
}

/* ---- training ---------------------------------------------------------------------------- */
static int diverged(struct run *r, const char *what)
{
    const struct anet_progress *p = &r->st.progress;
    clear_progress(r);
    cli_error("iteration %" PRIu64 " (epoch %" PRIu32 ", batch %" PRIu32 "): %s: training "
              "diverged (try a lower --lr); %s%s%s", p->iter, p->epoch + 1, p->batch, what,
              r->last_ckpt ? "the last good checkpoint is '" : "no checkpoint was written",
              r->last_ckpt ? r->last_ckpt : "", r->last_ckpt ? "'" : "");
    return EXIT_RUNTIME;
}

/* Writes a checkpoint and says why the run stops here. */
static int stop_here(struct run *r, int code)
{
    clear_progress(r);
    if (save_ckpt(r)) return EXIT_RUNTIME;
    if (code) say(r, "stopped by signal %d at iteration %" PRIu64 "; resume with --resume %s",
                  code - 128, r->st.progress.iter, r->dir);
    else say(r, "stopped at iteration %" PRIu64 " (--max-iter); checkpoint '%s'",
             r->st.progress.iter, r->last_ckpt);
    return code;
}

/* One SGD step on the next batch. */
static int train_step(struct run *r, uint32_t batches)
{
    struct anet_progress *p = &r->st.progress;
    struct anet_batch b;
    double t = anet_seconds(), loss;
    enum anet_status s = anet_loader_next(r->train, &b);
    if (s) return cli_fail(s, 0, NULL);
    if (b.epoch != p->epoch || b.index != p->batch) {
        cli_error("internal error: the loader gave batch %u of epoch %u, expected %u of %u",
                  b.index, b.epoch, p->batch, p->epoch);
        return EXIT_RUNTIME;
    }
    if (check_labels(r, r->train_db, &b)) return EXIT_RUNTIME;
    struct anet_sgd h = {p->lr, r->st.recipe.momentum, r->st.recipe.decay};
    const float *x = batch_input(r, r->train, &b);
    if (!x) return EXIT_RUNTIME;
    s = anet_model_train_step(r->model, x, b.labels, b.n, &h, r->st.recipe.seed,
                              (uint32_t)p->iter, &loss);
    if (s) return cli_fail(s, 0, NULL);
    if (!isfinite(loss)) {
        char what[64];
        snprintf(what, sizeof what, "the loss is %s", isnan(loss) ? "nan" : "inf");
        return diverged(r, what);
    }
    count_errors(anet_model_prob(r->model), b.labels, b.n, r->cfg.classes, &p->win_err1,
                 &p->win_err5);
    p->win_loss += loss * b.n;
    p->win_images += (uint64_t)b.n;
    p->iter++, p->batch++, p->images += (uint64_t)b.n;
    double dt = anet_seconds() - t;
    p->win_seconds += dt;
    show_progress(r, batches, loss, dt > 0 ? b.n / dt : 0);
    if (p->iter % (uint64_t)r->o.log_every == 0) clear_progress(r), flush_window(r);
    return 0;
}

/* End of an epoch: flush the window, validate, follow the schedule, checkpoint. */
static int end_epoch(struct run *r)
{
    struct anet_progress *p = &r->st.progress;
    clear_progress(r);
    flush_window(r);
    double loss = 0, e1 = -1, e5 = 0, img_s = 0;
    if (r->val) {
        int v = validate(r, &loss, &e1, &e5, &img_s);
        if (v < 0) return EXIT_RUNTIME;
        if (v > 0) return stop_here(r, 128 + stop_signal);
        tick(r);
        print_row("val", p->epoch + 1, p->iter, p->images, loss, e1, e5, p->lr, img_s,
                  p->elapsed);
    }
    float lr = p->lr;
    int was_best_before = p->best_epoch;
    if (anet_schedule_epoch_end(&r->st.recipe, p, e1))
        say(r, "epoch %" PRIu32 ": learning rate %g -> %g", p->epoch + 1, (double)lr,
            (double)p->lr);
    int best = r->val && p->best_epoch == p->epoch + 1 && p->best_epoch != (uint32_t)was_best_before;
    p->epoch++, p->batch = 0;
    if (!weights_finite(r->model)) return diverged(r, "a weight is not finite");
    if (save_ckpt(r)) return EXIT_RUNTIME;
    if (best && mark_best(r)) return EXIT_RUNTIME;
    return 0;
}

static int train(struct run *r)
{
    struct anet_progress *p = &r->st.progress;
    uint32_t batches = anet_loader_batches(r->train);
    if (p->batch > batches) {
        cli_error("'%s': the checkpoint is at batch %u of an epoch of %u: was the training "
                  "database changed?", r->last_ckpt, p->batch, batches);
        return EXIT_RUNTIME;
    }
    print_header();
    r->t0 = anet_seconds();
    if (r->o.max_iter && p->iter >= r->o.max_iter) {
        say(r, "'%s' is at iteration %" PRIu64 " already (--max-iter %" PRIu64 "): nothing to do",
            r->last_ckpt, p->iter, r->o.max_iter);
        return 0;
    }
    while (p->epoch < (uint32_t)r->st.recipe.epochs) {
        if (p->batch < batches) {
            enum anet_status s = anet_loader_start(r->train, p->epoch, p->batch);
            if (s) return cli_fail(s, 0, NULL);
        }
        while (p->batch < batches) {
            int rc = train_step(r, batches);
            if (rc) return rc;
            if (stop_signal) return stop_here(r, 128 + stop_signal);
            if (r->o.max_iter && p->iter >= r->o.max_iter && p->batch < batches)
                return stop_here(r, 0);
            if (r->o.ckpt_every && p->iter % (uint64_t)r->o.ckpt_every == 0 &&
                p->batch < batches) {
                if (!weights_finite(r->model)) return diverged(r, "a weight is not finite");
                if (save_ckpt(r)) return EXIT_RUNTIME;
            }
        }
        int rc = end_epoch(r);
        if (rc) return rc;
        if (stop_signal) return 128 + stop_signal; /* the epoch's checkpoint is written */
        if (r->o.max_iter && p->iter >= r->o.max_iter) {
            say(r, "stopped at iteration %" PRIu64 " (--max-iter); checkpoint '%s'", p->iter,
                r->last_ckpt);
            return 0;
        }
    }
    clear_progress(r);
    if (p->best_epoch)
        say(r, "done: %d epochs; best validation top-1 error %.4f at epoch %" PRIu32 " (%s/best.anet)",
            r->st.recipe.epochs, p->best_err, p->best_epoch, r->dir);
    else
        say(r, "done: %d epochs; last checkpoint '%s'", r->st.recipe.epochs, r->last_ckpt);
    return 0;
}

/* ---- starting and resuming --------------------------------------------------------------- */
static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int write_run_txt(struct run *r, int argc, char **argv)
{
    char *path = path_join(r->dir, "run.txt");
    struct anet_afile *f;
    enum anet_status s = anet_afile_open(path, 1, &f);
    free(path);
    if (s) return cli_fail(s, 0, NULL), -1;
    FILE *out = anet_afile_stream(f);
    char *cfg = anet_config_format(&r->cfg), *st = anet_train_format(&r->st);
    fprintf(out, "# alexnet-train run (alexnet %s)\ncommand", anet_version());
    for (int i = 0; i < argc; i++) fprintf(out, " %s", argv[i]);
    fprintf(out, "\n%s%s", cfg ? cfg : "", st ? st : "");
    free(cfg), free(st);
    s = anet_afile_commit(f);
    return s ? cli_fail(s, 0, NULL), -1 : 0;
}

static int start_fresh(struct run *r, const struct anet_recipe *rc, int classes_given)
{
    r->dir = r->o.out;
    r->st.recipe = *rc;
    anet_progress_start(rc, &r->st.progress);
    r->st.train_db = dup_or_null(r->o.train);
    r->st.val_db = dup_or_null(r->o.val);
    r->st.stats = dup_or_null(r->o.stats);
    if (rc->policy == ANET_LR_PLATEAU && !r->o.val) {
        cli_error("--lr-policy plateau needs a validation set (--val), or choose step or fixed");
        return EXIT_USAGE;
    }
    if (settle_classes(r, classes_given)) return EXIT_RUNTIME;
    enum anet_status s = anet_config_check(&r->cfg);
    if (s) return cli_fail(s, 1, NULL);
    if (make_dir(r->dir)) return EXIT_RUNTIME;
    if (holds_run(r->dir)) {
        if (!r->o.force) {
            cli_error("'%s' holds another run: use --resume %s to go on, or --force to start "
                      "afresh", r->dir, r->dir);
            return EXIT_RUNTIME;
        }
        clear_run(r->dir);
    }
    if ((s = anet_model_create_placed(&r->cfg, rc->batch, &r->o.where, &r->model)))
        return cli_fail(s, 0, NULL);
    anet_model_init(r->model, rc->seed);
    return 0;
}

/* Refuses options that contradict the checkpoint's network or recipe. */
static int check_given(struct run *r, const struct anet_recipe *ck)
{
    for (int i = 0; i < r->o.ngiven; i++) {
        const struct given *g = &r->o.given[i];
        struct anet_config c = r->cfg;
        struct anet_recipe rc = *ck;
        if (!cli_model_option(g->opt, g->arg, &c)) recipe_option(g->opt, g->arg, &rc, &c);
        rc.epochs = ck->epochs;
        if (memcmp(&c, &r->cfg, sizeof c) || memcmp(&rc, ck, sizeof rc)) {
            cli_error("--%s %s contradicts the checkpoint '%s' (see its settings with "
                      "alexnet-info %s)", g->name, g->arg, r->last_ckpt, r->last_ckpt);
            return -1;
        }
    }
    return 0;
}

/* Reads path's training state (to learn the batch size), then the whole checkpoint with a
 * model for that batch. */
static enum anet_status try_ckpt(const char *path, struct anet_ckpt *ck,
                                 struct anet_train_state *st)
{
    enum anet_status s = anet_ckpt_peek(path, ck);
    if (s) return s;
    if (!ck->train) {
        anet_ckpt_free(ck);
        return anet_fail(ANET_ERR_FORMAT, "'%s' holds a model but no training state: it "
                         "cannot be resumed", path);
    }
    s = anet_train_parse(ck->train, path, st);
    anet_ckpt_free(ck);
    if (s) return s;
    s = anet_ckpt_load(path, st->recipe.batch, ck);
    if (s) anet_train_state_free(st);
    return s;
}

/* The checkpoint to resume from: the file, or the newest loadable one of a directory. */
static int load_resume(struct run *r, struct anet_ckpt *ck, struct anet_train_state *st)
{
    struct stat sb;
    if (stat(r->o.resume, &sb) != 0) {
        cli_error("cannot open '%s': %s", r->o.resume, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        enum anet_status s = try_ckpt(r->o.resume, ck, st);
        if (s) return cli_fail(s, 0, NULL), -1;
        r->last_ckpt = strdup(r->o.resume);
        return 0;
    }
    char **names;
    int n = list_ckpts(r->o.resume, &names);
    for (int i = 0; i < n; i++) {
        char *p = path_join(r->o.resume, names[i]);
        enum anet_status s = try_ckpt(p, ck, st);
        if (!s) {
            r->last_ckpt = p;
            free_names(names, n);
            return 0;
        }
        if (!r->o.quiet) cli_error("warning: skipping '%s': %s", p, anet_error_detail());
        free(p);
    }
    free_names(names, n);
    cli_error("'%s' holds no checkpoint to resume from", r->o.resume);
    return -1;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static int resume(struct run *r)
{
    struct anet_ckpt ck = {0};
    struct anet_train_state st;
    if (load_resume(r, &ck, &st)) return EXIT_RUNTIME;
    r->cfg = ck.config;
    r->model = ck.model, ck.model = NULL;
    enum anet_status moved = anet_model_place(&r->model, &r->o.where);
    if (moved) {
        anet_ckpt_free(&ck);
        return cli_fail(moved, 0, r->o.where.device == ANET_DEVICE_CUDA
                                      ? "moving the model to the GPU"
                                      : "moving the model to the CPU");
    }
    r->classes = ck.classes, memset(&ck.classes, 0, sizeof ck.classes);
    anet_ckpt_free(&ck);
    int bad = check_given(r, &st.recipe);
    if (r->o.epochs) st.recipe.epochs = r->o.epochs;
    r->st = st;
    if (bad) return EXIT_USAGE;
    /* paths given now win over the ones the run started with */
    if (r->o.train) free(r->st.train_db), r->st.train_db = strdup(r->o.train);
    if (r->o.val) free(r->st.val_db), r->st.val_db = strdup(r->o.val);
    if (r->o.stats) free(r->st.stats), r->st.stats = strdup(r->o.stats);
    struct stat sb;
    if (r->o.out) r->dir = r->o.out;
    else if (stat(r->o.resume, &sb) == 0 && S_ISDIR(sb.st_mode)) r->dir = r->o.resume;
    else r->dir = r->own_dir = dir_of(r->o.resume);
    if (make_dir(r->dir)) return EXIT_RUNTIME;
    if (!r->st.train_db || !r->st.stats) {
        cli_error("'%s' does not say where its data is: give --train and --stats",
                  r->last_ckpt);
        return EXIT_USAGE;
    }
    /* the class table the run was trained with must be the databases' */
    struct anet_classes kept = r->classes;
    memset(&r->classes, 0, sizeof r->classes);
    int classes = r->cfg.classes;
    if (settle_classes(r, 1)) return anet_classes_free(&kept), EXIT_RUNTIME;
    int differ = kept.count && r->classes.count && !same_classes(&kept, &r->classes);
    anet_classes_free(&r->classes);
    r->classes = kept;
    r->cfg.classes = classes;
    if (differ) {
        cli_error("the class table of '%s' differs from the checkpoint's '%s'",
                  r->st.train_db, r->last_ckpt);
        return EXIT_RUNTIME;
    }
    if (r->st.recipe.policy == ANET_LR_PLATEAU && !r->st.val_db) {
        cli_error("--lr-policy plateau needs a validation set (--val)");
        return EXIT_USAGE;
    }
    say(r, "resuming '%s' at epoch %" PRIu32 ", batch %" PRIu32 ", iteration %" PRIu64,
        r->last_ckpt, r->st.progress.epoch + 1, r->st.progress.batch, r->st.progress.iter);
    return 0;
}

static int open_data(struct run *r)
{
    if (open_db(r->st.train_db, &r->train_db)) return -1;
    if (r->st.val_db && open_db(r->st.val_db, &r->val_db)) return -1;
    if (load_stats(r)) return -1;
    if (open_loader(r, r->train_db, 1, &r->train)) return -1;
    if (r->val_db && open_loader(r, r->val_db, 0, &r->val)) return -1;
    return 0;
}

static void free_run(struct run *r)
{
    anet_loader_free(r->train);
    anet_loader_free(r->val);
    anet_db_close(r->train_db);
    anet_db_close(r->val_db);
    if (r->feed.pix) feed_close(&r->feed);
    anet_model_free(r->model);
    anet_classes_free(&r->classes);
    anet_train_state_free(&r->st);
    free(r->mean);
    free(r->last_ckpt);
    free(r->own_dir);
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

int main(int argc, char **argv)
{
    cli_init("alexnet-train");
    struct run r;
    memset(&r, 0, sizeof r);
    struct anet_recipe recipe;
    parse_args(argc, argv, &r.o, &r.cfg, &recipe);
    int opened = cli_open_device(r.o.device, r.o.gpus, r.o.precision, &r.o.where);
    if (opened) return opened;
    r.o.dev = r.o.where.device;
    int classes_given = 0;
    for (int i = 0; i < r.o.ngiven; i++) classes_given |= r.o.given[i].opt == CLI_OPT_CLASSES;
    anet_threads_set(cli_threads(r.o.threads));
    r.progress = !r.o.quiet && isatty(2);
    int rc = r.o.resume ? resume(&r) : start_fresh(&r, &recipe, classes_given);
    if (!rc && open_data(&r)) rc = EXIT_RUNTIME;
    /* the run directory holds a run once its data has opened: a start that fails on bad
     * data leaves nothing that a second try would have to --force away */
    if (!rc && !r.o.resume && write_run_txt(&r, argc, argv)) rc = EXIT_RUNTIME;
    if (!rc) {
        char b1[32], b2[32];
        say(&r, "%s parameters; %s training images, %u batches of %d an epoch%s",
            grouped(anet_config_params(&r.cfg), b1), grouped(anet_loader_count(r.train), b2),
            anet_loader_batches(r.train), r.st.recipe.batch,
            r.val ? "; validating after each epoch" : "");
        char where[800];
        if (r.o.dev == ANET_DEVICE_CUDA)
            say(&r, "on %s, %s arithmetic",
                cli_placement_text(&r.o.where, where, sizeof where),
                anet_precision_name(anet_cuda_precision()));
        install_signals();
        rc = train(&r);
    }
    free_run(&r);
    return rc;
}
