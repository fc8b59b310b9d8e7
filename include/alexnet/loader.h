/* Batches for training and evaluation, read from a database of Datum records.
 *
 * The paper's data path (§2, §4.1): images stored at 256 × 256; training takes a random
 * crop × crop patch (227) and mirrors it with probability 1/2, adds PCA colour noise
 * Σ α_i λ_i p_i with α_i ~ N(0, σ = 0.1) drawn once per image per use, and subtracts the
 * mean image; validation takes the central patch with no noise. Every draw comes from the
 * counter-based RNG, keyed by the record's position r in the database (key order) and the
 * epoch e, so a batch is the same whatever the number of threads or where a run resumed:
 *   order of epoch e    Fisher-Yates with j = u32(seed, e, SHUFFLE, i) mod (i + 1),
 *                       i = N−1 … 1 (identity order when shuffle is off)
 *   crop offset         x0 = u32(seed, e, CROP, 2r) mod (W − crop + 1),
 *                       y0 = u32(seed, e, CROP, 2r + 1) mod (H − crop + 1)
 *   mirror              uniform(seed, e, FLIP, r) < 0.5
 *   colour noise        α_i = σ · normal(seed, e, COLOR, 3r + i), i = 0, 1, 2
 * Pixel (c, y, x) of the output is, with source column sx = x0 + (mirror ? crop−1−x : x):
 *   src[c][y0+y][sx] − mean[c][y0+y][sx] + 255 · noise_rgb[2 − c]        (B, G, R planes)
 * i.e. the mean image is subtracted where the pixel came from, before mirroring, and the
 * noise (RGB, scale 0..1 as the stats file gives λ and p) is added in 0..255 units.
 *
 * Worker threads prepare whole batches ahead of the consumer in a ring of `depth` slots
 * (double buffering and more); memory is bounded by depth batches whatever the size of
 * the database. Records may be raw (CHW uint8, BGR) or encoded (JPEG/PNG, decoded here);
 * every record must have the shape of the first one and of the mean image. */
#ifndef ANET_LOADER_H
#define ANET_LOADER_H

#include <stdint.h>
#include "data.h"
#include "ops.h"
#include "stats.h"
#include "status.h"

struct anet_loader_config {
    int batch;            /* images a batch; the last batch of an epoch may be smaller */
    int crop;             /* output side (227); <= the records' height and width */
    int shuffle;          /* a fresh random order each epoch; 0: key order */
    int random_crop;      /* 1: random position; 0: the central patch (offset (W−crop)/2) */
    int mirror;           /* 1: mirror with probability 1/2 */
    float color_sigma;    /* σ of the α_i (0.1); 0: no colour noise */
    uint64_t seed;
    const float *mean;    /* channels × H × W (B, G, R, 0..255) as the records; NULL: none */
    int mean_c, mean_h, mean_w;
    const struct anet_stats *stats; /* eigval, eigvec; needed when color_sigma > 0 */
    int crops;            /* 1 (or 0): one crop an image, as above; 10: the paper's test-time
                             ten (anet_loader_test_crop), with random_crop, mirror and
                             colour noise off */
    int classes;          /* labels must be below this (the network's outputs); 0: any */
    int shards, shard;    /* data parallelism: of each batch of the epoch (its order and every
                             draw as with one process), this process takes only images
                             [shard·n/shards, (shard+1)·n/shards), n the batch's size;
                             shards 0 or 1: the whole batch */
    int threads;          /* worker threads, >= 1 */
    int depth;            /* batches in the ring, >= 1; 0: threads + 1 */
    int pixels;           /* 1: batches carry each record's pixels and its draws instead of
                             x, for a GPU that applies the transformation itself
                             (a backend's augment, alexnet/backend.h): 5x fewer bytes to copy than floats */
    void *(*host_alloc)(void *ctx, size_t bytes); /* for the pixel buffers (e.g. pinned */
    void (*host_free)(void *ctx, void *p);        /* memory for fast copies to a GPU, */
    void *host_ctx;                               /* anet_feed_loader_config); NULL:
                                                     malloc and free */
};

/* One prepared batch. x and labels stay valid until the next anet_loader_next. */
struct anet_batch {
    int n;                /* images in this batch (this process's share of it) */
    int first, total;     /* the share: images [first, first + n) of a batch of total */
    int crops;            /* crops an image: 1 or 10 */
    float *x;             /* n × crops × channels × crop × crop: an image's crops together
                             (NULL in pixels mode) */
    const uint8_t *pixels;  /* pixels mode: n × channels × height × width (B, G, R) */
    const struct anet_crop_draw *draws; /* pixels mode: n × crops, what to cut of each */
    int32_t *labels;      /* n */
    const uint32_t *recs; /* n: position of each image's record in the database */
    uint32_t epoch;       /* which epoch, from 0 */
    uint32_t index;       /* which batch of the epoch, from 0 */
};

struct anet_loader;
/* Checks the first record (its shape, raw or encoded) against the crop and the mean image
 * and fails with a detail naming the database and what does not fit (an empty database,
 * a crop larger than the images, a mean image of another size, colour noise without
 * stats, ...). Starts no thread yet. db must outlive the loader. */
enum anet_status anet_loader_open(struct anet_db *db, const struct anet_loader_config *cfg,
                                  struct anet_loader **out);
void anet_loader_free(struct anet_loader *l);
size_t anet_loader_count(const struct anet_loader *l);           /* records */
uint32_t anet_loader_batches(const struct anet_loader *l);       /* a epoch: ceil(N / batch) */
int anet_loader_channels(const struct anet_loader *l);
int anet_loader_height(const struct anet_loader *l);
int anet_loader_width(const struct anet_loader *l);

/* (Re)starts production at batch `index` of epoch `epoch`; batches then follow one
 * another through the epochs without end. Any batches prepared before are dropped. */
enum anet_status anet_loader_start(struct anet_loader *l, uint32_t epoch, uint32_t index);
/* Waits for the next batch. A record that cannot be decoded, has another shape or a
 * label < 0 or >= classes is ANET_ERR_FORMAT with a detail naming the database and the record's key;
 * the loader must then be started again or freed. */
enum anet_status anet_loader_next(struct anet_loader *l, struct anet_batch *out);

/* Crop k (0..9) of the paper's ten (§4.1: "the four corner patches and the center patch
 * as well as their horizontal reflections"): k = 0 the centre ((w − crop)/2, (h − crop)/2),
 * 1 top left (0, 0), 2 top right (w − crop, 0), 3 bottom left (0, h − crop), 4 bottom right
 * (w − crop, h − crop); k + 5 the mirror of crop k. No colour noise. */
void anet_loader_test_crop(int crop, int h, int w, int k, struct anet_crop_draw *d);

/* The transformation of one image, as the workers apply it (exposed for tests):
 * src is c × h × w uint8 (B, G, R planes); out is c × crop × crop. */
void anet_loader_draw(const struct anet_loader_config *cfg, int h, int w, uint32_t epoch,
                      uint32_t rec, struct anet_crop_draw *d);
void anet_loader_transform(const struct anet_loader_config *cfg, const uint8_t *src, int c,
                           int h, int w, const struct anet_crop_draw *d, float *out);

#endif
