/* The training and evaluation loader: worker threads turn Datum records into batches of
 * cropped, mirrored, mean-subtracted, colour-jittered images (see alexnet/loader.h for the
 * formulas), ahead of the consumer, in a ring of `depth` slots.
 *
 * Sequence numbers. Batch `index` of epoch `e` is batch s = e · B + index of the run, with
 * B = ceil(N / batch) batches an epoch. Everything in a batch is a pure function of s (the
 * epoch's order, every draw of every image), so whichever worker fills it, the bytes are
 * the same: the number of threads and the depth change only the timing.
 *
 * The ring. Batch s lives in slot s mod depth. Workers claim sequence numbers in order,
 * each taking the next one as soon as its slot is free; a slot is freed when the consumer
 * asks for the batch after the one it holds, so the batch handed out stays valid until
 * then. The consumer waits for slot s mod depth to hold batch s in the READY state. Memory
 * is depth batches whatever the size of the database; waiting is on condition variables.
 *
 * Stopping. anet_loader_start and anet_loader_free raise `stop`, wake every worker and join
 * them; a worker looks at `stop` between images, so a stop waits for at most one image per
 * worker. The ring is then emptied and, for start, new workers begin at the new position.
 * anet_loader_next on a loader never started starts it at (0, 0). One thread (the
 * consumer) calls start, next and free; the record table is taken from anet_db_records
 * once, at open, on that thread.
 *
 * Errors. A record that fails (corrupt Datum or image, another shape, a negative label or
 * one beyond the classes)
 * makes its batch carry the status and a message naming the database and the key (the
 * per-thread detail of the worker is copied into the slot); anet_loader_next sets it as
 * the consumer's detail, stops the workers and keeps returning it until the next start. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "alexnet/image.h"
#include "alexnet/loader.h"
#include "alexnet/rng.h"

#define MSG_CAP 1024

enum slot_state { SLOT_EMPTY = 0, SLOT_FILLING, SLOT_READY, SLOT_HELD };

struct slot {
    enum slot_state state;
    uint64_t seq;               /* the batch it holds or is being filled with */
    float *x;                   /* batch × c × crop × crop (not in pixels mode) */
    uint8_t *pix;               /* pixels mode: batch × c × h × w, the records' pixels */
    struct anet_crop_draw *draws; /* pixels mode: batch × crops */
    int32_t *labels;            /* batch */
    uint32_t *recs;             /* batch: record positions */
    int n, first, total;        /* images [first, first + n) of a batch of total */
    enum anet_status status;    /* of the fill; msg explains a failure */
    char msg[MSG_CAP];
};

/* What a worker owns: the order of the epoch it last worked on and a decode buffer. */
struct worker {
    struct anet_loader *l;
    pthread_t tid;
    uint32_t *perm;             /* N record positions, the order of epoch perm_epoch */
    uint32_t perm_epoch;
    int perm_valid;
    uint8_t *pixels;            /* c × h × w: an encoded record decoded to BGR planes */
};

struct anet_loader {
    struct anet_db *db;
    const struct anet_db_record *recs;
    size_t count;               /* N records */
    struct anet_loader_config cfg;
    int c, h, w;
    uint32_t batches;           /* B = ceil(N / batch) */
    size_t image_floats;        /* c × crop × crop */
    int crops;                  /* 1 or 10 an image */
    long page;                  /* page size, for read-ahead */

    pthread_mutex_t mu;
    pthread_cond_t work_cv;     /* workers: a slot was freed, or stop */
    pthread_cond_t ready_cv;    /* consumer: a slot became READY */
    atomic_int stop;
    int running;                /* workers started (joined by stop_workers) */
    int depth;
    struct slot *slots;
    struct worker *workers;
    uint64_t next_claim;        /* the next batch a worker takes */
    uint64_t next_take;         /* the next batch anet_loader_next returns */
    struct slot *held;          /* the batch the consumer holds, or NULL */

    enum anet_status failed;    /* a batch failed: returned until the next start */
    char failed_msg[MSG_CAP];
};

/* ---- draws and the transformation -------------------------------------------------------- */

/* The caller keeps crop <= h and crop <= w (anet_loader_open checks it). */
void anet_loader_draw(const struct anet_loader_config *cfg, int h, int w, uint32_t epoch,
                      uint32_t rec, struct anet_crop_draw *d)
{
    uint64_t r = rec;
    if (cfg->random_crop) {
        d->x0 = (int)(anet_rng_u32(cfg->seed, epoch, ANET_RNG_CROP, 2 * r) %
                      (uint32_t)(w - cfg->crop + 1));
        d->y0 = (int)(anet_rng_u32(cfg->seed, epoch, ANET_RNG_CROP, 2 * r + 1) %
                      (uint32_t)(h - cfg->crop + 1));
    } else {
        d->x0 = (w - cfg->crop) / 2;
        d->y0 = (h - cfg->crop) / 2;
    }
    d->mirror = cfg->mirror && anet_rng_uniform(cfg->seed, epoch, ANET_RNG_FLIP, r) < 0.5f;
    /* noise_rgb = Σ_i α_i λ_i p_i, RGB, 0..1 units (λ, p from the stats file) */
    double noise[3] = {0, 0, 0};
    if (cfg->color_sigma > 0 && cfg->stats) {
        for (int i = 0; i < 3; i++) {
            float alpha = cfg->color_sigma *
                          anet_rng_normal(cfg->seed, epoch, ANET_RNG_COLOR, 3 * r + (uint64_t)i);
            for (int k = 0; k < 3; k++)
                noise[k] += (double)alpha * cfg->stats->eigval[i] * cfg->stats->eigvec[i][k];
        }
    }
    for (int k = 0; k < 3; k++) d->noise_rgb[k] = (float)noise[k];
}

void anet_loader_test_crop(int crop, int h, int w, int k, struct anet_crop_draw *d)
{
    static const int corner_x[5] = {-1, 0, 1, 0, 1}, corner_y[5] = {-1, 0, 0, 1, 1};
    int b = k % 5;
    d->x0 = corner_x[b] < 0 ? (w - crop) / 2 : corner_x[b] * (w - crop);
    d->y0 = corner_y[b] < 0 ? (h - crop) / 2 : corner_y[b] * (h - crop);
    d->mirror = k >= 5;
    d->noise_rgb[0] = d->noise_rgb[1] = d->noise_rgb[2] = 0;
}

/* src: c × h × w uint8 (B, G, R); out: c × crop × crop floats (anet_cpu_augment_image). */
void anet_loader_transform(const struct anet_loader_config *cfg, const uint8_t *src, int c,
                           int h, int w, const struct anet_crop_draw *d, float *out)
{
    anet_cpu_augment_image(c, h, w, cfg->crop, src, cfg->mean, d, out);
}

/* ---- opening -------------------------------------------------------------------------- */

/* The shape of a record: raw CHW, or an encoded image decoded here (c = 3). */
static enum anet_status record_shape(const struct anet_db_record *r, int *c, int *h, int *w)
{
    struct anet_datum d;
    enum anet_status s = anet_datum_decode(r->val, r->val_len, &d);
    if (s) return s;
    if (!d.encoded) {
        *c = d.channels, *h = d.height, *w = d.width;
        return ANET_OK;
    }
    struct anet_image im;
    if ((s = anet_image_decode(d.data, d.data_len, 0, &im))) return s;
    *c = 3, *h = im.h, *w = im.w;
    anet_image_free(&im);
    return ANET_OK;
}

static enum anet_status check_config(const char *path, const struct anet_loader_config *cfg)
{
    if (cfg->batch < 1)
        return anet_fail(ANET_ERR_INVALID, "'%s': batch must be >= 1, got %d", path, cfg->batch);
    if (cfg->crop < 1)
        return anet_fail(ANET_ERR_INVALID, "'%s': crop must be >= 1, got %d", path, cfg->crop);
    if (cfg->threads < 1)
        return anet_fail(ANET_ERR_INVALID, "'%s': threads must be >= 1, got %d", path,
                         cfg->threads);
    if (cfg->shards < 0 || (cfg->shards > 1 && (cfg->shard < 0 || cfg->shard >= cfg->shards)))
        return anet_fail(ANET_ERR_INVALID, "'%s': share %d of %d", path, cfg->shard,
                         cfg->shards);
    if (cfg->depth < 0)
        return anet_fail(ANET_ERR_INVALID, "'%s': depth must be >= 0, got %d", path, cfg->depth);
    if (!(cfg->color_sigma >= 0) || isinf(cfg->color_sigma))
        return anet_fail(ANET_ERR_INVALID, "'%s': colour noise sigma must be >= 0, got %g", path,
                         (double)cfg->color_sigma);
    if (cfg->crops != 0 && cfg->crops != 1 && cfg->crops != 10)
        return anet_fail(ANET_ERR_INVALID, "'%s': crops must be 1 or 10, got %d", path,
                         cfg->crops);
    if (cfg->crops == 10 && (cfg->random_crop || cfg->mirror || cfg->color_sigma > 0))
        return anet_fail(ANET_ERR_INVALID, "'%s': ten crops are for testing: random crops, "
                         "mirrors and colour noise must be off", path);
    if (cfg->color_sigma > 0 && !cfg->stats)
        return anet_fail(ANET_ERR_INVALID,
                         "'%s': colour noise (sigma %g) needs the colour statistics", path,
                         (double)cfg->color_sigma);
    return ANET_OK;
}

/* The first record fixes c, h, w; the crop and the mean image must fit it. */
static enum anet_status check_shape(struct anet_loader *l)
{
    const char *path = anet_db_path(l->db);
    const struct anet_db_record *r = &l->recs[0];
    enum anet_status s = record_shape(r, &l->c, &l->h, &l->w);
    if (s) {
        char why[MSG_CAP]; /* the detail is the buffer anet_fail writes */
        snprintf(why, sizeof why, "%s", anet_error_detail());
        return anet_fail(s, "'%s': record %.*s: %s", path, (int)r->key_len, r->key, why);
    }
    if (l->c != 3)
        return anet_fail(ANET_ERR_FORMAT, "'%s': record %.*s: images have %d channels, not 3",
                         path, (int)r->key_len, r->key, l->c);
    if (l->cfg.crop > l->h || l->cfg.crop > l->w)
        return anet_fail(ANET_ERR_INVALID, "'%s': crop %d is larger than the images (%dx%d)",
                         path, l->cfg.crop, l->h, l->w);
    const struct anet_loader_config *cfg = &l->cfg;
    if (cfg->mean && (cfg->mean_c != l->c || cfg->mean_h != l->h || cfg->mean_w != l->w))
        return anet_fail(ANET_ERR_INVALID, "'%s': images are %dx%dx%d but the mean image is %dx%dx%d",
                         path, l->c, l->h, l->w, cfg->mean_c, cfg->mean_h, cfg->mean_w);
    return ANET_OK;
}

static void *host_alloc(const struct anet_loader *l, size_t bytes)
{
    return l->cfg.host_alloc ? l->cfg.host_alloc(l->cfg.host_ctx, bytes) : malloc(bytes);
}

static void host_free(const struct anet_loader *l, void *p)
{
    if (!p) return;
    if (l->cfg.host_free) l->cfg.host_free(l->cfg.host_ctx, p);
    else free(p);
}

static enum anet_status alloc_ring(struct anet_loader *l)
{
    const char *path = anet_db_path(l->db);
    size_t b = (size_t)l->cfg.batch;
    l->slots = calloc((size_t)l->depth, sizeof *l->slots);
    l->workers = calloc((size_t)l->cfg.threads, sizeof *l->workers);
    int ok = l->slots && l->workers;
    for (int i = 0; ok && i < l->depth; i++) {
        struct slot *sl = &l->slots[i];
        if (l->cfg.pixels)
            ok = (sl->pix = host_alloc(l, b * (size_t)l->c * l->h * l->w)) &&
                 (sl->draws = malloc(b * (size_t)l->crops * sizeof *sl->draws));
        else
            ok = (sl->x = malloc(b * (size_t)l->crops * l->image_floats * sizeof *sl->x)) != NULL;
        ok = ok && (sl->labels = malloc(b * sizeof *sl->labels)) &&
             (sl->recs = malloc(b * sizeof *sl->recs));
    }
    for (int i = 0; ok && i < l->cfg.threads; i++) {
        struct worker *wk = &l->workers[i];
        wk->l = l;
        ok = (wk->perm = malloc(l->count * sizeof *wk->perm)) &&
             (wk->pixels = malloc((size_t)l->c * l->h * l->w));
    }
    if (!ok)
        return anet_fail(ANET_ERR_NOMEM, "'%s': out of memory for %d batches of %d images of "
                         "%dx%dx%d", path, l->depth, l->cfg.batch, l->c, l->cfg.crop, l->cfg.crop);
    return ANET_OK;
}

static void free_ring(struct anet_loader *l)
{
    for (int i = 0; l->slots && i < l->depth; i++)
        free(l->slots[i].x), free(l->slots[i].labels), free(l->slots[i].recs),
            host_free(l, l->slots[i].pix), free(l->slots[i].draws);
    for (int i = 0; l->workers && i < l->cfg.threads; i++)
        free(l->workers[i].perm), free(l->workers[i].pixels);
    free(l->slots), free(l->workers);
}

/* The loader's lock and conditions; on failure nothing is left to destroy. */
static enum anet_status init_sync(struct anet_loader *l)
{
    if (pthread_mutex_init(&l->mu, NULL)) goto fail;
    if (pthread_cond_init(&l->work_cv, NULL)) goto fail_mu;
    if (pthread_cond_init(&l->ready_cv, NULL)) goto fail_work;
    return ANET_OK;
fail_work:
    pthread_cond_destroy(&l->work_cv);
fail_mu:
    pthread_mutex_destroy(&l->mu);
fail:
    return anet_fail(ANET_ERR_NOMEM, "'%s': cannot create the loader's locks",
                     anet_db_path(l->db));
}

/* Everything open needs but the threads; on failure the caller frees what was made. */
static enum anet_status loader_init(struct anet_loader *l)
{
    const char *path = anet_db_path(l->db);
    const struct anet_loader_config *cfg = &l->cfg;
    enum anet_status s = anet_db_records(l->db, &l->recs, &l->count);
    if (s) return s;
    if (l->count == 0) return anet_fail(ANET_ERR_INVALID, "'%s': the database is empty", path);
    if (l->count > UINT32_MAX)
        return anet_fail(ANET_ERR_UNSUPPORTED, "'%s': %zu records; at most %u are supported",
                         path, l->count, UINT32_MAX);
    if ((s = check_shape(l))) return s;
    l->batches = (uint32_t)((l->count + (size_t)cfg->batch - 1) / (size_t)cfg->batch);
    l->image_floats = (size_t)l->c * cfg->crop * cfg->crop;
    l->crops = cfg->crops == 10 ? 10 : 1;
    l->depth = cfg->depth ? cfg->depth : cfg->threads + 1;
    long page = sysconf(_SC_PAGESIZE);
    l->page = page > 0 ? page : 4096;
    return alloc_ring(l);
}

enum anet_status anet_loader_open(struct anet_db *db, const struct anet_loader_config *cfg,
                                  struct anet_loader **out)
{
    *out = NULL;
    const char *path = anet_db_path(db);
    enum anet_status s = check_config(path, cfg);
    if (s) return s;
    struct anet_loader *l = calloc(1, sizeof *l);
    if (!l) return anet_fail(ANET_ERR_NOMEM, "out of memory opening a loader on '%s'", path);
    l->db = db;
    l->cfg = *cfg;
    if ((s = loader_init(l)) || (s = init_sync(l))) {
        free_ring(l);
        free(l);
        return s;
    }
    *out = l;
    return ANET_OK;
}

size_t anet_loader_count(const struct anet_loader *l) { return l->count; }
uint32_t anet_loader_batches(const struct anet_loader *l) { return l->batches; }
int anet_loader_channels(const struct anet_loader *l) { return l->c; }
int anet_loader_height(const struct anet_loader *l) { return l->h; }
int anet_loader_width(const struct anet_loader *l) { return l->w; }

/* ---- filling a batch (worker threads) ---------------------------------------------------- */

/* Fisher-Yates: for i = N−1 … 1, j = u32(seed, e, SHUFFLE, i) mod (i + 1), swap. */
static void epoch_order(const struct anet_loader *l, uint32_t epoch, uint32_t *perm)
{
    uint32_t n = (uint32_t)l->count;
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    if (!l->cfg.shuffle) return;
    for (uint32_t i = n - 1; i >= 1; i--) {
        uint32_t j = anet_rng_u32(l->cfg.seed, epoch, ANET_RNG_SHUFFLE, i) % (i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

static const uint32_t *worker_order(struct worker *wk, uint32_t epoch)
{
    if (!wk->perm_valid || wk->perm_epoch != epoch) {
        epoch_order(wk->l, epoch, wk->perm);
        wk->perm_epoch = epoch, wk->perm_valid = 1;
    }
    return wk->perm;
}

/* Read-ahead: asks the kernel for the pages of the batch's values (a hint; errors are of
 * no consequence). */
static void read_ahead(const struct anet_loader *l, const uint32_t *recs, int n)
{
    uintptr_t mask = (uintptr_t)l->page - 1;
    for (int i = 0; i < n; i++) {
        const struct anet_db_record *r = &l->recs[recs[i]];
        uintptr_t a = (uintptr_t)r->val & ~mask, e = (uintptr_t)r->val + r->val_len;
        (void)posix_madvise((void *)a, e - a, POSIX_MADV_WILLNEED);
    }
}

/* The pixels of one record as c × h × w uint8 (B, G, R): the record's own bytes for a raw
 * Datum, the worker's buffer for an encoded one. Failures set this thread's detail. */
static enum anet_status record_pixels(struct worker *wk, const struct anet_db_record *r,
                                      const uint8_t **pixels, int32_t *label)
{
    const struct anet_loader *l = wk->l;
    struct anet_datum d;
    enum anet_status s = anet_datum_decode(r->val, r->val_len, &d);
    if (s) return s;
    if (d.label < 0) return anet_fail(ANET_ERR_FORMAT, "label %d is negative", (int)d.label);
    if (l->cfg.classes > 0 && d.label >= l->cfg.classes)
        return anet_fail(ANET_ERR_FORMAT, "label %d is out of range for %d classes",
                         (int)d.label, l->cfg.classes);
    *label = d.label;
    if (!d.encoded) {
        if (d.channels != l->c || d.height != l->h || d.width != l->w)
            return anet_fail(ANET_ERR_FORMAT, "image is %dx%dx%d, not %dx%dx%d as the first "
                             "record", d.channels, d.height, d.width, l->c, l->h, l->w);
        *pixels = d.data;
        return ANET_OK;
    }
    struct anet_image im;
    if ((s = anet_image_decode(d.data, d.data_len, 0, &im))) return s;
    if (im.h != l->h || im.w != l->w || l->c != 3) {
        s = anet_fail(ANET_ERR_FORMAT, "image is 3x%dx%d, not %dx%dx%d as the first record",
                      im.h, im.w, l->c, l->h, l->w);
    } else {
        anet_image_to_bgr_planes(&im, wk->pixels);
        *pixels = wk->pixels;
    }
    anet_image_free(&im);
    return s;
}

/* Fills slot sl with batch seq; returns early (with the slot's status unset) on stop. */
static void fill_batch(struct worker *wk, struct slot *sl, uint64_t seq)
{
    struct anet_loader *l = wk->l;
    const struct anet_loader_config *cfg = &l->cfg;
    uint32_t epoch = (uint32_t)(seq / l->batches), index = (uint32_t)(seq % l->batches);
    size_t first = (size_t)index * (size_t)cfg->batch;
    size_t last = first + (size_t)cfg->batch < l->count ? first + (size_t)cfg->batch : l->count;
    const uint32_t *order = worker_order(wk, epoch);
    size_t total = last - first, shards = cfg->shards > 1 ? (size_t)cfg->shards : 1;
    size_t from = total * (size_t)cfg->shard / shards, to = total * (size_t)(cfg->shard + 1) / shards;
    sl->first = (int)from, sl->total = (int)total;
    first += from, last = first + (to - from);
    sl->n = (int)(last - first);
    sl->status = ANET_OK;
    for (int i = 0; i < sl->n; i++) sl->recs[i] = order[first + (size_t)i];
    read_ahead(l, sl->recs, sl->n);
    for (int i = 0; i < sl->n; i++) {
        if (atomic_load_explicit(&l->stop, memory_order_relaxed)) return;
        const struct anet_db_record *r = &l->recs[sl->recs[i]];
        const uint8_t *pixels = NULL;
        enum anet_status s = record_pixels(wk, r, &pixels, &sl->labels[i]);
        if (s) {
            sl->status = s;
            snprintf(sl->msg, sizeof sl->msg, "'%s': record %.*s: %s", anet_db_path(l->db),
                     (int)r->key_len, r->key, anet_error_detail());
            return;
        }
        struct anet_crop_draw d;
        if (cfg->pixels) { /* the GPU transforms them: hand over the pixels and the draws */
            size_t chw = (size_t)l->c * l->h * l->w;
            memcpy(sl->pix + (size_t)i * chw, pixels, chw);
            struct anet_crop_draw *di = sl->draws + (size_t)i * l->crops;
            if (l->crops == 1) anet_loader_draw(cfg, l->h, l->w, epoch, sl->recs[i], di);
            else
                for (int k = 0; k < l->crops; k++) anet_loader_test_crop(cfg->crop, l->h, l->w, k, &di[k]);
            continue;
        }
        float *x = sl->x + (size_t)i * (size_t)l->crops * l->image_floats;
        if (l->crops == 1) {
            anet_loader_draw(cfg, l->h, l->w, epoch, sl->recs[i], &d);
            anet_loader_transform(cfg, pixels, l->c, l->h, l->w, &d, x);
            continue;
        }
        for (int k = 0; k < l->crops; k++, x += l->image_floats) {
            anet_loader_test_crop(cfg->crop, l->h, l->w, k, &d);
            anet_loader_transform(cfg, pixels, l->c, l->h, l->w, &d, x);
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct anet_loader *l = wk->l;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        struct slot *sl = &l->slots[l->next_claim % (uint64_t)l->depth];
        while (!atomic_load(&l->stop) && sl->state != SLOT_EMPTY) {
            pthread_cond_wait(&l->work_cv, &l->mu);
            sl = &l->slots[l->next_claim % (uint64_t)l->depth];
        }
        if (atomic_load(&l->stop)) break;
        uint64_t seq = l->next_claim++;
        sl->state = SLOT_FILLING;
        sl->seq = seq;
        pthread_mutex_unlock(&l->mu);
        fill_batch(wk, sl, seq);
        pthread_mutex_lock(&l->mu);
        sl->state = SLOT_READY;
        pthread_cond_signal(&l->ready_cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- starting, stopping, consuming ------------------------------------------------------ */

static void stop_workers(struct anet_loader *l)
{
    if (!l->running) return;
    pthread_mutex_lock(&l->mu);
    atomic_store(&l->stop, 1);
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->running; i++) pthread_join(l->workers[i].tid, NULL);
    l->running = 0;
}

enum anet_status anet_loader_start(struct anet_loader *l, uint32_t epoch, uint32_t index)
{
    const char *path = anet_db_path(l->db);
    if (index >= l->batches)
        return anet_fail(ANET_ERR_INVALID, "'%s': batch %u of an epoch of %u batches", path,
                         index, l->batches);
    stop_workers(l);
    for (int i = 0; i < l->depth; i++) l->slots[i].state = SLOT_EMPTY;
    l->held = NULL;
    l->failed = ANET_OK;
    l->next_claim = l->next_take = (uint64_t)epoch * l->batches + index;
    atomic_store(&l->stop, 0);
    for (int i = 0; i < l->cfg.threads; i++, l->running++) {
        int e = pthread_create(&l->workers[i].tid, NULL, worker_main, &l->workers[i]);
        if (e) {
            stop_workers(l);
            return anet_fail(ANET_ERR_NOMEM, "'%s': cannot start loader thread %d: %s", path, i,
                             strerror(e));
        }
    }
    return ANET_OK;
}

enum anet_status anet_loader_next(struct anet_loader *l, struct anet_batch *out)
{
    memset(out, 0, sizeof *out);
    if (l->failed) return anet_fail(l->failed, "%s", l->failed_msg);
    if (!l->running) {
        enum anet_status s = anet_loader_start(l, 0, 0);
        if (s) return s;
    }
    pthread_mutex_lock(&l->mu);
    if (l->held) {
        l->held->state = SLOT_EMPTY;
        l->held = NULL;
        pthread_cond_signal(&l->work_cv);
    }
    uint64_t seq = l->next_take;
    struct slot *sl = &l->slots[seq % (uint64_t)l->depth];
    while (!(sl->state == SLOT_READY && sl->seq == seq)) pthread_cond_wait(&l->ready_cv, &l->mu);
    sl->state = SLOT_HELD;
    l->held = sl;
    l->next_take++;
    pthread_mutex_unlock(&l->mu);
    if (sl->status) {
        l->failed = sl->status;
        snprintf(l->failed_msg, sizeof l->failed_msg, "%s", sl->msg);
        stop_workers(l);
        return anet_fail(l->failed, "%s", l->failed_msg);
    }
    *out = (struct anet_batch){.n = sl->n, .first = sl->first, .total = sl->total,
                               .crops = l->crops, .x = sl->x, .pixels = sl->pix,
                               .draws = sl->draws, .labels = sl->labels, .recs = sl->recs,
                               .epoch = (uint32_t)(seq / l->batches),
                               .index = (uint32_t)(seq % l->batches)};
    return ANET_OK;
}

void anet_loader_free(struct anet_loader *l)
{
    if (!l) return;
    stop_workers(l);
    pthread_cond_destroy(&l->ready_cv);
    pthread_cond_destroy(&l->work_cv);
    pthread_mutex_destroy(&l->mu);
    free_ring(l);
    free(l);
}
