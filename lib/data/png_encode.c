/* PNG writing with libpng: 8-bit RGB, default compression, no ancillary chunks, so the bytes
 * depend only on the pixels and the library. libpng's errors return here by longjmp. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <png.h>
#include "alexnet/file.h"
#include "alexnet/image.h"

struct png_out {
    jmp_buf jump;
    char msg[128];
};

static void write_error(png_structp png, png_const_charp msg)
{
    struct png_out *o = png_get_error_ptr(png);
    snprintf(o->msg, sizeof o->msg, "%s", msg);
    longjmp(o->jump, 1);
}

static void write_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* The rows of im into f; 0, or -1 with o->msg set. */
static int encode(FILE *f, const struct anet_image *im, struct png_out *o)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, o, write_error,
                                              write_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(o->msg, sizeof o->msg, "out of memory for a PNG encoder");
        return -1;
    }
    if (setjmp(o->jump)) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < im->h; y++) png_write_row(png, im->rgb + (size_t)y * im->w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

enum anet_status anet_image_write_png(const char *path, const struct anet_image *im,
                                      int overwrite)
{
    if (!im || !im->rgb || im->w < 1 || im->h < 1 || im->w > 65535 || im->h > 65535)
        return anet_fail(ANET_ERR_INVALID, "cannot write a %dx%d image as PNG", im ? im->w : 0,
                         im ? im->h : 0);
    struct anet_afile *af;
    enum anet_status s = anet_afile_open(path, overwrite, &af);
    if (s) return s;
    struct png_out o = {.msg = ""};
    if (encode(anet_afile_stream(af), im, &o)) {
        anet_afile_abort(af);
        return anet_fail(ANET_ERR_IO, "cannot write '%s': %s", path, o.msg);
    }
    return anet_afile_commit(af);
}
