/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * watch.c - keeps watch over the interface while kanaryd runs: each tick,
 * are the hooks still running this data path's programs? When another
 * kanaryd (--takeover) or anything else replaced or removed them, the log
 * says what is there instead (once per change), the status, /metrics and
 * /healthz say "detached", and the core (agent.c) attaches again where the
 * hooks hold nothing; never replacing another owner's program, and not at
 * all with --no-reattach.
 */
#include <pthread.h>

#include "agent_internal.h"
#include "util/log.h"
#include "watch.h"

bool watch_tick(struct agent *a, bool *changed)
{
	struct dp_attach_check check;

	*changed = false;
	if (!a->dp || dp_check_attached(a->dp, &check))
		return false;
	*changed = check.changed;
	if (check.attached) {
		if (check.changed)
			log_info("the data path is attached to %s again",
				 dp_ifname(a->dp));
		return false;
	}
	if (check.changed)
		log_warn("the data path is detached from %s: %s",
			 dp_ifname(a->dp), check.detail);
	if (a->opts.no_reattach) {
		if (check.changed)
			log_warn("not attaching it again (--no-reattach): the "
				 "services on %s are not steered by this "
				 "kanaryd",
				 dp_ifname(a->dp));
		return false;
	}
	return true;
}

void watch_reattached(struct agent *a, int ret, const char *err, bool changed)
{
	struct dp_attach_check check;

	if (ret) {
		if (changed)
			log_warn("%s", err);
		return;
	}
	if (!dp_check_attached(a->dp, &check) && check.attached)
		log_info("attached the data path to %s again",
			 dp_ifname(a->dp));
}

const char *watch_datapath_state_locked(struct agent *a)
{
	return !a->dp || dp_is_attached(a->dp) ? "attached" : "detached";
}

json_t *watch_healthz_failure(struct agent *a)
{
	json_t *body = NULL;

	pthread_mutex_lock(&a->lock);
	if (a->dp && !dp_is_attached(a->dp))
		body = json_pack("{s:s, s:s, s:s}", "status", "failing",
				 "datapath", "detached", "detail",
				 dp_detached_detail(a->dp));
	pthread_mutex_unlock(&a->lock);
	return body;
}
