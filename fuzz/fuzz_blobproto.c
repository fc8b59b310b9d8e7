/* The mean image, a Caffe BlobProto (.binaryproto): anet_mean_decode, as anet_mean_read
 * uses it for alexnet-train, -eval and -predict. */
#include "alexnet/stats.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    float *mean;
    int c, h, w;
    if (anet_mean_decode(data, size, "fuzz", &mean, &c, &h, &w)) return 0;
    size_t n = (size_t)c * h * w;
    for (size_t i = 0; i < n; i++)
        if (!(mean[i] >= 0 && mean[i] <= 255)) abort(); /* the reader's promise */
    free(mean);
    return 0;
}
