/* alexnet-info: the architecture as a table — shapes, towers, parameters, multiply-adds —
 * or a description of the project's files.
 *
 * Usage: alexnet-info [network options] [--tsv]
 *        alexnet-info FILE...
 * Without files it prints, for the network the options describe (the paper's by
 * default), one row a layer and the totals, with a subtotal for convolutional and fully
 * connected layers: the paper's network keeps 96% of its parameters in fc6-fc8 and 92% of
 * its arithmetic in conv1-conv5. With files it describes each: an LMDB of Datum records
 * (count, encoding, shapes, label histogram, class table), a stats file, a mean image, a
 * checkpoint (its configuration as the table above, classes, training state). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alexnet/checkpoint.h"
#include "alexnet/data.h"
#include "alexnet/image.h"
#include "alexnet/stats.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-info [OPTIONS]\n"
            "       alexnet-info FILE...\n"
            "Print the architecture of the network as a table: each layer's output shape,\n"
            "towers, groups, inputs, parameters and forward multiply-adds, then totals and\n"
            "the convolutional / fully connected subtotals. Given files, describe each:\n"
            "an LMDB directory of Datum records (records, encoding, image shapes, label\n"
            "histogram, class table), a stats file, a mean image (.binaryproto) or a\n"
            "checkpoint (configuration, classes, training state).\n"
            "\n"
            "%s"
            "Output:\n"
            "      --tsv              tab-separated values with raw numbers, for scripts\n"
            "      --verify           with files: read every record of a database (and decode\n"
            "                         its images), every tensor of a checkpoint; exit 1 when\n"
            "                         one is damaged\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n",
            CLI_MODEL_OPTS_HELP);
}

/* 60965224 -> "60,965,224" */
static const char *commas(size_t v, char *buf, size_t size)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%zu", v), o = 0;
    for (int i = 0; i < len && o < (int)size - 1; i++) {
        if (i && (len - i) % 3 == 0 && o < (int)size - 2) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

static const char *inputs_of(const struct anet_config *c, const struct anet_layer_info *L,
                             int index)
{
    if (index == 0) return "image";
    if (c->towers == 1) return "all";
    return L->cross_towers ? "both towers" : (L->groups == 2 ? "own tower" : "grouped");
}

static void after_of(const struct anet_config *c, const struct anet_layer_info *L, char *buf,
                     size_t size)
{
    buf[0] = 0;
    if (!L->act) {
        snprintf(buf, size, "softmax");
        return;
    }
    size_t o = (size_t)snprintf(buf, size, "%s", c->act == ANET_ACT_RELU ? "ReLU" : "tanh");
    if (L->lrn) o += (size_t)snprintf(buf + o, size - o, ", LRN");
    if (L->pool)
        o += (size_t)snprintf(buf + o, size - o, ", max-pool %d/%d -> %dx%dx%d", c->pool_size,
                              c->pool_stride, L->out_c, L->pool_h, L->pool_w);
    if (L->dropout) snprintf(buf + o, size - o, ", dropout %g", c->dropout);
}

/* "on", "off", or "on (Caffe's: ...)" when the LRN is not the paper's. */
static const char *lrn_brief(const struct anet_config *c, char *buf, size_t size)
{
    if (!c->lrn || (!c->lrn_alpha_per_size && !c->lrn_across_towers))
        return c->lrn ? "on" : "off";
    snprintf(buf, size, "on (%s%s%s)", c->lrn_alpha_per_size ? "alpha/size" : "",
             c->lrn_alpha_per_size && c->lrn_across_towers ? ", " : "",
             c->lrn_across_towers ? "across the towers" : "");
    return buf;
}

/* The LRN row of a checkpoint: every parameter and how the network reads them. */
static void print_lrn(const struct anet_config *c)
{
    if (!c->lrn) {
        printf("lrn\toff\n");
        return;
    }
    const struct anet_lrn_param *p = &c->lrn_param;
    printf("lrn\tsize %d, k %g, alpha %g%s, beta %g, %s\n", p->size, (double)p->k,
           (double)p->alpha, c->lrn_alpha_per_size ? " divided by the size" : " as given",
           (double)p->beta,
           c->towers == 1 || c->lrn_across_towers ? "across all channels" : "within each tower");
}

/* The dropout row of a checkpoint: the probability and where the 1/(1 − p) goes. */
static void print_dropout(const struct anet_config *c)
{
    if (!(c->dropout > 0)) printf("dropout\toff\n");
    else if (c->dropout_scale == ANET_DROPOUT_SCALE_TEST)
        printf("dropout\t%g on fc6, fc7, the paper's form: kept units as they are while "
               "training, every unit x%g at test\n", c->dropout, 1.0f - c->dropout);
    else
        printf("dropout\t%g on fc6, fc7, inverted: kept units x%g while training, nothing at "
               "test\n", c->dropout, 1.0f / (1.0f - c->dropout));
}

static void print_header(const struct anet_config *c)
{
    char lrn[64];
    int paper = c->dropout > 0 && c->dropout_scale == ANET_DROPOUT_SCALE_TEST;
    printf("# alexnet: %d classes, %dx%dx%d input, %d tower%s, LRN %s, max-pool %d/%d, %s, "
           "dropout %g%s\n",
           c->classes, c->channels, c->crop, c->crop, c->towers, c->towers > 1 ? "s" : "",
           lrn_brief(c, lrn, sizeof lrn), c->pool_size, c->pool_stride,
           c->act == ANET_ACT_RELU ? "ReLU" : "tanh", c->dropout,
           paper ? " (the paper's form: x(1-p) at test)" : "");
}

static void print_table(const struct anet_config *c, const struct anet_layer_info *info)
{
    char shape[32], num[32], after[96];
    const char *towers = c->towers == 2 ? "1+2" : "1";
    print_header(c);
    printf("%-6s %-12s %-6s %-6s %-12s %12s %10s  %s\n", "layer", "output", "towers",
           "groups", "inputs", "params", "MACs(M)", "then");
    size_t conv_p = 0, fc_p = 0;
    double conv_m = 0, fc_m = 0;
    for (int i = 0; i < ANET_LAYERS; i++) {
        const struct anet_layer_info *L = &info[i];
        size_t p = L->weights + L->biases;
        if (L->is_conv) snprintf(shape, sizeof shape, "%dx%dx%d", L->out_c, L->out_h, L->out_w);
        else snprintf(shape, sizeof shape, "%d", L->out_c);
        after_of(c, L, after, sizeof after);
        printf("%-6s %-12s %-6s %-6d %-12s %12s %10.2f  %s\n", L->name, shape, towers,
               L->groups, inputs_of(c, L, i), commas(p, num, sizeof num), L->macs / 1e6, after);
        if (L->is_conv) conv_p += p, conv_m += L->macs;
        else fc_p += p, fc_m += L->macs;
    }
    size_t tp = conv_p + fc_p;
    double tm = conv_m + fc_m;
    printf("%-46s %12s %10.2f\n", "total", commas(tp, num, sizeof num), tm / 1e6);
    printf("%-46s %12s %10.2f  (%.1f%% of parameters, %.1f%% of multiply-adds)\n",
           "convolutional (conv1-conv5)", commas(conv_p, num, sizeof num), conv_m / 1e6,
           100.0 * conv_p / tp, 100.0 * conv_m / tm);
    printf("%-46s %12s %10.2f  (%.1f%% of parameters, %.1f%% of multiply-adds)\n",
           "fully connected (fc6-fc8)", commas(fc_p, num, sizeof num), fc_m / 1e6,
           100.0 * fc_p / tp, 100.0 * fc_m / tm);
}

static void print_tsv(const struct anet_config *c, const struct anet_layer_info *info)
{
    print_header(c);
    printf("#layer\tout_c\tout_h\tout_w\ttowers\tgroups\tinputs\tweights\tbiases\tparams\tmacs\n");
    size_t tp = 0;
    double tm = 0;
    for (int i = 0; i < ANET_LAYERS; i++) {
        const struct anet_layer_info *L = &info[i];
        size_t p = L->weights + L->biases;
        printf("%s\t%d\t%d\t%d\t%d\t%d\t%s\t%zu\t%zu\t%zu\t%.0f\n", L->name, L->out_c,
               L->out_h, L->out_w, c->towers, L->groups, inputs_of(c, L, i), L->weights,
               L->biases, p, L->macs);
        tp += p, tm += L->macs;
    }
    printf("total\t\t\t\t\t\t\t\t\t%zu\t%.0f\n", tp, tm);
}

/* ---- files ---------------------------------------------------------------------------- */

struct shape_count { int c, h, w; size_t n; };

/* Records named on stderr by --verify before the rest are only counted. */
#define VERIFY_NAMED 20

struct db_summary {
    size_t records, raw, encoded, bad;
    size_t damaged; /* --verify: records that do not decode, or whose label or image is bad */
    struct shape_count shapes[8];
    int nshapes;
    size_t other_shapes;
    size_t *hist; /* per label, up to hist_n */
    int hist_n;
    size_t out_of_range;
};

/* "# PATH: what" with the path escaped, so that the header stays one line. */
static void header(const char *path, const char *what)
{
    fputs("# ", stdout);
    cli_tsv_field(stdout, path, strlen(path));
    printf(": %s\n", what);
}

/* A class table row's name and words, escaped as TSV fields. */
static void put_class(const char *wnid, const char *sep, const char *words)
{
    cli_tsv_field(stdout, wnid, strlen(wnid));
    fputs(sep, stdout);
    cli_tsv_field(stdout, words, strlen(words));
}

static void count_shape(struct db_summary *s, const struct anet_datum *d)
{
    for (int i = 0; i < s->nshapes; i++)
        if (s->shapes[i].c == d->channels && s->shapes[i].h == d->height && s->shapes[i].w == d->width) {
            s->shapes[i].n++;
            return;
        }
    if (s->nshapes < 8) s->shapes[s->nshapes++] = (struct shape_count){d->channels, d->height, d->width, 1};
    else s->other_shapes++;
}

/* --verify: what is wrong with a record that decoded as a Datum, or NULL. */
static const char *record_problem(const struct anet_datum *d, int classes, char *why, size_t size)
{
    if (d->label < 0 || (classes > 0 && d->label >= classes)) {
        snprintf(why, size, "label %d is outside the %d classes", (int)d->label, classes);
        return why;
    }
    if (!d->encoded) return NULL;
    struct anet_image im;
    if (!anet_image_decode(d->data, d->data_len, 0, &im)) {
        anet_image_free(&im);
        return NULL;
    }
    snprintf(why, size, "%s", anet_error_detail());
    return why;
}

static void name_damage(struct db_summary *s, struct anet_db *db, const char *key, size_t kl,
                        const char *why)
{
    if (++s->damaged > VERIFY_NAMED) return;
    fprintf(stderr, "%s: '%s': record '", cli_name, anet_db_path(db));
    cli_tsv_field(stderr, key, kl);
    fprintf(stderr, "': %s\n", why);
}

static enum anet_status scan_db(struct anet_db *db, int classes, int verify, struct db_summary *s)
{
    struct anet_db_cursor *c;
    enum anet_status st = anet_db_cursor_open(db, &c);
    if (st) return st;
    s->hist_n = classes;
    s->hist = calloc((size_t)(classes > 0 ? classes : 1), sizeof *s->hist);
    for (;;) {
        const char *key;
        const void *val;
        size_t kl, vl;
        struct anet_datum d;
        if ((st = anet_db_cursor_next(c, &key, &kl, &val, &vl)) || !key) break;
        s->records++;
        char why[512];
        if (anet_datum_decode(val, vl, &d)) {
            s->bad++;
            if (verify) name_damage(s, db, key, kl, anet_error_detail());
            continue;
        }
        if (verify && record_problem(&d, classes, why, sizeof why)) name_damage(s, db, key, kl, why);
        if (d.encoded) s->encoded++;
        else s->raw++;
        count_shape(s, &d);
        if (d.label >= 0 && d.label < s->hist_n) s->hist[d.label]++;
        else s->out_of_range++;
    }
    anet_db_cursor_close(c);
    return st;
}

static int describe_db(const char *path, int verify)
{
    struct anet_db *db;
    enum anet_status st = anet_db_open(path, &db);
    if (st) return cli_fail(st, 0, NULL);
    char *cpath = NULL;
    struct anet_classes cls = {0};
    int have_classes = 0;
    if (asprintf(&cpath, "%s/classes.tsv", path) > 0) {
        struct stat sb;
        if (stat(cpath, &sb) == 0) {
            if ((st = anet_classes_read(cpath, &cls))) {
                free(cpath);
                anet_db_close(db);
                return cli_fail(st, 0, NULL);
            }
            have_classes = 1;
        }
    }
    free(cpath);
    struct db_summary s = {0};
    st = scan_db(db, have_classes ? cls.count : 0, verify, &s);
    anet_db_close(db);
    if (st) {
        free(s.hist);
        anet_classes_free(&cls);
        return cli_fail(st, 0, NULL);
    }
    header(path, "LMDB of Caffe Datum records");
    printf("records\t%zu\n", s.records);
    printf("encoding\t%s\n", s.encoded && s.raw ? "mixed" : s.encoded ? "encoded" : "raw");
    printf("raw\t%zu\nencoded\t%zu\n", s.raw, s.encoded);
    if (s.bad) printf("unreadable\t%zu\n", s.bad);
    for (int i = 0; i < s.nshapes; i++)
        printf("shape\t%dx%dx%d\t%zu\n", s.shapes[i].c, s.shapes[i].h, s.shapes[i].w, s.shapes[i].n);
    if (s.other_shapes) printf("shape\tother\t%zu\n", s.other_shapes);
    printf("classes\t%d\n", have_classes ? cls.count : 0);
    if (!have_classes) printf("# no classes.tsv: labels are not named\n");
    if (s.out_of_range) printf("labels_outside_classes\t%zu\n", s.out_of_range);
    if (have_classes) {
        printf("#label\twnid\timages\twords\n");
        for (int k = 0; k < cls.count; k++) {
            printf("%d\t", k);
            char count[32];
            snprintf(count, sizeof count, "\t%zu\t", s.hist[k]);
            put_class(cls.wnid[k], count, cls.words[k]);
            putchar('\n');
        }
    }
    free(s.hist);
    anet_classes_free(&cls);
    if (!verify) return EXIT_OK;
    printf("verified\t%zu\ndamaged_records\t%zu\n", s.records, s.damaged);
    if (!s.damaged) return EXIT_OK;
    if (s.damaged > VERIFY_NAMED)
        cli_error("'%s': and %zu more damaged records", path, s.damaged - VERIFY_NAMED);
    cli_error("'%s': %zu of %zu records are damaged", path, s.damaged, s.records);
    return EXIT_RUNTIME;
}

static int describe_stats(const char *path)
{
    struct anet_stats s;
    enum anet_status st = anet_stats_read(path, &s);
    if (st) return cli_fail(st, 0, NULL);
    header(path, "colour statistics (pixel values / 255, R G B)");
    printf("images\t%llu\npixels\t%llu\nsize\t%dx%dx%d\n", (unsigned long long)s.images,
           (unsigned long long)s.pixels, s.channels, s.height, s.width);
    printf("mean\t%.6f\t%.6f\t%.6f\n", s.mean[0], s.mean[1], s.mean[2]);
    printf("std\t%.6f\t%.6f\t%.6f\n", s.std[0], s.std[1], s.std[2]);
    printf("eigval\t%.6g\t%.6g\t%.6g\n", s.eigval[0], s.eigval[1], s.eigval[2]);
    for (int i = 0; i < 3; i++)
        printf("eigvec_%d\t%.6f\t%.6f\t%.6f\n", i + 1, s.eigvec[i][0], s.eigvec[i][1], s.eigvec[i][2]);
    return EXIT_OK;
}

static int describe_mean(const char *path)
{
    float *m;
    int c, h, w;
    enum anet_status st = anet_mean_read(path, &m, &c, &h, &w);
    if (st) return cli_fail(st, 0, NULL);
    header(path, "mean image (Caffe BlobProto, 0..255)");
    printf("blob\t1x%dx%dx%d\n", c, h, w);
    size_t plane = (size_t)h * w;
    float lo = m[0], hi = m[0];
    printf("channel_means_bgr");
    for (int k = 0; k < c; k++) {
        double sum = 0;
        for (size_t i = 0; i < plane; i++) {
            float v = m[k * plane + i];
            sum += v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        printf("\t%g", sum / plane);
    }
    printf("\nmin\t%g\nmax\t%g\n", lo, hi);
    free(m);
    return EXIT_OK;
}

/* The first `max` classes of the table, then how many more there are. */
static void print_classes(const struct anet_classes *c, int max)
{
    printf("classes\t%d\n", c->count);
    if (c->count == 0) {
        printf("# no class table: labels are not named\n");
        return;
    }
    for (int k = 0; k < c->count && k < max; k++) {
        printf("class\t%d\t", k);
        put_class(c->wnid[k], "\t", c->words[k]);
        putchar('\n');
    }
    if (c->count > max) printf("# and %d more classes\n", c->count - max);
}

/* The training text's "key value" lines as "train.key<TAB>value" rows. */
static void print_train(const char *text)
{
    for (const char *p = text; p && *p;) {
        size_t len = strcspn(p, "\n");
        size_t key = strcspn(p, " \t\n");
        size_t gap = key;
        while (gap < len && (p[gap] == ' ' || p[gap] == '\t')) gap++;
        size_t end = len;
        while (end > gap && (p[end - 1] == '\r' || p[end - 1] == ' ')) end--;
        if (key > 0 && p[0] != '#')
            printf("train.%.*s\t%.*s\n", (int)key, p, (int)(end - gap), p + gap);
        p += len + (p[len] == '\n');
    }
}

/* --verify: the whole file (its checksum, every tensor), and every value finite. */
static int verify_ckpt(const char *path)
{
    struct anet_ckpt k;
    enum anet_status st = anet_ckpt_load(path, 1, &k);
    if (st) return cli_fail(st, 0, NULL);
    struct anet_tensor *t;
    int n = anet_model_tensors(k.model, &t), bad = 0;
    for (int i = 0; i < n && !bad; i++)
        for (size_t j = 0; j < t[i].count && !bad; j++)
            if (!isfinite(t[i].data[j]) || !isfinite(t[i].momentum[j])) {
                cli_error("'%s': %s%s[%zu] is not finite", path,
                          isfinite(t[i].data[j]) ? "momentum." : "", t[i].name, j);
                bad = 1;
            }
    anet_ckpt_free(&k);
    return bad ? EXIT_RUNTIME : EXIT_OK;
}

static int describe_ckpt(const char *path, off_t bytes, int tsv, int verify)
{
    if (verify && verify_ckpt(path)) return EXIT_RUNTIME;
    struct anet_ckpt k;
    enum anet_status st = anet_ckpt_peek(path, &k);
    if (st) return cli_fail(st, 0, NULL);
    header(path, "alexnet checkpoint (alexnet-files(5))");
    printf("version\t%d\n", ANET_CKPT_VERSION);
    printf("bytes\t%lld\n", (long long)bytes);
    printf("parameters\t%zu\n", anet_config_params(&k.config));
    printf("momentum\t%s\n", k.has_momentum ? "yes" : "no");
    print_lrn(&k.config);
    print_dropout(&k.config);
    if (verify) printf("verified\tyes\n");
    print_classes(&k.classes, 5);
    print_train(k.train);
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(&k.config, info);
    if (tsv) print_tsv(&k.config, info);
    else print_table(&k.config, info);
    anet_ckpt_free(&k);
    return EXIT_OK;
}

enum file_kind { KIND_UNKNOWN, KIND_STATS, KIND_MEAN, KIND_CKPT };

/* A checkpoint starts with "ANETCKPT" (a shorter file that starts as it does is a
 * truncated one); a stats file with its "# alexnet colour statistics" line (or "version");
 * a BlobProto has no magic number, but Caffe's and ours start with field 1 (num, 0x08) or
 * field 7 (shape, 0x3a). */
static enum file_kind sniff_file(const char *path)
{
    char head[32] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return KIND_UNKNOWN;
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    if (n > 0 && memcmp(head, "ANETCKPT", n < 8 ? n : 8) == 0) return KIND_CKPT;
    if (strncmp(head, "# alexnet colour statistics", 27) == 0 || strncmp(head, "version\t", 8) == 0)
        return KIND_STATS;
    if (n > 0 && (head[0] == 0x08 || head[0] == 0x3a)) return KIND_MEAN;
    return KIND_UNKNOWN;
}

static int describe(const char *path, int tsv, int verify)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        cli_error("cannot open '%s': %s", path, strerror(errno));
        return EXIT_RUNTIME;
    }
    char data[4096];
    snprintf(data, sizeof data, "%s/data.mdb", path);
    if (S_ISDIR(st.st_mode) && stat(data, &st) == 0) return describe_db(path, verify);
    switch (S_ISREG(st.st_mode) ? sniff_file(path) : KIND_UNKNOWN) {
    case KIND_STATS: return describe_stats(path);
    case KIND_MEAN: return describe_mean(path);
    case KIND_CKPT: return describe_ckpt(path, st.st_size, tsv, verify);
    case KIND_UNKNOWN: break;
    }
    cli_error("'%s': not a file alexnet-info knows (an LMDB directory, a stats file, a "
              "mean .binaryproto, a checkpoint)", path);
    return EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
    enum { OPT_TSV = CLI_OPT_MODEL_LAST, OPT_VERIFY, OPT_VERSION };
    static const struct option longopts[] = {CLI_MODEL_LONGOPTS,
                                             {"tsv", no_argument, 0, OPT_TSV},
                                             {"verify", no_argument, 0, OPT_VERIFY},
                                             {"help", no_argument, 0, 'h'},
                                             {"version", no_argument, 0, OPT_VERSION},
                                             {0, 0, 0, 0}};
    cli_init("alexnet-info");
    struct anet_config c;
    anet_config_default(&c);
    int tsv = 0, verify = 0, opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (cli_model_option(opt, optarg, &c)) continue;
        switch (opt) {
        case OPT_TSV: tsv = 1; break;
        case OPT_VERIFY: verify = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case OPT_VERSION: cli_version(); return EXIT_OK;
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        int r = EXIT_OK;
        for (int i = optind; i < argc; i++) {
            int ri = describe(argv[i], tsv, verify);
            if (ri) r = ri;
        }
        return fflush(stdout) == 0 ? r : EXIT_RUNTIME;
    }
    if (verify) cli_usage_error("--verify needs FILE arguments");
    enum anet_status s = anet_config_check(&c);
    if (s) return cli_fail(s, 1, "invalid network");
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(&c, info);
    if (tsv) print_tsv(&c, info);
    else print_table(&c, info);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
