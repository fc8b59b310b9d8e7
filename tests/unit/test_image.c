/* lib/data image.c and resize.c: JPEG and PNG decoding of every flavour the decoder claims,
 * refusal of damaged files, DCT-domain scaling, resizing against a slow reference, fit.
 *
 * The test files are written here with libjpeg and libpng, so each one's true colours are
 * known: a JPEG's flat 32×32 quadrants must come back within ±3 of the colour written
 * (lossy, measured at the quadrant's centre, away from edges and chroma upsampling); a PNG
 * must come back exactly. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jpeglib.h>
#include <png.h>
#include "alexnet/image.h"
#include "test.h"

struct bytes {
    uint8_t *p;
    size_t n;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

/* ---- writing test JPEGs ----------------------------------------------------------------- */

struct jpeg_opts {
    int comps; /* 1, 3 or 4 */
    J_COLOR_SPACE in_cs, file_cs; /* file_cs JCS_UNKNOWN: libjpeg's default for in_cs */
    int quality, progressive, s444, no_adobe;
};

static struct bytes make_jpeg(const uint8_t *pix, int w, int h, struct jpeg_opts o)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = o.comps;
    c.in_color_space = o.in_cs;
    jpeg_set_defaults(&c);
    if (o.file_cs != JCS_UNKNOWN) jpeg_set_colorspace(&c, o.file_cs);
    /* jpeg_set_colorspace(JCS_CMYK or JCS_YCCK) turns the Adobe APP14 marker on. */
    if (o.no_adobe) c.write_Adobe_marker = FALSE;
    jpeg_set_quality(&c, o.quality ? o.quality : 95, TRUE);
    if (o.s444)
        for (int i = 0; i < c.num_components; i++)
            c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    if (o.progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)c.next_scanline * w * o.comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return (struct bytes){buf, len};
}

static struct bytes make_rgb_jpeg(const uint8_t *rgb, int w, int h, int quality)
{
    return make_jpeg(rgb, w, h,
                     (struct jpeg_opts){.comps = 3, .in_cs = JCS_RGB, .quality = quality});
}

/* w × h with four flat quadrants of comps-byte colours q[0..3] (top-left, top-right,
 * bottom-left, bottom-right). */
static uint8_t *quadrants(int w, int h, int comps, const uint8_t q[4][4])
{
    uint8_t *p = xmalloc((size_t)w * h * comps);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(p + ((size_t)y * w + x) * comps, q[(y >= h / 2) * 2 + (x >= w / 2)], comps);
    return p;
}

/* Largest channel error over the central half of each quadrant of a 64×64 decode. */
static int quadrant_err(const struct anet_image *im, const uint8_t want[4][3])
{
    int err = 999;
    if (!im->rgb || im->w != 64 || im->h != 64) return err;
    err = 0;
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) {
            if (x % 32 < 8 || x % 32 >= 24 || y % 32 < 8 || y % 32 >= 24) continue;
            const uint8_t *p = im->rgb + ((size_t)y * 64 + x) * 3,
                          *q = want[(y >= 32) * 2 + (x >= 32)];
            for (int c = 0; c < 3; c++) {
                int d = abs(p[c] - q[c]);
                if (d > err) err = d;
            }
        }
    return err;
}

static void check_jpeg_colours(const char *what, struct jpeg_opts o, const uint8_t in[4][4],
                               const uint8_t want[4][3])
{
    uint8_t *pix = quadrants(64, 64, o.comps, in);
    struct bytes f = make_jpeg(pix, 64, 64, o);
    struct anet_image im;
    enum anet_status st = anet_image_decode(f.p, f.n, 0, &im);
    int err = quadrant_err(&im, want);
    T_OK(st == ANET_OK && err <= 3, "JPEG %s: 64x64 decoded, colours within 3 (max err %d) %s",
         what, err, st ? anet_error_detail() : "");
    anet_image_free(&im);
    free(f.p);
    free(pix);
}

static void test_jpeg_colours(void)
{
    const uint8_t rgb[4][4] = {{220, 30, 40}, {30, 200, 60}, {20, 40, 210}, {240, 230, 90}};
    const uint8_t want_rgb[4][3] = {{220, 30, 40}, {30, 200, 60}, {20, 40, 210}, {240, 230, 90}};
    check_jpeg_colours("YCbCr 4:2:0 baseline", (struct jpeg_opts){.comps = 3, .in_cs = JCS_RGB},
                       rgb, want_rgb);
    check_jpeg_colours("YCbCr 4:4:4", (struct jpeg_opts){.comps = 3, .in_cs = JCS_RGB, .s444 = 1},
                       rgb, want_rgb);
    check_jpeg_colours("YCbCr 4:2:0 progressive",
                       (struct jpeg_opts){.comps = 3, .in_cs = JCS_RGB, .progressive = 1}, rgb,
                       want_rgb);
    check_jpeg_colours("RGB colour space (Adobe transform 0)",
                       (struct jpeg_opts){.comps = 3, .in_cs = JCS_RGB, .file_cs = JCS_RGB}, rgb,
                       want_rgb);

    const uint8_t gray[4][4] = {{30}, {100}, {180}, {250}};
    const uint8_t want_gray[4][3] = {
        {30, 30, 30}, {100, 100, 100}, {180, 180, 180}, {250, 250, 250}};
    check_jpeg_colours("grayscale, expanded to RGB",
                       (struct jpeg_opts){.comps = 1, .in_cs = JCS_GRAYSCALE}, gray, want_gray);
    check_jpeg_colours("grayscale progressive",
                       (struct jpeg_opts){.comps = 1, .in_cs = JCS_GRAYSCALE, .progressive = 1},
                       gray, want_gray);

    /* Ink amounts C, M, Y, K (0 = none); R = (255 − C)(255 − K)/255 and so on. */
    const uint8_t ink[4][4] = {{0, 255, 255, 0}, {0, 128, 255, 64}, {255, 0, 0, 128}, {0, 0, 0, 0}};
    uint8_t want_cmyk[4][3], adobe[4][4];
    for (int q = 0; q < 4; q++) {
        for (int c = 0; c < 3; c++)
            want_cmyk[q][c] = (uint8_t)floor((255.0 - ink[q][c]) * (255.0 - ink[q][3]) / 255 + 0.5);
        for (int c = 0; c < 4; c++) adobe[q][c] = (uint8_t)(255 - ink[q][c]);
    }
    T_OK(want_cmyk[0][0] == 255 && want_cmyk[0][1] == 0 && want_cmyk[1][0] == 191 &&
             want_cmyk[1][1] == 95 && want_cmyk[2][0] == 0 && want_cmyk[2][1] == 127 &&
             want_cmyk[3][2] == 255,
         "CMYK known colours: (0,255,255,0) red, (0,128,255,64) = (191,95,0), (255,0,0,128) = "
         "(0,127,127)");
    /* libjpeg stores the numbers it is given; with the Adobe marker every reader (and
     * Photoshop, which writes such files) takes them as inverted, 255 − ink. */
    check_jpeg_colours("CMYK with Adobe marker (inverted)",
                       (struct jpeg_opts){.comps = 4, .in_cs = JCS_CMYK, .file_cs = JCS_CMYK},
                       adobe, want_cmyk);
    check_jpeg_colours(
        "CMYK without Adobe marker (plain)",
        (struct jpeg_opts){.comps = 4, .in_cs = JCS_CMYK, .file_cs = JCS_CMYK, .no_adobe = 1}, ink,
        want_cmyk);
    check_jpeg_colours("YCCK (Adobe transform 2)",
                       (struct jpeg_opts){.comps = 4, .in_cs = JCS_CMYK, .file_cs = JCS_YCCK},
                       adobe, want_cmyk);
    check_jpeg_colours(
        "CMYK progressive",
        (struct jpeg_opts){.comps = 4, .in_cs = JCS_CMYK, .file_cs = JCS_CMYK, .progressive = 1},
        adobe, want_cmyk);

    /* Sides that are not whole MCUs (16 for 4:2:0). */
    const uint8_t flat[4][4] = {{90, 160, 30}, {90, 160, 30}, {90, 160, 30}, {90, 160, 30}};
    uint8_t *pix = quadrants(37, 29, 3, flat);
    struct bytes f = make_rgb_jpeg(pix, 37, 29, 95);
    struct anet_image im;
    enum anet_status st = anet_image_decode(f.p, f.n, 0, &im);
    int err = 0;
    for (int i = 0; st == ANET_OK && i < 37 * 29 * 3; i++)
        if (abs(im.rgb[i] - flat[0][i % 3]) > err) err = abs(im.rgb[i] - flat[0][i % 3]);
    T_OK(st == ANET_OK && im.w == 37 && im.h == 29 && err <= 3,
         "JPEG 37x29 (partial MCUs): size kept, flat colour within 3 everywhere (max err %d)", err);
    anet_image_free(&im);
    free(f.p);
    free(pix);
}

/* ---- damaged and foreign data ---------------------------------------------------------- */

static int has(const char *s, const char *part) { return strstr(s, part) != NULL; }

static void expect_refused(const char *what, const void *data, size_t len, enum anet_status want,
                           const char *detail_part)
{
    struct anet_image im = {.w = 1, .h = 1, .rgb = (uint8_t *)"x"};
    enum anet_status st = anet_image_decode(data, len, 0, &im);
    const char *d = anet_error_detail();
    T_OK(st == want && has(d, detail_part) && !im.rgb && im.w == 0, "%s: %s (%s), detail \"%s\"",
         what, anet_strerror(st), anet_strerror(want), d);
    if (st == ANET_OK) anet_image_free(&im);
}

/* Offset just past the first marker segment after SOI (APP0, DQT, ...). */
static size_t after_first_segment(const struct bytes *f)
{
    return 2 + 2 + ((size_t)f->p[4] << 8 | f->p[5]);
}

/* Offset of the first byte of entropy-coded data (after the SOS segment). */
static size_t scan_start(const struct bytes *f)
{
    size_t i = 2;
    while (i + 4 < f->n && f->p[i] == 0xFF) {
        size_t seg = (size_t)f->p[i + 2] << 8 | f->p[i + 3];
        if (f->p[i + 1] == 0xDA) return i + 2 + seg;
        i += 2 + seg;
    }
    return 0;
}

static struct bytes splice(const struct bytes *f, size_t at, const uint8_t *ins, size_t n)
{
    struct bytes g = {xmalloc(f->n + n), f->n + n};
    memcpy(g.p, f->p, at);
    memcpy(g.p + at, ins, n);
    memcpy(g.p + at + n, f->p + at, f->n - at);
    return g;
}

/* A photo-like test image: smooth colour waves plus a little deterministic noise. */
static uint8_t *photo(int w, int h, double noise)
{
    uint8_t *p = xmalloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                double v = 128 + 70 * sin(x / (37.0 + 11 * c) + c) * cos(y / (29.0 + 7 * c)) +
                           noise * t_uniform(-1, 1);
                p[((size_t)y * w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return p;
}

static void test_refusals(void)
{
    expect_refused("empty data", "", 0, ANET_ERR_FORMAT, "empty file");
    const char gif[] = "GIF89a\x01\x00\x01\x00";
    expect_refused("a GIF", gif, sizeof gif, ANET_ERR_FORMAT, "not a JPEG or PNG file");
    expect_refused("two bytes FF D8", "\xFF\xD8", 2, ANET_ERR_FORMAT, "not a JPEG or PNG file");
    T_OK(anet_image_sniff("\xFF\xD8\xFF\xE0", 4) == ANET_IMAGE_JPEG &&
             anet_image_sniff("\x89PNG\r\n\x1a\n", 8) == ANET_IMAGE_PNG &&
             anet_image_sniff("\x89PNG\r\n\x1a", 7) == ANET_IMAGE_UNKNOWN &&
             anet_image_sniff("", 0) == ANET_IMAGE_UNKNOWN,
         "sniff: FF D8 FF is JPEG, the 8-byte signature is PNG, a prefix of it is not");

    uint8_t *pix = photo(96, 80, 20);
    struct bytes f = make_rgb_jpeg(pix, 96, 80, 90);
    struct anet_image im;
    T_OK(anet_image_decode(f.p, f.n, 0, &im) == ANET_OK, "JPEG 96x80 decodes intact");
    anet_image_free(&im);
    expect_refused("JPEG cut at half", f.p, f.n / 2, ANET_ERR_FORMAT, "truncated JPEG data");
    expect_refused("JPEG cut 2 bytes short (no EOI)", f.p, f.n - 2, ANET_ERR_FORMAT,
                   "truncated JPEG data");
    expect_refused("JPEG cut inside the header", f.p, 40, ANET_ERR_FORMAT, "truncated JPEG data");
    expect_refused("JPEG header only, no scan", f.p, scan_start(&f), ANET_ERR_FORMAT,
                   "truncated JPEG data");

    const uint8_t junk[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                              11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    struct bytes g = splice(&f, after_first_segment(&f), junk, sizeof junk);
    expect_refused("20 stray bytes after a marker segment", g.p, g.n, ANET_ERR_FORMAT,
                   "corrupt JPEG data: 20 extraneous bytes before marker");
    free(g.p);
    t_seed(7);
    int all = 1;
    for (int trial = 0; trial < 20; trial++) {
        uint8_t rnd[64];
        for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)t_uniform(0, 256);
        g = splice(&f, after_first_segment(&f), rnd, sizeof rnd);
        struct anet_image bad;
        enum anet_status st = anet_image_decode(g.p, g.n, 0, &bad);
        if (st != ANET_ERR_FORMAT || bad.rgb) {
            all = 0;
            printf("# trial %d: %s %s\n", trial, anet_strerror(st), anet_error_detail());
        }
        anet_image_free(&bad);
        free(g.p);
    }
    T_OK(all, "64 random bytes after a marker segment: refused (ANET_ERR_FORMAT), 20 trials");

    const uint8_t marker[2] = {0xFF, 0xD0}; /* RST0 in a file without restart intervals */
    size_t mid = scan_start(&f) + (f.n - scan_start(&f)) / 2;
    g = splice(&f, mid, marker, 2);
    expect_refused("a marker in the middle of the scan data", g.p, g.n, ANET_ERR_FORMAT,
                   "corrupt JPEG data");
    free(g.p);

    struct bytes p =
        make_jpeg(pix, 96, 80, (struct jpeg_opts){.comps = 3, .in_cs = JCS_RGB, .progressive = 1});
    expect_refused("progressive JPEG cut at half", p.p, p.n / 2, ANET_ERR_FORMAT,
                   "truncated JPEG data");

    /* Its last scan repeated 600 times: each scan costs a pass over every coefficient, so
     * such files make decoding hang; refused ("more than 500 scans", or earlier as an
     * inconsistent progression). FF DA cannot occur inside entropy-coded data. */
    size_t last = 0;
    for (size_t i = 2; i + 1 < p.n; i++)
        if (p.p[i] == 0xFF && p.p[i + 1] == 0xDA) last = i;
    size_t seg = p.n - 2 - last;
    g = (struct bytes){xmalloc(p.n + 600 * seg), 0};
    memcpy(g.p, p.p, p.n - 2);
    g.n = p.n - 2;
    for (int r = 0; r < 600; r++, g.n += seg) memcpy(g.p + g.n, p.p + last, seg);
    g.p[g.n++] = 0xFF, g.p[g.n++] = 0xD9;
    expect_refused("progressive JPEG with its last scan repeated 600 times", g.p, g.n,
                   ANET_ERR_FORMAT, "corrupt JPEG data");
    free(g.p);
    free(p.p);

    /* Sizes patched into the SOF0 segment: FF C0, length, precision, height, width. */
    g = (struct bytes){xmalloc(f.n), f.n};
    memcpy(g.p, f.p, f.n);
    size_t sof = 2;
    while (sof + 9 < g.n && !(g.p[sof] == 0xFF && g.p[sof + 1] == 0xC0)) sof++;
    g.p[sof + 5] = 20000 >> 8, g.p[sof + 6] = 20000 & 255, g.p[sof + 7] = 20000 >> 8,
              g.p[sof + 8] = 20000 & 255;
    expect_refused("JPEG claiming 20000x20000", g.p, g.n, ANET_ERR_FORMAT, "more than 2^28 pixels");
    g.p[sof + 5] = 0, g.p[sof + 6] = 80, g.p[sof + 7] = 0xFF, g.p[sof + 8] = 0xFF;
    expect_refused("JPEG claiming 65535x80", g.p, g.n, ANET_ERR_FORMAT, "larger than 65500");
    free(g.p);
    free(f.p);
    free(pix);
}

/* ---- DCT-domain scaling and big images -------------------------------------------------- */

static void expect_size(const char *what, const struct bytes *f, int min_side, int w, int h)
{
    struct anet_image im;
    enum anet_status st = anet_image_decode(f->p, f->n, min_side, &im);
    T_OK(st == ANET_OK && im.w == w && im.h == h, "%s, min_side %d: %dx%d (want %dx%d) %s", what,
         min_side, im.w, im.h, w, h, st ? anet_error_detail() : "");
    anet_image_free(&im);
}

static void test_dct_scaling(void)
{
    uint8_t *pix = photo(2000, 1500, 0);
    struct bytes f = make_rgb_jpeg(pix, 2000, 1500, 90);
    expect_size("2000x1500 JPEG", &f, 0, 2000, 1500);
    expect_size("2000x1500 JPEG", &f, 256, 500, 375);
    expect_size("2000x1500 JPEG", &f, 375, 500, 375);
    expect_size("2000x1500 JPEG", &f, 376, 1000, 750);
    expect_size("2000x1500 JPEG", &f, 751, 2000, 1500);

    /* Scaled in the DCT domain, the image must match a full decode resized to that size. */
    struct anet_image small, full, ref;
    enum anet_status st = anet_image_decode(f.p, f.n, 256, &small);
    if (!st) st = anet_image_decode(f.p, f.n, 0, &full);
    if (!st) st = anet_image_resize(&full, small.w, small.h, &ref);
    double sum = 0;
    int max = 0;
    for (size_t i = 0; st == ANET_OK && i < (size_t)ref.w * ref.h * 3; i++) {
        int d = abs(small.rgb[i] - ref.rgb[i]);
        sum += d;
        if (d > max) max = d;
    }
    double mean = st ? 99 : sum / ((double)ref.w * ref.h * 3);
    T_OK(st == ANET_OK && mean < 1.0 && max <= 6,
         "1/4-scale decode vs full decode + resize: mean |diff| %.3f (< 1), max %d (<= 6)", mean,
         max);
    anet_image_free(&small);
    anet_image_free(&full);
    anet_image_free(&ref);
    free(f.p);
    free(pix);

    pix = photo(2048, 2048, 0);
    f = make_rgb_jpeg(pix, 2048, 2048, 75);
    expect_size("2048x2048 JPEG", &f, 256, 256, 256);
    expect_size("2048x2048 JPEG", &f, 257, 512, 512);
    free(f.p);
    free(pix);

    pix = photo(500, 375, 10);
    f = make_rgb_jpeg(pix, 500, 375, 90);
    expect_size("500x375 JPEG", &f, 256, 500, 375);
    expect_size("500x375 JPEG", &f, 187, 250, 188);
    free(f.p);
    free(pix);

    /* A camera-sized image, decoded whole and at 1/8. */
    pix = photo(5000, 3000, 0);
    f = make_rgb_jpeg(pix, 5000, 3000, 75);
    expect_size("5000x3000 JPEG", &f, 0, 5000, 3000);
    expect_size("5000x3000 JPEG", &f, 256, 625, 375);
    free(f.p);
    free(pix);
}

/* ---- PNG ------------------------------------------------------------------------------- */

struct png_out {
    uint8_t *p;
    size_t n, cap;
};

static void png_put(png_structp png, png_bytep d, size_t n)
{
    struct png_out *o = png_get_io_ptr(png);
    while (o->n + n > o->cap) {
        o->cap = o->cap ? 2 * o->cap : 4096;
        o->p = realloc(o->p, o->cap);
        if (!o->p) abort();
    }
    memcpy(o->p + o->n, d, n);
    o->n += n;
}

static void png_flush_nop(png_structp png) { (void)png; }

/* rows: h packed rows of the PNG's own layout (16-bit samples big-endian). */
static struct bytes make_png(const uint8_t *rows, int w, int h, int color_type, int depth,
                             int interlace, const png_color *pal, int npal, const png_byte *trns,
                             int ntrns)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    struct png_out o = {0};
    if (setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &o, png_put, png_flush_nop);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    png_bytep *rp = xmalloc(sizeof *rp * h);
    for (int y = 0; y < h; y++) rp[y] = (png_bytep)rows + y * rowbytes;
    png_write_image(png, rp);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rp);
    return (struct bytes){o.p, o.n};
}

/* A gray or RGB PNG whose tRNS chunk marks one colour transparent; rows packed. */
static struct bytes make_png_trns(const uint8_t *rows, int w, int h, int color_type, int depth,
                                  png_color_16 *colour)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    struct png_out o = {0};
    if (setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &o, png_put, png_flush_nop);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_tRNS(png, info, NULL, 0, colour);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, rows + y * rowbytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return (struct bytes){o.p, o.n};
}

static void check_png(const char *what, const struct bytes *f, int w, int h, const uint8_t *want)
{
    struct anet_image im;
    enum anet_status st = anet_image_decode(f->p, f->n, 0, &im);
    size_t bad = 0;
    for (size_t i = 0; st == ANET_OK && im.w == w && im.h == h && i < (size_t)w * h * 3; i++)
        bad += im.rgb[i] != want[i];
    T_OK(st == ANET_OK && im.w == w && im.h == h && bad == 0,
         "PNG %s %dx%d: decoded exactly (%zu samples differ) %s", what, w, h, bad,
         st ? anet_error_detail() : "");
    anet_image_free(&im);
}

static void test_png(void)
{
    t_seed(11);
    const int w = 29, h = 13; /* odd sizes: partial bytes of packed rows, partial Adam7 blocks */
    size_t n = (size_t)w * h;
    uint8_t *want = xmalloc(n * 3), *rows = xmalloc(n * 8);
    for (size_t i = 0; i < n * 3; i++) want[i] = (uint8_t)t_uniform(0, 256);

    struct bytes f = make_png(want, w, h, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0);
    check_png("RGB 8-bit", &f, w, h, want);
    free(f.p);
    f = make_png(want, w, h, PNG_COLOR_TYPE_RGB, 8, 1, NULL, 0, NULL, 0);
    check_png("RGB 8-bit interlaced", &f, w, h, want);
    struct bytes rgb8 = f;

    for (size_t i = 0; i < n; i++) {
        memcpy(rows + i * 4, want + i * 3, 3);
        rows[i * 4 + 3] = (uint8_t)(i % 3 == 0 ? 0 : t_uniform(0, 256));
    }
    f = make_png(rows, w, h, PNG_COLOR_TYPE_RGBA, 8, 0, NULL, 0, NULL, 0);
    check_png("RGBA 8-bit (alpha, even 0, dropped, not composited)", &f, w, h, want);
    free(f.p);

    /* 16-bit samples: v = 257·g + r scales to g for any |r| < 128 (round(v·255/65535)). */
    for (size_t i = 0; i < n * 3; i++) {
        unsigned v = 257u * want[i] + (want[i] < 128 ? (i % 100) : 0);
        rows[2 * i] = (uint8_t)(v >> 8), rows[2 * i + 1] = (uint8_t)v;
    }
    f = make_png(rows, w, h, PNG_COLOR_TYPE_RGB, 16, 1, NULL, 0, NULL, 0);
    check_png("RGB 16-bit interlaced", &f, w, h, want);
    free(f.p);

    uint8_t *gwant = xmalloc(n * 3);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 257u * want[i * 3] + (want[i * 3] < 128 ? 100 : 0);
        rows[2 * i] = (uint8_t)(v >> 8), rows[2 * i + 1] = (uint8_t)v;
        memset(gwant + i * 3, want[i * 3], 3);
    }
    f = make_png(rows, w, h, PNG_COLOR_TYPE_GRAY, 16, 0, NULL, 0, NULL, 0);
    check_png("gray 16-bit", &f, w, h, gwant);
    free(f.p);

    for (size_t i = 0; i < n; i++) rows[2 * i] = want[i * 3], rows[2 * i + 1] = (uint8_t)i;
    f = make_png(rows, w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, NULL, 0, NULL, 0);
    check_png("gray+alpha 8-bit", &f, w, h, gwant);
    free(f.p);

    png_color_16 rgb_trns = {.red = want[0], .green = want[1], .blue = want[2]};
    f = make_png_trns(want, w, h, PNG_COLOR_TYPE_RGB, 8, &rgb_trns);
    check_png("RGB 8-bit with tRNS (a transparent colour, ignored)", &f, w, h, want);
    free(f.p);
    /* 4-bit gray with a transparent level: expanded by 17 (0x5 → 0x55). */
    size_t rb4 = (w + 1) / 2;
    memset(rows, 0, rb4 * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int v = (x + 3 * y) % 16;
            rows[y * rb4 + x / 2] |= (uint8_t)(v << (x % 2 ? 0 : 4));
            memset(gwant + ((size_t)y * w + x) * 3, v * 17, 3);
        }
    png_color_16 gray_trns = {.gray = 5};
    f = make_png_trns(rows, w, h, PNG_COLOR_TYPE_GRAY, 4, &gray_trns);
    check_png("gray 4-bit with tRNS", &f, w, h, gwant);
    free(f.p);

    /* 1-bit gray: 0 → 0, 1 → 255; rows padded to whole bytes. */
    size_t rb1 = (w + 7) / 8;
    memset(rows, 0, rb1 * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int bit = (x * 7 + y * 3) % 5 < 2;
            rows[y * rb1 + x / 8] |= (uint8_t)(bit << (7 - x % 8));
            memset(gwant + ((size_t)y * w + x) * 3, bit ? 255 : 0, 3);
        }
    f = make_png(rows, w, h, PNG_COLOR_TYPE_GRAY, 1, 0, NULL, 0, NULL, 0);
    check_png("gray 1-bit", &f, w, h, gwant);
    free(f.p);

    const png_color pal[5] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {12, 34, 56}, {250, 240, 230}};
    const png_byte trns[2] = {0, 128};
    uint8_t *pwant = xmalloc(n * 3);
    for (size_t i = 0; i < n; i++) {
        int k = (int)(i * 7 % 5);
        rows[i] = (uint8_t)k;
        pwant[i * 3] = pal[k].red, pwant[i * 3 + 1] = pal[k].green, pwant[i * 3 + 2] = pal[k].blue;
    }
    f = make_png(rows, w, h, PNG_COLOR_TYPE_PALETTE, 8, 0, pal, 5, trns, 2);
    check_png("palette 8-bit with tRNS", &f, w, h, pwant);
    free(f.p);

    size_t rb2 = (w + 3) / 4;
    memset(rows, 0, rb2 * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int k = (x + 2 * y) % 4;
            rows[y * rb2 + x / 4] |= (uint8_t)(k << (6 - 2 * (x % 4)));
            uint8_t *p = pwant + ((size_t)y * w + x) * 3;
            p[0] = pal[k].red, p[1] = pal[k].green, p[2] = pal[k].blue;
        }
    f = make_png(rows, w, h, PNG_COLOR_TYPE_PALETTE, 2, 1, pal, 4, NULL, 0);
    check_png("palette 2-bit interlaced", &f, w, h, pwant);
    free(f.p);

    f = rgb8;
    expect_refused("PNG cut at half", f.p, f.n / 2, ANET_ERR_FORMAT, "truncated PNG data");
    expect_refused("PNG cut before IEND", f.p, f.n - 12, ANET_ERR_FORMAT, "truncated PNG data");
    expect_refused("PNG signature only", f.p, 8, ANET_ERR_FORMAT, "truncated PNG data");
    struct bytes g = {xmalloc(f.n), f.n};
    memcpy(g.p, f.p, f.n);
    g.p[g.n / 2] ^= 0x55;
    expect_refused("PNG with a damaged byte in IDAT", g.p, g.n, ANET_ERR_FORMAT,
                   "corrupt PNG data");
    memcpy(g.p, f.p, f.n);
    g.p[16] = 0, g.p[17] = 1, g.p[18] = 0x11, g.p[19] = 0x70; /* width 70000 */
    expect_refused("PNG claiming width 70000", g.p, g.n, ANET_ERR_FORMAT, "larger than 65500");
    memcpy(g.p + 16, "\x00\x00\x4e\x20\x00\x00\x4e\x20", 8); /* 20000 × 20000 */
    expect_refused("PNG claiming 20000x20000", g.p, g.n, ANET_ERR_FORMAT, "more than 2^28 pixels");
    free(g.p);
    free(rgb8.p);
    free(want);
    free(gwant);
    free(pwant);
    free(rows);
}

/* ---- files ------------------------------------------------------------------------------ */

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "test: cannot write '%s'\n", path);
        abort();
    }
}

static void test_load(void)
{
    char dir[] = "/tmp/anet_test_image.XXXXXX";
    if (!mkdtemp(dir)) {
        T_OK(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    char png_path[128], empty[128], cut[128], missing[128];
    snprintf(png_path, sizeof png_path, "%s/n02105855_2933.JPEG", dir);
    snprintf(empty, sizeof empty, "%s/empty.JPEG", dir);
    snprintf(cut, sizeof cut, "%s/cut.JPEG", dir);
    snprintf(missing, sizeof missing, "%s/missing.JPEG", dir);

    uint8_t px[6 * 4 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 37);
    struct bytes f = make_png(px, 6, 4, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0);
    write_file(png_path, f.p, f.n);
    free(f.p);
    struct anet_image im;
    enum anet_status st = anet_image_load(png_path, 0, &im);
    T_OK(st == ANET_OK && im.w == 6 && im.h == 4 && memcmp(im.rgb, px, sizeof px) == 0,
         "a PNG named .JPEG loads as PNG (magic bytes, not the name) %s",
         st ? anet_error_detail() : "");
    anet_image_free(&im);

    write_file(empty, "", 0);
    st = anet_image_load(empty, 0, &im);
    char want[256];
    snprintf(want, sizeof want, "'%s': empty file", empty);
    T_OK(st == ANET_ERR_FORMAT && strcmp(anet_error_detail(), want) == 0, "empty file: \"%s\"",
         anet_error_detail());

    uint8_t *pix = photo(64, 48, 10);
    f = make_rgb_jpeg(pix, 64, 48, 90);
    write_file(cut, f.p, f.n / 2);
    st = anet_image_load(cut, 0, &im);
    snprintf(want, sizeof want, "'%s': truncated JPEG data", cut);
    T_OK(st == ANET_ERR_FORMAT && strcmp(anet_error_detail(), want) == 0 && !im.rgb,
         "truncated JPEG file: \"%s\"", anet_error_detail());
    anet_image_free(&im);
    free(f.p);
    free(pix);

    st = anet_image_load(missing, 0, &im);
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", missing);
    T_OK(st == ANET_ERR_IO && strcmp(anet_error_detail(), want) == 0, "missing file: \"%s\"",
         anet_error_detail());
    st = anet_image_load(dir, 0, &im);
    T_OK(st == ANET_ERR_IO && has(anet_error_detail(), dir), "a directory: \"%s\"",
         anet_error_detail());
    /* what is not a regular file is refused without being opened for long or read */
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/pipe.JPEG", dir);
    mkfifo(fifo, 0600);
    st = anet_image_load(fifo, 0, &im);
    snprintf(want, sizeof want, "'%s' is a FIFO, not an image", fifo);
    T_OK(st == ANET_ERR_IO && !strcmp(anet_error_detail(), want), "a FIFO: \"%s\"",
         anet_error_detail());
    unlink(fifo);
    st = anet_image_load("/dev/zero", 0, &im);
    T_OK(st == ANET_ERR_IO && !strcmp(anet_error_detail(), "'/dev/zero' is a character device, "
                                      "not an image"),
         "/dev/zero: \"%s\"", anet_error_detail());

    unlink(png_path);
    unlink(empty);
    unlink(cut);
    rmdir(dir);
}

/* ---- resizing --------------------------------------------------------------------------- */

static struct anet_image image_new(int w, int h)
{
    return (struct anet_image){w, h, xmalloc((size_t)w * h * 3)};
}

static struct anet_image random_image(int w, int h)
{
    struct anet_image im = image_new(w, h);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) im.rgb[i] = (uint8_t)t_uniform(0, 256);
    return im;
}

/* The filter written out directly, in double: output i of in → out samples is centred at
 * input pixel coordinate c = (i + 0.5)·in/out − 0.5 and weights input pixel j by
 * max(0, 1 − |j − c|/f), f = max(in/out, 1), normalised over the pixels of the image. */
static void ref_weights(int in, int out, int i, double *w)
{
    double s = (double)in / out, f = s > 1 ? s : 1, c = (i + 0.5) * s - 0.5, sum = 0;
    for (int j = 0; j < in; j++) {
        double t = fabs(j - c) / f;
        w[j] = t < 1 ? 1 - t : 0;
        sum += w[j];
    }
    for (int j = 0; j < in; j++) w[j] /= sum;
}

static struct anet_image ref_resize(const struct anet_image *in, int ow, int oh)
{
    struct anet_image out = image_new(ow, oh);
    double *wx = xmalloc(sizeof(double) * in->w * ow), *wy = xmalloc(sizeof(double) * in->h * oh);
    for (int x = 0; x < ow; x++) ref_weights(in->w, ow, x, wx + (size_t)x * in->w);
    for (int y = 0; y < oh; y++) ref_weights(in->h, oh, y, wy + (size_t)y * in->h);
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            double acc[3] = {0, 0, 0};
            for (int j = 0; j < in->h; j++) {
                double a = wy[(size_t)y * in->h + j];
                if (a == 0) continue;
                for (int i = 0; i < in->w; i++) {
                    double b = a * wx[(size_t)x * in->w + i];
                    if (b == 0) continue;
                    for (int c = 0; c < 3; c++)
                        acc[c] += b * in->rgb[((size_t)j * in->w + i) * 3 + c];
                }
            }
            for (int c = 0; c < 3; c++) {
                double v = floor(acc[c] + 0.5);
                out.rgb[((size_t)y * ow + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    free(wx);
    free(wy);
    return out;
}

static void test_resize_vs_reference(void)
{
    static const int cases[][4] = {{500, 375, 341, 256}, {37, 23, 91, 60},     {50, 50, 7, 13},
                                   {1, 1, 5, 3},         {13, 1, 4, 4},        {100, 10, 33, 40},
                                   {64, 48, 64, 48},     {640, 480, 227, 227}, {3, 7, 300, 2}};
    t_seed(3);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int *c = cases[k];
        struct anet_image in = random_image(c[0], c[1]), out, ref = ref_resize(&in, c[2], c[3]);
        enum anet_status st = anet_image_resize(&in, c[2], c[3], &out);
        size_t n = (size_t)c[2] * c[3] * 3, same = 0;
        int max = 0;
        for (size_t i = 0; st == ANET_OK && i < n; i++) {
            int d = abs(out.rgb[i] - ref.rgb[i]);
            same += d == 0;
            if (d > max) max = d;
        }
        T_OK(st == ANET_OK && out.w == c[2] && out.h == c[3] && max <= 1,
             "resize %dx%d -> %dx%d (random) == slow reference within 1: max diff %d, %.4f%% exact",
             c[0], c[1], c[2], c[3], max, 100.0 * same / n);
        if (c[0] == c[2] && c[1] == c[3])
            T_OK(st == ANET_OK && memcmp(out.rgb, in.rgb, n) == 0,
                 "resize to the same size is a copy");
        anet_image_free(&in);
        anet_image_free(&out);
        anet_image_free(&ref);
    }
}

static void test_resize_properties(void)
{
    struct anet_image in = image_new(37, 23), out;
    for (int i = 0; i < 37 * 23; i++)
        in.rgb[3 * i] = 12, in.rgb[3 * i + 1] = 200, in.rgb[3 * i + 2] = 255;
    static const int sizes[][2] = {{11, 5}, {100, 61}, {37, 50}, {1, 1}, {256, 3}};
    int constant = 1;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        if (anet_image_resize(&in, sizes[k][0], sizes[k][1], &out)) constant = 0;
        for (int i = 0; out.rgb && i < out.w * out.h; i++)
            constant &=
                out.rgb[3 * i] == 12 && out.rgb[3 * i + 1] == 200 && out.rgb[3 * i + 2] == 255;
        anet_image_free(&out);
    }
    T_OK(constant, "a constant image stays exactly constant (shrink, enlarge, mixed, 1x1)");
    anet_image_free(&in);

    /* 1-pixel checkerboard shrunk 2×: the filter averages 4 taps per axis (1/8, 3/8, 3/8,
     * 1/8), i.e. mid-grey; a nearest-neighbour or unfiltered bilinear shrink gives 0 or 255. */
    in = image_new(64, 64);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            memset(in.rgb + ((size_t)y * 64 + x) * 3, (x + y) % 2 ? 255 : 0, 3);
    enum anet_status st = anet_image_resize(&in, 32, 32, &out);
    int lo = 255, hi = 0;
    for (int y = 1; st == ANET_OK && y < 31; y++)
        for (int x = 1; x < 31; x++)
            for (int c = 0; c < 3; c++) {
                int v = out.rgb[((size_t)y * 32 + x) * 3 + c];
                lo = v < lo ? v : lo, hi = v > hi ? v : hi;
            }
    T_OK(st == ANET_OK && lo >= 127 && hi <= 128,
         "checkerboard 64x64 -> 32x32: interior all mid-grey, %d..%d (127..128)", lo, hi);
    anet_image_free(&out);
    anet_image_free(&in);

    in = random_image(20, 10);
    struct anet_image copy = image_new(20, 10);
    memcpy(copy.rgb, in.rgb, 600);
    struct anet_image expect;
    anet_image_resize(&copy, 9, 31, &expect);
    st = anet_image_resize(&in, 9, 31, &in);
    T_OK(st == ANET_OK && in.w == 9 && in.h == 31 && memcmp(in.rgb, expect.rgb, 9 * 31 * 3) == 0,
         "resize in place (out == in) gives the same pixels");
    anet_image_free(&in);
    anet_image_free(&copy);
    anet_image_free(&expect);

    in = random_image(4, 4);
    T_OK(anet_image_resize(&in, 0, 5, &out) == ANET_ERR_INVALID &&
             anet_image_resize(&in, 20000, 20000, &out) == ANET_ERR_INVALID &&
             anet_image_fit(&in, 0, ANET_FIT_CROP, &out) == ANET_ERR_INVALID &&
             anet_image_fit(&in, 256, (enum anet_fit)7, &out) == ANET_ERR_INVALID,
         "resize to 0x5 or 20000x20000, fit to side 0 or mode 7: ANET_ERR_INVALID");
    anet_image_free(&in);
    struct anet_image empty = {0};
    T_OK(anet_image_resize(&empty, 5, 5, &out) == ANET_ERR_INVALID,
         "resize of an empty image: invalid (%s)", anet_error_detail());
    in = random_image(65500, 2);
    T_OK(anet_image_fit(&in, 256, ANET_FIT_NONE, &out) == ANET_ERR_INVALID,
         "fit NONE of 65500x2 to 256 (8.4M x 256): refused: %s", anet_error_detail());
    anet_image_free(&in);
}

static void test_fit(void)
{
    static const int cases[][3] = {
        {500, 375, 256}, {375, 500, 256}, {300, 300, 256}, {10, 7, 256},    {7, 10, 256},
        {3000, 20, 256}, {20, 3000, 256}, {257, 256, 256}, {333, 500, 224}, {2, 1, 5}};
    t_seed(5);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int w = cases[k][0], h = cases[k][1], side = cases[k][2];
        int rw = w <= h ? side : (int)floor((double)w * side / h + 0.5);
        int rh = h <= w ? side : (int)floor((double)h * side / w + 0.5);
        struct anet_image in = random_image(w, h), full, crop, none;
        enum anet_status st = anet_image_resize(&in, rw, rh, &full);
        if (!st) st = anet_image_fit(&in, side, ANET_FIT_CROP, &crop);
        int x0 = (rw - side) / 2, y0 = (rh - side) / 2,
            same = st == ANET_OK && crop.w == side && crop.h == side;
        for (int y = 0; same && y < side; y++)
            same = memcmp(crop.rgb + (size_t)y * side * 3,
                          full.rgb + ((size_t)(y0 + y) * rw + x0) * 3, (size_t)side * 3) == 0;
        T_OK(same,
             "fit CROP %dx%d to %d == resize to %dx%d, then the central square at (%d,%d), exactly",
             w, h, side, rw, rh, x0, y0);
        st = anet_image_fit(&in, side, ANET_FIT_NONE, &none);
        T_OK(st == ANET_OK && none.w == rw && none.h == rh &&
                 memcmp(none.rgb, full.rgb, (size_t)rw * rh * 3) == 0,
             "fit NONE %dx%d to %d: %dx%d (want %dx%d), the resized image", w, h, side, none.w,
             none.h, rw, rh);
        anet_image_free(&in);
        anet_image_free(&full);
        anet_image_free(&crop);
        anet_image_free(&none);
    }
    struct anet_image in = random_image(500, 375), sq, ref;
    enum anet_status st = anet_image_fit(&in, 256, ANET_FIT_SQUASH, &sq);
    anet_image_resize(&in, 256, 256, &ref);
    T_OK(st == ANET_OK && sq.w == 256 && sq.h == 256 && memcmp(sq.rgb, ref.rgb, 256 * 256 * 3) == 0,
         "fit SQUASH 500x375 to 256: resize to 256x256");
    anet_image_free(&in);
    anet_image_free(&sq);
    anet_image_free(&ref);
}

static void test_bgr_planes(void)
{
    struct anet_image im = image_new(3, 2);
    for (int i = 0; i < 6; i++)
        im.rgb[3 * i] = (uint8_t)(10 + i), im.rgb[3 * i + 1] = (uint8_t)(20 + i),
                   im.rgb[3 * i + 2] = (uint8_t)(30 + i);
    uint8_t chw[18];
    anet_image_to_bgr_planes(&im, chw);
    int ok = 1;
    for (int i = 0; i < 6; i++)
        ok &= chw[i] == 30 + i && chw[6 + i] == 20 + i && chw[12 + i] == 10 + i;
    T_OK(ok, "to_bgr_planes: plane 0 is B, 1 G, 2 R, each row-major h x w");
    anet_image_free(&im);
    T_OK(im.rgb == NULL && im.w == 0, "anet_image_free clears the struct");
}

int main(void)
{
    test_jpeg_colours();
    test_refusals();
    test_dct_scaling();
    test_png();
    test_load();
    test_resize_vs_reference();
    test_resize_properties();
    test_fit();
    test_bgr_planes();
    return t_done();
}
