/* libFuzzer target for the JSON stage config (zo_config_from_string), then the memory
 * plan the engine would make from it: any input must give either a config or an error
 * with a message, never a crash, a leak or undefined behaviour (built with ASan+UBSan).
 * The same function runs under tests/fuzz/replay.c in every build, over the corpus. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zo/zo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A model whose sizes straddle buckets, and one too large for any machine. */
static const zo_param_desc small_model[] = {{"embedding", 1000}, {"bias", 37}, {"head", 2500}};
static const zo_param_desc huge_model[] = {{"huge", (size_t)1 << 40}, {"more", (size_t)1 << 40}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size + 1);
    if (!json)
        return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    zo_config *config = NULL;
    zo_status status = zo_config_from_string(json, &config);
    free(json);
    /* the contract: a config, or an error that says what is wrong and nothing else */
    if ((status == ZO_OK) != (config != NULL) || (status != ZO_OK && zo_last_error()[0] == '\0'))
        abort();
    if (!config)
        return 0;
    for (size_t i = 0; i < zo_config_ignored_count(config); i++)
        if (!zo_config_ignored_key(config, i))
            abort();
    zo_memory_plan plan;
    zo_engine_plan(config, small_model, 3, 1, &plan);
    zo_engine_plan(config, huge_model, 2, 3, &plan);
    zo_config_destroy(&config);
    return 0;
}
