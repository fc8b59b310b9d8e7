/* Files that appear complete or not at all, and CRC32. */
#ifndef ANET_FILE_H
#define ANET_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

/* An atomic output: data goes to "<path>.tmp.<pid>" in the same directory; commit flushes,
 * fsyncs, renames it over path and fsyncs the directory; abort (or a crash) leaves path as
 * it was. With overwrite == 0 an existing path is refused (ANET_ERR_IO, EEXIST). */
struct anet_afile;
enum anet_status anet_afile_open(const char *path, int overwrite, struct anet_afile **out);
FILE *anet_afile_stream(struct anet_afile *f);
enum anet_status anet_afile_commit(struct anet_afile *f); /* frees f, even on failure */
void anet_afile_abort(struct anet_afile *f);              /* frees f; NULL is fine */

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's crc32(): start with
 * crc = 0 and feed the previous result to continue. crc32("123456789") = 0xCBF43926. */
uint32_t anet_crc32(uint32_t crc, const void *data, size_t len);

#endif
