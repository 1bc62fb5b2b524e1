/* zo: a ZeRO-style optimizer offload engine. Include this for the whole public API.
 * Guide: README.md and docs/ (docs/design.md for the architecture). */
#ifndef ZO_ZO_H
#define ZO_ZO_H

#include "zo/adam.h"
#include "zo/byte_size.h"
#include "zo/checkpoint.h"
#include "zo/config.h"
#include "zo/engine.h"
#include "zo/cuda.h"
#include "zo/dtype.h"
#include "zo/status.h"
#include "zo/topology.h"
#include "zo/version.h"

#endif
