/* Command-line options of the plain test programs (soak_engine, fault_soak): pairs of
 * "--name N", N an unsigned number. */
#ifndef ZO_PLAIN_OPTIONS_H
#define ZO_PLAIN_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets values[i] from "--names[i] N" for each pair of argv; anything else prints
 * `usage` and returns false. Values not given keep what the caller put there. */
static inline bool zo_read_plain_options(int argc, char **argv, const char *const *names,
                                         unsigned long *values, size_t count, const char *usage)
{
    for (int i = 1; i < argc; i += 2) {
        size_t k = 0;
        while (k < count && !(strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, names[k]) == 0))
            k++;
        char *end = NULL;
        if (k == count || i + 1 >= argc ||
            (values[k] = strtoul(argv[i + 1], &end, 10), *end != '\0')) {
            fprintf(stderr, "usage: %s\n", usage);
            return false;
        }
    }
    return true;
}

#endif
