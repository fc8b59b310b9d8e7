/* Status codes, error details and logging for libalexnet.
 *
 * Every fallible library function returns an enum anet_status. The code says what kind
 * of failure it was; anet_error_detail() gives the per-thread message that explains it
 * ("conv1: crop 40 is too small: conv1 output would be 8x8, pool1 1x1, ..."). The
 * library never exits and never prints except through the logging callback. */
#ifndef ANET_STATUS_H
#define ANET_STATUS_H

#include <stdarg.h>

enum anet_status {
    ANET_OK = 0,
    ANET_ERR_INVALID,     /* an argument or configuration value out of range */
    ANET_ERR_NOMEM,       /* an allocation failed */
    ANET_ERR_IO,          /* a read, write, open, rename or fsync failed (errno in detail) */
    ANET_ERR_FORMAT,      /* a file is truncated, foreign or corrupt */
    ANET_ERR_UNSUPPORTED, /* a feature this build or machine lacks ("built without CUDA") */
    ANET_ERR_DEVICE,      /* a CUDA/cuDNN/cuBLAS call failed */
    ANET_ERR_INTERNAL,    /* a bug: an invariant of the library itself broke */
    ANET_ERR_DIVERGED     /* training diverged: a loss or a weight is not finite */
};

/* Short fixed text for a code: "invalid argument", "out of memory", ... */
const char *anet_strerror(enum anet_status s);

/* Sets this thread's detail message (printf-style) and returns s, so that a failing
 * function can `return anet_fail(ANET_ERR_INVALID, "classes must be >= 1, got %d", c);`.
 * The arguments may include anet_error_detail() itself, to add context to the detail of a
 * failure below: `anet_fail(s, "'%s': %s", path, anet_error_detail())`. */
enum anet_status anet_fail(enum anet_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* This thread's last detail message; "" when none was set. Valid until the next call to
 * anet_fail() on this thread. */
const char *anet_error_detail(void);
void anet_error_clear(void);

/* Logging. Levels as in syslog, fewer. The default callback writes nothing; tools install
 * one that writes "alexnet-train: message" to stderr. */
enum anet_log_level { ANET_LOG_ERROR = 0, ANET_LOG_WARN, ANET_LOG_INFO, ANET_LOG_DEBUG };
typedef void (*anet_log_fn)(enum anet_log_level level, const char *msg, void *user);
void anet_log_set(anet_log_fn fn, void *user, enum anet_log_level max_level);
void anet_log(enum anet_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Library version, "MAJOR.MINOR.PATCH". */
const char *anet_version(void);

#endif
