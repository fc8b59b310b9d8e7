/* Caffe models (.caffemodel, a NetParameter): anet_caffe_decode, as alexnet-import --caffe
 * reads the file it is given; what is imported must hold finite parameters only. */
#include <math.h>
#include "alexnet/import.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct anet_import im;
    if (anet_caffe_decode(data, size, "fuzz", &im)) return 0;
    struct anet_tensor *t;
    int n = anet_model_tensors(im.model, &t);
    for (int i = 0; i < n; i++) /* the reader's promise: nothing that is not finite */
        for (size_t j = 0; j < t[i].count; j++)
            if (!isfinite(t[i].data[j])) abort();
    anet_import_free(&im);
    return 0;
}
