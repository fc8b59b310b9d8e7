/* Checkpoints, as alexnet-eval, -predict and -train --resume load them (anet_ckpt_load)
 * and alexnet-info describes them (anet_ckpt_peek). A file that ends in "ANETEND\0" gets
 * its CRC set right first, so that mutations reach past the checksum into the tensors. */
#include "alexnet/checkpoint.h"
#include "alexnet/file.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (size >= 12 && !memcmp(copy + size - 12, "ANETEND", 8)) {
        uint32_t crc = anet_crc32(0, copy, size - 12);
        for (int i = 0; i < 4; i++) copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    char path[64];
    int fd;
    if (fuzz_file(copy, size, path, &fd) == 0) {
        struct anet_ckpt ck;
        if (!anet_ckpt_peek(path, &ck)) anet_ckpt_free(&ck);
        if (!anet_ckpt_load(path, 1, &ck)) anet_ckpt_free(&ck);
        close(fd);
    }
    free(copy);
    return 0;
}
