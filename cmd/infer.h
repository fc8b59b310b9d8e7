/* What alexnet-eval and alexnet-predict share: loading the models of an ensemble and
 * checking that they agree, and reading the mean image. */
#ifndef ANET_INFER_H
#define ANET_INFER_H

#include "alexnet/data.h"
#include "alexnet/model.h"

struct infer_models {
    int count;
    struct anet_model **m;
    const char **paths;
    struct anet_classes classes; /* the first model's table that has one; count 0: none */
    const char *classes_from;    /* which checkpoint it came from */
    int num_classes, crop, channels;
};

/* Loads every checkpoint for batches of up to max_batch images, placed where `where`
 * says. Refuses, naming both files, models that disagree on the class table, the number
 * of classes or the input. Prints the error and returns -1 on failure. */
int infer_load_models(const char **paths, int count, int max_batch,
                      const struct anet_placement *where,
                      struct infer_models *out);
void infer_free_models(struct infer_models *im);

/* DIR/mean.binaryproto; prints the error and returns -1 on failure. */
int infer_read_mean(const char *dir, float **mean, int *c, int *h, int *w);

/* The name of class i: its WNID, or its index when the models have no class table. */
const char *infer_wnid(const struct infer_models *im, int i, char buf[16]);
const char *infer_words(const struct infer_models *im, int i);

#endif
