/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ctl.h - what kanaryctl's files share: the state of one run (struct ctl),
 * a command's entry in the table of commands, and the calls each file
 * offers the others:
 *   cmdline.c   messages, flags and positionals, --help, the client setup
 *   call.c      one API call, its answer checked for kanaryd's shape
 *   output.c    reading the agent's JSON into text, tables, escaping
 *   services.c  status, watch, decisions (reading)
 *   rollout.c   rollout, pause, resume, promote, abort
 *   pools.c     set-weight, set-backends
 *   inspect_cmd.c  inspect-metrics (no agent involved; inspect.c reads)
 *   main.c      the table of commands and the dispatch
 */
#ifndef KANARY_CTL_CTL_H
#define KANARY_CTL_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define PROG		"kanaryctl"
#define MAX_POSITIONALS 2
#define TABLE_MAX_COLS	10
#define TABLE_MAX_ROWS	1100 /* the agent keeps up to 1000 decisions */
#define CELL_LEN	256  /* a decision's reason fits */
#define MS_PER_S	1000
#define BP_PER_PERCENT	100.0
#define HTTP_OK_MIN	200
#define HTTP_OK_MAX	299

struct command;

struct ctl {
	struct ctl_client client;
	bool json;
	const char *server_flag;
	const char *token_flag;
	const struct command *cmd; /* NULL before the command is known */
	const char *command;	   /* cmd->name */
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

/* ---- cmdline.c ------------------------------------------------------------
 */

enum parse_result {
	PARSE_OK = 0,
	PARSE_HELP,
	PARSE_USAGE,
};

void say_error(const struct ctl *ctl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Says what is wrong and where to look; returns CTL_EXIT_USAGE. */
int usage_error(const struct ctl *ctl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void print_command_help(const struct command *cmd);
#define FLAG_NAME_LEN 64
/*
 * The name of a "--name" or "--name=value" argument into name; returns
 * what follows '=', or NULL when there is no '='.
 */
const char *split_flag(const char *arg, char name[FLAG_NAME_LEN]);
/*
 * A global flag (--json, --server, --token-file), valid before the command
 * and among its arguments. Returns 1 when taken (*consumed_value: value
 * was its value), 0 when name is no global flag, -1 when its value is
 * missing.
 */
int global_flag(struct ctl *ctl, const char *name, const char *value,
		bool *consumed_value);
/*
 * Reads a command's arguments: its flags (--name VALUE, --name=VALUE or
 * --switch), the global ones, and up to max_pos positionals named in
 * pos_names (min_pos of them required).
 */
enum parse_result parse_args(struct ctl *ctl, int argc, char **argv,
			     const struct flag *flags, const char **positionals,
			     const char *const *pos_names, size_t min_pos,
			     size_t max_pos);
/*
 * Parses, handles --help, sets up the client. Returns true when the
 * command goes on; false with *exit_code set when it is done (help shown,
 * or a usage error).
 */
bool begin(struct ctl *ctl, int argc, char **argv, const struct flag *flags,
	   const char **positionals, const char *const *pos_names,
	   size_t min_pos, size_t max_pos, int *exit_code);
/* A duration flag ("30s", "10m") in ms, or CTL_EXIT_USAGE after saying so. */
int parse_duration_flag(struct ctl *ctl, const char *flag, const char *text,
			uint64_t *ms);
/* A file holding one JSON object, or CTL_EXIT_USAGE after saying why not. */
int read_json_file(struct ctl *ctl, const char *flag, const char *path,
		   json_t **out);

/* ---- call.c ---------------------------------------------------------------
 */

/* What a successful answer must look like to be kanaryd's. */
enum answer_shape {
	ANSWER_SERVICE,	  /* one service: {"name", "phase", ...} */
	ANSWER_SERVICES,  /* {"services": [service, ...]} */
	ANSWER_DECISIONS, /* {"name", "decisions": [...]} */
};

/*
 * One API call. Returns CTL_EXIT_OK with *answer (the JSON object the
 * caller json_decref()s; for people, its strings already escaped), or the
 * exit code after saying what went wrong. With --json, an error body from
 * the agent is printed on stdout too.
 */
int call_agent(struct ctl *ctl, const char *method, const char *path,
	       const json_t *body, enum answer_shape shape, json_t **answer);
/* /api/v1/services/NAME[/ACTION] into buf, or CTL_EXIT_USAGE. */
int service_path(struct ctl *ctl, const char *name, const char *action,
		 char *buf, size_t len);

/* ---- output.c -------------------------------------------------------------
 */

void print_json(const json_t *obj);
/*
 * JSON text as it is, but DEL and C1 controls (raw in strings, which JSON
 * allows) written as \u00HH: --json output carries nothing a terminal acts
 * on either.
 */
void print_json_text(const char *text);
/* --json: prints the answer and takes it; returns CTL_EXIT_OK. */
int print_json_answer(json_t *answer);
/* A string member, or "-". */
const char *jstr(const json_t *obj, const char *key);
/* A number member into *out; false when absent or not a number. */
bool jnum(const json_t *obj, const char *key, double *out);
/* step i/n: "step" counts from 1 while a rollout runs, else is 0. */
void step_text(const json_t *svc, char *buf, size_t len);
void percent_text(const json_t *obj, const char *key, char *buf, size_t len);
void ms_text(const json_t *obj, const char *key, char *buf, size_t len);
void count_text(const json_t *obj, const char *key, char *buf, size_t len);
/* "-" without obj, "up" when obj's up_key is true, else "down: why_key". */
void up_down_text(const json_t *obj, const char *up_key, const char *why_key,
		  char *buf, size_t len);
/* The service's new status after an operation; takes svc. */
int report_operation(struct ctl *ctl, const char *name, const char *done,
		     json_t *svc);
/*
 * Escapes what a terminal would act on in text that came from the network
 * (C0 and C1 controls, DEL) as \xHH, in place in every string of a JSON
 * tree; everything else stays as it is. Returns -ENOMEM or 0.
 */
int escape_json_strings(json_t *tree);
/* The same for one string into buf (cut to len). */
const char *escape_text(const char *text, char *buf, size_t len);

typedef char table_cell[CELL_LEN];

struct table {
	size_t cols;
	size_t rows;
	table_cell cell[TABLE_MAX_ROWS][TABLE_MAX_COLS];
};

struct table *table_new(size_t cols, const char *const *header);
/* The next row's cells, or NULL when the table is full. */
table_cell *table_row(struct table *t);
void table_print(const struct table *t, const char *indent);

/* ---- the commands ---------------------------------------------------------
 */

int do_status(struct ctl *ctl, int argc, char **argv);
int do_watch(struct ctl *ctl, int argc, char **argv);
int do_decisions(struct ctl *ctl, int argc, char **argv);
int do_rollout(struct ctl *ctl, int argc, char **argv);
int do_pause(struct ctl *ctl, int argc, char **argv);
int do_resume(struct ctl *ctl, int argc, char **argv);
int do_promote(struct ctl *ctl, int argc, char **argv);
int do_abort(struct ctl *ctl, int argc, char **argv);
int do_approve(struct ctl *ctl, int argc, char **argv);
int do_set_weight(struct ctl *ctl, int argc, char **argv);
int do_set_backends(struct ctl *ctl, int argc, char **argv);
int do_set_affinity(struct ctl *ctl, int argc, char **argv);
int do_inspect_metrics(struct ctl *ctl, int argc, char **argv);

/* The positional of the commands that act on one service. */
extern const char *const service_pos[];

#endif /* KANARY_CTL_CTL_H */
