/* The colour statistics file (stats.txt): anet_stats_read_stream. */
#include <math.h>
#include "alexnet/stats.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_stream(data, size);
    if (!f) return 0;
    struct anet_stats s;
    enum anet_status st = anet_stats_read_stream(f, "fuzz", &s);
    fclose(f);
    if (st) return 0;
    for (int i = 0; i < 3; i++) /* the reader's promise: finite, in range */
        if (!isfinite(s.eigval[i]) || s.eigval[i] > 1 || s.std[i] > 1 || s.mean[i] > 1.01)
            abort();
    return 0;
}
