/* ZO_API marks the functions libzo exports; everything else stays hidden.
 * Guide: docs/building.md. */
#ifndef ZO_API_H
#define ZO_API_H

#if defined(__GNUC__) || defined(__clang__)
#define ZO_API __attribute__((visibility("default")))
#else
#define ZO_API
#endif

#endif
