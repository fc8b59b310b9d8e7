/* Batches to where a model computes (alexnet/model.h, "feeding batches"). A loader's float
 * batch is staged (used in place on the CPU); a batch of pixels goes up with its draws and
 * is augmented by the backend (anet_cpu_augment or its GPU twin). */
#include <stdlib.h>
#include <string.h>
#include "alexnet/loader.h"
#include "alexnet/model.h"
#include "feed.h"

struct anet_feed {
    struct anet_backend *be;
    int lane;                     /* part 0's lane of the models it feeds */
    int c, h, w, crop, images, crops;
    size_t img;                   /* floats a crop: c × crop × crop */
    uint8_t *pix;                 /* images × c × h × w */
    struct anet_crop_draw *draws; /* images × crops */
    float *mean;                  /* c × h × w, or NULL */
    float *x;                     /* images × crops × c × crop × crop */
    const float *cur;             /* the batch put last */
    int cur_n;                    /* its crops */
};

static void *loader_host_alloc(void *ctx, size_t bytes)
{
    struct anet_backend *be = ctx;
    return be->ops->host_alloc(be, bytes);
}

static void loader_host_free(void *ctx, void *p)
{
    struct anet_backend *be = ctx;
    be->ops->host_free(be, p);
}

void anet_feed_loader_config(struct anet_backend *be, struct anet_loader_config *lc)
{
    lc->pixels = be->feed_pixels;
    if (!be->feed_pixels) return;
    lc->host_alloc = loader_host_alloc;
    lc->host_free = loader_host_free;
    lc->host_ctx = be;
}

void anet_feed_free(struct anet_feed *f)
{
    if (!f) return;
    struct anet_backend *be = f->be;
    be->ops->use(be, f->lane);
    be->ops->free(be, f->pix), be->ops->free(be, f->draws), be->ops->free(be, f->mean);
    be->ops->free(be, f->x);
    free(f);
}

enum anet_status anet_feed_open(const struct anet_model *m, const float *mean, int c, int h,
                                int w, int images, int crops, struct anet_feed **out)
{
    *out = NULL;
    const struct anet_config *cfg = anet_model_config(m);
    if (c != cfg->channels || h < cfg->crop || w < cfg->crop || images < 1 || crops < 1)
        return anet_fail(ANET_ERR_INVALID, "a feed of %d images of %dx%dx%d, %d crops each, "
                         "cannot make the model's %dx%dx%d input", images, c, h, w, crops,
                         cfg->channels, cfg->crop, cfg->crop);
    struct anet_feed *f = calloc(1, sizeof *f);
    if (!f) return anet_fail(ANET_ERR_NOMEM, "out of memory for a feed");
    const struct anet_placement *where = anet_model_placement(m);
    struct anet_backend *be = where->backend;
    f->be = be, f->lane = where->lane[0];
    f->c = c, f->h = h, f->w = w, f->crop = cfg->crop, f->images = images, f->crops = crops;
    f->img = (size_t)c * cfg->crop * cfg->crop;
    size_t chw = (size_t)c * h * w;
    be->ops->use(be, f->lane);
    f->pix = be->ops->alloc(be, (size_t)images * chw);
    f->draws = be->ops->alloc(be, (size_t)images * crops * sizeof *f->draws);
    if (mean && (f->mean = be->ops->alloc(be, chw * sizeof *f->mean)))
        be->ops->upload(be, f->mean, mean, chw * sizeof *f->mean);
    f->x = be->ops->alloc(be, (size_t)images * crops * f->img * sizeof *f->x);
    enum anet_status s = be->ops->error(be);
    if (!s && (!f->pix || !f->draws || (mean && !f->mean) || !f->x))
        s = anet_fail(ANET_ERR_NOMEM, "out of memory for the buffers of a feed of %d images",
                      images);
    if (s) return anet_feed_free(f), s;
    *out = f;
    return ANET_OK;
}

enum anet_status anet_feed_put(struct anet_feed *f, const struct anet_batch *b)
{
    struct anet_backend *be = f->be;
    int crops = b->crops > 1 ? b->crops : 1;
    f->cur = NULL, f->cur_n = 0;
    if (b->n < 1 || b->n > f->images || crops != f->crops)
        return anet_fail(ANET_ERR_INVALID, "a batch of %d images of %d crops for a feed of %d "
                         "images of %d", b->n, crops, f->images, f->crops);
    int n = b->n * crops;
    be->ops->use(be, f->lane);
    if (b->x) { /* floats, cut already: the backend reads them where they are or a copy */
        f->cur = be->ops->stage(be, b->x, (size_t)n * f->img * sizeof(float));
    } else {
        be->ops->upload(be, f->pix, b->pixels, (size_t)b->n * f->c * f->h * f->w);
        be->ops->upload(be, f->draws, b->draws, (size_t)n * sizeof *f->draws);
        be->ops->augment(be, n, crops, f->c, f->h, f->w, f->crop, f->pix, f->mean, f->draws,
                         f->x);
        f->cur = f->x;
    }
    enum anet_status s = be->ops->error(be);
    if (s || !f->cur) return f->cur = NULL, s ? s : anet_fail(ANET_ERR_INTERNAL, "feed: no batch");
    f->cur_n = n;
    return ANET_OK;
}

enum anet_status anet_feed_images(const struct anet_feed *f, const struct anet_model *m,
                                  int first, int n, const float **x)
{
    const struct anet_placement *where = anet_model_placement(m);
    if (where->backend != f->be || where->lane[0] != f->lane)
        return anet_fail(ANET_ERR_INVALID, "the feed serves models on another backend or lane");
    if (!f->cur || first < 0 || n < 1 || first + n > f->cur_n)
        return anet_fail(ANET_ERR_INVALID, "images %d..%d of a feed holding %d", first,
                         first + n - 1, f->cur_n);
    *x = f->cur + (size_t)first * f->img;
    return ANET_OK;
}
