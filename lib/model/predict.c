/* Test-time predictions: softmax outputs averaged over crops (§4.1: "averaging the
 * predictions made by the network's softmax layer on the ten patches") and over several
 * networks (§6: "averaging the predictions of five similar CNNs"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/model.h"

/* row = softmax(logits), computed with the maximum subtracted, sums in double. */
static void softmax_row(const float *logits, int classes, float *row)
{
    float mx = logits[0];
    for (int j = 1; j < classes; j++) mx = logits[j] > mx ? logits[j] : mx;
    double sum = 0;
    for (int j = 0; j < classes; j++) sum += exp((double)logits[j] - mx);
    for (int j = 0; j < classes; j++) row[j] = (float)(exp((double)logits[j] - mx) / sum);
}

static enum anet_status check_models(struct anet_model *const *models, int count, int n,
                                     int crops)
{
    if (count < 1 || n < 1 || crops < 1)
        return anet_fail(ANET_ERR_INVALID, "predict: %d models, %d images, %d crops", count, n,
                         crops);
    const struct anet_config *a = anet_model_config(models[0]);
    for (int i = 1; i < count; i++) {
        const struct anet_config *b = anet_model_config(models[i]);
        if (a->classes != b->classes || a->channels != b->channels || a->crop != b->crop)
            return anet_fail(ANET_ERR_INVALID, "predict: model %d has %d classes and %dx%dx%d "
                             "input, model 1 %d classes and %dx%dx%d", i + 1, b->classes,
                             b->channels, b->crop, b->crop, a->classes, a->channels, a->crop,
                             a->crop);
    }
    return ANET_OK;
}

/* acc (n × classes) = the crop average of one model's softmax outputs. */
static enum anet_status model_average(struct anet_model *m, const float *x, int n, int crops,
                                      float *row, float *acc)
{
    const struct anet_config *c = anet_model_config(m);
    size_t img = (size_t)c->channels * c->crop * c->crop, total = (size_t)n * crops;
    size_t step = (size_t)anet_model_max_batch(m);
    float w = 1.0f / (float)crops;
    memset(acc, 0, (size_t)n * c->classes * sizeof *acc);
    for (size_t start = 0; start < total; start += step) {
        int cnt = (int)(total - start < step ? total - start : step);
        const float *logits;
        enum anet_status s = anet_model_forward(m, x + start * img, cnt, 0, 0, 0, &logits);
        if (s) return s;
        for (int r = 0; r < cnt; r++) {
            softmax_row(logits + (size_t)r * c->classes, c->classes, row);
            float *a = acc + (start + (size_t)r) / (size_t)crops * c->classes;
            for (int j = 0; j < c->classes; j++) a[j] += w * row[j];
        }
    }
    return ANET_OK;
}

enum anet_status anet_models_predict(struct anet_model *const *models, int count,
                                     const float *x, int n, int crops, float *prob)
{
    enum anet_status s = check_models(models, count, n, crops);
    if (s) return s;
    int classes = anet_model_config(models[0])->classes;
    size_t len = (size_t)n * classes;
    float *row = malloc((size_t)classes * sizeof *row);
    float *acc = count > 1 ? malloc(len * sizeof *acc) : NULL;
    if (!row || (count > 1 && !acc)) {
        free(row), free(acc);
        return anet_fail(ANET_ERR_NOMEM, "predict: out of memory for %d x %d outputs", n,
                         classes);
    }
    if (count == 1) {
        s = model_average(models[0], x, n, crops, row, prob);
    } else {
        memset(prob, 0, len * sizeof *prob);
        for (int i = 0; i < count && !s; i++) {
            s = model_average(models[i], x, n, crops, row, acc);
            for (size_t k = 0; !s && k < len; k++) prob[k] += acc[k];
        }
        for (size_t k = 0; !s && k < len; k++) prob[k] /= (float)count;
    }
    free(row), free(acc);
    return s;
}
