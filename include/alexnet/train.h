/* A training run: its recipe (fixed for the life of the run), its position (where it is,
 * what the learning-rate schedule has done), and the text form both take in a checkpoint's
 * TRAN section, so that a run stopped at any point goes on exactly where it was. */
#ifndef ANET_TRAIN_H
#define ANET_TRAIN_H

#include <stdint.h>
#include "model.h"
#include "status.h"

enum anet_lr_policy {
    ANET_LR_PLATEAU = 0, /* the paper's: ÷10 when validation error stops improving (§5) */
    ANET_LR_STEP,        /* × gamma every step_epochs epochs */
    ANET_LR_FIXED
};
const char *anet_lr_policy_name(enum anet_lr_policy p);
int anet_lr_policy_parse(const char *name, enum anet_lr_policy *p); /* 0 when unknown */

/* What a run was started with. Defaults (anet_recipe_default) are the paper's. */
struct anet_recipe {
    int batch;             /* 128 */
    int epochs;            /* 90 */
    float lr;              /* initial learning rate, 0.01 */
    float momentum, decay; /* 0.9, 0.0005 */
    enum anet_lr_policy policy;
    int patience;          /* plateau: epochs without improvement before a drop (2) */
    int max_drops;         /* plateau: at most this many drops (3, as the paper made) */
    int step_epochs;       /* step: epochs between drops (30) */
    float gamma;           /* the factor of a drop (0.1) */
    uint64_t seed;         /* initial weights, data order, augmentation, dropout (1) */
    int random_crop;       /* 1: random 227 crops; 0: the centre one */
    int mirror;            /* 1: horizontal mirrors with probability 1/2 */
    float color_sigma;     /* σ of the PCA colour noise's α (0.1); 0: off */
    struct anet_layer_sgd layers; /* frozen layers, learning-rate multipliers (none, 1) */
};
void anet_recipe_default(struct anet_recipe *r);

/* Where a run is. A checkpoint taken between steps has batch < batches an epoch; one taken
 * after an epoch's last step but before its validation has batch == batches. */
struct anet_progress {
    uint32_t epoch;       /* the epoch in progress, from 0 */
    uint32_t batch;       /* the next batch of that epoch */
    uint64_t iter;        /* SGD steps done; the step's RNG key */
    uint64_t images;      /* training images seen */
    double elapsed;       /* seconds of training and validation so far */
    float lr;             /* the learning rate now */
    double best_err;      /* best validation top-1 error so far; 2 = none yet */
    uint32_t best_epoch;  /* the epoch (from 1) that reached it */
    uint32_t since_best;  /* validations since the best one */
    uint32_t drops;       /* learning-rate drops made */
    /* the metrics window: sums since the last training row of the log */
    double win_loss;      /* Σ loss × images */
    uint64_t win_images, win_err1, win_err5;
    double win_seconds;
};
void anet_progress_start(const struct anet_recipe *r, struct anet_progress *p);

/* The learning rate after validation error `err` at the end of epoch p->epoch (from 0):
 * updates best_err, best_epoch, since_best, drops and lr. Returns 1 when lr changed. Call
 * before advancing p->epoch. With no validation set, pass err < 0: plateau then never
 * drops. */
int anet_schedule_epoch_end(const struct anet_recipe *r, struct anet_progress *p, double err);

/* The state of a run as a checkpoint keeps it (TRAN text). */
struct anet_train_state {
    struct anet_recipe recipe;
    struct anet_progress progress;
    char *train_db, *val_db, *stats; /* paths as given when the run started; may be NULL */
    char *init_from; /* the checkpoint a fine-tuning run started from; NULL: none */
};
/* "key value" lines, floats with %.9g and doubles with %.17g so that parsing gives back
 * the same bits. The optional keys are written only when they say something: freeze (the
 * frozen layers, as anet_layers_format writes them), lr_mult (eight multipliers, conv1 ..
 * fc8) when one is not 1, init_from and the data paths when set. The result is
 * malloc'ed. */
char *anet_train_format(const struct anet_train_state *s);
/* The ranges of alexnet-train's options, which a state read from a checkpoint must keep to
 * as well: a file cannot ask for a batch no command line could (the model is allocated
 * for it) or a schedule that divides by zero. */
#define ANET_MAX_BATCH 65536
#define ANET_MAX_EPOCHS 1000000
#define ANET_MAX_LR 1e6
#define ANET_MAX_LR_MULT 1e6
#define ANET_MAX_PATIENCE 1000000
#define ANET_MAX_DROPS 1000
#define ANET_MAX_STEP_EPOCHS 1000000
#define ANET_MIN_GAMMA 1e-9
#define ANET_MAX_COLOR_SIGMA 100.0
/* Every key required once (paths, freeze, lr_mult and init_from optional: absent, nothing
 * is frozen and every multiplier is 1, as in the checkpoints written before they existed),
 * every value in range: the recipe within those ranges (on/off flags 0 or 1), the position
 * consistent with it (an epoch up to the epochs' limit, a learning rate within the options'
 * range, a best error in 0..1 or 2, counts and times not negative and not infinite);
 * ANET_ERR_FORMAT naming `what`, the line or the key and the range. Strings are malloc'ed:
 * free with anet_train_state_free. */
enum anet_status anet_train_parse(const char *text, const char *what,
                                  struct anet_train_state *s);
void anet_train_state_free(struct anet_train_state *s);

#endif
