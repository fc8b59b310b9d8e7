/* alexnet-synth: a synthetic dataset in ImageNet's layout, so that the pipeline can be
 * tried, tested and benchmarked without ImageNet.
 *
 * Usage: alexnet-synth -o DIR [OPTIONS]
 * Writes DIR/train/<wnid>/<wnid>_<i>.JPEG, DIR/val/<wnid>/ILSVRC2012_val_<n>.JPEG,
 * DIR/synset_words.txt and DIR/val.txt. A class is a visual signature — a kind of shape,
 * a hue, a fill texture and a size — drawn a few times per image at random places, sizes,
 * rotations and stretches over a cluttered background (a gradient, faint shapes of other
 * classes, noise), with per-image brightness, contrast and white-balance jitter: classes
 * differ by content, not by one colour or one pixel statistic.
 *
 * Every image is a pure function of (seed, split, class, index in class): its numbers come
 * from a generator seeded by Philox words of that key, so the files are byte-identical for
 * any thread count, and --train 10 writes the first ten images of --train 100. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/file.h"
#include "alexnet/image.h"
#include "alexnet/rng.h"
#include "alexnet/threads.h"
#include "cli.h"

enum { MAX_SIDE = 8192 }; /* --size limit */

/* ---- classes: shape x hue x fill x size --------------------------------------------------
 * Class c is (shape c mod 9, hue c mod 13, fill c mod 5, size c mod 2): the moduli are
 * pairwise coprime, so by the Chinese remainder theorem the first 1170 classes are all
 * different, and any few consecutive classes differ in every feature. */
enum { SHAPES = 9, HUES = 13, FILLS = 5, SIZES = 2, MAX_CLASSES = SHAPES * HUES * FILLS * SIZES };
enum { FILL_SOLID, FILL_STRIPED, FILL_CHECKED, FILL_SPOTTED, FILL_OUTLINED };

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-synth -o DIR [OPTIONS]\n"
            "Make a synthetic dataset in ImageNet's layout: JPEG images of made-up classes,\n"
            "each class a kind of shape with its own hue, texture and size, drawn several\n"
            "times over a cluttered background.\n"
            "\n"
            "Dataset:\n"
            "      --classes N        classes, 1..%d (10)\n"
            "      --first-class K    the catalogue's classes from K on (1): other classes\n"
            "                         than another dataset's, e.g. to fine-tune on\n"
            "      --train N          training images per class (100)\n"
            "      --val N            validation images per class (20)\n"
            "      --seed S           the same seed gives the same files, byte for byte (1)\n"
            "      --size LO-HI       width and height in pixels, each drawn from LO..HI,\n"
            "                         16..8192 (300-500); one number fixes both\n"
            "      --quality LO-HI    JPEG quality drawn from LO..HI, 1..100 (85-95)\n"
            "Output:\n"
            "  -o, --output DIR       the dataset directory (required); it must not exist or\n"
            "                         be empty\n"
            "      --force            write into a non-empty DIR, replacing an earlier\n"
            "                         dataset there; files not named as its are left\n"
            "Running:\n"
            "  -j, --threads N        threads (all cores)\n"
            "  -q, --quiet            no progress and no summary on stderr\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "Writes DIR/train/WNID/WNID_I.JPEG, DIR/val/WNID/ILSVRC2012_val_NNNNNNNN.JPEG,\n"
            "DIR/synset_words.txt and DIR/val.txt (Caffe's 'path label' list). A TSV\n"
            "summary (split, classes, images, bytes) goes to stdout.\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n",
            MAX_CLASSES);
}

static const char *const shape_names[SHAPES] = {"discs",  "squares",  "triangles",
                                                "rings",  "crosses",  "stars",
                                                "diamonds", "bars",   "crescents"};
/* Hue h is at h * 360/13 degrees; the names are the nearest common colour words. */
static const char *const hue_names[HUES] = {"red",  "orange", "yellow", "lime",   "green",
                                            "emerald", "turquoise", "sky", "azure", "blue",
                                            "violet", "magenta", "rose"};
static const char *const fill_names[FILLS] = {"", "striped ", "checked ", "spotted ",
                                              "outlined "};
static const char *const size_names[SIZES] = {"small", "large"};

static void class_words(int c, char *buf, size_t size)
{
    snprintf(buf, size, "%s %s %s%s", size_names[c % SIZES], hue_names[c % HUES],
             fill_names[c % FILLS], shape_names[c % SHAPES]);
}

/* ---- per-image random numbers --------------------------------------------------------------
 * Philox gives the image its seed; splitmix64 draws the rest (millions a second per image
 * would be too slow through Philox, and nothing outside the image needs them). */
#define SYNTH_RNG 0x53594e54u /* "SYNT": a stream of its own, apart from the library's */

struct rnd {
    uint64_t s;
};

static uint64_t rnd_next(struct rnd *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rnd_unif(struct rnd *r, float a, float b)
{
    return a + (b - a) * (float)(rnd_next(r) >> 40) * (1.0f / 16777216.0f);
}

static int rnd_int(struct rnd *r, int lo, int hi) /* lo..hi inclusive */
{
    return lo + (int)(((rnd_next(r) >> 32) * (uint64_t)(hi - lo + 1)) >> 32);
}

static struct rnd image_rnd(uint64_t seed, int split, int cls, long i)
{
    uint64_t base = ((uint64_t)split << 52) | ((uint64_t)i << 2);
    struct rnd r = {((uint64_t)anet_rng_u32(seed, (uint32_t)cls, SYNTH_RNG, base) << 32) |
                    anet_rng_u32(seed, (uint32_t)cls, SYNTH_RNG, base + 1)};
    return r;
}

/* ---- drawing ------------------------------------------------------------------------------ */

static void hsv_rgb(float h, float s, float v, float rgb[3]) /* h degrees; out 0..255 */
{
    h = fmodf(h, 360.0f);
    if (h < 0) h += 360.0f;
    float c = v * s, x = c * (1 - fabsf(fmodf(h / 60.0f, 2.0f) - 1)), m = v - c, r, g, b;
    switch ((int)(h / 60.0f)) {
    case 0: r = c, g = x, b = 0; break;
    case 1: r = x, g = c, b = 0; break;
    case 2: r = 0, g = c, b = x; break;
    case 3: r = 0, g = x, b = c; break;
    case 4: r = x, g = 0, b = c; break;
    default: r = c, g = 0, b = x; break;
    }
    rgb[0] = 255 * (r + m), rgb[1] = 255 * (g + m), rgb[2] = 255 * (b + m);
}

/* One drawn shape. Local coordinates (u, v): the shape fits the unit disc. */
struct inst {
    float cx, cy; /* centre, pixels */
    float r;      /* radius, pixels */
    float cs, sn; /* rotation */
    float sx, sy; /* stretch of the local axes */
    float k;      /* texture cycles per local unit */
    float col[3], dark[3], alpha;
    int shape, fill;
};

/* Not fmaxf/fminf: those are libm calls (NaN rules) in the innermost loop. */
static inline float maxf(float a, float b) { return a > b ? a : b; }
static inline float minf(float a, float b) { return a < b ? a : b; }
static inline float clamp01(float a) { return a < 0 ? 0 : a > 1 ? 1 : a; }

/* Approximate signed distance to the shape's edge in local units, negative inside. */
static float shape_sd(int shape, float u, float v, float r)
{
    float au = fabsf(u), av = fabsf(v);
    switch (shape) {
    case 0: return r - 0.95f;                      /* disc */
    case 1: return maxf(au, av) - 0.68f;           /* square */
    case 2: /* triangle: three half-planes */
        return maxf(-v, maxf(0.866f * u + 0.5f * v, -0.866f * u + 0.5f * v)) - 0.47f;
    case 3: return fabsf(r - 0.7f) - 0.25f;        /* ring */
    case 4: return minf(maxf(au - 0.9f, av - 0.27f), maxf(au - 0.27f, av - 0.9f)); /* cross */
    case 5: { /* five-pointed star: radius 0.4 + 0.55 cos^4(5θ/2), cos 5θ = Re((u+iv)^5)/r^5 */
        if (r < 1e-6f) return -0.4f;
        float u2 = u * u, v2 = v * v, r5 = r * r * r * r * r;
        float c5 = u * (u2 * u2 - 10 * u2 * v2 + 5 * v2 * v2) / r5, t = 0.5f * (1 + c5);
        return 0.5f * (r - (0.4f + 0.55f * t * t));
    }
    case 6: return (au + av - 0.95f) * 0.70710678f; /* diamond */
    case 7: return maxf(au - 0.95f, av - 0.28f);    /* bar */
    default: { /* crescent: a disc less a disc shifted right */
        float du = u - 0.42f;
        return maxf(r - 0.95f, 0.72f - sqrtf(du * du + v * v));
    }
    }
}

/* How much of the fill's second (dark) colour covers (u, v); px = pixels per local unit
 * gives a one-pixel antialiased edge. */
static float fill_dark(int fill, float u, float v, float k, float px)
{
    float fu = u * k, fv = v * k, d;
    switch (fill) {
    case FILL_STRIPED:
        fu -= floorf(fu);
        d = fabsf(fu - 0.5f) - 0.25f;
        break;
    case FILL_CHECKED: {
        float iu = floorf(fu), iv = floorf(fv);
        fu -= iu, fv -= iv;
        d = minf(minf(fu, 1 - fu), minf(fv, 1 - fv));
        if (((int)iu + (int)iv) & 1) d = -d;
        break;
    }
    case FILL_SPOTTED:
        fu -= floorf(fu) + 0.5f, fv -= floorf(fv) + 0.5f;
        d = sqrtf(fu * fu + fv * fv) - 0.3f;
        break;
    default: return 0;
    }
    return clamp01(0.5f - d / k * px);
}

static void draw_inst(struct anet_image *im, const struct inst *s)
{
    float ext = s->r * maxf(s->sx, s->sy) + 2;
    int x0 = (int)floorf(s->cx - ext), x1 = (int)ceilf(s->cx + ext);
    int y0 = (int)floorf(s->cy - ext), y1 = (int)ceilf(s->cy + ext);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > im->w - 1) x1 = im->w - 1;
    if (y1 > im->h - 1) y1 = im->h - 1;
    float px = s->r * minf(s->sx, s->sy), iu = 1 / (s->r * s->sx), iv = 1 / (s->r * s->sy);
    float reach = (1 + 1 / px) * (1 + 1 / px); /* no shape reaches past r = 1 + half a pixel */
    int patterned = s->fill != FILL_SOLID && s->fill != FILL_OUTLINED;
    /* u^2 + v^2 = A dx^2 + B dx + C: the row's pixels inside r^2 <= reach span the roots */
    float qa = s->cs * s->cs * iu * iu + s->sn * s->sn * iv * iv;
    float qb = 2 * s->cs * s->sn * (iu * iu - iv * iv);
    float qc = s->sn * s->sn * iu * iu + s->cs * s->cs * iv * iv;
    for (int y = y0; y <= y1; y++) {
        float dy = (float)y + 0.5f - s->cy;
        float b = qb * dy, disc = b * b - 4 * qa * (qc * dy * dy - reach);
        if (disc < 0) continue;
        float root = sqrtf(disc);
        int xa = (int)floorf(s->cx + (-b - root) / (2 * qa)) - 1;
        int xb = (int)ceilf(s->cx + (-b + root) / (2 * qa)) + 1;
        if (xa < x0) xa = x0;
        if (xb > x1) xb = x1;
        uint8_t *p = im->rgb + ((size_t)y * (size_t)im->w + (size_t)xa) * 3;
        for (int x = xa; x <= xb; x++, p += 3) {
            float dx = (float)x + 0.5f - s->cx;
            float u = (dx * s->cs + dy * s->sn) * iu, v = (dy * s->cs - dx * s->sn) * iv;
            float r2 = u * u + v * v;
            if (r2 > reach) continue;
            float r = sqrtf(r2), sd = shape_sd(s->shape, u, v, r);
            if (s->fill == FILL_OUTLINED) sd = maxf(sd, -sd - 0.2f);
            float a = 0.5f - sd * px;
            if (a <= 0) continue;
            a = (a > 1 ? 1 : a) * s->alpha;
            float t = patterned ? fill_dark(s->fill, u, v, s->k, px) : 0;
            for (int ch = 0; ch < 3; ch++) {
                float col = s->col[ch] + (s->dark[ch] - s->col[ch]) * t;
                p[ch] = (uint8_t)((float)p[ch] + (col - (float)p[ch]) * a + 0.5f);
            }
        }
    }
}

/* A shape of features (shape, hue, fill) at a random place, size and pose. */
static void random_inst(struct rnd *g, const struct anet_image *im, int shape, int hue,
                        int fill, float rlo, float rhi, float alo, float ahi, struct inst *s)
{
    float side = (float)(im->w < im->h ? im->w : im->h), ang = rnd_unif(g, 0, 6.2831853f);
    s->shape = shape, s->fill = fill;
    s->cx = rnd_unif(g, 0.05f, 0.95f) * (float)im->w;
    s->cy = rnd_unif(g, 0.05f, 0.95f) * (float)im->h;
    s->r = rnd_unif(g, rlo, rhi) * side;
    s->cs = cosf(ang), s->sn = sinf(ang);
    s->sx = rnd_unif(g, 0.85f, 1.15f), s->sy = rnd_unif(g, 0.85f, 1.15f);
    s->k = s->r / (rnd_unif(g, 0.18f, 0.25f) * s->r + 6); /* a period of 10..30 pixels */
    hsv_rgb((float)hue * (360.0f / HUES) + rnd_unif(g, -8, 8), rnd_unif(g, 0.6f, 1),
            rnd_unif(g, 0.55f, 1), s->col);
    float dark = rnd_unif(g, 0.2f, 0.4f);
    for (int ch = 0; ch < 3; ch++) s->dark[ch] = s->col[ch] * dark;
    s->alpha = rnd_unif(g, alo, ahi);
}

/* Value noise at grid point (ix, iy), uniform in [-amp, amp]: a hash, so rows can be made
 * on demand. */
static float grain(uint64_t key, int ix, int iy, float amp)
{
    uint64_t z = key ^ (((uint64_t)(uint32_t)iy << 32) | (uint32_t)ix);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((float)(z >> 40) * (2.0f / 16777216.0f) - 1) * amp;
}

/* Fills im (w, h already set, rgb big enough) with one image of class cls. */
static void render(struct rnd *g, int cls, struct anet_image *im)
{
    int w = im->w, h = im->h;
    /* background: a linear gradient between two muted colours, with a grainy texture
     * (value noise on a grid of 2..6 pixels, bilinear) that gives the JPEG coder work as a
     * photograph's surfaces do */
    float a[3], b[3], ang = rnd_unif(g, 0, 6.2831853f), ca = cosf(ang), sa = sinf(ang);
    hsv_rgb(rnd_unif(g, 0, 360), rnd_unif(g, 0.05f, 0.5f), rnd_unif(g, 0.25f, 0.9f), a);
    hsv_rgb(rnd_unif(g, 0, 360), rnd_unif(g, 0.05f, 0.5f), rnd_unif(g, 0.25f, 0.9f), b);
    float span = fabsf((float)w * ca) + fabsf((float)h * sa);
    int cell = rnd_int(g, 2, 6), gw = w / cell + 2;
    float tamp = rnd_unif(g, 6, 24), top[MAX_SIDE / 2 + 3], bot[MAX_SIDE / 2 + 3],
          row[MAX_SIDE / 2 + 3];
    uint64_t tkey = rnd_next(g);
    for (int ix = 0; ix < gw; ix++) bot[ix] = grain(tkey, ix, 0, tamp);
    for (int y = 0; y < h; y++) {
        if (y % cell == 0) {
            memcpy(top, bot, (size_t)gw * sizeof *top);
            for (int ix = 0; ix < gw; ix++) bot[ix] = grain(tkey, ix, y / cell + 1, tamp);
        }
        float ty = ((float)(y % cell) + 0.5f) / (float)cell;
        for (int ix = 0; ix < gw; ix++) row[ix] = top[ix] + (bot[ix] - top[ix]) * ty;
        uint8_t *p = im->rgb + (size_t)y * (size_t)w * 3;
        float ty0 = 0.5f + ((float)y - 0.5f * (float)h) * sa / span;
        for (int x0 = 0, ix = 0; x0 < w; x0 += cell, ix++) {
            float dg = (row[ix + 1] - row[ix]) / (float)cell;
            int x1 = x0 + cell < w ? x0 + cell : w;
            for (int x = x0; x < x1; x++, p += 3) {
                float t = ty0 + ((float)x - 0.5f * (float)w) * ca / span;
                float gv = row[ix] + dg * ((float)(x - x0) + 0.5f);
                for (int ch = 0; ch < 3; ch++) {
                    float v = a[ch] + (b[ch] - a[ch]) * t + gv + 0.5f;
                    p[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
        }
    }
    /* clutter: faint shapes of other classes */
    int nclutter = rnd_int(g, 4, 9), shape = cls % SHAPES, hue = cls % HUES;
    for (int i = 0; i < nclutter; i++) {
        int oc = rnd_int(g, 0, MAX_CLASSES - 1);
        if (oc % SHAPES == shape && oc % HUES == hue) oc = (oc + 1) % MAX_CLASSES;
        struct inst s;
        random_inst(g, im, oc % SHAPES, oc % HUES, oc % FILLS, 0.06f, 0.4f, 0.12f, 0.35f, &s);
        draw_inst(im, &s);
    }
    /* the class's own shapes: many small ones or a few large ones */
    int large = cls % SIZES, n = large ? rnd_int(g, 1, 3) : rnd_int(g, 4, 8);
    for (int i = 0; i < n; i++) {
        struct inst s;
        random_inst(g, im, shape, hue, cls % FILLS, large ? 0.18f : 0.06f, large ? 0.3f : 0.1f,
                    0.85f, 1, &s);
        draw_inst(im, &s);
    }
    /* exposure: contrast, brightness, white balance, then sensor-like noise */
    float contrast = rnd_unif(g, 0.75f, 1.25f), bright = rnd_unif(g, -25, 25);
    uint8_t lut[3][256];
    for (int ch = 0; ch < 3; ch++) {
        float gain = contrast * rnd_unif(g, 0.9f, 1.1f);
        for (int v = 0; v < 256; v++) {
            float o = ((float)v - 128) * gain + 128 + bright;
            lut[ch][v] = (uint8_t)(o < 0 ? 0 : o > 255 ? 255 : o + 0.5f);
        }
    }
    int16_t noise[511]; /* triangular noise indexed by the sum of two random bytes */
    float amp = rnd_unif(g, 2, 8);
    for (int i = 0; i < 511; i++) noise[i] = (int16_t)lrintf((float)(i - 255) * amp / 127.5f);
    size_t npix = (size_t)w * (size_t)h;
    uint8_t *p = im->rgb;
    for (size_t i = 0; i < npix; i++, p += 3) {
        uint64_t z = rnd_next(g);
        for (int ch = 0; ch < 3; ch++, z >>= 16) {
            int v = lut[ch][p[ch]] + noise[(z & 255) + ((z >> 8) & 255)];
            p[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* ---- files -------------------------------------------------------------------------------- */

/* The first failure, written under omp critical; failing tells the other threads to stop. */
static char errmsg[PATH_MAX + 128];
static int failing;

static void set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
#pragma omp critical(synth_error)
    if (!errmsg[0]) vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
#pragma omp atomic write
    failing = 1;
}

/* dir/name appears complete or not at all: written as dir/.name.tmp.PID, then renamed. No
 * fsync per file (the dataset can be made again from its seed); one syncfs at the end. */
static int put_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int e = 0;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, name, (long)getpid()) >= (int)sizeof tmp)
        e = ENAMETOOLONG;
    /* exclusive: a link planted at the temporary's name must not receive the image */
    int fd = e ? -1 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && !e) e = errno;
    const uint8_t *p = data;
    while (!e && len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) e = n < 0 ? errno : EIO;
        else p += n, len -= (size_t)n;
    }
    if (fd >= 0 && close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (!e) return 0;
    if (fd >= 0) unlink(tmp);
    set_error("cannot write '%s/%s': %s", dir, name, strerror(e));
    return -1;
}

static int make_dir(const char *path)
{
    struct stat st;
    if (mkdir(path, 0755) == 0) return 0;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    if (errno == EEXIST) errno = ENOTDIR;
    cli_error("cannot create directory '%s': %s", path, strerror(errno));
    return -1;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        cli_error("cannot create directory '%s': %s", path, strerror(ENAMETOOLONG));
        return -1;
    }
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        struct stat st;
        if (stat(buf, &st) != 0 && make_dir(buf) != 0) return -1;
        *s = '/';
    }
    return make_dir(buf);
}

/* 1 when dir holds anything, 0 when empty, -1 when it cannot be read (message printed). */
static int dir_nonempty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        cli_error("cannot open '%s': %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d)))
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return any;
}

/* ---- the dataset -------------------------------------------------------------------------- */

struct synth {
    const char *dir;
    int classes;
    int first;       /* the catalogue's classes first .. first + classes - 1 (from 0) */
    long train, val; /* per class */
    uint64_t seed;
    int size_lo, size_hi, q_lo, q_hi;
    uint32_t *val_of; /* val number n (0-based) -> class * val + index in class */
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* The shuffled numbering of the validation images, as ILSVRC's: number n is image
 * val_of[n] (Fisher-Yates on Philox words, stream (seed, step 0, SYNTH_RNG + 1)). */
static int number_val(struct synth *S)
{
    size_t n = (size_t)S->classes * (size_t)S->val;
    S->val_of = malloc((n ? n : 1) * sizeof *S->val_of);
    if (!S->val_of) return -1;
    for (size_t i = 0; i < n; i++) S->val_of[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        uint32_t u = anet_rng_u32(S->seed, 0, SYNTH_RNG + 1, i);
        size_t j = (size_t)(((uint64_t)u * i) >> 32);
        uint32_t t = S->val_of[i - 1];
        S->val_of[i - 1] = S->val_of[j], S->val_of[j] = t;
    }
    return 0;
}

/* Image number job: the training images class by class, then the validation images by
 * number. Returns its JPEG size, or -1 on failure (errmsg set). */
static long make_image(const struct synth *S, long job, struct anet_image *im)
{
    long ntrain = S->classes * S->train;
    int split = job >= ntrain, cls;
    long idx;
    char dir[PATH_MAX], name[64];
    if (!split) {
        cls = S->first + (int)(job / S->train), idx = job % S->train;
        snprintf(name, sizeof name, "n%08d_%ld.JPEG", cls + 1, idx + 1);
    } else {
        long n = job - ntrain, id = S->val_of[n];
        cls = S->first + (int)(id / S->val), idx = id % S->val;
        snprintf(name, sizeof name, "ILSVRC2012_val_%08ld.JPEG", n + 1);
    }
    snprintf(dir, sizeof dir, "%s/%s/n%08d", S->dir, split ? "val" : "train", cls + 1);

    struct rnd g = image_rnd(S->seed, split, cls, idx);
    im->w = rnd_int(&g, S->size_lo, S->size_hi);
    im->h = rnd_int(&g, S->size_lo, S->size_hi);
    int quality = rnd_int(&g, S->q_lo, S->q_hi);
    render(&g, cls, im);

    uint8_t *jpeg;
    size_t len;
    enum anet_status s = anet_image_encode_jpeg(im, quality, &jpeg, &len);
    if (s) {
        set_error("%s/%s: %s", dir, name, anet_error_detail());
        return -1;
    }
    int r = put_file(dir, name, jpeg, len);
    free(jpeg);
    return r ? -1 : (long)len;
}

static int write_index(const struct synth *S, int force)
{
    char path[PATH_MAX], words[96];
    struct anet_afile *f;
    enum anet_status s;

    snprintf(path, sizeof path, "%s/synset_words.txt", S->dir);
    if ((s = anet_afile_open(path, force, &f))) return cli_fail(s, 0, NULL);
    for (int c = S->first; c < S->first + S->classes; c++) {
        class_words(c, words, sizeof words);
        fprintf(anet_afile_stream(f), "n%08d %s\n", c + 1, words);
    }
    if ((s = anet_afile_commit(f))) return cli_fail(s, 0, NULL);

    snprintf(path, sizeof path, "%s/val.txt", S->dir);
    if ((s = anet_afile_open(path, force, &f))) return cli_fail(s, 0, NULL);
    for (long n = 0; n < S->classes * S->val; n++) {
        int c = (int)(S->val_of[n] / S->val);
        fprintf(anet_afile_stream(f), "n%08d/ILSVRC2012_val_%08ld.JPEG %d\n", S->first + c + 1,
                n + 1, c);
    }
    if ((s = anet_afile_commit(f))) return cli_fail(s, 0, NULL);
    return 0;
}

/* The number of a class folder named as this tool names them ("n%08d", from 1), else 0. */
static long folder_class(const char *name)
{
    char want[32], *end;
    if (name[0] != 'n' || !isdigit((unsigned char)name[1])) return 0;
    long c = strtol(name + 1, &end, 10);
    snprintf(want, sizeof want, "n%08ld", c);
    return *end || c < 1 || strcmp(want, name) ? 0 : c;
}

/* The image number of a file named as this tool names them in class folder wnid
 * ("<wnid>_<i>.JPEG" in train, "ILSVRC2012_val_<n>.JPEG" in val), else 0. */
static long layout_number(int split, const char *wnid, const char *name)
{
    const char *p = name;
    char want[64], *end;
    if (!split) {
        size_t n = strlen(wnid);
        if (strncmp(name, wnid, n) != 0 || name[n] != '_') return 0;
        p += n + 1;
    } else {
        if (strncmp(name, "ILSVRC2012_val_", 15) != 0) return 0;
        p += 15;
    }
    if (!isdigit((unsigned char)*p)) return 0;
    long i = strtol(p, &end, 10);
    if (i < 1 || strcmp(end, ".JPEG") != 0) return 0;
    if (split) snprintf(want, sizeof want, "ILSVRC2012_val_%08ld.JPEG", i);
    else snprintf(want, sizeof want, "%s_%ld.JPEG", wnid, i);
    return strcmp(want, name) ? 0 : i;
}

/* A temporary file of put_file's naming, ".<layout name>.tmp.<pid>". */
static int layout_temp(int split, const char *wnid, const char *name)
{
    const char *tmp = strstr(name, ".JPEG.tmp.");
    char base[64];
    if (name[0] != '.' || !tmp || (size_t)(tmp - name) + 5 >= sizeof base) return 0;
    for (const char *p = tmp + 10; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    memcpy(base, name + 1, (size_t)(tmp - name) + 4);
    base[tmp - name + 4] = 0;
    return layout_number(split, wnid, base) > 0;
}

/* With --force: removes what an earlier dataset left in DIR/train and DIR/val that this
 * run did not write, as long as it is named as this tool names files (images, their
 * temporary files, class folders); counts the rest, which is kept, and names the first. */
static void clean_stale(const struct synth *S, long *removed, long *kept, char *first,
                        size_t size)
{
    *removed = *kept = 0;
    first[0] = 0;
    for (int split = 0; split < 2; split++) {
        char sdir[PATH_MAX], cdir[PATH_MAX + 256], path[PATH_MAX + 512];
        snprintf(sdir, sizeof sdir, "%s/%s", S->dir, split ? "val" : "train");
        DIR *d = opendir(sdir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            long g = folder_class(e->d_name), c = g - S->first; /* c: from 1 in this set */
            int ours = c >= 1 && c <= S->classes;
            snprintf(cdir, sizeof cdir, "%s/%s", sdir, e->d_name);
            DIR *cd = g ? opendir(cdir) : NULL;
            if (!cd) {
                if (!(*kept)++) snprintf(first, size, "%s", cdir);
                continue;
            }
            struct dirent *f;
            while ((f = readdir(cd))) {
                if (!strcmp(f->d_name, ".") || !strcmp(f->d_name, "..")) continue;
                snprintf(path, sizeof path, "%s/%s", cdir, f->d_name);
                long n = layout_number(split, e->d_name, f->d_name);
                int current = n && ours &&
                              (split ? n <= S->classes * S->val &&
                                           (long)(S->val_of[n - 1] / S->val) == c - 1
                                     : n <= S->train);
                if (current) continue;
                if ((n || layout_temp(split, e->d_name, f->d_name)) && unlink(path) == 0) {
                    (*removed)++;
                    continue;
                }
                if (!(*kept)++) snprintf(first, size, "%s", path);
            }
            closedir(cd);
            if (!ours) rmdir(cdir); /* fails, rightly, when something was kept */
        }
        closedir(d);
    }
}

/* "LO-HI" or "N" within [min, max]. */
static void parse_range(const char *opt, const char *text, int min, int max, int *lo, int *hi)
{
    const char *dash = strchr(text, '-');
    char buf[64];
    if (!dash) {
        *lo = *hi = cli_int(opt, text, min, max);
        return;
    }
    if (dash == text || (size_t)(dash - text) >= sizeof buf || !dash[1])
        cli_usage_error("--%s: '%s' is not a number or a range LO-HI", opt, text);
    memcpy(buf, text, (size_t)(dash - text));
    buf[dash - text] = 0;
    *lo = cli_int(opt, buf, min, max);
    *hi = cli_int(opt, dash + 1, min, max);
    if (*lo > *hi) cli_usage_error("--%s: the range %d-%d is empty", opt, *lo, *hi);
}

static uint64_t parse_seed(const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-')
        cli_usage_error("--seed: '%s' is not a non-negative integer", text);
    return (uint64_t)v;
}

int main(int argc, char **argv)
{
    enum { OPT_CLASSES = 1000, OPT_FIRST, OPT_TRAIN, OPT_VAL, OPT_SEED, OPT_SIZE, OPT_QUALITY,
           OPT_FORCE, OPT_VERSION };
    static const struct option longopts[] = {{"classes", required_argument, 0, OPT_CLASSES},
                                             {"first-class", required_argument, 0, OPT_FIRST},
                                             {"train", required_argument, 0, OPT_TRAIN},
                                             {"val", required_argument, 0, OPT_VAL},
                                             {"seed", required_argument, 0, OPT_SEED},
                                             {"size", required_argument, 0, OPT_SIZE},
                                             {"quality", required_argument, 0, OPT_QUALITY},
                                             {"output", required_argument, 0, 'o'},
                                             {"force", no_argument, 0, OPT_FORCE},
                                             {"threads", required_argument, 0, 'j'},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"help", no_argument, 0, 'h'},
                                             {"version", no_argument, 0, OPT_VERSION},
                                             {0, 0, 0, 0}};
    cli_init("alexnet-synth");
    struct synth S = {.classes = 10, .train = 100, .val = 20, .seed = 1,
                      .size_lo = 300, .size_hi = 500, .q_lo = 85, .q_hi = 95};
    int force = 0, quiet = 0, threads = 0, opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:j:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_CLASSES: S.classes = cli_int("classes", optarg, 1, MAX_CLASSES); break;
        case OPT_FIRST: S.first = cli_int("first-class", optarg, 1, MAX_CLASSES) - 1; break;
        case OPT_TRAIN: S.train = cli_int("train", optarg, 0, 1000000); break;
        case OPT_VAL: S.val = cli_int("val", optarg, 0, 100000); break;
        case OPT_SEED: S.seed = parse_seed(optarg); break;
        case OPT_SIZE: parse_range("size", optarg, 16, MAX_SIDE, &S.size_lo, &S.size_hi); break;
        case OPT_QUALITY: parse_range("quality", optarg, 1, 100, &S.q_lo, &S.q_hi); break;
        case 'o': S.dir = optarg; break;
        case OPT_FORCE: force = 1; break;
        case 'j': threads = cli_int("threads", optarg, 1, 1024); break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case OPT_VERSION: cli_version(); return EXIT_OK;
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!S.dir || !*S.dir) cli_usage_error("no output directory: give -o DIR");
    if (S.train == 0 && S.val == 0) cli_usage_error("--train 0 and --val 0: nothing to make");
    if (S.first + S.classes > MAX_CLASSES)
        cli_usage_error("--first-class %d --classes %d: the catalogue has classes 1..%d",
                        S.first + 1, S.classes, MAX_CLASSES);
    if (threads == 0) threads = omp_get_num_procs();

    struct stat st;
    if (stat(S.dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            cli_error("'%s' exists and is not a directory", S.dir);
            return EXIT_RUNTIME;
        }
        int full = dir_nonempty(S.dir);
        if (full < 0) return EXIT_RUNTIME;
        if (full && !force) {
            cli_error("'%s' exists and is not empty (use --force to write into it)", S.dir);
            return EXIT_RUNTIME;
        }
    }
    if (make_dirs(S.dir)) return EXIT_RUNTIME;
    for (int split = 0; split < 2; split++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s/%s", S.dir, split ? "val" : "train");
        if (make_dir(d)) return EXIT_RUNTIME;
        for (int c = 0; c < S.classes; c++) {
            if (snprintf(d, sizeof d, "%s/%s/n%08d", S.dir, split ? "val" : "train",
                         S.first + c + 1) >=
                (int)sizeof d) {
                cli_error("'%s': %s", S.dir, strerror(ENAMETOOLONG));
                return EXIT_RUNTIME;
            }
            if (make_dir(d)) return EXIT_RUNTIME;
        }
    }
    if (force) { /* an interrupted run must not leave the earlier dataset's index behind */
        for (int i = 0; i < 2; i++) {
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", S.dir, i ? "val.txt" : "synset_words.txt");
            if (unlink(p) != 0 && errno != ENOENT) {
                cli_error("cannot remove '%s': %s", p, strerror(errno));
                return EXIT_RUNTIME;
            }
        }
    }
    if (number_val(&S)) {
        cli_error("out of memory numbering %ld validation images", S.classes * S.val);
        return EXIT_RUNTIME;
    }

    /* A signal lets the images in progress finish, so no temporary file is left; signals
     * ignored on entry (nohup, a background job) stay ignored. */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction sa = {0}, old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }

    long ntrain = S.classes * S.train, total = ntrain + S.classes * S.val, done = 0;
    long long bytes[2] = {0, 0};
    int progress = !quiet && isatty(STDERR_FILENO);
    double t0 = anet_seconds(), last = t0;
#pragma omp parallel num_threads(threads)
    {
        struct anet_image im = {0, 0, malloc((size_t)S.size_hi * (size_t)S.size_hi * 3)};
        if (!im.rgb) set_error("out of memory for a %dx%d image", S.size_hi, S.size_hi);
        long long mine[2] = {0, 0};
#pragma omp for schedule(dynamic, 1)
        for (long job = 0; job < total; job++) {
            int give_up;
#pragma omp atomic read
            give_up = failing;
            if (give_up || stop_signal) continue;
            long len = make_image(&S, job, &im);
            if (len < 0) continue;
            mine[job >= ntrain] += len;
            long n;
#pragma omp atomic capture
            n = ++done;
            if (progress && omp_get_thread_num() == 0) {
                double now = anet_seconds();
                if (now - last >= 0.25) {
                    fprintf(stderr, "\ralexnet-synth: %ld/%ld images", n, total);
                    last = now;
                }
            }
        }
#pragma omp atomic
        bytes[0] += mine[0];
#pragma omp atomic
        bytes[1] += mine[1];
        free(im.rgb);
    }
    if (progress) fprintf(stderr, "\r%60s\r", "");
    if (stop_signal || failing) free(S.val_of);
    if (stop_signal) {
        cli_error("interrupted after %ld of %ld %s; no index files written", done, total,
                  cli_plural(total, "image", "images"));
        signal(stop_signal, SIG_DFL);
        raise(stop_signal);
        return EXIT_RUNTIME;
    }
    if (failing) {
        cli_error("%s", errmsg);
        return EXIT_RUNTIME;
    }
    if (force) {
        char first[PATH_MAX + 512];
        long removed, kept;
        clean_stale(&S, &removed, &kept, first, sizeof first);
        if (removed && !quiet)
            anet_log(ANET_LOG_INFO, "removed %ld file%s of an earlier dataset in '%s'", removed,
                     removed == 1 ? "" : "s", S.dir);
        if (kept)
            anet_log(ANET_LOG_WARN, "'%s' also holds %ld entr%s not of this dataset, e.g. "
                     "'%s'; left in place", S.dir, kept, kept == 1 ? "y" : "ies", first);
    }
    int r = write_index(&S, force);
    free(S.val_of);
    if (r) return r;
    int dfd = open(S.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) syncfs(dfd), close(dfd);
    double secs = anet_seconds() - t0;

    printf("#split\tclasses\timages\tbytes\n");
    printf("train\t%d\t%ld\t%lld\n", S.classes, ntrain, bytes[0]);
    printf("val\t%d\t%ld\t%lld\n", S.classes, total - ntrain, bytes[1]);
    if (!quiet)
        fprintf(stderr, "alexnet-synth: %ld %s, %.1f MB in %.2f s (%.0f images/s) -> %s\n",
                total, cli_plural(total, "image", "images"), (double)(bytes[0] + bytes[1]) / 1e6, secs, secs > 0 ? total / secs : 0.0,
                S.dir);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
