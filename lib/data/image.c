/* Decoding JPEG (libjpeg-turbo's jpeglib.h API) and PNG (libpng) into 8-bit RGB, finding
 * the format from the magic bytes, reading files, and Caffe's BGR planes.
 *
 * Both libraries report errors through a callback that must not return. Ours records the
 * status and detail and longjmps back into a small "guarded" function that contains the
 * setjmp; everything that must be freed lives in a job struct owned by that function's
 * caller, which cleans up once whatever happened, so no error path leaks and no local
 * of the function holding setjmp is read after a longjmp. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include "alexnet/file.h"
#include "alexnet/image.h"

/* Limits that keep a hostile header from asking for gigabytes: JPEG's own ceiling on a side
 * (libjpeg refuses more), and 2^28 pixels (768 MiB of RGB, 16× ImageNet's largest image). */
#define IMAGE_MAX_SIDE 65500u
#define IMAGE_MAX_PIXELS (1ull << 28)
/* libjpeg-turbo's TurboJPEG refuses progressive files with more scans than this: each scan
 * re-walks the whole coefficient buffer, so a tiny file of empty scans can take minutes. */
#define JPEG_MAX_SCANS 500
/* A file larger than this is refused before it is read: 256 MiB is about 85 bytes a pixel
 * of the largest image allowed (2^28 pixels would need over 1 GiB only as an uncompressed
 * 16-bit RGBA PNG, which nothing that makes datasets writes), and far beyond any
 * photograph; it stops a stray disk image from being read into memory whole. */
#define FILE_MAX_BYTES ((size_t)1 << 28)

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

enum anet_image_format anet_image_sniff(const void *data, size_t len)
{
    const uint8_t *b = data;
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return ANET_IMAGE_JPEG;
    if (len >= 8 && memcmp(b, png_magic, 8) == 0) return ANET_IMAGE_PNG;
    return ANET_IMAGE_UNKNOWN;
}

static enum anet_status check_size(unsigned long w, unsigned long h)
{
    if (w == 0 || h == 0) return anet_fail(ANET_ERR_FORMAT, "image is %lux%lu: empty", w, h);
    if (w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE)
        return anet_fail(ANET_ERR_FORMAT, "image is %lux%lu: a side is larger than %u pixels", w, h,
                         IMAGE_MAX_SIDE);
    if ((unsigned long long)w * h > IMAGE_MAX_PIXELS)
        return anet_fail(ANET_ERR_FORMAT, "image is %lux%lu: more than 2^28 pixels", w, h);
    return ANET_OK;
}

/* x / 255 rounded to nearest, exact for 0 <= x <= 255·255. */
static inline unsigned div255(unsigned x)
{
    x += 128;
    return (x + (x >> 8)) >> 8;
}

/* ---- JPEG ------------------------------------------------------------------------------ */

struct jpeg_job {
    struct jpeg_error_mgr err; /* first: the callbacks get it back as cinfo->err */
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    enum anet_status status;
    struct jpeg_decompress_struct cinfo;
    uint8_t *rgb; /* the result; freed by the caller unless the decode succeeded */
    uint8_t *cmyk; /* a batch of CMYK rows awaiting conversion */
};

#define JPEG_ROWS_PER_READ 16

static const char corrupt_prefix[] = "Corrupt JPEG data: ";

/* warning: the message came through emit_message (damaged data libjpeg would have padded
 * over), not error_exit (data it cannot decode at all). */
static _Noreturn void jpeg_fail(j_common_ptr c, int warning)
{
    struct jpeg_job *job = (struct jpeg_job *)c->err;
    char msg[JMSG_LENGTH_MAX];
    c->err->format_message(c, msg);
    const char *m = msg;
    if (strncmp(m, corrupt_prefix, sizeof corrupt_prefix - 1) == 0) m += sizeof corrupt_prefix - 1;
    switch (c->err->msg_code) {
    case JWRN_JPEG_EOF: job->status = anet_fail(ANET_ERR_FORMAT, "truncated JPEG data"); break;
    case JERR_OUT_OF_MEMORY:
        job->status = anet_fail(ANET_ERR_NOMEM, "out of memory decoding JPEG: %s", m);
        break;
    case JERR_IMAGE_TOO_BIG: {
        j_decompress_ptr d = (j_decompress_ptr)c;
        job->status = check_size(d->image_width, d->image_height);
        if (job->status == ANET_OK) job->status = anet_fail(ANET_ERR_FORMAT, "invalid JPEG: %s", m);
        break;
    }
    default:
        job->status =
            anet_fail(ANET_ERR_FORMAT, "%s: %s", warning ? "corrupt JPEG data" : "invalid JPEG", m);
    }
    longjmp(job->jump, 1);
}

static void jpeg_error_exit(j_common_ptr c) { jpeg_fail(c, 0); }

/* libjpeg reports damaged entropy data, a premature end of file and stray bytes between
 * markers as warnings and carries on, filling the rest with grey. For a dataset tool that
 * is a silently wrong image, so every warning is an error except the few about metadata
 * that leave the pixels intact. Level >= 0 is a trace message. */
static void jpeg_emit_message(j_common_ptr c, int level)
{
    if (level >= 0) return;
    switch (c->err->msg_code) {
    case JWRN_ADOBE_XFORM:
    case JWRN_JFIF_MAJOR:
    case JWRN_BOGUS_ICC: return;
    default: jpeg_fail(c, 1);
    }
}

static void jpeg_limit_scans(j_common_ptr c)
{
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number <= JPEG_MAX_SCANS) return;
    struct jpeg_job *job = (struct jpeg_job *)c->err;
    job->status =
        anet_fail(ANET_ERR_FORMAT, "corrupt JPEG data: more than %d scans", JPEG_MAX_SCANS);
    longjmp(job->jump, 1);
}

/* The largest of the DCT-domain reductions 1/8, 1/4, 1/2 that keeps both sides >= min_side
 * (libjpeg rounds the sides up); none when min_side <= 0 or none qualifies. */
static void jpeg_choose_scale(j_decompress_ptr ci, int min_side)
{
    ci->scale_num = 1;
    ci->scale_denom = 1;
    if (min_side <= 0) return;
    for (unsigned denom = 8; denom >= 2; denom /= 2) {
        ci->scale_denom = denom;
        jpeg_calc_output_dimensions(ci);
        if (ci->output_width >= (JDIMENSION)min_side && ci->output_height >= (JDIMENSION)min_side)
            return;
    }
    ci->scale_denom = 1;
}

/* CMYK to RGB, R = (255 − C)(255 − K)/255 and likewise G from M, B from Y. Adobe's
 * applications (which write the APP14 marker) store every channel inverted, 255 − C, so
 * there R = C'·K'/255 on the stored values. */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, size_t n, int inverted)
{
    unsigned flip = inverted ? 0 : 255;
    for (size_t i = 0; i < n; i++, cmyk += 4, rgb += 3) {
        unsigned k = cmyk[3] ^ flip;
        rgb[0] = (uint8_t)div255((cmyk[0] ^ flip) * k);
        rgb[1] = (uint8_t)div255((cmyk[1] ^ flip) * k);
        rgb[2] = (uint8_t)div255((cmyk[2] ^ flip) * k);
    }
}

static enum anet_status jpeg_read_pixels(struct jpeg_job *job)
{
    j_decompress_ptr ci = &job->cinfo;
    size_t w = ci->output_width, stride = w * 3;
    int cmyk = ci->out_color_space == JCS_CMYK;
    JSAMPROW rows[JPEG_ROWS_PER_READ];
    while (ci->output_scanline < ci->output_height) {
        JDIMENSION y = ci->output_scanline, n = ci->output_height - y;
        if (n > JPEG_ROWS_PER_READ) n = JPEG_ROWS_PER_READ;
        for (JDIMENSION i = 0; i < n; i++)
            rows[i] = cmyk ? job->cmyk + i * w * 4 : job->rgb + (y + i) * stride;
        JDIMENSION got = jpeg_read_scanlines(ci, rows, n);
        /* A memory source never suspends; zero rows would mean no progress, ever. */
        if (got == 0) return anet_fail(ANET_ERR_FORMAT, "truncated JPEG data");
        if (cmyk) cmyk_to_rgb(job->cmyk, job->rgb + y * stride, got * w, ci->saw_Adobe_marker);
    }
    return ANET_OK;
}

static enum anet_status jpeg_decode_guarded(struct jpeg_job *job, const void *data, size_t len,
                                            int min_side)
{
    j_decompress_ptr ci = &job->cinfo;
    if (setjmp(job->jump)) return job->status;
    jpeg_create_decompress(ci);
    ci->progress = &job->progress;
    jpeg_mem_src(ci, data, (unsigned long)len);
    jpeg_read_header(ci, TRUE);
    enum anet_status st = check_size(ci->image_width, ci->image_height);
    if (st) return st;

    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB: ci->out_color_space = JCS_RGB; break;
    /* libjpeg converts YCCK to CMYK but neither to RGB; we do the last step. */
    case JCS_CMYK:
    case JCS_YCCK: ci->out_color_space = JCS_CMYK; break;
    default:
        return anet_fail(ANET_ERR_FORMAT, "unsupported JPEG colour space (%d components)",
                         ci->num_components);
    }
    ci->dct_method = JDCT_ISLOW;
    jpeg_choose_scale(ci, min_side);
    jpeg_start_decompress(ci);

    size_t w = ci->output_width, h = ci->output_height;
    job->rgb = malloc(w * h * 3);
    if (!job->rgb) return anet_fail(ANET_ERR_NOMEM, "out of memory for a %zux%zu image", w, h);
    if (ci->out_color_space == JCS_CMYK) {
        job->cmyk = malloc(w * 4 * JPEG_ROWS_PER_READ);
        if (!job->cmyk) return anet_fail(ANET_ERR_NOMEM, "out of memory for CMYK rows");
    }
    st = jpeg_read_pixels(job);
    if (st) return st;
    /* Reads up to EOI, so damage after the last row's data is still caught. */
    jpeg_finish_decompress(ci);
    return ANET_OK;
}

static enum anet_status jpeg_decode(const void *data, size_t len, int min_side,
                                    struct anet_image *out)
{
    struct jpeg_job *job = calloc(1, sizeof *job);
    if (!job) return anet_fail(ANET_ERR_NOMEM, "out of memory for a JPEG decoder");
    job->cinfo.err = jpeg_std_error(&job->err);
    job->err.error_exit = jpeg_error_exit;
    job->err.emit_message = jpeg_emit_message;
    job->progress.progress_monitor = jpeg_limit_scans;

    enum anet_status st = jpeg_decode_guarded(job, data, len, min_side);
    if (st == ANET_OK) {
        out->w = (int)job->cinfo.output_width;
        out->h = (int)job->cinfo.output_height;
        out->rgb = job->rgb;
    } else {
        free(job->rgb);
    }
    jpeg_destroy_decompress(&job->cinfo);
    free(job->cmyk);
    free(job);
    return st;
}

/* ---- PNG ------------------------------------------------------------------------------- */

struct png_job {
    jmp_buf jump;
    enum anet_status status;
    png_structp png;
    png_infop info;
    const uint8_t *data;
    size_t len, pos;
    uint8_t *rgb; /* the result; freed by the caller unless the decode succeeded */
    png_bytep *rows; /* row pointers into rgb */
    int w, h;
};

static const char png_truncated[] = "truncated PNG data";

static void png_error_fn(png_structp png, png_const_charp msg)
{
    struct png_job *job = png_get_error_ptr(png);
    if (strcmp(msg, png_truncated) == 0)
        job->status = anet_fail(ANET_ERR_FORMAT, "%s", png_truncated);
    else if (strstr(msg, "ut of memory") || strstr(msg, "nsufficient memory"))
        job->status = anet_fail(ANET_ERR_NOMEM, "out of memory decoding PNG: %s", msg);
    else
        job->status = anet_fail(ANET_ERR_FORMAT, "corrupt PNG data: %s", msg);
    longjmp(job->jump, 1);
}

/* libpng warns about damaged ancillary chunks (colour profiles, text) and drops them; the
 * pixels are intact, and the library must not print. */
static void png_warning_fn(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void png_read_fn(png_structp png, png_bytep dst, size_t n)
{
    struct png_job *job = png_get_io_ptr(png);
    if (n > job->len - job->pos) png_error(png, png_truncated);
    memcpy(dst, job->data + job->pos, n);
    job->pos += n;
}

/* The IHDR chunk must come first (PNG spec 5.6); checking its size before libpng does
 * gives the same message as for JPEG instead of libpng's "exceeds user limit". */
static enum anet_status png_check_header(const uint8_t *b, size_t len)
{
    if (len < 24 || memcmp(b + 12, "IHDR", 4) != 0) return ANET_OK;
    unsigned long w = (unsigned long)b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19];
    unsigned long h = (unsigned long)b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
    return check_size(w, h);
}

/* Every PNG flavour to 8-bit RGB: palettes and gray expanded, 16 bits scaled to 8 with
 * rounding, alpha (including a tRNS chunk) dropped without compositing, Adam7 undone. */
static void png_set_rgb8(png_structp png, int color_type, int bit_depth)
{
    if (bit_depth == 16) png_set_scale_16(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        if (bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
}

static enum anet_status png_decode_guarded(struct png_job *job)
{
    if (setjmp(job->jump)) return job->status;
    job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, png_error_fn, png_warning_fn);
    if (!job->png) return anet_fail(ANET_ERR_NOMEM, "out of memory for a PNG decoder");
    job->info = png_create_info_struct(job->png);
    if (!job->info) return anet_fail(ANET_ERR_NOMEM, "out of memory for a PNG decoder");
    png_set_read_fn(job->png, job, png_read_fn);
    png_read_info(job->png, job->info);

    png_uint_32 w, h;
    int bit_depth, color_type;
    png_get_IHDR(job->png, job->info, &w, &h, &bit_depth, &color_type, NULL, NULL, NULL);
    enum anet_status st = check_size(w, h);
    if (st) return st;
    png_set_rgb8(job->png, color_type, bit_depth);
    png_read_update_info(job->png, job->info);
    if (png_get_channels(job->png, job->info) != 3 || png_get_bit_depth(job->png, job->info) != 8)
        return anet_fail(
            ANET_ERR_INTERNAL,
            "PNG colour type %d, depth %d: libpng gave %d channels of %d bits, not RGB8",
            color_type, bit_depth, png_get_channels(job->png, job->info),
            png_get_bit_depth(job->png, job->info));

    size_t stride = (size_t)w * 3;
    job->rgb = malloc(stride * h);
    job->rows = malloc(sizeof *job->rows * h);
    if (!job->rgb || !job->rows)
        return anet_fail(ANET_ERR_NOMEM, "out of memory for a %ux%u image", (unsigned)w,
                         (unsigned)h);
    for (png_uint_32 y = 0; y < h; y++) job->rows[y] = job->rgb + y * stride;
    png_read_image(job->png, job->rows);
    /* Up to IEND, checking the CRCs on the way: a file cut after its pixel data is still a
     * truncated file. */
    png_read_end(job->png, NULL);
    job->w = (int)w;
    job->h = (int)h;
    return ANET_OK;
}

static enum anet_status png_decode(const void *data, size_t len, struct anet_image *out)
{
    enum anet_status st = png_check_header(data, len);
    if (st) return st;
    struct png_job *job = calloc(1, sizeof *job);
    if (!job) return anet_fail(ANET_ERR_NOMEM, "out of memory for a PNG decoder");
    job->data = data;
    job->len = len;
    st = png_decode_guarded(job);
    if (st == ANET_OK) {
        out->w = job->w;
        out->h = job->h;
        out->rgb = job->rgb;
    } else {
        free(job->rgb);
    }
    free(job->rows);
    png_destroy_read_struct(job->png ? &job->png : NULL, job->info ? &job->info : NULL, NULL);
    free(job);
    return st;
}

/* ---- the public entry points ------------------------------------------------------------ */

enum anet_status anet_image_decode(const void *data, size_t len, int min_side,
                                   struct anet_image *out)
{
    *out = (struct anet_image){0};
    if (len == 0) return anet_fail(ANET_ERR_FORMAT, "empty file");
    if (!data) return anet_fail(ANET_ERR_INVALID, "image data is NULL with length %zu", len);
    switch (anet_image_sniff(data, len)) {
    case ANET_IMAGE_JPEG: return jpeg_decode(data, len, min_side, out);
    case ANET_IMAGE_PNG: return png_decode(data, len, out);
    default: return anet_fail(ANET_ERR_FORMAT, "not a JPEG or PNG file");
    }
}

enum anet_status anet_image_load(const char *path, int min_side, struct anet_image *out)
{
    *out = (struct anet_image){0};
    uint8_t *data;
    size_t len;
    enum anet_status st = anet_file_read(path, FILE_MAX_BYTES, "an image", &data, &len);
    if (st) return st;
    if (len == 0) {
        free(data);
        return anet_fail(ANET_ERR_FORMAT, "'%s': empty file", path);
    }
    st = anet_image_decode(data, len, min_side, out);
    free(data);
    if (st) {
        char why[512];
        snprintf(why, sizeof why, "%s", anet_error_detail());
        return anet_fail(st, "'%s': %s", path, why);
    }
    return ANET_OK;
}

void anet_image_free(struct anet_image *im)
{
    if (!im) return;
    free(im->rgb);
    *im = (struct anet_image){0};
}

void anet_image_to_bgr_planes(const struct anet_image *im, uint8_t *chw)
{
    size_t n = (size_t)im->w * im->h;
    uint8_t *b = chw, *g = chw + n, *r = chw + 2 * n;
    const uint8_t *p = im->rgb;
    for (size_t i = 0; i < n; i++, p += 3) {
        r[i] = p[0];
        g[i] = p[1];
        b[i] = p[2];
    }
}
