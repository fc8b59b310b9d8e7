/* Lists of images: Caffe's "path label" lines and Kaggle's LOC_val_solution.csv
 * (anet_list_read_caffe, anet_list_read_kaggle), as alexnet-prep reads them. The first
 * byte chooses the format. */
#include "alexnet/data.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    FILE *f = fuzz_stream(data + 1, size - 1);
    if (!f) return 0;
    struct anet_list l;
    enum anet_status s = data[0] & 1 ? anet_list_read_kaggle(f, "fuzz", &l)
                                     : anet_list_read_caffe(f, "fuzz", &l);
    fclose(f);
    if (s) return 0;
    for (size_t i = 0; i < l.count; i++)
        if (!l.items[i].path || (!l.items[i].bad && l.items[i].path[0] == '/')) abort();
    anet_list_free(&l);
    return 0;
}
