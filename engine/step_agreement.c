/* How the ranks agree on a micro-step: every rank makes the same collectives in the
 * same order whatever failed on it, and one all-reduce per micro-step tells every rank
 * whether any failed, so all return an error together (the failing rank its reason,
 * the others ZO_ERR_PEER) instead of some waiting forever for the others. */
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"
#include "error.h"

zo_status zo_engine_defer_failure(zo_engine *e, zo_status status)
{
    if (status != ZO_OK && e->deferred_failure == ZO_OK) {
        e->deferred_failure = status;
        snprintf(e->deferred_message, sizeof e->deferred_message, "%s", zo_last_error());
    }
    return status;
}

zo_status zo_engine_collective_done(zo_engine *e, zo_status status)
{
    if (status == ZO_ERR_TIMEOUT)
        e->comm_broken = true;
    return status;
}

zo_status zo_engine_agree_on_step(zo_engine *e, bool boundary, bool failed, zo_step_agreement *out)
{
    *out = (zo_step_agreement){0};
    double votes[5] = {0};
    for (size_t b = 0; boundary && b < e->layout.bucket_count;
         b++) { /* in bucket order: reproducible */
        votes[0] += e->bucket_stats[b].sum_squares;
        votes[1] += e->bucket_stats[b].all_finite ? 0.0 : 1.0;
    }
    /* the stats only at a boundary: one all-reduce either way */
    double *failure_votes = boundary ? votes + 2 : votes;
    failure_votes[0] = failed ? 1.0 : 0.0;
    failure_votes[1] = failed ? (double)e->rank : 0.0;
    failure_votes[2] = failed && e->update_incomplete ? 1.0 : 0.0;
    zo_status status = zo_engine_collective_done(
        e, zo_comm_allreduce_sum_f64(&e->comm, votes, boundary ? 5 : 3));
    if (status != ZO_OK)
        return status;
    if (boundary)
        out->sum_squares = votes[0], out->nonfinite_pieces = votes[1];
    out->failed_ranks = failure_votes[0];
    out->failed_rank_sum = failure_votes[1];
    out->incomplete_ranks = failure_votes[2];
    return ZO_OK;
}

/* What the step's failure leaves behind: usable, or state the ranks no longer share. */
static const char *zo_aftermath(const zo_step_agreement *a)
{
    return a->incomplete_ranks > 0
               ? "this micro-step's gradients were dropped on every rank; a failed rank's last "
                 "update did not "
                 "complete, so its piece of the master weights may be partly updated: load the "
                 "last checkpoint"
               : "this micro-step's gradients were dropped on every rank; the engine is usable";
}

zo_status zo_engine_step_failure(const zo_engine *e, uint64_t micro_step, zo_status local,
                                 const char *local_message, zo_status agreed,
                                 const zo_step_agreement *a)
{
    unsigned long long m = (unsigned long long)micro_step;
    if (agreed != ZO_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", zo_last_error());
        if (local != ZO_OK)
            return zo_fail(
                local,
                "%s (and the ranks could not agree on micro-step %llu: %s; this engine is "
                "unusable: destroy it and restart from the last checkpoint)",
                local_message, m, why);
        return zo_fail(
            agreed,
            "zo_engine_step: the ranks' agreement on micro-step %llu (the all-reduce of the "
            "gradient stats and failures) failed: %s; this engine is unusable: destroy it and "
            "restart from the last checkpoint",
            m, why);
    }
    if (local != ZO_OK)
        return zo_fail(local, "%s (%s)", local_message, zo_aftermath(a));
    if (a->failed_ranks == 1.0)
        return zo_fail(
            ZO_ERR_PEER,
            "zo_engine_step: rank %.0f of %zu failed in micro-step %llu (its own error says "
            "why); %s",
            a->failed_rank_sum, e->ranks, m, zo_aftermath(a));
    return zo_fail(
        ZO_ERR_PEER,
        "zo_engine_step: %.0f of %zu ranks failed in micro-step %llu (their own errors say "
        "why); %s",
        a->failed_ranks, e->ranks, m, zo_aftermath(a));
}
