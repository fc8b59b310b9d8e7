/* Checking an LMDB data file before LMDB maps it. Internal to the library. */
#ifndef ANET_LMDB_CHECK_H
#define ANET_LMDB_CHECK_H

#include <stdint.h>
#include "alexnet/status.h"

/* Reads the meta pages and every branch and leaf page of the main tree of `file` (data.mdb
 * of the database `db`, which names it in messages) with pread, and refuses
 * (ANET_ERR_FORMAT: "'db' is damaged: ...") anything that would make LMDB read outside the
 * file, dereference a wild pointer or fail one of its assertions while it walks the tree:
 * meta pages, the page size, the root, page types and depths, the key and pointer tables,
 * node sizes, child and overflow page numbers, pages reached twice, the record count.
 * Values are not read (an overflow value is only checked to end inside the file). On
 * success *entries is the number of records and *file_size the file's size. */
enum anet_status anet_lmdb_check(const char *db, const char *file, uint64_t *entries,
                                 uint64_t *file_size);

#endif
