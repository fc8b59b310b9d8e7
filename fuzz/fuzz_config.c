/* The CONF section of a checkpoint: anet_config_parse, then the checks every reader makes
 * before it builds anything from it. */
#include "alexnet/checkpoint.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct anet_config c;
    if (!anet_config_parse(text, "fuzz", &c) && !anet_config_check(&c)) {
        struct anet_layer_info info[ANET_LAYERS];
        anet_config_layers(&c, info);
        (void)anet_config_params(&c);
        char *again = anet_config_format(&c);
        struct anet_config back;
        if (again && (anet_config_parse(again, "again", &back) ||
                      memcmp(&back, &c, sizeof c) != 0))
            abort(); /* what is written reads back the same */
        free(again);
    }
    free(text);
    return 0;
}
