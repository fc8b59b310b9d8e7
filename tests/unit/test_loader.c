/* The loader: the record table of a database; crops inside the image and equal to the
 * source window; mirroring; the colour noise's distribution along the eigenvectors; exact
 * mean subtraction; the centre crop; epoch orders (permutations, the same for any thread
 * count and ring depth, restartable anywhere, key order without shuffle, a partial last
 * batch); configuration and record errors; encoded records equal to raw ones. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include "alexnet/data.h"
#include "alexnet/image.h"
#include "alexnet/loader.h"
#include "alexnet/rng.h"
#include "scratch.h"
#include "test.h"

static char dir[] = "/tmp/anet-loader-XXXXXX";

/* The raw test database: N records of 3 × H × W, big enough (4752 bytes) that LMDB keeps
 * the values in overflow pages. */
enum { N = 23, C = 3, H = 36, W = 44 };

static const char *in_dir(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static int has(const char *text, const char *part) { return strstr(text, part) != NULL; }

/* ---- making databases ----------------------------------------------------------------- */

/* Pixel (c, y, x) of record r: distinct along a row, so a mirrored row differs. */
static uint8_t pix(int r, int c, int y, int x)
{
    return (uint8_t)(r * 37 + c * 71 + y * 13 + x * 5 + ((x * y) >> 2));
}
static int32_t label_of(int r) { return (r * 7) % 11; }

static void fill_image(uint8_t *img, int r, int c, int h, int w)
{
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) img[((size_t)k * h + y) * w + x] = pix(r, k, y, x);
}

static void key_of(int r, char *key, size_t cap)
{
    snprintf(key, cap, "%08d_n%04d/img_%d.JPEG", r, r % 3, r);
}

static enum anet_status put_datum(struct anet_db_writer *wr, int r, const struct anet_datum *d)
{
    size_t n = anet_datum_size(d);
    uint8_t *buf = malloc(n);
    anet_datum_encode(d, buf);
    char key[64];
    key_of(r, key, sizeof key);
    enum anet_status s = anet_db_put(wr, key, buf, n);
    free(buf);
    return s;
}

/* Kinds of bad record for the error tests. */
enum bad { BAD_NONE, BAD_SHAPE, BAD_LABEL, BAD_DATUM };

/* n raw records of c × h × w, record `bad_at` spoiled as `bad` says. */
static int make_raw(const char *path, int n, int c, int h, int w, int bad_at, enum bad bad)
{
    struct anet_db_writer *wr;
    if (anet_db_create(path, 1, &wr)) return 0;
    uint8_t *img = malloc((size_t)c * h * w);
    enum anet_status s = ANET_OK;
    for (int r = 0; r < n && !s; r++) {
        int hh = r == bad_at && bad == BAD_SHAPE ? h / 2 : h;
        fill_image(img, r, c, hh, w);
        struct anet_datum d = {c, hh, w, img, (size_t)c * hh * w, label_of(r), 0};
        if (r == bad_at && bad == BAD_LABEL) d.label = -3;
        if (r == bad_at && bad == BAD_DATUM) {
            char key[64];
            key_of(r, key, sizeof key);
            s = anet_db_put(wr, key, "\x08\x03\x12", 3); /* field 2 with the wrong wire type */
            continue;
        }
        s = put_datum(wr, r, &d);
    }
    free(img);
    if (s) return anet_db_abort(wr), 0;
    return anet_db_finish(wr) == ANET_OK;
}

/* The same n images as JPEG records (encoded = 1) at `enc`, and as raw records of their
 * decoded pixels at `raw`; record bad_at of `enc` (when >= 0) holds a cut-off JPEG. */
static int make_encoded(const char *enc, const char *raw, int n, int h, int w, int bad_at)
{
    struct anet_db_writer *we, *wr;
    if (anet_db_create(enc, 1, &we)) return 0;
    if (anet_db_create(raw, 1, &wr)) return anet_db_abort(we), 0;
    struct anet_image im = {w, h, malloc((size_t)h * w * 3)}, back;
    uint8_t *planes = malloc((size_t)3 * h * w);
    enum anet_status s = ANET_OK;
    for (int r = 0; r < n && !s; r++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < 3; k++)
                    im.rgb[((size_t)y * w + x) * 3 + k] = pix(r, k, y, x);
        uint8_t *jpeg;
        size_t len;
        if ((s = anet_image_encode_jpeg(&im, 90, &jpeg, &len))) break;
        struct anet_datum d = {0, 0, 0, jpeg, r == bad_at ? len / 2 : len, label_of(r), 1};
        s = put_datum(we, r, &d);
        if (!s && !(s = anet_image_decode(jpeg, len, 0, &back))) {
            anet_image_to_bgr_planes(&back, planes);
            struct anet_datum dr = {3, back.h, back.w, planes, (size_t)3 * h * w, label_of(r), 0};
            s = put_datum(wr, r, &dr);
            anet_image_free(&back);
        }
        free(jpeg);
    }
    free(im.rgb), free(planes);
    if (s) {
        printf("# making '%s': %s\n", enc, anet_error_detail());
        anet_db_abort(we), anet_db_abort(wr);
        return 0;
    }
    return !anet_db_finish(we) && !anet_db_finish(wr);
}

static struct anet_db *open_db(const char *path)
{
    struct anet_db *db = NULL;
    if (anet_db_open(path, &db)) printf("# open '%s': %s\n", path, anet_error_detail());
    return db;
}

/* The test configuration: no augmentation, one thread; tests switch things on. */
static struct anet_loader_config base_config(void)
{
    struct anet_loader_config c = {0};
    c.batch = 5, c.crop = 28, c.threads = 1, c.seed = 7;
    return c;
}

/* Colour statistics with ImageNet-like eigenvalues and an orthonormal basis (a rotation
 * about (1, 1, 1) and then about z). */
static struct anet_stats made_up_stats(void)
{
    struct anet_stats s = {0};
    s.channels = 3;
    s.eigval[0] = 0.2175, s.eigval[1] = 0.0188, s.eigval[2] = 0.0045;
    double a = 0.3, b = 1.1, ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b);
    double rx[3][3] = {{1, 0, 0}, {0, ca, -sa}, {0, sa, ca}};
    double rz[3][3] = {{cb, -sb, 0}, {sb, cb, 0}, {0, 0, 1}};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) {
            double v = 0;
            for (int j = 0; j < 3; j++) v += rz[i][j] * rx[j][k];
            s.eigvec[i][k] = v;
        }
    return s;
}

/* ---- the record table ------------------------------------------------------------------ */

struct records_arg {
    struct anet_db *db;
    const struct anet_db_record *recs;
    size_t n;
};
static void *records_thread(void *p)
{
    struct records_arg *a = p;
    if (anet_db_records(a->db, &a->recs, &a->n)) a->recs = NULL;
    return NULL;
}

static void test_records(void)
{
    struct anet_db *db = open_db(in_dir("raw.lmdb"));
    if (!db) return (void)T_OK(0, "raw database opens");
    /* several threads ask at once: one table */
    struct records_arg args[3] = {{db, 0, 0}, {db, 0, 0}, {db, 0, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, records_thread, &args[i]);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    const struct anet_db_record *recs;
    size_t n;
    enum anet_status s = anet_db_records(db, &recs, &n);
    T_OK(!s && n == anet_db_count(db) && n == N, "record table: %zu records, count %zu: %s", n,
         anet_db_count(db), s ? anet_error_detail() : "ok");
    T_OK(args[0].recs == recs && args[1].recs == recs && args[2].recs == recs &&
             args[0].n == n && args[2].n == n,
         "record table: the same table for every thread and call");
    struct anet_db_cursor *c;
    int same = 0;
    if (!s && !anet_db_cursor_open(db, &c)) {
        const char *key;
        const void *val;
        size_t kl, vl;
        for (size_t i = 0; i < n; i++) {
            if (anet_db_cursor_next(c, &key, &kl, &val, &vl) || !key) break;
            same += kl == recs[i].key_len && !memcmp(key, recs[i].key, kl) &&
                    vl == recs[i].val_len && val == recs[i].val;
        }
        anet_db_cursor_close(c);
    }
    T_OK(same == N, "record table: keys in cursor order, the same value pointers (%d of %d)",
         same, N);
    anet_db_close(db);
}

/* ---- the transformation ---------------------------------------------------------------- */

/* Whether out (c × crop × crop) is the transformation of record r's image under draw d:
 * (src − mean) + 255 · noise, from the source column the mirror picks. */
static int matches(const float *out, int r, const struct anet_loader_config *cfg,
                   const struct anet_crop_draw *d, const uint8_t *src)
{
    int crop = cfg->crop;
    uint8_t own[C * H * W];
    if (!src) fill_image(own, r, C, H, W), src = own;
    for (int k = 0; k < C; k++) {
        float add = 255.0f * d->noise_rgb[2 - k];
        for (int y = 0; y < crop; y++)
            for (int x = 0; x < crop; x++) {
                int sx = d->x0 + (d->mirror ? crop - 1 - x : x), sy = d->y0 + y;
                size_t at = ((size_t)k * H + sy) * W + sx;
                float m = cfg->mean ? cfg->mean[at] : 0.0f;
                float want = ((float)src[at] - m) + add;
                if (out[((size_t)k * crop + y) * crop + x] != want) return 0;
            }
    }
    return 1;
}

static void test_crop_range(void)
{
    struct anet_loader_config cfg = base_config();
    cfg.random_crop = 1, cfg.crop = 28;
    int bad = 0, seen_x[W] = {0}, seen_y[H] = {0};
    for (uint32_t r = 0; r < 5000; r++) {
        struct anet_crop_draw d;
        anet_loader_draw(&cfg, H, W, r % 3, r, &d);
        if (d.x0 < 0 || d.x0 > W - cfg.crop || d.y0 < 0 || d.y0 > H - cfg.crop) bad++;
        else seen_x[d.x0]++, seen_y[d.y0]++;
        bad += d.mirror || d.noise_rgb[0] || d.noise_rgb[1] || d.noise_rgb[2];
    }
    int all = 1;
    for (int x = 0; x <= W - cfg.crop; x++) all &= seen_x[x] > 0;
    for (int y = 0; y <= H - cfg.crop; y++) all &= seen_y[y] > 0;
    T_OK(!bad && all, "5000 random crops inside the image, every offset drawn, no mirror or "
         "noise when off (%d bad)", bad);
    struct anet_crop_draw d;
    anet_loader_draw(&cfg, H, W, 2, 11, &d);
    T_OK((uint32_t)d.x0 == anet_rng_u32(cfg.seed, 2, ANET_RNG_CROP, 22) % (W - cfg.crop + 1) &&
             (uint32_t)d.y0 == anet_rng_u32(cfg.seed, 2, ANET_RNG_CROP, 23) % (H - cfg.crop + 1),
         "crop offset (x0, y0) = u32(seed, e, CROP, 2r and 2r + 1) mod (W or H - crop + 1)");
}

/* Every image of three epochs of random crops equals its source window exactly. */
static void test_crop_window(void)
{
    struct anet_db *db = open_db(in_dir("raw.lmdb"));
    if (!db) return (void)T_OK(0, "raw database opens");
    struct anet_loader_config cfg = base_config();
    cfg.random_crop = 1, cfg.shuffle = 1;
    struct anet_loader *l;
    enum anet_status s = anet_loader_open(db, &cfg, &l);
    T_OK(!s, "loader opens: %s", s ? anet_error_detail() : "ok");
    if (s) return anet_db_close(db);
    T_OK(anet_loader_count(l) == N && anet_loader_batches(l) == (N + 4) / 5 &&
             anet_loader_channels(l) == C && anet_loader_height(l) == H &&
             anet_loader_width(l) == W,
         "loader: %zu records, %u batches, %dx%dx%d", anet_loader_count(l),
         anet_loader_batches(l), anet_loader_channels(l), anet_loader_height(l),
         anet_loader_width(l));
    int images = 0, right = 0;
    size_t size = (size_t)C * cfg.crop * cfg.crop;
    for (uint32_t b = 0; b < 3 * anet_loader_batches(l); b++) {
        struct anet_batch bt;
        if ((s = anet_loader_next(l, &bt))) break;
        for (int i = 0; i < bt.n; i++, images++) {
            struct anet_crop_draw d;
            anet_loader_draw(&cfg, H, W, bt.epoch, bt.recs[i], &d);
            right += d.x0 >= 0 && d.x0 <= W - cfg.crop && d.y0 >= 0 && d.y0 <= H - cfg.crop &&
                     matches(bt.x + i * size, (int)bt.recs[i], &cfg, &d, NULL);
        }
    }
    T_OK(!s && images == 3 * N && right == images,
         "3 epochs of random crops: %d of %d images equal their source window: %s", right,
         images, s ? anet_error_detail() : "ok");
    anet_loader_free(l);
    anet_db_close(db);
}

static void test_centre_crop(void)
{
    struct anet_loader_config cfg = base_config();
    cfg.crop = 29; /* W − crop = 15 and H − crop = 7: odd, rounded down */
    struct anet_crop_draw d;
    anet_loader_draw(&cfg, H, W, 3, 17, &d);
    T_OK(d.x0 == 7 && d.y0 == 3 && !d.mirror, "centre crop offset ((W-crop)/2, (H-crop)/2) = "
         "(%d, %d), want (7, 3)", d.x0, d.y0);
    struct anet_db *db = open_db(in_dir("raw.lmdb"));
    if (!db) return (void)T_OK(0, "raw database opens");
    struct anet_loader *l;
    struct anet_batch bt;
    int right = 0, n = 0;
    if (!anet_loader_open(db, &cfg, &l)) {
        if (!anet_loader_next(l, &bt))
            for (int i = 0; i < bt.n; i++, n++)
                right += matches(bt.x + (size_t)i * C * cfg.crop * cfg.crop, (int)bt.recs[i],
                                 &cfg, &d, NULL);
        anet_loader_free(l);
    }
    T_OK(n == 5 && right == n, "centre crops equal the central window (%d of %d)", right, n);
    anet_db_close(db);
}

static void test_mirror(void)
{
    struct anet_loader_config cfg = base_config();
    cfg.mirror = 1;
    int mirrored = 0, draws = 2000;
    for (uint32_t r = 0; r < (uint32_t)draws; r++) {
        struct anet_crop_draw d;
        anet_loader_draw(&cfg, H, W, 5, r, &d);
        mirrored += d.mirror;
        if ((r & 1) == 0 && d.mirror != (anet_rng_uniform(cfg.seed, 5, ANET_RNG_FLIP, r) < 0.5f))
            mirrored = -100000;
    }
    /* binomial(2000, 1/2): sd 22.4; 5 sd either side */
    T_OK(mirrored > 1000 - 112 && mirrored < 1000 + 112,
         "mirror: %d of %d draws mirrored (1000 +- 112), as uniform(seed, e, FLIP, r) < 0.5",
         mirrored, draws);

    struct anet_db *db = open_db(in_dir("raw.lmdb"));
    if (!db) return (void)T_OK(0, "raw database opens");
    struct anet_loader *l;
    cfg.random_crop = 1, cfg.shuffle = 1, cfg.batch = 8;
    int rows = 0, reversed = 0, seen_mirror = 0, seen_plain = 0;
    if (!anet_loader_open(db, &cfg, &l)) {
        for (int b = 0; b < 9; b++) {
            struct anet_batch bt;
            if (anet_loader_next(l, &bt)) break;
            for (int i = 0; i < bt.n; i++) {
                struct anet_crop_draw d;
                anet_loader_draw(&cfg, H, W, bt.epoch, bt.recs[i], &d);
                *(d.mirror ? &seen_mirror : &seen_plain) += 1;
                if (!d.mirror) continue;
                const float *o = bt.x + (size_t)i * C * cfg.crop * cfg.crop;
                for (int k = 0; k < C; k++)
                    for (int y = 0; y < cfg.crop; y++, rows++) {
                        int ok = 1;
                        for (int x = 0; x < cfg.crop; x++)
                            ok &= o[((size_t)k * cfg.crop + y) * cfg.crop + x] ==
                                  (float)pix((int)bt.recs[i], k, d.y0 + y,
                                             d.x0 + cfg.crop - 1 - x);
                        reversed += ok;
                    }
            }
        }
        anet_loader_free(l);
    }
    T_OK(seen_mirror > 0 && seen_plain > 0 && rows > 0 && reversed == rows,
         "mirrored images: every output row is its source row reversed (%d of %d rows; "
         "%d mirrored, %d not)", reversed, rows, seen_mirror, seen_plain);
    anet_db_close(db);
}

/* Projected on eigenvector p_j, the noise is α_j λ_j with α_j ~ N(0, σ): normalised by
 * σ λ_j the projections are independent standard normals. */
static void test_color_noise(void)
{
    struct anet_stats st = made_up_stats();
    struct anet_loader_config cfg = base_config();
    cfg.color_sigma = 0.1f, cfg.stats = &st;
    enum { DRAWS = 20000 };
    double sum[3] = {0}, sq[3][3] = {{0}};
    for (uint32_t r = 0; r < DRAWS; r++) {
        struct anet_crop_draw d;
        anet_loader_draw(&cfg, H, W, r % 4, r, &d);
        double z[3];
        for (int j = 0; j < 3; j++) {
            double p = 0;
            for (int k = 0; k < 3; k++) p += (double)d.noise_rgb[k] * st.eigvec[j][k];
            z[j] = p / (0.1 * st.eigval[j]);
            sum[j] += z[j];
        }
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) sq[i][j] += z[i] * z[j];
    }
    /* sampling errors with n = 20000: mean 1/sqrt(n) = 0.0071, variance sqrt(2/n) = 0.010,
     * correlation 1/sqrt(n) = 0.0071; tolerances are 5 of them */
    double worst_mean = 0, worst_var = 0, worst_cov = 0;
    for (int i = 0; i < 3; i++) {
        double m = sum[i] / DRAWS;
        worst_mean = fmax(worst_mean, fabs(m));
        for (int j = 0; j < 3; j++) {
            double c = sq[i][j] / DRAWS - m * sum[j] / DRAWS;
            if (i == j) worst_var = fmax(worst_var, fabs(c - 1));
            else worst_cov = fmax(worst_cov, fabs(c));
        }
    }
    T_OK(worst_mean < 0.036, "colour noise along p_j: mean/(0.1 lambda_j) within %.4f of 0 "
         "(tolerance 0.036)", worst_mean);
    T_OK(worst_var < 0.05, "colour noise along p_j: variance (0.1 lambda_j)^2 to within "
         "%.4f relative (tolerance 0.05)", worst_var);
    T_OK(worst_cov < 0.036, "colour noise: projections uncorrelated, largest |correlation| "
         "%.4f (tolerance 0.036)", worst_cov);
    struct anet_crop_draw d;
    anet_loader_draw(&cfg, H, W, 1, 9, &d);
    double want[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        float a = 0.1f * anet_rng_normal(cfg.seed, 1, ANET_RNG_COLOR, 27 + (uint64_t)i);
        for (int k = 0; k < 3; k++) want[k] += a * st.eigval[i] * st.eigvec[i][k];
    }
    double err = 0;
    for (int k = 0; k < 3; k++) err = fmax(err, fabs(want[k] - d.noise_rgb[k]));
    T_OK(err < 1e-7, "noise_rgb = sum_i 0.1 normal(seed, e, COLOR, 3r+i) lambda_i p_i "
         "(max err %.2g)", err);
}

/* Mean subtraction at the source position, with and without mirror and with noise: exact. */
static void test_mean(void)
{
    struct anet_db *db = open_db(in_dir("raw.lmdb"));
    if (!db) return (void)T_OK(0, "raw database opens");
    float *mean = t_alloc((size_t)C * H * W);
    t_seed(5);
    t_fill(mean, (size_t)C * H * W, 0, 255);
    struct anet_stats st = made_up_stats();
    for (int noise = 0; noise < 2; noise++) {
        struct anet_loader_config cfg = base_config();
        cfg.mean = mean, cfg.mean_c = C, cfg.mean_h = H, cfg.mean_w = W;
        cfg.random_crop = cfg.mirror = cfg.shuffle = 1;
        cfg.color_sigma = noise ? 0.1f : 0.0f, cfg.stats = &st;
        cfg.threads = 2;
        struct anet_loader *l;
        int images = 0, right = 0, mirrored = 0;
        if (!anet_loader_open(db, &cfg, &l)) {
            for (int b = 0; b < 10; b++) {
                struct anet_batch bt;
                if (anet_loader_next(l, &bt)) break;
                for (int i = 0; i < bt.n; i++, images++) {
                    struct anet_crop_draw d;
                    anet_loader_draw(&cfg, H, W, bt.epoch, bt.recs[i], &d);
                    mirrored += d.mirror;
                    right += matches(bt.x + (size_t)i * C * cfg.crop * cfg.crop,
                                     (int)bt.recs[i], &cfg, &d, NULL);
                }
            }
            anet_loader_free(l);
        }
        T_OK(images == 2 * N && right == images && mirrored > 0 && mirrored < images,
             "mean subtracted where the pixel came from%s: %d of %d images exact (%d mirrored)",
             noise ? ", noise 255 * noise_rgb[2 - c] added" : "", right, images, mirrored);
    }
    free(mean);
    anet_db_close(db);
}

/* ---- order, threads, restarts ------------------------------------------------------------ */

/* Batches of a run, copied: n, epoch, index, records, labels, pixels. */
struct run {
    int batches;
    struct anet_batch b[32];
};

static void run_free(struct run *r)
{
    for (int i = 0; i < r->batches; i++)
        free(r->b[i].x), free(r->b[i].labels), free((void *)r->b[i].recs);
    r->batches = 0;
}

/* Reads `count` batches from (epoch, index); start < 0 reads without calling start. */
static enum anet_status read_run(struct anet_loader *l, int epoch, uint32_t index, int count,
                                 size_t image_floats, struct run *out)
{
    out->batches = 0;
    enum anet_status s = epoch >= 0 ? anet_loader_start(l, (uint32_t)epoch, index) : ANET_OK;
    for (int i = 0; i < count && !s; i++) {
        struct anet_batch bt;
        if ((s = anet_loader_next(l, &bt))) break;
        struct anet_batch *c = &out->b[out->batches++];
        *c = bt;
        c->x = malloc((size_t)bt.n * image_floats * sizeof *c->x);
        c->labels = malloc((size_t)bt.n * sizeof *c->labels);
        uint32_t *recs = malloc((size_t)bt.n * sizeof *recs);
        memcpy(c->x, bt.x, (size_t)bt.n * image_floats * sizeof *c->x);
        memcpy(c->labels, bt.labels, (size_t)bt.n * sizeof *c->labels);
        memcpy(recs, bt.recs, (size_t)bt.n * sizeof *recs);
        c->recs = recs;
    }
    return s;
}

static int same_batch(const struct anet_batch *a, const struct anet_batch *b, size_t floats)
{
    return a->n == b->n && a->epoch == b->epoch && a->index == b->index &&
           !memcmp(a->labels, b->labels, (size_t)a->n * sizeof *a->labels) &&
           !memcmp(a->recs, b->recs, (size_t)a->n * sizeof *a->recs) &&
           !memcmp(a->x, b->x, (size_t)a->n * floats * sizeof *a->x);
}

/* Batches a[from..] against b[0..count). */
static int same_runs(const struct run *a, int from, const struct run *b, int count,
                     size_t floats)
{
    if (a->batches < from + count || b->batches < count) return 0;
    for (int i = 0; i < count; i++)
        if (!same_batch(&a->b[from + i], &b->b[i], floats)) return 0;
    return 1;
}

/* Fisher-Yates as the header gives it. */
static void expected_order(uint64_t seed, uint32_t epoch, uint32_t *perm, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    for (uint32_t i = n - 1; i >= 1; i--) {
        uint32_t j = anet_rng_u32(seed, epoch, ANET_RNG_SHUFFLE, i) % (i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

static struct anet_loader_config training_config(const float *mean,
                                                 const struct anet_stats *st)
{
    struct anet_loader_config cfg = base_config();
    cfg.shuffle = cfg.random_crop = cfg.mirror = 1;
    cfg.color_sigma = 0.1f, cfg.stats = st;
    cfg.mean = mean, cfg.mean_c = C, cfg.mean_h = H, cfg.mean_w = W;
    return cfg;
}

static void test_order(void)
{
    struct anet_db *db = open_db(in_dir("raw.lmdb"));
    if (!db) return (void)T_OK(0, "raw database opens");
    struct anet_stats st = made_up_stats();
    struct anet_loader_config cfg = training_config(NULL, &st);
    size_t floats = (size_t)C * cfg.crop * cfg.crop;
    const int B = (N + 4) / 5, EPOCHS = 3;
    static struct run ref, other;
    struct anet_loader *l;
    enum anet_status s = anet_loader_open(db, &cfg, &l);
    if (!s) s = read_run(l, -1, 0, EPOCHS * B, floats, &ref); /* no start: from (0, 0) */
    T_OK(!s && ref.batches == EPOCHS * B, "%d batches read without a start: %s", ref.batches,
         s ? anet_error_detail() : "ok");
    if (s) return anet_loader_free(l), anet_db_close(db);

    int perms = 1, labels = 1, formula = 1, partial = 1, numbered = 1;
    uint32_t orders[3][N];
    for (int e = 0; e < EPOCHS; e++) {
        int seen[N] = {0}, pos = 0;
        uint32_t want[N];
        expected_order(cfg.seed, (uint32_t)e, want, N);
        for (int b = 0; b < B; b++) {
            const struct anet_batch *bt = &ref.b[e * B + b];
            numbered &= bt->epoch == (uint32_t)e && bt->index == (uint32_t)b;
            partial &= bt->n == (b == B - 1 ? N - (B - 1) * 5 : 5);
            for (int i = 0; i < bt->n; i++, pos++) {
                uint32_t r = bt->recs[i];
                if (r >= N) { perms = 0; continue; }
                seen[r]++;
                orders[e][pos] = r;
                labels &= bt->labels[i] == label_of((int)r);
                formula &= r == want[pos];
            }
        }
        for (int r = 0; r < N; r++) perms &= seen[r] == 1;
    }
    T_OK(perms && labels, "each epoch a permutation of the %d records, labels those of the "
         "records", N);
    T_OK(formula, "the order is Fisher-Yates with u32(seed, e, SHUFFLE, i) mod (i + 1)");
    T_OK(numbered && partial, "batches numbered (epoch, index); the last of an epoch holds "
         "N - (B-1)*batch = %d images", N - (B - 1) * 5);
    T_OK(memcmp(orders[0], orders[1], sizeof orders[0]) &&
             memcmp(orders[1], orders[2], sizeof orders[0]),
         "the order differs between epochs");

    /* restarts anywhere give the batches read straight through */
    int restarts = 1;
    for (int e = 0; e < EPOCHS; e++)
        for (int k = 0; k < B; k += 2) {
            int from = e * B + k, count = EPOCHS * B - from < 4 ? EPOCHS * B - from : 4;
            s = read_run(l, e, (uint32_t)k, count, floats, &other);
            restarts &= !s && same_runs(&ref, from, &other, count, floats);
            run_free(&other);
        }
    T_OK(restarts, "anet_loader_start(e, k) gives the batches read through from (0, 0)");
    /* restart in the middle of a run, the ring full */
    struct anet_batch bt;
    anet_loader_start(l, 0, 0);
    anet_loader_next(l, &bt), anet_loader_next(l, &bt);
    usleep(20000);
    s = read_run(l, 1, 1, 3, floats, &other);
    T_OK(!s && same_runs(&ref, B + 1, &other, 3, floats), "a start while batches are ready "
         "drops them and restarts at (1, 1)");
    run_free(&other);
    s = anet_loader_start(l, 0, (uint32_t)B);
    T_OK(s == ANET_ERR_INVALID, "a start at batch %d of %d batches is refused: %s", B, B,
         anet_error_detail());
    anet_loader_free(l);

    /* any number of threads and depth: bit-identical */
    static const int variants[][2] = {{1, 1}, {2, 0}, {2, 1}, {3, 0}, {3, 2}, {4, 8}};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        cfg.threads = variants[v][0], cfg.depth = variants[v][1];
        s = anet_loader_open(db, &cfg, &l);
        if (!s) s = read_run(l, 0, 0, EPOCHS * B, floats, &other);
        T_OK(!s && same_runs(&ref, 0, &other, EPOCHS * B, floats),
             "threads %d, depth %d: the same %d batches bit for bit: %s", cfg.threads,
             cfg.depth, EPOCHS * B, s ? anet_error_detail() : "ok");
        run_free(&other);
        if (l) anet_loader_free(l);
        l = NULL;
    }

    /* without shuffle: key order, every epoch */
    cfg = base_config();
    cfg.threads = 2;
    int keyorder = 1;
    if (!(s = anet_loader_open(db, &cfg, &l))) {
        s = read_run(l, 0, 0, 2 * B, floats, &other);
        for (int b = 0; !s && b < 2 * B; b++)
            for (int i = 0; i < other.b[b].n; i++)
                keyorder &= other.b[b].recs[i] == (uint32_t)((b % B) * 5 + i);
        run_free(&other);
        anet_loader_free(l);
    }
    T_OK(!s && keyorder, "shuffle off: records in key order every epoch");
    run_free(&ref);
    anet_db_close(db);
}

/* ---- errors ------------------------------------------------------------------------------ */

static enum anet_status open_with(const char *path, const struct anet_loader_config *cfg)
{
    struct anet_db *db = open_db(path);
    if (!db) return ANET_ERR_IO;
    struct anet_loader *l = NULL;
    enum anet_status s = anet_loader_open(db, cfg, &l);
    if (!s && l) anet_loader_free(l);
    anet_db_close(db);
    return s;
}

static void test_open_errors(void)
{
    struct anet_loader_config cfg = base_config();
    enum anet_status s = open_with(in_dir("empty.lmdb"), &cfg);
    T_OK(s == ANET_ERR_INVALID && has(anet_error_detail(), "empty.lmdb': the database is empty"),
         "empty database refused: %s", anet_error_detail());
    cfg.crop = W + 1;
    s = open_with(in_dir("raw.lmdb"), &cfg);
    T_OK(s == ANET_ERR_INVALID && has(anet_error_detail(), "crop 45 is larger than the images "
                                      "(36x44)"),
         "crop larger than the images refused: %s", anet_error_detail());
    cfg.crop = H + 1;
    s = open_with(in_dir("raw.lmdb"), &cfg);
    T_OK(s == ANET_ERR_INVALID, "crop taller than the images refused: %s", anet_error_detail());
    cfg = base_config();
    float mean[3 * 10 * 10] = {0};
    cfg.mean = mean, cfg.mean_c = 3, cfg.mean_h = 10, cfg.mean_w = 10;
    s = open_with(in_dir("raw.lmdb"), &cfg);
    T_OK(s == ANET_ERR_INVALID &&
             has(anet_error_detail(), "raw.lmdb': images are 3x36x44 but the mean image is 3x10x10"),
         "mean image of another size refused: %s", anet_error_detail());
    cfg = base_config();
    cfg.color_sigma = 0.1f;
    s = open_with(in_dir("raw.lmdb"), &cfg);
    T_OK(s == ANET_ERR_INVALID && has(anet_error_detail(), "colour statistics"),
         "colour noise without stats refused: %s", anet_error_detail());
    static const struct { int batch, threads, depth; const char *want; } bad[] = {
        {0, 1, 0, "batch must be >= 1"}, {5, 0, 0, "threads must be >= 1"},
        {5, 1, -1, "depth must be >= 0"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = base_config();
        cfg.batch = bad[i].batch, cfg.threads = bad[i].threads, cfg.depth = bad[i].depth;
        s = open_with(in_dir("raw.lmdb"), &cfg);
        T_OK(s == ANET_ERR_INVALID && has(anet_error_detail(), bad[i].want), "refused: %s",
             anet_error_detail());
    }
    cfg = base_config();
    s = open_with(in_dir("bad_first.lmdb"), &cfg);
    T_OK(s == ANET_ERR_FORMAT && has(anet_error_detail(), "bad_first.lmdb': record "
                                     "00000000_n0000/img_0.JPEG: malformed Datum"),
         "a corrupt first record refused at open: %s", anet_error_detail());
}

/* A bad record in batch 2 (records 10..14, key order): batches 0 and 1 come, then the
 * error naming the key, again on the next call; a start makes the loader usable again. */
static void check_bad_record(const char *name, const char *why, int encoded)
{
    struct anet_db *db = open_db(in_dir(name));
    if (!db) return (void)T_OK(0, "'%s' opens", name);
    struct anet_loader_config cfg = base_config();
    cfg.threads = 2;
    if (encoded) cfg.crop = 16;
    struct anet_loader *l;
    enum anet_status s = anet_loader_open(db, &cfg, &l);
    T_OK(!s, "%s: loader opens: %s", name, s ? anet_error_detail() : "ok");
    if (s) return anet_db_close(db);
    struct anet_batch bt;
    int good = 0;
    while (!(s = anet_loader_next(l, &bt)) && good < 10) good++;
    char want[128];
    snprintf(want, sizeof want, "%s': record 00000011_n0002/img_11.JPEG: %s", name, why);
    T_OK(good == 2 && s == ANET_ERR_FORMAT && has(anet_error_detail(), want),
         "%s: %d good batches, then: %s", name, good, anet_error_detail());
    anet_error_clear();
    s = anet_loader_next(l, &bt);
    T_OK(s == ANET_ERR_FORMAT && has(anet_error_detail(), want), "%s: the error again on the "
         "next call: %s", name, anet_error_detail());
    s = anet_loader_start(l, 0, 3);
    if (!s) s = anet_loader_next(l, &bt);
    T_OK(!s && bt.index == 3, "%s: usable again after a start", name);
    anet_loader_free(l);
    anet_db_close(db);
}

static void test_record_errors(void)
{
    check_bad_record("bad_shape.lmdb", "image is 3x18x44, not 3x36x44", 0);
    check_bad_record("bad_label.lmdb", "label -3 is negative", 0);
    check_bad_record("bad_datum.lmdb", "malformed Datum", 0);
    check_bad_record("bad_jpeg.lmdb", "truncated JPEG data", 1);
}

/* Labels beyond the network's classes are refused where they are read, naming the record:
 * with 10 classes, record 3 (label 10, in batch 0) is the first; with 11 all pass. */
static void test_classes(void)
{
    struct anet_db *db = open_db(in_dir("raw.lmdb"));
    if (!db) return (void)T_OK(0, "raw.lmdb opens");
    struct anet_loader_config cfg = base_config();
    struct anet_loader *l;
    struct anet_batch bt;
    cfg.classes = 10;
    enum anet_status s = anet_loader_open(db, &cfg, &l);
    if (!s) s = anet_loader_next(l, &bt), anet_loader_free(l);
    T_OK(s == ANET_ERR_FORMAT &&
             has(anet_error_detail(), "record 00000003_n0000/img_3.JPEG: label 10 is out of "
                                      "range for 10 classes"),
         "a label beyond the classes is refused, naming the record: %s", anet_error_detail());
    cfg.classes = 11;
    s = anet_loader_open(db, &cfg, &l);
    uint32_t batches = s ? 0 : anet_loader_batches(l);
    for (uint32_t i = 0; i < batches && !s; i++) s = anet_loader_next(l, &bt);
    if (batches) anet_loader_free(l);
    T_OK(!s && batches > 0, "with every label in range, every batch comes (%u)", batches);
    anet_db_close(db);
}

/* Shares of a batch (data parallelism): three processes' shares of every batch of an epoch,
 * put together, are the one process's batch, image for image and bit for bit, with the
 * augmentation on; a share may be empty when a batch has fewer images than shares. */
static void test_shares(void)
{
    struct anet_db *db = open_db(in_dir("raw.lmdb"));
    if (!db) return (void)T_OK(0, "raw.lmdb opens");
    struct anet_loader_config cfg = base_config();
    cfg.shuffle = 1, cfg.random_crop = 1, cfg.mirror = 1, cfg.batch = 7;
    size_t img = (size_t)C * cfg.crop * cfg.crop;
    struct anet_loader *whole, *part[3];
    enum anet_status s = anet_loader_open(db, &cfg, &whole);
    for (int k = 0; k < 3 && !s; k++) {
        struct anet_loader_config pc = cfg;
        pc.shards = 3, pc.shard = k;
        s = anet_loader_open(db, &pc, &part[k]);
    }
    if (!T_OK(!s, "a loader and three shares open: %s", s ? anet_error_detail() : "ok"))
        return anet_db_close(db);
    uint32_t batches = anet_loader_batches(whole);
    int same = 1, empty = 0;
    for (uint32_t b = 0; b < 2 * batches && !s && same; b++) { /* two epochs */
        struct anet_batch w, p;
        if ((s = anet_loader_next(whole, &w))) break;
        int at = 0;
        for (int k = 0; k < 3 && !s; k++) {
            if ((s = anet_loader_next(part[k], &p))) break;
            same &= p.first == at && p.total == w.n && p.epoch == w.epoch && p.index == w.index;
            same &= !p.n || !memcmp(p.x, w.x + (size_t)at * img, (size_t)p.n * img * sizeof(float));
            same &= !p.n || !memcmp(p.labels, w.labels + at, (size_t)p.n * sizeof *p.labels);
            empty += p.n == 0;
            at += p.n;
        }
        same &= at == w.n;
    }
    T_OK(!s && same, "three shares of every batch make the whole batch, bit for bit (%d empty "
         "shares) %s", empty, s ? anet_error_detail() : "");
    anet_loader_free(whole);
    for (int k = 0; k < 3; k++) anet_loader_free(part[k]);
    struct anet_loader_config bad = cfg;
    bad.shards = 2, bad.shard = 2;
    T_OK(open_with(in_dir("raw.lmdb"), &bad) == ANET_ERR_INVALID, "share 2 of 2 is refused: %s",
         anet_error_detail());
    anet_db_close(db);
}

/* ---- encoded records ---------------------------------------------------------------------- */

static void test_encoded(void)
{
    struct anet_db *enc = open_db(in_dir("enc.lmdb")), *raw = open_db(in_dir("dec.lmdb"));
    if (!enc || !raw) {
        T_OK(0, "encoded databases open");
        return anet_db_close(enc), anet_db_close(raw);
    }
    struct anet_stats st = made_up_stats();
    float *mean = t_alloc((size_t)3 * 24 * 30);
    t_seed(9);
    t_fill(mean, (size_t)3 * 24 * 30, 0, 255);
    struct anet_loader_config cfg = training_config(mean, &st);
    cfg.mean_h = 24, cfg.mean_w = 30, cfg.crop = 20, cfg.threads = 3;
    struct anet_loader *le = NULL, *lr = NULL;
    static struct run a, b;
    size_t floats = (size_t)3 * cfg.crop * cfg.crop;
    enum anet_status s = anet_loader_open(enc, &cfg, &le);
    T_OK(!s && anet_loader_height(le) == 24 && anet_loader_width(le) == 30,
         "encoded database: shape from the decoded first record: %s",
         s ? anet_error_detail() : "3x24x30");
    if (!s) s = anet_loader_open(raw, &cfg, &lr);
    if (!s) s = read_run(le, 0, 0, 8, floats, &a);
    if (!s) s = read_run(lr, 0, 0, 8, floats, &b);
    T_OK(!s && same_runs(&a, 0, &b, 8, floats), "encoded records give the batches of the raw "
         "records of their decoded images: %s", s ? anet_error_detail() : "bit for bit");
    run_free(&a), run_free(&b);
    anet_loader_free(le), anet_loader_free(lr);
    anet_db_close(enc), anet_db_close(raw);
    free(mean);
}

/* The paper's ten test crops: the boxes on an image whose pixels say where they are
 * (plane 1 holds y, plane 2 holds x), and the loader's ten-crop batches equal to them. */
static void test_ten_crops(void)
{
    enum { h = 12, w = 16, crop = 9 };
    uint8_t src[3 * h * w];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            src[0 * h * w + y * w + x] = (uint8_t)(y * w + x);
            src[1 * h * w + y * w + x] = (uint8_t)y;
            src[2 * h * w + y * w + x] = (uint8_t)x;
        }
    /* top-left source pixel of each box: centre, TL, TR, BL, BR */
    static const int want_x[5] = {3, 0, 7, 0, 7}, want_y[5] = {1, 0, 0, 3, 3};
    struct anet_loader_config cfg = base_config();
    cfg.crop = crop;
    int ok = 1;
    for (int k = 0; k < 10; k++) {
        struct anet_crop_draw d;
        float out[3 * crop * crop];
        anet_loader_test_crop(crop, h, w, k, &d);
        anet_loader_transform(&cfg, src, 3, h, w, &d, out);
        int b = k % 5;
        for (int y = 0; y < crop; y++)
            for (int x = 0; x < crop; x++) {
                int sx = want_x[b] + (k >= 5 ? crop - 1 - x : x), sy = want_y[b] + y;
                ok &= out[1 * crop * crop + y * crop + x] == (float)sy &&
                      out[2 * crop * crop + y * crop + x] == (float)sx &&
                      out[0 * crop * crop + y * crop + x] == (float)(sy * w + sx);
            }
    }
    T_OK(ok, "ten crops: centre (3,1), corners (0,0) (7,0) (0,3) (7,3), then their mirrors");

    struct anet_db *db = open_db(in_dir("raw.lmdb"));
    struct anet_loader *l1 = NULL, *l10 = NULL;
    struct anet_loader_config c1 = base_config(), c10 = base_config();
    c10.crops = 10;
    int opened = db && !anet_loader_open(db, &c1, &l1) && !anet_loader_open(db, &c10, &l10);
    T_OK(opened, "loaders with 1 and 10 crops open: %s", opened ? "ok" : anet_error_detail());
    if (opened) {
        struct anet_batch b1, b10;
        int same = !anet_loader_next(l1, &b1) && !anet_loader_next(l10, &b10) &&
                   b10.crops == 10 && b1.crops == 1 && b10.n == b1.n;
        size_t img = (size_t)C * c1.crop * c1.crop;
        const struct anet_db_record *recs;
        size_t count;
        anet_db_records(db, &recs, &count);
        for (int i = 0; same && i < b10.n; i++) {
            same &= !memcmp(b10.x + (size_t)i * 10 * img, b1.x + (size_t)i * img,
                            img * sizeof(float));
            struct anet_datum dt;
            anet_datum_decode(recs[b10.recs[i]].val, recs[b10.recs[i]].val_len, &dt);
            for (int k = 0; k < 10; k++) {
                struct anet_crop_draw d;
                float out[C * 28 * 28];
                anet_loader_test_crop(c10.crop, H, W, k, &d);
                anet_loader_transform(&c10, dt.data, C, H, W, &d, out);
                same &= !memcmp(out, b10.x + ((size_t)i * 10 + (size_t)k) * img, sizeof out);
            }
        }
        T_OK(same, "a ten-crop batch holds each image's ten crops, the first the centre one");
    }
    anet_loader_free(l1);
    anet_loader_free(l10);
    struct anet_loader *bad = NULL;
    c10.mirror = 1;
    T_OK(db && anet_loader_open(db, &c10, &bad) == ANET_ERR_INVALID &&
             has(anet_error_detail(), "ten crops are for testing"),
         "ten crops with mirrors refused: %s", anet_error_detail());
    c10.mirror = 0, c10.crops = 5;
    T_OK(db && anet_loader_open(db, &c10, &bad) == ANET_ERR_INVALID,
         "5 crops refused: %s", anet_error_detail());
    anet_db_close(db);
}

/* Pixels mode hands over each record's pixels and its draws; transforming them as the
 * GPU does (anet_loader_transform) gives the float mode's x exactly, in training (random
 * crop, mirror, colour noise, mean) and with ten crops; host_alloc is used. */
static int allocs;
static void *counting_alloc(void *ctx, size_t bytes)
{
    (void)ctx;
    allocs++;
    return malloc(bytes);
}
static void plain_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static int pixels_match(const char *path, struct anet_loader_config cfg, const char *what)
{
    struct anet_db *db = open_db(path);
    if (!db) return T_OK(0, "%s: database opens", what);
    struct anet_loader *lf, *lp;
    struct anet_loader_config pc = cfg;
    pc.pixels = 1, pc.host_alloc = counting_alloc, pc.host_free = plain_free;
    allocs = 0;
    enum anet_status s = anet_loader_open(db, &cfg, &lf);
    if (!s) s = anet_loader_open(db, &pc, &lp);
    if (s) {
        anet_db_close(db);
        return T_OK(0, "%s: loaders open: %s", what, anet_error_detail());
    }
    int c = anet_loader_channels(lf), h = anet_loader_height(lf), w = anet_loader_width(lf);
    int crops = cfg.crops > 1 ? cfg.crops : 1, same = 1, batches = 0;
    size_t img = (size_t)c * cfg.crop * cfg.crop;
    float *out = t_alloc(img);
    for (int i = 0; i < 7 && same && !s; i++, batches++) {
        struct anet_batch a, b;
        if ((s = anet_loader_next(lf, &a)) || (s = anet_loader_next(lp, &b))) break;
        same = a.n == b.n && b.x == NULL && b.pixels && b.draws &&
               !memcmp(a.labels, b.labels, (size_t)a.n * sizeof *a.labels);
        for (int j = 0; same && j < a.n * crops; j++) {
            anet_loader_transform(&cfg, b.pixels + (size_t)(j / crops) * c * h * w, c, h, w,
                                  &b.draws[j], out);
            same = !memcmp(out, a.x + (size_t)j * img, img * sizeof *out);
        }
    }
    free(out);
    anet_loader_free(lf), anet_loader_free(lp), anet_db_close(db);
    return T_OK(!s && same && batches == 7 && allocs > 0,
                "%s: pixels and draws transform to the float batches exactly (%d batches, "
                "%d buffers from host_alloc) %s", what, batches, allocs, s ? anet_error_detail() : "");
}

static void test_pixels_mode(void)
{
    struct anet_stats st = made_up_stats();
    static float mean[C * H * W];
    for (size_t i = 0; i < sizeof mean / sizeof *mean; i++) mean[i] = (float)(i % 251) * 0.5f;
    pixels_match(in_dir("raw.lmdb"), training_config(mean, &st), "training, raw records");
    struct anet_loader_config ten = base_config();
    ten.crops = 10;
    pixels_match(in_dir("raw.lmdb"), ten, "ten crops");
    struct anet_loader_config enc = base_config();
    enc.crop = 20;
    pixels_match(in_dir("enc.lmdb"), enc, "encoded records");
}

int main(void)
{
    if (!mkdtemp(dir)) {
        T_OK(0, "mkdtemp: %s", strerror(errno));
        return t_done();
    }
    int made = make_raw(in_dir("raw.lmdb"), N, C, H, W, -1, BAD_NONE) &&
               make_raw(in_dir("empty.lmdb"), 0, C, H, W, -1, BAD_NONE) &&
               make_raw(in_dir("bad_shape.lmdb"), N, C, H, W, 11, BAD_SHAPE) &&
               make_raw(in_dir("bad_label.lmdb"), N, C, H, W, 11, BAD_LABEL) &&
               make_raw(in_dir("bad_datum.lmdb"), N, C, H, W, 11, BAD_DATUM) &&
               make_raw(in_dir("bad_first.lmdb"), N, C, H, W, 0, BAD_DATUM) &&
               make_encoded(in_dir("enc.lmdb"), in_dir("dec.lmdb"), N, 24, 30, -1) &&
               make_encoded(in_dir("bad_jpeg.lmdb"), in_dir("bad_jpeg_dec.lmdb"), N, 24, 30, 11);
    T_OK(made, "test databases written: %s", made ? "ok" : anet_error_detail());
    if (made) {
        test_records();
        test_crop_range();
        test_crop_window();
        test_centre_crop();
        test_mirror();
        test_color_noise();
        test_mean();
        test_order();
        test_open_errors();
        test_record_errors();
        test_classes();
        test_shares();
        test_encoded();
        test_ten_crops();
        test_pixels_mode();
    }
    t_remove_tree(dir);
    return t_done();
}
