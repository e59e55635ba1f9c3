// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * affinity.c - a service's affinity: its two names and the JSON field that
 * carries one (see affinity.h).
 */
#include "affinity.h"

#include <errno.h>
#include <linux/types.h>
#include <string.h>

#include "kanary_shared.h"
#include "util/json_fields.h"

int affinity_parse(const char *word, bool *connection)
{
	if (!strcmp(word, AFFINITY_CLIENT))
		*connection = false;
	else if (!strcmp(word, AFFINITY_CONNECTION))
		*connection = true;
	else
		return -EINVAL;
	return 0;
}

const char *affinity_name(uint32_t flags)
{
	return flags & KN_SVC_F_CONNECTION_AFFINITY ? AFFINITY_CONNECTION
						    : AFFINITY_CLIENT;
}

int affinity_field(struct jf_ctx *ctx, const json_t *obj, uint32_t *flags)
{
	const json_t *v = json_object_get(obj, "affinity");
	bool connection;

	if (!v)
		return 0;
	/* A NUL inside the string must not pass for its end. */
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    affinity_parse(json_string_value(v), &connection))
		return jf_fail(ctx, "affinity", AFFINITY_EXPECTED);
	if (connection)
		*flags |= KN_SVC_F_CONNECTION_AFFINITY;
	else
		*flags &= ~KN_SVC_F_CONNECTION_AFFINITY;
	return 0;
}
