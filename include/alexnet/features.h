/* Feature files: a matrix of float32 rows in NumPy's .npy format, and the keys of its rows.
 * One row an image, in input order: what a feature extractor writes and what
 * alexnet-neighbours reads; numpy.load reads the matrix as it is.
 *
 * .npy (NumPy's format, versions 1.0 to 3.0; alexnet-files(5)):
 *   "\x93NUMPY", major, minor, header length (u16 little-endian in 1.0, u32 in 2.0 and 3.0),
 *   the header: a Python dict literal {'descr': '<f4', 'fortran_order': False,
 *   'shape': (ROWS, COLS), } padded with spaces and ended by '\n', then ROWS x COLS
 *   little-endian float32 values, row by row.
 * The writer writes version 1.0 with a 128-byte preamble (the data 64-byte aligned, as
 * NumPy aligns it), whose shape is filled in when the file is finished, so the number of
 * rows need not be known in advance. The reader takes any version, keys in any order, a
 * 1-dimensional array as a column (ROWS x 1); it refuses another dtype, Fortran order, more
 * than 2 dimensions, a header longer than the file and a file whose size is not exactly the
 * header plus the data, naming the file and what is wrong.
 *
 * Keys: a text file, one line a row in row order; a line's first tab-separated field is the
 * row's key (an image path as given, or an LMDB record key), further fields are ignored;
 * lines starting with '#' are comments (the writer starts with "#key"). */
#ifndef ANET_FEATURES_H
#define ANET_FEATURES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

/* ---- reading a matrix ------------------------------------------------------------------- */
struct anet_npy {
    int fd;
    uint64_t rows, cols;
    uint64_t offset; /* the first float's byte offset */
    char *path;
};
/* Opens a .npy file: a regular file only (anet_file_open_fd: a FIFO cannot block the open,
 * a device is not read). */
enum anet_status anet_npy_open(const char *path, struct anet_npy *out);
/* What anet_npy_open reads from a file's first bytes: rows, cols and offset of the matrix in
 * a .npy file of `size` bytes whose first `len` bytes are head (which must hold the preamble
 * and the whole header); out->fd is -1 and out->path NULL. `path` names it in messages. */
enum anet_status anet_npy_header(const uint8_t *head, size_t len, uint64_t size,
                                 const char *path, struct anet_npy *out);
/* Rows [first, first + count) into dst (count x cols floats); ANET_ERR_INVALID outside the
 * matrix, ANET_ERR_IO when the file cannot be read (it shrank). */
enum anet_status anet_npy_read(const struct anet_npy *f, uint64_t first, uint64_t count,
                               float *dst);
void anet_npy_close(struct anet_npy *f);

/* ---- writing one --------------------------------------------------------------------------- */
struct anet_npy_writer;
/* An empty matrix of cols columns at path, atomically (anet_afile): it appears complete or
 * not at all. With overwrite == 0 an existing path is refused. */
enum anet_status anet_npy_create(const char *path, uint64_t cols, int overwrite,
                                 struct anet_npy_writer **out);
/* Appends count rows (count x cols floats). */
enum anet_status anet_npy_append(struct anet_npy_writer *w, const float *rows, uint64_t count);
/* Writes the final shape and renames the file into place; frees w, even on failure. */
enum anet_status anet_npy_finish(struct anet_npy_writer *w);
void anet_npy_abort(struct anet_npy_writer *w); /* frees w; NULL is fine */

/* ---- keys ------------------------------------------------------------------------------------- */
struct anet_keys {
    uint64_t count;
    char **key;
};
/* Reads a keys file (a regular file only, as anet_file_open opens it); an empty key (an
 * empty line), a NUL byte and a line longer than ANET_KEYS_MAX_LINE bytes are errors naming
 * the file and line. */
#define ANET_KEYS_MAX_LINE 65536
enum anet_status anet_keys_read(const char *path, struct anet_keys *out);
/* The same from a stream; `what` names it in messages. */
enum anet_status anet_keys_read_stream(FILE *f, const char *what, struct anet_keys *out);
void anet_keys_free(struct anet_keys *k);
/* "#key\n", the first line of a keys file. */
void anet_keys_put_header(FILE *f);
/* One key as a line; a key that is empty, holds a tab or a line break or starts with '#' is
 * ANET_ERR_INVALID (it would not read back). */
enum anet_status anet_keys_put(FILE *f, const char *key);

/* ---- exact nearest neighbours ------------------------------------------------------------
 * The k rows of an index nearest to each query by Euclidean distance, exactly: the index is
 * offered in blocks (read from a file a block at a time), the squared distances of a block
 * come from one matrix product, |q|^2 + |x|^2 - 2 q.x (OpenBLAS sgemm), and every row that
 * may enter a query's k best by that float estimate (within its rounding bound,
 * 2·d·2^-24·|q||x| for d dimensions) has its distance computed again in double from the
 * vectors; that one decides. Ties go to the lower row. Results do not depend on the block
 * sizes or the thread count. */
struct anet_knn;
/* nq queries of dim floats (kept by pointer: they must outlive the search), k >= 1. */
enum anet_status anet_knn_create(const float *queries, uint64_t nq, uint64_t dim, int k,
                                 struct anet_knn **out);
/* Index rows first .. first + count - 1 (count x dim floats); blocks in any order. */
enum anet_status anet_knn_add(struct anet_knn *s, const float *rows, uint64_t first,
                              uint64_t count);
/* Query q's neighbours, nearest first: returns how many (k, or fewer when fewer rows were
 * offered), their rows and their distances (not squared). */
int anet_knn_result(const struct anet_knn *s, uint64_t q, uint64_t *rows, double *dist);
void anet_knn_free(struct anet_knn *s);

#endif
