/* A training run (alexnet/run.h): the run directory, starting and resuming, the data, the
 * epoch loop with its steps, validation and schedule, checkpoints and metrics. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/checkpoint.h"
#include "alexnet/data.h"
#include "alexnet/dist.h"
#include "alexnet/file.h"
#include "alexnet/loader.h"
#include "alexnet/run.h"
#include "alexnet/stats.h"
#include "alexnet/threads.h"

struct anet_run {
    struct anet_run_options o;
    struct anet_run_callbacks cb;
    struct anet_config cfg;
    struct anet_train_state st; /* recipe, progress, paths */
    struct anet_classes classes;
    struct anet_model *model;
    struct anet_db *train_db, *val_db;
    struct anet_loader *train, *val;
    struct anet_feed *train_feed, *val_feed;
    float *mean;
    struct anet_stats stats;
    int mc, mh, mw;
    char *dir;
    char *last_ckpt; /* the last checkpoint written or resumed from */
    double t0;       /* anet_seconds() when elapsed was last brought up to date */
    int refused;     /* the last failure was the options' fault */
    int elsewhere;   /* the last failure was another rank's */
    int signal;      /* what stopped the run */
    struct anet_dist *dist; /* the ranks of a data-parallel run (NULL: one process) */
    int rank, ranks;
    uint64_t checked; /* the weights' checksum the ranks last agreed on */
    int overlap;      /* the sums are started layer by layer (anet_model_set_layer_hook) */
    enum anet_status sum_status; /* of the sums started in this step */
};

/* Rank 0 alone writes the run's files. */
static int writer(const struct anet_run *r) { return r->rank == 0; }

/* Every rank learns whether every rank succeeded; a rank that did, where another did not,
 * fails too, naming the first rank that failed. */
static enum anet_status agree(struct anet_run *r, enum anet_status s, const char *what)
{
    if (r->ranks == 1) return s;
    int first = anet_dist_first_failure(r->dist, s == ANET_OK);
    if (first < 0) return s;
    r->elsewhere = first != r->rank; /* the first rank that failed says why */
    if (s) return s;
    return anet_fail(ANET_ERR_IO, "rank %d failed %s (its message says why)", first, what);
}

/* ---- messages --------------------------------------------------------------------------- */
static void say_at(struct anet_run *r, enum anet_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say_at(struct anet_run *r, enum anet_log_level level, const char *fmt, ...)
{
    if (!r->cb.message) return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    r->cb.message(r->cb.user, level, text);
}
#define say(r, ...) say_at(r, ANET_LOG_INFO, __VA_ARGS__)

/* A failure that is the options' fault. */
static enum anet_status refuse(struct anet_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum anet_status refuse(struct anet_run *r, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    r->refused = 1;
    return anet_fail(ANET_ERR_INVALID, "%s", text);
}

/* ---- the run directory -------------------------------------------------------------------- */
static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
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

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
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
        if (((*names)[n] = strdup(e->d_name))) n++;
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

static int exists_in(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    int r = p && access(p, F_OK) == 0;
    free(p);
    return r;
}

static int holds_run(const char *dir)
{
    char **names;
    int n = list_ckpts(dir, &names);
    free_names(names, n);
    return n > 0 || exists_in(dir, "run.txt") || exists_in(dir, "best.anet");
}

static void unlink_in(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    if (p) unlink(p);
    free(p);
}

/* Removes another run's files (force), and only those. */
static void clear_run(const char *dir)
{
    char **names;
    int n = list_ckpts(dir, &names);
    for (int i = 0; i < n; i++) unlink_in(dir, names[i]);
    free_names(names, n);
    unlink_in(dir, "best.anet");
    unlink_in(dir, "run.txt");
}

static enum anet_status make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return ANET_OK;
        return anet_fail(ANET_ERR_IO, "'%s' is not a directory", dir);
    }
    return anet_fail(ANET_ERR_IO, "cannot create '%s': %s", dir, strerror(errno));
}

/* Keeps the newest `keep` checkpoints of dir. */
static void prune(const char *dir, int keep)
{
    char **names;
    int n = list_ckpts(dir, &names);
    for (int i = keep; i < n; i++) unlink_in(dir, names[i]);
    free_names(names, n);
}

/* The data paths a checkpoint keeps are absolute, so that a run resumes from any
 * directory: a relative path is joined to the working directory (symbolic links are kept,
 * not resolved). NULL stays NULL. */
static char *absolute(const char *path)
{
    if (!path) return NULL;
    if (path[0] == '/') return strdup(path);
    char *cwd = getcwd(NULL, 0);
    if (!cwd) return strdup(path);
    while (path[0] == '.' && path[1] == '/') path += 2;
    char *p = path_join(cwd, path);
    free(cwd);
    return p;
}

/* ---- classes, statistics and loaders ------------------------------------------------------ */
static int same_classes(const struct anet_classes *a, const struct anet_classes *b)
{
    if (a->count != b->count) return 0;
    for (int i = 0; i < a->count; i++)
        if (strcmp(a->wnid[i], b->wnid[i])) return 0;
    return 1;
}

/* The databases and statistics as the user named them (messages say what was typed): the
 * options' paths, or on a resume without them the run's, which are absolute. */
static const char *train_name(const struct anet_run *r)
{
    return r->o.train_db ? r->o.train_db : r->st.train_db;
}
static const char *val_name(const struct anet_run *r)
{
    return r->o.val_db ? r->o.val_db : r->st.val_db;
}
static const char *stats_name(const struct anet_run *r)
{
    return r->o.stats ? r->o.stats : r->st.stats;
}

/* The sidecar class table of a database; count 0 when it has none (a Caffe database). */
static enum anet_status read_db_classes(const char *db, struct anet_classes *c)
{
    memset(c, 0, sizeof *c);
    char *p = path_join(db, "classes.tsv");
    if (!p) return anet_fail(ANET_ERR_NOMEM, "out of memory");
    enum anet_status s = access(p, F_OK) == 0 ? anet_classes_read(p, c) : ANET_OK;
    free(p);
    return s;
}

/* The class table and the number of classes, from the databases and the options; with
 * `fallback`, cfg.classes stands when the database has no class table. */
static enum anet_status settle_classes(struct anet_run *r, int classes_given, int fallback)
{
    struct anet_classes vc;
    enum anet_status s = read_db_classes(train_name(r), &r->classes);
    if (s) return s;
    if (val_name(r)) {
        if ((s = read_db_classes(val_name(r), &vc))) return s;
        int differ = r->classes.count && vc.count && !same_classes(&r->classes, &vc);
        anet_classes_free(&vc);
        if (differ)
            return anet_fail(ANET_ERR_FORMAT, "the class tables of '%s' (%d classes) and '%s' "
                             "differ: prepare both with the same --synsets",
                             train_name(r), r->classes.count, val_name(r));
    }
    if (r->classes.count) {
        if (classes_given && r->cfg.classes != r->classes.count)
            return anet_fail(ANET_ERR_FORMAT, "--classes %d contradicts '%s', which has %d "
                             "classes", r->cfg.classes, train_name(r), r->classes.count);
        r->cfg.classes = r->classes.count;
    } else if (!classes_given && !fallback) {
        return anet_fail(ANET_ERR_FORMAT, "'%s' has no class table (classes.tsv): give "
                         "--classes N", train_name(r));
    }
    return ANET_OK;
}

static enum anet_status load_stats(struct anet_run *r)
{
    char *mean = path_join(stats_name(r), "mean.binaryproto");
    char *stats = path_join(stats_name(r), "stats.txt");
    enum anet_status s = !mean || !stats ? anet_fail(ANET_ERR_NOMEM, "out of memory")
                         : anet_mean_read(mean, &r->mean, &r->mc, &r->mh, &r->mw);
    if (!s && r->st.recipe.color_sigma > 0) s = anet_stats_read(stats, &r->stats);
    free(mean), free(stats);
    return s;
}

/* A loader of db, and the feed that takes its batches to the model. */
static enum anet_status open_loader(struct anet_run *r, struct anet_db *db, int training,
                                    struct anet_loader **l, struct anet_feed **f)
{
    const struct anet_recipe *rc = &r->st.recipe;
    struct anet_loader_config lc = {
        .batch = rc->batch, .crop = r->cfg.crop, .shuffle = training,
        .random_crop = training && rc->random_crop, .mirror = training && rc->mirror,
        .color_sigma = training ? rc->color_sigma : 0, .seed = rc->seed,
        .mean = r->mean, .mean_c = r->mc, .mean_h = r->mh, .mean_w = r->mw,
        .stats = &r->stats, .classes = r->cfg.classes, .shards = r->ranks, .shard = r->rank,
        .threads = r->o.loader_threads, .depth = 0};
    anet_feed_loader_config(anet_model_backend(r->model), &lc);
    enum anet_status s = anet_loader_open(db, &lc, l);
    if (!s)
        s = anet_feed_open(r->model, r->mean, anet_loader_channels(*l), anet_loader_height(*l),
                           anet_loader_width(*l), rc->batch / r->ranks, 1, f);
    return s;
}

static enum anet_status open_data(struct anet_run *r)
{
    enum anet_status s = anet_db_open(train_name(r), &r->train_db);
    if (!s && val_name(r)) s = anet_db_open(val_name(r), &r->val_db);
    if (!s) s = load_stats(r);
    if (!s) s = open_loader(r, r->train_db, 1, &r->train, &r->train_feed);
    if (!s && r->val_db) s = open_loader(r, r->val_db, 0, &r->val, &r->val_feed);
    return s;
}

/* ---- checkpoints -------------------------------------------------------------------------- */
static void tick(struct anet_run *r)
{
    double now = anet_seconds();
    r->st.progress.elapsed += now - r->t0;
    r->t0 = now;
}

static int weights_finite(struct anet_model *m)
{
    if (anet_model_pull(m)) return 0; /* a device that fails has no trustworthy weights */
    struct anet_tensor *t;
    int n = anet_model_tensors(m, &t);
    for (int i = 0; i < n; i++) {
        float acc = 0;
        for (size_t k = 0; k < t[i].count; k++) acc += t[i].data[k] * 0.0f;
        if (acc != 0) return 0; /* inf·0 and nan·0 are nan */
    }
    return 1;
}

static enum anet_status save_ckpt(struct anet_run *r)
{
    if (!writer(r)) return ANET_OK;
    char name[64];
    snprintf(name, sizeof name, "ckpt-%08" PRIu64 ".anet", r->st.progress.iter);
    char *path = path_join(r->dir, name);
    tick(r);
    char *text = anet_train_format(&r->st);
    enum anet_status s = path && text
                             ? anet_ckpt_save(path, r->model,
                                              r->classes.count ? &r->classes : NULL, text, 1)
                             : anet_fail(ANET_ERR_NOMEM, "out of memory");
    free(text);
    if (s) {
        free(path);
        char what[768];
        snprintf(what, sizeof what, "%s", anet_error_detail());
        return anet_fail(s, "cannot write a checkpoint: %s", what);
    }
    free(r->last_ckpt);
    r->last_ckpt = path;
    prune(r->dir, r->o.keep);
    return ANET_OK;
}

/* best.anet: a hard link to the checkpoint just written (a copy where links fail). */
static enum anet_status mark_best(struct anet_run *r)
{
    if (!writer(r)) return ANET_OK;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "best.anet.tmp.%ld", (long)getpid());
    char *best = path_join(r->dir, "best.anet"), *tmpp = path_join(r->dir, tmp);
    enum anet_status s = ANET_OK;
    if (!best || !tmpp) {
        s = anet_fail(ANET_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (link(r->last_ckpt, tmpp) == 0) { /* only a link this run made is removed */
        if (rename(tmpp, best) == 0) goto out;
        unlink(tmpp);
    }
    char *text = anet_train_format(&r->st);
    s = anet_ckpt_save(best, r->model, r->classes.count ? &r->classes : NULL, text, 1);
    free(text);
    if (s) {
        char what[768];
        snprintf(what, sizeof what, "%s", anet_error_detail());
        s = anet_fail(s, "cannot write best.anet: %s", what);
    }
out:
    free(best), free(tmpp);
    return s;
}

/* ---- metrics ------------------------------------------------------------------------------ */
static void row(struct anet_run *r, const char *phase, double loss, double e1, double e5,
                double img_s)
{
    const struct anet_progress *p = &r->st.progress;
    struct anet_run_row w = {.phase = phase, .epoch = p->epoch + 1, .iter = p->iter,
                             .images = p->images, .loss = loss, .top1_err = e1,
                             .top5_err = e5, .lr = p->lr, .img_s = img_s,
                             .elapsed = p->elapsed};
    if (r->cb.row) r->cb.row(r->cb.user, &w);
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

static void flush_window(struct anet_run *r)
{
    struct anet_progress *p = &r->st.progress;
    if (!p->win_images) return;
    tick(r);
    double n = (double)p->win_images;
    row(r, "train", p->win_loss / n, p->win_err1 / n, p->win_err5 / n,
        p->win_seconds > 0 ? n / p->win_seconds : 0);
    p->win_loss = 0, p->win_images = p->win_err1 = p->win_err5 = 0, p->win_seconds = 0;
}

/* A stop this process was asked for (a signal number), 0 when none. */
static int local_stop(struct anet_run *r) { return r->cb.stop ? r->cb.stop(r->cb.user) : 0; }

/* Whether the run stops here: one process when it was asked; ranks only when they agreed
 * at their last collective (every step and every validation ends with one), so that they
 * all stop at the same step. */
static int stop_asked(struct anet_run *r)
{
    if (r->ranks == 1 && !r->signal) r->signal = local_stop(r);
    return r->signal;
}

/* ---- validation --------------------------------------------------------------------------- */
/* Mean loss and top-1/top-5 error over the validation set; *cut = 1 when a stop cut it
 * short. */
static enum anet_status validate(struct anet_run *r, double *loss, double *e1, double *e5,
                                 double *img_s, int *cut)
{
    double t = anet_seconds(), sum = 0;
    uint64_t n = 0, m1 = 0, m5 = 0;
    *cut = 0;
    enum anet_status s = anet_loader_start(r->val, 0, 0);
    uint32_t batches = anet_loader_batches(r->val);
    for (uint32_t i = 0; i < batches && !s; i++) {
        struct anet_batch b;
        double l;
        if ((s = anet_loader_next(r->val, &b))) break;
        if (b.n == 0) continue; /* this rank's share of a short last batch */
        if ((s = anet_feed_put(r->val_feed, &b)) ||
            (s = anet_model_forward_fed(r->model, r->val_feed, 0, b.n, 0, 0, 0, NULL)) ||
            (s = anet_model_loss(r->model, b.labels, &l)))
            break;
        sum += l * b.n;
        n += (uint64_t)b.n;
        count_errors(anet_model_prob(r->model), b.labels, b.n, r->cfg.classes, &m1, &m5);
        /* one process stops at once; ranks stop together, after the sums below */
        if (r->ranks == 1 && stop_asked(r)) return *cut = 1, ANET_OK;
    }
    if (s) {
        char what[768];
        snprintf(what, sizeof what, "%s", anet_error_detail());
        s = anet_fail(s, "validation: %s", what);
    }
    if ((s = agree(r, s, "in validation"))) return s;
    if (r->ranks > 1) { /* every rank's share summed: the same error as one process */
        double v[4] = {sum, (double)n, (double)m1, (double)m5};
        if ((s = anet_dist_sum(r->dist, v, 4))) return s;
        sum = v[0], n = (uint64_t)v[1], m1 = (uint64_t)v[2], m5 = (uint64_t)v[3];
        if ((r->signal = anet_dist_max(r->dist, local_stop(r)))) return *cut = 1, ANET_OK;
    }
    *loss = sum / (double)n, *e1 = (double)m1 / (double)n, *e5 = (double)m5 / (double)n;
    double dt = anet_seconds() - t;
    *img_s = dt > 0 ? (double)n / dt : 0;
    return ANET_OK;
}

/* ---- training ----------------------------------------------------------------------------- */
static enum anet_status diverged(struct anet_run *r, const char *what)
{
    const struct anet_progress *p = &r->st.progress;
    return anet_fail(ANET_ERR_DIVERGED, "iteration %" PRIu64 " (epoch %" PRIu32 ", batch %"
                     PRIu32 "): %s: training diverged (try a lower --lr); %s%s%s", p->iter,
                     p->epoch + 1, p->batch, what,
                     r->last_ckpt ? "the last good checkpoint is '" : "no checkpoint was written",
                     r->last_ckpt ? r->last_ckpt : "", r->last_ckpt ? "'" : "");
}

/* A checkpoint, when the weights allow one (every rank holds the same weights, so every
 * rank decides alike; rank 0 writes). */
static enum anet_status checkpoint(struct anet_run *r)
{
    if (!weights_finite(r->model)) return diverged(r, "a weight is not finite");
    return agree(r, save_ckpt(r), "to write a checkpoint");
}

/* Writes a checkpoint and says why the run stops here. */
static enum anet_status stop_here(struct anet_run *r, enum anet_run_end why,
                                  enum anet_run_end *end)
{
    enum anet_status s = checkpoint(r);
    if (s) return s;
    *end = why;
    if (why == ANET_RUN_STOPPED)
        say(r, "stopped by signal %d at iteration %" PRIu64 "; resume with --resume %s",
            r->signal, r->st.progress.iter, r->dir);
    else
        say(r, "stopped at iteration %" PRIu64 " (--max-iter); checkpoint '%s'",
            r->st.progress.iter, r->last_ckpt);
    return ANET_OK;
}

/* The images, loss and top-1/top-5 misses of a step, over every rank's share of the batch;
 * and whether any rank was asked to stop. */
struct step_sums { double loss; uint64_t images, e1, e5; };

static enum anet_status sum_step(struct anet_run *r, struct step_sums *t)
{
    if (r->ranks == 1) return ANET_OK;
    double v[4] = {t->loss * (double)t->images, (double)t->images, (double)t->e1, (double)t->e5};
    enum anet_status s = anet_dist_sum(r->dist, v, 4);
    t->images = (uint64_t)v[1], t->e1 = (uint64_t)v[2], t->e5 = (uint64_t)v[3];
    t->loss = v[1] > 0 ? v[0] / v[1] : 0;
    r->signal = anet_dist_max(r->dist, local_stop(r));
    return s;
}

/* Forward and loss of this rank's share of batch b (nothing for an empty share). */
static enum anet_status step_forward(struct anet_run *r, const struct anet_batch *b,
                                     struct step_sums *t)
{
    const struct anet_progress *p = &r->st.progress;
    enum anet_status s;
    if (b->n == 0) return ANET_OK;
    anet_model_set_share(r->model, b->first, r->ranks > 1 ? b->total : 0);
    if ((s = anet_feed_put(r->train_feed, b)) ||
        (s = anet_model_forward_fed(r->model, r->train_feed, 0, b->n, 1, r->st.recipe.seed,
                                    (uint32_t)p->iter, NULL)) ||
        (s = anet_model_loss(r->model, b->labels, &t->loss)))
        return s;
    t->images = (uint64_t)b->n;
    count_errors(anet_model_prob(r->model), b->labels, b->n, r->cfg.classes, &t->e1, &t->e5);
    return ANET_OK;
}

/* The layer hook of an overlapped step: layer l's gradients (its weight's and its bias's,
 * one block of host memory) start their sum across the ranks. */
static void start_layer_sum(void *user, struct anet_model *m, int l)
{
    struct anet_run *r = user;
    struct anet_tensor *t;
    anet_model_tensors(m, &t);
    if (!r->sum_status)
        r->sum_status = anet_dist_start_sum(r->dist, t[2 * l].grad,
                                            t[2 * l].count + t[2 * l + 1].count);
    anet_dist_progress(r->dist);
}

/* Backward with the sums started layer by layer, fc8 first; a rank with an empty share
 * starts the same sums of its zeros in the same order (anet_model_zero_gradients tells the
 * hook as backward would). */
static enum anet_status overlapped_backward(struct anet_run *r, int images)
{
    r->sum_status = ANET_OK;
    enum anet_status s = images ? anet_model_backward(r->model)
                                : anet_model_zero_gradients(r->model);
    enum anet_status f = anet_dist_finish(r->dist); /* whatever was started, finished */
    return s ? s : r->sum_status ? r->sum_status : f;
}

/* Backward, the sum of every rank's gradients (and the caller's hook), the update. */
static enum anet_status step_update(struct anet_run *r, int images)
{
    const struct anet_progress *p = &r->st.progress;
    struct anet_sgd h = {p->lr, r->st.recipe.momentum, r->st.recipe.decay};
    struct anet_span spans[ANET_MAX_PARTS];
    if (r->overlap) {
        enum anet_status s = overlapped_backward(r, images);
        if (!s && r->cb.gradients) s = r->cb.gradients(r->cb.user, r->model);
        return s ? s : anet_model_update(r->model, &h);
    }
    enum anet_status s = images ? anet_model_backward(r->model)
                                : anet_model_zero_gradients(r->model);
    if (!s && r->ranks > 1) {
        int n = anet_model_gradients(r->model, spans);
        s = anet_dist_sum_gradients(r->dist, anet_model_backend(r->model), spans, n);
    }
    if (!s && r->cb.gradients) s = r->cb.gradients(r->cb.user, r->model);
    if (!s) s = anet_model_update(r->model, &h);
    return s;
}

/* One SGD step on the next batch: forward and backward, the gradients summed across the
 * ranks (and the hook), the update. */
/* 64-bit FNV-1a of the weights' bytes, as this rank holds them. */
static uint64_t weights_checksum(struct anet_model *m)
{
    struct anet_tensor *t;
    int n = anet_model_tensors(m, &t);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        const unsigned char *b = (const unsigned char *)t[i].data;
        for (size_t k = 0; k < t[i].count * sizeof(float); k++) h = (h ^ b[k]) * 1099511628211ull;
    }
    return h;
}

/* Every rank holds the same weights, bit for bit, or the run stops saying so. */
static enum anet_status check_ranks(struct anet_run *r)
{
    enum anet_status s = agree(r, anet_model_pull(r->model), "to read its weights");
    if (s) return s;
    uint64_t h = weights_checksum(r->model);
    if (!anet_dist_same(r->dist, h))
        return anet_fail(ANET_ERR_INTERNAL, "iteration %" PRIu64 ": the ranks' weights differ "
                         "(rank %d's checksum %016" PRIx64 ")", r->st.progress.iter, r->rank, h);
    r->checked = h;
    return ANET_OK;
}

static enum anet_status train_step(struct anet_run *r)
{
    struct anet_progress *p = &r->st.progress;
    struct anet_batch b;
    struct step_sums t = {0};
    double start = anet_seconds();
    enum anet_status s = anet_loader_next(r->train, &b);
    if (!s && (b.epoch != p->epoch || b.index != p->batch))
        s = anet_fail(ANET_ERR_INTERNAL, "the loader gave batch %u of epoch %u, expected %u "
                      "of %u", b.index, b.epoch, p->batch, p->epoch);
    if (!s) s = step_forward(r, &b, &t);
    if ((s = agree(r, s, "in a training step")) || (s = sum_step(r, &t))) return s;
    if (!isfinite(t.loss)) { /* every rank sees the same sum, and stops alike */
        char what[64];
        snprintf(what, sizeof what, "the loss is %s", isnan(t.loss) ? "nan" : "inf");
        return diverged(r, what);
    }
    if ((s = agree(r, step_update(r, b.n), "in a training step"))) return s;
    p->win_err1 += t.e1, p->win_err5 += t.e5;
    p->win_loss += t.loss * (double)t.images;
    p->win_images += t.images;
    p->iter++, p->batch++, p->images += t.images;
    double dt = anet_seconds() - start;
    p->win_seconds += dt;
    if (r->cb.step) r->cb.step(r->cb.user, r, t.loss, dt > 0 ? (double)t.images / dt : 0);
    if (p->iter % (uint64_t)r->o.log_every == 0) flush_window(r);
    return ANET_OK;
}

/* End of an epoch: flush the window, validate, follow the schedule, checkpoint. */
static enum anet_status end_epoch(struct anet_run *r, enum anet_run_end *end, int *stopped)
{
    struct anet_progress *p = &r->st.progress;
    flush_window(r);
    double loss = 0, e1 = -1, e5 = 0, img_s = 0;
    *stopped = 0;
    if (r->val) {
        int cut;
        enum anet_status s = validate(r, &loss, &e1, &e5, &img_s, &cut);
        if (s) return s;
        if (cut) return *stopped = 1, stop_here(r, ANET_RUN_STOPPED, end);
        tick(r);
        row(r, "val", loss, e1, e5, img_s);
    }
    float lr = p->lr;
    int was_best_before = p->best_epoch;
    if (anet_schedule_epoch_end(&r->st.recipe, p, e1))
        say(r, "epoch %" PRIu32 ": learning rate %g -> %g", p->epoch + 1, (double)lr,
            (double)p->lr);
    int best = r->val && p->best_epoch == p->epoch + 1 &&
               p->best_epoch != (uint32_t)was_best_before;
    p->epoch++, p->batch = 0;
    enum anet_status s = checkpoint(r);
    if (!s && best) s = agree(r, mark_best(r), "to write best.anet");
    return s;
}

static const char *plural(long n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

enum anet_status anet_run_train(struct anet_run *r, enum anet_run_end *end)
{
    struct anet_progress *p = &r->st.progress;
    uint32_t batches = anet_loader_batches(r->train);
    uint64_t max_iter = r->o.max_iter;
    *end = ANET_RUN_DONE;
    if (p->batch > batches)
        return anet_fail(ANET_ERR_FORMAT, "'%s': the checkpoint is at batch %u of an epoch of "
                         "%u: was the training database changed?", r->last_ckpt, p->batch,
                         batches);
    r->t0 = anet_seconds();
    if (max_iter && p->iter >= max_iter) {
        say(r, "'%s' is at iteration %" PRIu64 " already (--max-iter %" PRIu64 "): nothing to do",
            r->last_ckpt, p->iter, max_iter);
        return ANET_OK;
    }
    while (p->epoch < (uint32_t)r->st.recipe.epochs) {
        enum anet_status s;
        if (p->batch < batches &&
            (s = agree(r, anet_loader_start(r->train, p->epoch, p->batch), "to read the data")))
            return s;
        while (p->batch < batches) {
            if ((s = train_step(r))) return s;
            if (stop_asked(r)) return stop_here(r, ANET_RUN_STOPPED, end);
            if (max_iter && p->iter >= max_iter && p->batch < batches)
                return stop_here(r, ANET_RUN_MAX_ITER, end);
            if (r->o.ckpt_every && p->iter % (uint64_t)r->o.ckpt_every == 0 &&
                p->batch < batches && (s = checkpoint(r)))
                return s;
            if (r->o.check_every && p->iter % (uint64_t)r->o.check_every == 0 &&
                (s = check_ranks(r)))
                return s;
        }
        int stopped;
        if ((s = end_epoch(r, end, &stopped)) || stopped) return s;
        if (stop_asked(r)) return *end = ANET_RUN_STOPPED, ANET_OK; /* the epoch's is written */
        if (max_iter && p->iter >= max_iter) {
            say(r, "stopped at iteration %" PRIu64 " (--max-iter); checkpoint '%s'", p->iter,
                r->last_ckpt);
            *end = ANET_RUN_MAX_ITER;
            return ANET_OK;
        }
    }
    int epochs = r->st.recipe.epochs;
    if (p->best_epoch)
        say(r, "done: %d %s; best validation top-1 error %.4f at epoch %" PRIu32 " (%s/best.anet)",
            epochs, plural(epochs, "epoch", "epochs"), p->best_err, p->best_epoch, r->dir);
    else
        say(r, "done: %d %s; last checkpoint '%s'", epochs, plural(epochs, "epoch", "epochs"),
            r->last_ckpt);
    return ANET_OK;
}

/* ---- starting and resuming ---------------------------------------------------------------- */
static enum anet_status write_run_txt(struct anet_run *r)
{
    char *path = path_join(r->dir, "run.txt");
    if (!path) return anet_fail(ANET_ERR_NOMEM, "out of memory");
    struct anet_afile *f;
    enum anet_status s = anet_afile_open(path, 1, &f);
    free(path);
    if (s) return s;
    FILE *out = anet_afile_stream(f);
    char *cfg = anet_config_format(&r->cfg), *st = anet_train_format(&r->st);
    fprintf(out, "# alexnet-train run (alexnet %s)\ncommand %s\n%s%s", anet_version(),
            r->o.command ? r->o.command : "", cfg ? cfg : "", st ? st : "");
    free(cfg), free(st);
    return anet_afile_commit(f);
}

/* Each rank computes an equal share of every global batch. */
static enum anet_status check_shares(struct anet_run *r, int batch)
{
    if (batch % r->ranks == 0) return ANET_OK;
    return refuse(r, "--batch %d does not divide among %d processes: each computes an equal "
                     "share of every batch; give a multiple of %d", batch, r->ranks, r->ranks);
}

/* Rank 0's weights and momentum to every rank, so that all start the same bit for bit
 * (they would from the same seed or checkpoint on like machines; this makes it so on any). */
static enum anet_status share_weights(struct anet_run *r)
{
    if (r->ranks == 1) return ANET_OK;
    enum anet_status s = anet_model_pull(r->model);
    struct anet_tensor *t;
    int n = anet_model_tensors(r->model, &t);
    for (int i = 0; i < n && !s; i++) {
        s = anet_dist_broadcast(r->dist, t[i].data, t[i].count * sizeof(float));
        if (!s) s = anet_dist_broadcast(r->dist, t[i].momentum, t[i].count * sizeof(float));
    }
    return s ? s : anet_model_push(r->model);
}

/* ---- fine-tuning ---------------------------------------------------------------------------- */
/* "96x48x5x5 weights in 2 groups", "4096x9216 weights": what a layer's parameters are. */
static const char *layer_shape(const struct anet_layer_info *L, char *buf, size_t size)
{
    if (L->is_conv)
        snprintf(buf, size, "%dx%dx%dx%d weights in %d group%s", L->out_c, L->in_c / L->groups,
                 L->kh, L->kw, L->groups, L->groups == 1 ? "" : "s");
    else
        snprintf(buf, size, "%dx%d weights", L->out_c, L->in_c);
    return buf;
}

/* The checkpoint a fine-tuning run starts from, loaded, and refused unless every layer but
 * fc8 has the run's shape (fc8 too when it is kept). */
/* Weights trained with one form of dropout and fine-tuned with the other: until training
 * adapts fc7 and fc8, their inputs at test time are scaled by (1 - p) or its inverse. */
static void warn_dropout_form(struct anet_run *r, const struct anet_config *was)
{
    float p = r->cfg.dropout;
    if (!(p > 0 && was->dropout > 0) || was->dropout_scale == r->cfg.dropout_scale) return;
    int paper_now = r->cfg.dropout_scale == ANET_DROPOUT_SCALE_TEST;
    say_at(r, ANET_LOG_WARN, "'%s' was trained with %s dropout and this run uses %s: at test "
           "time fc6's and fc7's outputs are multiplied by %g until training adapts fc7 and fc8 "
           "(alexnet(7))", r->o.init_from, paper_now ? "inverted" : "the paper's form of",
           paper_now ? "the paper's form" : "inverted dropout",
           paper_now ? (double)(1 - p) : 1.0 / (double)(1 - p));
}

static enum anet_status open_init(struct anet_run *r, struct anet_ckpt *ck)
{
    enum anet_status s = anet_ckpt_load(r->o.init_from, 1, ck);
    if (s) return s;
    struct anet_layer_info there[ANET_LAYERS], here[ANET_LAYERS];
    anet_config_layers(&ck->config, there);
    anet_config_layers(&r->cfg, here);
    for (int l = 0; l < ANET_LAYERS - 1; l++) {
        const struct anet_layer_info *a = &there[l], *b = &here[l];
        if (a->out_c == b->out_c && a->in_c == b->in_c && a->groups == b->groups &&
            a->kh == b->kh && a->kw == b->kw)
            continue;
        char sa[64], sb[64];
        return refuse(r, "'%s' does not fit this network: its %s has %s, this one's %s; "
                         "only fc8 may differ (its classes)", r->o.init_from, a->name,
                      layer_shape(a, sa, sizeof sa), layer_shape(b, sb, sizeof sb));
    }
    warn_dropout_form(r, &ck->config);
    return ANET_OK;
}

/* fc8 is kept when it has the run's classes: as many, and the same class table when both
 * have one. */
static int keeps_fc8(const struct anet_run *r, const struct anet_ckpt *ck)
{
    if (ck->config.classes != r->cfg.classes) return 0;
    return !ck->classes.count || !r->classes.count || same_classes(&ck->classes, &r->classes);
}

/* Every layer's weights from the checkpoint, but fc8's when the classes are others (fc8
 * then keeps the initialisation just drawn); the momentum stays zero. */
static enum anet_status take_weights(struct anet_run *r, struct anet_ckpt *ck)
{
    struct anet_tensor *from, *to;
    int n = anet_model_tensors(ck->model, &from), keep = keeps_fc8(r, ck);
    anet_model_tensors(r->model, &to);
    for (int t = 0; t < n; t++)
        if (keep || t < 2 * (ANET_LAYERS - 1))
            memcpy(to[t].data, from[t].data, to[t].count * sizeof *to[t].data);
    if (keep && !r->classes.count && ck->classes.count) { /* the labels are the model's */
        r->classes = ck->classes;
        memset(&ck->classes, 0, sizeof ck->classes);
    }
    if (keep)
        say(r, "fine-tuning '%s': every layer starts from it (conv1..fc8)", r->o.init_from);
    else if (ck->config.classes != r->cfg.classes)
        say(r, "fine-tuning '%s': conv1..fc7 start from it; fc8 re-initialised for %d "
            "classes (the model has %d)", r->o.init_from, r->cfg.classes, ck->config.classes);
    else
        say(r, "fine-tuning '%s': conv1..fc7 start from it; fc8 re-initialised: the classes "
            "are not the model's", r->o.init_from);
    return anet_model_push(r->model);
}

/* The frozen layers and the multipliers of a recipe, before anything is made. */
static enum anet_status check_layers(struct anet_run *r, const struct anet_layer_sgd *l)
{
    if ((l->frozen & ANET_ALL_LAYERS) == ANET_ALL_LAYERS)
        return refuse(r, "every layer is frozen: nothing would train");
    for (int i = 0; i < ANET_LAYERS; i++) {
        float x = l->lr_mult[i];
        if (!(x >= 0) || x > 1e6f)
            return refuse(r, "the learning-rate multiplier of %s is %g: it must be in 0..1e6",
                          anet_layer_name(i), (double)x);
        if ((l->frozen >> i & 1) && x != 1.0f)
            return refuse(r, "%s is frozen and has a learning-rate multiplier (%g): freeze "
                             "it or scale its learning rate, not both", anet_layer_name(i),
                          (double)x);
    }
    return ANET_OK;
}

/* What the recipe does to the layers, in words, when it does anything. */
static void say_layers(struct anet_run *r, const struct anet_layer_sgd *l)
{
    char set[96], mult[256] = "";
    size_t at = 0;
    for (int i = 0; i < ANET_LAYERS; i++)
        if (l->lr_mult[i] != 1.0f && at < sizeof mult)
            at += (size_t)snprintf(mult + at, sizeof mult - at, "%s%s x%g", at ? ", " : "",
                                   anet_layer_name(i), (double)l->lr_mult[i]);
    if (l->frozen)
        say(r, "frozen: %s (weights and biases stay as they are)",
            anet_layers_format(l->frozen, set, sizeof set));
    if (*mult) say(r, "learning rate multiplied: %s", mult);
}

static enum anet_status start_fresh(struct anet_run *r)
{
    const struct anet_recipe *rc = &r->o.recipe;
    r->cfg = r->o.net;
    r->st.recipe = *rc;
    if (r->o.epochs) r->st.recipe.epochs = r->o.epochs;
    anet_progress_start(&r->st.recipe, &r->st.progress);
    if (!(r->dir = strdup(r->o.dir))) return anet_fail(ANET_ERR_NOMEM, "out of memory");
    r->st.train_db = absolute(r->o.train_db);
    r->st.val_db = absolute(r->o.val_db);
    r->st.stats = absolute(r->o.stats);
    r->st.init_from = absolute(r->o.init_from);
    if (rc->policy == ANET_LR_PLATEAU && !r->o.val_db)
        return refuse(r, "--lr-policy plateau needs a validation set (--val), or choose step "
                         "or fixed");
    enum anet_status s = check_shares(r, rc->batch);
    if (s || (s = check_layers(r, &rc->layers))) return s;
    if ((s = settle_classes(r, r->o.classes_given, r->o.init_from != NULL))) return s;
    if ((s = anet_config_check(&r->cfg))) return r->refused = 1, s;
    /* before --force clears the directory, which may hold it */
    struct anet_ckpt init = {0};
    if (r->o.init_from && (s = open_init(r, &init))) return anet_ckpt_free(&init), s;
    if (writer(r) && !s) s = make_dir(r->dir);
    if (!s && writer(r) && holds_run(r->dir)) {
        if (!r->o.force)
            s = anet_fail(ANET_ERR_IO, "'%s' holds another run: use --resume %s to go on, or "
                          "--force to start afresh", r->dir, r->dir);
        else
            clear_run(r->dir);
    }
    if (!s) s = anet_model_create_placed(&r->cfg, rc->batch / r->ranks, &r->o.where, &r->model);
    if (!s) {
        anet_model_init(r->model, rc->seed);
        anet_model_set_layer_sgd(r->model, &rc->layers);
        s = anet_backend_error(anet_model_backend(r->model));
    }
    if (!s && r->o.init_from) s = take_weights(r, &init);
    anet_ckpt_free(&init);
    if (!s) say_layers(r, &rc->layers);
    return s;
}

/* Reads path's training state (to learn the batch size), then the whole checkpoint with a
 * model for that batch. */
static enum anet_status try_ckpt(const char *path, int ranks, struct anet_ckpt *ck,
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
    /* a batch that does not divide is refused after, with the reason */
    int share = st->recipe.batch % ranks ? st->recipe.batch : st->recipe.batch / ranks;
    s = anet_ckpt_load(path, share, ck);
    if (s) anet_train_state_free(st);
    return s;
}

/* The checkpoint to resume from: the file, or the newest loadable one of a directory. */
static enum anet_status load_resume(struct anet_run *r, struct anet_ckpt *ck,
                                    struct anet_train_state *st)
{
    struct stat sb;
    if (stat(r->o.resume, &sb) != 0)
        return anet_fail(ANET_ERR_IO, "cannot open '%s': %s", r->o.resume, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) {
        enum anet_status s = try_ckpt(r->o.resume, r->ranks, ck, st);
        if (!s && !(r->last_ckpt = strdup(r->o.resume)))
            s = anet_fail(ANET_ERR_NOMEM, "out of memory");
        return s;
    }
    char **names;
    int n = list_ckpts(r->o.resume, &names);
    for (int i = 0; i < n; i++) {
        char *p = path_join(r->o.resume, names[i]);
        if (!p) break;
        if (!try_ckpt(p, r->ranks, ck, st)) {
            r->last_ckpt = p;
            free_names(names, n);
            return ANET_OK;
        }
        if (writer(r)) say_at(r, ANET_LOG_WARN, "skipping '%s': %s", p, anet_error_detail());
        free(p);
    }
    free_names(names, n);
    return anet_fail(ANET_ERR_IO, "'%s' holds no checkpoint to resume from", r->o.resume);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* A relative data path from a checkpoint written before paths were stored absolute: it
 * was relative to the directory the run started in, which is most likely the run
 * directory's parent (or one of its ancestors); failing those, the working directory.
 * *path becomes the first that exists, made absolute. */
static void resolve_old_path(struct anet_run *r, char **path)
{
    if (!*path || (*path)[0] == '/') return;
    char *dir = absolute(r->dir), *found = NULL;
    for (char *slash; !found && dir && (slash = strrchr(dir, '/'));) {
        *slash = 0; /* the parent: the run directory itself cannot hold the run's data */
        char *p = path_join(*dir ? dir : "", *path);
        if (p && access(p, F_OK) == 0) found = p;
        else free(p);
    }
    free(dir);
    if (!found) {
        if (access(*path, F_OK) != 0) return; /* opening it will say what is wrong */
        found = absolute(*path);
    }
    if (writer(r)) say(r, "'%s', relative to where the run started, is '%s'", *path, found);
    free(*path);
    *path = found;
}

/* Paths given now win over the ones the run started with. */
static void replace_path(char **kept, const char *given)
{
    if (!given) return;
    free(*kept);
    *kept = absolute(given);
}

/* The class table the run was trained with must be the databases'. */
static enum anet_status check_resumed_classes(struct anet_run *r)
{
    struct anet_classes kept = r->classes;
    memset(&r->classes, 0, sizeof r->classes);
    int classes = r->cfg.classes;
    enum anet_status s = settle_classes(r, 1, 0);
    int differ = !s && kept.count && r->classes.count && !same_classes(&kept, &r->classes);
    anet_classes_free(&r->classes);
    r->classes = kept;
    r->cfg.classes = classes;
    if (s) return s;
    if (differ)
        return anet_fail(ANET_ERR_FORMAT, "the class table of '%s' differs from the "
                         "checkpoint's '%s'", train_name(r), r->last_ckpt);
    return ANET_OK;
}

static enum anet_status resume(struct anet_run *r)
{
    struct anet_ckpt ck = {0};
    struct anet_train_state st;
    enum anet_status s = load_resume(r, &ck, &st);
    if (s) return s;
    r->cfg = ck.config;
    r->model = ck.model, ck.model = NULL;
    r->classes = ck.classes, memset(&ck.classes, 0, sizeof ck.classes);
    anet_ckpt_free(&ck);
    if ((s = anet_model_place(&r->model, &r->o.where))) {
        char what[768];
        snprintf(what, sizeof what, "%s", anet_error_detail());
        anet_train_state_free(&st);
        return anet_fail(s, "%s: %s", r->o.where.backend && r->o.where.backend->device
                                          ? "moving the model to the GPU"
                                          : "moving the model to the CPU", what);
    }
    if (r->cb.check_resume &&
        (s = r->cb.check_resume(r->cb.user, r->last_ckpt, &r->cfg, &st.recipe))) {
        anet_train_state_free(&st);
        r->refused = s == ANET_ERR_INVALID;
        return s;
    }
    if (r->o.epochs) st.recipe.epochs = r->o.epochs;
    r->st = st;
    anet_model_set_layer_sgd(r->model, &r->st.recipe.layers);
    if ((s = check_shares(r, r->st.recipe.batch))) return s;
    replace_path(&r->st.train_db, r->o.train_db);
    replace_path(&r->st.val_db, r->o.val_db);
    replace_path(&r->st.stats, r->o.stats);
    struct stat sb;
    if (r->o.dir) r->dir = strdup(r->o.dir);
    else if (stat(r->o.resume, &sb) == 0 && S_ISDIR(sb.st_mode)) r->dir = strdup(r->o.resume);
    else r->dir = dir_of(r->o.resume);
    if (!r->dir) return anet_fail(ANET_ERR_NOMEM, "out of memory");
    if (writer(r) && (s = make_dir(r->dir))) return s;
    resolve_old_path(r, &r->st.train_db);
    resolve_old_path(r, &r->st.val_db);
    resolve_old_path(r, &r->st.stats);
    if (!r->st.train_db || !r->st.stats)
        return refuse(r, "'%s' does not say where its data is: give --train and --stats",
                      r->last_ckpt);
    if ((s = check_resumed_classes(r))) return s;
    if (r->st.recipe.policy == ANET_LR_PLATEAU && !r->st.val_db)
        return refuse(r, "--lr-policy plateau needs a validation set (--val)");
    /* every rank must have found the same checkpoint (a file system they all see) */
    double x = (double)r->st.progress.iter, it[2] = {x, x * x};
    if ((s = anet_dist_sum(r->dist, it, 2))) return s;
    if (r->ranks > 1 && it[1] * r->ranks != it[0] * it[0]) /* equal only when all are */
        return anet_fail(ANET_ERR_IO, "the ranks resume from different checkpoints: they "
                         "need one file system where they see the same run directory");
    say(r, "resuming '%s' at epoch %" PRIu32 ", batch %" PRIu32 ", iteration %" PRIu64,
        r->last_ckpt, r->st.progress.epoch + 1, r->st.progress.batch, r->st.progress.iter);
    say_layers(r, &r->st.recipe.layers);
    return ANET_OK;
}

enum anet_status anet_run_open(const struct anet_run_options *o,
                               const struct anet_run_callbacks *cb, struct anet_run **out)
{
    struct anet_run *r = calloc(1, sizeof *r);
    *out = r;
    if (!r) return anet_fail(ANET_ERR_NOMEM, "out of memory for a training run");
    r->o = *o;
    if (cb) r->cb = *cb;
    if (r->o.log_every < 1) r->o.log_every = 20;
    if (r->o.keep < 1) r->o.keep = 3;
    if (r->o.loader_threads < 1) r->o.loader_threads = 2;
    if (r->o.where.parts < 1) r->o.where.parts = 1; /* unset: one part, a CPU of its own */
    r->dist = o->dist;
    r->rank = anet_dist_rank(o->dist), r->ranks = anet_dist_size(o->dist);
    enum anet_status s = o->resume ? resume(r) : start_fresh(r);
    if ((s = agree(r, s, "to start the run"))) return s;
    if ((s = share_weights(r)) ||
        (s = anet_dist_connect(r->dist, anet_model_backend(r->model))))
        return agree(r, s, "to share the weights");
    r->overlap = o->overlap && r->ranks > 1 && anet_model_backend(r->model)->host_memory;
    if (r->overlap) anet_model_set_layer_hook(r->model, start_layer_sum, r);
    s = agree(r, open_data(r), "to open the data");
    /* the run directory holds a run once its data has opened: a start that fails on bad
     * data leaves nothing that a second try would have to force away */
    if (!s && !o->resume && writer(r)) s = write_run_txt(r);
    return agree(r, s, "to write run.txt");
}

int anet_run_refused(const struct anet_run *r) { return r && r->refused; }
int anet_run_failed_elsewhere(const struct anet_run *r) { return r && r->elsewhere; }
int anet_run_signal(const struct anet_run *r) { return r->signal; }
uint64_t anet_run_checksum(const struct anet_run *r) { return r->checked; }
const struct anet_train_state *anet_run_state(const struct anet_run *r) { return &r->st; }
const struct anet_config *anet_run_config(const struct anet_run *r) { return &r->cfg; }
struct anet_model *anet_run_model(const struct anet_run *r) { return r->model; }
const char *anet_run_dir(const struct anet_run *r) { return r->dir; }
const char *anet_run_last_checkpoint(const struct anet_run *r) { return r->last_ckpt; }
uint32_t anet_run_batches(const struct anet_run *r) { return anet_loader_batches(r->train); }
size_t anet_run_train_images(const struct anet_run *r) { return anet_loader_count(r->train); }
int anet_run_validates(const struct anet_run *r) { return r->val != NULL; }

void anet_run_free(struct anet_run *r)
{
    if (!r) return;
    anet_loader_free(r->train);
    anet_loader_free(r->val);
    anet_feed_free(r->train_feed);
    anet_feed_free(r->val_feed);
    anet_db_close(r->train_db);
    anet_db_close(r->val_db);
    anet_model_free(r->model);
    anet_classes_free(&r->classes);
    anet_train_state_free(&r->st);
    free(r->mean);
    free(r->last_ckpt);
    free(r->dir);
    free(r);
}
