/* The training run of the library (alexnet/run.h), driven as a program would drive it:
 * rows and messages through callbacks, the gradient hook between backward and update, a
 * stop asked at a step, resuming from another working directory (data paths kept
 * absolute), and refusals told apart from failures. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/data.h"
#include "alexnet/run.h"
#include "alexnet/stats.h"
#include "scratch.h"
#include "test.h"

#define SIDE 40
#define IMAGES 12

static char dir[] = "/tmp/anet-run-XXXXXX";
static char path_buf[4][PATH_MAX];

static const char *in_dir(int slot, const char *name)
{
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", dir, name);
    return path_buf[slot];
}

/* IMAGES raw 3 × SIDE × SIDE records of 3 classes, a class table, and a flat mean image. */
static int make_data(void)
{
    struct anet_db_writer *w;
    if (anet_db_create(in_dir(0, "train.lmdb"), 0, &w)) return 0;
    uint8_t img[3 * SIDE * SIDE];
    enum anet_status s = ANET_OK;
    for (int r = 0; r < IMAGES && !s; r++) {
        for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)((r % 3) * 60 + (i * 7 + r) % 50);
        struct anet_datum d = {3, SIDE, SIDE, img, sizeof img, r % 3, 0};
        uint8_t buf[sizeof img + 64];
        size_t n = anet_datum_encode(&d, buf);
        char key[32];
        snprintf(key, sizeof key, "%08d_c%d/%d.JPEG", r, r % 3, r);
        s = anet_db_put(w, key, buf, n);
    }
    const char table[] = "n0\tzero\nn1\tone\nn2\ttwo\n";
    if (!s) s = anet_db_add_file(w, "classes.tsv", table, sizeof table - 1);
    if (s) return anet_db_abort(w), 0;
    if (anet_db_finish(w)) return 0;
    float mean[3 * SIDE * SIDE];
    for (size_t i = 0; i < sizeof mean / sizeof *mean; i++) mean[i] = 90;
    mkdir(in_dir(1, "stats"), 0777);
    return anet_mean_write(in_dir(2, "stats/mean.binaryproto"), mean, 3, SIDE, SIDE, 0) == ANET_OK;
}

/* What the callbacks saw. */
struct seen {
    int rows, val_rows, steps, hooks, warnings;
    int stop_at; /* ask to stop after this many steps (0: never) */
    double last_loss;
    char messages[2048];
};

static void on_message(void *u, enum anet_log_level level, const char *text)
{
    struct seen *s = u;
    s->warnings += level == ANET_LOG_WARN;
    strncat(s->messages, text, sizeof s->messages - strlen(s->messages) - 2);
    strcat(s->messages, "\n");
}
static void on_row(void *u, const struct anet_run_row *w)
{
    struct seen *s = u;
    s->rows++;
    s->val_rows += !strcmp(w->phase, "val");
    s->last_loss = w->loss;
}
static void on_step(void *u, const struct anet_run *r, double loss, double img_s)
{
    (void)r, (void)loss, (void)img_s;
    ((struct seen *)u)->steps++;
}
static int on_stop(void *u)
{
    struct seen *s = u;
    return s->stop_at && s->steps >= s->stop_at ? 15 : 0;
}
/* The hook sees the gradients between backward and update; a gradient of zero everywhere
 * would leave the weights to the decay, so count and leave them alone. */
static enum anet_status on_gradients(void *u, struct anet_model *m)
{
    struct anet_span spans[ANET_MAX_PARTS];
    int n = anet_model_gradients(m, spans);
    ((struct seen *)u)->hooks += n == 1 && spans[0].count == anet_config_params(anet_model_config(m));
    return ANET_OK;
}

static struct anet_run_options options(const char *run_dir)
{
    struct anet_run_options o = {0};
    anet_config_default(&o.net);
    o.net.crop = 39, o.net.pool_size = 2, o.net.pool_stride = 2;
    int conv[5] = {8, 16, 16, 16, 16};
    memcpy(o.net.conv, conv, sizeof conv);
    o.net.fc[0] = o.net.fc[1] = 32;
    o.net.init_std = 0.05f;
    anet_recipe_default(&o.recipe);
    o.recipe.batch = 4, o.recipe.epochs = 2, o.recipe.policy = ANET_LR_FIXED;
    o.recipe.color_sigma = 0;
    o.dir = run_dir;
    o.train_db = in_dir(0, "train.lmdb"), o.stats = in_dir(1, "stats");
    o.log_every = 1;
    return o;
}

static struct anet_run_callbacks callbacks(struct seen *s)
{
    return (struct anet_run_callbacks){.user = s, .message = on_message, .row = on_row,
                                       .step = on_step, .stop = on_stop,
                                       .gradients = on_gradients};
}

static void test_fresh_and_resume(void)
{
    struct seen s = {.stop_at = 4};
    struct anet_run_options o = options(in_dir(3, "run"));
    struct anet_run_callbacks cb = callbacks(&s);
    struct anet_run *r;
    enum anet_status st = anet_run_open(&o, &cb, &r);
    if (!T_OK(!st, "a fresh run opens: %s", st ? anet_error_detail() : "ok")) return anet_run_free(r);
    T_OK(anet_run_batches(r) == 3 && anet_run_train_images(r) == IMAGES &&
             anet_run_config(r)->classes == 3,
         "3 batches of 4 an epoch, 3 classes from the database's table");
    T_OK(anet_run_state(r)->train_db[0] == '/', "the data path is kept absolute: %s",
         anet_run_state(r)->train_db);
    enum anet_run_end end;
    st = anet_run_train(r, &end);
    T_OK(!st && end == ANET_RUN_STOPPED && anet_run_signal(r) == 15 && s.steps == 4 &&
             s.hooks == 4 && s.rows == 4,
         "a stop asked after step 4 stops there with a checkpoint (%d steps, %d hooks, %d "
         "rows) %s", s.steps, s.hooks, s.rows, st ? anet_error_detail() : "");
    char last[PATH_MAX];
    snprintf(last, sizeof last, "%s", anet_run_last_checkpoint(r) ? anet_run_last_checkpoint(r) : "");
    T_OK(strstr(last, "ckpt-00000004.anet") != NULL, "checkpoint %s", last);
    anet_run_free(r);

    /* resume from another working directory, by the run directory */
    char here[PATH_MAX];
    if (!getcwd(here, sizeof here) || chdir("/")) return (void)T_OK(0, "chdir");
    struct seen s2 = {0};
    struct anet_run_options o2 = {0};
    o2.resume = in_dir(3, "run");
    o2.log_every = 1;
    cb = callbacks(&s2);
    st = anet_run_open(&o2, &cb, &r);
    T_OK(!st && strstr(s2.messages, "resuming") && anet_run_state(r)->progress.iter == 4,
         "it resumes from another directory at iteration 4 %s", st ? anet_error_detail() : "");
    if (!st) st = anet_run_train(r, &end);
    T_OK(!st && end == ANET_RUN_DONE && s2.steps == 2 && s2.val_rows == 0 &&
             anet_run_state(r)->progress.epoch == 2 && strstr(s2.messages, "done: 2 epochs"),
         "and trains the 2 steps left to the end of epoch 2 %s", st ? anet_error_detail() : "");
    anet_run_free(r);
    if (chdir(here)) T_OK(0, "chdir back");
}

static enum anet_status refuse_lr(void *u, const char *ckpt, const struct anet_config *net,
                                  const struct anet_recipe *recipe)
{
    (void)u, (void)net;
    if (recipe->lr != 0.5f)
        return anet_fail(ANET_ERR_INVALID, "--lr 0.5 contradicts the checkpoint '%s'", ckpt);
    return ANET_OK;
}

static void test_refusals(void)
{
    struct seen s = {0};
    struct anet_run_callbacks cb = callbacks(&s);
    struct anet_run *r;
    struct anet_run_options o = options(in_dir(3, "run-plateau"));
    o.recipe.policy = ANET_LR_PLATEAU;
    enum anet_status st = anet_run_open(&o, &cb, &r);
    T_OK(st == ANET_ERR_INVALID && anet_run_refused(r) &&
             strstr(anet_error_detail(), "needs a validation set"),
         "plateau without validation is refused as the options' fault: %s", anet_error_detail());
    anet_run_free(r);
    o = options(in_dir(3, "run"));
    st = anet_run_open(&o, &cb, &r);
    T_OK(st && !anet_run_refused(r) && strstr(anet_error_detail(), "holds another run"),
         "a directory holding another run is a failure, not a refusal: %s", anet_error_detail());
    anet_run_free(r);
    struct anet_run_options o2 = {0};
    o2.resume = in_dir(3, "run");
    cb.check_resume = refuse_lr;
    st = anet_run_open(&o2, &cb, &r);
    T_OK(st == ANET_ERR_INVALID && anet_run_refused(r) && strstr(anet_error_detail(), "contradicts"),
         "an option contradicting the checkpoint is refused: %s", anet_error_detail());
    anet_run_free(r);
}

int main(void)
{
    if (!mkdtemp(dir)) return T_OK(0, "mkdtemp"), t_done();
    if (T_OK(make_data(), "a tiny database and mean image: %s", anet_error_detail())) {
        test_fresh_and_resume();
        test_refusals();
    }
    t_remove_tree(dir);
    return t_done();
}
