/* The data path's last step on the CPU: crops of uint8 records to the network's float input
 * (alexnet/loader.h gives the formulas). The loader's workers call it for one image; a CPU
 * backend calls it for a batch that arrives as pixels (alexnet-predict's images); the GPU
 * twin is lib/cuda/augment.cu, bit for bit the same. */
#include "alexnet/ops.h"

/* One output row of `crop` floats from source row s (uint8) and mean row m (floats),
 * both already offset to the crop's first column: out[x] = (s[x] − m[x]) + add, or from
 * column crop−1−x when mirrored. Four variants so that no inner loop branches. */
static void row_plain(const uint8_t *restrict s, int crop, float add, float *restrict out)
{
    for (int x = 0; x < crop; x++) out[x] = (float)s[x] + add;
}
static void row_plain_mirror(const uint8_t *restrict s, int crop, float add, float *restrict out)
{
    const uint8_t *e = s + crop - 1;
    for (int x = 0; x < crop; x++) out[x] = (float)e[-x] + add;
}
static void row_mean(const uint8_t *restrict s, const float *restrict m, int crop, float add,
                     float *restrict out)
{
    for (int x = 0; x < crop; x++) out[x] = ((float)s[x] - m[x]) + add;
}
static void row_mean_mirror(const uint8_t *restrict s, const float *restrict m, int crop,
                            float add, float *restrict out)
{
    const uint8_t *se = s + crop - 1;
    const float *me = m + crop - 1;
    for (int x = 0; x < crop; x++) out[x] = ((float)se[-x] - me[-x]) + add;
}

/* src: c × h × w uint8 (B, G, R); out: c × crop × crop floats. Plane ch gets the noise of
 * colour 2 − ch (B = 2, G = 1, R = 0 in RGB order), times 255 for 0..255 pixels. */
void anet_cpu_augment_image(int c, int h, int w, int crop, const uint8_t *src,
                            const float *mean, const struct anet_crop_draw *d, float *out)
{
    for (int ch = 0; ch < c; ch++) {
        float add = ch < 3 ? 255.0f * d->noise_rgb[2 - ch] : 0.0f;
        size_t plane = (size_t)ch * h * w, at = plane + (size_t)d->y0 * w + (size_t)d->x0;
        float *o = out + (size_t)ch * crop * crop;
        for (int y = 0; y < crop; y++, at += (size_t)w, o += crop) {
            if (mean && d->mirror) row_mean_mirror(src + at, mean + at, crop, add, o);
            else if (mean) row_mean(src + at, mean + at, crop, add, o);
            else if (d->mirror) row_plain_mirror(src + at, crop, add, o);
            else row_plain(src + at, crop, add, o);
        }
    }
}

void anet_cpu_augment(int n, int crops, int c, int h, int w, int crop, const uint8_t *src,
                      const float *mean, const struct anet_crop_draw *draws, float *out)
{
    size_t in = (size_t)c * h * w, img = (size_t)c * crop * crop;
#pragma omp parallel for schedule(static) if (n > 1)
    for (int i = 0; i < n; i++)
        anet_cpu_augment_image(c, h, w, crop, src + (size_t)(i / crops) * in, mean, &draws[i],
                               out + (size_t)i * img);
}
