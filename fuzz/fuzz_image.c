/* JPEG and PNG through our wrapper of libjpeg-turbo and libpng (anet_image_decode), as
 * alexnet-prep and -predict read image files and the loader reads encoded records. The
 * first byte chooses between a full decode and DCT scaling (min_side 1..255). */
#include "alexnet/image.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    struct anet_image im;
    if (anet_image_decode(data + 1, size - 1, data[0] & 0x80 ? data[0] & 0x7f : 0, &im)) return 0;
    if (im.w < 1 || im.h < 1 || !im.rgb) abort();
    struct anet_image fit;
    if (!anet_image_fit(&im, 16, ANET_FIT_CROP, &fit)) anet_image_free(&fit);
    anet_image_free(&im);
    return 0;
}
