/* Inference, the one entry point of alexnet-eval, alexnet-predict and alexnet-features: an
 * ensemble of checkpoints placed on a backend, which turns a batch of images into class
 * probabilities averaged over each image's crops (§4.1: "averaging the predictions made by
 * the network's softmax layer on the ten patches") and over the networks (§6: "averaging
 * the predictions of five similar CNNs"), or into a layer's activations (features). */
#ifndef ANET_INFER_H
#define ANET_INFER_H

#include "data.h"
#include "loader.h"
#include "model.h"

struct anet_ensemble;

/* Loads every checkpoint for forward passes of up to max_batch images, placed where
 * `where` says. Refuses, naming both files, checkpoints that disagree on the class table,
 * the number of classes or the input. */
enum anet_status anet_ensemble_load(const char *const *paths, int count, int max_batch,
                                    const struct anet_placement *where,
                                    struct anet_ensemble **out);
void anet_ensemble_free(struct anet_ensemble *e);
int anet_ensemble_count(const struct anet_ensemble *e);
struct anet_model *anet_ensemble_model(const struct anet_ensemble *e, int i);
int anet_ensemble_classes(const struct anet_ensemble *e); /* outputs */
int anet_ensemble_crop(const struct anet_ensemble *e);
int anet_ensemble_channels(const struct anet_ensemble *e);
/* The first checkpoint's class table that has one (count 0: none), and which file. */
const struct anet_classes *anet_ensemble_table(const struct anet_ensemble *e);
const char *anet_ensemble_table_from(const struct anet_ensemble *e);
/* The name of class i: its WNID, or its index when there is no class table; its words
 * ("" when none). */
const char *anet_ensemble_wnid(const struct anet_ensemble *e, int i, char buf[16]);
const char *anet_ensemble_words(const struct anet_ensemble *e, int i);

/* A feed for the ensemble's batches (anet_feed_open on its first model). */
enum anet_status anet_ensemble_feed(const struct anet_ensemble *e, const float *mean, int c,
                                    int h, int w, int images, int crops,
                                    struct anet_feed **out);
/* prob (b->n × classes, host) = the softmax outputs of batch b's images averaged over their
 * b->crops crops, then over the models. Each model's crop average is computed on its own
 * and the models' are summed and divided by their count, so an ensemble of a model with
 * itself gives the model's own numbers. The forward passes (test mode: no dropout) run in
 * pieces of at most the max batch. */
enum anet_status anet_ensemble_classify(struct anet_ensemble *e, struct anet_feed *f,
                                        const struct anet_batch *b, float *prob);

/* Features, for alexnet-features: out (b->n × c × h × w, host) = blob's activations
 * (anet_model_blob) in model i's forward passes of batch b's images, averaged over their
 * b->crops crops (one crop: exactly the activations). The same crops and forward passes
 * (test mode) as anet_ensemble_classify: what the model computes inside eval. */
enum anet_status anet_ensemble_features(struct anet_ensemble *e, int i, struct anet_feed *f,
                                        const struct anet_batch *b,
                                        const struct anet_named_blob *blob, float *out);

#endif
