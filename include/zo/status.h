/* Status codes returned by every fallible zo call, and the thread-local message
 * that explains the last failure. Guide: docs/engine.md (misuse and failures). */
#ifndef ZO_STATUS_H
#define ZO_STATUS_H

#include "zo/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ZO_OK is zero; every error is negative, so `if (st < 0)` tests for failure. */
typedef enum zo_status {
    ZO_OK = 0,
    ZO_ERR_INVALID_ARGUMENT = -1, /* a NULL pointer, a bad size, an out-of-range value */
    ZO_ERR_OUT_OF_MEMORY = -2,    /* an allocation failed; nothing was changed        */
    ZO_ERR_NOT_SUPPORTED = -3,    /* asked for something this build or CPU cannot do  */
    ZO_ERR_CONFIG = -4,           /* a configuration is malformed or inconsistent     */
    ZO_ERR_IO = -5,               /* a file could not be read or written              */
    ZO_ERR_DEVICE = -6,           /* the device backend (CUDA, driver) failed         */
    ZO_ERR_NON_FINITE = -7,       /* a gradient or value was inf/NaN where it may not */
    ZO_ERR_INTERNAL = -8,         /* a broken invariant: please report it             */
    ZO_ERR_PEER = -9,             /* another data-parallel rank failed (its own error
                                     says why); this rank changed nothing            */
    ZO_ERR_TIMEOUT = -10          /* a collective did not complete in
                                     zo.collective_timeout_seconds: a rank is gone or
                                     stopped taking part; the ranks cannot agree again */
} zo_status;

/* The message of the last failure on the calling thread, never NULL ("" if none).
 * The string stays valid until the next failing zo call on the same thread. */
ZO_API const char *zo_last_error(void);

/* A short constant name for a status ("ZO_ERR_CONFIG"), "unknown status" otherwise. */
ZO_API const char *zo_status_name(zo_status status);

#ifdef __cplusplus
}
#endif

#endif
