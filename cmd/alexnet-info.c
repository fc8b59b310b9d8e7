/* alexnet-info: the architecture as a table — shapes, towers, parameters, multiply-adds.
 *
 * Usage: alexnet-info [network options] [--tsv]
 * Prints, for the network the options describe (the paper's by default), one row a layer
 * and the totals, with a subtotal for convolutional and fully connected layers: the
 * paper's network keeps 96% of its parameters in fc6-fc8 and 92% of its arithmetic in
 * conv1-conv5. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: alexnet-info [OPTIONS]\n"
            "Print the architecture of the network as a table: each layer's output shape,\n"
            "towers, groups, inputs, parameters and forward multiply-adds, then totals and\n"
            "the convolutional / fully connected subtotals.\n"
            "\n"
            "%s"
            "Output:\n"
            "      --tsv              tab-separated values with raw numbers, for scripts\n"
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

static void print_header(const struct anet_config *c)
{
    printf("# alexnet: %d classes, %dx%dx%d input, %d tower%s, LRN %s, max-pool %d/%d, %s, "
           "dropout %g\n",
           c->classes, c->channels, c->crop, c->crop, c->towers, c->towers > 1 ? "s" : "",
           c->lrn ? "on" : "off", c->pool_size, c->pool_stride,
           c->act == ANET_ACT_RELU ? "ReLU" : "tanh", c->dropout);
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

int main(int argc, char **argv)
{
    enum { OPT_TSV = CLI_OPT_MODEL_LAST, OPT_VERSION };
    static const struct option longopts[] = {CLI_MODEL_LONGOPTS,
                                             {"tsv", no_argument, 0, OPT_TSV},
                                             {"help", no_argument, 0, 'h'},
                                             {"version", no_argument, 0, OPT_VERSION},
                                             {0, 0, 0, 0}};
    cli_init("alexnet-info");
    struct anet_config c;
    anet_config_default(&c);
    int tsv = 0, opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (cli_model_option(opt, optarg, &c)) continue;
        switch (opt) {
        case OPT_TSV: tsv = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case OPT_VERSION: cli_version(); return EXIT_OK;
        case ':': cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    enum anet_status s = anet_config_check(&c);
    if (s) return cli_fail(s, 1, "invalid network");
    struct anet_layer_info info[ANET_LAYERS];
    anet_config_layers(&c, info);
    if (tsv) print_tsv(&c, info);
    else print_table(&c, info);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
