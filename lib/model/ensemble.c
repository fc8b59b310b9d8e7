/* Test-time predictions (alexnet/infer.h): softmax outputs averaged over crops (§4.1) and
 * over several networks (§6), for alexnet-eval and alexnet-predict alike; and a layer's
 * activations from the same forward passes, for alexnet-features. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/checkpoint.h"
#include "alexnet/infer.h"

struct anet_ensemble {
    int count;
    struct anet_model **m;
    char **paths;
    struct anet_classes table; /* the first model's table that has one; count 0: none */
    int table_from;            /* which model it came from */
    int classes, crop, channels;
    float *row, *acc;          /* classes; acc_images × classes */
    int acc_images;
    float *act;                /* act_len floats: a forward pass's activations of a layer */
    size_t act_len;
};

static int same_table(const struct anet_classes *a, const struct anet_classes *b)
{
    if (a->count != b->count) return 0;
    for (int i = 0; i < a->count; i++)
        if (strcmp(a->wnid[i], b->wnid[i])) return 0;
    return 1;
}

/* Checks checkpoint i against the ones before it; takes its class table. */
static enum anet_status agree(struct anet_ensemble *e, int i, struct anet_ckpt *ck)
{
    const struct anet_config *c = &ck->config;
    const char *first = e->paths[0], *this = e->paths[i];
    if (i == 0) {
        e->classes = c->classes, e->crop = c->crop, e->channels = c->channels;
    } else if (c->classes != e->classes) {
        return anet_fail(ANET_ERR_INVALID, "'%s' has %d classes but '%s' has %d: an ensemble "
                         "needs one set of classes", this, c->classes, first, e->classes);
    } else if (c->crop != e->crop || c->channels != e->channels) {
        return anet_fail(ANET_ERR_INVALID, "'%s' takes %dx%dx%d input but '%s' takes %dx%dx%d",
                         this, c->channels, c->crop, c->crop, first, e->channels, e->crop,
                         e->crop);
    }
    if (!ck->classes.count) return ANET_OK;
    if (!e->table.count) {
        e->table = ck->classes;
        memset(&ck->classes, 0, sizeof ck->classes);
        e->table_from = i;
        return ANET_OK;
    }
    if (!same_table(&e->table, &ck->classes))
        return anet_fail(ANET_ERR_INVALID, "the class tables of '%s' and '%s' differ",
                         e->paths[e->table_from], this);
    return ANET_OK;
}

void anet_ensemble_free(struct anet_ensemble *e)
{
    if (!e) return;
    for (int i = 0; i < e->count; i++) anet_model_free(e->m[i]);
    for (int i = 0; e->paths && e->paths[i]; i++) free(e->paths[i]);
    free(e->m), free(e->paths), free(e->row), free(e->acc), free(e->act);
    anet_classes_free(&e->table);
    free(e);
}

enum anet_status anet_ensemble_load(const char *const *paths, int count, int max_batch,
                                    const struct anet_placement *where,
                                    struct anet_ensemble **out)
{
    *out = NULL;
    if (count < 1) return anet_fail(ANET_ERR_INVALID, "an ensemble of %d models", count);
    struct anet_ensemble *e = calloc(1, sizeof *e);
    if (!e || !(e->m = calloc((size_t)count, sizeof *e->m)) ||
        !(e->paths = calloc((size_t)count + 1, sizeof *e->paths))) {
        anet_ensemble_free(e);
        return anet_fail(ANET_ERR_NOMEM, "out of memory for an ensemble of %d", count);
    }
    enum anet_status s = ANET_OK;
    for (int i = 0; i < count && !s; i++) {
        if (!(e->paths[i] = strdup(paths[i]))) {
            s = anet_fail(ANET_ERR_NOMEM, "out of memory");
            break;
        }
        struct anet_ckpt ck;
        if ((s = anet_ckpt_load(paths[i], max_batch, &ck))) break;
        if ((s = anet_model_place(&ck.model, where))) {
            char what[512];
            snprintf(what, sizeof what, "%s", anet_error_detail());
            s = anet_fail(s, "%s: %s", paths[i], what);
        }
        if (!s) {
            e->m[e->count++] = ck.model;
            ck.model = NULL;
            s = agree(e, i, &ck);
        }
        anet_ckpt_free(&ck);
    }
    if (!s && !(e->row = malloc((size_t)e->classes * sizeof *e->row)))
        s = anet_fail(ANET_ERR_NOMEM, "out of memory");
    if (s) return anet_ensemble_free(e), s;
    *out = e;
    return ANET_OK;
}

int anet_ensemble_count(const struct anet_ensemble *e) { return e->count; }
struct anet_model *anet_ensemble_model(const struct anet_ensemble *e, int i) { return e->m[i]; }
int anet_ensemble_classes(const struct anet_ensemble *e) { return e->classes; }
int anet_ensemble_crop(const struct anet_ensemble *e) { return e->crop; }
int anet_ensemble_channels(const struct anet_ensemble *e) { return e->channels; }
const struct anet_classes *anet_ensemble_table(const struct anet_ensemble *e) { return &e->table; }
const char *anet_ensemble_table_from(const struct anet_ensemble *e)
{
    return e->table.count ? e->paths[e->table_from] : e->paths[0];
}

const char *anet_ensemble_wnid(const struct anet_ensemble *e, int i, char buf[16])
{
    if (e->table.count) return e->table.wnid[i];
    snprintf(buf, 16, "%d", i);
    return buf;
}

const char *anet_ensemble_words(const struct anet_ensemble *e, int i)
{
    return e->table.count && e->table.words[i] ? e->table.words[i] : "";
}

enum anet_status anet_ensemble_feed(const struct anet_ensemble *e, const float *mean, int c,
                                    int h, int w, int images, int crops,
                                    struct anet_feed **out)
{
    return anet_feed_open(e->m[0], mean, c, h, w, images, crops, out);
}

/* row = softmax(logits), computed with the maximum subtracted, sums in double. */
static void softmax_row(const float *logits, int classes, float *row)
{
    float mx = logits[0];
    for (int j = 1; j < classes; j++) mx = logits[j] > mx ? logits[j] : mx;
    double sum = 0;
    for (int j = 0; j < classes; j++) sum += exp((double)logits[j] - mx);
    for (int j = 0; j < classes; j++) row[j] = (float)(exp((double)logits[j] - mx) / sum);
}

/* acc (n × classes) = the crop average of model m's softmax outputs of the feed's batch. */
static enum anet_status model_average(struct anet_ensemble *e, struct anet_model *m,
                                      const struct anet_feed *f, int n, int crops, float *acc)
{
    int classes = e->classes, step = anet_model_max_batch(m), total = n * crops;
    float w = 1.0f / (float)crops;
    memset(acc, 0, (size_t)n * classes * sizeof *acc);
    for (int start = 0; start < total; start += step) {
        int cnt = total - start < step ? total - start : step;
        const float *logits;
        enum anet_status s = anet_model_forward_fed(m, f, start, cnt, 0, 0, 0, &logits);
        if (s) return s;
        for (int r = 0; r < cnt; r++) {
            softmax_row(logits + (size_t)r * classes, classes, e->row);
            float *a = acc + (size_t)(start + r) / crops * classes;
            for (int j = 0; j < classes; j++) a[j] += w * e->row[j];
        }
    }
    return ANET_OK;
}

enum anet_status anet_ensemble_classify(struct anet_ensemble *e, struct anet_feed *f,
                                        const struct anet_batch *b, float *prob)
{
    int crops = b->crops > 1 ? b->crops : 1;
    if (e->count > 1 && b->n > e->acc_images) {
        float *acc = realloc(e->acc, (size_t)b->n * e->classes * sizeof *acc);
        if (!acc)
            return anet_fail(ANET_ERR_NOMEM, "out of memory for %d x %d outputs", b->n,
                             e->classes);
        e->acc = acc, e->acc_images = b->n;
    }
    enum anet_status s = anet_feed_put(f, b);
    if (s) return s;
    size_t len = (size_t)b->n * e->classes;
    if (e->count == 1) return model_average(e, e->m[0], f, b->n, crops, prob);
    memset(prob, 0, len * sizeof *prob);
    for (int i = 0; i < e->count && !s; i++) {
        s = model_average(e, e->m[i], f, b->n, crops, e->acc);
        for (size_t k = 0; !s && k < len; k++) prob[k] += e->acc[k];
    }
    for (size_t k = 0; !s && k < len; k++) prob[k] /= (float)e->count;
    return s;
}

enum anet_status anet_ensemble_features(struct anet_ensemble *e, int i, struct anet_feed *f,
                                        const struct anet_batch *b,
                                        const struct anet_named_blob *blob, float *out)
{
    if (i < 0 || i >= e->count)
        return anet_fail(ANET_ERR_INVALID, "model %d of an ensemble of %d", i, e->count);
    struct anet_model *m = e->m[i];
    int crops = b->crops > 1 ? b->crops : 1, step = anet_model_max_batch(m);
    int total = b->n * crops;
    size_t size = (size_t)blob->c * blob->h * blob->w; /* floats an image */
    if (crops > 1 && e->act_len < (size_t)step * size) {
        float *act = realloc(e->act, (size_t)step * size * sizeof *act);
        if (!act) return anet_fail(ANET_ERR_NOMEM, "out of memory for %d x %zu activations",
                                   step, size);
        e->act = act, e->act_len = (size_t)step * size;
    }
    enum anet_status s = anet_feed_put(f, b);
    if (s) return s;
    if (crops > 1) memset(out, 0, (size_t)b->n * size * sizeof *out);
    float w = 1.0f / (float)crops;
    for (int start = 0; start < total && !s; start += step) {
        int cnt = total - start < step ? total - start : step;
        if ((s = anet_model_forward_fed(m, f, start, cnt, 0, 0, 0, NULL))) break;
        if (crops == 1) { /* the activations themselves, image by image */
            s = anet_model_activations(m, blob, out + (size_t)start * size);
            continue;
        }
        if ((s = anet_model_activations(m, blob, e->act))) break;
        for (int r = 0; r < cnt; r++) { /* crop start + r is a crop of image (start + r) / crops */
            float *o = out + (size_t)((start + r) / crops) * size;
            const float *a = e->act + (size_t)r * size;
            for (size_t k = 0; k < size; k++) o[k] += w * a[k];
        }
    }
    return s;
}
