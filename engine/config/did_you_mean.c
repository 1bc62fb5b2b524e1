/* Optimal-string-alignment edit distance and the nearest-name search built on it. */
#include "did_you_mean.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

/* Longer words are not compared: every name zo knows is far shorter, and the fixed
 * rows below keep the search free of allocation. */
enum { ZO_EDIT_MAX_LENGTH = 64 };

/* Edits that still read as a typo rather than a different word. */
enum { ZO_NEAREST_MAX_EDITS = 2 };

static size_t zo_min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

size_t zo_edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > ZO_EDIT_MAX_LENGTH || nb > ZO_EDIT_MAX_LENGTH)
        return SIZE_MAX;
    /* Three rows of the dynamic-programming table: two back are needed for swaps. */
    size_t before_previous[ZO_EDIT_MAX_LENGTH + 1], previous[ZO_EDIT_MAX_LENGTH + 1],
        current[ZO_EDIT_MAX_LENGTH + 1];
    for (size_t j = 0; j <= nb; j++)
        previous[j] = j;
    for (size_t i = 1; i <= na; i++) {
        current[0] = i;
        int ai = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= nb; j++) {
            int bj = tolower((unsigned char)b[j - 1]);
            size_t cost = ai == bj ? 0 : 1;
            current[j] = zo_min3(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && before_previous[j - 2] + 1 < current[j])
                current[j] = before_previous[j - 2] + 1;
        }
        memcpy(before_previous, previous, sizeof previous);
        memcpy(previous, current, sizeof current);
    }
    return previous[nb];
}

void zo_nearest_name_init(zo_nearest_name *search, const char *word)
{
    *search = (zo_nearest_name){.word = word, .best = NULL, .best_distance = SIZE_MAX};
}

void zo_nearest_name_consider(zo_nearest_name *search, const char *candidate)
{
    size_t distance = zo_edit_distance(search->word, candidate);
    if (distance > ZO_NEAREST_MAX_EDITS || distance >= strlen(search->word))
        return;
    if (distance < search->best_distance) {
        search->best = candidate;
        search->best_distance = distance;
    }
}

const char *zo_nearest_name_result(const zo_nearest_name *search) { return search->best; }
