/* Pinned results: a few SGD steps of a small two-tower network, their losses and a checksum
 * of the parameters, as the engine computed them before its layers above the ops were
 * rebuilt (commit fe37314). Any later change to the model, the backend interface or the
 * training step must give the same numbers.
 *
 * The reference path is pinned bit for bit: plain loops compiled by the same compiler give
 * the same floats on any x86-64 with FMA. The fast path goes through OpenBLAS, whose kernels
 * differ between CPUs (AVX2, AVX-512), so it is pinned to 1e-5 relative; on the machine that
 * recorded the values it matches bit for bit, which the closing check reports. */
#include <string.h>
#include "alexnet/model.h"
#include "alexnet/rng.h"
#include "alexnet/threads.h"
#include "test.h"

#define STEPS 4
#define BATCH 6

/* 64-bit FNV-1a over the parameter bytes: any change of any bit changes it. */
static uint64_t params_hash(struct anet_model *m)
{
    struct anet_tensor *t;
    int n = anet_model_tensors(m, &t);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        const unsigned char *b = (const unsigned char *)t[i].data;
        for (size_t k = 0; k < t[i].count * sizeof(float); k++) h = (h ^ b[k]) * 1099511628211ull;
    }
    return h;
}

static void small_config(struct anet_config *c)
{
    anet_config_default(c);
    c->classes = 7;
    c->crop = 67;
    int conv[ANET_CONV_LAYERS] = {8, 16, 24, 24, 16};
    memcpy(c->conv, conv, sizeof conv);
    c->fc[0] = c->fc[1] = 32;
    c->init_std = 0.05f;
}

/* STEPS steps on fixed random batches; the losses and the final parameter hash. */
static int run(enum anet_path path, int parts, double loss[STEPS], uint64_t *hash)
{
    struct anet_config c;
    small_config(&c);
    struct anet_model *m;
    struct anet_backend *be;
    if (anet_backend_cpu(path, &be)) return -1;
    struct anet_placement where = {.backend = be, .parts = parts, .lane = {0, 1}};
    if (anet_model_create_placed(&c, BATCH, &where, &m)) return anet_backend_free(be), -1;
    anet_model_init(m, 11);
    size_t in = (size_t)BATCH * c.channels * c.crop * c.crop;
    float *x = malloc(in * sizeof *x);
    int32_t labels[BATCH];
    struct anet_sgd h = {0.02f, 0.9f, 0.0005f};
    int rc = 0;
    for (int s = 0; s < STEPS && !rc; s++) {
        for (size_t i = 0; i < in; i++) x[i] = 40.0f * anet_rng_normal(5, (uint32_t)s, 99, i);
        for (int i = 0; i < BATCH; i++) labels[i] = (int32_t)((s * 3 + i * 5) % c.classes);
        if (anet_model_train_step(m, x, labels, BATCH, &h, 3, (uint32_t)s, &loss[s])) rc = -1;
    }
    *hash = params_hash(m);
    free(x);
    anet_model_free(m);
    anet_backend_free(be);
    return rc;
}

/* Recorded with fe37314, one thread, on an Intel Xeon with AVX-512. */
static const double ref_loss[STEPS] = {0x1.026ef71621f47p+1, 0x1.d937405e5f16bp+0,
                                       0x1.0281384c7e6e9p+1, 0x1.ee3b9bf790609p+0};
static const uint64_t ref_hash = 0xc8c074d090a2ad75ull;
static const double apart_loss[STEPS] = {0x1.026ef71621f47p+1, 0x1.d937405894997p+0,
                                         0x1.0281384b930b5p+1, 0x1.ee3b9be39809fp+0};
static const uint64_t apart_hash = 0xaae1b3e353befb0dull;
static const double fast_loss[STEPS] = {0x1.026ef6fea2f23p+1, 0x1.d937401be8423p+0,
                                        0x1.0281385d1cdadp+1, 0x1.ee3b9bd400c75p+0};

int main(void)
{
    anet_threads_set(1);
    double loss[STEPS];
    uint64_t hash;
    int print = getenv("ANET_PIN_PRINT") != NULL;

    T_OK(run(ANET_PATH_REF, 1, loss, &hash) == 0, "reference path: %d steps ran", STEPS);
    if (print)
        for (int s = 0; s < STEPS; s++) printf("# ref loss %d %a\n", s, loss[s]);
    if (print) printf("# ref hash 0x%llxull\n", (unsigned long long)hash);
    int same = 1;
    for (int s = 0; s < STEPS; s++) same &= loss[s] == ref_loss[s];
    T_OK(same, "reference path: the %d losses are the pinned ones bit for bit", STEPS);
    T_OK(hash == ref_hash, "reference path: the parameters are the pinned ones bit for bit "
         "(hash %016llx)", (unsigned long long)hash);

    T_OK(run(ANET_PATH_REF, 2, loss, &hash) == 0, "reference path, the towers apart: ran");
    if (print)
        for (int s = 0; s < STEPS; s++) printf("# apart loss %d %a\n", s, loss[s]);
    if (print) printf("# apart hash 0x%llxull\n", (unsigned long long)hash);
    same = 1;
    for (int s = 0; s < STEPS; s++) same &= loss[s] == apart_loss[s];
    T_OK(same && hash == apart_hash, "reference path, the towers apart: the pinned losses and "
         "parameters bit for bit (hash %016llx)", (unsigned long long)hash);

    T_OK(run(ANET_PATH_FAST, 1, loss, &hash) == 0, "fast path: %d steps ran", STEPS);
    if (print)
        for (int s = 0; s < STEPS; s++) printf("# fast loss %d %a\n", s, loss[s]);
    if (print) printf("# fast hash 0x%llxull\n", (unsigned long long)hash);
    double worst = 0;
    same = 1;
    for (int s = 0; s < STEPS; s++) {
        double e = fabs(loss[s] - fast_loss[s]) / fabs(fast_loss[s]);
        if (e > worst) worst = e;
        same &= loss[s] == fast_loss[s];
    }
    T_OK(worst < 1e-5, "fast path: the losses are the pinned ones within 1e-5 (worst %.2g%s)",
         worst, same ? ", bit for bit" : "");
    return t_done();
}
