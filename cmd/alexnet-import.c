/* alexnet-import: trained weights from elsewhere into a checkpoint.
 *
 * Usage: alexnet-import --caffe MODEL.caffemodel [--mean FILE --stats DIR]
 *                       [--synsets FILE] -o CKPT
 *        alexnet-import MODEL.safetensors [--synsets FILE] -o CKPT
 * A Caffe NetParameter (the published bvlc_alexnet.caffemodel, or any net of this shape)
 * or a safetensors file (alexnet-export's, or PyTorch's of the documented module) becomes
 * a checkpoint that alexnet-predict, alexnet-eval and alexnet-info read. With --mean and
 * --stats the mean image goes where alexnet-predict --stats looks for it, so that
 *   alexnet-import --caffe bvlc_alexnet.caffemodel --mean imagenet_mean.binaryproto \
 *       --synsets synset_words.txt --stats bvlc -o bvlc.anet
 * is all a holder of Caffe's files needs before alexnet-predict -m bvlc.anet --stats bvlc. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alexnet/checkpoint.h"
#include "alexnet/import.h"
#include "alexnet/stats.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-import --caffe MODEL.caffemodel [OPTIONS] -o CKPT\n"
            "       alexnet-import MODEL.safetensors [OPTIONS] -o CKPT\n"
            "Turn trained weights into a checkpoint: a Caffe model (NetParameter, layer or V1\n"
            "layers: conv1..fc8 mapped by name and shape, Caffe's LRN carried exactly) or a\n"
            "safetensors file (alexnet-export's, or PyTorch's of the module in\n"
            "alexnet-export(1)). Anything that does not map is refused, naming the layer.\n"
            "\n"
            "  -o, --output CKPT      the checkpoint to write\n"
            "      --caffe FILE       read a Caffe model (.caffemodel)\n"
            "      --mean FILE        the mean image the weights were trained with (Caffe\n"
            "                         BlobProto, 3xNxN, N >= the crop): written to\n"
            "                         DIR/mean.binaryproto for alexnet-predict --stats DIR\n"
            "      --stats DIR        where --mean goes (created if missing)\n"
            "      --synsets FILE     class names in label order: \"WNID words\" a line\n"
            "                         (synset_words.txt) or a classes.tsv\n"
            "      --force            replace existing outputs\n"
            "  -q, --quiet            nothing on stderr but errors\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

struct options {
    const char *output, *caffe, *safetensors, *mean, *stats, *synsets;
    int force, quiet;
};

static void parse_args(int argc, char **argv, struct options *o)
{
    enum { O_CAFFE = 1000, O_MEAN, O_STATS, O_SYNSETS, O_FORCE, O_VERSION };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},     {"caffe", required_argument, 0, O_CAFFE},
        {"mean", required_argument, 0, O_MEAN},    {"stats", required_argument, 0, O_STATS},
        {"synsets", required_argument, 0, O_SYNSETS}, {"force", no_argument, 0, O_FORCE},
        {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, O_VERSION},    {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case O_CAFFE: o->caffe = optarg; break;
        case O_MEAN: o->mean = optarg; break;
        case O_STATS: o->stats = optarg; break;
        case O_SYNSETS: o->synsets = optarg; break;
        case O_FORCE: o->force = 1; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(EXIT_OK);
        case O_VERSION: cli_version(); exit(EXIT_OK);
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) o->safetensors = argv[optind++];
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->caffe && !o->safetensors)
        cli_usage_error("give --caffe MODEL.caffemodel or a MODEL.safetensors to read");
    if (o->caffe && o->safetensors)
        cli_usage_error("one model at a time: --caffe %s or %s", o->caffe, o->safetensors);
    if (!o->output) cli_usage_error("-o CKPT is required");
    if (!o->mean != !o->stats)
        cli_usage_error(o->mean ? "--mean needs --stats DIR, where alexnet-predict finds it"
                                : "--stats DIR needs --mean FILE, the mean image to put there");
}

/* Refuses, before the model is read, outputs that exist (without --force) and an output
 * that is one of the inputs. */
static int check_outputs(const struct options *o, const char *mean_out)
{
    const struct cli_file out[2] = {{"-o", o->output}, {"--stats", mean_out}};
    const struct cli_file in[4] = {{"--caffe", o->caffe}, {"MODEL", o->safetensors},
                                   {"--mean", o->mean}, {"--synsets", o->synsets}};
    cli_refuse_same_files(out, 2, in, 4);
    struct stat so;
    const char *outs[2] = {o->output, mean_out};
    for (int i = 0; i < 2; i++) {
        if (!outs[i] || stat(outs[i], &so) != 0) continue;
        if (!o->force) {
            cli_error("'%s' exists (use --force to overwrite)", outs[i]);
            return -1;
        }
    }
    return 0;
}

/* The mean image, checked against the model: 3 x N x N (the model's channels), N at least
 * its crop, every value finite. */
static int read_mean(const struct options *o, const struct anet_config *c, float **mean,
                     int *side)
{
    int mc, mh, mw;
    enum anet_status s = anet_mean_read(o->mean, mean, &mc, &mh, &mw);
    if (s) return cli_fail(s, 0, NULL), -1;
    if (mc != c->channels || mh != mw || mh < c->crop) {
        cli_error("'%s' is %dx%dx%d: the model needs %dxNxN with N >= its crop, %d", o->mean, mc,
                  mh, mw, c->channels, c->crop);
        return -1;
    }
    for (size_t i = 0; i < (size_t)mc * mh * mw; i++)
        if (!isfinite((*mean)[i])) {
            cli_error("'%s': value %zu is not finite", o->mean, i);
            return -1;
        }
    *side = mh;
    return 0;
}

static int read_synsets(const struct options *o, int classes, struct anet_classes *out)
{
    enum anet_status s = anet_classes_read(o->synsets, out);
    if (s) return cli_fail(s, 0, NULL), -1;
    if (out->count != classes) {
        cli_error("'%s' names %d classes but the model has %d", o->synsets, out->count, classes);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_init("alexnet-import");
    struct options o;
    parse_args(argc, argv, &o);
    char *mean_out = NULL;
    if (o.stats && asprintf(&mean_out, "%s/mean.binaryproto", o.stats) < 0) return EXIT_RUNTIME;
    if (check_outputs(&o, mean_out)) return free(mean_out), EXIT_RUNTIME;
    struct anet_import im;
    enum anet_status s = o.caffe ? anet_caffe_import(o.caffe, &im)
                                 : anet_safetensors_import(o.safetensors, &im);
    if (s) return free(mean_out), cli_fail(s, 0, NULL);
    const struct anet_config *c = anet_model_config(im.model);
    float *mean = NULL;
    int side = 0, rc = EXIT_RUNTIME;
    struct anet_classes names = {0};
    if (o.mean && read_mean(&o, c, &mean, &side)) goto out;
    if (o.synsets && read_synsets(&o, c->classes, &names)) goto out;
    const struct anet_classes *classes = o.synsets ? &names : &im.classes;
    if (o.stats) {
        struct stat st;
        if (stat(o.stats, &st) != 0 && mkdir(o.stats, 0777) != 0) {
            cli_error("cannot create '%s': %s", o.stats, strerror(errno));
            goto out;
        }
        if ((s = anet_mean_write(mean_out, mean, c->channels, side, side, o.force))) {
            cli_fail(s, 0, NULL);
            goto out;
        }
    }
    if ((s = anet_ckpt_save(o.output, im.model, classes, NULL, o.force))) {
        cli_fail(s, 0, NULL);
        goto out;
    }
    if (!o.quiet) {
        fprintf(stderr, "alexnet-import: %s\n", im.how);
        fprintf(stderr, "alexnet-import: wrote %s (%zu parameters, %d classes%s)%s%s\n",
                o.output, anet_config_params(c), c->classes,
                classes->count ? ", named" : ", unnamed", mean_out ? " and " : "",
                mean_out ? mean_out : "");
    }
    rc = EXIT_OK;
out:
    free(mean);
    free(mean_out);
    anet_classes_free(&names);
    anet_import_free(&im);
    return rc;
}
