/* zo_version(): the version libzo was built as, for a program to compare at run time
 * with the headers it was compiled against. */
#include "zo/version.h"

const char *zo_version(void) { return ZO_VERSION; }

unsigned zo_version_number(void) { return ZO_VERSION_NUMBER; }
