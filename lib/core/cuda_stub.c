/* The GPU interface where it does not depend on CUDA (precision names), and the whole of
 * it for a build without CUDA: every entry answers "built without CUDA". */
#include <string.h>
#include "alexnet/cuda.h"

const char *anet_precision_name(enum anet_precision p)
{
    return p == ANET_TF32 ? "tf32" : p == ANET_BF16 ? "bf16" : "fp32";
}

enum anet_status anet_precision_parse(const char *text, enum anet_precision *p)
{
    if (!strcmp(text, "fp32")) *p = ANET_FP32;
    else if (!strcmp(text, "tf32")) *p = ANET_TF32;
    else if (!strcmp(text, "bf16")) *p = ANET_BF16;
    else
        return anet_fail(ANET_ERR_INVALID, "precision: expected fp32, tf32 or bf16, got '%s'",
                         text);
    return ANET_OK;
}

#ifndef ANET_CUDA
static enum anet_precision precision;

int anet_cuda_built(void) { return 0; }
int anet_cuda_device_count(void) { return 0; }
enum anet_status anet_cuda_init(int device)
{
    (void)device;
    return anet_fail(ANET_ERR_UNSUPPORTED, "built without CUDA");
}
const char *anet_cuda_device_name(void) { return ""; }
void anet_cuda_shutdown(void) {}
void anet_cuda_trim(void) {}
void anet_cuda_set_precision(enum anet_precision p) { precision = p; }
enum anet_precision anet_cuda_precision(void) { return precision; }
void *anet_cuda_malloc(size_t bytes) { (void)bytes; return NULL; }
void *anet_cuda_calloc(size_t bytes) { (void)bytes; return NULL; }
void anet_cuda_free(void *p) { (void)p; }
void *anet_cuda_host_alloc(size_t bytes) { (void)bytes; return NULL; }
void anet_cuda_host_free(void *p) { (void)p; }
size_t anet_cuda_bytes_in_use(void) { return 0; }
size_t anet_cuda_bytes_pooled(void) { return 0; }
size_t anet_cuda_peak_bytes(void) { return 0; }
static enum anet_status without(void) { return anet_fail(ANET_ERR_UNSUPPORTED, "built without CUDA"); }
enum anet_status anet_cuda_upload(void *dst, const void *src, size_t bytes)
{
    (void)dst, (void)src, (void)bytes;
    return without();
}
enum anet_status anet_cuda_download(void *dst, const void *src, size_t bytes)
{
    (void)dst, (void)src, (void)bytes;
    return without();
}
enum anet_status anet_cuda_memset0(void *dst, size_t bytes)
{
    (void)dst, (void)bytes;
    return without();
}
enum anet_status anet_cuda_sync(void) { return ANET_OK; }
enum anet_status anet_cuda_error(void) { return ANET_OK; }
void anet_cuda_clear_error(void) {}
#endif
