/* Reader for the reference fixtures in tests/ref/ (*.fix, written by
 * tests/ref/make_fixture.py): named float32 tensors.
 *
 * Format (little-endian): 8 bytes magic "ANETFIX1"; u32 record count; then per record:
 * u32 name length, the name bytes (no NUL), u32 ndim (1..4), ndim × u32 dims,
 * prod(dims) float32 values in C order.
 *
 *   struct fixture *f = fixture_load(fixture_path("paper_small.fix"));
 *   size_t n;
 *   const float *w = fixture_get(f, "conv1.weight", &n);
 *   int classes = (int)fixture_scalar(f, "config.classes", 10);
 *   fixture_free(f);
 */
#ifndef ANET_TEST_FIXTURE_H
#define ANET_TEST_FIXTURE_H

#include <stddef.h>

struct fixture;

/* Reads and checks the whole file. NULL on error, after a message on stderr that names
 * the file and what is wrong (cannot open, bad magic, truncated, malformed record). */
struct fixture *fixture_load(const char *path);

/* The values of record `name`, or NULL when there is none; *count (when count is not NULL)
 * receives the number of floats, 0 when absent. Valid until fixture_free(). */
const float *fixture_get(const struct fixture *f, const char *name, size_t *count);

/* The shape of record `name`: returns ndim (1..4) and fills dims[0..ndim-1], or 0 when
 * absent. dims may be NULL. */
int fixture_shape(const struct fixture *f, const char *name, size_t dims[4]);

/* The value of a one-element record (the config.* scalars, loss, ...), or fallback when
 * the record is absent or holds more than one value. */
float fixture_scalar(const struct fixture *f, const char *name, float fallback);

/* Number of records and the name of record i (0-based; NULL when out of range). */
size_t fixture_count(const struct fixture *f);
const char *fixture_name(const struct fixture *f, size_t i);

void fixture_free(struct fixture *f);

/* "$ANET_SRCDIR/tests/ref/<file>" when ANET_SRCDIR is set and not empty, else
 * "tests/ref/<file>". Returns a static buffer, overwritten by the next call. */
const char *fixture_path(const char *file);

#endif
