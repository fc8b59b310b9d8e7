/* Batches to the GPU: see feed.h. */
#include <string.h>
#include "alexnet/cuda.h"
#include "cli.h"
#include "feed.h"

int feed_open(struct feed *f, const float *mean, int c, int h, int w, int crop, int images,
              int crops, int own_x)
{
    memset(f, 0, sizeof *f);
    f->c = c, f->h = h, f->w = w, f->crop = crop, f->images = images, f->crops = crops;
    size_t chw = (size_t)c * h * w;
    f->pix = anet_cuda_malloc((size_t)images * chw);
    f->draws = anet_cuda_malloc((size_t)images * crops * sizeof *f->draws);
    if (mean && (f->mean = anet_cuda_malloc(chw * sizeof *f->mean)))
        anet_cuda_upload(f->mean, mean, chw * sizeof *f->mean);
    if (own_x) f->x = anet_cuda_malloc((size_t)images * crops * c * crop * crop * sizeof *f->x);
    enum anet_status s = anet_cuda_error();
    if (s) {
        cli_fail(s, 0, "GPU buffers for the batches");
        feed_close(f);
        return -1;
    }
    return 0;
}

const float *feed_batch(struct feed *f, const struct anet_batch *b, float *x)
{
    size_t chw = (size_t)f->c * f->h * f->w;
    int crops = b->crops > 1 ? b->crops : 1;
    if (!x) x = f->x;
    enum anet_status s = anet_cuda_upload(f->pix, b->pixels, (size_t)b->n * chw);
    if (!s) s = anet_cuda_upload(f->draws, b->draws, (size_t)b->n * crops * sizeof *f->draws);
    if (!s) {
        anet_cuda_augment(b->n * crops, crops, f->c, f->h, f->w, f->crop, f->pix, f->mean,
                          f->draws, x);
        s = anet_cuda_error();
    }
    if (s) return cli_fail(s, 0, "the batch to the GPU"), NULL;
    return x;
}

void feed_close(struct feed *f)
{
    anet_cuda_free(f->pix), anet_cuda_free(f->draws), anet_cuda_free(f->mean);
    anet_cuda_free(f->x);
    memset(f, 0, sizeof *f);
}

void feed_loader_config(struct anet_loader_config *lc)
{
    lc->pixels = 1;
    lc->host_alloc = anet_cuda_host_alloc;
    lc->host_free = anet_cuda_host_free;
}
