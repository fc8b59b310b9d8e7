/* Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3" (SC'11). */
#include <math.h>
#include "alexnet/rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* golden ratio */
#define PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

void anet_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += PHILOX_W0, k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

static void block(uint64_t seed, uint32_t step, uint32_t purpose, uint64_t blk, uint32_t out[4])
{
    uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), step, purpose};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    anet_philox4x32(ctr, key, out);
}

uint32_t anet_rng_u32(uint64_t seed, uint32_t step, uint32_t purpose, uint64_t index)
{
    uint32_t out[4];
    block(seed, step, purpose, index >> 2, out);
    return out[index & 3];
}

float anet_rng_uniform(uint64_t seed, uint32_t step, uint32_t purpose, uint64_t index)
{
    return anet_u32_to_uniform(anet_rng_u32(seed, step, purpose, index));
}

float anet_rng_normal(uint64_t seed, uint32_t step, uint32_t purpose, uint64_t index)
{
    uint32_t out[4];
    block(seed, step, purpose, index >> 1, out);
    /* u1 in (0, 1] so that log(u1) is finite */
    double u1 = ((double)(out[0] >> 8) + 1.0) * (1.0 / 16777216.0);
    double u2 = (double)(out[1] >> 8) * (1.0 / 16777216.0);
    double r = sqrt(-2.0 * log(u1)), t = 2.0 * M_PI * u2;
    return (float)(index & 1 ? r * sin(t) : r * cos(t));
}
