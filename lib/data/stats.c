/* The training set's statistics: exact integer accumulation over images, the covariance
 * and its eigen-decomposition, and the stats text file (alexnet-files(5)).
 *
 * Exactness: every sum is an integer, so the result does not depend on the order images
 * are added or on how many accumulators were merged. The per-image inner loops work in
 * narrow lanes the compiler vectorises (uint8 widened to uint16 sums for the mean image,
 * uint32 sums of uint16 products for the covariance) and flush to uint64 before a lane can
 * overflow. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/file.h"
#include "alexnet/stats.h"

/* A uint16 per-pixel lane holds 257 images of 255 before it could overflow (257 × 255 =
 * 65535). uint16 rather than uint32 halves the buffer the add streams through (384 KiB for
 * 3 × 256 × 256 instead of 768 KiB), so it stays in a per-core L2 cache. */
enum { PIX16_IMAGES = 65535 / 255 };

/* The covariance loop sums products of two uint8 (at most 255² = 65025) in uint32 lanes:
 * 66051 of them fit, so a plane is processed in chunks of this many pixels. */
enum { PROD_CHUNK = 65536 };

/* The planes arrive B, G, R; the sums are kept in plane order and mapped to R, G, B only
 * in finish. prod[] holds the 6 distinct products in the order of PROD_INDEX. */
static const int PROD_INDEX[3][3] = {{0, 1, 2}, {1, 3, 4}, {2, 4, 5}};

struct anet_stats_acc {
    int channels, height, width;
    size_t plane;           /* height × width */
    uint64_t images;
    unsigned pending;       /* images in pix16 not yet flushed to pix64 */
    uint16_t *pix16;        /* channels × plane */
    uint64_t *pix64;        /* channels × plane */
    uint64_t sum[3];        /* Σ x_c over every pixel, plane order (B, G, R) */
    uint64_t prod[6];       /* Σ x_c·x_d, plane order, PROD_INDEX */
};

enum anet_status anet_stats_acc_create(int channels, int height, int width,
                                       struct anet_stats_acc **out)
{
    *out = NULL;
    if (channels != 3)
        return anet_fail(ANET_ERR_INVALID,
                         "colour statistics need 3 channels (B, G, R), got %d", channels);
    if (height < 1 || width < 1)
        return anet_fail(ANET_ERR_INVALID, "image size %dx%d is not positive", height,
                         width);
    struct anet_stats_acc *a = calloc(1, sizeof *a);
    size_t n = (size_t)channels * (size_t)height * (size_t)width;
    if (!a || !(a->pix16 = calloc(n, sizeof *a->pix16)) ||
        !(a->pix64 = calloc(n, sizeof *a->pix64))) {
        anet_stats_acc_free(a);
        return anet_fail(ANET_ERR_NOMEM, "out of memory for a %dx%dx%d stats accumulator",
                         channels, height, width);
    }
    a->channels = channels, a->height = height, a->width = width;
    a->plane = (size_t)height * (size_t)width;
    *out = a;
    return ANET_OK;
}

void anet_stats_acc_free(struct anet_stats_acc *a)
{
    if (!a) return;
    free(a->pix16);
    free(a->pix64);
    free(a);
}

static void flush_pixels(struct anet_stats_acc *a)
{
    size_t n = (size_t)a->channels * a->plane;
    uint16_t *restrict p16 = a->pix16;
    uint64_t *restrict p64 = a->pix64;
    for (size_t i = 0; i < n; i++) p64[i] += p16[i];
    memset(p16, 0, n * sizeof *p16);
    a->pending = 0;
}

static void add_pixels(uint16_t *restrict sum, const uint8_t *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++) sum[i] = (uint16_t)(sum[i] + x[i]);
}

/* Sums of x_c and of the 6 products x_c·x_d over n ≤ PROD_CHUNK pixels of the three
 * planes; every partial sum fits its uint32 lane. */
static void add_moments(uint64_t sum[3], uint64_t prod[6], const uint8_t *restrict b,
                        const uint8_t *restrict g, const uint8_t *restrict r, size_t n)
{
    uint32_t sb = 0, sg = 0, sr = 0, bb = 0, bg = 0, br = 0, gg = 0, gr = 0, rr = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t xb = b[i], xg = g[i], xr = r[i];
        sb += xb, sg += xg, sr += xr;
        bb += (uint16_t)(xb * xb), bg += (uint16_t)(xb * xg), br += (uint16_t)(xb * xr);
        gg += (uint16_t)(xg * xg), gr += (uint16_t)(xg * xr), rr += (uint16_t)(xr * xr);
    }
    sum[0] += sb, sum[1] += sg, sum[2] += sr;
    prod[0] += bb, prod[1] += bg, prod[2] += br, prod[3] += gg, prod[4] += gr, prod[5] += rr;
}

void anet_stats_acc_add(struct anet_stats_acc *a, const uint8_t *bgr_planes)
{
    size_t plane = a->plane;
    if (a->pending == PIX16_IMAGES) flush_pixels(a);
    add_pixels(a->pix16, bgr_planes, 3 * plane);
    a->pending++;
    const uint8_t *b = bgr_planes, *g = b + plane, *r = g + plane;
    for (size_t i = 0; i < plane; i += PROD_CHUNK) {
        size_t n = plane - i < PROD_CHUNK ? plane - i : PROD_CHUNK;
        add_moments(a->sum, a->prod, b + i, g + i, r + i, n);
    }
    a->images++;
}

void anet_stats_acc_merge(struct anet_stats_acc *a, const struct anet_stats_acc *b)
{
    size_t n = (size_t)a->channels * a->plane;
    for (size_t i = 0; i < n; i++) a->pix64[i] += b->pix64[i] + b->pix16[i];
    for (int c = 0; c < 3; c++) a->sum[c] += b->sum[c];
    for (int k = 0; k < 6; k++) a->prod[k] += b->prod[k];
    a->images += b->images;
}

uint64_t anet_stats_acc_images(const struct anet_stats_acc *a) { return a->images; }

/* (P·Σxy − Σx·Σy) / P², the centred second moment, from exact integers: the numerator is
 * formed without rounding (128-bit where the compiler has it), so the cancellation between
 * the two terms costs nothing. */
static double centred_moment(uint64_t pixels, uint64_t sxy, uint64_t sx, uint64_t sy)
{
#ifdef __SIZEOF_INT128__
    __int128 num = (__int128)pixels * (__int128)sxy - (__int128)sx * (__int128)sy;
    return (double)num / ((double)pixels * (double)pixels);
#else
    long double p = pixels;
    return (double)(((long double)sxy - (long double)sx * (long double)sy / p) / p);
#endif
}

enum anet_status anet_stats_acc_finish(const struct anet_stats_acc *a, struct anet_stats *s,
                                       float *mean_image)
{
    if (a->images == 0)
        return anet_fail(ANET_ERR_INVALID, "no images were added to the statistics");
    memset(s, 0, sizeof *s);
    s->images = a->images;
    s->pixels = a->images * a->plane;
    s->channels = a->channels, s->height = a->height, s->width = a->width;
    /* RGB index k is plane 2 − k. */
    for (int i = 0; i < 3; i++) {
        int pi = 2 - i;
        s->mean[i] = (double)a->sum[pi] / (255.0 * (double)s->pixels);
        for (int j = 0; j < 3; j++) {
            int pj = 2 - j;
            s->cov[i][j] = centred_moment(s->pixels, a->prod[PROD_INDEX[pi][pj]], a->sum[pi],
                                          a->sum[pj]) / (255.0 * 255.0);
        }
        s->std[i] = sqrt(s->cov[i][i]);
    }
    anet_sym3_eigen((const double(*)[3])s->cov, s->eigval, s->eigvec);
    /* A covariance has no negative eigenvalue; rounding can leave -1e-17 where the colours
     * are degenerate (a grey-only set), which would read as a mistake in the file. */
    for (int i = 0; i < 3; i++)
        if (s->eigval[i] < 0) s->eigval[i] = 0;
    if (mean_image) {
        size_t n = (size_t)a->channels * a->plane;
        double images = (double)a->images;
        for (size_t i = 0; i < n; i++)
            mean_image[i] = (float)((double)(a->pix64[i] + a->pix16[i]) / images);
    }
    return ANET_OK;
}

/* ---- eigen-decomposition -------------------------------------------------------------- */

/* |x| is below rounding next to |d|: adding 100·|x| to |d| leaves it unchanged (the test of
 * Numerical Recipes' jacobi). */
static int negligible(double x, double d) { return fabs(d) + 100.0 * fabs(x) == fabs(d); }

/* One Jacobi rotation that zeroes a[p][q] (p < q, r the third index), accumulated into
 * the columns of v. t = tan θ is the smaller root, which keeps the rotation stable. */
static void jacobi_rotate(double a[3][3], double v[3][3], int p, int q)
{
    int r = 3 - p - q;
    double apq = a[p][q], h = a[q][q] - a[p][p], t;
    if (negligible(apq, h)) {
        t = apq / h;
    } else {
        double theta = 0.5 * h / apq;
        t = 1.0 / (fabs(theta) + sqrt(1.0 + theta * theta));
        if (theta < 0) t = -t;
    }
    double c = 1.0 / sqrt(1.0 + t * t), s = t * c;
    a[p][p] -= t * apq;
    a[q][q] += t * apq;
    a[p][q] = a[q][p] = 0;
    double arp = a[r][p], arq = a[r][q];
    a[r][p] = a[p][r] = c * arp - s * arq;
    a[r][q] = a[q][r] = s * arp + c * arq;
    for (int k = 0; k < 3; k++) {
        double vkp = v[k][p], vkq = v[k][q];
        v[k][p] = c * vkp - s * vkq;
        v[k][q] = s * vkp + c * vkq;
    }
}

/* Cyclic Jacobi: sweeps over the three off-diagonal pairs until each is zero or negligible
 * next to both diagonal entries it couples. Convergence is quadratic, so a handful of sweeps
 * reach machine precision; the limit only guards against NaN input. */
static void jacobi(double a[3][3], double v[3][3])
{
    static const int PAIRS[3][2] = {{0, 1}, {0, 2}, {1, 2}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) v[i][j] = i == j;
    for (int sweep = 0; sweep < 50; sweep++) {
        if (a[0][1] == 0 && a[0][2] == 0 && a[1][2] == 0) return;
        for (int k = 0; k < 3; k++) {
            int p = PAIRS[k][0], q = PAIRS[k][1];
            if (a[p][q] == 0) continue;
            if (negligible(a[p][q], a[p][p]) && negligible(a[p][q], a[q][q]))
                a[p][q] = a[q][p] = 0;
            else
                jacobi_rotate(a, v, p, q);
        }
    }
}

/* Unit length, and the largest-magnitude component (the first of equals) positive. */
static void normalise_sign(double x[3])
{
    double n = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    if (n > 0)
        for (int k = 0; k < 3; k++) x[k] /= n;
    int big = 0;
    for (int k = 1; k < 3; k++)
        if (fabs(x[k]) > fabs(x[big])) big = k;
    if (x[big] < 0)
        for (int k = 0; k < 3; k++) x[k] = -x[k];
}

void anet_sym3_eigen(const double m[3][3], double val[3], double vec[3][3])
{
    double a[3][3], v[3][3];
    /* The upper triangle defines the matrix, so a slightly asymmetric input is read as
     * one symmetric matrix rather than two halves that disagree. */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) a[i][j] = i <= j ? m[i][j] : m[j][i];
    jacobi(a, v);
    int order[3] = {0, 1, 2};
    for (int i = 1; i < 3; i++)
        for (int j = i; j > 0 && a[order[j]][order[j]] > a[order[j - 1]][order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    for (int i = 0; i < 3; i++) {
        int k = order[i];
        val[i] = a[k][k];
        for (int c = 0; c < 3; c++) vec[i][c] = v[c][k];
        normalise_sign(vec[i]);
    }
}

/* ---- the stats file ------------------------------------------------------------------- */

enum { STATS_VERSION = 1 };
/* The largest image side anything decodes (image.h), so the largest a mean can have. */
enum { STATS_MAX_SIDE = 65500 };
/* A line of the file is a name and three numbers of 17 digits: anything longer is not a
 * stats file (and a file without line breaks cannot make the reader take more). */
enum { STATS_MAX_LINE = 1024 };

static void put_row(FILE *f, const char *name, const double x[3])
{
    fprintf(f, "%s\t%.17g %.17g %.17g\n", name, x[0], x[1], x[2]);
}

void anet_stats_write_stream(FILE *f, const struct anet_stats *s)
{
    fprintf(f, "# alexnet colour statistics (see alexnet-files(5))\n");
    fprintf(f, "version\t%d\n", STATS_VERSION);
    fprintf(f, "images\t%llu\n", (unsigned long long)s->images);
    fprintf(f, "pixels\t%llu\n", (unsigned long long)s->pixels);
    fprintf(f, "size\t%dx%dx%d\n", s->channels, s->height, s->width);
    fprintf(f, "scale\t0..1\n");
    fprintf(f, "channels\tR G B\n");
    put_row(f, "mean", s->mean);
    put_row(f, "std", s->std);
    for (int i = 0; i < 3; i++) put_row(f, "cov", s->cov[i]);
    put_row(f, "eigval", s->eigval);
    for (int i = 0; i < 3; i++) put_row(f, "eigvec", s->eigvec[i]);
}

enum anet_status anet_stats_write(const char *path, const struct anet_stats *s, int overwrite)
{
    struct anet_afile *af;
    enum anet_status st = anet_afile_open(path, overwrite, &af);
    if (st) return st;
    anet_stats_write_stream(anet_afile_stream(af), s);
    return anet_afile_commit(af);
}

/* The fields of the file, in the order they are written; rows > 1 for the matrices. */
enum field { F_VERSION, F_IMAGES, F_PIXELS, F_SIZE, F_SCALE, F_CHANNELS, F_MEAN, F_STD,
             F_COV, F_EIGVAL, F_EIGVEC, F_COUNT };
static const struct {
    const char *name;
    int rows;
} FIELDS[F_COUNT] = {{"version", 1}, {"images", 1}, {"pixels", 1}, {"size", 1},
                     {"scale", 1},   {"channels", 1}, {"mean", 1}, {"std", 1},
                     {"cov", 3},     {"eigval", 1}, {"eigvec", 3}};

struct reader {
    const char *path;
    long line;
    int seen[F_COUNT];
};

static enum anet_status bad_line(const struct reader *r, const char *what, const char *value)
{
    return anet_fail(ANET_ERR_FORMAT, "%s:%ld: %s: '%s'", r->path, r->line, what, value);
}

/* A decimal integer with nothing around it (strtoull would accept a sign and spaces). */
static enum anet_status parse_u64(const struct reader *r, const char *name, const char *v,
                                  uint64_t *out)
{
    uint64_t x = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10) return bad_line(r, "number too large", v);
        x = x * 10 + d;
    }
    if (p == v || *p) {
        char what[64];
        snprintf(what, sizeof what, "'%s' is not a whole number", name);
        return bad_line(r, what, v);
    }
    *out = x;
    return ANET_OK;
}

/* Three finite numbers separated by spaces, nothing else. */
static enum anet_status parse_row(const struct reader *r, const char *name, const char *v,
                                  double x[3])
{
    const char *p = v;
    for (int k = 0; k < 3; k++) {
        while (*p == ' ') p++;
        char *end;
        errno = 0;
        x[k] = strtod(p, &end);
        if (end == p || (*end && *end != ' ') || !isfinite(x[k])) {
            char what[64];
            snprintf(what, sizeof what, "'%s' needs 3 finite numbers", name);
            return bad_line(r, what, v);
        }
        p = end;
    }
    while (*p == ' ') p++;
    if (*p) {
        char what[64];
        snprintf(what, sizeof what, "'%s' has more than 3 numbers", name);
        return bad_line(r, what, v);
    }
    return ANET_OK;
}

static enum anet_status parse_size(const struct reader *r, const char *v,
                                   struct anet_stats *s)
{
    int c, h, w, n = 0;
    if (sscanf(v, "%dx%dx%d%n", &c, &h, &w, &n) != 3 || v[n] || v[0] < '0' || v[0] > '9' ||
        c < 1 || h < 1 || w < 1)
        return bad_line(r, "'size' must be CxHxW with positive integers", v);
    if (c != 3) return bad_line(r, "'size' must have 3 channels", v);
    if (h > STATS_MAX_SIDE || w > STATS_MAX_SIDE)
        return bad_line(r, "'size' has a side over 65500 pixels", v);
    s->channels = c, s->height = h, s->width = w;
    return ANET_OK;
}

static enum anet_status parse_field(struct reader *r, enum field f, int row, const char *v,
                                    struct anet_stats *s)
{
    uint64_t version;
    enum anet_status st;
    switch (f) {
    case F_VERSION:
        if ((st = parse_u64(r, "version", v, &version))) return st;
        if (version != STATS_VERSION)
            return anet_fail(ANET_ERR_FORMAT,
                             "%s:%ld: version %s is not supported (this build reads %d)",
                             r->path, r->line, v, STATS_VERSION);
        return ANET_OK;
    case F_IMAGES: return parse_u64(r, "images", v, &s->images);
    case F_PIXELS: return parse_u64(r, "pixels", v, &s->pixels);
    case F_SIZE: return parse_size(r, v, s);
    case F_SCALE:
        return strcmp(v, "0..1") ? bad_line(r, "scale must be '0..1'", v) : ANET_OK;
    case F_CHANNELS:
        return strcmp(v, "R G B") ? bad_line(r, "channels must be 'R G B'", v) : ANET_OK;
    case F_MEAN: return parse_row(r, "mean", v, s->mean);
    case F_STD: return parse_row(r, "std", v, s->std);
    case F_COV: return parse_row(r, "cov", v, s->cov[row]);
    case F_EIGVAL: return parse_row(r, "eigval", v, s->eigval);
    case F_EIGVEC: return parse_row(r, "eigvec", v, s->eigvec[row]);
    case F_COUNT: break;
    }
    return anet_fail(ANET_ERR_INTERNAL, "%s:%ld: unhandled field", r->path, r->line);
}

static enum anet_status read_line(struct reader *r, char *line, size_t len,
                                  struct anet_stats *s)
{
    if (strlen(line) != len)
        return anet_fail(ANET_ERR_FORMAT, "%s:%ld: a NUL byte: not a text file", r->path,
                         r->line);
    if (len == 0 || line[len - 1] != '\n')
        return anet_fail(ANET_ERR_FORMAT, "%s:%ld: truncated: the last line has no newline",
                         r->path, r->line);
    line[--len] = 0;
    if (len && line[len - 1] == '\r') line[--len] = 0;
    if (line[0] == '#' || len == 0) return ANET_OK;
    char *tab = strchr(line, '\t');
    if (!tab)
        return anet_fail(ANET_ERR_FORMAT, "%s:%ld: expected 'name<TAB>values', got '%s'",
                         r->path, r->line, line);
    *tab = 0;
    const char *v = tab + 1;
    for (int f = 0; f < F_COUNT; f++) {
        if (strcmp(line, FIELDS[f].name)) continue;
        if (r->seen[f] == FIELDS[f].rows) {
            if (FIELDS[f].rows == 1)
                return anet_fail(ANET_ERR_FORMAT, "%s:%ld: repeated field '%s'", r->path,
                                 r->line, line);
            return anet_fail(ANET_ERR_FORMAT, "%s:%ld: more than %d '%s' lines", r->path,
                             r->line, FIELDS[f].rows, line);
        }
        return parse_field(r, (enum field)f, r->seen[f]++, v, s);
    }
    return anet_fail(ANET_ERR_FORMAT, "%s:%ld: unknown field '%s'", r->path, r->line, line);
}

/* Rounding slack on the bounds below: the values are computed exactly and written with 17
 * digits, so a file we wrote is far inside them. */
#define SLACK 1e-9

static enum anet_status out_of_range(const struct reader *r, const char *name, int row,
                                     double v, const char *range)
{
    char at[16] = "";
    if (row) snprintf(at, sizeof at, " row %d", row);
    return anet_fail(ANET_ERR_FORMAT, "%s: '%s'%s value %g is outside %s: not the statistics "
                     "of 0..255 pixels", r->path, name, at, v, range);
}

/* What pixel values in 0..1 allow: means in [0, 1], a variance at most 1/4 (so standard
 * deviations up to 1/2, covariances up to 1/4 in size), eigenvalues between 0 and the
 * trace (3/4), unit eigenvectors. */
static enum anet_status check_plausible(const struct reader *r, const struct anet_stats *s)
{
    for (int i = 0; i < 3; i++) {
        if (!(s->mean[i] >= -SLACK && s->mean[i] <= 1 + SLACK))
            return out_of_range(r, "mean", 0, s->mean[i], "0..1");
        if (!(s->std[i] >= 0 && s->std[i] <= 0.5 + SLACK))
            return out_of_range(r, "std", 0, s->std[i], "0..0.5");
        if (!(s->eigval[i] >= -SLACK && s->eigval[i] <= 0.75 + SLACK))
            return out_of_range(r, "eigval", 0, s->eigval[i], "0..0.75");
        double norm = 0;
        for (int j = 0; j < 3; j++) {
            if (!(fabs(s->cov[i][j]) <= 0.25 + SLACK))
                return out_of_range(r, "cov", i + 1, s->cov[i][j], "-0.25..0.25");
            norm += s->eigvec[i][j] * s->eigvec[i][j];
        }
        if (!(fabs(norm - 1) < 1e-6))
            return anet_fail(ANET_ERR_FORMAT, "%s: 'eigvec' row %d has length %.17g, not 1",
                             r->path, i + 1, sqrt(norm));
    }
    return ANET_OK;
}

static enum anet_status check_complete(const struct reader *r, const struct anet_stats *s)
{
    for (int f = 0; f < F_COUNT; f++) {
        if (r->seen[f] == 0)
            return anet_fail(ANET_ERR_FORMAT, "%s: missing field '%s'", r->path,
                             FIELDS[f].name);
        if (r->seen[f] < FIELDS[f].rows)
            return anet_fail(ANET_ERR_FORMAT, "%s: truncated: %d of %d '%s' lines", r->path,
                             r->seen[f], FIELDS[f].rows, FIELDS[f].name);
    }
    if (s->images == 0)
        return anet_fail(ANET_ERR_FORMAT, "%s: 'images' is 0", r->path);
    uint64_t per_image = (uint64_t)s->height * (uint64_t)s->width;
    if (s->pixels / per_image != s->images || s->pixels % per_image)
        return anet_fail(ANET_ERR_FORMAT,
                         "%s: 'pixels' %llu is not images × height × width (%llu × %d × %d)",
                         r->path, (unsigned long long)s->pixels,
                         (unsigned long long)s->images, s->height, s->width);
    return check_plausible(r, s);
}

enum anet_status anet_stats_read_stream(FILE *f, const char *path, struct anet_stats *s)
{
    struct reader r = {.path = path};
    struct anet_stats tmp = {0};
    char line[STATS_MAX_LINE];
    size_t len;
    enum anet_status st = ANET_OK;
    int got;
    while (!st && (got = anet_file_line(f, line, sizeof line, &len)) != 0) {
        r.line++;
        if (got == -1)
            st = anet_fail(ANET_ERR_FORMAT, "%s:%ld: a line longer than %d bytes: not a stats "
                           "file", path, r.line, STATS_MAX_LINE - 2);
        else if (got == -2)
            st = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
        else
            st = read_line(&r, line, len, &tmp);
    }
    if (!st) st = check_complete(&r, &tmp);
    if (!st) *s = tmp;
    return st;
}

enum anet_status anet_stats_read(const char *path, struct anet_stats *s)
{
    FILE *f;
    enum anet_status st = anet_file_open(path, "a stats file", &f);
    if (st) return st;
    st = anet_stats_read_stream(f, path, s);
    fclose(f);
    return st;
}
