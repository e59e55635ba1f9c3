/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * nodes.c - kanaryctl nodes: cluster mode's nodes (GET /api/v1/nodes), one
 * row each: name, leader or not, the generation of each service's state
 * it applied, when it was last seen, its API address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define NODE_COLS 5

static const char *const node_header[NODE_COLS] = {
    "NODE", "LEADER", "APPLIED", "LAST SEEN", "ADDRESS",
};

/* "chat=12 demo=3" */
static void applied_text(const json_t *applied, char *buf, size_t len)
{
	const char *name;
	json_t *gen;
	size_t used = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)applied, name, gen)
	{
		used += snprintf(buf + used, used < len ? len - used : 0,
				 "%s%s=%lld", used ? " " : "", name,
				 (long long)json_integer_value(gen));
		if (used >= len)
			break;
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

int do_nodes(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer, *node;
	struct table *t;
	size_t i;
	int ret;

	if (!begin(ctl, argc, argv, NULL, NULL, NULL, 0, 0, &ret))
		return ret;
	ret = call_agent(ctl, "GET", "/api/v1/nodes", NULL, ANSWER_NODES,
			 &answer);
	if (ret)
		return ret;
	if (ctl->json)
		return print_json_answer(answer);
	t = table_new(NODE_COLS, node_header);
	if (!t) {
		json_decref(answer);
		return CTL_EXIT_REFUSED;
	}
	json_array_foreach(json_object_get(answer, "nodes"), i, node)
	{
		table_cell *row = table_row(t);

		if (!row)
			break;
		snprintf(row[0], CELL_LEN, "%s", jstr(node, "name"));
		snprintf(row[1], CELL_LEN, "%s",
			 json_is_true(json_object_get(node, "leader")) ? "yes"
								       : "no");
		applied_text(json_object_get(node, "applied_generation"),
			     row[2], CELL_LEN);
		snprintf(row[3], CELL_LEN, "%s", jstr(node, "last_seen"));
		snprintf(row[4], CELL_LEN, "%s", jstr(node, "address"));
	}
	table_print(t, "");
	free(t);
	json_decref(answer);
	return CTL_EXIT_OK;
}
