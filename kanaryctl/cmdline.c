/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cmdline.c - kanaryctl's command lines: error messages, a command's flags
 * and positionals among the global flags, --help, and the client set up
 * from --server/--token-file or the environment.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "util/units.h"

void say_error(const struct ctl *ctl, const char *fmt, ...)
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

int usage_error(const struct ctl *ctl, const char *fmt, ...)
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

void print_command_help(const struct command *cmd)
{
	printf("usage: %s [global options] %s %s\n\n%s\n", PROG, cmd->name,
	       cmd->synopsis, cmd->help);
	printf("\nglobal options: --server URL, --token-file FILE, --json, "
	       "--help\n");
}

const char *split_flag(const char *arg, char name[FLAG_NAME_LEN])
{
	const char *eq = strchr(arg, '=');

	snprintf(name, FLAG_NAME_LEN, "%.*s",
		 (int)(eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)), arg + 2);
	return eq ? eq + 1 : NULL;
}

int global_flag(struct ctl *ctl, const char *name, const char *value,
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

enum parse_result parse_args(struct ctl *ctl, int argc, char **argv,
			     const struct flag *flags, const char **positionals,
			     const char *const *pos_names, size_t min_pos,
			     size_t max_pos)
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
		eq = split_flag(arg, name);
		if (eq)
			value = eq;
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
						    name, eq);
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

bool begin(struct ctl *ctl, int argc, char **argv, const struct flag *flags,
	   const char **positionals, const char *const *pos_names,
	   size_t min_pos, size_t max_pos, int *exit_code)
{
	*exit_code = CTL_EXIT_OK;
	switch (parse_args(ctl, argc, argv, flags, positionals, pos_names,
			   min_pos, max_pos)) {
	case PARSE_HELP:
		print_command_help(ctl->cmd);
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

int parse_duration_flag(struct ctl *ctl, const char *flag, const char *text,
			uint64_t *ms)
{
	char err[CTL_ERR_LEN];

	if (units_parse_duration_ms(text, ms, err, sizeof(err)))
		return usage_error(ctl, "--%s '%s': %s", flag, text, err);
	return CTL_EXIT_OK;
}

int read_json_file(struct ctl *ctl, const char *flag, const char *path,
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
