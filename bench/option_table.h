/* zo-bench's command lines, table-driven: each command describes its options once
 * (name, kind, where the value goes, help) and one parser and one help printer serve
 * them all, so an option is added in one place and its help cannot drift from it. */
#ifndef ZO_BENCH_OPTION_TABLE_H
#define ZO_BENCH_OPTION_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef enum bench_option_kind {
    BENCH_OPTION_FLAG,   /* no value: sets a bool                                     */
    BENCH_OPTION_STRING, /* the text itself: a const char * into argv                  */
    BENCH_OPTION_INT,    /* a whole number in [min, max], stored as int                */
    BENCH_OPTION_SIZE,   /* a whole number in [min, max], stored as size_t             */
    BENCH_OPTION_COUNT,  /* a parameter count with K/M/G suffixes, stored as size_t    */
    BENCH_OPTION_REAL,   /* a finite number; only through set_real                     */
    BENCH_OPTION_CALL    /* parsed by the entry's own function (lists, placements)     */
} bench_option_kind;

/* One option. Values land at `offset` in the struct the caller hands the parser
 * (offsetof, like FFmpeg's AVOption), so the tables are static and the help printer
 * reads them without any values. */
typedef struct bench_option {
    const char *name; /* "--layers" */
    bench_option_kind kind;
    size_t offset;
    /* INT and SIZE: the accepted range; out of it, "NAME VALUE: " then range_text,
     * or "must be between MIN and MAX" when range_text is NULL */
    long long min, max;
    const char *range_text;
    /* INT, COUNT, REAL: when set, the value goes through this setter instead of being
     * stored (the checks a suite config shares); it returns NULL or the problem */
    const char *(*set_integer)(void *target, long long value);
    const char *(*set_count)(void *target, size_t value);
    const char *(*set_real)(void *target, double value);
    /* CALL: parses and stores `value`; 0, or -1 after printing why not */
    int (*parse)(const char *option, const char *value, void *target);
    const char *value_name; /* in the help: "N", "FILE"; NULL for a flag */
    const char *help;       /* lines separated by '\n'; printed indented */
} bench_option;

/* A command: its options (ending with an entry whose name is NULL) and its help. */
typedef struct bench_command {
    const char *name;    /* "engine"; NULL for the suite (no command word) */
    const char *usage;   /* its line(s) in the usage summary, or NULL      */
    const char *heading; /* the title of its options, or NULL: none shown  */
    const bench_option *options;
    const char *notes; /* printed after the options, or NULL */
} bench_command;

/* Reads argv[first..argc) against command->options into the struct at `values`
 * (each given as "--name VALUE" or "--name=VALUE"). 0, or -1 after printing what is
 * wrong: a missing or bad value, or an unknown option. */
int bench_parse_options(const bench_command *command, int argc, char **argv, int first,
                        void *values);

/* The command's heading, options and notes, as `zo-bench --help` shows them. */
void bench_print_command_help(const bench_command *command, FILE *out);

#endif
