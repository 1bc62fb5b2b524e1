/* zo_version() and zo_version_number() (zo/version.h): the library running reports
 * the version of the headers it was built with. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>

#include "zo/zo.h"

Test(version, run_time_string_equals_the_header_macro)
{
    cr_assert(eq(str, (char *)zo_version(), ZO_VERSION));
}

Test(version, run_time_number_packs_the_header_parts)
{
    cr_assert(eq(u32, zo_version_number(), ZO_VERSION_NUMBER));
    unsigned expected =
        ((unsigned)ZO_VERSION_MAJOR << 16) | ((unsigned)ZO_VERSION_MINOR << 8) | ZO_VERSION_PATCH;
    cr_assert(eq(u32, zo_version_number(), expected));
}

Test(version, string_is_major_minor_patch)
{
    char parts[32];
    snprintf(parts, sizeof parts, "%d.%d.%d", ZO_VERSION_MAJOR, ZO_VERSION_MINOR, ZO_VERSION_PATCH);
    cr_assert(eq(str, (char *)zo_version(), parts));
}
