/* The one parser and the one help printer of zo-bench's option tables (option_table.h).
 * Every refusal names the option and the text it was given. */
#include "option_table.h"

#include <stdbool.h>
#include <string.h>

#include "bench_fail.h"
#include "options.h"

/* The entry of `table` that argv[*index] names, with its value in *value (advancing
 * *index past a separate value); NULL when none does. *missing is set when the option
 * is known but its value is not there. */
static const bench_option *bench_find_option(const bench_option *table, int argc, char **argv,
                                             int *index, const char **value, bool *missing)
{
    const char *arg = argv[*index];
    for (const bench_option *option = table; option->name; option++) {
        size_t length = strlen(option->name);
        if (strncmp(arg, option->name, length) != 0)
            continue;
        if (option->kind == BENCH_OPTION_FLAG) {
            if (arg[length] == '\0')
                return option;
            continue;
        }
        if (arg[length] == '=') {
            *value = arg + length + 1;
            return option;
        }
        if (arg[length] != '\0')
            continue;
        if (*index + 1 >= argc)
            *missing = true;
        else
            *value = argv[++*index];
        return option;
    }
    return NULL;
}

/* A setter's refusal, said with the option and the text it came from. */
static int bench_setter_problem(const char *name, const char *text, const char *problem)
{
    return problem ? bench_fail("%s %s: %s", name, text, problem) : 0;
}

/* A whole number of an INT or SIZE entry, checked against its range. */
static int bench_parse_bounded(const bench_option *option, const char *text, long long *number)
{
    if (bench_parse_integer(option->name, text, number) < 0)
        return -1;
    if (*number >= option->min && *number <= option->max)
        return 0;
    if (option->range_text)
        return bench_fail("%s %s: %s", option->name, text, option->range_text);
    return bench_fail("%s %s: must be between %lld and %lld", option->name, text, option->min,
                      option->max);
}

/* Stores (or hands to the setter) one option's value; 0 or -1 after printing why not. */
static int bench_apply_option(const bench_option *option, const char *text, void *target)
{
    long long number;
    size_t count;
    double real;
    switch (option->kind) {
    case BENCH_OPTION_FLAG: *(bool *)target = true; return 0;
    case BENCH_OPTION_STRING: *(const char **)target = text; return 0;
    case BENCH_OPTION_CALL: return option->parse(option->name, text, target);
    case BENCH_OPTION_INT:
    case BENCH_OPTION_SIZE:
        if (option->set_integer) {
            if (bench_parse_integer(option->name, text, &number) < 0)
                return -1;
            return bench_setter_problem(option->name, text, option->set_integer(target, number));
        }
        if (bench_parse_bounded(option, text, &number) < 0)
            return -1;
        if (option->kind == BENCH_OPTION_INT)
            *(int *)target = (int)number;
        else
            *(size_t *)target = (size_t)number;
        return 0;
    case BENCH_OPTION_COUNT:
        if (bench_parse_count(option->name, text, &count) < 0)
            return -1;
        if (option->set_count)
            return bench_setter_problem(option->name, text, option->set_count(target, count));
        *(size_t *)target = count;
        return 0;
    case BENCH_OPTION_REAL:
        if (bench_parse_real(option->name, text, &real) < 0)
            return -1;
        return bench_setter_problem(option->name, text, option->set_real(target, real));
    }
    return -1;
}

int bench_parse_options(const bench_command *command, int argc, char **argv, int first,
                        void *values)
{
    for (int i = first; i < argc; i++) {
        const char *value = NULL;
        bool missing = false;
        const bench_option *option =
            bench_find_option(command->options, argc, argv, &i, &value, &missing);
        if (!option) {
            if (!command->name)
                return bench_fail("unknown command or option \"%s\" (see zo-bench --help)",
                                  argv[i]);
            return bench_fail("%s: unknown option \"%s\" (see zo-bench --help)", command->name,
                              argv[i]);
        }
        if (missing)
            return bench_fail("%s needs a value (see zo-bench --help)", option->name);
        if (bench_apply_option(option, value, (char *)values + option->offset) < 0)
            return -1;
    }
    return 0;
}

/* Help lines after the first are indented to the column where the first starts. */
enum { BENCH_HELP_COLUMN = 18 };

static void bench_print_indented(const char *text, FILE *out)
{
    for (const char *line = text;;) {
        size_t length = strcspn(line, "\n");
        fprintf(out, "%.*s\n", (int)length, line);
        if (line[length] == '\0')
            return;
        line += length + 1;
        fprintf(out, "%*s", BENCH_HELP_COLUMN, "");
    }
}

void bench_print_command_help(const bench_command *command, FILE *out)
{
    if (command->heading)
        fprintf(out, "%s\n", command->heading);
    for (const bench_option *option = command->options; option->name && command->heading;
         option++) {
        char label[64];
        snprintf(label, sizeof label, "%s%s%s", option->name, option->value_name ? " " : "",
                 option->value_name ? option->value_name : "");
        /* a label too long for the column gets a line of its own */
        if (strlen(label) + 2 > BENCH_HELP_COLUMN - 2)
            fprintf(out, "  %s\n%*s", label, BENCH_HELP_COLUMN, "");
        else
            fprintf(out, "  %-*s", BENCH_HELP_COLUMN - 2, label);
        bench_print_indented(option->help, out);
    }
    if (command->notes)
        fputs(command->notes, out);
}
