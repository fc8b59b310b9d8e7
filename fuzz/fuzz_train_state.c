/* The TRAN section of a checkpoint: anet_train_parse, then what alexnet-train does with a
 * run's state when it resumes (the schedule at an epoch's end, writing it back). */
#include "alexnet/train.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct anet_train_state s;
    if (!anet_train_parse(text, "fuzz", &s)) {
        for (int e = 0; e < 3; e++) {
            anet_schedule_epoch_end(&s.recipe, &s.progress, e == 1 ? -1 : 0.5);
            s.progress.epoch++;
        }
        char *again = anet_train_format(&s);
        struct anet_train_state back;
        if (again && !anet_train_parse(again, "again", &back)) anet_train_state_free(&back);
        free(again);
        anet_train_state_free(&s);
    }
    free(text);
    return 0;
}
