/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * services.c - the reading commands: status (every service, or one with
 * its backends), watch (a rollout followed until it ends) and decisions
 * (the rollout's log). Each takes what it shows from one answer of the
 * agent per refresh: a service's status carries its pools' latest
 * signals, so no history is fetched.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "util/clock.h"

#define WATCH_DEFAULT_INTERVAL_MS 1000
#define WATCH_BAR_WIDTH		  50
#define NS_PER_MS		  1000000L
#define DECISIONS_HUMAN_MAX	  50

const char *const service_pos[] = {"SERVICE"};

/*
 * A pool's latest signals, {"requests", "error_rate_pct", "p99_ms"}: the
 * status's "pools", the newest point of its history (null before one).
 */
static const json_t *pool_signals(const json_t *svc, const char *pool)
{
	return json_object_get(json_object_get(svc, "pools"), pool);
}

/* ---- status ----------------------------------------------------------------
 */

static const char *const status_header[] = {
    "NAME",	  "VIP",	"PHASE",      "STEP",	    "CANARY",
    "STABLE-ERR", "STABLE-P99", "CANARY-ERR", "CANARY-P99",
};
#define STATUS_COLS (sizeof(status_header) / sizeof(status_header[0]))

static void status_row(struct table *t, const json_t *svc)
{
	table_cell *row = table_row(t);
	const json_t *stable = pool_signals(svc, "stable");
	const json_t *canary = pool_signals(svc, "canary");

	if (!row)
		return;
	snprintf(row[0], CELL_LEN, "%s", jstr(svc, "name"));
	snprintf(row[1], CELL_LEN, "%s", jstr(svc, "vip"));
	snprintf(row[2], CELL_LEN, "%s", jstr(svc, "phase"));
	step_text(svc, row[3], CELL_LEN);
	percent_text(svc, "canary_percent", row[4], CELL_LEN);
	percent_text(stable, "error_rate_pct", row[5], CELL_LEN);
	ms_text(stable, "p99_ms", row[6], CELL_LEN);
	percent_text(canary, "error_rate_pct", row[7], CELL_LEN);
	ms_text(canary, "p99_ms", row[8], CELL_LEN);
}

static const char *const backend_header[] = {
    "BACKEND", "POOL", "HEALTH", "CONNECTIONS", "5XX", "P99", "METRICS",
};
#define BACKEND_COLS (sizeof(backend_header) / sizeof(backend_header[0]))

static void print_backends(const json_t *svc)
{
	const json_t *list = json_object_get(svc, "backends"), *b;
	struct table *t;
	size_t i;

	if (!json_array_size(list))
		return;
	t = table_new(BACKEND_COLS, backend_header);
	if (!t)
		return;
	json_array_foreach(list, i, b)
	{
		const json_t *kernel = json_object_get(b, "kernel");
		const json_t *metrics = json_object_get(b, "metrics");
		const json_t *health = json_object_get(b, "health");
		table_cell *row = table_row(t);

		if (!row)
			break;
		snprintf(row[0], CELL_LEN, "%s", jstr(b, "address"));
		snprintf(row[1], CELL_LEN, "%s", jstr(b, "pool"));
		up_down_text(health, "healthy", "reason", row[2], CELL_LEN);
		count_text(kernel, "new_connections", row[3], CELL_LEN);
		count_text(json_object_get(kernel, "http"), "5xx", row[4],
			   CELL_LEN);
		ms_text(json_object_get(kernel, "latency"), "p99_ms", row[5],
			CELL_LEN);
		up_down_text(metrics, "up", "last_error", row[6], CELL_LEN);
	}
	printf("\n");
	table_print(t, "");
	free(t);
}

/* The node's forwarding fast path, when it runs ("forward": "redirect"). */
static void print_forward(const json_t *answer)
{
	const json_t *fwd = json_object_get(answer, "forward");
	const json_t *fallback = json_object_get(fwd, "fallback");
	const char *reason;
	json_int_t fell = 0;
	json_t *n;

	if (!json_is_object(fwd))
		return;
	json_object_foreach((json_t *)fallback, reason, n) fell +=
	    json_integer_value(n);
	printf(
	    "forward: %s, %lld packets redirected, %lld left to the stack",
	    jstr(fwd, "mode"),
	    (long long)json_integer_value(json_object_get(fwd, "redirected")),
	    (long long)fell);
	json_object_foreach((json_t *)fallback, reason, n)
	    printf(" %s=%lld", reason, (long long)json_integer_value(n));
	printf("\n");
}

int do_status(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	char path[CTL_SERVER_LEN];
	json_t *answer, *list, *svc;
	struct table *t;
	size_t i;
	int ret;

	if (!begin(ctl, argc, argv, NULL, pos, service_pos, 0, 1, &ret))
		return ret;
	if (pos[0]) {
		ret = service_path(ctl, pos[0], NULL, path, sizeof(path));
		if (ret)
			return ret;
	} else {
		snprintf(path, sizeof(path), "/api/v1/services");
	}
	ret = call_agent(ctl, "GET", path, NULL,
			 pos[0] ? ANSWER_SERVICE : ANSWER_SERVICES, &answer);
	if (ret)
		return ret;
	if (ctl->json)
		return print_json_answer(answer);
	t = table_new(STATUS_COLS, status_header);
	if (!t) {
		json_decref(answer);
		return CTL_EXIT_REFUSED;
	}
	if (pos[0]) {
		status_row(t, answer);
	} else {
		list = json_object_get(answer, "services");
		json_array_foreach(list, i, svc) status_row(t, svc);
	}
	table_print(t, "");
	free(t);
	if (pos[0]) {
		const char *reason =
		    json_string_value(json_object_get(answer, "reason"));

		const char *warning = json_string_value(json_object_get(
		    json_object_get(answer, "clients"), "warning"));

		if (reason && *reason)
			printf("\nlast transition: %s\n", reason);
		printf("affinity: %s\n", jstr(answer, "affinity"));
		print_forward(answer);
		if (warning)
			printf("warning: %s\n", warning);
		print_backends(answer);
	} else if (!json_array_size(json_object_get(answer, "services"))) {
		printf("(no services: give kanaryd --service or a config "
		       "file)\n");
	}
	json_decref(answer);
	return CTL_EXIT_OK;
}

/* ---- watch -----------------------------------------------------------------
 */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static bool phase_is(const json_t *svc, const char *phase)
{
	const char *p = json_string_value(json_object_get(svc, "phase"));

	return p && !strcmp(p, phase);
}

static bool phase_is_final(const json_t *svc)
{
	return phase_is(svc, "promoted") || phase_is(svc, "rolled_back") ||
	       phase_is(svc, "aborted") || phase_is(svc, "idle");
}

/* [#####|----|-----] with a '|' at each step and '#' up to the weight. */
static void progress_bar(const json_t *svc, char *buf, size_t len)
{
	const json_t *steps =
	    json_object_get(json_object_get(svc, "rollout"), "steps");
	double pct = 0;
	size_t i, filled, width = WATCH_BAR_WIDTH;

	if (len < width + 3)
		width = len - 3;
	jnum(svc, "canary_percent", &pct);
	filled = (size_t)lround(pct / 100.0 * (double)width);
	buf[0] = '[';
	for (i = 0; i < width; i++)
		buf[1 + i] = i < filled ? '#' : '-';
	if (json_is_array(steps)) {
		const json_t *s;
		size_t k;

		json_array_foreach(steps, k, s)
		{
			size_t at = (size_t)lround(json_number_value(s) /
						   100.0 * (double)width);

			if (at > 0 && at < width)
				buf[at] = '|';
		}
	}
	buf[1 + width] = ']';
	buf[2 + width] = '\0';
}

/* The block watch prints each refresh; returns the number of lines. */
static int watch_render(const json_t *svc, bool tty)
{
	char bar[WATCH_BAR_WIDTH + 3], step[CELL_LEN], pct[CELL_LEN];
	char se[CELL_LEN], sp[CELL_LEN], ce[CELL_LEN], cp[CELL_LEN];
	const json_t *stable = pool_signals(svc, "stable");
	const json_t *canary = pool_signals(svc, "canary");
	const char *reason = json_string_value(json_object_get(svc, "reason"));
	const char *gate = json_string_value(
	    json_object_get(json_object_get(svc, "gate"), "gate"));
	char stamp[16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	step_text(svc, step, sizeof(step));
	percent_text(svc, "canary_percent", pct, sizeof(pct));
	percent_text(stable, "error_rate_pct", se, sizeof(se));
	ms_text(stable, "p99_ms", sp, sizeof(sp));
	percent_text(canary, "error_rate_pct", ce, sizeof(ce));
	ms_text(canary, "p99_ms", cp, sizeof(cp));
	if (!tty) {
		/* gate=... only while one is waited for: other lines stay. */
		printf("%s %s phase=%s step=%s canary=%s stable_err=%s "
		       "stable_p99=%s canary_err=%s canary_p99=%s%s%s\n",
		       stamp, jstr(svc, "name"), jstr(svc, "phase"), step, pct,
		       se, sp, ce, cp, gate ? " gate=" : "", gate ? gate : "");
		return 1;
	}
	progress_bar(svc, bar, sizeof(bar));
	printf("\033[2K%s  %s  %s  step %s  canary %s\n", stamp,
	       jstr(svc, "name"), jstr(svc, "phase"), step, pct);
	printf("\033[2K%s\n", bar);
	printf("\033[2K  stable: errors %s  p99 %s    canary: errors %s  p99 "
	       "%s\n",
	       se, sp, ce, cp);
	printf("\033[2K  %s\n", reason && *reason ? reason : "");
	return 4;
}

static int sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / MS_PER_S),
			      .tv_nsec = (long)(ms % MS_PER_S) * NS_PER_MS};

	return nanosleep(&ts, NULL);
}

int do_watch(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	const char *timeout_text = NULL, *interval_text = NULL;
	const struct flag flags[] = {
	    {"timeout", &timeout_text, NULL},
	    {"interval", &interval_text, NULL},
	    {NULL, NULL, NULL},
	};
	uint64_t timeout_ms = 0, interval_ms = WATCH_DEFAULT_INTERVAL_MS;
	uint64_t started;
	char path[CTL_SERVER_LEN], last[CELL_LEN * 4] = "";
	bool tty = isatty(STDOUT_FILENO), seen_active = false;
	int ret, lines = 0;

	if (!begin(ctl, argc, argv, flags, pos, service_pos, 1, 1, &ret))
		return ret;
	if (timeout_text &&
	    parse_duration_flag(ctl, "timeout", timeout_text, &timeout_ms))
		return CTL_EXIT_USAGE;
	if (interval_text &&
	    parse_duration_flag(ctl, "interval", interval_text, &interval_ms))
		return CTL_EXIT_USAGE;
	ret = service_path(ctl, pos[0], NULL, path, sizeof(path));
	if (ret)
		return ret;
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	started = clock_mono_ms();
	for (;;) {
		json_t *svc;
		char now[sizeof(last)], step[CELL_LEN];
		double pct = 0;

		ret = call_agent(ctl, "GET", path, NULL, ANSWER_SERVICE, &svc);
		if (ret)
			return ret;
		if (!phase_is_final(svc))
			seen_active = true;
		if (ctl->json) {
			print_json(svc);
		} else if (tty) {
			if (lines)
				printf("\033[%dA", lines);
			lines = watch_render(svc, true);
		} else {
			/* Plain output: a line when something moved. */
			step_text(svc, step, sizeof(step));
			jnum(svc, "canary_percent", &pct);
			snprintf(now, sizeof(now), "%s %s %.2f",
				 jstr(svc, "phase"), step, pct);
			if (strcmp(now, last)) {
				watch_render(svc, false);
				snprintf(last, sizeof(last), "%s", now);
			}
		}
		fflush(stdout);
		if (phase_is_final(svc)) {
			bool ok = !phase_is(svc, "rolled_back") &&
				  !phase_is(svc, "aborted");

			if (!ctl->json && phase_is(svc, "idle"))
				printf("%s: no rollout in progress\n",
				       jstr(svc, "name"));
			else if (!ctl->json)
				printf("%s: rollout %s: %s (%s)\n",
				       jstr(svc, "name"),
				       seen_active ? "ended" : "had ended",
				       jstr(svc, "phase"), jstr(svc, "reason"));
			json_decref(svc);
			return ok ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
		}
		json_decref(svc);
		if (timeout_ms && clock_mono_ms() - started >= timeout_ms) {
			say_error(ctl,
				  "gave up after --timeout %s; the rollout of "
				  "%s goes on",
				  timeout_text, pos[0]);
			return CTL_EXIT_REFUSED;
		}
		if (interrupted || (sleep_ms(interval_ms) && interrupted))
			return CTL_EXIT_REFUSED;
	}
}

/* ---- decisions ------------------------------------------------------------
 */

static const char *const decision_header[] = {
    "TIME", "EVENT", "PHASE", "STEP", "CANARY", "VERDICT", "REASON",
};
#define DECISION_COLS (sizeof(decision_header) / sizeof(decision_header[0]))

static void time_text(const json_t *d, char *buf, size_t len)
{
	const json_t *t = json_object_get(d, "time");
	double ms;

	if (json_is_string(t)) {
		snprintf(buf, len, "%s", json_string_value(t));
	} else if (jnum(d, "t", &ms)) {
		time_t secs = (time_t)(ms / MS_PER_S);
		struct tm tm;

		gmtime_r(&secs, &tm);
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	} else {
		snprintf(buf, len, "-");
	}
}

/*
 * The log holds operators' events ({"event", "phase", ...}), evaluations
 * of a step ({"step", "verdict", "checks", "phase_before", "phase_after",
 * "outcome", ...}) and immediate rules ({"rule": "immediate", ...}).
 */
static void decision_event(const json_t *d, char *buf, size_t len)
{
	const char *event = json_string_value(json_object_get(d, "event"));
	const char *rule = json_string_value(json_object_get(d, "rule"));

	if (event)
		snprintf(buf, len, "%s", event);
	else if (rule)
		snprintf(buf, len, "%s rule", rule);
	else
		snprintf(buf, len, "evaluation");
}

static void decision_phase(const json_t *d, char *buf, size_t len)
{
	const char *before =
	    json_string_value(json_object_get(d, "phase_before"));
	const char *after =
	    json_string_value(json_object_get(d, "phase_after"));

	if (json_object_get(d, "phase"))
		snprintf(buf, len, "%s", jstr(d, "phase"));
	else if (before && after && strcmp(before, after))
		snprintf(buf, len, "%s -> %s", before, after);
	else
		snprintf(buf, len, "%s", after ? after : "-");
}

static void decision_reason(const json_t *d, char *buf, size_t len)
{
	const char *reason = json_string_value(json_object_get(d, "reason"));
	const char *outcome = json_string_value(json_object_get(d, "outcome"));

	/* An evaluation's outcome restates its reason with what followed. */
	if (outcome && *outcome)
		snprintf(buf, len, "%s", outcome);
	else
		snprintf(buf, len, "%s", reason && *reason ? reason : "-");
}

int do_decisions(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	const char *limit_text = NULL;
	const struct flag flags[] = {
	    {"limit", &limit_text, NULL},
	    {NULL, NULL, NULL},
	};
	char path[CTL_SERVER_LEN];
	json_t *answer, *list, *d;
	unsigned long limit = DECISIONS_HUMAN_MAX;
	struct table *t;
	size_t i, n, first;
	int ret;

	if (!begin(ctl, argc, argv, flags, pos, service_pos, 1, 1, &ret))
		return ret;
	if (limit_text) {
		char *end;

		errno = 0;
		limit = strtoul(limit_text, &end, 10);
		if (errno || end == limit_text || *end || limit == 0 ||
		    limit >= TABLE_MAX_ROWS)
			return usage_error(ctl, "--limit '%s': a number 1-%d",
					   limit_text, TABLE_MAX_ROWS - 1);
	}
	ret = service_path(ctl, pos[0], "decisions", path, sizeof(path));
	ret = ret
		  ?: call_agent(ctl, "GET", path, NULL, ANSWER_DECISIONS,
				&answer);
	if (ret)
		return ret;
	if (ctl->json)
		return print_json_answer(answer);
	list = json_object_get(answer, "decisions");
	n = json_array_size(list);
	if (!n) {
		printf("%s: no decisions yet\n", pos[0]);
		json_decref(answer);
		return CTL_EXIT_OK;
	}
	t = table_new(DECISION_COLS, decision_header);
	if (!t) {
		json_decref(answer);
		return CTL_EXIT_REFUSED;
	}
	first = n > limit ? n - limit : 0;
	for (i = first; i < n; i++) {
		table_cell *row = table_row(t);

		d = json_array_get(list, i);
		if (!row)
			break;
		time_text(d, row[0], CELL_LEN);
		decision_event(d, row[1], CELL_LEN);
		decision_phase(d, row[2], CELL_LEN);
		count_text(d, "step", row[3], CELL_LEN);
		percent_text(d, "canary_percent", row[4], CELL_LEN);
		snprintf(row[5], CELL_LEN, "%s", jstr(d, "verdict"));
		decision_reason(d, row[6], CELL_LEN);
	}
	if (first)
		printf("(the last %lu of %zu; --limit N or --json for more)\n",
		       limit, n);
	table_print(t, "");
	free(t);
	json_decref(answer);
	return CTL_EXIT_OK;
}
