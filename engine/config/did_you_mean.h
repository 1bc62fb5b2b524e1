/* The nearest of a set of known names to a misspelt one, for "did you mean" hints in
 * config errors. Internal. */
#ifndef ZO_DID_YOU_MEAN_H
#define ZO_DID_YOU_MEAN_H

#include <stddef.h>

/* A search in progress: feed it every candidate, then read the best. */
typedef struct zo_nearest_name {
    const char *word; /* the misspelt name */
    const char *best; /* the closest candidate so far, NULL if none is close enough */
    size_t best_distance;
} zo_nearest_name;

void zo_nearest_name_init(zo_nearest_name *search, const char *word);

/* Considers `candidate`. It counts as close when it is at most 2 edits from the word
 * (insert, delete or replace a letter, or swap two neighbours; case is ignored, so a
 * word that differs only in case is 0 edits away) and fewer edits than the word has
 * letters, so "ab" never suggests "lr". The first of equally close candidates wins. */
void zo_nearest_name_consider(zo_nearest_name *search, const char *candidate);

/* The closest candidate, or NULL. */
const char *zo_nearest_name_result(const zo_nearest_name *search);

/* Edits between a and b ignoring case (optimal string alignment distance), or
 * SIZE_MAX when either is longer than 64 bytes: names that long are no typos of ours. */
size_t zo_edit_distance(const char *a, const char *b);

#endif
