/* What zo_engine_create checks before an engine exists: that every parameter name can
 * be saved in a checkpoint and loaded back, and that all ranks registered the same
 * model with the same config. Internal. */
#ifndef ZO_CREATE_CHECKS_H
#define ZO_CREATE_CHECKS_H

#include <stddef.h>

#include "engine_internal.h"

/* A name longer than this is refused at create: export writes "checksum.<name>" keys
 * into buffers of a few KiB, and no framework's names come near it. */
enum { ZO_MAX_PARAM_NAME_BYTES = 1024 };
/* How much of a name an error shows, escaped (\xNN for control and non-ASCII bytes). */
enum { ZO_ESCAPED_NAME_SHOWN = 80, ZO_ESCAPED_NAME_BYTES = 4 * 80 + 8 };

/* ZO_OK when every name is valid UTF-8 (as JSON needs), non-empty, at most
 * ZO_MAX_PARAM_NAME_BYTES bytes, not starting with "__" (reserved by safetensors, where
 * export writes the names) and given once; else ZO_ERR_INVALID_ARGUMENT naming the
 * parameter's index and showing its name escaped. NULL names are left to
 * zo_partition_build. */
zo_status zo_check_param_names(const zo_param_desc *params, size_t count);

/* `name` for a message: quotes and backslashes escaped, control and non-ASCII bytes as
 * \xNN, cut after ZO_ESCAPED_NAME_SHOWN bytes with "...". */
void zo_escape_name(const char *name, char *out, size_t size);

/* The groups of what must agree, each with its own digest so a refusal names which. */
enum { ZO_AGREEMENT_GROUPS = 3 };

/* Collective: every rank learns whether any failed (`local`), and whether all agree on
 * the parameter names, the layout, and the settings the update depends on (optimizer,
 * scheduler, clipping, loss scaling, precision...), so that either all ranks have an
 * engine or none has. Returns `local` with its message on a rank that failed,
 * ZO_ERR_PEER on the others, ZO_ERR_CONFIG naming the group that differs. */
zo_status zo_engine_agree(zo_engine *engine, zo_status local);

#endif
