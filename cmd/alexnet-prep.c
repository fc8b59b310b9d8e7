/* alexnet-prep: an image tree into an LMDB of Caffe Datum records, the paper's way.
 *
 * Usage: alexnet-prep [OPTIONS] ROOT -o OUT.lmdb
 * Lists the images (synset folders under ROOT, a Caffe list, or Kaggle's
 * LOC_val_solution.csv), decodes each (JPEG or PNG, by content), rescales the shorter side
 * to 256 and keeps the central 256x256, and writes raw BGR planes (or a JPEG with
 * --encoded) under keys %08d_<relative path>. Workers decode in parallel; one writer puts
 * records in list order through a bounded ring of slots, so the output does not depend
 * on the thread count and memory does not grow with the dataset. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/data.h"
#include "alexnet/file.h"
#include "alexnet/image.h"
#include "alexnet/rng.h"
#include "alexnet/threads.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-prep [OPTIONS] ROOT -o OUT.lmdb\n"
            "Turn the images under ROOT into an LMDB of Caffe Datum records: shorter side\n"
            "rescaled to 256, the central 256x256 kept, raw BGR planes (or JPEG).\n"
            "\n"
            "Input (default: ROOT holds one folder of images per class, named by WNID):\n"
            "      --list FILE        Caffe list: 'relative/path label' a line, paths under ROOT\n"
            "      --kaggle CSV       Kaggle's LOC_val_solution.csv; images ROOT/<ImageId>.JPEG\n"
            "      --synsets FILE     class order, one WNID a line optionally followed by words\n"
            "                         (synset_words.txt, LOC_synset_mapping.txt); default:\n"
            "                         the WNIDs found, sorted\n"
            "Output:\n"
            "  -o, --output DIR       the LMDB directory to create (required)\n"
            "      --force            replace an existing output\n"
            "      --resize N         shorter side in pixels (256)\n"
            "      --crop center|none keep the central NxN square (center) or the whole\n"
            "                         rescaled image (none)\n"
            "      --squash           resize to NxN ignoring the aspect ratio (Caffe's way)\n"
            "      --encoded          store JPEG files instead of raw pixels\n"
            "      --quality Q        JPEG quality with --encoded, 1..100 (90)\n"
            "      --shuffle          write the images in a random order\n"
            "      --seed S           seed of --shuffle (1)\n"
            "Running:\n"
            "  -j, --threads N        decoding threads (all cores)\n"
            "      --strict           stop with an error at the first bad image\n"
            "  -q, --quiet            no progress and no summary on stderr (bad images are\n"
            "                         still named)\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "Bad images are named on stderr with the reason, skipped, and counted in the\n"
            "summary. A one-line TSV summary goes to stdout.\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

/* ---- the list of images ------------------------------------------------------------------ */

struct item {
    char *rel;     /* path under ROOT, also the key's suffix */
    int32_t label; /* class index */
    char *bad;     /* a problem found while listing (the image is skipped), or NULL */
};

struct listing {
    struct item *items;
    size_t n, cap;
    struct anet_classes classes;
};

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0) {
        cli_error("out of memory");
        exit(EXIT_RUNTIME);
    }
    return s;
}

/* name with a backslash, tab or line break written as \\\\, \\t, \\n or \\r (malloc'ed). */
static char *shown(const char *name)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return xasprintf("%s", "?");
    cli_tsv_field(f, name, strlen(name));
    fclose(f);
    return buf;
}

/* Adds an image. A name with a line break is listed as bad: as a key it would split the
 * record of every line-per-image output (alexnet-eval --per-image, alexnet-info). */
static int add_item(struct listing *l, char *rel, int32_t label, char *bad)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        struct item *p = realloc(l->items, cap * sizeof *p);
        if (!p) return free(rel), free(bad), -1;
        l->items = p, l->cap = cap;
    }
    if (!bad && strpbrk(rel, "\n\r")) {
        char *name = shown(rel);
        bad = xasprintf("'%s': a name with a line break cannot be a key: every line-per-image "
                        "output would split it (rename the file)", name);
        free(name);
    }
    l->items[l->n++] = (struct item){rel, label, bad};
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* The visible entries of a directory, sorted; those that are directories when want_dirs,
 * else the others. Returns the count, or -1 with a message printed. */
static int sorted_entries(const char *dir, int want_dirs, char ***out)
{
    DIR *d = opendir(dir);
    if (!d) {
        cli_error("cannot open '%s': %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
        free(path);
        if (is_dir != want_dirs) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **p = realloc(names, (size_t)cap * sizeof *p);
            if (!p) {
                closedir(d);
                free_names(names, n);
                cli_error("out of memory listing '%s'", dir);
                return -1;
            }
            names = p;
        }
        names[n++] = xasprintf("%s", e->d_name);
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

/* The class table: from --synsets, else the sorted distinct names given. */
static int class_table(const char *synsets, char **names, int n, struct anet_classes *c)
{
    enum anet_status s = synsets ? anet_classes_read(synsets, c) : anet_classes_from_names(names, n, c);
    if (s) return cli_fail(s, 0, NULL), -1;
    if (c->count == 0) {
        cli_error("%s: no classes", synsets ? synsets : "input");
        return -1;
    }
    return 0;
}

/* ROOT/<wnid>/<image>: one folder a class. */
static int list_tree(const char *root, const char *synsets, struct listing *l)
{
    char **dirs;
    int nd = sorted_entries(root, 1, &dirs);
    if (nd < 0) return -1;
    if (nd == 0) {
        cli_error("'%s': no class folders (expected ROOT/<wnid>/<images>)", root);
        free(dirs);
        return -1;
    }
    if (class_table(synsets, dirs, nd, &l->classes)) return free_names(dirs, nd), -1;
    for (int k = 0; k < l->classes.count; k++) {
        const char *wnid = l->classes.wnid[k];
        if (!bsearch(&wnid, dirs, (size_t)nd, sizeof *dirs, cmp_str)) continue;
        char *dir = xasprintf("%s/%s", root, wnid), **files;
        int nf = sorted_entries(dir, 0, &files);
        free(dir);
        if (nf < 0) return free_names(dirs, nd), -1;
        int r = 0;
        for (int i = 0; i < nf && !r; i++) r = add_item(l, xasprintf("%s/%s", wnid, files[i]), k, NULL);
        free_names(files, nf);
        if (r) return free_names(dirs, nd), cli_error("out of memory"), -1;
    }
    int unknown = 0;
    for (int i = 0; i < nd; i++)
        if (anet_classes_find(&l->classes, dirs[i]) < 0) {
            cli_error("folder '%s/%s' is not a class of '%s'", root, dirs[i], synsets);
            unknown = 1;
        }
    free_names(dirs, nd);
    return unknown ? -1 : 0;
}

/* A list file: a regular file (a FIFO or device is refused, not waited on), parsed by
 * the library. Returns -1 with a message printed. */
static int read_list(const char *path, int kaggle, struct anet_list *list)
{
    FILE *f;
    enum anet_status s = anet_file_open(path, "a list", &f);
    if (!s) {
        s = kaggle ? anet_list_read_kaggle(f, path, list) : anet_list_read_caffe(f, path, list);
        fclose(f);
    }
    return s ? (cli_fail(s, 0, NULL), -1) : 0;
}

/* The list's items become the listing's; their strings change hands. */
static int take_items(struct listing *l, struct anet_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        struct anet_list_item *it = &list->items[i];
        char *path = it->path, *bad = it->bad;
        it->path = it->bad = NULL; /* add_item owns them now, even when it fails */
        if (add_item(l, path, it->label < 0 ? 0 : it->label, bad)) return -1;
    }
    return 0;
}

/* Caffe's list: "relative/path label". Labels index the --synsets table; without one, the
 * classes are "0" .. "max". */
static int list_caffe(const char *path, const char *synsets, struct listing *l)
{
    struct anet_list list;
    if (read_list(path, 0, &list)) return -1;
    int r = take_items(l, &list);
    long max_label = list.max_label;
    anet_list_free(&list);
    if (r) return cli_error("out of memory"), -1;
    if (synsets) {
        if (class_table(synsets, NULL, 0, &l->classes)) return -1;
    } else {
        /* no names: the classes are the label numbers */
        int n = (int)(max_label + 1);
        l->classes.wnid = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
        l->classes.words = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
        if (!l->classes.wnid || !l->classes.words) return cli_error("out of memory"), -1;
        l->classes.count = n;
        for (int i = 0; i < n; i++) {
            l->classes.wnid[i] = xasprintf("%d", i);
            l->classes.words[i] = xasprintf("%s", "");
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        struct item *it = &l->items[i];
        if (!it->bad && it->label >= l->classes.count)
            it->bad = xasprintf("%s: '%s': label %d is outside 0..%d of '%s'", path, it->rel,
                                (int)it->label, l->classes.count - 1, synsets ? synsets : path);
    }
    return 0;
}

/* Kaggle's LOC_val_solution.csv: the class of ROOT/<ImageId>.JPEG by its WNID. */
static int list_kaggle(const char *path, const char *synsets, struct listing *l)
{
    struct anet_list list;
    if (read_list(path, 1, &list)) return -1;
    char **present = malloc((list.count ? list.count : 1) * sizeof *present);
    if (!present) return anet_list_free(&list), cli_error("out of memory"), -1;
    int np = 0;
    for (size_t i = 0; i < list.count; i++)
        if (list.items[i].wnid) present[np++] = list.items[i].wnid;
    int r = class_table(synsets, present, np, &l->classes);
    free(present);
    for (size_t i = 0; !r && i < list.count; i++) {
        struct anet_list_item *it = &list.items[i];
        if (!it->wnid) continue;
        int k = anet_classes_find(&l->classes, it->wnid);
        if (k < 0) it->bad = xasprintf("%s: '%s': class '%s' is not in '%s'", path, it->path, it->wnid, synsets);
        else it->label = k;
    }
    if (!r && take_items(l, &list)) r = -1, cli_error("out of memory");
    anet_list_free(&list);
    return r;
}

/* Fisher-Yates with the counter-based RNG: the order depends on the seed only. */
static void shuffle(struct item *items, size_t n, uint64_t seed)
{
    for (size_t i = n; i > 1; i--) {
        uint32_t u = anet_rng_u32(seed, 0, ANET_RNG_SHUFFLE, i - 1);
        size_t j = (size_t)(((uint64_t)u * i) >> 32);
        struct item t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}

/* ---- decoding workers and the ordered writer --------------------------------------------- */

struct options {
    const char *root, *out, *list, *kaggle, *synsets;
    int side, quality, encoded, shuffle, threads, strict, quiet, force;
    enum anet_fit fit;
    uint64_t seed;
};

struct slot {
    int ready;
    enum anet_status status;
    char *msg;        /* why the image was skipped */
    uint8_t *record;  /* the Datum bytes */
    size_t len;
};

struct pipeline {
    const struct options *o;
    const struct listing *l;
    pthread_mutex_t mu;
    pthread_cond_t filled, freed;
    struct slot *ring;
    size_t ring_size, next, consumed;
    int stop;
};

/* Decodes, fits and encodes image i into a Datum record. */
static void process(const struct options *o, const struct item *it, struct slot *s)
{
    if (it->bad) {
        s->status = ANET_ERR_INVALID;
        s->msg = strdup(it->bad);
        return;
    }
    char *path = xasprintf("%s/%s", o->root, it->rel);
    struct anet_image im = {0}, fit = {0};
    uint8_t *pixels = NULL;
    size_t plen = 0;
    enum anet_status st = anet_image_load(path, o->side, &im);
    if (!st) st = anet_image_fit(&im, o->side, o->fit, &fit);
    if (!st && o->encoded) {
        st = anet_image_encode_jpeg(&fit, o->quality, &pixels, &plen);
    } else if (!st) {
        plen = (size_t)3 * fit.w * fit.h;
        pixels = malloc(plen);
        if (pixels) anet_image_to_bgr_planes(&fit, pixels);
        else st = anet_fail(ANET_ERR_NOMEM, "out of memory");
    }
    if (!st) {
        struct anet_datum d = {.channels = 3, .height = fit.h, .width = fit.w, .data = pixels,
                               .data_len = plen, .label = it->label, .encoded = o->encoded};
        s->len = anet_datum_size(&d);
        s->record = malloc(s->len);
        if (s->record) anet_datum_encode(&d, s->record);
        else st = anet_fail(ANET_ERR_NOMEM, "out of memory");
    }
    s->status = st;
    if (st) {
        const char *d = anet_error_detail();
        s->msg = strstr(d, path) ? strdup(d) : xasprintf("'%s': %s", path, d);
    }
    free(pixels);
    anet_image_free(&im);
    anet_image_free(&fit);
    free(path);
}

static void *worker(void *arg)
{
    struct pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next < p->l->n && p->next >= p->consumed + p->ring_size)
            pthread_cond_wait(&p->freed, &p->mu);
        if (p->stop || p->next >= p->l->n) break;
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        struct slot s = {0};
        process(p->o, &p->l->items[i], &s);
        s.ready = 1;
        pthread_mutex_lock(&p->mu);
        p->ring[i % p->ring_size] = s;
        pthread_cond_broadcast(&p->filled);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Takes slot i once a worker filled it. */
static struct slot take(struct pipeline *p, size_t i)
{
    pthread_mutex_lock(&p->mu);
    struct slot *s = &p->ring[i % p->ring_size];
    while (!s->ready) pthread_cond_wait(&p->filled, &p->mu);
    struct slot got = *s;
    *s = (struct slot){0}; /* the writer owns the buffers now */
    p->consumed = i + 1;
    pthread_cond_broadcast(&p->freed);
    pthread_mutex_unlock(&p->mu);
    return got;
}

struct tally {
    size_t written, skipped, by_status[ANET_ERR_INTERNAL + 1];
    uint64_t bytes;
};

static const char *reason_of(enum anet_status s)
{
    switch (s) {
    case ANET_ERR_IO: return "unreadable";
    case ANET_ERR_FORMAT: return "not a valid image";
    case ANET_ERR_INVALID: return "bad list entry";
    case ANET_ERR_NOMEM: return "out of memory";
    default: return "other";
    }
}

static void progress(const struct options *o, size_t done, size_t n, double t0)
{
    if (o->quiet || !isatty(2)) return;
    if (done % 256 && done != n) return;
    double dt = anet_seconds() - t0;
    fprintf(stderr, "\r%s: %zu/%zu images, %.0f img/s ", cli_name, done, n, dt > 0 ? done / dt : 0);
    if (done == n) fputc('\n', stderr);
}

/* Writes every record in order; returns 0, or -1 after a fatal error (printed). */
static int write_all(struct pipeline *p, struct anet_db_writer *w, struct tally *t)
{
    const struct options *o = p->o;
    double t0 = anet_seconds();
    int failed = 0;
    for (size_t i = 0; i < p->l->n && !failed; i++) {
        struct slot s = take(p, i);
        if (s.status) {
            t->skipped++;
            t->by_status[s.status]++;
            cli_error("%s: %s", o->strict ? "error" : "skipped", s.msg);
            if (o->strict) failed = 1;
        } else {
            char *key = xasprintf("%08zu_%s", t->written, p->l->items[i].rel);
            enum anet_status st = anet_db_put(w, key, s.record, s.len);
            free(key);
            if (st) failed = 1, cli_fail(st, 0, NULL);
            t->written++;
            t->bytes += s.len;
        }
        free(s.msg);
        free(s.record);
        progress(o, i + 1, p->l->n, t0);
    }
    return failed ? -1 : 0;
}

static int run_pipeline(const struct options *o, const struct listing *l, struct anet_db_writer *w,
                        struct tally *t)
{
    struct pipeline p = {.o = o, .l = l};
    /* The writer stops to commit every 16 MiB (and to drop the commit before from the page
       cache, waiting for it to be on disk if it is not yet); a ring
       of 64 slots a thread keeps the decoders busy meanwhile: about 12 MiB a thread of
       raw 256x256 records, whatever the size of the dataset. */
    p.ring_size = (size_t)o->threads * 64;
    p.ring = calloc(p.ring_size, sizeof *p.ring);
    pthread_t *th = calloc((size_t)o->threads, sizeof *th);
    if (!p.ring || !th) return cli_error("out of memory"), -1;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.filled, NULL);
    pthread_cond_init(&p.freed, NULL);
    int started = 0;
    for (; started < o->threads; started++)
        if (pthread_create(&th[started], NULL, worker, &p)) break;
    int r = started ? write_all(&p, w, t) : (cli_error("cannot start threads"), -1);
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.freed);
    pthread_mutex_unlock(&p.mu);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    for (size_t i = 0; i < p.ring_size; i++) free(p.ring[i].msg), free(p.ring[i].record);
    free(p.ring);
    free(th);
    return r;
}

static int write_classes(struct anet_db_writer *w, const struct anet_classes *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return cli_error("out of memory"), -1;
    enum anet_status s = anet_classes_write(f, c);
    fclose(f);
    if (!s) s = anet_db_add_file(w, "classes.tsv", buf, len);
    free(buf);
    return s ? (cli_fail(s, 0, NULL), -1) : 0;
}

static void summary(const struct options *o, const struct listing *l, const struct tally *t,
                    double seconds)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rate = seconds > 0 ? t->written / seconds : 0;
    printf("#db\timages\tskipped\tclasses\tbytes\tseconds\timg_per_s\tpeak_MiB\n");
    cli_tsv_field(stdout, o->out, strlen(o->out));
    printf("\t%zu\t%zu\t%d\t%llu\t%.2f\t%.1f\t%.0f\n", t->written, t->skipped,
           l->classes.count, (unsigned long long)t->bytes, seconds, rate, ru.ru_maxrss / 1024.0);
    if (o->quiet) return;
    fprintf(stderr, "%s: wrote %zu %s to '%s' in %.1f s (%.0f img/s, %d %s)", cli_name,
            t->written, cli_plural((long long)t->written, "image", "images"), o->out, seconds,
            rate, o->threads, cli_plural(o->threads, "thread", "threads"));
    if (t->skipped) {
        fprintf(stderr, "; skipped %zu:", t->skipped);
        const char *sep = " ";
        for (int s = 1; s <= ANET_ERR_INTERNAL; s++)
            if (t->by_status[s]) {
                fprintf(stderr, "%s%zu %s", sep, t->by_status[s], reason_of((enum anet_status)s));
                sep = ", ";
            }
    }
    fputc('\n', stderr);
}

static void free_listing(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i].rel), free(l->items[i].bad);
    free(l->items);
    anet_classes_free(&l->classes);
}

static int prepare(const struct options *o)
{
    struct listing l = {0};
    int r = o->list ? list_caffe(o->list, o->synsets, &l)
          : o->kaggle ? list_kaggle(o->kaggle, o->synsets, &l)
          : list_tree(o->root, o->synsets, &l);
    if (!r && l.n == 0)
        r = -1, cli_error("'%s': no images found", o->list ? o->list : o->kaggle ? o->kaggle : o->root);
    struct anet_db_writer *w;
    enum anet_status s = ANET_OK;
    if (!r && (s = anet_db_create(o->out, o->force, &w))) r = -1, cli_fail(s, 0, NULL);
    if (r) {
        free_listing(&l);
        return EXIT_RUNTIME;
    }
    if (o->shuffle) shuffle(l.items, l.n, o->seed);
    double t0 = anet_seconds();
    struct tally t = {0};
    r = write_classes(w, &l.classes);
    if (!r) r = run_pipeline(o, &l, w, &t);
    if (!r && t.written == 0) r = -1, cli_error("no image could be read: '%s' not written", o->out);
    if (r) {
        anet_db_abort(w);
    } else if ((s = anet_db_finish(w))) {
        r = -1, cli_fail(s, 0, NULL);
    }
    if (!r) summary(o, &l, &t, anet_seconds() - t0);
    free_listing(&l);
    return r ? EXIT_RUNTIME : EXIT_OK;
}

int main(int argc, char **argv)
{
    enum { O_LIST = 1000, O_KAGGLE, O_SYNSETS, O_FORCE, O_RESIZE, O_CROP, O_SQUASH, O_ENCODED,
           O_QUALITY, O_SHUFFLE, O_SEED, O_STRICT, O_VERSION };
    static const struct option longopts[] = {
        {"list", required_argument, 0, O_LIST},     {"kaggle", required_argument, 0, O_KAGGLE},
        {"synsets", required_argument, 0, O_SYNSETS}, {"output", required_argument, 0, 'o'},
        {"force", no_argument, 0, O_FORCE},         {"resize", required_argument, 0, O_RESIZE},
        {"crop", required_argument, 0, O_CROP},     {"squash", no_argument, 0, O_SQUASH},
        {"encoded", no_argument, 0, O_ENCODED},     {"quality", required_argument, 0, O_QUALITY},
        {"shuffle", no_argument, 0, O_SHUFFLE},     {"seed", required_argument, 0, O_SEED},
        {"threads", required_argument, 0, 'j'},     {"strict", no_argument, 0, O_STRICT},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, O_VERSION},     {0, 0, 0, 0}};
    cli_init("alexnet-prep");
    struct options o = {.side = 256, .quality = 90, .fit = ANET_FIT_CROP, .seed = 1};
    int opt, crop_none = 0, squash = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:j:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case O_LIST: o.list = optarg; break;
        case O_KAGGLE: o.kaggle = optarg; break;
        case O_SYNSETS: o.synsets = optarg; break;
        case 'o': o.out = optarg; break;
        case O_FORCE: o.force = 1; break;
        case O_RESIZE: o.side = cli_int("resize", optarg, 1, 16384); break;
        case O_CROP:
            if (!strcmp(optarg, "none")) crop_none = 1;
            else if (strcmp(optarg, "center")) cli_usage_error("--crop: expected center or none, got '%s'", optarg);
            break;
        case O_SQUASH: squash = 1; break;
        case O_ENCODED: o.encoded = 1; break;
        case O_QUALITY: o.quality = cli_int("quality", optarg, 1, 100); break;
        case O_SHUFFLE: o.shuffle = 1; break;
        case O_SEED: o.seed = (uint64_t)cli_double("seed", optarg, 0, 9007199254740992.0); break;
        case 'j': o.threads = cli_int("threads", optarg, 1, 1024); break;
        case O_STRICT: o.strict = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case O_VERSION: cli_version(); return EXIT_OK;
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) cli_usage_error("missing ROOT, the directory of the images");
    if (optind + 1 < argc) cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
    o.root = argv[optind];
    if (!o.out) cli_usage_error("missing -o OUT.lmdb");
    if (o.list && o.kaggle) cli_usage_error("--list and --kaggle exclude each other");
    if (squash && crop_none) cli_usage_error("--squash and --crop none exclude each other");
    o.fit = squash ? ANET_FIT_SQUASH : crop_none ? ANET_FIT_NONE : ANET_FIT_CROP;
    const struct cli_file out = {"-o", o.out};
    const struct cli_file in[] = {{"ROOT", o.root}, {"--list", o.list}, {"--kaggle", o.kaggle},
                                  {"--synsets", o.synsets}};
    cli_refuse_same_files(&out, 1, in, 4);
    o.threads = cli_threads(o.threads);
    return prepare(&o);
}
