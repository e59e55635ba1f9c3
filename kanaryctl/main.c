/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * main.c - the command-line client of kanaryd's HTTP API.
 *
 *   kanaryctl [--server URL] [--token-file F] [--json] COMMAND [ARGS]
 *
 * Commands come from one table ({ "status", do_status }, ...). Each reads
 * the agent's JSON and prints either that JSON (--json) or a rendering of
 * it for people, so both outputs come from the same answer. Exit codes
 * (enum ctl_exit): 0 done, 1 refused by the agent or the outcome failed,
 * 2 bad command line, 3 the server could not be reached.
 * docs/man/kanaryctl.1 is the manual.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <linux/types.h> /* kanary_shared.h uses __u32 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "util/version.h"
#include "inspect.h"
#include "kanary_shared.h"
#include "metrics/metric_presets.h"
#include "util/netaddr.h"
#include "judge/rollout_spec.h"
#include "util/units.h"

#define PROG			  "kanaryctl"
#define MAX_POSITIONALS		  2
#define FLAG_NAME_LEN		  64
#define TABLE_MAX_COLS		  10
#define TABLE_MAX_ROWS		  1100 /* the agent keeps up to 1000 decisions */
#define CELL_LEN		  256  /* a decision's reason fits */
#define WATCH_DEFAULT_INTERVAL_MS 1000
#define WATCH_BAR_WIDTH		  50
#define MS_PER_S		  1000
#define NS_PER_MS		  1000000L
#define BP_PER_PERCENT		  100.0
/* A page of model-server metrics is far below this. */
#define INSPECT_MAX_PAGE_BYTES (64 * 1024 * 1024)
#define DECISIONS_HUMAN_MAX    50
#define HTTP_OK_MIN	       200
#define HTTP_OK_MAX	       299

struct ctl {
	struct ctl_client client;
	bool json;
	const char *server_flag;
	const char *token_flag;
	const char *command;
};

/* A flag of one command: a value into *value, or a switch into *set. */
struct flag {
	const char *name; /* without the leading "--" */
	const char **value;
	bool *set;
};

struct command {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
	const char *synopsis;
	const char *summary; /* one line, for the list of commands */
	const char *help;
};

static const struct command commands[];

/* ---- messages ------------------------------------------------------------ */

static void __attribute__((format(printf, 2, 3)))
say_error(const struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	if (ctl && ctl->command)
		fprintf(stderr, "%s: ", ctl->command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int __attribute__((format(printf, 2, 3)))
usage_error(const struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	if (ctl->command)
		fprintf(stderr, "%s: ", ctl->command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (ctl->command)
		fprintf(stderr, "\n(see '%s %s --help')\n", PROG, ctl->command);
	else
		fprintf(stderr, "\n(see '%s --help')\n", PROG);
	return CTL_EXIT_USAGE;
}

static const struct command *find_command(const char *name)
{
	const struct command *cmd;

	for (cmd = commands; cmd->name; cmd++)
		if (!strcmp(cmd->name, name))
			return cmd;
	return NULL;
}

static void print_command_help(const struct command *cmd)
{
	printf("usage: %s [global options] %s %s\n\n%s\n", PROG, cmd->name,
	       cmd->synopsis, cmd->help);
	printf("\nglobal options: --server URL, --token-file FILE, --json, "
	       "--help\n");
}

static void print_help(void)
{
	const struct command *cmd;

	printf("usage: %s [--server URL] [--token-file FILE] [--json] "
	       "COMMAND [ARGS]\n\n"
	       "Controls kanaryd, the canary-release agent, over its HTTP "
	       "API.\n\ncommands:\n",
	       PROG);
	for (cmd = commands; cmd->name; cmd++)
		printf("  %-16s %s\n", cmd->name, cmd->summary);
	printf("\nglobal options:\n"
	       "  --server URL       kanaryd's API (default $%s, else %s)\n"
	       "  --token-file FILE  bearer token for state changes (default "
	       "$%s)\n"
	       "  --json             print the agent's JSON instead of "
	       "tables\n"
	       "  --help             this text; '%s COMMAND --help' for a "
	       "command\n"
	       "  --version          print the version\n\n"
	       "exit status: 0 done, 1 refused by the agent (or the rollout "
	       "failed), 2 bad command line, 3 server unreachable\n",
	       CTL_SERVER_ENV, CTL_DEFAULT_SERVER, CTL_TOKEN_FILE_ENV, PROG);
}

/* ---- command lines ---------------------------------------------------------
 */

enum parse_result {
	PARSE_OK = 0,
	PARSE_HELP,
	PARSE_USAGE,
};

/* Global flags, valid before the command and among its arguments. */
static int global_flag(struct ctl *ctl, const char *name, const char *value,
		       bool *consumed_value)
{
	*consumed_value = false;
	if (!strcmp(name, "json")) {
		ctl->json = true;
		return 1;
	}
	if (!strcmp(name, "server") || !strcmp(name, "token-file")) {
		if (!value)
			return -1;
		if (!strcmp(name, "server"))
			ctl->server_flag = value;
		else
			ctl->token_flag = value;
		*consumed_value = true;
		return 1;
	}
	return 0;
}

/*
 * Reads a command's arguments: its flags (--name VALUE, --name=VALUE or
 * --switch), the global ones, and up to max_pos positionals named in
 * pos_names (min_pos of them required).
 */
static enum parse_result parse_args(struct ctl *ctl, int argc, char **argv,
				    const struct flag *flags,
				    const char **positionals,
				    const char *const *pos_names,
				    size_t min_pos, size_t max_pos)
{
	size_t npos = 0;
	bool options_done = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL, *eq;
		char name[FLAG_NAME_LEN];
		const struct flag *f;
		bool consumed;
		int g;

		if (options_done || arg[0] != '-' || !strcmp(arg, "-")) {
			if (npos == max_pos) {
				usage_error(ctl, "unexpected argument '%s'",
					    arg);
				return PARSE_USAGE;
			}
			positionals[npos++] = arg;
			continue;
		}
		if (!strcmp(arg, "--")) {
			options_done = true;
			continue;
		}
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help"))
			return PARSE_HELP;
		if (strncmp(arg, "--", 2) != 0) {
			usage_error(ctl, "unknown flag '%s'", arg);
			return PARSE_USAGE;
		}
		eq = strchr(arg, '=');
		snprintf(name, sizeof(name), "%.*s",
			 (int)(eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)),
			 arg + 2);
		if (eq)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[i + 1];

		for (f = flags; f && f->name; f++)
			if (!strcmp(f->name, name))
				break;
		if (f && f->name) {
			if (f->set) {
				if (eq) {
					usage_error(ctl,
						    "flag --%s takes no value "
						    "(got '%s')",
						    name, eq + 1);
					return PARSE_USAGE;
				}
				*f->set = true;
				continue;
			}
			if (!value) {
				usage_error(ctl, "flag --%s needs a value",
					    name);
				return PARSE_USAGE;
			}
			*f->value = value;
			if (!eq)
				i++;
			continue;
		}
		g = global_flag(ctl, name, value, &consumed);
		if (g < 0) {
			usage_error(ctl, "flag --%s needs a value", name);
			return PARSE_USAGE;
		}
		if (g == 0) {
			usage_error(ctl, "unknown flag '--%s'", name);
			return PARSE_USAGE;
		}
		if (consumed && !eq)
			i++;
	}
	if (npos < min_pos) {
		usage_error(ctl, "missing %s", pos_names[npos]);
		return PARSE_USAGE;
	}
	return PARSE_OK;
}

/* Server and token from flags, then the environment. */
static int setup_client(struct ctl *ctl)
{
	const char *server = ctl->server_flag, *token_file = ctl->token_flag;
	const char *server_from = "--server", *token_from = "--token-file";
	char err[CTL_ERR_LEN];

	if (!server) {
		server = getenv(CTL_SERVER_ENV);
		server_from = "$" CTL_SERVER_ENV;
	}
	if (!server || !*server)
		server = CTL_DEFAULT_SERVER;
	if (ctl_client_set_server(&ctl->client, server, err, sizeof(err)))
		return usage_error(ctl, "%s: %s", server_from, err);
	if (!token_file) {
		token_file = getenv(CTL_TOKEN_FILE_ENV);
		token_from = "$" CTL_TOKEN_FILE_ENV;
		if (token_file && !*token_file)
			token_file = NULL;
	}
	if (token_file &&
	    ctl_client_read_token(&ctl->client, token_file, err, sizeof(err)))
		return usage_error(ctl, "%s: %s", token_from, err);
	return CTL_EXIT_OK;
}

/*
 * Parses, handles --help, sets up the client. Returns true when the
 * command goes on; false with *exit_code set when it is done (help shown,
 * or a usage error).
 */
static bool begin(struct ctl *ctl, int argc, char **argv,
		  const struct flag *flags, const char **positionals,
		  const char *const *pos_names, size_t min_pos, size_t max_pos,
		  int *exit_code)
{
	*exit_code = CTL_EXIT_OK;
	switch (parse_args(ctl, argc, argv, flags, positionals, pos_names,
			   min_pos, max_pos)) {
	case PARSE_HELP:
		print_command_help(find_command(ctl->command));
		return false;
	case PARSE_USAGE:
		*exit_code = CTL_EXIT_USAGE;
		return false;
	case PARSE_OK:
		break;
	}
	*exit_code = setup_client(ctl);
	return *exit_code == CTL_EXIT_OK;
}

/* ---- talking to the agent ------------------------------------------------ */

/*
 * One API call. Returns CTL_EXIT_OK with *answer (the JSON object the
 * caller json_decref()s), or the exit code after saying what went wrong.
 * With --json, an error body from the agent is printed on stdout too.
 */
static int call_agent(struct ctl *ctl, const char *method, const char *path,
		      const json_t *body, json_t **answer)
{
	struct ctl_response r;
	char err[CTL_ERR_LEN];
	int ret;

	*answer = NULL;
	ret =
	    ctl_request(&ctl->client, method, path, body, &r, err, sizeof(err));
	if (ret == -ENOMEM || ret == -E2BIG) {
		say_error(ctl, "%s", err);
		return CTL_EXIT_REFUSED;
	}
	if (ret) {
		say_error(ctl,
			  "cannot reach kanaryd at %s\n  is kanaryd running "
			  "and listening there? Point kanaryctl at it with "
			  "--server URL or $%s",
			  err, CTL_SERVER_ENV);
		return CTL_EXIT_UNREACHABLE;
	}
	if (r.status < HTTP_OK_MIN || r.status > HTTP_OK_MAX) {
		const char *msg = NULL, *field = NULL;

		if (json_is_object(r.json)) {
			msg =
			    json_string_value(json_object_get(r.json, "error"));
			field =
			    json_string_value(json_object_get(r.json, "field"));
		}
		if (ctl->json && json_is_object(r.json))
			printf("%s", r.body);
		say_error(ctl, "refused by kanaryd (HTTP %ld): %s%s%s%s",
			  r.status, msg ? msg : "(no message)",
			  field && *field ? " [field: " : "",
			  field && *field ? field : "",
			  field && *field ? "]" : "");
		if (r.status == 401)
			fprintf(stderr,
				"  give the token with --token-file FILE or "
				"$%s\n",
				CTL_TOKEN_FILE_ENV);
		ctl_response_free(&r);
		return CTL_EXIT_REFUSED;
	}
	if (!json_is_object(r.json)) {
		say_error(ctl,
			  "%s%s answered HTTP %ld with something that is not "
			  "a JSON object; is that server kanaryd?",
			  ctl->client.server, path, r.status);
		ctl_response_free(&r);
		return CTL_EXIT_REFUSED;
	}
	*answer = json_incref(r.json);
	ctl_response_free(&r);
	return CTL_EXIT_OK;
}

static int service_path(struct ctl *ctl, const char *name, const char *action,
			char *buf, size_t len)
{
	if (ctl_service_path(name, action, buf, len)) {
		say_error(ctl, "service name '%s' is too long", name);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

static void print_json(const json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(12));

	if (text) {
		printf("%s\n", text);
		free(text);
	}
}

/* ---- reading the agent's JSON ------------------------------------------- */

static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "-";
}

static bool jnum(const json_t *obj, const char *key, double *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return true;
}

/* step i/n: "step" counts from 1 while a rollout runs, else is 0. */
static void step_text(const json_t *svc, char *buf, size_t len)
{
	double step = 0, n = 0;

	if (!jnum(svc, "step", &step) || !jnum(svc, "steps", &n) || step <= 0 ||
	    n <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f/%.0f", step, n);
}

static void percent_text(const json_t *obj, const char *key, char *buf,
			 size_t len)
{
	double v;

	if (jnum(obj, key, &v))
		snprintf(buf, len, "%.2f%%", v);
	else
		snprintf(buf, len, "-");
}

static void ms_text(const json_t *obj, const char *key, char *buf, size_t len)
{
	double v;

	if (jnum(obj, key, &v))
		snprintf(buf, len, "%.1fms", v);
	else
		snprintf(buf, len, "-");
}

/*
 * A pool's recent signals, {"requests", "error_rate_pct", "p99_ms"}, from
 * the latest point of the service's history (the status has none).
 */
static const json_t *pool_signals(const json_t *point, const char *pool)
{
	return json_object_get(point, pool);
}

/* The newest point of a service's history, or NULL (none yet). */
static int fetch_last_point(struct ctl *ctl, const char *name, json_t **point)
{
	char path[CTL_SERVER_LEN];
	json_t *history, *points;
	int ret;

	*point = NULL;
	ret = service_path(ctl, name, "history", path, sizeof(path));
	ret = ret ?: call_agent(ctl, "GET", path, NULL, &history);
	if (ret)
		return ret;
	points = json_object_get(history, "points");
	if (json_array_size(points))
		*point = json_incref(
		    json_array_get(points, json_array_size(points) - 1));
	json_decref(history);
	return CTL_EXIT_OK;
}

/* ---- tables ----------------------------------------------------------------
 */

typedef char table_cell[CELL_LEN];

struct table {
	size_t cols;
	size_t rows;
	table_cell cell[TABLE_MAX_ROWS][TABLE_MAX_COLS];
};

static struct table *table_new(size_t cols, const char *const *header)
{
	struct table *t = calloc(1, sizeof(*t));
	size_t c;

	if (!t)
		return NULL;
	t->cols = cols;
	for (c = 0; c < cols; c++)
		snprintf(t->cell[0][c], CELL_LEN, "%s", header[c]);
	t->rows = 1;
	return t;
}

/* The next row's cells, or NULL when the table is full. */
static table_cell *table_row(struct table *t)
{
	if (t->rows == TABLE_MAX_ROWS)
		return NULL;
	return t->cell[t->rows++];
}

static void table_print(const struct table *t, const char *indent)
{
	size_t width[TABLE_MAX_COLS] = {0};
	size_t r, c;

	for (r = 0; r < t->rows; r++)
		for (c = 0; c < t->cols; c++)
			if (strlen(t->cell[r][c]) > width[c])
				width[c] = strlen(t->cell[r][c]);
	for (r = 0; r < t->rows; r++) {
		fputs(indent, stdout);
		for (c = 0; c < t->cols; c++) {
			if (c + 1 == t->cols)
				printf("%s", t->cell[r][c]);
			else
				printf("%-*s  ", (int)width[c], t->cell[r][c]);
		}
		putchar('\n');
	}
}

/* ---- status ----------------------------------------------------------------
 */

static const char *const status_header[] = {
    "NAME",	  "VIP",	"PHASE",      "STEP",	    "CANARY",
    "STABLE-ERR", "STABLE-P99", "CANARY-ERR", "CANARY-P99",
};
#define STATUS_COLS (sizeof(status_header) / sizeof(status_header[0]))

static void status_row(struct table *t, const json_t *svc, const json_t *point)
{
	table_cell *row = table_row(t);
	const json_t *stable = pool_signals(point, "stable");
	const json_t *canary = pool_signals(point, "canary");

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
		double v;

		if (!row)
			break;
		snprintf(row[0], CELL_LEN, "%s", jstr(b, "address"));
		snprintf(row[1], CELL_LEN, "%s", jstr(b, "pool"));
		if (!json_is_object(health))
			snprintf(row[2], CELL_LEN, "-");
		else if (json_is_true(json_object_get(health, "healthy")))
			snprintf(row[2], CELL_LEN, "up");
		else
			snprintf(row[2], CELL_LEN, "down: %s",
				 jstr(health, "reason"));
		snprintf(row[3], CELL_LEN, "-");
		if (jnum(kernel, "new_connections", &v))
			snprintf(row[3], CELL_LEN, "%.0f", v);
		snprintf(row[4], CELL_LEN, "-");
		if (jnum(json_object_get(kernel, "http"), "5xx", &v))
			snprintf(row[4], CELL_LEN, "%.0f", v);
		ms_text(json_object_get(kernel, "latency"), "p99_ms", row[5],
			CELL_LEN);
		if (!json_is_object(metrics))
			snprintf(row[6], CELL_LEN, "-");
		else if (json_is_true(json_object_get(metrics, "up")))
			snprintf(row[6], CELL_LEN, "up");
		else
			snprintf(row[6], CELL_LEN, "down: %s",
				 jstr(metrics, "last_error"));
	}
	printf("\n");
	table_print(t, "");
	free(t);
}

static const char *const service_pos[] = {"SERVICE"};

static int do_status(struct ctl *ctl, int argc, char **argv)
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
	ret = call_agent(ctl, "GET", path, NULL, &answer);
	if (ret)
		return ret;
	if (ctl->json) {
		print_json(answer);
		json_decref(answer);
		return CTL_EXIT_OK;
	}
	t = table_new(STATUS_COLS, status_header);
	if (!t) {
		json_decref(answer);
		return CTL_EXIT_REFUSED;
	}
	if (pos[0]) {
		list = json_pack("[O]", answer);
	} else {
		list = json_incref(json_object_get(answer, "services"));
	}
	json_array_foreach(list, i, svc)
	{
		json_t *point;

		ret = fetch_last_point(ctl, jstr(svc, "name"), &point);
		if (ret)
			break;
		status_row(t, svc, point);
		json_decref(point);
	}
	json_decref(list);
	if (ret) {
		free(t);
		json_decref(answer);
		return ret;
	}
	table_print(t, "");
	free(t);
	if (pos[0]) {
		const char *reason =
		    json_string_value(json_object_get(answer, "reason"));

		if (reason && *reason)
			printf("\nlast transition: %s\n", reason);
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
static int watch_render(const json_t *svc, const json_t *point, bool tty)
{
	char bar[WATCH_BAR_WIDTH + 3], step[CELL_LEN], pct[CELL_LEN];
	char se[CELL_LEN], sp[CELL_LEN], ce[CELL_LEN], cp[CELL_LEN];
	const json_t *stable = pool_signals(point, "stable");
	const json_t *canary = pool_signals(point, "canary");
	const char *reason = json_string_value(json_object_get(svc, "reason"));
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
		printf("%s %s phase=%s step=%s canary=%s stable_err=%s "
		       "stable_p99=%s canary_err=%s canary_p99=%s\n",
		       stamp, jstr(svc, "name"), jstr(svc, "phase"), step, pct,
		       se, sp, ce, cp);
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

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * MS_PER_S +
	       (uint64_t)(ts.tv_nsec / NS_PER_MS);
}

static int parse_duration_flag(struct ctl *ctl, const char *flag,
			       const char *text, uint64_t *ms)
{
	char err[CTL_ERR_LEN];

	if (units_parse_duration_ms(text, ms, err, sizeof(err)))
		return usage_error(ctl, "--%s '%s': %s", flag, text, err);
	return CTL_EXIT_OK;
}

static int do_watch(struct ctl *ctl, int argc, char **argv)
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
	started = mono_ms();
	for (;;) {
		json_t *svc, *point = NULL;
		char now[sizeof(last)], step[CELL_LEN];
		double pct = 0;

		ret = call_agent(ctl, "GET", path, NULL, &svc);
		if (!ret && !ctl->json) {
			ret = fetch_last_point(ctl, pos[0], &point);
			if (ret)
				json_decref(svc);
		}
		if (ret)
			return ret;
		if (!phase_is_final(svc))
			seen_active = true;
		if (ctl->json) {
			print_json(svc);
		} else if (tty) {
			if (lines)
				printf("\033[%dA", lines);
			lines = watch_render(svc, point, true);
		} else {
			/* Plain output: a line when something moved. */
			step_text(svc, step, sizeof(step));
			jnum(svc, "canary_percent", &pct);
			snprintf(now, sizeof(now), "%s %s %.2f",
				 jstr(svc, "phase"), step, pct);
			if (strcmp(now, last)) {
				watch_render(svc, point, false);
				snprintf(last, sizeof(last), "%s", now);
			}
		}
		fflush(stdout);
		json_decref(point);
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
		if (timeout_ms && mono_ms() - started >= timeout_ms) {
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

/* ---- changing state ---------------------------------------------------- */

/* Prints the new status after an operation. */
static int report_operation(struct ctl *ctl, const char *name, const char *done,
			    json_t *svc)
{
	char step[CELL_LEN], pct[CELL_LEN];

	if (ctl->json) {
		print_json(svc);
	} else {
		step_text(svc, step, sizeof(step));
		percent_text(svc, "canary_percent", pct, sizeof(pct));
		printf("%s: %s; phase %s, step %s, canary %s\n", name, done,
		       jstr(svc, "phase"), step, pct);
	}
	json_decref(svc);
	return CTL_EXIT_OK;
}

static int simple_operation(struct ctl *ctl, int argc, char **argv,
			    const char *action, const char *done)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	char path[CTL_SERVER_LEN];
	json_t *svc;
	int ret;

	if (!begin(ctl, argc, argv, NULL, pos, service_pos, 1, 1, &ret))
		return ret;
	ret = service_path(ctl, pos[0], action, path, sizeof(path));
	ret = ret ?: call_agent(ctl, "POST", path, NULL, &svc);
	return ret ?: report_operation(ctl, pos[0], done, svc);
}

static int do_pause(struct ctl *ctl, int argc, char **argv)
{
	return simple_operation(ctl, argc, argv, "pause", "paused");
}

static int do_resume(struct ctl *ctl, int argc, char **argv)
{
	return simple_operation(ctl, argc, argv, "resume", "resumed");
}

static int do_abort(struct ctl *ctl, int argc, char **argv)
{
	return simple_operation(ctl, argc, argv, "abort", "aborted");
}

static int do_promote(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	bool full = false;
	const struct flag flags[] = {
	    {"full", NULL, &full},
	    {NULL, NULL, NULL},
	};
	char path[CTL_SERVER_LEN];
	json_t *body = NULL, *svc;
	int ret;

	if (!begin(ctl, argc, argv, flags, pos, service_pos, 1, 1, &ret))
		return ret;
	if (full)
		body = json_pack("{s:b}", "full", 1);
	ret = service_path(ctl, pos[0], "promote", path, sizeof(path));
	ret = ret ?: call_agent(ctl, "POST", path, body, &svc);
	json_decref(body);
	return ret
		   ?: report_operation(ctl, pos[0],
				       full ? "promoted in full"
					    : "moved to the next step",
				       svc);
}

/* "10,25,50,75,100" -> [10, 25, 50, 75, 100] */
static int steps_json(struct ctl *ctl, const char *text, json_t **out)
{
	char copy[ROLLOUT_MAX_STEPS * 8], *save = NULL, *item;
	char err[CTL_ERR_LEN];
	json_t *list;

	if (strlen(text) >= sizeof(copy) || !*text)
		return usage_error(ctl,
				   "--steps '%s': give percents like "
				   "10,25,50,75,100",
				   text);
	snprintf(copy, sizeof(copy), "%s", text);
	list = json_array();
	for (item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		uint32_t bp;

		if (netaddr_parse_percent_bp(item, &bp, err, sizeof(err))) {
			json_decref(list);
			return usage_error(ctl, "--steps '%s': %s", text, err);
		}
		json_array_append_new(list, json_real(bp / BP_PER_PERCENT));
	}
	*out = list;
	return CTL_EXIT_OK;
}

static int uint_flag(struct ctl *ctl, const char *flag, const char *text,
		     json_t *body, const char *key)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v > UINT32_MAX)
		return usage_error(ctl, "--%s '%s': not a whole number", flag,
				   text);
	json_object_set_new(body, key, json_integer((json_int_t)v));
	return CTL_EXIT_OK;
}

static int duration_flag(struct ctl *ctl, const char *flag, const char *text,
			 json_t *body, const char *key)
{
	char buf[UNITS_DURATION_STR_LEN];
	uint64_t ms;

	if (parse_duration_flag(ctl, flag, text, &ms))
		return CTL_EXIT_USAGE;
	json_object_set_new(
	    body, key,
	    json_string(units_format_duration_ms(ms, buf, sizeof(buf))));
	return CTL_EXIT_OK;
}

static int read_json_file(struct ctl *ctl, const char *flag, const char *path,
			  json_t **out)
{
	json_error_t jerr;

	*out = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out)
		return usage_error(ctl, "--%s '%s': line %d, column %d: %s",
				   flag, path, jerr.line, jerr.column,
				   jerr.text);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return usage_error(ctl, "--%s '%s': must hold a JSON object",
				   flag, path);
	}
	return CTL_EXIT_OK;
}

static int do_rollout(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	const char *steps = NULL, *count = NULL, *window = NULL,
		   *interval = NULL, *min_requests = NULL, *warmup = NULL,
		   *max_failures = NULL, *spec = NULL;
	const struct flag flags[] = {
	    {"steps", &steps, NULL},
	    {"step-count", &count, NULL},
	    {"window", &window, NULL},
	    {"interval", &interval, NULL},
	    {"min-requests", &min_requests, NULL},
	    {"warmup", &warmup, NULL},
	    {"max-failures", &max_failures, NULL},
	    {"spec", &spec, NULL},
	    {NULL, NULL, NULL},
	};
	char path[CTL_SERVER_LEN];
	json_t *body = NULL, *svc, *list = NULL;
	int ret;

	if (!begin(ctl, argc, argv, flags, pos, service_pos, 1, 1, &ret))
		return ret;
	if (steps && (count || window))
		return usage_error(ctl, "give --steps, or --step-count with "
					"--window, not both");
	if (!count != !window)
		return usage_error(ctl, "--step-count and --window go "
					"together (10 steps over 10m: "
					"--step-count 10 --window 10m)");
	if (spec)
		ret = read_json_file(ctl, "spec", spec, &body);
	else
		body = json_object();
	if (ret)
		return ret;
	if (steps) {
		ret = steps_json(ctl, steps, &list);
		if (!ret) {
			json_object_set_new(body, "steps", list);
			json_object_del(body, "step_count");
			json_object_del(body, "window");
		}
	}
	if (!ret && count) {
		ret = uint_flag(ctl, "step-count", count, body, "step_count");
		ret =
		    ret ?: duration_flag(ctl, "window", window, body, "window");
		json_object_del(body, "steps");
	}
	if (!ret && interval)
		ret =
		    duration_flag(ctl, "interval", interval, body, "interval");
	if (!ret && min_requests)
		ret = uint_flag(ctl, "min-requests", min_requests, body,
				"min_requests");
	if (!ret && warmup)
		ret = uint_flag(ctl, "warmup", warmup, body, "warmup_requests");
	if (!ret && max_failures)
		ret = uint_flag(ctl, "max-failures", max_failures, body,
				"max_failures");
	ret = ret ?: service_path(ctl, pos[0], "rollout", path, sizeof(path));
	/* No flags: no body, and the agent applies the service's spec. */
	ret = ret
		  ?: call_agent(ctl, "POST", path,
				json_object_size(body) ? body : NULL, &svc);
	json_decref(body);
	return ret ?: report_operation(ctl, pos[0], "rollout started", svc);
}

static const char *const weight_pos[] = {"SERVICE", "PERCENT"};

static int do_set_weight(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	char path[CTL_SERVER_LEN], err[CTL_ERR_LEN];
	json_t *body, *svc;
	uint32_t bp;
	int ret;

	if (!begin(ctl, argc, argv, NULL, pos, weight_pos, 2, 2, &ret))
		return ret;
	if (netaddr_parse_percent_bp(pos[1], &bp, err, sizeof(err)))
		return usage_error(ctl, "PERCENT '%s': %s", pos[1], err);
	body = json_pack("{s:f}", "canary_percent", bp / BP_PER_PERCENT);
	ret = service_path(ctl, pos[0], "weight", path, sizeof(path));
	ret = ret ?: call_agent(ctl, "PUT", path, body, &svc);
	json_decref(body);
	return ret ?: report_operation(ctl, pos[0], "weight set", svc);
}

/* "A:P,B:Q" -> ["A:P", "B:Q"]; "" -> [] (empties the pool). */
static int endpoints_json(struct ctl *ctl, const char *flag, const char *text,
			  json_t **out)
{
	struct endpoint eps[KN_MAX_POOL_BACKENDS];
	char err[CTL_ERR_LEN], buf[NETADDR_ENDPOINT_STR_LEN];
	size_t n = 0, i;

	if (*text && netaddr_parse_endpoint_list(
			 text, eps, KN_MAX_POOL_BACKENDS, &n, err, sizeof(err)))
		return usage_error(ctl, "--%s '%s': %s", flag, text, err);
	*out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(*out, json_string(netaddr_endpoint_str(
						&eps[i], buf, sizeof(buf))));
	return CTL_EXIT_OK;
}

static int do_set_backends(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	const char *stable = NULL, *canary = NULL;
	const struct flag flags[] = {
	    {"stable", &stable, NULL},
	    {"canary", &canary, NULL},
	    {NULL, NULL, NULL},
	};
	char path[CTL_SERVER_LEN];
	json_t *body, *list, *svc;
	int ret;

	if (!begin(ctl, argc, argv, flags, pos, service_pos, 1, 1, &ret))
		return ret;
	if (!stable && !canary)
		return usage_error(ctl, "give --stable LIST and/or --canary "
					"LIST (IPv4:PORT,...; '' empties the "
					"canary pool)");
	body = json_object();
	if (stable) {
		ret = endpoints_json(ctl, "stable", stable, &list);
		if (!ret)
			json_object_set_new(body, "stable", list);
	}
	if (!ret && canary) {
		ret = endpoints_json(ctl, "canary", canary, &list);
		if (!ret)
			json_object_set_new(body, "canary", list);
	}
	ret = ret ?: service_path(ctl, pos[0], "backends", path, sizeof(path));
	ret = ret ?: call_agent(ctl, "PUT", path, body, &svc);
	json_decref(body);
	return ret ?: report_operation(ctl, pos[0], "backends set", svc);
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

static int do_decisions(struct ctl *ctl, int argc, char **argv)
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
	ret = ret ?: call_agent(ctl, "GET", path, NULL, &answer);
	if (ret)
		return ret;
	if (ctl->json) {
		print_json(answer);
		json_decref(answer);
		return CTL_EXIT_OK;
	}
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
		char step[CELL_LEN];
		double v;

		d = json_array_get(list, i);
		if (!row)
			break;
		time_text(d, row[0], CELL_LEN);
		decision_event(d, row[1], CELL_LEN);
		decision_phase(d, row[2], CELL_LEN);
		snprintf(step, sizeof(step), "-");
		if (jnum(d, "step", &v))
			snprintf(step, sizeof(step), "%.0f", v);
		snprintf(row[3], CELL_LEN, "%s", step);
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

/* ---- inspect-metrics -------------------------------------------------------
 */

static bool is_url(const char *s)
{
	return !strncmp(s, "http://", strlen("http://")) ||
	       !strncmp(s, "https://", strlen("https://"));
}

static int read_source(struct ctl *ctl, const char *source, char **text,
		       size_t *len)
{
	char err[CTL_ERR_LEN];
	FILE *f;
	size_t cap = 0;

	*text = NULL;
	*len = 0;
	if (is_url(source)) {
		long status = 0;
		int ret;

		ret = ctl_fetch_url(source, INSPECT_MAX_PAGE_BYTES, text, len,
				    &status, err, sizeof(err));
		if (ret == -E2BIG || ret == -ENOMEM) {
			say_error(ctl, "%s", err);
			return CTL_EXIT_REFUSED;
		}
		if (ret) {
			say_error(ctl, "cannot fetch %s", err);
			return CTL_EXIT_UNREACHABLE;
		}
		if (status < HTTP_OK_MIN || status > HTTP_OK_MAX) {
			say_error(ctl,
				  "%s answered HTTP %ld, not a metrics page",
				  source, status);
			free(*text);
			*text = NULL;
			return CTL_EXIT_REFUSED;
		}
		return CTL_EXIT_OK;
	}
	f = strcmp(source, "-") ? fopen(source, "rb") : stdin;
	if (!f)
		return usage_error(ctl, "cannot read '%s': %s", source,
				   strerror(errno));
	for (;;) {
		size_t n;

		if (*len == cap) {
			char *grown;

			cap = cap ? cap * 2 : 65536;
			if (cap > INSPECT_MAX_PAGE_BYTES + 1)
				cap = INSPECT_MAX_PAGE_BYTES + 1;
			grown = *len < cap ? realloc(*text, cap) : NULL;
			if (!grown) {
				say_error(ctl, "'%s' is over %d bytes", source,
					  INSPECT_MAX_PAGE_BYTES);
				free(*text);
				*text = NULL;
				if (f != stdin)
					fclose(f);
				return CTL_EXIT_REFUSED;
			}
			*text = grown;
		}
		n = fread(*text + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0)
			break;
	}
	if (f != stdin)
		fclose(f);
	return CTL_EXIT_OK;
}

/* "ttft:" or "itl:" with its quantiles, when the page has them. */
static void print_token_timing(const json_t *r, const char *key)
{
	const json_t *t = json_object_get(r, key);
	char a[CELL_LEN], b[CELL_LEN], c[CELL_LEN], label[CELL_LEN];

	if (!json_is_object(t))
		return;
	ms_text(t, "p50_ms", a, sizeof(a));
	ms_text(t, "p90_ms", b, sizeof(b));
	ms_text(t, "p99_ms", c, sizeof(c));
	snprintf(label, sizeof(label), "%s:", key);
	/* In the column of the lines above ("latency:     ") */
	printf("%-12s %.0f observations, p50 %s  p90 %s  p99 %s\n", label,
	       json_number_value(json_object_get(t, "count")), a, b, c);
}

static void print_inspection(const json_t *r)
{
	const json_t *lat = json_object_get(r, "latency");
	const json_t *pred = json_object_get(r, "predictions");
	const json_t *notes = json_object_get(r, "notes"), *v;
	const json_t *matching = json_object_get(r, "matching_presets");
	char a[CELL_LEN], b[CELL_LEN], c[CELL_LEN], d[CELL_LEN];
	double num = 0;
	size_t i;

	printf("source:      %s\n", jstr(r, "source"));
	printf("preset:      %s%s", jstr(r, "preset"),
	       json_is_true(json_object_get(r, "detected")) ? " (detected"
							    : "");
	if (json_is_true(json_object_get(r, "detected"))) {
		printf("; matching:");
		json_array_foreach(matching, i, v)
		    printf(" %s", json_string_value(v));
		printf(")");
	}
	printf("\n");
	jnum(r, "requests", &num);
	printf("requests:    %.0f (%lld series)\n", num,
	       (long long)json_integer_value(
		   json_object_get(r, "request_series")));
	jnum(r, "errors", &num);
	percent_text(r, "error_rate_pct", a, sizeof(a));
	printf("errors:      %.0f (%s of requests)\n", num, a);
	if (json_is_object(lat)) {
		printf("latency:     %s %s, %.0f observations\n",
		       jstr(lat, "kind"), jstr(lat, "metric"),
		       json_number_value(json_object_get(lat, "count")));
		if (!strcmp(jstr(lat, "kind"), "mean")) {
			ms_text(lat, "mean_ms", d, sizeof(d));
			printf("             mean %s (a summed duration gives "
			       "no quantiles)\n",
			       d);
		} else if (json_object_get(lat, "quantiles_error")) {
			printf("             %s\n",
			       jstr(lat, "quantiles_error"));
		} else {
			ms_text(lat, "p50_ms", a, sizeof(a));
			ms_text(lat, "p90_ms", b, sizeof(b));
			ms_text(lat, "p99_ms", c, sizeof(c));
			ms_text(lat, "mean_ms", d, sizeof(d));
			printf("             p50 %s  p90 %s  p99 %s  mean %s\n",
			       a, b, c, d);
		}
	} else {
		printf("latency:     none on the page through this spec\n");
	}
	print_token_timing(r, "ttft");
	print_token_timing(r, "itl");
	if (json_is_array(pred)) {
		printf("predictions: %zu classes\n", json_array_size(pred));
		json_array_foreach(pred, i, v)
		{
			const char *label =
			    json_string_value(json_object_get(v, "label"));

			percent_text(v, "share_pct", a, sizeof(a));
			printf("             %-20s %12.0f  %s\n",
			       label ? label : "(other)",
			       json_number_value(json_object_get(v, "count")),
			       a);
		}
	} else {
		printf("predictions: none\n");
	}
	json_array_foreach(notes, i, v)
	    printf("note:        %s\n", json_string_value(v));
}

static void print_inspection_error(struct ctl *ctl, const json_t *r)
{
	const json_t *tried = json_object_get(r, "tried"), *v;
	double line = 0, column = 0;
	size_t i;

	if (jnum(r, "line", &line) && line > 0) {
		jnum(r, "column", &column);
		say_error(ctl, "%s:%.0f:%.0f: not a valid metrics page: %s",
			  jstr(r, "source"), line, column, jstr(r, "error"));
		return;
	}
	say_error(ctl, "%s: %s", jstr(r, "source"), jstr(r, "error"));
	json_array_foreach(tried, i, v) fprintf(
	    stderr, "  %-20s %s\n", jstr(v, "preset"), jstr(v, "error"));
}

static int do_inspect_metrics(struct ctl *ctl, int argc, char **argv)
{
	static const char *const pos_names[] = {"URL or FILE"};
	const char *pos[MAX_POSITIONALS] = {NULL};
	const char *preset = NULL, *spec_file = NULL;
	const struct flag flags[] = {
	    {"preset", &preset, NULL},
	    {"spec", &spec_file, NULL},
	    {NULL, NULL, NULL},
	};
	struct metric_spec spec;
	bool have_spec = false;
	char *text = NULL, err[CTL_ERR_LEN];
	json_t *result = NULL;
	size_t len = 0;
	int ret;

	/* No agent involved: only the flags. */
	switch (parse_args(ctl, argc, argv, flags, pos, pos_names, 1, 1)) {
	case PARSE_HELP:
		print_command_help(find_command(ctl->command));
		return CTL_EXIT_OK;
	case PARSE_USAGE:
		return CTL_EXIT_USAGE;
	case PARSE_OK:
		break;
	}
	if (preset && spec_file)
		return usage_error(ctl, "give --preset or --spec, not both");
	if (preset) {
		if (metric_spec_preset(preset, &spec)) {
			char names[CTL_ERR_LEN] = "";
			const char *name;
			size_t i, used = 0;

			for (i = 0; (name = metric_preset_name(i)) &&
				    used < sizeof(names);
			     i++)
				used += (size_t)snprintf(
				    names + used, sizeof(names) - used, "%s%s",
				    i ? ", " : "", name);
			return usage_error(ctl,
					   "--preset '%s': no such preset "
					   "(known: %s)",
					   preset, names);
		}
		have_spec = true;
	}
	if (spec_file) {
		json_t *obj;

		if (read_json_file(ctl, "spec", spec_file, &obj))
			return CTL_EXIT_USAGE;
		ret = metric_spec_from_json(obj, &spec, err, sizeof(err));
		json_decref(obj);
		if (ret)
			return usage_error(ctl, "--spec '%s': %s", spec_file,
					   err);
		have_spec = true;
	}
	ret = read_source(ctl, pos[0], &text, &len);
	if (ret)
		return ret;
	ret = ctl_inspect_page(pos[0], text, len, have_spec ? &spec : NULL,
			       &result);
	free(text);
	if (!result) {
		say_error(ctl, "out of memory");
		return CTL_EXIT_REFUSED;
	}
	if (ctl->json)
		print_json(result);
	else if (ret)
		print_inspection_error(ctl, result);
	else
		print_inspection(result);
	json_decref(result);
	return ret ? CTL_EXIT_REFUSED : CTL_EXIT_OK;
}

/* ---- the table of commands ------------------------------------------------
 */

static const struct command commands[] = {
    {
	.name = "status",
	.run = do_status,
	.synopsis = "[SERVICE]",
	.summary = "services: phase, step, weight, each pool's signals",
	.help = "Shows every service (or one, with its backends): phase,\n"
		"step, canary weight, and each pool's error rate and p99\n"
		"latency.",
    },
    {
	.name = "watch",
	.run = do_watch,
	.synopsis = "SERVICE [--interval 1s] [--timeout DURATION]",
	.summary = "follow a rollout live until it ends",
	.help = "Follows a rollout until it ends: redrawn in place on a\n"
		"terminal, one line per change otherwise (--json: one\n"
		"status per refresh). Exits 0 when the rollout is\n"
		"promoted (or none runs), 1 when it is rolled back or\n"
		"aborted, or when --timeout passes first.",
    },
    {
	.name = "rollout",
	.run = do_rollout,
	.synopsis = "SERVICE [--steps 10,25,50,75,100 | --step-count N "
		    "--window 10m]\n"
		    "        [--interval 30s] [--min-requests 100] "
		    "[--warmup 50]\n"
		    "        [--max-failures 2] [--spec FILE]",
	.summary = "start a rollout",
	.help = "Starts a rollout of the service's canary pool. Without\n"
		"flags the service's configured spec applies; --spec FILE\n"
		"gives a whole rollout spec (JSON, docs/config.md), which\n"
		"the other flags amend.\n"
		"  --steps         canary percents, ascending, ending at 100\n"
		"  --step-count    equal steps over --window\n"
		"  --interval      minimum time per step\n"
		"  --min-requests  requests per pool before a step is judged\n"
		"  --warmup        warm-up requests per canary backend first\n"
		"  --max-failures  failed evaluations in a row before rollback",
    },
    {
	.name = "pause",
	.run = do_pause,
	.synopsis = "SERVICE",
	.summary = "hold a rollout at its step",
	.help = "Holds the rollout at its current step; the weight stays.",
    },
    {
	.name = "resume",
	.run = do_resume,
	.synopsis = "SERVICE",
	.summary = "continue a paused rollout",
	.help = "Continues a paused rollout.",
    },
    {
	.name = "promote",
	.run = do_promote,
	.synopsis = "SERVICE [--full]",
	.summary = "the next step now, or --full to 100 %",
	.help = "Moves the rollout to its next step now, or with --full\n"
		"to 100 %, making the canary pool the stable pool.",
    },
    {
	.name = "abort",
	.run = do_abort,
	.synopsis = "SERVICE",
	.summary = "end a rollout: all to the stable pool",
	.help = "Stops the rollout and sends all new connections to the\n"
		"stable pool.",
    },
    {
	.name = "set-weight",
	.run = do_set_weight,
	.synopsis = "SERVICE PERCENT",
	.summary = "set the canary weight by hand",
	.help = "Sets the canary's share of new connections (0-100, two\n"
		"decimals) outside a rollout.",
    },
    {
	.name = "set-backends",
	.run = do_set_backends,
	.synopsis = "SERVICE [--stable LIST] [--canary LIST]",
	.summary = "replace a pool's backends",
	.help = "Replaces a pool's backends: LIST is\n"
		"IPv4:PORT,IPv4:PORT,... (--canary '' empties the canary\n"
		"pool). Outside a rollout only.",
    },
    {
	.name = "decisions",
	.run = do_decisions,
	.synopsis = "SERVICE [--limit N]",
	.summary = "the rollout's decision log",
	.help = "Shows the rollout's decision log, oldest first (the last\n"
		"50 unless --limit).",
    },
    {
	.name = "inspect-metrics",
	.run = do_inspect_metrics,
	.synopsis = "URL|FILE|- [--preset NAME | --spec FILE]",
	.summary = "what kanary reads from a /metrics page",
	.help = "Reads a /metrics page (fetched, from a file, or stdin)\n"
		"the way kanaryd reads a backend's: requests, errors,\n"
		"latency p50/p90/p99 and prediction classes, or exactly\n"
		"why they cannot be read. Without --preset every preset\n"
		"is tried and the best is kept; --spec FILE reads a\n"
		"service's \"metrics\" object (JSON). Exits 1 when the\n"
		"page cannot be read as kanary needs it.",
    },
    {NULL},
};

int main(int argc, char **argv)
{
	struct ctl ctl = {0};
	const struct command *cmd;
	int i, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Global flags before the command. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *arg = argv[i], *eq = strchr(arg, '=');
		char name[FLAG_NAME_LEN];
		bool consumed;
		int g;

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			print_help();
			return CTL_EXIT_OK;
		}
		if (!strcmp(arg, "--version")) {
			printf("%s %s\n", PROG, KANARY_VERSION);
			return CTL_EXIT_OK;
		}
		if (strncmp(arg, "--", 2) != 0)
			return usage_error(&ctl, "unknown flag '%s'", arg);
		snprintf(name, sizeof(name), "%.*s",
			 (int)(eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)),
			 arg + 2);
		g = global_flag(&ctl, name,
				eq ? eq + 1
				   : (i + 1 < argc ? argv[i + 1] : NULL),
				&consumed);
		if (g < 0)
			return usage_error(&ctl, "flag --%s needs a value",
					   name);
		if (g == 0)
			return usage_error(&ctl, "unknown flag '%s'", arg);
		if (consumed && !eq)
			i++;
	}
	if (i == argc) {
		print_help();
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		cmd = i + 1 < argc ? find_command(argv[i + 1]) : NULL;
		if (cmd)
			print_command_help(cmd);
		else
			print_help();
		return CTL_EXIT_OK;
	}
	cmd = find_command(argv[i]);
	if (!cmd) {
		fprintf(stderr, "%s: unknown command '%s'; commands:", PROG,
			argv[i]);
		for (cmd = commands; cmd->name; cmd++)
			fprintf(stderr, " %s", cmd->name);
		fprintf(stderr, "\n(see '%s --help')\n", PROG);
		return CTL_EXIT_USAGE;
	}
	ctl.command = cmd->name;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmd->run(&ctl, argc - i, argv + i);
	ctl_client_free(&ctl.client);
	curl_global_cleanup();
	return ret;
}
