/* alexnet-filters: the paper's Figure 3 — conv1's kernels as pictures.
 *
 * Usage: alexnet-filters -m CKPT -o conv1.png [--scale N] [--columns N]
 * Each kernel (3 x 11 x 11, B, G, R planes as the network sees them) is shown in R, G, B,
 * stretched on its own to the full 0..255 range (its smallest weight black, its largest
 * white), scaled up N times without smoothing; the towers' kernels in two blocks, tower 1
 * above tower 2, as in the paper, where one GPU's kernels came out largely colour-agnostic
 * and the other's colour-specific. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alexnet/checkpoint.h"
#include "alexnet/image.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-filters -m CKPT -o FILE.png [OPTIONS]\n"
            "Draw conv1's kernels (the paper's Figure 3): each one stretched to the full\n"
            "range on its own, in RGB, scaled up; with two towers, tower 1's kernels above\n"
            "tower 2's.\n"
            "\n"
            "  -m, --model CKPT       the checkpoint\n"
            "  -o, --output FILE      the picture (PNG)\n"
            "      --scale N          screen pixels a weight (4)\n"
            "      --columns N        kernels a row (16)\n"
            "      --force            replace an existing picture\n"
            "  -q, --quiet            nothing on stderr but errors\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

struct options {
    const char *model, *output;
    int scale, columns, force, quiet;
};

static void parse_args(int argc, char **argv, struct options *o)
{
    enum { O_SCALE = 1000, O_COLUMNS, O_FORCE, O_VERSION };
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},      {"output", required_argument, 0, 'o'},
        {"scale", required_argument, 0, O_SCALE},  {"columns", required_argument, 0, O_COLUMNS},
        {"force", no_argument, 0, O_FORCE},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},             {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->scale = 4, o->columns = 16;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'o': o->output = optarg; break;
        case O_SCALE: o->scale = cli_int("scale", optarg, 1, 64); break;
        case O_COLUMNS: o->columns = cli_int("columns", optarg, 1, 4096); break;
        case O_FORCE: o->force = 1; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(EXIT_OK);
        case O_VERSION: cli_version(); exit(EXIT_OK);
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->model) cli_usage_error("-m CKPT is required");
    if (!o->output) cli_usage_error("-o FILE.png is required");
    const struct cli_file out = {"-o", o->output}, in = {"-m", o->model};
    cli_refuse_same_files(&out, 1, &in, 1);
}

/* The picture's geometry: kernels of side `side` (scaled), `gap` pixels apart, a block of
 * `rows` x `cols` kernels a tower, blocks `block_gap` apart, a margin of `gap` around. */
struct layout {
    int towers, per_tower, cols, rows, side, gap, block_gap, w, h;
};

static struct layout layout_of(int kernels, int towers, int k, const struct options *o)
{
    struct layout L = {.towers = towers, .per_tower = kernels / towers};
    L.cols = L.per_tower < o->columns ? L.per_tower : o->columns;
    L.rows = (L.per_tower + L.cols - 1) / L.cols;
    L.side = k * o->scale;
    L.gap = o->scale > 1 ? o->scale / 2 : 1;
    L.block_gap = 4 * L.gap;
    L.w = 2 * L.gap + L.cols * L.side + (L.cols - 1) * L.gap;
    L.h = 2 * L.gap + towers * (L.rows * L.side + (L.rows - 1) * L.gap) +
          (towers - 1) * L.block_gap;
    return L;
}

/* Kernel i (c x k x k, planes B, G, R or one grey) at (x0, y0), stretched to 0..255. */
static void draw_kernel(struct anet_image *im, const float *w, int c, int k, int scale,
                        int x0, int y0)
{
    size_t n = (size_t)c * k * k;
    float lo = w[0], hi = w[0];
    for (size_t i = 1; i < n; i++) lo = w[i] < lo ? w[i] : lo, hi = w[i] > hi ? w[i] : hi;
    float range = hi - lo;
    for (int y = 0; y < k * scale; y++)
        for (int x = 0; x < k * scale; x++) {
            size_t at = (size_t)(y / scale) * k + (size_t)(x / scale);
            uint8_t *px = im->rgb + ((size_t)(y0 + y) * im->w + (size_t)(x0 + x)) * 3;
            for (int ch = 0; ch < 3; ch++) {
                int plane = c == 3 ? 2 - ch : 0; /* R from the B, G, R planes' last */
                float v = range > 0 ? (w[(size_t)plane * k * k + at] - lo) / range : 0.5f;
                px[ch] = (uint8_t)(v * 255.0f + 0.5f);
            }
        }
}

static int draw(const struct options *o, const struct anet_ckpt *ck, struct anet_image *im,
                struct layout *L)
{
    struct anet_tensor *t = anet_model_tensor(ck->model, "conv1.weight");
    int kernels = t->dims[0], c = t->dims[1], k = t->dims[2];
    if (c != 3 && c != 1) {
        cli_error("'%s': conv1 reads %d channels; a picture needs 3 (B, G, R) or 1", o->model, c);
        return -1;
    }
    int towers = ck->config.towers == 2 && kernels % 2 == 0 ? 2 : 1;
    *L = layout_of(kernels, towers, k, o);
    if ((long long)L->w * L->h > (1 << 26)) {
        cli_error("a %dx%d picture is too large: fewer --columns or a smaller --scale", L->w, L->h);
        return -1;
    }
    im->w = L->w, im->h = L->h;
    if (!(im->rgb = malloc((size_t)im->w * im->h * 3))) {
        cli_error("out of memory for a %dx%d picture", im->w, im->h);
        return -1;
    }
    memset(im->rgb, 255, (size_t)im->w * im->h * 3);
    for (int i = 0; i < kernels; i++) {
        int tower = i / L->per_tower, j = i % L->per_tower;
        int x = L->gap + (j % L->cols) * (L->side + L->gap);
        int y = L->gap + tower * (L->rows * L->side + (L->rows - 1) * L->gap + L->block_gap) +
                (j / L->cols) * (L->side + L->gap);
        draw_kernel(im, t->data + (size_t)i * c * k * k, c, k, o->scale, x, y);
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_init("alexnet-filters");
    struct options o;
    parse_args(argc, argv, &o);
    struct stat st;
    if (!o.force && stat(o.output, &st) == 0) {
        cli_error("'%s' exists (use --force to overwrite)", o.output);
        return EXIT_RUNTIME;
    }
    struct anet_ckpt ck;
    enum anet_status s = anet_ckpt_load(o.model, 1, &ck);
    if (s) return cli_fail(s, 0, NULL);
    struct anet_image im = {0};
    struct layout L;
    int rc = EXIT_RUNTIME;
    if (!draw(&o, &ck, &im, &L)) {
        if ((s = anet_image_write_png(o.output, &im, o.force))) {
            cli_fail(s, 0, NULL);
        } else {
            rc = EXIT_OK;
            if (!o.quiet)
                fprintf(stderr, "alexnet-filters: wrote %s: %dx%d, %d kernels of %dx%d%s\n",
                        o.output, im.w, im.h, L.per_tower * L.towers, L.side / o.scale,
                        L.side / o.scale, L.towers == 2 ? " in two blocks, a tower each" : "");
        }
    }
    anet_image_free(&im);
    anet_ckpt_free(&ck);
    return rc;
}
