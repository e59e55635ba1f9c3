/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * statefile.c - rollouts and decision logs on disk, so that a restarted
 * kanaryd resumes where it stopped.
 *
 * The file is written whole to a temporary name next to it, flushed with
 * fsync, renamed over the old one and the directory synced: a crash at any
 * point leaves the old state or the new one, never a mix. It is readable by
 * root only (0600, directory 0700).
 *
 * Loading reads the records and hands them to the core (agent.c), which
 * uses a service's record only if the config file still says what it said
 * when the record was written (a fingerprint of VIP and pools); otherwise
 * the config wins and the service starts idle.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_internal.h"
#include "util/log.h"
#include "statefile.h"

#define STATE_VERSION	     1
#define STATE_DECISIONS_KEPT 200
#define STATE_TMP_SUFFIX     ".tmp."

json_t *statefile_rollout_json(const struct rollout_state *r)
{
	json_t *obj = json_pack(
	    "{s:s, s:s, s:o, s:i, s:i, s:I, s:I, s:I, s:i, s:i, "
	    "s:s}",
	    "phase", rollout_phase_name(r->phase), "paused_from",
	    rollout_phase_name(r->paused_from), "spec",
	    rollout_spec_to_json(&r->spec), "step", (int)r->step, "weight_bp",
	    (int)r->weight_bp, "started_ms", (json_int_t)r->started_ms,
	    "step_started_ms", (json_int_t)r->step_started_ms, "ended_ms",
	    (json_int_t)r->ended_ms, "consecutive_failures",
	    (int)r->consecutive_failures, "evaluations", (int)r->evaluations,
	    "reason", r->reason);

	/* Only while waiting: other records read as they always did. */
	if (obj && r->phase == PHASE_WAITING_GATE) {
		json_object_set_new(obj, "gate",
				    json_string(gate_point_name(r->gate)));
		json_object_set_new(obj, "gate_since_ms",
				    json_integer((json_int_t)r->gate_since_ms));
	}
	return obj;
}

/* ---- the stable pool's baseline ------------------------------------------
 * At the last steps the stable pool gets no new connections, and the
 * analysis compares the canary with the stable pool's window from the last
 * step that had enough traffic (agent.c stable_baseline()). A kanaryd
 * restarted at such a step has no other way to get it back: without it the
 * step could never be judged and the rollout would wait forever. */

enum field_kind { FIELD_DOUBLE, FIELD_BOOL, FIELD_HIST };

struct window_field {
	const char *name;
	enum field_kind kind;
	size_t offset;
};

#define KERNEL_FIELD(kind, f)                                                  \
	{                                                                      \
#f, kind, offsetof(struct kernel_window, f)                    \
	}
#define METRICS_FIELD(kind, f)                                                 \
	{                                                                      \
#f, kind, offsetof(struct metrics_window, f)                   \
	}

static const struct window_field kernel_fields[] = {
    KERNEL_FIELD(FIELD_DOUBLE, requests),
    KERNEL_FIELD(FIELD_DOUBLE, errors),
    KERNEL_FIELD(FIELD_HIST, latency),
    KERNEL_FIELD(FIELD_DOUBLE, new_flows),
    KERNEL_FIELD(FIELD_DOUBLE, refused),
    KERNEL_FIELD(FIELD_DOUBLE, resets),
    KERNEL_FIELD(FIELD_DOUBLE, syn_retries),
    KERNEL_FIELD(FIELD_DOUBLE, streams),
    KERNEL_FIELD(FIELD_HIST, ttft),
    KERNEL_FIELD(FIELD_HIST, itl),
};

static const struct window_field metrics_fields[] = {
    METRICS_FIELD(FIELD_BOOL, complete),
    METRICS_FIELD(FIELD_DOUBLE, requests),
    METRICS_FIELD(FIELD_DOUBLE, errors),
    METRICS_FIELD(FIELD_BOOL, has_histogram),
    METRICS_FIELD(FIELD_HIST, latency),
    METRICS_FIELD(FIELD_BOOL, has_mean),
    METRICS_FIELD(FIELD_DOUBLE, latency_sum_s),
    METRICS_FIELD(FIELD_DOUBLE, latency_count),
    METRICS_FIELD(FIELD_BOOL, has_ttft),
    METRICS_FIELD(FIELD_HIST, ttft),
    METRICS_FIELD(FIELD_BOOL, has_itl),
    METRICS_FIELD(FIELD_HIST, itl),
    METRICS_FIELD(FIELD_BOOL, has_predictions),
};

#define FIELD_COUNT(t) (sizeof(t) / sizeof((t)[0]))

static json_t *doubles_json(const double *v, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_real(v[i]));
	return arr;
}

/* n numbers from a JSON array of exactly n; -EINVAL otherwise. */
static int read_doubles(const json_t *arr, double *v, size_t n)
{
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) != n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		const json_t *x = json_array_get(arr, i);

		if (!json_is_number(x))
			return -EINVAL;
		v[i] = json_number_value(x);
	}
	return 0;
}

static json_t *hist_json(const struct stats_hist *h)
{
	return json_pack("{s:o, s:o, s:f, s:b, s:f}", "upper",
			 doubles_json(h->upper, h->nbounds), "counts",
			 doubles_json(h->counts, h->nbounds + 1), "total",
			 h->total, "has_sum", h->has_sum, "sum", h->sum);
}

static int read_hist(const json_t *j, struct stats_hist *h)
{
	const json_t *upper = json_object_get(j, "upper");
	const json_t *total = json_object_get(j, "total");
	const json_t *sum = json_object_get(j, "sum");
	const json_t *has_sum = json_object_get(j, "has_sum");

	memset(h, 0, sizeof(*h));
	if (!json_is_array(upper) ||
	    json_array_size(upper) > STATS_HIST_MAX_BOUNDS ||
	    !json_is_number(total) || !json_is_number(sum) ||
	    !json_is_boolean(has_sum))
		return -EINVAL;
	h->nbounds = json_array_size(upper);
	h->total = json_number_value(total);
	h->sum = json_number_value(sum);
	h->has_sum = json_is_true(has_sum);
	if (read_doubles(upper, h->upper, h->nbounds) ||
	    read_doubles(json_object_get(j, "counts"), h->counts,
			 h->nbounds + 1))
		return -EINVAL;
	return 0;
}

static json_t *window_json(const struct window_field *fields, size_t n,
			   const void *window)
{
	const char *base = window;
	json_t *obj = json_object();
	size_t i;

	for (i = 0; i < n; i++) {
		const void *at = base + fields[i].offset;

		json_object_set_new(obj, fields[i].name,
				    fields[i].kind == FIELD_DOUBLE
					? json_real(*(const double *)at)
				    : fields[i].kind == FIELD_BOOL
					? json_boolean(*(const bool *)at)
					: hist_json(at));
	}
	return obj;
}

static int read_window(const struct window_field *fields, size_t n,
		       const json_t *obj, void *window)
{
	char *base = window;
	size_t i;

	for (i = 0; i < n; i++) {
		const json_t *x = json_object_get(obj, fields[i].name);
		void *at = base + fields[i].offset;

		if (fields[i].kind == FIELD_HIST) {
			if (read_hist(x, at))
				return -EINVAL;
		} else if (fields[i].kind == FIELD_BOOL) {
			if (!json_is_boolean(x))
				return -EINVAL;
			*(bool *)at = json_is_true(x);
		} else {
			if (!json_is_number(x))
				return -EINVAL;
			*(double *)at = json_number_value(x);
		}
	}
	return 0;
}

/* The metrics window: its fields, what was missing, the predictions. */
static json_t *metrics_window_json(const struct metrics_window *m)
{
	json_t *obj =
	    window_json(metrics_fields, FIELD_COUNT(metrics_fields), m);
	json_t *classes = json_array();
	unsigned i;

	for (i = 0; i < m->class_count && i < ANALYSIS_CLASSES_MAX; i++)
		json_array_append_new(classes, json_pack("{s:s, s:f}", "class",
							 m->classes[i], "count",
							 m->class_counts[i]));
	json_object_set_new(obj, "missing", json_string(m->missing));
	json_object_set_new(obj, "classes", classes);
	return obj;
}

static int read_metrics_window(const json_t *obj, struct metrics_window *m)
{
	const json_t *classes = json_object_get(obj, "classes");
	const char *missing =
	    json_string_value(json_object_get(obj, "missing"));
	size_t i;

	memset(m, 0, sizeof(*m));
	if (read_window(metrics_fields, FIELD_COUNT(metrics_fields), obj, m) ||
	    !missing || strlen(missing) >= sizeof(m->missing) ||
	    !json_is_array(classes) ||
	    json_array_size(classes) > ANALYSIS_CLASSES_MAX)
		return -EINVAL;
	snprintf(m->missing, sizeof(m->missing), "%s", missing);
	for (i = 0; i < json_array_size(classes); i++) {
		const json_t *c = json_array_get(classes, i);
		const char *name =
		    json_string_value(json_object_get(c, "class"));
		const json_t *count = json_object_get(c, "count");

		if (!name || strlen(name) >= ANALYSIS_CLASS_LEN ||
		    !json_is_number(count))
			return -EINVAL;
		snprintf(m->classes[i], ANALYSIS_CLASS_LEN, "%s", name);
		m->class_counts[i] = json_number_value(count);
	}
	m->class_count = (unsigned)json_array_size(classes);
	return 0;
}

static json_t *baseline_json(const struct service_rt *s)
{
	return json_pack(
	    "{s:i, s:o, s:o}", "step", (int)s->stable_baseline_step, "kernel",
	    window_json(kernel_fields, FIELD_COUNT(kernel_fields),
			&s->stable_baseline_kernel),
	    "metrics", metrics_window_json(&s->stable_baseline_metrics));
}

/* A record's baseline, when it has a readable one; a bad one is left out
 * (its rollout then waits at a last step, as it would without it). */
static void read_baseline(struct state_record *rec, const json_t *b)
{
	const json_t *step = json_object_get(b, "step");

	rec->has_stable_baseline = false;
	if (!b)
		return;
	if (!json_is_integer(step) || json_integer_value(step) < 1 ||
	    read_window(kernel_fields, FIELD_COUNT(kernel_fields),
			json_object_get(b, "kernel"),
			&rec->stable_baseline_kernel) ||
	    read_metrics_window(json_object_get(b, "metrics"),
				&rec->stable_baseline_metrics)) {
		log_warn("state file: service %s: the stable pool's baseline "
			 "is unreadable: left out",
			 rec->name);
		return;
	}
	rec->stable_baseline_step = (uint32_t)json_integer_value(step);
	rec->has_stable_baseline = true;
}

void statefile_fingerprint(uint64_t fingerprint, char *buf, size_t len)
{
	snprintf(buf, len, "%016llx", (unsigned long long)fingerprint);
}

/* One service's record without its decisions (decision_log_splice adds
 * them as the text they are kept in). */
static json_t *service_json(const struct service_rt *s)
{
	char fingerprint[STATE_FINGERPRINT_LEN];
	json_t *record;

	statefile_fingerprint(s->config_fingerprint, fingerprint,
			      sizeof(fingerprint));
	record = json_pack(
	    "{s:s, s:s, s:o, s:I, s:I, s:I}", "name", s->cfg.def.name,
	    "config_fingerprint", fingerprint, "rollout",
	    statefile_rollout_json(&s->rollout), "evaluations_pass",
	    (json_int_t)s->evaluations[VERDICT_PASS], "evaluations_fail",
	    (json_int_t)s->evaluations[VERDICT_FAIL], "rollbacks",
	    (json_int_t)s->rollbacks);
	if (record && s->have_stable_baseline)
		json_object_set_new(record, "stable_baseline",
				    baseline_json(s));
	return record;
}

/* The state as JSON text: {"version", "written", "services": [...]}. */
static int state_text(struct agent *a, struct buf *out)
{
	char written[CLOCK_RFC3339_LEN];
	int ret;
	size_t i;

	clock_format_rfc3339(clock_wall_ms(), written, sizeof(written));
	ret =
	    buf_printf(out, "{\"version\":%d,\"written\":\"%s\",\"services\":[",
		       STATE_VERSION, written);
	for (i = 0; !ret && i < a->service_count; i++) {
		const struct service_rt *s = a->services[i];
		json_t *record = service_json(s);
		char *text =
		    record ? json_dumps(record, JSON_TEXT_FLAGS) : NULL;

		json_decref(record);
		if (!text)
			return -ENOMEM;
		if (i)
			ret = buf_append(out, ",", 1);
		if (!ret)
			ret = decision_log_splice(&s->decisions,
						  STATE_DECISIONS_KEPT, text,
						  "decisions", out);
		free(text);
	}
	return ret ? ret : buf_append(out, "]}", 2);
}

static int mkdir_parent(const char *path)
{
	char copy[CONFIG_PATH_LEN];
	char *dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int statefile_write_atomic(const char *path, const char *text, size_t len)
{
	char tmp[CONFIG_PATH_LEN + 32], dircopy[CONFIG_PATH_LEN];
	size_t done = 0;
	int fd, dirfd, ret;

	ret = mkdir_parent(path);
	if (ret)
		return ret;
	snprintf(tmp, sizeof(tmp), "%s" STATE_TMP_SUFFIX "%d", path, getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd)) {
		ret = -errno;
		goto fail;
	}
	close(fd);
	if (rename(tmp, path)) {
		ret = -errno;
		unlink(tmp);
		return ret;
	}
	snprintf(dircopy, sizeof(dircopy), "%s", path);
	dirfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0) {
		fsync(dirfd);
		close(dirfd);
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return ret;
}

void statefile_remove_leftovers(const char *path)
{
	char copy[CONFIG_PATH_LEN], prefix[CONFIG_PATH_LEN + 8];
	const char *base;
	struct dirent *e;
	DIR *dir;
	int dfd;

	snprintf(copy, sizeof(copy), "%s", path);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(prefix, sizeof(prefix), "%s" STATE_TMP_SUFFIX, base);
	dir = opendir(dirname(copy));
	if (!dir)
		return;
	dfd = dirfd(dir);
	while ((e = readdir(dir)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			unlinkat(dfd, e->d_name, 0);
	closedir(dir);
}

int statefile_save(struct agent *a)
{
	struct buf text;
	int ret;

	buf_init(&text, SIZE_MAX / 2);
	ret = state_text(a, &text);
	if (!ret)
		ret = statefile_write_atomic(a->cfg.state_file, text.data,
					     text.len);
	if (ret)
		log_error("cannot write the state file %s: %s",
			  a->cfg.state_file, strerror(-ret));
	buf_free(&text);
	return ret;
}

/* The saved rollout, or why it cannot be used (r->rollout_error). */
static void read_rollout(struct state_record *rec, const json_t *r)
{
	struct rollout_state *st = &rec->rollout;
	struct spec_error serr;
	const char *phase = json_string_value(json_object_get(r, "phase"));
	const char *paused =
	    json_string_value(json_object_get(r, "paused_from"));
	const char *reason = json_string_value(json_object_get(r, "reason"));
	struct rollout_spec base;

	memset(st, 0, sizeof(*st));
	rollout_spec_defaults(&base);
	if (!phase || rollout_phase_parse(phase, &st->phase) ||
	    (paused && rollout_phase_parse(paused, &st->paused_from)) ||
	    rollout_spec_from_json(json_object_get(r, "spec"), &base, "rollout",
				   &st->spec, &serr)) {
		rec->rollout_error = "the state file's rollout is unreadable";
		return;
	}
	st->step = (uint32_t)json_integer_value(json_object_get(r, "step"));
	st->weight_bp =
	    (uint32_t)json_integer_value(json_object_get(r, "weight_bp"));
	st->started_ms =
	    (uint64_t)json_integer_value(json_object_get(r, "started_ms"));
	st->step_started_ms =
	    (uint64_t)json_integer_value(json_object_get(r, "step_started_ms"));
	st->ended_ms =
	    (uint64_t)json_integer_value(json_object_get(r, "ended_ms"));
	st->consecutive_failures = (uint32_t)json_integer_value(
	    json_object_get(r, "consecutive_failures"));
	st->evaluations =
	    (uint32_t)json_integer_value(json_object_get(r, "evaluations"));
	snprintf(st->reason, sizeof(st->reason), "%s", reason ? reason : "");
	st->gate = GATE_NONE;
	if (st->phase == PHASE_WAITING_GATE &&
	    gate_point_parse(json_string_value(json_object_get(r, "gate")),
			     &st->gate)) {
		rec->rollout_error = "the state file's gate is unreadable";
		return;
	}
	st->gate_since_ms =
	    (uint64_t)json_integer_value(json_object_get(r, "gate_since_ms"));
	if (st->step >= st->spec.step_count ||
	    st->weight_bp > KN_WEIGHT_SCALE_BP)
		rec->rollout_error =
		    "the state file's step or weight is out of range";
}

void statefile_parse_record(const json_t *rec, struct state_record *r)
{
	const char *fp =
	    json_string_value(json_object_get(rec, "config_fingerprint"));
	const json_t *decisions = json_object_get(rec, "decisions");

	r->has_fingerprint = fp != NULL;
	snprintf(r->config_fingerprint, sizeof(r->config_fingerprint), "%s",
		 fp ? fp : "");
	read_rollout(r, json_object_get(rec, "rollout"));
	read_baseline(r, json_object_get(rec, "stable_baseline"));
	if (json_is_array(decisions)) {
		r->decisions = json_deep_copy(decisions);
		if (!r->decisions)
			r->decisions = json_array();
	}
	r->evaluations_pass = (uint64_t)json_integer_value(
	    json_object_get(rec, "evaluations_pass"));
	r->evaluations_fail = (uint64_t)json_integer_value(
	    json_object_get(rec, "evaluations_fail"));
	r->rollbacks =
	    (uint64_t)json_integer_value(json_object_get(rec, "rollbacks"));
}

void statefile_records_free(struct state_record *records, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		json_decref(records[i].decisions);
	free(records);
}

int statefile_load(const char *path, struct state_record **records,
		   size_t *count)
{
	json_error_t jerr;
	json_t *root, *services, *rec;
	struct state_record *out;
	size_t i, n = 0;

	*records = NULL;
	*count = 0;
	statefile_remove_leftovers(path);
	if (access(path, F_OK))
		return errno == ENOENT ? 0 : -errno;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		log_warn("state file %s:%d:%d: %s", path, jerr.line,
			 jerr.column, jerr.text);
		return -EINVAL;
	}
	if (json_integer_value(json_object_get(root, "version")) !=
	    STATE_VERSION) {
		json_decref(root);
		return -EPROTO;
	}
	services = json_object_get(root, "services");
	out = calloc(json_array_size(services) ? json_array_size(services) : 1,
		     sizeof(*out));
	if (!out) {
		json_decref(root);
		return -ENOMEM;
	}
	json_array_foreach(services, i, rec)
	{
		const char *name =
		    json_string_value(json_object_get(rec, "name"));

		/* A name too long for a service names none of them. */
		if (!name || strlen(name) >= sizeof(out[n].name))
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", name);
		statefile_parse_record(rec, &out[n]);
		n++;
	}
	json_decref(root);
	*records = out;
	*count = n;
	return 0;
}
