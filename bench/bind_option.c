/* --bind values; see bind_option.h. */
#include "bind_option.h"

#include <string.h>

#include "bench_fail.h"
#include "zo/topology.h"

int bench_parse_bind(const char *option, const char *text, bench_bind *out)
{
    *out = (bench_bind){.mode = ZO_BIND_AUTO};
    if (strcmp(text, "auto") == 0)
        return 0;
    if (strcmp(text, "none") == 0) {
        out->mode = ZO_BIND_NONE;
        return 0;
    }
    char problem[128];
    if (strlen(text) >= sizeof out->cpus ||
        !zo_cpu_list_parse(text, NULL, NULL, problem, sizeof problem))
        return bench_fail("%s \"%s\": must be auto, none or a CPU list such as 0-3,8 (%s)", option,
                          text, strlen(text) >= sizeof out->cpus ? "too long" : problem);
    out->mode = ZO_BIND_CPUS;
    strcpy(out->cpus, text);
    return 0;
}

const char *bench_bind_name(const bench_bind *bind)
{
    return bind->mode == ZO_BIND_AUTO ? "auto" : bind->mode == ZO_BIND_NONE ? "none" : bind->cpus;
}
