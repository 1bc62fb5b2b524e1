/* What zo_engine_create checks before the engine exists: parameter names a checkpoint
 * can hold, and the ranks' agreement on everything that must be the same on all of
 * them (create_checks.h). */
#include "create_checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fnv1a.h"

/* The length of the UTF-8 sequence starting at s (RFC 3629, the rule jansson's
 * json_string applies: no overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t zo_utf8_sequence(const unsigned char *s)
{
    unsigned c = s[0];
    size_t length = c < 0x80             ? 1
                    : (c & 0xE0) == 0xC0 ? 2
                    : (c & 0xF0) == 0xE0 ? 3
                    : (c & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (length == 0 || (length == 2 && c < 0xC2) || c > 0xF4)
        return 0;
    unsigned code = length == 1 ? c : c & (0x7Fu >> length);
    for (size_t i = 1; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        code = code << 6 | (s[i] & 0x3Fu);
    }
    bool overlong = (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
    if (overlong || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF)
        return 0;
    return length;
}

/* The first byte of `name` that is not valid UTF-8, or -1 when all is. */
static long zo_utf8_first_invalid(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; s[i];) {
        size_t length = zo_utf8_sequence(s + i);
        if (length == 0)
            return (long)i;
        i += length;
    }
    return -1;
}

void zo_escape_name(const char *name, char *out, size_t size)
{
    size_t used = 0;
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; s[i] && used + 8 < size; i++) {
        if (i == ZO_ESCAPED_NAME_SHOWN) {
            used += (size_t)snprintf(out + used, size - used, "...");
            break;
        }
        if (s[i] == '"' || s[i] == '\\')
            used += (size_t)snprintf(out + used, size - used, "\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] >= 0x7F)
            used += (size_t)snprintf(out + used, size - used, "\\x%02x", s[i]);
        else
            out[used++] = (char)s[i];
    }
    out[used < size ? used : size - 1] = '\0';
}

static int zo_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first name given twice, found by sorting copies of the pointers. */
static zo_status zo_check_duplicate_names(const zo_param_desc *params, size_t count)
{
    const char **sorted = malloc((count + 1) * sizeof *sorted);
    if (!sorted)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory for %zu names",
                       count);
    for (size_t i = 0; i < count; i++)
        sorted[i] = params[i].name;
    qsort(sorted, count, sizeof *sorted, zo_compare_names);
    const char *twice = NULL;
    for (size_t i = 1; i < count && !twice; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            twice = sorted[i];
    free(sorted);
    if (!twice)
        return ZO_OK;
    size_t first = 0, second = 0;
    while (strcmp(params[first].name, twice) != 0)
        first++;
    for (second = first + 1; strcmp(params[second].name, twice) != 0; second++)
        ;
    char shown[ZO_ESCAPED_NAME_BYTES];
    zo_escape_name(twice, shown, sizeof shown);
    return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                   "zo_engine_create: parameters %zu and %zu are both named \"%s\": a checkpoint "
                   "and its export tell parameters apart by name",
                   first, second, shown);
}

zo_status zo_check_param_names(const zo_param_desc *params, size_t count)
{
    for (size_t i = 0; params && i < count; i++) {
        const char *name = params[i].name, *why = NULL;
        if (!name)
            continue; /* zo_partition_build names it */
        size_t bytes = strlen(name);
        long invalid = zo_utf8_first_invalid(name);
        char shown[ZO_ESCAPED_NAME_BYTES], detail[64] = "";
        if (bytes == 0)
            why = "is empty";
        else if (bytes > ZO_MAX_PARAM_NAME_BYTES) {
            snprintf(detail, sizeof detail, "is %zu bytes long, more than the %d", bytes,
                     ZO_MAX_PARAM_NAME_BYTES);
            why = detail;
        } else if (invalid >= 0) {
            snprintf(detail, sizeof detail, "is not valid UTF-8 (at byte %ld)", invalid);
            why = detail;
        } else if (strncmp(name, "__", 2) == 0)
            why = "starts with \"__\", which safetensors reserves (export writes names there)";
        if (why) {
            zo_escape_name(name, shown, sizeof shown);
            return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                           "zo_engine_create: parameter %zu's name \"%s\" %s: a checkpoint's "
                           "manifest could not hold it",
                           i, shown, why);
        }
    }
    return params && count ? zo_check_duplicate_names(params, count) : ZO_OK;
}

/* Folds a 64-bit digest to `bits` bits. */
static double zo_fold(uint64_t h, unsigned bits)
{
    return (double)((h ^ (h >> 21) ^ (h >> 42)) & ((1ull << bits) - 1));
}

static uint64_t zo_hash_u64(uint64_t h, uint64_t value)
{
    return zo_fnv1a(h, &value, sizeof value);
}
static uint64_t zo_hash_f64(uint64_t h, double value) { return zo_fnv1a(h, &value, sizeof value); }

/* The settings every rank's update must share: the same hyper-parameters, schedule,
 * clipping and loss scaling on every shard, or the ranks train different models. Not
 * what each rank may choose for itself (threads, binding, trace, pinned memory cap,
 * device backend, communicator). */
static uint64_t zo_settings_digest(const zo_engine *e)
{
    const zo_settings *s = &e->settings;
    const zo_adam_hparams *a = &s->adam;
    const zo_scheduler_settings *k = &s->scheduler;
    uint64_t h = ZO_FNV1A_OFFSET_BASIS;
    double reals[] = {s->gradient_clipping,
                      s->loss_scale,
                      s->min_loss_scale,
                      a->lr,
                      a->beta1,
                      a->beta2,
                      a->eps,
                      a->weight_decay,
                      k->warmup_min_lr,
                      k->warmup_max_lr,
                      k->warmup_min_ratio,
                      k->cos_min_ratio};
    uint64_t integers[] = {s->fp16_enabled,
                           (uint64_t)s->initial_scale_power,
                           s->loss_scale_window,
                           (uint64_t)s->hysteresis,
                           s->consecutive_hysteresis,
                           s->bf16_enabled,
                           a->adamw,
                           a->bias_correction,
                           (uint64_t)k->kind,
                           k->warmup_num_steps,
                           (uint64_t)k->warmup_type,
                           k->total_num_steps,
                           s->offload_optimizer};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
        h = zo_hash_f64(h, reals[i]);
    for (size_t i = 0; i < sizeof integers / sizeof integers[0]; i++)
        h = zo_hash_u64(h, integers[i]);
    return h;
}

/* The layout and the state's shape: what the collectives and the shards depend on. */
static uint64_t zo_layout_digest(const zo_engine *e)
{
    uint64_t fields[] = {e->layout.param_count,
                         e->layout.bucket_elems,
                         e->layout.padded_elems,
                         (uint64_t)e->dtype,
                         (uint64_t)e->settings.stage,
                         e->accumulation_steps,
                         (uint64_t)e->settings.moments_dtype,
                         e->settings.delayed_param_update};
    uint64_t h = zo_fnv1a(ZO_FNV1A_OFFSET_BASIS, fields, sizeof fields);
    for (size_t i = 0; i < e->layout.param_count; i++)
        h = zo_hash_u64(h, e->layout.param_elems[i]);
    return h;
}

/* The names in order: a checkpoint written by one rank's manifest must match every
 * rank's engine. */
static uint64_t zo_names_digest(const zo_engine *e)
{
    uint64_t h = zo_hash_u64(ZO_FNV1A_OFFSET_BASIS, e->layout.param_count);
    for (size_t i = 0; i < e->layout.param_count; i++)
        h = zo_fnv1a(h, e->layout.param_names[i], strlen(e->layout.param_names[i]) + 1);
    return h;
}

static const char *const zo_agreement_groups[ZO_AGREEMENT_GROUPS] = {
    "parameter names (count, names, order)",
    "parameter sizes and layout (bucket size, precision, stage, accumulation, moments dtype, "
    "delayed_param_update)",
    "optimizer, scheduler, clipping and loss-scale settings (optimizer type and params, "
    "scheduler, gradient_clipping, fp16.*, bf16, offload_optimizer)"};

/* Sums of a digest and its square over R ranks are exact in a double while R * 2^(2 *
 * bits) <= 2^53: 20 bits up to 8192 ranks, 16 bits up to 2^21. */
static unsigned zo_digest_bits(size_t ranks) { return ranks <= 8192 ? 20 : 16; }

zo_status zo_engine_agree(zo_engine *e, zo_status local)
{
    unsigned bits = zo_digest_bits(e->ranks);
    double digests[ZO_AGREEMENT_GROUPS] = {0};
    if (local == ZO_OK) {
        digests[0] = zo_fold(zo_names_digest(e), bits);
        digests[1] = zo_fold(zo_layout_digest(e), bits);
        digests[2] = zo_fold(zo_settings_digest(e), bits);
    }
    /* votes: failures, then per group the digest and its square. All ranks equal
     * exactly when sum(d) = R*d and sum(d^2) = R*d^2 for one's own d: then
     * sum((d_i - d)^2) = sum(d_i^2) - 2d sum(d_i) + R d^2 = 0. */
    double votes[1 + 2 * ZO_AGREEMENT_GROUPS] = {local != ZO_OK};
    for (size_t g = 0; g < ZO_AGREEMENT_GROUPS; g++)
        votes[1 + 2 * g] = digests[g], votes[2 + 2 * g] = digests[g] * digests[g];
    char kept[1024];
    snprintf(kept, sizeof kept, "%s", zo_last_error());
    zo_status status =
        zo_comm_allreduce_sum_f64(&e->comm, votes, 1 + 2 * ZO_AGREEMENT_GROUPS);
    if (local != ZO_OK)
        return zo_fail(local, "%s", kept);
    if (status != ZO_OK)
        return status;
    double ranks = (double)e->ranks;
    if (votes[0] > 0)
        return zo_fail(ZO_ERR_PEER,
                       "zo_engine_create: %.0f of %zu ranks failed to create their engine "
                       "(each says why); rank %zu made none either",
                       votes[0], e->ranks, e->rank);
    for (size_t g = 0; g < ZO_AGREEMENT_GROUPS; g++)
        if (votes[1 + 2 * g] != ranks * digests[g] ||
            votes[2 + 2 * g] != ranks * digests[g] * digests[g])
            return zo_fail(ZO_ERR_CONFIG,
                           "zo_engine_create: the %zu ranks differ in their %s: every rank must "
                           "register the same model with the same config",
                           e->ranks, zo_agreement_groups[g]);
    return ZO_OK;
}
