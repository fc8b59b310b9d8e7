/* Images: decoding JPEG and PNG, resizing, cropping, encoding JPEG, writing PNG.
 *
 * An image in memory is 8-bit RGB, interleaved, row-major: h × w × 3. The format of a file
 * is found from its first bytes, never from its name (ILSVRC-2012 train holds a PNG named
 * .JPEG). Every decoding problem is a status with a detail naming what is wrong; the
 * libraries' error paths return here (setjmp/longjmp for libjpeg, libpng), never exit. */
#ifndef ANET_IMAGE_H
#define ANET_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

struct anet_image {
    int w, h;
    uint8_t *rgb; /* h × w × 3, owned (free with anet_image_free) */
};

enum anet_image_format { ANET_IMAGE_UNKNOWN = 0, ANET_IMAGE_JPEG, ANET_IMAGE_PNG };
enum anet_image_format anet_image_sniff(const void *data, size_t len);

/* Decodes a JPEG (baseline or progressive; grayscale, YCbCr, RGB, CMYK or YCCK, Adobe's
 * inverted CMYK included) or a PNG (gray, gray+alpha, palette, RGB, RGBA, 8 or 16 bits;
 * alpha is dropped, not composited) to RGB.
 * min_side > 0 allows DCT-domain downscaling by 1/2, 1/4 or 1/8 (only those: libjpeg-turbo
 * 2.1's other scales are slower than a full decode) as long as both sides of the result
 * stay >= min_side; 0 decodes at full size. Corrupt or truncated data is an error
 * (ANET_ERR_FORMAT), not a grey-padded image; so are images over 65500 pixels a side or
 * 2^28 pixels in all. 16-bit PNG samples are rounded to 8 bits; a JPEG's CMYK is inverted
 * (Adobe's convention) only when the file has an Adobe APP14 marker. EXIF orientation is
 * ignored: pixels are returned as stored, as Caffe's, torchvision's and PIL's ImageNet
 * pipelines do. On failure *out is left empty. */
enum anet_status anet_image_decode(const void *data, size_t len, int min_side,
                                   struct anet_image *out);
/* Reads and decodes a file; the detail names the path. Only a regular file of at most
 * 256 MiB is read: a FIFO, a device (/dev/zero) or a directory is ANET_ERR_IO ("'x' is a
 * FIFO, not an image"), without blocking, and a larger file ANET_ERR_FORMAT. */
enum anet_status anet_image_load(const char *path, int min_side, struct anet_image *out);
void anet_image_free(struct anet_image *im);

/* Resamples to exactly w × h with an antialiasing filter when shrinking (a triangle filter
 * whose support widens with the scale factor, i.e. area-weighted bilinear, like PIL's
 * BILINEAR; within ±1 of PIL) and bilinear interpolation when enlarging. out may be in
 * (its old pixels are then freed); more than 2^28 output pixels is ANET_ERR_INVALID. */
enum anet_status anet_image_resize(const struct anet_image *in, int w, int h,
                                   struct anet_image *out);

/* The paper's geometry and its variants, in one call:
 *   ANET_FIT_CROP:   shorter side to `side` (the longer to round(longer·side/shorter)),
 *                    then the central side × side square (offset (W − side)/2 rounded
 *                    down); only the square is computed, equal to resizing then cropping;
 *   ANET_FIT_NONE:   shorter side to `side`, aspect kept, no crop;
 *   ANET_FIT_SQUASH: both sides to `side`, aspect lost (Caffe's convert_imageset).
 * As with resize, out may be in. */
enum anet_fit { ANET_FIT_CROP = 0, ANET_FIT_NONE, ANET_FIT_SQUASH };
enum anet_status anet_image_fit(const struct anet_image *in, int side, enum anet_fit fit,
                                struct anet_image *out);

/* Encodes RGB as a baseline JPEG, 4:2:0, at quality 1..100. *data is malloc'ed. */
enum anet_status anet_image_encode_jpeg(const struct anet_image *im, int quality,
                                        uint8_t **data, size_t *len);

/* Writes RGB as an 8-bit PNG (lossless: what a figure needs) to path, atomically
 * (anet_afile); with overwrite == 0 an existing path is refused. */
enum anet_status anet_image_write_png(const char *path, const struct anet_image *im,
                                      int overwrite);

/* Caffe's pixel layout: planes B, G, R, each h × w (uint8). */
void anet_image_to_bgr_planes(const struct anet_image *im, uint8_t *chw);

#endif
