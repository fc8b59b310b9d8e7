/* The model's side of a feed (alexnet/model.h): where a batch's images are for it. */
#ifndef ANET_MODEL_FEED_H
#define ANET_MODEL_FEED_H

#include "alexnet/model.h"

/* *x = images [first, first + n) of the feed's batch, in the memory of part 0's lane of m;
 * ANET_ERR_INVALID when m is not placed as the feed's model was, or the range is not in
 * the batch. */
enum anet_status anet_feed_images(const struct anet_feed *f, const struct anet_model *m,
                                  int first, int n, const float **x);

#endif
