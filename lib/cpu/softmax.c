/* Softmax and cross-entropy, fused: logits, prob: n × classes; label: n.
 * Per row, with m = max_j l_j and S = Σ_j exp(l_j − m) in double:
 *   prob_j = exp(l_j − m) / S,   loss = −log prob_label = log S − (l_label − m),
 * so no exp overflows (every exponent is <= 0) and the loss stays finite even when
 * prob_label underflows to 0. */
#include <math.h>
#include "alexnet/ops.h"

/* One row: writes prob, returns its loss. */
static double softmax_xent_row(int classes, const float *l, int32_t label, float *prob)
{
    float m = l[0];
    for (int j = 1; j < classes; j++) m = l[j] > m ? l[j] : m;
    double sum = 0;
    for (int j = 0; j < classes; j++) sum += exp((double)l[j] - m);
    for (int j = 0; j < classes; j++) prob[j] = (float)(exp((double)l[j] - m) / sum);
    return log(sum) - ((double)l[label] - m);
}

/* dlogits of one row: the gradient of loss/n, n the images the mean is over. */
static void softmax_xent_grad_row(int classes, float n, const float *prob, int32_t label,
                                  float *dl)
{
    for (int j = 0; j < classes; j++) dl[j] = (prob[j] - (j == label ? 1.0f : 0.0f)) / n;
}

/* ---- reference ----------------------------------------------------------------------- */

void anet_cpu_softmax_xent_forward_ref(int n, int classes, const float *logits,
                                       const int32_t *label, float *prob, double *loss)
{
    double sum = 0;
    for (int r = 0; r < n; r++) {
        size_t at = (size_t)r * classes;
        sum += softmax_xent_row(classes, logits + at, label[r], prob + at);
    }
    *loss = sum / n;
}

void anet_cpu_softmax_xent_backward_ref(int n, int classes, const float *prob,
                                        const int32_t *label, int total, float *dlogits)
{
    for (int r = 0; r < n; r++) {
        size_t at = (size_t)r * classes;
        softmax_xent_grad_row(classes, (float)total, prob + at, label[r], dlogits + at);
    }
}

/* ---- fast path -------------------------------------------------------------------------
 * Rows over threads. The row losses are summed afterwards in row order, a block of rows at
 * a time, so the loss is the reference's to the last bit and does not depend on the thread
 * count (an OpenMP reduction would add in an unspecified order). */

#define SOFTMAX_ROWS 256 /* rows a block: the block's losses live on the stack */

void anet_cpu_softmax_xent_forward(int n, int classes, const float *logits,
                                   const int32_t *label, float *prob, double *loss)
{
    double sum = 0, row_loss[SOFTMAX_ROWS];
    for (int r0 = 0; r0 < n; r0 += SOFTMAX_ROWS) {
        int rows = n - r0 < SOFTMAX_ROWS ? n - r0 : SOFTMAX_ROWS;
#pragma omp parallel for schedule(static) if ((long)rows * classes >= 16384)
        for (int r = 0; r < rows; r++) {
            size_t at = (size_t)(r0 + r) * classes;
            row_loss[r] = softmax_xent_row(classes, logits + at, label[r0 + r], prob + at);
        }
        for (int r = 0; r < rows; r++) sum += row_loss[r];
    }
    *loss = sum / n;
}

void anet_cpu_softmax_xent_backward(int n, int classes, const float *prob,
                                    const int32_t *label, int total, float *dlogits)
{
#pragma omp parallel for schedule(static) if ((long)n * classes >= 65536)
    for (int r = 0; r < n; r++) {
        size_t at = (size_t)r * classes;
        softmax_xent_grad_row(classes, (float)total, prob + at, label[r], dlogits + at);
    }
}
