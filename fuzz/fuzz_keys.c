/* The keys of a feature file's rows (FEATS.keys.tsv), as alexnet-neighbours reads --keys
 * and --query-keys: anet_keys_read_stream. Every key read is a line's non-empty first
 * field, and one that anet_keys_put writes reads back the same. */
#include "alexnet/features.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_stream(data, size);
    if (!f) return 0;
    struct anet_keys k;
    enum anet_status s = anet_keys_read_stream(f, "fuzz", &k);
    fclose(f);
    if (s) return 0;
    for (uint64_t i = 0; i < k.count; i++) {
        const char *key = k.key[i];
        if (!key[0] || key[0] == '#' || strpbrk(key, "\t\n")) abort();
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        if (!out) break;
        int put = anet_keys_put(out, key) == ANET_OK;
        fclose(out);
        FILE *in = put ? fmemopen(buf, len, "r") : NULL;
        struct anet_keys back;
        if (in && !anet_keys_read_stream(in, "back", &back)) {
            if (back.count != 1 || strcmp(back.key[0], key)) abort();
            anet_keys_free(&back);
        } else if (in) {
            abort(); /* a key written must read back */
        }
        if (in) fclose(in);
        free(buf);
    }
    anet_keys_free(&k);
    return 0;
}
