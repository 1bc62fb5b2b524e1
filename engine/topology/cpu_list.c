/* The strict CPU-list parser; see cpu_list.h. */
#include "cpu_list.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

/* Reads a decimal CPU number at *cursor; false if there is none or it is too large. */
static bool zo_read_cpu(const char **cursor, unsigned *cpu)
{
    if (!isdigit((unsigned char)**cursor))
        return false;
    char *end;
    unsigned long value = strtoul(*cursor, &end, 10);
    if (value > ZO_CPU_LIST_MAX_CPU)
        return false;
    *cpu = (unsigned)value;
    *cursor = end;
    return true;
}

/* One pass over the list: check only, or check and add. */
static bool zo_cpu_list_walk(const char *text, zo_cpu_range_fn add, void *user, char *problem,
                             size_t room)
{
    if (!*text) {
        snprintf(problem, room, "the list is empty");
        return false;
    }
    for (const char *cursor = text;;) {
        unsigned first, last;
        size_t at = (size_t)(cursor - text);
        if (!zo_read_cpu(&cursor, &first)) {
            snprintf(problem, room, "a CPU number (0..%d) is expected at character %zu",
                     ZO_CPU_LIST_MAX_CPU, at + 1);
            return false;
        }
        last = first;
        if (*cursor == '-') {
            cursor++;
            if (!zo_read_cpu(&cursor, &last)) {
                snprintf(problem, room, "the range at character %zu has no end (0..%d)", at + 1,
                         ZO_CPU_LIST_MAX_CPU);
                return false;
            }
            if (last < first) {
                snprintf(problem, room, "the range %u-%u runs backwards", first, last);
                return false;
            }
        }
        if (add)
            add(user, first, last);
        if (*cursor == '\0')
            return true;
        if (*cursor != ',') {
            snprintf(problem, room, "unexpected '%c' at character %zu", *cursor,
                     (size_t)(cursor - text) + 1);
            return false;
        }
        cursor++;
    }
}

bool zo_cpu_list_parse(const char *text, zo_cpu_range_fn add, void *user, char *problem,
                       size_t room)
{
    if (!text) { /* public: a NULL list is a bad list, not a crash */
        snprintf(problem, room, "the list is NULL");
        return false;
    }
    /* checked in full before anything is added: a bad list adds nothing */
    return zo_cpu_list_walk(text, NULL, NULL, problem, room) &&
           (!add || zo_cpu_list_walk(text, add, user, problem, room));
}
