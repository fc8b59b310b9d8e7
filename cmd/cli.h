/* What every tool shares: its name in messages, exit codes, option parsing helpers. */
#ifndef ANET_CLI_H
#define ANET_CLI_H

#include <stdio.h>
#include "alexnet/model.h"
#include "alexnet/status.h"

/* Exit codes, the same for every tool (see alexnet(7)). */
enum cli_exit { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Sets the program name used in messages, installs a stderr logger, and makes a failure
 * to write standard output (checked at exit: data, --help, --version alike) a message and
 * exit status 1. */
void cli_init(const char *name);

/* For the tools that run the network: when OpenBLAS fell back to generic kernels on a
 * processor with AVX2 or AVX-512 (anet_blas_better_kernels), starts the program again,
 * same arguments, with OPENBLAS_CORETYPE naming the faster kernels; a user's own
 * OPENBLAS_CORETYPE is kept. Returns when nothing is to be done or exec fails. Call first
 * thing in main, before anything is read or written. */
void cli_fast_blas(char **argv);
extern const char *cli_name;

/* "NAME: message" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: the message, then "Try 'NAME --help'." on stderr; exits 2. */
_Noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A library failure: "NAME: context: detail" on stderr; returns EXIT_RUNTIME, or
 * EXIT_USAGE for ANET_ERR_INVALID when user_input is set. */
int cli_fail(enum anet_status s, int user_input, const char *context);

void cli_version(void); /* "NAME (alexnet) VERSION" on stdout */

/* one when n is 1, else many: "1 epoch", "2 epochs". */
const char *cli_plural(long long n, const char *one, const char *many);

/* The thread count to use: the one asked for, or every online core when 0. */
int cli_threads(int requested);

/* A file a tool reads or writes, named as its option names it ("--per-image", "-m"). */
struct cli_file {
    const char *option;
    const char *path; /* NULL: not given */
};
/* Exits 2 naming both when an output that exists is the same file (device and inode,
 * through any link) as an input, or as a file directly inside an input directory (a
 * database, a stats directory), or when two outputs are one file: with --force the tool
 * would destroy what it reads. "-" (standard output) is not checked. */
void cli_refuse_same_files(const struct cli_file *out, int nout, const struct cli_file *in,
                           int nin);

/* Writes s (n bytes) as one TSV field: a backslash, tab, line feed or carriage return
 * becomes \\, \t, \n or \r, so that a name holding one cannot split its record. */
void cli_tsv_field(FILE *f, const char *s, size_t n);

/* Parsers that exit 2 with a message naming the option on bad text or a value outside
 * [lo, hi]. */
int cli_int(const char *opt, const char *text, long lo, long hi);
double cli_double(const char *opt, const char *text, double lo, double hi);
/* A comma-separated list of exactly n integers, each in [lo, hi]. */
void cli_int_list(const char *opt, const char *text, int *out, int n, long lo, long hi);

/* "on" or "off" (also 1/0, yes/no); exits 2 naming the option otherwise. */
int cli_on_off(const char *opt, const char *arg);
/* --device: "cpu" or "cuda"; exits 2 otherwise. */
const char *cli_device(const char *arg);
/* --gpus: one device number, or two (a tower each: "0,1"; "0,0" for two streams of one
 * GPU); exits 2 otherwise. */
const char *cli_gpus(const char *arg);
/* --precision: fp32, tf32 or bf16; exits 2 otherwise. */
const char *cli_precision(const char *arg);
/* Makes the backend the options name: the CPU, or for cuda a GPU backend with a lane for
 * each GPU --gpus names (two: a tower on each, on two GPUs or two streams of one) and the
 * precision. 0 with *be (free it after the models) and *out (the placement of the models to
 * run) set, or a message on stderr ("built without CUDA", "no CUDA device", ...) and
 * EXIT_RUNTIME; EXIT_USAGE for a GPU precision on the CPU. */
int cli_open_backend(const char *device, const char *gpus, const char *precision,
                     struct anet_backend **be, struct anet_placement *out);
/* "the CPU", "NVIDIA H100 ... (sm_90, 79.2 GiB)", "..., a tower a stream", "GPUs 0 and 1,
 * a tower each (...)": where a placement runs, in words. */
const char *cli_placement_text(const struct anet_placement *w, char *buf, size_t size);
#define CLI_DEVICE_HELP \
    "      --device D         cpu or cuda (cpu)\n" \
    "      --gpus N|A,B       the GPU to run on with --device cuda (0); two: a tower on\n" \
    "                         each, exchanging at conv3, fc6, fc7, fc8 (0,0: two streams)\n" \
    "      --precision P      GPU arithmetic: fp32 (the paper's), tf32 or bf16 (fp32)\n"

/* The options that describe a network, shared by every tool that builds one. */
#define CLI_MODEL_OPTS_HELP \
    "Network (defaults are the paper's):\n" \
    "      --classes N        output classes (1000)\n" \
    "      --crop N           input side in pixels (227)\n" \
    "      --towers 1|2       columns of the network, the paper's two GPUs (2)\n" \
    "      --conv A,B,C,D,E   kernels of conv1..conv5, both towers (96,256,384,384,256)\n" \
    "      --groups A,B,C,D,E groups of conv1..conv5 (1,2,1,2,2 with two towers, else 1)\n" \
    "      --fc A,B           neurons of fc6, fc7 (4096,4096)\n" \
    "      --lrn on|off       local response normalisation after conv1, conv2 (on)\n" \
    "      --pool overlap|plain  max pooling 3x3 stride 2, or 2x2 stride 2 (overlap)\n" \
    "      --act relu|tanh    activation (relu)\n" \
    "      --dropout P        dropout probability on fc6, fc7; 0 turns it off (0.5)\n" \
    "      --dropout-scale train|test  train: kept units x 1/(1-P) while training\n" \
    "                         (inverted dropout); test: the paper's, units as they are\n" \
    "                         while training and x (1-P) at test time (train)\n"

enum {
    CLI_OPT_CLASSES = 1000, CLI_OPT_CROP, CLI_OPT_TOWERS, CLI_OPT_CONV, CLI_OPT_GROUPS,
    CLI_OPT_FC, CLI_OPT_LRN, CLI_OPT_POOL, CLI_OPT_ACT, CLI_OPT_DROPOUT, CLI_OPT_DROPOUT_SCALE,
    CLI_OPT_MODEL_LAST
};
#define CLI_MODEL_LONGOPTS \
    {"classes", required_argument, 0, CLI_OPT_CLASSES}, \
    {"crop", required_argument, 0, CLI_OPT_CROP}, \
    {"towers", required_argument, 0, CLI_OPT_TOWERS}, \
    {"conv", required_argument, 0, CLI_OPT_CONV}, \
    {"groups", required_argument, 0, CLI_OPT_GROUPS}, \
    {"fc", required_argument, 0, CLI_OPT_FC}, \
    {"lrn", required_argument, 0, CLI_OPT_LRN}, \
    {"pool", required_argument, 0, CLI_OPT_POOL}, \
    {"act", required_argument, 0, CLI_OPT_ACT}, \
    {"dropout", required_argument, 0, CLI_OPT_DROPOUT}, \
    {"dropout-scale", required_argument, 0, CLI_OPT_DROPOUT_SCALE}

/* Applies one model option to c; returns 0 when opt is not a model option. */
int cli_model_option(int opt, const char *arg, struct anet_config *c);

#endif
