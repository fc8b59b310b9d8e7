/* Caffe Datum records, as alexnet-stats, -train, -eval and -info read them from a
 * database: anet_datum_decode. */
#include "alexnet/data.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct anet_datum d;
    if (anet_datum_decode(data, size, &d)) return 0;
    /* what the decoder promises: data inside the record, a raw image's planes whole */
    if (d.data_len && (d.data < data || d.data + d.data_len > data + size)) abort();
    if (!d.encoded && (size_t)d.channels * d.height * d.width != d.data_len) abort();
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < d.data_len; i++) sum += d.data[i];
    (void)sum;
    uint8_t *again = malloc(anet_datum_size(&d));
    if (again) anet_datum_encode(&d, again);
    free(again);
    return 0;
}
