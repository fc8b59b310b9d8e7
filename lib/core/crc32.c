/* CRC-32, reflected polynomial 0xEDB88320, sliced by 16 bytes.
 *
 * The byte-at-a-time table loop is one dependent table lookup per byte (~0.5 GB/s);
 * checkpoints are ~490 MB, so it would add a second to every save and load. Slicing
 * processes 16 bytes per step with 16 independent lookups: table[k][b] is the CRC of byte
 * b followed by k zero bytes, so the 16 contributions are XORed together instead of
 * being chained (~4-8x faster). The results are identical to the byte loop, which is
 * still used for the unaligned head, the tail and on big-endian hosts. */
#include <pthread.h>
#include <string.h>
#include "alexnet/file.h"

enum { SLICES = 16 };

static uint32_t table[SLICES][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[0][i] = c;
    }
    /* one more zero byte: table[k][i] = table[k-1][i] advanced through 8 zero bits */
    for (int k = 1; k < SLICES; k++)
        for (int i = 0; i < 256; i++) {
            uint32_t c = table[k - 1][i];
            table[k][i] = table[0][c & 0xFF] ^ (c >> 8);
        }
}

static uint32_t crc_bytes(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len--) crc = table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

static int little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* 16 bytes a step: the running CRC is XORed into the first 4 (little-endian), then every
 * byte indexes the table of its distance from the end of the block. */
static uint32_t crc_sliced(uint32_t crc, const unsigned char *p, size_t blocks)
{
    while (blocks--) {
        uint32_t w[4];
        memcpy(w, p, sizeof w);
        w[0] ^= crc;
        crc = 0;
        for (int j = 0; j < 4; j++) {
            uint32_t x = w[j];
            int t = SLICES - 1 - 4 * j;
            crc ^= table[t][x & 0xFF] ^ table[t - 1][(x >> 8) & 0xFF] ^
                   table[t - 2][(x >> 16) & 0xFF] ^ table[t - 3][x >> 24];
        }
        p += SLICES;
    }
    return crc;
}

uint32_t anet_crc32(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, crc32_init);
    const unsigned char *p = data;
    crc = ~crc;
    if (little_endian()) {
        size_t blocks = len / SLICES;
        crc = crc_sliced(crc, p, blocks);
        p += blocks * SLICES;
        len -= blocks * SLICES;
    }
    return ~crc_bytes(crc, p, len);
}
