/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * watch.c - keeps watch over the interface while kanaryd runs: each tick,
 * are the hooks still running this data path's programs? When another
 * kanaryd (--takeover) or anything else replaced or removed them, the log
 * says what is there instead (once per change), the status, /metrics and
 * /healthz say "detached", and kanaryd attaches again where the hooks hold
 * nothing; it never replaces another owner's program, and does not attach
 * at all with --no-reattach.
 */
#include <pthread.h>

#include "agent_internal.h"
#include "util/log.h"
#include "watch.h"

void watch_tick(struct agent *a)
{
	struct dp_attach_check check;
	char err[DP_ERR_LEN];

	if (!a->dp || dp_check_attached(a->dp, &check))
		return;
	if (check.attached) {
		if (check.changed)
			log_info("the data path is attached to %s again",
				 dp_ifname(a->dp));
		return;
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
		return;
	}
	if (dp_reattach(a->dp, err, sizeof(err))) {
		if (check.changed)
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
