/* Batches to the GPU: the loader's pixels mode hands over each record's uint8 pixels and
 * its crop draws; these go up to the device and are cropped, mirrored, mean-subtracted and
 * coloured there (anet_cuda_augment, bit for bit the loader's own transformation). */
#ifndef ANET_CMD_FEED_H
#define ANET_CMD_FEED_H

#include "alexnet/loader.h"

struct feed {
    int c, h, w, crop, images, crops;
    uint8_t *pix;                 /* images × c × h × w */
    struct anet_crop_draw *draws; /* images × crops */
    float *mean;                  /* c × h × w, or NULL */
    float *x;                     /* images × crops × c × crop × crop, when the feed owns it */
};

/* Device buffers for batches of up to `images` images of c × h × w, `crops` crops each.
 * own_x: also a buffer for the transformed crops (else the caller gives one). 0, or -1
 * after a message on stderr. */
int feed_open(struct feed *f, const float *mean, int c, int h, int w, int crop, int images,
              int crops, int own_x);
/* The crops of batch b on the device, in x (or the feed's own buffer when x is NULL): NULL
 * after a message on stderr when the GPU fails. */
const float *feed_batch(struct feed *f, const struct anet_batch *b, float *x);
void feed_close(struct feed *f);

/* A loader configuration's pixels mode with page-locked buffers. */
void feed_loader_config(struct anet_loader_config *lc);

#endif
