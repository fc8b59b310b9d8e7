/* NumPy .npy matrices, as alexnet-neighbours reads --index and --query: anet_npy_header on
 * the bytes as the whole file (what anet_npy_open reads before it preads rows). */
#include "alexnet/features.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct anet_npy m;
    if (anet_npy_header(data, size, size, "fuzz", &m)) return 0;
    /* the reader's promise: the rows fill the file after the header, exactly */
    if (m.cols == 0 || m.offset > size || (size - m.offset) / 4 / m.cols != m.rows ||
        (size - m.offset) % (4 * m.cols) != 0)
        abort();
    return 0;
}
