/* The training set's statistics: the mean image (paper §2: "subtracting the mean activity
 * over the training set from each pixel") and the principal components of its RGB pixel
 * values (§4.1: the colour noise Σ α_i λ_i p_i).
 *
 * Units and order, everywhere in this header and in the stats file:
 *   - colour statistics (mean, std, covariance, eigenvalues, eigenvectors) are of pixel
 *     values divided by 255 (scale 0..1), in R, G, B order, so that ImageNet's eigenvalues
 *     read about 0.2175, 0.0188, 0.0045 and the paper's noise Σ α_i λ_i p_i comes out in
 *     0..1 units (multiply by 255 to add it to 0..255 pixels);
 *   - the mean image is in 0..255 units, B, G, R planes, as Caffe's compute_image_mean
 *     writes it (a BlobProto of 1 × 3 × H × W floats). */
#ifndef ANET_STATS_H
#define ANET_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

struct anet_stats {
    uint64_t images, pixels;  /* images counted; pixels = images × height × width */
    int channels, height, width;
    double mean[3];           /* R, G, B, scale 0..1 */
    double std[3];            /* population standard deviation, scale 0..1 */
    double cov[3][3];         /* population covariance (divided by pixels), RGB, 0..1 */
    double eigval[3];         /* descending */
    double eigvec[3][3];      /* eigvec[i] is the unit eigenvector of eigval[i] (R, G, B),
                                 signed so that its largest-magnitude component is positive */
};

/* ---- accumulating over images ----------------------------------------------------------
 * Sums are kept in exact 64-bit integers (per-pixel sums for the mean image; per-channel
 * sums and the 6 distinct cross products for the covariance), so 1.28 M images of
 * 256 × 256 lose no precision and the order of adding does not matter: accumulators of
 * several threads merge exactly. channels must be 3 (ANET_ERR_INVALID otherwise). */
struct anet_stats_acc;
enum anet_status anet_stats_acc_create(int channels, int height, int width,
                                       struct anet_stats_acc **out);
void anet_stats_acc_free(struct anet_stats_acc *a);
/* Adds one image: channels × height × width uint8 planes in B, G, R order (a raw Datum). */
void anet_stats_acc_add(struct anet_stats_acc *a, const uint8_t *bgr_planes);
/* a += b (same shape). */
void anet_stats_acc_merge(struct anet_stats_acc *a, const struct anet_stats_acc *b);
uint64_t anet_stats_acc_images(const struct anet_stats_acc *a);
/* The statistics and, when mean_image is not NULL, the mean image (channels × height ×
 * width floats, B, G, R planes, 0..255). ANET_ERR_INVALID when no image was added. */
enum anet_status anet_stats_acc_finish(const struct anet_stats_acc *a, struct anet_stats *s,
                                       float *mean_image);

/* Eigen-decomposition of a symmetric 3×3 matrix (cyclic Jacobi): values descending, unit
 * vectors with the sign convention above. */
void anet_sym3_eigen(const double m[3][3], double val[3], double vec[3][3]);

/* ---- the stats file: text, one "name<TAB>values" line each, after a "#" comment --------
 *   version 1 / images / pixels / size CxHxW / scale 0..1 / channels R G B / mean / std /
 *   cov (three lines) / eigval / eigvec (three lines, in eigval order)
 * Numbers are written with %.17g, so a file read back gives the same doubles. Written
 * atomically; read with errors (ANET_ERR_FORMAT) naming the file and line (a missing,
 * repeated or unknown field, a wrong version, a wrong channel order or scale, a truncated
 * file: every line must end in a newline). Fields may come in any order; the rows of cov
 * and eigvec are taken in file order. */
enum anet_status anet_stats_write(const char *path, const struct anet_stats *s, int overwrite);
/* The same text to a stream (an anet_afile's, say); the caller checks the stream. */
void anet_stats_write_stream(FILE *f, const struct anet_stats *s);
/* Refuses, besides the above, statistics no set of 0..255 pixels can have (a mean outside
 * 0..1, a standard deviation outside 0..0.5, a covariance entry or an eigenvalue outside
 * what those allow, eigenvectors that are not unit vectors, a side over 65500): they would
 * turn the colour noise into nonsense or infinity. */
enum anet_status anet_stats_read(const char *path, struct anet_stats *s);
/* The same from an open stream; `path` names it in messages. */
enum anet_status anet_stats_read_stream(FILE *f, const char *path, struct anet_stats *s);

/* ---- the mean image: Caffe BlobProto (.binaryproto) ------------------------------------
 * BlobProto fields: num=1, channels=2, height=3, width=4 (varints), data=5 (packed or
 * unpacked floats), shape=7 (BlobShape: dim=1, packed or unpacked int64). Written as Caffe's
 * compute_image_mean does: num 1, channels, height, width, then data packed. Reading
 * accepts either the legacy fields (num must be 1) or shape (C×H×W or 1×C×H×W; it wins
 * when both are present); a data count that differs from the shape or a truncated file is
 * ANET_ERR_FORMAT, double_data ANET_ERR_UNSUPPORTED, each naming the file. */
enum anet_status anet_mean_write(const char *path, const float *mean, int channels,
                                 int height, int width, int overwrite);
/* The same bytes to a stream; ANET_ERR_INVALID for a shape that is not positive. */
enum anet_status anet_mean_write_stream(FILE *f, const float *mean, int channels, int height,
                                        int width);
/* *mean is malloc'ed: channels × height × width floats. A mean of 8-bit pixels lies in
 * 0..255: a value outside it (NaN and infinities included) is ANET_ERR_FORMAT naming the
 * file and the element, as is a file larger than ANET_MEAN_MAX_BYTES. */
#define ANET_MEAN_MAX_BYTES ((size_t)1 << 32)
enum anet_status anet_mean_read(const char *path, float **mean, int *channels, int *height,
                                int *width);
/* The same from the bytes of such a file; `path` names them in messages. */
enum anet_status anet_mean_decode(const void *data, size_t len, const char *path, float **mean,
                                  int *channels, int *height, int *width);

#endif
