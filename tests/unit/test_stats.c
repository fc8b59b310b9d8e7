/* The training-set statistics: the 3×3 eigen-decomposition, the exact accumulator against
 * a direct double computation, the stats text file and Caffe's BlobProto mean image. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "alexnet/stats.h"
#include "test.h"

static char dir[] = "/tmp/anet-stats-XXXXXX";

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "test: cannot write '%s': %s\n", path, strerror(errno));
        abort();
    }
}

static int has(const char *text, const char *part) { return strstr(text, part) != NULL; }

/* ---- eigen ---------------------------------------------------------------------------- */

/* Q = Rz(a)·Ry(b)·Rx(c): an orthonormal basis in no special position. */
static void rotation(double a, double b, double c, double q[3][3])
{
    double rz[3][3] = {{cos(a), -sin(a), 0}, {sin(a), cos(a), 0}, {0, 0, 1}};
    double ry[3][3] = {{cos(b), 0, sin(b)}, {0, 1, 0}, {-sin(b), 0, cos(b)}};
    double rx[3][3] = {{1, 0, 0}, {0, cos(c), -sin(c)}, {0, sin(c), cos(c)}};
    double t[3][3] = {{0}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) t[i][j] += rz[i][k] * ry[k][j];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            q[i][j] = 0;
            for (int k = 0; k < 3; k++) q[i][j] += t[i][k] * rx[k][j];
        }
}

/* A = Q·diag(l)·Qᵀ: the columns of Q are the eigenvectors. */
static void build(const double q[3][3], const double l[3], double a[3][3])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            a[i][j] = 0;
            for (int k = 0; k < 3; k++) a[i][j] += q[i][k] * l[k] * q[j][k];
        }
}

/* max over i of |A·v_i − λ_i·v_i| / max(|A|, tiny), and max |v_i·v_j − δ_ij|. */
static double residual(const double a[3][3], const double val[3], const double vec[3][3])
{
    double r = 0, norm = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) norm = fmax(norm, fabs(a[i][j]));
    for (int i = 0; i < 3; i++)
        for (int row = 0; row < 3; row++) {
            double av = 0;
            for (int k = 0; k < 3; k++) av += a[row][k] * vec[i][k];
            r = fmax(r, fabs(av - val[i] * vec[i][row]));
        }
    return r / (norm > 1e-300 ? norm : 1e-300);
}

static double orthonormality(const double vec[3][3])
{
    double e = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double d = 0;
            for (int k = 0; k < 3; k++) d += vec[i][k] * vec[j][k];
            e = fmax(e, fabs(d - (i == j)));
        }
    return e;
}

/* Descending values, and each vector's largest-magnitude component positive. */
static int convention_holds(const double val[3], const double vec[3][3])
{
    if (val[0] < val[1] || val[1] < val[2]) return 0;
    for (int i = 0; i < 3; i++) {
        int big = 0;
        for (int k = 1; k < 3; k++)
            if (fabs(vec[i][k]) > fabs(vec[i][big])) big = k;
        if (vec[i][big] <= 0) return 0;
    }
    return 1;
}

static void test_eigen_diagonal(void)
{
    double m[3][3] = {{1, 0, 0}, {0, 3, 0}, {0, 0, 2}}, val[3], vec[3][3];
    anet_sym3_eigen(m, val, vec);
    double want_vec[3][3] = {{0, 1, 0}, {0, 0, 1}, {1, 0, 0}};
    T_OK(val[0] == 3 && val[1] == 2 && val[2] == 1, "diagonal: values %g %g %g == 3 2 1",
         val[0], val[1], val[2]);
    T_OK(!memcmp(vec, want_vec, sizeof vec), "diagonal: vectors are the unit axes, exactly");

    double neg[3][3] = {{-1, 0, 0}, {0, -5, 0}, {0, 0, 0}};
    anet_sym3_eigen(neg, val, vec);
    T_OK(val[0] == 0 && val[1] == -1 && val[2] == -5 && convention_holds(val, vec),
         "negative diagonal: values %g %g %g sorted, signs by convention", val[0], val[1],
         val[2]);
}

static void test_eigen_rotated(void)
{
    double q[3][3], a[3][3], val[3], vec[3][3], l[3] = {0.5, 5, 2};
    rotation(0.3, -1.1, 2.2, q);
    build(q, l, a);
    anet_sym3_eigen(a, val, vec);
    double want[3] = {5, 2, 0.5}, verr = 0, align = 0;
    int col[3] = {1, 2, 0};
    for (int i = 0; i < 3; i++) {
        verr = fmax(verr, fabs(val[i] - want[i]) / want[0]);
        double d = 0;
        for (int k = 0; k < 3; k++) d += vec[i][k] * q[k][col[i]];
        align = fmax(align, 1 - fabs(d));
    }
    T_OK(verr < 1e-14, "rotated: eigenvalues 5 2 0.5, max rel err %.3g", verr);
    T_OK(align < 1e-12, "rotated: eigenvectors are Q's columns up to sign, 1-|cos| %.3g", align);
    double r = residual(a, val, vec), o = orthonormality(vec);
    T_OK(r < 1e-12, "rotated: |A·v - λ·v| / |A| = %.3g", r);
    T_OK(o < 1e-12, "rotated: orthonormal, max |v_i·v_j - δ| = %.3g", o);
    T_OK(convention_holds(val, vec), "rotated: descending, largest component positive");
}

static void test_eigen_repeated(void)
{
    double q[3][3], a[3][3], val[3], vec[3][3], l[3] = {2, 1, 2};
    rotation(1.0, 0.4, -0.7, q);
    build(q, l, a);
    anet_sym3_eigen(a, val, vec);
    double verr = fmax(fabs(val[0] - 2), fmax(fabs(val[1] - 2), fabs(val[2] - 1)));
    double r = residual(a, val, vec), o = orthonormality(vec);
    T_OK(verr < 1e-14, "repeated 2 2 1: values %.17g %.17g %.17g, max err %.3g", val[0],
         val[1], val[2], verr);
    T_OK(r < 1e-12 && o < 1e-12, "repeated: residual %.3g, orthonormality %.3g", r, o);
    T_OK(convention_holds(val, vec), "repeated: descending, largest component positive");

    double three[3][3] = {{4, 0, 0}, {0, 4, 0}, {0, 0, 4}};
    anet_sym3_eigen(three, val, vec);
    T_OK(val[0] == 4 && val[1] == 4 && val[2] == 4 && orthonormality(vec) == 0,
         "4·I: values 4 4 4 and an orthonormal basis");

    double zero[3][3] = {{0}};
    anet_sym3_eigen(zero, val, vec);
    T_OK(val[0] == 0 && val[1] == 0 && val[2] == 0 && orthonormality(vec) == 0,
         "zero matrix: values 0 0 0 and an orthonormal basis");
}

/* ImageNet's published RGB eigenvalues and eigenvectors (fb.resnet.torch's transforms.lua),
 * which every AlexNet reimplementation copies: the decomposition returns them. */
static void test_eigen_imagenet(void)
{
    double l[3] = {0.2175, 0.0188, 0.0045};
    double p[3][3] = {{-0.5675, 0.7192, 0.4009}, {-0.5808, -0.0045, -0.8140},
                      {-0.5836, -0.6948, 0.4203}};
    double a[3][3], val[3], vec[3][3];
    build(p, l, a); /* p is orthonormal to 4 digits only: compare with A's own residual */
    anet_sym3_eigen(a, val, vec);
    double r = residual(a, val, vec), verr = 0;
    for (int i = 0; i < 3; i++) verr = fmax(verr, fabs(val[i] - l[i]));
    T_OK(r < 1e-12 && orthonormality(vec) < 1e-12, "ImageNet covariance: residual %.3g", r);
    T_OK(verr < 1e-3, "ImageNet covariance: values %.4f %.4f %.4f", val[0], val[1], val[2]);
    T_OK(vec[0][0] > 0.5 && vec[0][1] > 0.5 && vec[0][2] > 0.5,
         "ImageNet: first component is +(0.57, 0.58, 0.58) by the sign convention");
}

static void test_eigen_random(void)
{
    double worst_r = 0, worst_o = 0;
    int ok = 1;
    t_seed(7);
    for (int n = 0; n < 2000; n++) {
        double m[3][3], val[3], vec[3][3];
        double scale = pow(10, t_uniform(-8, 8));
        for (int i = 0; i < 3; i++)
            for (int j = i; j < 3; j++) m[i][j] = m[j][i] = scale * t_uniform(-1, 1);
        if (n % 3 == 0) m[0][1] = m[1][0] = 0; /* partly diagonal already */
        anet_sym3_eigen(m, val, vec);
        worst_r = fmax(worst_r, residual(m, val, vec));
        worst_o = fmax(worst_o, orthonormality(vec));
        ok &= convention_holds(val, vec);
    }
    T_OK(worst_r < 1e-12, "2000 random symmetric matrices: worst residual %.3g", worst_r);
    T_OK(worst_o < 1e-12, "2000 random symmetric matrices: worst orthonormality %.3g",
         worst_o);
    T_OK(ok, "2000 random symmetric matrices: sorted, sign convention");
}

/* ---- accumulator ---------------------------------------------------------------------- */

/* The statistics the direct way, in double, two-pass: planes B, G, R in, RGB out. */
static void direct_stats(const uint8_t *imgs, int n, int h, int w, double mean[3],
                         double cov[3][3], double *mean_image)
{
    size_t plane = (size_t)h * w, img = 3 * plane;
    double pixels = (double)n * plane;
    for (int c = 0; c < 3; c++) {
        double s = 0;
        for (int k = 0; k < n; k++)
            for (size_t i = 0; i < plane; i++) s += imgs[k * img + (2 - c) * plane + i];
        mean[c] = s / pixels;
    }
    for (int c = 0; c < 3; c++)
        for (int d = 0; d < 3; d++) {
            double s = 0;
            for (int k = 0; k < n; k++)
                for (size_t i = 0; i < plane; i++)
                    s += (imgs[k * img + (2 - c) * plane + i] - mean[c]) *
                         (imgs[k * img + (2 - d) * plane + i] - mean[d]);
            cov[c][d] = s / pixels / (255.0 * 255.0);
        }
    for (int c = 0; c < 3; c++) mean[c] /= 255.0;
    for (size_t i = 0; i < img; i++) {
        double s = 0;
        for (int k = 0; k < n; k++) s += imgs[k * img + i];
        mean_image[i] = s / n;
    }
}

static struct anet_stats_acc *acc_of(const uint8_t *imgs, int from, int to, int h, int w)
{
    struct anet_stats_acc *a;
    if (anet_stats_acc_create(3, h, w, &a)) {
        fprintf(stderr, "test: %s\n", anet_error_detail());
        abort();
    }
    for (int k = from; k < to; k++) anet_stats_acc_add(a, imgs + (size_t)k * 3 * h * w);
    return a;
}

static uint8_t *random_images(int n, int h, int w)
{
    size_t len = (size_t)n * 3 * h * w;
    uint8_t *p = malloc(len);
    if (!p) abort();
    /* correlated channels, as in photographs: B, G, R share a base value */
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < (size_t)h * w; i++) {
            double base = t_uniform(0, 200);
            for (int c = 0; c < 3; c++) {
                double v = base * (0.6 + 0.2 * c) + t_uniform(0, 55 + 20 * c);
                p[(size_t)k * 3 * h * w + (size_t)c * h * w + i] = (uint8_t)(v > 255 ? 255 : v);
            }
        }
    return p;
}

static int stats_equal(const struct anet_stats *a, const struct anet_stats *b)
{
    return a->images == b->images && a->pixels == b->pixels && a->channels == b->channels &&
           a->height == b->height && a->width == b->width &&
           !memcmp(a->mean, b->mean, sizeof a->mean) && !memcmp(a->std, b->std, sizeof a->std) &&
           !memcmp(a->cov, b->cov, sizeof a->cov) &&
           !memcmp(a->eigval, b->eigval, sizeof a->eigval) &&
           !memcmp(a->eigvec, b->eigvec, sizeof a->eigvec);
}

static void test_acc_constant(void)
{
    int h = 4, w = 5;
    uint8_t img[3 * 4 * 5];
    memset(img, 10, 20), memset(img + 20, 20, 20), memset(img + 40, 30, 20);
    struct anet_stats_acc *a = acc_of(img, 0, 1, h, w);
    anet_stats_acc_add(a, img);
    struct anet_stats s;
    float mi[60];
    enum anet_status st = anet_stats_acc_finish(a, &s, mi);
    int img_ok = 1;
    for (int i = 0; i < 60; i++) img_ok &= mi[i] == img[i];
    T_OK(!st && s.images == 2 && s.pixels == 40 && s.channels == 3 && s.height == 4 &&
             s.width == 5,
         "constant images: count 2, pixels 40, size 3x4x5");
    T_OK(s.mean[0] == 30 / 255.0 && s.mean[1] == 20 / 255.0 && s.mean[2] == 10 / 255.0,
         "constant B=10 G=20 R=30: mean (R, G, B) = (30, 20, 10)/255 exactly");
    double c = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) c = fmax(c, fabs(s.cov[i][j]));
    T_OK(c == 0 && s.std[0] == 0 && s.eigval[0] == 0, "constant images: covariance 0 exactly");
    T_OK(img_ok, "constant images: mean image equals the image, B, G, R planes");
    anet_stats_acc_free(a);
}

/* Four pixels worked by hand, in 0..1 units (R, G, B): (0,0,0), (1,1,1) in the first image,
 * (1,0,0), (0,0,0) in the second. Mean (1/2, 1/4, 1/4); var R = 1/4, var G = var B = 3/16;
 * cov RG = RB = 1/8, GB = 3/16. Every value is a short binary fraction: exact. */
static void test_acc_by_hand(void)
{
    uint8_t imgs[2][6] = {{0, 255, 0, 255, 0, 255}, {0, 0, 0, 0, 255, 0}}; /* B G R planes */
    struct anet_stats_acc *a = acc_of(&imgs[0][0], 0, 2, 1, 2);
    struct anet_stats s;
    anet_stats_acc_finish(a, &s, NULL);
    double want[3][3] = {{0.25, 0.125, 0.125}, {0.125, 0.1875, 0.1875},
                         {0.125, 0.1875, 0.1875}};
    T_OK(s.mean[0] == 0.5 && s.mean[1] == 0.25 && s.mean[2] == 0.25,
         "by hand: mean (R, G, B) = (1/2, 1/4, 1/4) exactly");
    T_OK(!memcmp(s.cov, want, sizeof want), "by hand: covariance exactly as worked out");
    /* G and B are the same channel here: one eigenvalue is 0, its vector (0, 1, -1)/√2 */
    double r = residual(s.cov, s.eigval, s.eigvec);
    T_OK(r < 1e-15 && fabs(s.eigval[2]) < 1e-16 && fabs(s.eigvec[2][0]) < 1e-15 &&
             fabs(s.eigvec[2][1] + s.eigvec[2][2]) < 1e-15,
         "by hand: eigenvalues %.6g %.6g %.3g, residual %.3g", s.eigval[0], s.eigval[1],
         s.eigval[2], r);
    anet_stats_acc_free(a);
}

static void test_acc_channel_order(void)
{
    int h = 8, w = 8, n = 64;
    uint8_t img[3 * 64];
    struct anet_stats_acc *a = acc_of(NULL, 0, 0, h, w);
    t_seed(3);
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < n; i++) {
            img[i] = 7;                                  /* B constant */
            img[n + i] = 100;                            /* G constant */
            img[2 * n + i] = (uint8_t)t_uniform(0, 256); /* R varies */
        }
        anet_stats_acc_add(a, img);
    }
    struct anet_stats s;
    anet_stats_acc_finish(a, &s, NULL);
    T_OK(s.mean[1] == 100 / 255.0 && s.mean[2] == 7 / 255.0 && s.mean[0] > 0.3,
         "B,G,R planes in: mean R %.4f G %.4f B %.4f", s.mean[0], s.mean[1], s.mean[2]);
    T_OK(s.cov[0][0] > 0.05 && s.cov[1][1] == 0 && s.cov[2][2] == 0 && s.cov[0][1] == 0 &&
             s.cov[0][2] == 0 && s.std[0] == sqrt(s.cov[0][0]),
         "only R varies: variance in cov[0][0] = %.4f alone", s.cov[0][0]);
    T_OK(s.eigvec[0][0] == 1 && s.eigvec[0][1] == 0 && s.eigvec[0][2] == 0 &&
             s.eigval[0] == s.cov[0][0],
         "first principal component is R = (1, 0, 0)");
    anet_stats_acc_free(a);
}

static void test_acc_random(void)
{
    int n = 9, h = 13, w = 17;
    size_t img = 3 * (size_t)h * w;
    t_seed(11);
    uint8_t *imgs = random_images(n, h, w);
    double mean[3], cov[3][3], *mi_ref = malloc(img * sizeof *mi_ref);
    float *mi = malloc(img * sizeof *mi);
    direct_stats(imgs, n, h, w, mean, cov, mi_ref);
    struct anet_stats_acc *a = acc_of(imgs, 0, n, h, w);
    struct anet_stats s;
    enum anet_status st = anet_stats_acc_finish(a, &s, mi);
    double em = t_rel_err_dd(s.mean, mean, 3), ec = t_rel_err_dd(&s.cov[0][0], &cov[0][0], 9);
    double estd = 0, emi = t_rel_err_fd(mi, mi_ref, img);
    for (int c = 0; c < 3; c++) estd = fmax(estd, fabs(s.std[c] - sqrt(cov[c][c])) / s.std[c]);
    T_OK(!st && s.images == (uint64_t)n && s.pixels == (uint64_t)n * h * w,
         "random images: count %d, pixels %d", n, n * h * w);
    T_OK(em < 1e-12, "random images: mean vs direct double, rel err %.3g", em);
    T_OK(ec < 1e-12, "random images: covariance vs direct double, rel err %.3g", ec);
    T_OK(estd < 1e-12, "random images: std = sqrt(diag cov), rel err %.3g", estd);
    T_OK(emi < 1e-7, "random images: mean image vs direct double, rel err %.3g", emi);
    T_OK(s.cov[0][1] > 0 && s.cov[0][1] == s.cov[1][0] && s.cov[0][2] == s.cov[2][0],
         "covariance is symmetric and the channels correlate (%.4f)", s.cov[0][1]);
    double r = residual(s.cov, s.eigval, s.eigvec);
    T_OK(r < 1e-12 && convention_holds(s.eigval, s.eigvec),
         "eigen-decomposition of the covariance: residual %.3g", r);

    /* merge: any split over two accumulators gives the same bits as one */
    int same = 1;
    for (int split = 0; split <= n; split += 3) {
        struct anet_stats_acc *x = acc_of(imgs, 0, split, h, w), *y = acc_of(imgs, split, n, h, w);
        struct anet_stats m;
        float *mm = malloc(img * sizeof *mm);
        anet_stats_acc_merge(x, y);
        same &= !anet_stats_acc_finish(x, &m, mm) && stats_equal(&m, &s) &&
                !memcmp(mm, mi, img * sizeof *mm) && anet_stats_acc_images(x) == (uint64_t)n;
        free(mm);
        anet_stats_acc_free(x), anet_stats_acc_free(y);
    }
    T_OK(same, "merge of two accumulators == one accumulator, bit for bit (4 splits)");
    anet_stats_acc_free(a);
    free(imgs), free(mi), free(mi_ref);
}

/* Sums that would overflow a narrow lane: 600 images (past two flushes of the per-pixel
 * uint16 sums) and a plane larger than the 65536-pixel chunk of the product sums, at 255. */
static void test_acc_overflow(void)
{
    int h = 2, w = 3, n = 600;
    uint8_t img[18];
    struct anet_stats_acc *a = acc_of(NULL, 0, 0, h, w);
    uint64_t want[18] = {0};
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < 18; i++) {
            img[i] = (uint8_t)(k % 2 ? 255 : (k * 7 + i * 13) % 256);
            want[i] += img[i];
        }
        anet_stats_acc_add(a, img);
    }
    struct anet_stats s;
    float mi[18];
    anet_stats_acc_finish(a, &s, mi);
    int ok = 1;
    for (int i = 0; i < 18; i++) ok &= mi[i] == (float)((double)want[i] / n);
    T_OK(ok && anet_stats_acc_images(a) == (uint64_t)n,
         "600 images: mean image exact past the uint16 flushes");
    anet_stats_acc_free(a);

    h = 300, w = 300;
    size_t len = 3 * (size_t)h * w;
    uint8_t *big = malloc(len);
    memset(big, 255, len);
    a = acc_of(NULL, 0, 0, h, w);
    anet_stats_acc_add(a, big);
    anet_stats_acc_add(a, big);
    anet_stats_acc_finish(a, &s, NULL);
    T_OK(s.mean[0] == 1 && s.mean[1] == 1 && s.mean[2] == 1 && s.cov[0][0] == 0 &&
             s.cov[1][2] == 0,
         "300x300 images of 255 (products past one uint32 chunk): mean 1, covariance 0");
    anet_stats_acc_free(a);
    free(big);
}

static void test_acc_errors(void)
{
    struct anet_stats_acc *a = NULL;
    enum anet_status st = anet_stats_acc_create(1, 4, 4, &a);
    T_OK(st == ANET_ERR_INVALID && !a, "1 channel refused: %s", anet_error_detail());
    st = anet_stats_acc_create(3, 0, 4, &a);
    T_OK(st == ANET_ERR_INVALID, "height 0 refused: %s", anet_error_detail());
    anet_stats_acc_create(3, 2, 2, &a);
    struct anet_stats s;
    st = anet_stats_acc_finish(a, &s, NULL);
    T_OK(st == ANET_ERR_INVALID, "finish with no images: %s", anet_error_detail());
    anet_stats_acc_free(a);
    anet_stats_acc_free(NULL);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Not a timed test: the figure goes to the log for the lead's benchmark notes. */
static void test_acc_speed(void)
{
    int n = 8, reps = 150, h = 256, w = 256;
    t_seed(5);
    uint8_t *imgs = random_images(n, h, w);
    struct anet_stats_acc *a = acc_of(NULL, 0, 0, h, w);
    double t0 = now();
    for (int k = 0; k < reps; k++) anet_stats_acc_add(a, imgs + (size_t)(k % n) * 3 * h * w);
    double ms = (now() - t0) * 1e3 / reps;
    printf("# add: %.4f ms per 3x256x256 image (%.2f GB/s)\n", ms, 196608 / (ms * 1e6));
    T_OK(anet_stats_acc_images(a) == (uint64_t)reps, "%d images of 3x256x256 added", reps);
    anet_stats_acc_free(a);
    free(imgs);
}

/* ---- the stats file ------------------------------------------------------------------- */

static struct anet_stats sample_stats(void)
{
    t_seed(21);
    uint8_t *imgs = random_images(3, 6, 7);
    struct anet_stats_acc *a = acc_of(imgs, 0, 3, 6, 7);
    struct anet_stats s;
    anet_stats_acc_finish(a, &s, NULL);
    anet_stats_acc_free(a);
    free(imgs);
    return s;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    return buf;
}

static void test_stats_file(void)
{
    struct anet_stats s = sample_stats(), r;
    const char *path = tmp_path("stats.txt");
    enum anet_status st = anet_stats_write(path, &s, 0);
    T_OK(!st, "stats file written: %s", st ? anet_error_detail() : "ok");
    memset(&r, 0xff, sizeof r);
    st = anet_stats_read(path, &r);
    T_OK(!st && stats_equal(&r, &s), "stats file round trip is exact: %s",
         st ? anet_error_detail() : "every double equal");
    const char *text = slurp(path);
    T_OK(!strncmp(text, "# alexnet colour statistics", 27) &&
             has(text, "\nversion\t1\nimages\t3\npixels\t126\nsize\t3x6x7\nscale\t0..1\n"
                       "channels\tR G B\nmean\t"),
         "stats file layout as documented");
    st = anet_stats_write(path, &s, 0);
    T_OK(st == ANET_ERR_IO && has(anet_error_detail(), "exists"),
         "existing stats file not overwritten: %s", anet_error_detail());
    T_OK(!anet_stats_write(path, &s, 1), "existing stats file overwritten when asked");
}

/* The good file with line `line` (1-based) replaced by `with` ("" removes it; NULL keeps
 * the file) and `append` added at the end. */
static void variant(const char *good, int line, const char *with, const char *append,
                    const char *path)
{
    char out[8192];
    size_t n = 0;
    const char *p = good;
    for (int l = 1; *p; l++) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
        if (l == line && with) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%s", with);
        } else {
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    n += (size_t)snprintf(out + n, sizeof out - n, "%s", append ? append : "");
    write_bytes(path, out, n);
}

static void test_stats_errors(void)
{
    static char good[8192];
    strcpy(good, slurp(tmp_path("stats.txt")));
    /* line 1 is the comment, 2 version, 3 images, 4 pixels, 5 size, 6 scale, 7 channels,
     * 8 mean, 9 std, 10-12 cov, 13 eigval, 14-16 eigvec */
    static const struct {
        int line;
        const char *with, *append, *expect;
    } cases[] = {
        {2, "version\t2\n", NULL, "bad.txt:2: version 2 is not supported (this build reads 1)"},
        {13, "", NULL, "bad.txt: missing field 'eigval'"},
        {11, "", NULL, "bad.txt: truncated: 2 of 3 'cov' lines"},
        {16, "", NULL, "bad.txt: truncated: 2 of 3 'eigvec' lines"},
        {0, NULL, "mean\t0 0 0\n", "bad.txt:17: repeated field 'mean'"},
        {0, NULL, "cov\t0 0 0\n", "bad.txt:17: more than 3 'cov' lines"},
        {6, "scale\t0..255\n", NULL, "bad.txt:6: scale must be '0..1'"},
        {7, "channels\tB G R\n", NULL, "bad.txt:7: channels must be 'R G B'"},
        {8, "mean\t0.5 0.25\n", NULL, "bad.txt:8: 'mean' needs 3 finite numbers"},
        {8, "mean\t0.5 abc 0.25\n", NULL, "bad.txt:8: 'mean' needs 3 finite numbers"},
        {8, "mean\t0.5 0.25x 0.1\n", NULL, "bad.txt:8: 'mean' needs 3 finite numbers"},
        {8, "mean\t0.5 nan 0.1\n", NULL, "bad.txt:8: 'mean' needs 3 finite numbers"},
        {9, "std\t0.5 0.25 0.1 0.2\n", NULL, "bad.txt:9: 'std' has more than 3 numbers"},
        {3, "images\t-3\n", NULL, "bad.txt:3: 'images' is not a whole number"},
        {3, "images\t12x\n", NULL, "bad.txt:3: 'images' is not a whole number"},
        {4, "pixels\t127\n", NULL, "bad.txt: 'pixels' 127 is not images"},
        {5, "size\t3x6\n", NULL, "bad.txt:5: 'size' must be CxHxW"},
        {5, "size\t1x6x7\n", NULL, "bad.txt:5: 'size' must have 3 channels"},
        {12, "covariance\t1 2 3\n", NULL, "bad.txt:12: unknown field 'covariance'"},
        {12, "cov 1 2 3\n", NULL, "bad.txt:12: expected 'name<TAB>values'"},
        {2, "", NULL, "bad.txt: missing field 'version'"},
    };
    const char *bad = tmp_path("bad.txt");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        variant(good, cases[i].line, cases[i].with, cases[i].append, bad);
        struct anet_stats s;
        enum anet_status st = anet_stats_read(bad, &s);
        T_OK(st == ANET_ERR_FORMAT && has(anet_error_detail(), cases[i].expect),
             "stats error: %s", anet_error_detail());
    }

    /* cut in the middle of the last number: the missing newline gives it away */
    size_t len = strlen(good);
    write_bytes(bad, good, len - 3);
    struct anet_stats s;
    enum anet_status st = anet_stats_read(bad, &s);
    T_OK(st == ANET_ERR_FORMAT && has(anet_error_detail(), "bad.txt:16: truncated"),
         "stats cut mid-line: %s", anet_error_detail());
    int all = 1;
    for (size_t cut = 0; cut < len; cut++) {
        write_bytes(bad, good, cut);
        all &= anet_stats_read(bad, &s) == ANET_ERR_FORMAT;
    }
    T_OK(all, "stats file cut at every one of %zu offsets is refused", len);
    st = anet_stats_read(tmp_path("nope.txt"), &s);
    T_OK(st == ANET_ERR_IO && has(anet_error_detail(), "cannot open '") &&
             has(anet_error_detail(), "nope.txt': No such file or directory"),
         "missing stats file: %s", anet_error_detail());
}

/* ---- BlobProto ------------------------------------------------------------------------ */

struct bytes {
    uint8_t b[16384];
    size_t n;
};

static void put_varint(struct bytes *o, uint64_t v)
{
    while (v >= 0x80) o->b[o->n++] = (uint8_t)(v | 0x80), v >>= 7;
    o->b[o->n++] = (uint8_t)v;
}

static void put_float(struct bytes *o, float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    for (int k = 0; k < 4; k++) o->b[o->n++] = (uint8_t)(u >> 8 * k);
}

/* What Caffe's compute_image_mean writes: num 1, channels, height, width, packed data. */
static void caffe_blob(struct bytes *o, const float *x, int c, int h, int w)
{
    o->n = 0;
    put_varint(o, 1 << 3 | 0), put_varint(o, 1);
    put_varint(o, 2 << 3 | 0), put_varint(o, (uint64_t)c);
    put_varint(o, 3 << 3 | 0), put_varint(o, (uint64_t)h);
    put_varint(o, 4 << 3 | 0), put_varint(o, (uint64_t)w);
    put_varint(o, 5 << 3 | 2), put_varint(o, (uint64_t)c * h * w * 4);
    for (int i = 0; i < c * h * w; i++) put_float(o, x[i]);
}

/* A newer writer: the data unpacked and a diff and an unknown field before it, then the
 * BlobShape 1×C×H×W with packed dims. */
static void shape_blob(struct bytes *o, const float *x, int c, int h, int w, int unpacked_dims)
{
    o->n = 0;
    put_varint(o, 6 << 3 | 5), put_float(o, 9.5f);    /* diff, unpacked */
    put_varint(o, 15 << 3 | 0), put_varint(o, 300);   /* unknown varint */
    put_varint(o, 14 << 3 | 1);                       /* unknown fixed64 */
    for (int k = 0; k < 8; k++) o->b[o->n++] = 0xAA;
    for (int i = 0; i < c * h * w; i++) put_varint(o, 5 << 3 | 5), put_float(o, x[i]);
    put_varint(o, 7 << 3 | 2);
    struct bytes dims = {.n = 0};
    uint64_t d[4] = {1, (uint64_t)c, (uint64_t)h, (uint64_t)w};
    if (unpacked_dims) {
        for (int k = 1; k < 4; k++) put_varint(&dims, 1 << 3 | 0), put_varint(&dims, d[k]);
    } else {
        struct bytes run = {.n = 0};
        for (int k = 0; k < 4; k++) put_varint(&run, d[k]);
        put_varint(&dims, 1 << 3 | 2), put_varint(&dims, run.n);
        memcpy(dims.b + dims.n, run.b, run.n), dims.n += run.n;
    }
    put_varint(o, dims.n);
    memcpy(o->b + o->n, dims.b, dims.n), o->n += dims.n;
}

static int read_back(const char *path, const float *want, int c, int h, int w)
{
    float *m = NULL;
    int rc = 0, rh = 0, rw = 0;
    enum anet_status st = anet_mean_read(path, &m, &rc, &rh, &rw);
    int ok = !st && rc == c && rh == h && rw == w && !memcmp(m, want, sizeof *m * c * h * w);
    if (st) printf("# %s\n", anet_error_detail());
    free(m);
    return ok;
}

static void test_blob(void)
{
    int c = 3, h = 16, w = 16;
    float x[3 * 16 * 16];
    t_seed(31);
    t_fill(x, sizeof x / sizeof x[0], 0, 255);
    x[0] = -0.0f, x[1] = 1e-40f; /* sign of zero and a subnormal survive */
    const char *path = tmp_path("mean.binaryproto");
    enum anet_status st = anet_mean_write(path, x, c, h, w, 0);
    T_OK(!st, "mean image written: %s", st ? anet_error_detail() : "ok");
    struct bytes want;
    caffe_blob(&want, x, c, h, w);
    FILE *f = fopen(path, "rb");
    static uint8_t got[16384];
    size_t n = f ? fread(got, 1, sizeof got, f) : 0;
    if (f) fclose(f);
    T_OK(n == want.n && !memcmp(got, want.b, n),
         "written byte for byte as compute_image_mean writes it (%zu bytes)", n);
    T_OK(read_back(path, x, c, h, w), "BlobProto round trip is exact");
    st = anet_mean_write(path, x, c, h, w, 0);
    T_OK(st == ANET_ERR_IO && has(anet_error_detail(), "exists"),
         "existing mean file not overwritten: %s", anet_error_detail());

    const char *caffe = tmp_path("caffe.binaryproto");
    write_bytes(caffe, want.b, want.n);
    T_OK(read_back(caffe, x, c, h, w), "a BlobProto built byte by byte as Caffe writes it");

    struct bytes s;
    shape_blob(&s, x, 3, 4, 5, 0);
    write_bytes(caffe, s.b, s.n);
    T_OK(read_back(caffe, x, 3, 4, 5), "shape 1x3x4x5 (packed dims), unpacked data, diff and "
                                        "unknown fields skipped");
    shape_blob(&s, x, 3, 4, 5, 1);
    write_bytes(caffe, s.b, s.n);
    T_OK(read_back(caffe, x, 3, 4, 5), "shape 3x4x5 (unpacked dims) read");
}

static enum anet_status read_bytes(const struct bytes *o, const char *path)
{
    float *m = NULL;
    int c, h, w;
    write_bytes(path, o->b, o->n);
    enum anet_status st = anet_mean_read(path, &m, &c, &h, &w);
    free(m);
    return st;
}

static void test_blob_errors(void)
{
    float x[60];
    t_fill(x, 60, 0, 255);
    const char *path = tmp_path("bad.binaryproto");
    struct bytes o, cut;
    int all = 1;
    for (int kind = 0; kind < 2; kind++) {
        if (kind) shape_blob(&o, x, 3, 4, 5, 0);
        else caffe_blob(&o, x, 3, 4, 5);
        for (size_t k = 0; k < o.n; k++) {
            memcpy(cut.b, o.b, k), cut.n = k;
            all &= read_bytes(&cut, path) == ANET_ERR_FORMAT;
        }
    }
    T_OK(all, "BlobProto cut at every byte offset is refused (both layouts)");
    caffe_blob(&o, x, 3, 4, 5);
    o.n -= 7;
    T_OK(read_bytes(&o, path) == ANET_ERR_FORMAT && has(anet_error_detail(), "truncated") &&
             has(anet_error_detail(), "bad.binaryproto"),
         "truncated: %s", anet_error_detail());

    caffe_blob(&o, x, 3, 4, 5);
    put_varint(&o, 8 << 3 | 2), put_varint(&o, 8);
    for (int k = 0; k < 8; k++) o.b[o.n++] = 0;
    T_OK(read_bytes(&o, path) == ANET_ERR_UNSUPPORTED, "double_data refused: %s",
         anet_error_detail());

    caffe_blob(&o, x, 3, 4, 5);
    o.b[1] = 2;
    T_OK(read_bytes(&o, path) == ANET_ERR_FORMAT && has(anet_error_detail(), "num 2"),
         "num 2: %s", anet_error_detail());

    caffe_blob(&o, x, 3, 4, 5);
    o.b[5] = 6; /* height 4 -> 6 */
    T_OK(read_bytes(&o, path) == ANET_ERR_FORMAT && has(anet_error_detail(), "holds 60 floats"),
         "data count != C*H*W: %s", anet_error_detail());

    o.n = 0;
    put_varint(&o, 5 << 3 | 2), put_varint(&o, 4), put_float(&o, 1);
    T_OK(read_bytes(&o, path) == ANET_ERR_FORMAT && has(anet_error_detail(), "no shape"),
         "no shape: %s", anet_error_detail());

    shape_blob(&o, x, 3, 4, 5, 0);
    o.b[o.n - 4] = 2; /* N = 2 */
    T_OK(read_bytes(&o, path) == ANET_ERR_FORMAT && has(anet_error_detail(), "2 images"),
         "shape 2x3x4x5: %s", anet_error_detail());

    o.n = 0;
    put_varint(&o, 1 << 3 | 3);
    T_OK(read_bytes(&o, path) == ANET_ERR_FORMAT, "a group: %s", anet_error_detail());

    float *m = NULL;
    int c, h, w;
    T_OK(anet_mean_read(tmp_path("nope.binaryproto"), &m, &c, &h, &w) == ANET_ERR_IO &&
             has(anet_error_detail(), "nope.binaryproto': No such file or directory") && !m,
         "missing mean file: %s", anet_error_detail());
    T_OK(anet_mean_write(path, x, 3, 0, 5, 1) == ANET_ERR_INVALID, "shape 3x0x5 not written");
}

static void cleanup(void)
{
    static const char *names[] = {"stats.txt", "bad.txt", "mean.binaryproto",
                                  "caffe.binaryproto", "bad.binaryproto"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tmp_path(names[i]));
    rmdir(dir);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        T_OK(0, "mkdtemp: %s", strerror(errno));
        return t_done();
    }
    test_eigen_diagonal();
    test_eigen_rotated();
    test_eigen_repeated();
    test_eigen_imagenet();
    test_eigen_random();
    test_acc_constant();
    test_acc_by_hand();
    test_acc_channel_order();
    test_acc_random();
    test_acc_overflow();
    test_acc_errors();
    test_acc_speed();
    test_stats_file();
    test_stats_errors();
    test_blob();
    test_blob_errors();
    cleanup();
    return t_done();
}
