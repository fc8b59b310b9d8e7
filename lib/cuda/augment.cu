#include "common.cuh"

/* The loader's transformation (lib/data/loader.c, anet_loader_transform) on the GPU, for
 * a batch: n crops of n / crops images, src (n / crops) × c × h × w uint8 (B, G, R planes),
 * mean c × h × w floats or NULL, draws[i] crop i's offset, mirror and colour noise (device
 * array), out n × c × crop × crop; crop i is cut from image i / crops:
 *   out[i][ch][y][x] = ((float)src[i / crops][ch][sy][sx] − mean[ch][sy][sx]) + add_ch
 * with sy = y0 + y, sx = x0 + (mirror ? crop − 1 − x : x), add_ch = 255·noise_rgb[2 − ch]
 * for ch < 3 and 0 otherwise; without a mean image the subtraction is left out. Every
 * operation is a separately rounded float one, as on the CPU, so the result is its bit for
 * bit. One thread per output element; threads of a warp write adjacent columns. */

#define AUGMENT_THREADS 256

/* Output t: x = t % crop, y = (t / crop) % crop, ch = (t / crop²) % c, image t / (c·crop²). */
__global__ static void augment_kernel(int n, int crops, int c, int h, int w, int crop,
                                      const uint8_t *src,
                                      const float *mean, const struct anet_crop_draw *draws,
                                      float *out)
{
    size_t total = (size_t)n * c * crop * crop;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(t % crop);
        size_t r = t / crop;
        int y = (int)(r % crop);
        r /= crop;
        int ch = (int)(r % c);
        size_t i = r / c;
        const struct anet_crop_draw *d = &draws[i];
        int sx = d->x0 + (d->mirror ? crop - 1 - x : x), sy = d->y0 + y;
        size_t at = ((size_t)ch * h + sy) * w + sx; /* within the image */
        float v = (float)src[(i / crops) * c * h * w + at];
        if (mean) v = __fsub_rn(v, mean[at]);
        float add = ch < 3 ? __fmul_rn(255.0f, d->noise_rgb[2 - ch]) : 0.0f;
        out[t] = __fadd_rn(v, add);
    }
}

void anet_cuda_augment(struct anet_cuda *cx, int n, int crops, int c, int h, int w, int crop,
                                  const uint8_t *src, const float *mean,
                                  const struct anet_crop_draw *draws, float *out)
{
    if (!anet_cuda_ok(cx)) return;
    if (n <= 0 || crops <= 0 || c <= 0 || crop <= 0) return;
    size_t total = (size_t)n * c * crop * crop;
    augment_kernel<<<anet_grid(total, AUGMENT_THREADS), AUGMENT_THREADS, 0, cx->cur->stream>>>(
        n, crops, c, h, w, crop, src, mean, draws, out);
    LAUNCHED(cx, "augment_kernel");
}
