/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * watch.h - the running kanaryd keeps watch over its interface: every tick
 * it checks that the hooks still run its programs, says so in the status,
 * /metrics, /healthz and the log, and attaches again where the hooks were
 * emptied (unless --no-reattach).
 */
#ifndef KANARY_WATCH_H
#define KANARY_WATCH_H

#include <jansson.h>
#include <stdbool.h>

struct agent;

/*
 * One check, called by the control loop under the agent's lock: true when
 * the hooks are empty and the core should attach again (dp_reattach);
 * *changed when the state changed since the last check (failures are then
 * logged once).
 */
bool watch_tick(struct agent *a, bool *changed);
/* What came of the core's dp_reattach (ret, err), said in the log. */
void watch_reattached(struct agent *a, int ret, const char *err, bool changed);
/* "attached" or "detached", as of the last check; caller holds the lock. */
const char *watch_datapath_state_locked(struct agent *a);
/* NULL when the data path is attached; else /healthz's 503 body
 * {"status": "failing", "datapath": "detached", "detail": "..."}. Takes the
 * lock. */
json_t *watch_healthz_failure(struct agent *a);

#endif /* KANARY_WATCH_H */
