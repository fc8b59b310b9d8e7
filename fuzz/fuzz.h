/* What the fuzz targets share. Each target is one parser of bytes the project is handed
 * (a file, a database record), fed by libFuzzer; a crash, a sanitizer report, a leak, a
 * hang or an allocation beyond the limit is a finding. Run them with `make fuzz`
 * (FUZZ_TIME seconds each, FUZZ_TARGETS to choose); `make check` runs each on its seed
 * corpus and briefly beyond it. */
#ifndef ANET_FUZZ_H
#define ANET_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "alexnet/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes as a stream (fmemopen refuses size 0, so an empty input reads as empty). */
static inline FILE *fuzz_stream(const uint8_t *data, size_t size)
{
    static char empty;
    return size ? fmemopen((void *)data, size, "rb") : fmemopen(&empty, 1, "r");
}

/* The bytes as a regular file with a path ("/proc/self/fd/N"), for readers that open
 * paths; -1 when it cannot be made. Close *fd when done. */
static inline int fuzz_file(const uint8_t *data, size_t size, char path[64], int *fd)
{
    *fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (*fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(*fd, data + done, size - done);
        if (n <= 0) return close(*fd), -1;
        done += (size_t)n;
    }
    snprintf(path, 64, "/proc/self/fd/%d", *fd);
    return 0;
}

#endif
