/* alexnet-export: a checkpoint's weights as safetensors, for PyTorch and everyone else.
 *
 * Usage: alexnet-export CKPT -o MODEL.safetensors [--force]
 * The parameters (not the momentum or the training state) with the configuration and the
 * class table in the header's metadata; alexnet-import reads the file back bit for bit.
 * The names and layouts are those of the PyTorch module in alexnet-export(1), whose
 * load_state_dict(strict=True) takes the file as it is. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alexnet/checkpoint.h"
#include "alexnet/import.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-export CKPT -o MODEL.safetensors [OPTIONS]\n"
            "Write a checkpoint's parameters as safetensors: conv1.weight ... fc8.bias, float32,\n"
            "PyTorch's names and layouts (grouped convolutions; see alexnet-export(1) for the\n"
            "module), with the network's configuration and class table as metadata.\n"
            "alexnet-import reads it back bit for bit.\n"
            "\n"
            "  -o, --output FILE      the safetensors file to write\n"
            "      --force            replace an existing output\n"
            "  -q, --quiet            nothing on stderr but errors\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    enum { O_FORCE = 1000, O_VERSION };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"force", no_argument, 0, O_FORCE},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, O_VERSION}, {0, 0, 0, 0}};
    cli_init("alexnet-export");
    const char *output = NULL;
    int force = 0, quiet = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case O_FORCE: force = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case O_VERSION: cli_version(); return EXIT_OK;
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) cli_usage_error("missing CKPT, the checkpoint to export");
    if (optind + 1 < argc) cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
    if (!output) cli_usage_error("-o MODEL.safetensors is required");
    const char *input = argv[optind];
    const struct cli_file out = {"-o", output}, in = {"CKPT", input};
    cli_refuse_same_files(&out, 1, &in, 1);
    struct stat so;
    if (stat(output, &so) == 0) {
        if (!force) {
            cli_error("'%s' exists (use --force to overwrite)", output);
            return EXIT_RUNTIME;
        }
    }
    struct anet_ckpt ck;
    enum anet_status s = anet_ckpt_load(input, 1, &ck);
    if (s) return cli_fail(s, 0, NULL);
    s = anet_safetensors_export(output, ck.model, &ck.classes, force);
    if (!s && !quiet)
        fprintf(stderr, "alexnet-export: wrote %s (%zu parameters, %d classes%s)\n", output,
                anet_config_params(&ck.config), ck.config.classes,
                ck.classes.count ? ", named" : "");
    anet_ckpt_free(&ck);
    return s ? cli_fail(s, 0, NULL) : EXIT_OK;
}
