/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * affinity.h - a service's affinity by name, as the config file, kanaryd's
 * flags, the API and kanaryctl spell it, and its KN_SVC_F_* bit. Depends on
 * lib/util alone, so that kanaryctl checks a word as kanaryd does.
 */
#ifndef KANARY_AFFINITY_H
#define KANARY_AFFINITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A service's affinity: "client" (the default: a client address keeps its
 * version) or "connection" (KN_SVC_F_CONNECTION_AFFINITY: each connection
 * draws its version; the share follows the weight with few clients).
 */
#define AFFINITY_CLIENT	    "client"
#define AFFINITY_CONNECTION "connection"
#define AFFINITY_EXPECTED   "must be \"client\" or \"connection\""

/* "client" or "connection" into *connection; -EINVAL for anything else. */
int affinity_parse(const char *word, bool *connection);
/* The affinity a service's KN_SVC_F_* flags say, by its name. */
const char *affinity_name(uint32_t flags);

struct jf_ctx;
/* The "affinity" field of obj, when present, into *flags (sets or clears
 * KN_SVC_F_CONNECTION_AFFINITY); else *flags stay. The config file and the
 * API read it through here; errors name the field. */
int affinity_field(struct jf_ctx *ctx, const json_t *obj, uint32_t *flags);

#endif /* KANARY_AFFINITY_H */
