/* JPEG encoding with libjpeg's jpeglib.h API: baseline, 4:2:0, standard Huffman tables,
 * the integer DCT (exact in libjpeg-turbo's SIMD and C paths alike, so the bytes depend only
 * on the pixels, the quality and the library version). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
#include <jerror.h>
#include "alexnet/image.h"

struct encode_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
};

static void encode_error_exit(j_common_ptr cinfo)
{
    struct encode_error *e = (struct encode_error *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void encode_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* The most bytes a 4:2:0 JPEG of w × h can take (turbojpeg's tjBufSize bound: three bytes
 * a pixel over the MCU-padded area, plus headers). Handing jpeg_mem_dest a buffer this big
 * means it never grows it; a grown buffer would be owned by libjpeg's private destination
 * state and leak on the error path. */
static size_t jpeg_bound(int w, int h)
{
    return (size_t)((w + 15) & ~15) * (size_t)((h + 15) & ~15) * 3 + 2048;
}

enum anet_status anet_image_encode_jpeg(const struct anet_image *im, int quality,
                                        uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!im || !im->rgb || im->w < 1 || im->h < 1 || im->w > JPEG_MAX_DIMENSION ||
        im->h > JPEG_MAX_DIMENSION)
        return anet_fail(ANET_ERR_INVALID, "cannot encode a %dx%d image as JPEG",
                         im ? im->w : 0, im ? im->h : 0);
    if (quality < 1 || quality > 100)
        return anet_fail(ANET_ERR_INVALID, "JPEG quality must be 1..100, got %d", quality);

    size_t cap = jpeg_bound(im->w, im->h);
    unsigned char *const buf = malloc(cap);
    if (!buf) return anet_fail(ANET_ERR_NOMEM, "out of memory encoding a %dx%d JPEG", im->w, im->h);

    struct jpeg_compress_struct cinfo;
    struct encode_error err;
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = encode_error_exit;
    err.pub.output_message = encode_output_message;
    if (setjmp(err.jump)) {
        int oom = err.pub.msg_code == JERR_OUT_OF_MEMORY;
        jpeg_destroy_compress(&cinfo);
        free(buf);
        return anet_fail(oom ? ANET_ERR_NOMEM : ANET_ERR_INTERNAL, "JPEG encoder: %s", err.msg);
    }
    jpeg_create_compress(&cinfo);
    unsigned char *out = buf;
    unsigned long out_len = (unsigned long)cap;
    jpeg_mem_dest(&cinfo, &out, &out_len);

    cinfo.image_width = (JDIMENSION)im->w;
    cinfo.image_height = (JDIMENSION)im->h;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE); /* TRUE: 8-bit tables, i.e. baseline */
    cinfo.comp_info[0].h_samp_factor = 2, cinfo.comp_info[0].v_samp_factor = 2;
    cinfo.comp_info[1].h_samp_factor = 1, cinfo.comp_info[1].v_samp_factor = 1;
    cinfo.comp_info[2].h_samp_factor = 1, cinfo.comp_info[2].v_samp_factor = 1;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.optimize_coding = FALSE;

    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)im->w * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[16];
        JDIMENSION n = 0;
        while (n < 16 && cinfo.next_scanline + n < cinfo.image_height) {
            rows[n] = im->rgb + (size_t)(cinfo.next_scanline + n) * stride;
            n++;
        }
        jpeg_write_scanlines(&cinfo, rows, n);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);

    if (out != buf) free(buf); /* grown after all (cannot happen with the bound above) */
    uint8_t *shrunk = realloc(out, out_len);
    *data = shrunk ? shrunk : out;
    *len = out_len;
    return ANET_OK;
}
