/* lib/core: Philox known answers, RNG distributions, CRC32, atomic files, status. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "alexnet/file.h"
#include "alexnet/rng.h"
#include "alexnet/status.h"
#include "test.h"

/* Known-answer vectors of Philox4x32-10 published with Random123 (kat_vectors). */
static void test_philox_kat(void)
{
    static const struct { uint32_t ctr[4], key[2], out[4]; } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t out[4];
        anet_philox4x32(kat[i].ctr, kat[i].key, out);
        T_OK(memcmp(out, kat[i].out, sizeof out) == 0,
             "philox4x32-10 known answer %zu (%08x %08x %08x %08x)", i, out[0], out[1],
             out[2], out[3]);
    }
}

static void test_rng_streams(void)
{
    /* words of one block are the 4 consecutive indices */
    uint32_t ctr[4] = {5, 0, 7, ANET_RNG_TEST}, key[2] = {42, 0}, out[4];
    anet_philox4x32(ctr, key, out);
    int same = 1;
    for (int j = 0; j < 4; j++) same &= anet_rng_u32(42, 7, ANET_RNG_TEST, 20 + j) == out[j];
    T_OK(same, "rng_u32(seed, step, purpose, i) is word i%%4 of block i/4");
    T_OK(anet_rng_u32(42, 7, ANET_RNG_TEST, 3) != anet_rng_u32(42, 8, ANET_RNG_TEST, 3) &&
             anet_rng_u32(42, 7, ANET_RNG_TEST, 3) != anet_rng_u32(43, 7, ANET_RNG_TEST, 3) &&
             anet_rng_u32(42, 7, ANET_RNG_TEST, 3) != anet_rng_u32(42, 7, ANET_RNG_CROP, 3),
         "seed, step and purpose each change the stream");

    const int n = 200000;
    double su = 0, suu = 0, sn = 0, snn = 0, umin = 1, umax = 0;
    for (int i = 0; i < n; i++) {
        double u = anet_rng_uniform(1, 0, ANET_RNG_TEST, i);
        double z = anet_rng_normal(1, 0, ANET_RNG_TEST, i);
        su += u, suu += u * u, sn += z, snn += z * z;
        if (u < umin) umin = u;
        if (u > umax) umax = u;
    }
    double mu = su / n, vu = suu / n - mu * mu, mn = sn / n, vn = snn / n - mn * mn;
    T_OK(fabs(mu - 0.5) < 0.005 && fabs(vu - 1.0 / 12) < 0.002 && umin >= 0 && umax < 1,
         "uniform: mean %.4f var %.4f in [%.2g, %.6f]", mu, vu, umin, umax);
    T_OK(fabs(mn) < 0.01 && fabs(vn - 1) < 0.01, "normal: mean %.4f var %.4f", mn, vn);
}

static void test_crc32(void)
{
    T_OK(anet_crc32(0, "123456789", 9) == 0xCBF43926u, "crc32(\"123456789\") = cbf43926");
    uint32_t c = anet_crc32(0, "1234", 4);
    T_OK(anet_crc32(c, "56789", 5) == 0xCBF43926u, "crc32 continues across calls");
    T_OK(anet_crc32(0, "", 0) == 0, "crc32 of nothing is 0");
}

static void test_afile(void)
{
    char dir[] = "/tmp/anet-test-XXXXXX";
    if (!mkdtemp(dir)) {
        T_OK(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    struct anet_afile *f;
    T_OK(anet_afile_open(path, 0, &f) == ANET_OK, "afile opens a new path");
    fputs("first", anet_afile_stream(f));
    struct stat st;
    T_OK(stat(path, &st) != 0, "nothing at the path before commit");
    T_OK(anet_afile_commit(f) == ANET_OK && stat(path, &st) == 0 && st.st_size == 5,
         "commit puts the whole file at the path");
    T_OK(anet_afile_open(path, 0, &f) == ANET_ERR_IO && strstr(anet_error_detail(), "exists"),
         "an existing file is refused without overwrite: %s", anet_error_detail());
    T_OK(anet_afile_open(path, 1, &f) == ANET_OK, "overwrite opens");
    fputs("second, longer", anet_afile_stream(f));
    anet_afile_abort(f);
    T_OK(stat(path, &st) == 0 && st.st_size == 5, "abort leaves the old file intact");
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x", dir);
    T_OK(anet_afile_open(bad, 0, &f) == ANET_ERR_IO && strstr(anet_error_detail(), bad),
         "a missing directory names the file: %s", anet_error_detail());
    unlink(path);
    rmdir(dir);
}

/* The whole of a file as a string (at most cap - 1 bytes); "" when unreadable. */
static const char *slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return buf;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

static int write_and_commit(const char *path, int overwrite, const char *text)
{
    struct anet_afile *f;
    enum anet_status s = anet_afile_open(path, overwrite, &f);
    if (s) return s;
    fputs(text, anet_afile_stream(f));
    return anet_afile_commit(f);
}

/* A link planted where the temporary goes must not receive our bytes, and the output must
 * not become that link. */
static void test_afile_planted_link(const char *dir)
{
    char out[256], tmp[300], victim[256], buf[64];
    struct stat st;
    snprintf(out, sizeof out, "%s/planted.tsv", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    snprintf(victim, sizeof victim, "%s/victim", dir);
    put_text(victim, "precious");
    T_OK(symlink(victim, tmp) == 0, "planted a link at the temporary's name");
    T_OK(write_and_commit(out, 0, "ours") == ANET_OK, "written past the planted link: %s",
         anet_error_detail());
    T_OK(!strcmp(slurp(victim, buf, sizeof buf), "precious"), "the link's target is untouched");
    T_OK(lstat(out, &st) == 0 && S_ISREG(st.st_mode) && !strcmp(slurp(out, buf, sizeof buf), "ours"),
         "the output is a regular file of our own");
    T_OK(lstat(tmp, &st) == 0 && S_ISLNK(st.st_mode), "the planted link is left as it was");
    unlink(tmp), unlink(out);

    /* an output that is a link is neither followed nor replaced, even with overwrite */
    T_OK(symlink(victim, out) == 0, "a link at the output's name");
    for (int ow = 0; ow <= 1; ow++)
        T_OK(write_and_commit(out, ow, "ours") == ANET_ERR_IO &&
                 strstr(anet_error_detail(), "symbolic link"),
             "a link to a regular file is refused (overwrite %d): %s", ow, anet_error_detail());
    T_OK(!strcmp(slurp(victim, buf, sizeof buf), "precious") && lstat(out, &st) == 0 &&
             S_ISLNK(st.st_mode),
         "neither the link nor its target changed");
    unlink(out), unlink(victim);
}

/* FIFOs and character devices are written directly; a full device names the error. */
static void test_afile_streams(const char *dir)
{
    char fifo[256], got[256], buf[64];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(got, sizeof got, "%s/from-fifo", dir);
    T_OK(mkfifo(fifo, 0600) == 0, "mkfifo");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) { /* the reader: copies the FIFO to a file */
        int in = open(fifo, O_RDONLY), out = open(got, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char b[256];
        ssize_t n;
        while ((n = read(in, b, sizeof b)) > 0) (void)!write(out, b, (size_t)n);
        _exit(0);
    }
    T_OK(write_and_commit(fifo, 0, "through the fifo") == ANET_OK,
         "a FIFO is written without overwrite: %s", anet_error_detail());
    waitpid(pid, NULL, 0);
    struct stat st;
    T_OK(!strcmp(slurp(got, buf, sizeof buf), "through the fifo") && lstat(fifo, &st) == 0 &&
             S_ISFIFO(st.st_mode),
         "the reader got the bytes and the FIFO is still a FIFO");
    unlink(fifo), unlink(got);

    T_OK(write_and_commit("/dev/null", 0, "nothing") == ANET_OK, "/dev/null is written: %s",
         anet_error_detail());
    if (access("/dev/full", W_OK) == 0)
        T_OK(write_and_commit("/dev/full", 0, "x") == ANET_ERR_IO &&
                 !strcmp(anet_error_detail(), "cannot write '/dev/full': No space left on device"),
             "a full device: %s", anet_error_detail());
    else
        T_SKIP("no /dev/full");
    T_OK(write_and_commit(dir, 1, "x") == ANET_ERR_IO && strstr(anet_error_detail(), "directory"),
         "a directory is refused: %s", anet_error_detail());
}

/* "-" is standard output, and so is a link to the file standard output is. */
static void test_afile_stdout(const char *dir)
{
    char out[256], link_to_it[256], buf[64];
    snprintf(out, sizeof out, "%s/stdout.txt", dir);
    snprintf(link_to_it, sizeof link_to_it, "%s/stdout-link", dir);
    fflush(stdout);
    int saved = dup(1), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1), close(fd);
    enum anet_status a = write_and_commit("-", 0, "dash;");
    enum anet_status b = symlink(out, link_to_it) == 0 ? write_and_commit(link_to_it, 0, "link")
                                                       : ANET_ERR_INTERNAL;
    dup2(saved, 1), close(saved);
    T_OK(a == ANET_OK && b == ANET_OK && !strcmp(slurp(out, buf, sizeof buf), "dash;link"),
         "'-' and a link to standard output's file write standard output (%s)", buf);
    unlink(link_to_it), unlink(out);
}

/* Two outputs committed as one: a failure in either leaves neither. */
static void test_afile_commit_all(const char *dir)
{
    char a[256], tmp[300];
    struct stat st;
    snprintf(a, sizeof a, "%s/first", dir);
    struct anet_afile *f[2];
    T_OK(anet_afile_open(a, 0, &f[0]) == ANET_OK, "open the first output");
    fputs("first", anet_afile_stream(f[0]));
    if (access("/dev/full", W_OK) == 0 && anet_afile_open("/dev/full", 0, &f[1]) == ANET_OK) {
        fputs("second", anet_afile_stream(f[1]));
        T_OK(anet_afile_commit_all(f, 2) == ANET_ERR_IO &&
                 strstr(anet_error_detail(), "No space left on device"),
             "a full second output fails both: %s", anet_error_detail());
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", a, (long)getpid());
        T_OK(stat(a, &st) != 0 && stat(tmp, &st) != 0, "neither the first nor its temporary is left");
    } else {
        anet_afile_abort(f[0]);
        T_SKIP("no /dev/full");
    }
}

static void test_file_read(const char *dir)
{
    char fifo[256], big[256], line[8];
    snprintf(fifo, sizeof fifo, "%s/fifo-in", dir);
    snprintf(big, sizeof big, "%s/big", dir);
    uint8_t *data;
    size_t len;
    mkfifo(fifo, 0600);
    T_OK(anet_file_read(fifo, 100, "an image", &data, &len) == ANET_ERR_IO &&
             !strcmp(strstr(anet_error_detail(), "is a FIFO") ? "y" : "n", "y"),
         "a FIFO is refused without blocking: %s", anet_error_detail());
    T_OK(anet_file_read("/dev/zero", 100, "an image", &data, &len) == ANET_ERR_IO &&
             strstr(anet_error_detail(), "character device"),
         "/dev/zero is refused, not read: %s", anet_error_detail());
    put_text(big, "0123456789\nabc");
    T_OK(anet_file_read(big, 5, "an image", &data, &len) == ANET_ERR_FORMAT &&
             strstr(anet_error_detail(), "larger than"),
         "a file larger than the limit is refused: %s", anet_error_detail());
    T_OK(anet_file_read(big, 100, "an image", &data, &len) == ANET_OK && len == 14 &&
             !memcmp(data, "0123456789\nabc", 15),
         "a regular file is read whole, NUL-terminated");
    free(data);
    FILE *f;
    T_OK(anet_file_open(fifo, "a list", &f) == ANET_ERR_IO, "anet_file_open refuses a FIFO too");
    T_OK(anet_file_open(big, "a list", &f) == ANET_OK, "anet_file_open opens a regular file");
    int r1 = anet_file_line(f, line, sizeof line, &len);
    T_OK(r1 == -1 && len == 7, "a line longer than the buffer is -1 (%d, %zu)", r1, len);
    fclose(f);
    anet_file_open(big, "a list", &f);
    char wide[32];
    int r2 = anet_file_line(f, wide, sizeof wide, &len), r3 = anet_file_line(f, wide, sizeof wide, &len);
    int last = len == 3 && !strcmp(wide, "abc");
    int r4 = anet_file_line(f, wide, sizeof wide, &len);
    T_OK(r2 == 1 && r3 == 1 && last && r4 == 0,
         "lines, the last one without a newline, then the end (%d %d %d)", r2, r3, r4);
    fclose(f);
    int fd = 0;
    uint64_t size = 1;
    T_OK(anet_file_open_fd(fifo, "a matrix", &fd, &size) == ANET_ERR_IO && fd == -1 &&
             strstr(anet_error_detail(), "is a FIFO, not a matrix"),
         "anet_file_open_fd refuses a FIFO: %s", anet_error_detail());
    T_OK(anet_file_open_fd(big, "a matrix", &fd, &size) == ANET_OK && fd >= 0 && size == 14 &&
             !(fcntl(fd, F_GETFL) & O_NONBLOCK),
         "anet_file_open_fd: a blocking descriptor and the size");
    if (fd >= 0) close(fd);
    unlink(fifo), unlink(big);
}

static void test_status(void)
{
    T_OK(anet_fail(ANET_ERR_INVALID, "classes %d", 0) == ANET_ERR_INVALID &&
             strcmp(anet_error_detail(), "classes 0") == 0,
         "anet_fail returns its status and sets the detail");
    T_OK(strcmp(anet_strerror(ANET_ERR_FORMAT), "bad file format") == 0, "anet_strerror");
    anet_fail(ANET_ERR_FORMAT, "not a valid Datum: field 4 is truncated");
    anet_fail(ANET_ERR_FORMAT, "'%s': record '%s': %s", "train.lmdb", "00000007_a/b.JPEG",
              anet_error_detail());
    T_OK(!strcmp(anet_error_detail(), "'train.lmdb': record '00000007_a/b.JPEG': not a valid "
                                      "Datum: field 4 is truncated"),
         "the detail may be an argument of the next anet_fail: %s", anet_error_detail());
}

static char logged[256];
static int log_calls;
static void capture(enum anet_log_level level, const char *msg, void *user)
{
    snprintf(logged, sizeof logged, "%d %s %s", (int)level, msg, (const char *)user);
    log_calls++;
}

static void test_logging(void)
{
    anet_log(ANET_LOG_ERROR, "before any callback: dropped");
    anet_log_set(capture, "u", ANET_LOG_INFO);
    anet_log(ANET_LOG_WARN, "%d bad images", 3);
    T_OK(log_calls == 1 && strcmp(logged, "1 3 bad images u") == 0,
         "the callback gets level, message and user pointer (%s)", logged);
    anet_log(ANET_LOG_DEBUG, "too detailed");
    T_OK(log_calls == 1, "messages above the level are not passed on");
    anet_log_set(NULL, NULL, ANET_LOG_DEBUG);
    anet_log(ANET_LOG_ERROR, "after removal");
    T_OK(log_calls == 1, "no callback, no output");
}

int main(void)
{
    test_philox_kat();
    test_rng_streams();
    test_crc32();
    test_afile();
    char dir[] = "/tmp/anet-test-XXXXXX";
    if (mkdtemp(dir)) {
        test_afile_planted_link(dir);
        test_afile_streams(dir);
        test_afile_stdout(dir);
        test_afile_commit_all(dir);
        test_file_read(dir);
        rmdir(dir);
    }
    test_status();
    test_logging();
    return t_done();
}
