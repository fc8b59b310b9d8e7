/* The TRAN text of a checkpoint: a run's recipe and position as "key value" lines. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/train.h"

enum kind { K_INT, K_U32, K_U64, K_FLOAT, K_DOUBLE, K_POLICY, K_STR, K_LAYERS, K_MULTS };
struct field {
    const char *key;
    enum kind kind;
    size_t off; /* in struct anet_train_state */
    int optional;
};
#define R(f) offsetof(struct anet_train_state, recipe.f)
#define P(f) offsetof(struct anet_train_state, progress.f)
#define S(f) offsetof(struct anet_train_state, f)
static const struct field fields[] = {
    {"batch", K_INT, R(batch), 0},           {"epochs", K_INT, R(epochs), 0},
    {"lr0", K_FLOAT, R(lr), 0},              {"momentum", K_FLOAT, R(momentum), 0},
    {"decay", K_FLOAT, R(decay), 0},         {"lr_policy", K_POLICY, R(policy), 0},
    {"patience", K_INT, R(patience), 0},     {"max_drops", K_INT, R(max_drops), 0},
    {"step_epochs", K_INT, R(step_epochs), 0}, {"gamma", K_FLOAT, R(gamma), 0},
    {"seed", K_U64, R(seed), 0},             {"random_crop", K_INT, R(random_crop), 0},
    {"mirror", K_INT, R(mirror), 0},         {"color_sigma", K_FLOAT, R(color_sigma), 0},
    {"epoch", K_U32, P(epoch), 0},           {"batch_next", K_U32, P(batch), 0},
    {"iter", K_U64, P(iter), 0},             {"images", K_U64, P(images), 0},
    {"elapsed", K_DOUBLE, P(elapsed), 0},    {"lr", K_FLOAT, P(lr), 0},
    {"best_err", K_DOUBLE, P(best_err), 0},  {"best_epoch", K_U32, P(best_epoch), 0},
    {"since_best", K_U32, P(since_best), 0}, {"drops", K_U32, P(drops), 0},
    {"win_loss", K_DOUBLE, P(win_loss), 0},  {"win_images", K_U64, P(win_images), 0},
    {"win_err1", K_U64, P(win_err1), 0},     {"win_err5", K_U64, P(win_err5), 0},
    {"win_seconds", K_DOUBLE, P(win_seconds), 0},
    {"train_db", K_STR, S(train_db), 1},     {"val_db", K_STR, S(val_db), 1},
    {"stats", K_STR, S(stats), 1},
    {"freeze", K_LAYERS, R(layers.frozen), 1}, {"lr_mult", K_MULTS, R(layers.lr_mult), 1},
    {"init_from", K_STR, S(init_from), 1},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* 1 when the eight multipliers are all 1 (then lr_mult is not written). */
static int all_ones(const float *m)
{
    for (int i = 0; i < ANET_LAYERS; i++)
        if (m[i] != 1.0f) return 0;
    return 1;
}

static void format_field(FILE *f, const struct field *d, const void *base)
{
    const char *p = (const char *)base + d->off;
    switch (d->kind) {
    case K_LAYERS: {
        char buf[96];
        uint32_t set = *(const uint32_t *)p;
        if (set) fprintf(f, "%s %s\n", d->key, anet_layers_format(set, buf, sizeof buf));
        break;
    }
    case K_MULTS: {
        const float *m = (const float *)p;
        if (all_ones(m)) break;
        fprintf(f, "%s", d->key);
        for (int i = 0; i < ANET_LAYERS; i++) fprintf(f, " %.9g", (double)m[i]);
        fputc('\n', f);
        break;
    }
    case K_INT: fprintf(f, "%s %d\n", d->key, *(const int *)p); break;
    case K_U32: fprintf(f, "%s %" PRIu32 "\n", d->key, *(const uint32_t *)p); break;
    case K_U64: fprintf(f, "%s %" PRIu64 "\n", d->key, *(const uint64_t *)p); break;
    case K_FLOAT: fprintf(f, "%s %.9g\n", d->key, (double)*(const float *)p); break;
    case K_DOUBLE: fprintf(f, "%s %.17g\n", d->key, *(const double *)p); break;
    case K_POLICY:
        fprintf(f, "%s %s\n", d->key, anet_lr_policy_name(*(const enum anet_lr_policy *)p));
        break;
    case K_STR: {
        const char *s = *(char *const *)p;
        if (s) fprintf(f, "%s %s\n", d->key, s);
        break;
    }
    }
}

char *anet_train_format(const struct anet_train_state *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    for (size_t i = 0; i < NFIELDS; i++) format_field(f, &fields[i], s);
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Parses one value into the field; 0 when the text is not a value of its kind. */
static int parse_value(const struct field *d, const char *v, void *base)
{
    char *p = (char *)base + d->off, *end;
    errno = 0;
    switch (d->kind) {
    case K_INT: {
        long x = strtol(v, &end, 10);
        if (*end || end == v || errno || x < -2147483647L || x > 2147483647L) return 0;
        *(int *)p = (int)x;
        return 1;
    }
    case K_U32:
    case K_U64: {
        if (*v == '-') return 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (*end || end == v || errno) return 0;
        if (d->kind == K_U32) {
            if (x > UINT32_MAX) return 0;
            *(uint32_t *)p = (uint32_t)x;
        } else {
            *(uint64_t *)p = x;
        }
        return 1;
    }
    case K_FLOAT: {
        float x = strtof(v, &end);
        if (*end || end == v || errno || x != x) return 0;
        *(float *)p = x;
        return 1;
    }
    case K_DOUBLE: {
        double x = strtod(v, &end);
        if (*end || end == v || errno || x != x) return 0;
        *(double *)p = x;
        return 1;
    }
    case K_POLICY: return anet_lr_policy_parse(v, (enum anet_lr_policy *)p);
    case K_LAYERS: return anet_layers_parse(v, (uint32_t *)p) == ANET_OK;
    case K_MULTS: { /* eight multipliers, each finite and not negative */
        float *m = (float *)p;
        for (int i = 0; i < ANET_LAYERS; i++) {
            m[i] = strtof(v, &end);
            if (end == v || errno || !(m[i] >= 0) || m[i] > (float)ANET_MAX_LR_MULT || (*end && *end != ' '))
                return 0;
            v = end;
        }
        return *end == 0;
    }
    case K_STR: {
        char *s = strdup(v);
        if (!s) return 0;
        free(*(char **)p);
        *(char **)p = s;
        return 1;
    }
    }
    return 0;
}

static enum anet_status parse_line(char *line, const char *what, int lineno,
                                   struct anet_train_state *s, int seen[NFIELDS])
{
    char *sp = strchr(line, ' ');
    if (!sp) return anet_fail(ANET_ERR_FORMAT, "%s: line %d: expected 'key value'", what, lineno);
    *sp = 0;
    for (size_t i = 0; i < NFIELDS; i++) {
        if (strcmp(line, fields[i].key)) continue;
        if (seen[i])
            return anet_fail(ANET_ERR_FORMAT, "%s: line %d: '%s' given twice", what, lineno, line);
        seen[i] = 1;
        if (!parse_value(&fields[i], sp + 1, s))
            return anet_fail(ANET_ERR_FORMAT, "%s: line %d: bad value '%s' for '%s'", what,
                             lineno, sp + 1, line);
        return ANET_OK;
    }
    return anet_fail(ANET_ERR_FORMAT, "%s: line %d: unknown key '%s'", what, lineno, line);
}

static enum anet_status outside(const char *what, const char *key, double v, double lo,
                                double hi)
{
    return anet_fail(ANET_ERR_FORMAT, "%s: training state: '%s' %g is outside %g..%g", what, key,
                     v, lo, hi);
}

/* lo <= v <= hi, NaN and infinities outside. */
static int within(double v, double lo, double hi) { return v >= lo && v <= hi; }

/* The recipe against the options' ranges, the position against the recipe. */
static enum anet_status check_state(const struct anet_train_state *s, const char *what)
{
    const struct anet_recipe *r = &s->recipe;
    const struct anet_progress *p = &s->progress;
    const struct { const char *key; double v, lo, hi; } v[] = {
        {"batch", r->batch, 1, ANET_MAX_BATCH},
        {"epochs", r->epochs, 1, ANET_MAX_EPOCHS},
        {"lr0", r->lr, 0, ANET_MAX_LR},
        {"momentum", r->momentum, 0, 1},
        {"decay", r->decay, 0, 1},
        {"patience", r->patience, 1, ANET_MAX_PATIENCE},
        {"max_drops", r->max_drops, 0, ANET_MAX_DROPS},
        {"step_epochs", r->step_epochs, 1, ANET_MAX_STEP_EPOCHS},
        {"gamma", r->gamma, ANET_MIN_GAMMA, 1},
        {"random_crop", r->random_crop, 0, 1},
        {"mirror", r->mirror, 0, 1},
        {"color_sigma", r->color_sigma, 0, ANET_MAX_COLOR_SIGMA},
        {"epoch", p->epoch, 0, ANET_MAX_EPOCHS},
        {"elapsed", p->elapsed, 0, 1e300},
        {"lr", p->lr, 0, ANET_MAX_LR},
        {"best_epoch", p->best_epoch, 0, ANET_MAX_EPOCHS},
        {"since_best", p->since_best, 0, ANET_MAX_EPOCHS},
        {"drops", p->drops, 0, ANET_MAX_EPOCHS},
        {"win_loss", p->win_loss, 0, 1e300},
        {"win_err1", (double)p->win_err1, 0, (double)p->win_images},
        {"win_err5", (double)p->win_err5, 0, (double)p->win_images},
        {"win_seconds", p->win_seconds, 0, 1e300},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!within(v[i].v, v[i].lo, v[i].hi)) return outside(what, v[i].key, v[i].v, v[i].lo, v[i].hi);
    if (r->policy != ANET_LR_PLATEAU && r->policy != ANET_LR_STEP && r->policy != ANET_LR_FIXED)
        return anet_fail(ANET_ERR_FORMAT, "%s: training state: unknown lr_policy", what);
    if (!(within(p->best_err, 0, 1) || p->best_err == 2))
        return anet_fail(ANET_ERR_FORMAT, "%s: training state: 'best_err' %g is outside 0..1 "
                         "(or 2 before any validation)", what, p->best_err);
    return ANET_OK;
}

enum anet_status anet_train_parse(const char *text, const char *what,
                                  struct anet_train_state *s)
{
    memset(s, 0, sizeof *s);
    anet_layer_sgd_default(&s->recipe.layers); /* what a checkpoint without them means */
    char *copy = strdup(text);
    if (!copy) return anet_fail(ANET_ERR_NOMEM, "%s: out of memory", what);
    int seen[NFIELDS] = {0}, lineno = 0;
    enum anet_status st = ANET_OK;
    for (char *line = copy, *next; line && *line && !st; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        if (*line) st = parse_line(line, what, lineno, s, seen);
    }
    for (size_t i = 0; i < NFIELDS && !st; i++)
        if (!seen[i] && !fields[i].optional)
            st = anet_fail(ANET_ERR_FORMAT, "%s: the training state lacks '%s'", what,
                           fields[i].key);
    if (!st) st = check_state(s, what);
    free(copy);
    if (st) anet_train_state_free(s);
    return st;
}

void anet_train_state_free(struct anet_train_state *s)
{
    free(s->train_db);
    free(s->val_db);
    free(s->stats);
    free(s->init_from);
    s->train_db = s->val_db = s->stats = s->init_from = NULL;
}
