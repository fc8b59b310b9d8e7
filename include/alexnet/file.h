/* Files that appear complete or not at all, reading files of bounded size, and CRC32. */
#ifndef ANET_FILE_H
#define ANET_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

/* An output that appears complete or not at all. What happens depends on what path is:
 *   - nothing, or a regular file (replaced only when overwrite is set, else ANET_ERR_IO
 *     with EEXIST): the data goes to a new file "<path>.tmp.<pid>" (".<pid>.<n>" when that
 *     name is taken) created exclusively, never through a link, in the same directory;
 *     commit flushes, fsyncs, renames it over path and fsyncs the directory. Abort, a
 *     failure or a crash leave path as it was. Replacing puts a new file at path (other
 *     hard links keep the old contents).
 *   - "-": standard output. A FIFO or a character device, or a symbolic link to one (or
 *     to the file that is standard output, as /dev/stdout is): written directly, without a
 *     temporary and without needing overwrite; commit flushes. What was written cannot be
 *     taken back, so abort only stops.
 *   - a symbolic link to anything else, a directory, a block device or a socket: refused
 *     (ANET_ERR_IO): neither the link nor what it points to is replaced.
 * A failed write keeps its errno: a full disk is "cannot write 'path': No space left on
 * device", from whichever call saw it (write, fsync, close, rename). */
struct anet_afile;
enum anet_status anet_afile_open(const char *path, int overwrite, struct anet_afile **out);
FILE *anet_afile_stream(struct anet_afile *f);
enum anet_status anet_afile_commit(struct anet_afile *f); /* frees f, even on failure */
void anet_afile_abort(struct anet_afile *f);              /* frees f; NULL is fine */
/* Commits several outputs as one: every file is written out and synced first, so a full
 * disk fails them all with nothing replaced; only then are they renamed into place. Should
 * a rename still fail, the outputs already renamed that did not exist before are removed
 * again. Frees every f, even on failure. */
enum anet_status anet_afile_commit_all(struct anet_afile **f, int n);

/* The whole of a regular file into a malloc'ed buffer (*data, *len; *data is
 * NUL-terminated one byte past *len). Anything else (a FIFO, a device, a directory) is
 * refused without being read, so a FIFO cannot block and /dev/zero cannot fill memory;
 * so is a file of more than max bytes. `what` names the kind of file in the messages
 * ("an image"). */
enum anet_status anet_file_read(const char *path, size_t max, const char *what, uint8_t **data,
                                size_t *len);
/* A regular file opened for reading, refused as anet_file_read refuses (no FIFO can block
 * the open). */
enum anet_status anet_file_open(const char *path, const char *what, FILE **out);
/* The same as a file descriptor (blocking, close-on-exec) and the file's size, for readers
 * that pread a large file where they need it. */
enum anet_status anet_file_open_fd(const char *path, const char *what, int *fd, uint64_t *size);
/* The next line of f into buf (cap bytes), with its '\n' when it has one, NUL-terminated;
 * NUL bytes in the line are kept and counted in *len. Returns 1 for a line, 0 at the end
 * of the file, -1 for a line that does not fit in cap − 1 bytes (the rest of it stays
 * unread) and -2 for a read error (errno set). Bounds what a file without line breaks can
 * make a reader allocate. */
int anet_file_line(FILE *f, char *buf, size_t cap, size_t *len);

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's crc32(): start with
 * crc = 0 and feed the previous result to continue. crc32("123456789") = 0xCBF43926. */
uint32_t anet_crc32(uint32_t crc, const void *data, size_t len);

#endif
