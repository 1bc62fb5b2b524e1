/* Byte counts: parsing and printing are public (zo/byte_size.h); the bare decimal
 * reader below is what the fault-injection spec shares with them. Internal. */
#ifndef ZO_CONFIG_BYTE_SIZE_H
#define ZO_CONFIG_BYTE_SIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "zo/byte_size.h"

/* Parses the digits at the start of `text` as a whole number: no sign, no spaces; at
 * least one digit. Sets *end past the last digit. False (nothing set) when there is no
 * digit or the number overflows 64 bits. */
bool zo_parse_decimal(const char *text, const char **end, uint64_t *value);

#endif
