/* Loading an ensemble of checkpoints, and the mean image, for alexnet-eval and
 * alexnet-predict. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/checkpoint.h"
#include "alexnet/stats.h"
#include "cli.h"
#include "infer.h"

static int same_table(const struct anet_classes *a, const struct anet_classes *b)
{
    if (a->count != b->count) return 0;
    for (int i = 0; i < a->count; i++)
        if (strcmp(a->wnid[i], b->wnid[i])) return 0;
    return 1;
}

/* Checks model i against what the models before it say; takes its class table. */
static int agree(struct infer_models *im, int i, struct anet_ckpt *ck)
{
    const struct anet_config *c = &ck->config;
    if (i == 0) {
        im->num_classes = c->classes, im->crop = c->crop, im->channels = c->channels;
    } else if (c->classes != im->num_classes) {
        cli_error("'%s' has %d classes but '%s' has %d: an ensemble needs one set of classes",
                  im->paths[i], c->classes, im->paths[0], im->num_classes);
        return -1;
    } else if (c->crop != im->crop || c->channels != im->channels) {
        cli_error("'%s' takes %dx%dx%d input but '%s' takes %dx%dx%d", im->paths[i],
                  c->channels, c->crop, c->crop, im->paths[0], im->channels, im->crop, im->crop);
        return -1;
    }
    if (!ck->classes.count) return 0;
    if (!im->classes.count) {
        im->classes = ck->classes;
        memset(&ck->classes, 0, sizeof ck->classes);
        im->classes_from = im->paths[i];
        return 0;
    }
    if (!same_table(&im->classes, &ck->classes)) {
        cli_error("the class tables of '%s' and '%s' differ", im->classes_from, im->paths[i]);
        return -1;
    }
    return 0;
}

int infer_load_models(const char **paths, int count, int max_batch,
                      const struct anet_placement *where,
                      struct infer_models *out)
{
    memset(out, 0, sizeof *out);
    out->paths = paths;
    out->m = calloc((size_t)count, sizeof *out->m);
    if (!out->m) return cli_error("out of memory"), -1;
    for (int i = 0; i < count; i++) {
        struct anet_ckpt ck;
        enum anet_status s = anet_ckpt_load(paths[i], max_batch, &ck);
        if (s) return cli_fail(s, 0, NULL), -1;
        if ((s = anet_model_place(&ck.model, where))) {
            anet_ckpt_free(&ck);
            return cli_fail(s, 0, paths[i]), -1;
        }
        out->m[out->count++] = ck.model;
        ck.model = NULL;
        int r = agree(out, i, &ck);
        anet_ckpt_free(&ck);
        if (r) return -1;
    }
    return 0;
}

void infer_free_models(struct infer_models *im)
{
    for (int i = 0; i < im->count; i++) anet_model_free(im->m[i]);
    free(im->m);
    anet_classes_free(&im->classes);
    memset(im, 0, sizeof *im);
}

int infer_read_mean(const char *dir, float **mean, int *c, int *h, int *w)
{
    size_t n = strlen(dir) + sizeof "/mean.binaryproto";
    char *path = malloc(n);
    if (!path) return cli_error("out of memory"), -1;
    snprintf(path, n, "%s/mean.binaryproto", dir);
    enum anet_status s = anet_mean_read(path, mean, c, h, w);
    free(path);
    return s ? cli_fail(s, 0, NULL), -1 : 0;
}

const char *infer_wnid(const struct infer_models *im, int i, char buf[16])
{
    if (im->classes.count) return im->classes.wnid[i];
    snprintf(buf, 16, "%d", i);
    return buf;
}

const char *infer_words(const struct infer_models *im, int i)
{
    return im->classes.count && im->classes.words[i] ? im->classes.words[i] : "";
}
