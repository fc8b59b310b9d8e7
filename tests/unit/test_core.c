/* lib/core: Philox known answers, RNG distributions, CRC32, atomic files, status. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
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

static void test_status(void)
{
    T_OK(anet_fail(ANET_ERR_INVALID, "classes %d", 0) == ANET_ERR_INVALID &&
             strcmp(anet_error_detail(), "classes 0") == 0,
         "anet_fail returns its status and sets the detail");
    T_OK(strcmp(anet_strerror(ANET_ERR_FORMAT), "bad file format") == 0, "anet_strerror");
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
    test_status();
    test_logging();
    return t_done();
}
