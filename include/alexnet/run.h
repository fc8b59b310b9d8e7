/* A training run: the paper's recipe from a database to checkpoints, as alexnet-train runs
 * it, with the tool's output left to callbacks.
 *
 * A run lives in a run directory: run.txt (the command and the settings), checkpoints
 * ckpt-NNNNNNNN.anet every epoch (and every ckpt_every steps), of which the newest `keep`
 * are kept, and best.anet, the checkpoint of the best validation error so far. It reads
 * batches through the loader and a feed, takes SGD steps (forward and backward, the
 * gradient hook, the update), validates on the centre crops after every epoch, follows the
 * learning-rate schedule, and can stop at any step and go on exactly where it was: a
 * resumed run gives the same numbers, bit for bit, as one that never stopped. No
 * checkpoint ever holds a weight that is not finite: a run that diverges stops, naming the
 * last good checkpoint. */
#ifndef ANET_RUN_H
#define ANET_RUN_H

#include <stdint.h>
#include "model.h"
#include "status.h"
#include "train.h"

/* A row of metrics: "train" rows over the last log_every steps, "val" rows after each
 * epoch's validation. */
struct anet_run_row {
    const char *phase;
    uint32_t epoch;           /* from 1 */
    uint64_t iter, images;
    double loss, top1_err, top5_err;
    float lr;
    double img_s, elapsed;
};

struct anet_run;

struct anet_run_callbacks {
    void *user;
    /* messages for a person ("resuming ...", learning-rate drops, the end); level
       ANET_LOG_WARN for a damaged checkpoint skipped on resume */
    void (*message)(void *user, enum anet_log_level level, const char *text);
    void (*row)(void *user, const struct anet_run_row *row);
    /* after every step: the loss of the batch and the step's images a second */
    void (*step)(void *user, const struct anet_run *r, double loss, double img_s);
    /* nonzero (a signal number) to stop after the step or validation batch in progress,
       with a checkpoint */
    int (*stop)(void *user);
    /* between backward and update: the gradients (anet_model_gradients) may be changed in
       place, e.g. summed across processes */
    enum anet_status (*gradients)(void *user, struct anet_model *m);
    /* on resume, before anything is done: ANET_ERR_INVALID with a detail refuses options
       that contradict the checkpoint's network or recipe */
    enum anet_status (*check_resume)(void *user, const char *ckpt,
                                     const struct anet_config *net,
                                     const struct anet_recipe *recipe);
};

struct anet_run_options {
    const char *dir;       /* the run directory; on resume NULL: the checkpoint's own */
    const char *resume;    /* a checkpoint, or a run directory (its newest loadable
                              checkpoint); NULL: a fresh run */
    int force;             /* a fresh run in a directory that holds another clears it */
    const char *train_db, *val_db, *stats; /* on resume NULL: the checkpoint's */
    struct anet_config net;                /* a fresh run's network */
    const char *init_from; /* a fresh run that fine-tunes: it starts from this checkpoint's
                              weights (with fresh momentum and schedule), and net is that
                              checkpoint's network (anet_ckpt_peek) with the caller's
                              changes; every layer but fc8 must keep its shape. fc8 is
                              drawn afresh when the classes are not the checkpoint's (their
                              number, or a class table that differs); NULL: the paper's
                              initialisation */
    int classes_given;     /* net.classes was given; else the database's class table says
                              (or, fine-tuning from a database without one, init_from's) */
    struct anet_recipe recipe;             /* a fresh run's recipe, its frozen layers and
                                              learning-rate multipliers too */
    int epochs;            /* 0: the recipe's; on resume it may lengthen the run */
    uint64_t max_iter;     /* stop (with a checkpoint) after this many steps in all; 0: no */
    int log_every;         /* a train row every log_every steps */
    int ckpt_every;        /* a checkpoint every ckpt_every steps too; 0: epoch ends only */
    int keep;              /* checkpoints kept */
    int loader_threads;
    int check_every;       /* ranks: every this many steps, check that all hold the same
                              weights (a checksum compared); 0: never */
    int overlap;           /* ranks on the CPU: sum each layer's gradients as soon as
                              backward has them, while it goes on below (alexnet/dist.h) */
    struct anet_placement where; /* where the model computes; all zero: the CPU */
    struct anet_dist *dist;      /* the ranks of a data-parallel run (alexnet/dist.h); NULL:
                                    one process */
    const char *command;   /* the command line, for run.txt */
};

/* Makes the run: a fresh one in o->dir, or the one o->resume continues; opens its data
 * and, for a fresh run, writes run.txt. On failure *out is still set (or NULL when out of
 * memory) so that anet_run_refused can tell a refusal of the options from a failure; free
 * it with anet_run_free. Data paths are kept absolute, so that a run resumes from any
 * directory. */
enum anet_status anet_run_open(const struct anet_run_options *o,
                               const struct anet_run_callbacks *cb, struct anet_run **out);
/* 1 when the last failure was the options' fault (they contradict each other or the
 * checkpoint): what a tool reports as a usage error. */
int anet_run_refused(const struct anet_run *r);
/* 1 when the last failure was first another rank's (this one failed too, or only learned
 * of it): its message is that rank's to give. */
int anet_run_failed_elsewhere(const struct anet_run *r);

enum anet_run_end {
    ANET_RUN_DONE,     /* every epoch trained */
    ANET_RUN_MAX_ITER, /* max_iter reached (a checkpoint written) */
    ANET_RUN_STOPPED   /* stop() said so (a checkpoint written); anet_run_signal says why */
};
/* Trains to the end. A loss or weight that is not finite is ANET_ERR_DIVERGED, naming the
 * iteration and the last good checkpoint. */
enum anet_status anet_run_train(struct anet_run *r, enum anet_run_end *end);
int anet_run_signal(const struct anet_run *r);
/* The weights' checksum every rank agreed on at the last check (check_every); 0: none. */
uint64_t anet_run_checksum(const struct anet_run *r);

/* What the run is and where it stands. */
const struct anet_train_state *anet_run_state(const struct anet_run *r);
const struct anet_config *anet_run_config(const struct anet_run *r);
struct anet_model *anet_run_model(const struct anet_run *r);
const char *anet_run_dir(const struct anet_run *r);
const char *anet_run_last_checkpoint(const struct anet_run *r); /* NULL: none yet */
uint32_t anet_run_batches(const struct anet_run *r);           /* an epoch */
size_t anet_run_train_images(const struct anet_run *r);
int anet_run_validates(const struct anet_run *r);
void anet_run_free(struct anet_run *r);

#endif
