/* Command-line helpers shared by every tool. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alexnet/backend.h"
#include "alexnet/checkpoint.h"
#include "alexnet/threads.h"
#include "cli.h"

const char *cli_name = "alexnet";

static void log_stderr(enum anet_log_level level, const char *msg, void *user)
{
    (void)user;
    fprintf(stderr, "%s: %s%s\n", cli_name, level == ANET_LOG_WARN ? "warning: " : "", msg);
}

/* At exit, whatever the tool printed (its data, --help, --version) must have reached
 * standard output: a full disk or /dev/full is a failure to report, exit status 1, not a
 * success with output missing. */
static void check_stdout(void)
{
    errno = 0;
    int flushed = fflush(stdout) == 0;
    int e = errno;
    if (flushed && !ferror(stdout)) return;
    if (!flushed && e)
        fprintf(stderr, "%s: write error on standard output: %s\n", cli_name, strerror(e));
    else
        fprintf(stderr, "%s: write error on standard output\n", cli_name);
    _exit(EXIT_RUNTIME);
}

void cli_init(const char *name)
{
    /* not a terminal: a buffer that holds any --help whole, so that a failure to write it
     * happens in check_stdout's flush, where its errno is seen */
    static char out_buf[1 << 16];
    if (!isatty(STDOUT_FILENO)) setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
    cli_name = name;
    anet_log_set(log_stderr, NULL, ANET_LOG_INFO);
    atexit(check_stdout);
}

void cli_fast_blas(char **argv)
{
    const char *k = anet_blas_better_kernels();
    if (!k) return;
    /* the program's own file by its name, so that the process keeps its name (ps, pgrep,
     * killall); a program replaced since it started, or no /proc, goes on as it is */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1) return;
    self[n] = '\0';
    if (strstr(self, " (deleted)") || setenv("OPENBLAS_CORETYPE", k, 1) != 0) return;
    execv(self, argv);
    unsetenv("OPENBLAS_CORETYPE");
}

static void verror(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", cli_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", cli_name);
    exit(EXIT_USAGE);
}

int cli_fail(enum anet_status s, int user_input, const char *context)
{
    const char *d = anet_error_detail();
    if (context && *context)
        fprintf(stderr, "%s: %s: %s\n", cli_name, context, *d ? d : anet_strerror(s));
    else
        fprintf(stderr, "%s: %s\n", cli_name, *d ? d : anet_strerror(s));
    if (user_input && s == ANET_ERR_INVALID) {
        fprintf(stderr, "Try '%s --help' for more information.\n", cli_name);
        return EXIT_USAGE;
    }
    return EXIT_RUNTIME;
}

void cli_version(void) { printf("%s (alexnet) %s\n", cli_name, anet_version()); }

const char *cli_plural(long long n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int cli_threads(int requested)
{
    long n = requested > 0 ? requested : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int cli_int(const char *opt, const char *text, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end)
        cli_usage_error("--%s: '%s' is not an integer", opt, text);
    if (v < lo || v > hi) cli_usage_error("--%s: %ld is out of range %ld..%ld", opt, v, lo, hi);
    return (int)v;
}

double cli_double(const char *opt, const char *text, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || v != v)
        cli_usage_error("--%s: '%s' is not a number", opt, text);
    if (v < lo || v > hi) cli_usage_error("--%s: %g is out of range %g..%g", opt, v, lo, hi);
    return v;
}

void cli_int_list(const char *opt, const char *text, int *out, int n, long lo, long hi)
{
    const char *p = text;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || (i < n - 1 ? *end != ',' : *end != 0))
            cli_usage_error("--%s: '%s' is not a list of %d comma-separated integers", opt,
                            text, n);
        if (v < lo || v > hi)
            cli_usage_error("--%s: %ld is out of range %ld..%ld", opt, v, lo, hi);
        out[i] = (int)v;
        p = end + 1;
    }
}

int cli_on_off(const char *opt, const char *arg)
{
    if (!strcmp(arg, "on") || !strcmp(arg, "1") || !strcmp(arg, "yes")) return 1;
    if (!strcmp(arg, "off") || !strcmp(arg, "0") || !strcmp(arg, "no")) return 0;
    cli_usage_error("--%s: expected on or off, got '%s'", opt, arg);
}

int cli_model_option(int opt, const char *arg, struct anet_config *c)
{
    switch (opt) {
    /* the ranges a checkpoint's configuration is held to as well (checkpoint.h) */
    case CLI_OPT_CLASSES: c->classes = cli_int("classes", arg, 1, ANET_MAX_CLASSES); break;
    case CLI_OPT_CROP: c->crop = cli_int("crop", arg, 1, ANET_MAX_CROP); break;
    case CLI_OPT_TOWERS: c->towers = cli_int("towers", arg, 1, 2); break;
    case CLI_OPT_CONV: cli_int_list("conv", arg, c->conv, 5, 1, ANET_MAX_CONV); break;
    case CLI_OPT_GROUPS: cli_int_list("groups", arg, c->groups, 5, 1, ANET_MAX_CONV); break;
    case CLI_OPT_FC: cli_int_list("fc", arg, c->fc, 2, 1, ANET_MAX_FC); break;
    case CLI_OPT_LRN: c->lrn = cli_on_off("lrn", arg); break;
    case CLI_OPT_POOL:
        if (!strcmp(arg, "overlap") || !strcmp(arg, "3/2")) c->pool_size = 3, c->pool_stride = 2;
        else if (!strcmp(arg, "plain") || !strcmp(arg, "2/2")) c->pool_size = 2, c->pool_stride = 2;
        else cli_usage_error("--pool: expected overlap or plain, got '%s'", arg);
        break;
    case CLI_OPT_ACT:
        if (!strcmp(arg, "relu")) c->act = ANET_ACT_RELU;
        else if (!strcmp(arg, "tanh")) c->act = ANET_ACT_TANH;
        else cli_usage_error("--act: expected relu or tanh, got '%s'", arg);
        break;
    case CLI_OPT_DROPOUT: c->dropout = (float)cli_double("dropout", arg, 0, ANET_MAX_DROPOUT); break;
    case CLI_OPT_DROPOUT_SCALE:
        if (!strcmp(arg, "train")) c->dropout_scale = ANET_DROPOUT_SCALE_TRAIN;
        else if (!strcmp(arg, "test")) c->dropout_scale = ANET_DROPOUT_SCALE_TEST;
        else cli_usage_error("--dropout-scale: expected train or test, got '%s'", arg);
        break;
    default: return 0;
    }
    return 1;
}

const char *cli_device(const char *arg)
{
    if (strcmp(arg, "cpu") && strcmp(arg, "cuda"))
        cli_usage_error("--device: expected cpu or cuda, got '%s'", arg);
    return arg;
}

/* "N" or "A,B" into gpu[] and *count; 0 when the text is neither. */
static int parse_gpus(const char *arg, int gpu[2], int *count)
{
    char *end;
    *count = 0;
    for (const char *at = arg; *count < 2;) {
        if (*at < '0' || *at > '9') return 0;
        long v = strtol(at, &end, 10);
        if (v > 63) return 0;
        gpu[(*count)++] = (int)v;
        if (*end == 0) return 1;
        if (*end != ',') return 0;
        at = end + 1;
    }
    return 0;
}

const char *cli_gpus(const char *arg)
{
    int gpu[2], count;
    if (!parse_gpus(arg, gpu, &count))
        cli_usage_error("--gpus: expected a GPU number (0) or two, one a tower (0,1; 0,0 puts "
                        "both towers on GPU 0, each on its own stream), got '%s'", arg);
    return arg;
}

const char *cli_precision(const char *arg)
{
    enum anet_precision p;
    if (anet_precision_parse(arg, &p)) cli_usage_error("--precision: expected fp32, tf32 or bf16, got '%s'", arg);
    return arg;
}

int cli_open_backend(const char *device, const char *gpus, const char *precision,
                     struct anet_backend **be, struct anet_placement *out)
{
    memset(out, 0, sizeof *out);
    *be = NULL;
    out->parts = 1;
    if (strcmp(device, "cuda")) {
        if (precision && strcmp(precision, "fp32")) {
            cli_error("--precision %s needs --device cuda (the CPU computes in fp32)", precision);
            return EXIT_USAGE;
        }
        if (gpus) cli_usage_error("--gpus %s needs --device cuda", gpus);
        enum anet_status s = anet_backend_cpu(ANET_PATH_FAST, be);
        if (s) return cli_fail(s, 0, NULL);
        out->backend = *be;
        return 0;
    }
    if (!anet_cuda_built()) {
        cli_error("--device cuda: this build has no CUDA backend (built without CUDA)");
        return EXIT_RUNTIME;
    }
    int count = 1, gpu[2] = {0, 0};
    if (gpus) parse_gpus(gpus, gpu, &count); /* checked by cli_gpus */
    enum anet_precision p = ANET_FP32;
    if (precision) anet_precision_parse(precision, &p);
    enum anet_status s = anet_backend_cuda(gpu, count, p, be);
    if (s) {
        cli_error("--device cuda%s%s: %s", gpus ? " --gpus " : "", gpus ? gpus : "",
                  anet_error_detail());
        return EXIT_RUNTIME;
    }
    out->backend = *be;
    out->parts = count;
    for (int i = 0; i < count; i++) out->lane[i] = i;
    return 0;
}

const char *cli_placement_text(const struct anet_placement *w, char *buf, size_t size)
{
    const struct anet_backend *be = w->backend;
    if (be->device != ANET_DEVICE_CUDA) {
        snprintf(buf, size, "the CPU");
    } else if (w->parts == 1) {
        snprintf(buf, size, "%s", anet_backend_lane_name(be, w->lane[0]));
    } else {
        int a = anet_backend_lane_gpu(be, w->lane[0]), b = anet_backend_lane_gpu(be, w->lane[1]);
        if (a == b)
            snprintf(buf, size, "%s, a tower a stream", anet_backend_lane_name(be, w->lane[0]));
        else
            snprintf(buf, size, "GPUs %d and %d, a tower each (%s; %s)", a, b,
                     anet_backend_lane_name(be, w->lane[0]),
                     anet_backend_lane_name(be, w->lane[1]));
    }
    return buf;
}

/* ---- outputs against inputs ------------------------------------------------------------ */

/* Whether dir (a directory) holds, directly, the file st describes. */
static int dir_holds(const char *dir, const struct stat *st)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    struct stat es;
    while (!found && (e = readdir(d)))
        found = strcmp(e->d_name, "..") && fstatat(dirfd(d), e->d_name, &es, 0) == 0 &&
                es.st_dev == st->st_dev && es.st_ino == st->st_ino;
    closedir(d);
    return found;
}

/* 1 when the output is the input, 2 when it is a file of the input directory, else 0. */
static int clash(const struct stat *os, const char *in)
{
    struct stat is;
    if (!in || stat(in, &is) != 0) return 0;
    if (is.st_dev == os->st_dev && is.st_ino == os->st_ino) return 1;
    return S_ISDIR(is.st_mode) && !S_ISDIR(os->st_mode) && dir_holds(in, os) ? 2 : 0;
}

void cli_refuse_same_files(const struct cli_file *out, int nout, const struct cli_file *in,
                           int nin)
{
    for (int i = 0; i < nout; i++) {
        const char *p = out[i].path;
        if (!p || !strcmp(p, "-")) continue;
        for (int j = 0; j < i; j++)
            if (out[j].path && !strcmp(out[j].path, p))
                cli_usage_error("%s '%s' and %s '%s' are the same file", out[j].option,
                                out[j].path, out[i].option, p);
        struct stat os;
        if (stat(p, &os) != 0) continue; /* a new file: nothing to destroy */
        for (int j = 0; j < nin; j++) {
            int c = clash(&os, in[j].path);
            if (c)
                cli_usage_error("%s '%s' is %s %s '%s': writing it would destroy an input",
                                out[i].option, p, c == 1 ? "the same file as" : "a file of",
                                in[j].option, in[j].path);
        }
        for (int j = 0; j < i; j++) {
            struct stat js;
            if (out[j].path && stat(out[j].path, &js) == 0 && js.st_dev == os.st_dev &&
                js.st_ino == os.st_ino)
                cli_usage_error("%s '%s' and %s '%s' are the same file", out[j].option,
                                out[j].path, out[i].option, p);
        }
    }
}

void cli_tsv_field(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '\\': fputs("\\\\", f); break;
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        default: putc(s[i], f);
        }
    }
}
