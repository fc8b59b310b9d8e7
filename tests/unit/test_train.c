/* The learning-rate schedule and the training state's text form. */
#include <string.h>
#include "alexnet/train.h"
#include "test.h"

/* Feeds validation errors err[0..n) through the schedule; the lr after each epoch. */
static void run_schedule(const struct anet_recipe *r, const double *err, int n, float *lr)
{
    struct anet_progress p;
    anet_progress_start(r, &p);
    for (int e = 0; e < n; e++) {
        anet_schedule_epoch_end(r, &p, err[e]);
        lr[e] = p.lr;
        p.epoch++;
    }
}

static void test_plateau(void)
{
    struct anet_recipe r;
    anet_recipe_default(&r);
    r.patience = 2;
    r.max_drops = 2;
    /* improves, improves, stalls twice (drop), improves, stalls twice (drop), stalls
     * forever: no third drop */
    const double err[] = {0.9, 0.8, 0.85, 0.8, 0.7, 0.75, 0.71, 0.72, 0.73, 0.74, 0.75};
    float lr[11];
    run_schedule(&r, err, 11, lr);
    const float want[] = {0.01f, 0.01f, 0.01f, 0.001f, 0.001f, 0.001f,
                          0.0001f, 0.0001f, 0.0001f, 0.0001f, 0.0001f};
    int ok = 1;
    for (int i = 0; i < 11; i++) ok &= fabsf(lr[i] - want[i]) <= 1e-9f;
    T_OK(ok, "plateau: drops after 2 stalled epochs, at most max_drops times");

    struct anet_progress p;
    anet_progress_start(&r, &p);
    for (int e = 0; e < 5; e++, p.epoch++) anet_schedule_epoch_end(&r, &p, -1);
    T_OK(p.lr == r.lr && p.drops == 0, "plateau without validation never drops");
    anet_progress_start(&r, &p);
    anet_schedule_epoch_end(&r, &p, 0.5);
    p.epoch++;
    anet_schedule_epoch_end(&r, &p, 0.4);
    T_OK(p.best_err == 0.4 && p.best_epoch == 2 && p.since_best == 0, "best error and epoch");
}

static void test_step_fixed(void)
{
    struct anet_recipe r;
    anet_recipe_default(&r);
    r.policy = ANET_LR_STEP;
    r.step_epochs = 3;
    double err[9] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    float lr[9];
    run_schedule(&r, err, 9, lr);
    T_OK(lr[1] == 0.01f && lr[2] == 0.01f * 0.1f && lr[5] == 0.01f * 0.1f * 0.1f,
         "step: x0.1 after epochs 3 and 6 (%g %g %g)", lr[1], lr[2], lr[5]);
    r.policy = ANET_LR_FIXED;
    run_schedule(&r, err, 9, lr);
    T_OK(lr[8] == 0.01f, "fixed never changes");
    enum anet_lr_policy pol;
    T_OK(anet_lr_policy_parse("step", &pol) && pol == ANET_LR_STEP &&
             !anet_lr_policy_parse("cosine", &pol) &&
             !strcmp(anet_lr_policy_name(ANET_LR_PLATEAU), "plateau"),
         "policy names");
}

static void test_text(void)
{
    struct anet_train_state s = {0}, t;
    anet_recipe_default(&s.recipe);
    s.recipe.lr = 0.0123456789f;
    s.recipe.seed = 18446744073709551615ull;
    s.recipe.policy = ANET_LR_STEP;
    anet_progress_start(&s.recipe, &s.progress);
    s.progress.epoch = 7, s.progress.batch = 13, s.progress.iter = 5000000000ull;
    s.progress.elapsed = 1.0 / 3, s.progress.win_loss = 6.907755278982137;
    s.progress.lr = 1e-5f;
    s.train_db = "data/train lmdb";
    s.stats = "stats";
    char *text = anet_train_format(&s);
    T_OK(text && anet_train_parse(text, "x", &t) == ANET_OK, "format then parse");
    T_OK(!memcmp(&s.recipe, &t.recipe, sizeof s.recipe) &&
             !memcmp(&s.progress, &t.progress, sizeof s.progress),
         "recipe and progress come back bit for bit");
    T_OK(t.train_db && !strcmp(t.train_db, "data/train lmdb") && !t.val_db &&
             !strcmp(t.stats, "stats"),
         "paths come back (spaces kept, absent stays absent)");
    anet_train_state_free(&t);

    char bad[4096];
    snprintf(bad, sizeof bad, "%sbogus 1\n", text);
    T_OK(anet_train_parse(bad, "ck", &t) == ANET_ERR_FORMAT &&
             strstr(anet_error_detail(), "unknown key 'bogus'"),
         "unknown key refused: %s", anet_error_detail());
    snprintf(bad, sizeof bad, "%slr 2\n", text);
    T_OK(anet_train_parse(bad, "ck", &t) == ANET_ERR_FORMAT &&
             strstr(anet_error_detail(), "twice"),
         "repeated key refused: %s", anet_error_detail());
    char *cut = strstr(text, "iter ");
    *cut = 0;
    T_OK(anet_train_parse(text, "ck", &t) == ANET_ERR_FORMAT &&
             strstr(anet_error_detail(), "lacks 'iter'"),
         "missing key refused: %s", anet_error_detail());
    T_OK(anet_train_parse("batch x\n", "ck", &t) == ANET_ERR_FORMAT &&
             strstr(anet_error_detail(), "line 1: bad value 'x'"),
         "bad value refused: %s", anet_error_detail());
    free(text);

    /* values the options could never give */
    static const struct { const char *from, *to, *says; } out[] = {
        {"batch 128\n", "batch 3000000\n", "'batch' 3e+06 is outside 1..65536"},
        {"step_epochs 30\n", "step_epochs 0\n", "'step_epochs' 0 is outside 1..1e+06"},
        {"momentum 0.899999976\n", "momentum inf\n", "'momentum' inf is outside 0..1"},
        {"mirror 1\n", "mirror 2\n", "'mirror' 2 is outside 0..1"},
        {"best_err 2\n", "best_err 0.5\nbest_err_x 1\n", "unknown key"},
        {"best_err 2\n", "best_err 3\n", "'best_err' 3 is outside 0..1"},
        {"elapsed 0\n", "elapsed -1\n", "'elapsed' -1 is outside"},
    };
    struct anet_train_state d = {0};
    anet_recipe_default(&d.recipe);
    anet_progress_start(&d.recipe, &d.progress);
    char *def = anet_train_format(&d);
    for (size_t i = 0; def && i < sizeof out / sizeof out[0]; i++) {
        char *at = strstr(def, out[i].from);
        if (!at) {
            T_OK(0, "'%s' not in the default text", out[i].from);
            continue;
        }
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - def), def, out[i].to,
                 at + strlen(out[i].from));
        T_OK(anet_train_parse(bad, "ck", &t) == ANET_ERR_FORMAT &&
                 strstr(anet_error_detail(), out[i].says),
             "%.*s refused: %s", (int)strcspn(out[i].to, "\n"), out[i].to, anet_error_detail());
    }
    free(def);
}

/* A recipe built by hand with step_epochs 0 does not divide by it. */
static void test_step_zero(void)
{
    struct anet_recipe r;
    struct anet_progress p;
    anet_recipe_default(&r);
    r.policy = ANET_LR_STEP, r.step_epochs = 0;
    anet_progress_start(&r, &p);
    anet_schedule_epoch_end(&r, &p, 0.5);
    T_OK(p.drops == 0 && p.lr == r.lr, "step_epochs 0: no drop, no division by zero");
}

int main(void)
{
    test_plateau();
    test_step_fixed();
    test_text();
    test_step_zero();
    return t_done();
}
