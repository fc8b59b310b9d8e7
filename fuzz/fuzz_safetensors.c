/* safetensors files: anet_safetensors_read_stream, as alexnet-import reads MODEL.safetensors
 * (ours, or PyTorch's of the module in alexnet-export(1)); what is imported must hold
 * finite parameters only, and a class table of fc8's width or none. */
#include <math.h>
#include "alexnet/import.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_stream(data, size);
    if (!f) return 0;
    struct anet_import im;
    enum anet_status s = anet_safetensors_read_stream(f, size, "fuzz", &im);
    fclose(f);
    if (s) return 0;
    struct anet_tensor *t;
    int n = anet_model_tensors(im.model, &t);
    for (int i = 0; i < n; i++) /* the reader's promises */
        for (size_t j = 0; j < t[i].count; j++)
            if (!isfinite(t[i].data[j])) abort();
    if (im.classes.count && im.classes.count != (int)t[n - 1].count) abort();
    anet_import_free(&im);
    return 0;
}
