/* Dropout over count floats: element i is kept iff
 * anet_rng_uniform(seed, step, purpose, first + i) >= p, and kept elements are multiplied by
 * scale (1/(1 − p) for inverted dropout, computed by the caller in float; 1 while training
 * the paper's form, and 1 − p with p = 0 at its test time). A GPU twin uses the same
 * product to match bit for bit. The mask is a pure function of (seed, step, purpose, i), so
 * the backward draws it again instead of storing it, and applying the mask to dy is the same
 * operation as applying it to x. */
#include <string.h>
#include "alexnet/ops.h"
#include "alexnet/rng.h"

/* kept·x·scale, written as a select so that p = 1 (scale ∞) gives 0, not 0·∞. */
static float masked(float u, float p, float scale, float x) { return u >= p ? x * scale : 0; }

/* ---- reference ----------------------------------------------------------------------- */

static void dropout_ref(size_t count, float p, float scale, uint64_t seed, uint32_t step,
                        uint32_t purpose, uint64_t first, const float *x, float *y)
{
    for (size_t i = 0; i < count; i++)
        y[i] = masked(anet_rng_uniform(seed, step, purpose, first + i), p, scale, x[i]);
}

void anet_cpu_dropout_forward_ref(size_t count, float p, float scale, uint64_t seed,
                                  uint32_t step, uint32_t purpose, uint64_t first,
                                  const float *x, float *y)
{
    dropout_ref(count, p, scale, seed, step, purpose, first, x, y);
}

void anet_cpu_dropout_backward_ref(size_t count, float p, float scale, uint64_t seed,
                                   uint32_t step, uint32_t purpose, uint64_t first,
                                   const float *dy, float *dx)
{
    dropout_ref(count, p, scale, seed, step, purpose, first, dy, dx);
}

/* ---- fast path -------------------------------------------------------------------------
 * The reference computes a whole Philox block per element and keeps one word of it. Here
 * one block serves its four elements 4b .. 4b+3 (indices counted from 0 of the whole
 * array, first + i for element i), with the counter and key laid out as anet_rng_u32 lays
 * them out (rng.h), and blocks are split over threads. The words, the conversion to
 * uniform and the select are the reference's, so the result is identical. With p = 0 every
 * uniform (in [0, 1)) passes, so no word is drawn: a copy for scale 1, else a product. */

#define DROPOUT_PARALLEL_MIN 16384 /* blocks; a block is about 30 ns of work */

static void dropout_fast(size_t count, float p, float scale, uint64_t seed, uint32_t step,
                         uint32_t purpose, uint64_t first, const float *x, float *y)
{
    if (p == 0 && scale == 1) { /* everything kept, times exactly 1 */
        if (x != y) memcpy(y, x, count * sizeof *y);
        return;
    }
    if (p == 0) { /* everything kept: the paper's test-time product */
        for (size_t i = 0; i < count; i++) y[i] = x[i] * scale;
        return;
    }
    if (count == 0) return;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint64_t b0 = first / 4, end = first + count, blocks = (end + 3) / 4 - b0;
#pragma omp parallel for schedule(static) if (blocks >= DROPOUT_PARALLEL_MIN)
    for (uint64_t k = 0; k < blocks; k++) {
        uint64_t b = b0 + k;
        const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), step, purpose};
        uint32_t word[4];
        anet_philox4x32(ctr, key, word);
        uint64_t lo = 4 * b < first ? first : 4 * b, hi = 4 * b + 4 < end ? 4 * b + 4 : end;
        for (uint64_t a = lo; a < hi; a++) /* a: the index in the whole array */
            y[a - first] = masked(anet_u32_to_uniform(word[a - 4 * b]), p, scale, x[a - first]);
    }
}

void anet_cpu_dropout_forward(size_t count, float p, float scale, uint64_t seed, uint32_t step,
                              uint32_t purpose, uint64_t first, const float *x, float *y)
{
    dropout_fast(count, p, scale, seed, step, purpose, first, x, y);
}

void anet_cpu_dropout_backward(size_t count, float p, float scale, uint64_t seed,
                               uint32_t step, uint32_t purpose, uint64_t first,
                               const float *dy, float *dx)
{
    dropout_fast(count, p, scale, seed, step, purpose, first, dy, dx);
}
