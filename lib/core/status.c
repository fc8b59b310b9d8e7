/* Status codes, per-thread detail messages, logging. */
#include <stdio.h>
#include <string.h>
#include "alexnet/status.h"

#ifndef ANET_VERSION
#define ANET_VERSION "0.0.0"
#endif

static _Thread_local char detail[1024];

const char *anet_strerror(enum anet_status s)
{
    switch (s) {
    case ANET_OK: return "success";
    case ANET_ERR_INVALID: return "invalid argument";
    case ANET_ERR_NOMEM: return "out of memory";
    case ANET_ERR_IO: return "input/output error";
    case ANET_ERR_FORMAT: return "bad file format";
    case ANET_ERR_UNSUPPORTED: return "not supported";
    case ANET_ERR_DEVICE: return "device error";
    case ANET_ERR_INTERNAL: return "internal error";
    case ANET_ERR_DIVERGED: return "training diverged";
    }
    return "unknown status";
}

/* Formatted aside first: an argument may be anet_error_detail() itself ("record 'k': %s"
 * with the detail of the failure below), which vsnprintf must not write over while it
 * reads it. */
enum anet_status anet_fail(enum anet_status s, const char *fmt, ...)
{
    char text[sizeof detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    memcpy(detail, text, sizeof detail);
    return s;
}

const char *anet_error_detail(void) { return detail; }
void anet_error_clear(void) { detail[0] = 0; }

/* The logging sink is set once by a tool before it starts threads. The one piece of mutable
 * process-wide state in the library, on purpose: a process has one standard error, the
 * sink is written once and only read after, and the engine's state (devices, models, runs)
 * lives in objects the caller holds. */
static anet_log_fn log_fn;
static void *log_user;
static enum anet_log_level log_max = ANET_LOG_INFO;

void anet_log_set(anet_log_fn fn, void *user, enum anet_log_level max_level)
{
    log_fn = fn;
    log_user = user;
    log_max = max_level;
}

void anet_log(enum anet_log_level level, const char *fmt, ...)
{
    if (!log_fn || level > log_max) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(level, msg, log_user);
}

const char *anet_version(void) { return ANET_VERSION; }
