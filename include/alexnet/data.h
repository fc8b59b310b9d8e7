/* Datasets: Caffe Datum records, LMDB databases, and the class table.
 *
 * A database is an LMDB directory whose values are Caffe Datum protobuf records, so that
 * databases made by Caffe's convert_imageset and by alexnet-prep are interchangeable.
 * Keys are "%08d_<relative path>" in the order written. The class table lives in a
 * sidecar file classes.tsv inside the directory (Caffe ignores it). */
#ifndef ANET_DATA_H
#define ANET_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

/* ---- Datum (caffe.proto): channels=1, height=2, width=3 (int32 varints), data=4 (bytes),
 * label=5 (int32), float_data=6 (repeated float), encoded=7 (bool) --------------------- */
struct anet_datum {
    int channels, height, width; /* of the decoded image; 0 when encoded and unknown */
    const uint8_t *data;         /* CHW planes in BGR order, or a JPEG/PNG file if encoded */
    size_t data_len;
    int32_t label;
    int encoded;
};
/* Bytes anet_datum_encode will write. */
size_t anet_datum_size(const struct anet_datum *d);
/* Writes the record into buf (anet_datum_size(d) bytes); returns the bytes written. The
 * bytes are those Caffe writes: fields 1-5 then encoded=false for a raw image; data, label
 * and encoded=true for an encoded one (with fields 1-3 first when the shape is known). */
size_t anet_datum_encode(const struct anet_datum *d, uint8_t *buf);
/* Parses a record; d->data points into buf. Unknown fields are skipped as protobuf says;
 * float_data (Caffe's float datasets) is ANET_ERR_UNSUPPORTED; a truncated or malformed
 * record (groups, a known field with the wrong wire type), or raw data whose length is not
 * channels × height × width or is zero, ANET_ERR_FORMAT. A cut at a field boundary cannot
 * be told from a shorter record: protobuf has no length or end marker. */
enum anet_status anet_datum_decode(const void *buf, size_t len, struct anet_datum *d);

/* ---- writing a database ------------------------------------------------------------------
 * Built in a new directory "<path>.tmp.<pid>" (a counter is added when that name is taken:
 * nothing already there is touched) and renamed over path by anet_db_finish, so the
 * database appears complete or not at all; until then it holds a marker that makes readers
 * refuse it, so a temp left by a crash is never read as a database. On failure or abort
 * only the files the writer made are removed. Puts are committed in batches; the map grows
 * as needed (never MDB_MAP_FULL). An existing path is refused unless overwrite is set, and
 * even then only a directory of plain files with an LMDB data.mdb is replaced. A full disk
 * is ANET_ERR_IO with "No space left on device". One thread uses a writer. */
struct anet_db_writer;
enum anet_status anet_db_create(const char *path, int overwrite, struct anet_db_writer **out);
/* A duplicate key is ANET_ERR_INVALID and leaves the writer usable; so does a key LMDB
 * cannot hold (empty, or longer than 511 bytes). Other failures leave only abort. */
enum anet_status anet_db_put(struct anet_db_writer *w, const char *key, const void *val,
                             size_t len);
/* A sidecar file inside the database directory (e.g. "classes.tsv"). */
enum anet_status anet_db_add_file(struct anet_db_writer *w, const char *name,
                                  const void *data, size_t len);
enum anet_status anet_db_finish(struct anet_db_writer *w); /* frees w; on failure, no temp */
void anet_db_abort(struct anet_db_writer *w);              /* frees w; removes the temp */

/* ---- reading a database ---------------------------------------------------------------
 * Opened read-only without LMDB's lock table, so read-only media work: the database must
 * not be written while it is read (ours never are once finished). Threads may share one
 * anet_db, each with cursors of its own; a cursor is a read transaction. */
struct anet_db;
enum anet_status anet_db_open(const char *path, struct anet_db **out);
void anet_db_close(struct anet_db *db);
size_t anet_db_count(const struct anet_db *db);
const char *anet_db_path(const struct anet_db *db);
/* Records in key order. *key is a NUL-terminated copy; *val points into the map. The
 * pointers stay valid until the next call or the close. Returns ANET_OK with *key == NULL
 * at the end. */
struct anet_db_cursor;
enum anet_status anet_db_cursor_open(struct anet_db *db, struct anet_db_cursor **out);
enum anet_status anet_db_cursor_next(struct anet_db_cursor *c, const char **key,
                                     size_t *key_len, const void **val, size_t *val_len);
void anet_db_cursor_close(struct anet_db_cursor *c);

/* Every record of the database in key order, for random access: pointers into the map
 * that stay valid until anet_db_close (a read transaction is held open for them). Keys are
 * not NUL-terminated. Built on the first call (one pass over the keys; values are not
 * read), then returned again. Threads may read the records concurrently. */
struct anet_db_record {
    const char *key;
    size_t key_len;
    const void *val;
    size_t val_len;
};
enum anet_status anet_db_records(struct anet_db *db, const struct anet_db_record **recs,
                                 size_t *count);

/* ---- lists of images --------------------------------------------------------------------
 * Caffe's list ("relative/path label" a line, split at the last space, so paths may hold
 * spaces) and Kaggle's LOC_val_solution.csv ("ImageId,PredictionString", the class being
 * the first word of PredictionString; the path is "<ImageId>.JPEG"). Blank lines and
 * Kaggle's header are skipped; a trailing \r is dropped. A line that does not parse, or
 * whose path is absolute or climbs out of the root with "..", becomes an item with a reason
 * (`bad`, "FILE:LINE: ...") so that the image is reported and skipped, not the whole list
 * refused; a line longer than ANET_LIST_MAX_LINE bytes is ANET_ERR_FORMAT. */
#define ANET_LIST_MAX_LINE 65536
struct anet_list_item {
    char *path;    /* relative to the images' root */
    int32_t label; /* Caffe: the label; Kaggle: -1 */
    char *wnid;    /* Kaggle: the class; Caffe: NULL */
    char *bad;     /* why the line is skipped, or NULL */
};
struct anet_list {
    struct anet_list_item *items;
    size_t count;
    int32_t max_label; /* Caffe: the largest label of a good line; -1 when none */
};
enum anet_status anet_list_read_caffe(FILE *f, const char *what, struct anet_list *out);
enum anet_status anet_list_read_kaggle(FILE *f, const char *what, struct anet_list *out);
void anet_list_free(struct anet_list *l);

/* ---- class table ------------------------------------------------------------------------ */
struct anet_classes {
    int count;
    char **wnid;  /* "n01440764" */
    char **words; /* "tench, Tinca tinca"; "" when unknown */
    /* Private to anet_classes_find: the indices in strcmp order of wnid, made by the
     * functions below. A table built by hand leaves it NULL (zero-initialise it), and
     * find then searches linearly. */
    int *by_name;
};
/* Reads "WNID [words...]" a line (synset_words.txt, LOC_synset_mapping.txt) or our own
 * classes.tsv ("#" header, then "index<TAB>wnid<TAB>words"). Blank lines are skipped;
 * duplicates and malformed lines are errors naming the file and line. On failure *out is
 * left empty (anet_classes_free is harmless on it). */
enum anet_status anet_classes_read(const char *path, struct anet_classes *out);
/* The same from an open stream (a class table held inside another file); `what` names it
 * in messages ("model.anet:CLAS"). */
enum anet_status anet_classes_read_stream(FILE *f, const char *what, struct anet_classes *out);
/* Sorted, de-duplicated WNIDs without words (the default class order). */
enum anet_status anet_classes_from_names(char **names, int count, struct anet_classes *out);
/* Writes the classes.tsv form; a name with a tab or line break is ANET_ERR_INVALID. */
enum anet_status anet_classes_write(FILE *f, const struct anet_classes *c);
/* Index of wnid, or -1. O(log count). */
int anet_classes_find(const struct anet_classes *c, const char *wnid);
void anet_classes_free(struct anet_classes *c);

#endif
