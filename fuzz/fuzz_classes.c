/* Class tables: synset_words.txt, LOC_synset_mapping.txt and classes.tsv, also the CLAS
 * section of a checkpoint (anet_classes_read_stream); what is read is written back and
 * looked up. */
#include "alexnet/data.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_stream(data, size);
    if (!f) return 0;
    struct anet_classes c;
    enum anet_status s = anet_classes_read_stream(f, "fuzz", &c);
    fclose(f);
    if (s) return 0;
    for (int i = 0; i < c.count; i++)
        if (anet_classes_find(&c, c.wnid[i]) < 0) abort();
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out) {
        anet_classes_write(out, &c);
        fclose(out);
    }
    free(buf);
    anet_classes_free(&c);
    return 0;
}
