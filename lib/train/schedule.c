/* The recipe's defaults and the learning-rate schedule (§5: "divide the learning rate by 10
 * when the validation error rate stopped improving with the current learning rate"; the
 * paper did so three times in about 90 epochs). */
#include <string.h>
#include "alexnet/train.h"

static const char *const policy_names[] = {"plateau", "step", "fixed"};

const char *anet_lr_policy_name(enum anet_lr_policy p)
{
    return (unsigned)p < 3 ? policy_names[p] : "?";
}

int anet_lr_policy_parse(const char *name, enum anet_lr_policy *p)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, policy_names[i])) return *p = (enum anet_lr_policy)i, 1;
    return 0;
}

void anet_recipe_default(struct anet_recipe *r)
{
    memset(r, 0, sizeof *r);
    r->batch = 128;
    r->epochs = 90;
    r->lr = 0.01f;
    r->momentum = 0.9f;
    r->decay = 0.0005f;
    r->policy = ANET_LR_PLATEAU;
    r->patience = 2;
    r->max_drops = 3;
    r->step_epochs = 30;
    r->gamma = 0.1f;
    r->seed = 1;
    r->random_crop = 1;
    r->mirror = 1;
    r->color_sigma = 0.1f;
    anet_layer_sgd_default(&r->layers);
}

void anet_progress_start(const struct anet_recipe *r, struct anet_progress *p)
{
    memset(p, 0, sizeof *p);
    p->lr = r->lr;
    p->best_err = 2;
}

/* lr0 × gamma^k, computed by repeated multiplication in float, as the drops are made
 * (once it reaches 0 it stays there: no need to go on). */
static float dropped(float lr0, float gamma, uint32_t k)
{
    float lr = lr0;
    while (k-- && lr != 0) lr *= gamma;
    return lr;
}

int anet_schedule_epoch_end(const struct anet_recipe *r, struct anet_progress *p, double err)
{
    float before = p->lr;
    if (err >= 0 && err < p->best_err) {
        p->best_err = err;
        p->best_epoch = p->epoch + 1;
        p->since_best = 0;
    } else if (err >= 0) {
        p->since_best++;
    }
    switch (r->policy) {
    case ANET_LR_PLATEAU:
        if (err >= 0 && p->since_best >= (uint32_t)r->patience &&
            p->drops < (uint32_t)r->max_drops) {
            p->drops++;
            p->since_best = 0; /* the new rate gets its own patience */
            p->lr = dropped(r->lr, r->gamma, p->drops);
        }
        break;
    case ANET_LR_STEP:
        /* step_epochs >= 1 for every recipe the parser and the options let through; a
         * recipe built by hand with 0 does not divide by it */
        p->drops = r->step_epochs > 0 ? (p->epoch + 1) / (uint32_t)r->step_epochs : 0;
        p->lr = dropped(r->lr, r->gamma, p->drops);
        break;
    case ANET_LR_FIXED: break;
    }
    return p->lr != before;
}
