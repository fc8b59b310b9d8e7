/* Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).
 *
 * A draw is a pure function of (seed, step, purpose, index): no state, no order
 * dependence, so any thread, the CPU or the GPU can draw element i of step s of any
 * stream and get the same number. The key is the 64-bit seed; the 128-bit counter is
 * (index / 4 low 32 bits, index / 4 high 32 bits, step, purpose); one Philox block gives
 * four 32-bit words, and word index % 4 is element index's draw. */
#ifndef ANET_RNG_H
#define ANET_RNG_H

#include <stdint.h>

/* Streams. A layer's own streams are offset by its index so that no two uses collide. */
enum anet_rng_purpose {
    ANET_RNG_TEST = 1,
    ANET_RNG_SHUFFLE = 2,    /* epoch order: step = epoch */
    ANET_RNG_CROP = 3,       /* crop offsets: index = image */
    ANET_RNG_FLIP = 4,
    ANET_RNG_COLOR = 5,      /* PCA colour noise alphas */
    ANET_RNG_DROPOUT = 16,   /* + layer index: dropout masks, step = iteration */
    ANET_RNG_INIT = 64       /* + parameter tensor index: initial weights, step = 0 */
};

/* One Philox4x32-10 block: out = philox(key = {k0, k1}, counter = {c0, c1, c2, c3}). */
void anet_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The 32-bit word number `index` of stream (seed, step, purpose). */
uint32_t anet_rng_u32(uint64_t seed, uint32_t step, uint32_t purpose, uint64_t index);

/* Uniform in [0, 1) with 24 random bits: (u32 >> 8) * 2^-24. */
float anet_rng_uniform(uint64_t seed, uint32_t step, uint32_t purpose, uint64_t index);

/* Standard normal number `index` (Box-Muller on words 4*(index/2) and 4*(index/2)+1:
 * cos for even index, sin for odd). */
float anet_rng_normal(uint64_t seed, uint32_t step, uint32_t purpose, uint64_t index);

/* Convert words to numbers, for code that draws whole blocks itself. */
static inline float anet_u32_to_uniform(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

#endif
