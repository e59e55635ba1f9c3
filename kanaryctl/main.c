/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * main.c - the command-line client of kanaryd's HTTP API.
 *
 *   kanaryctl [--server URL] [--token-file F] [--json] COMMAND [ARGS]
 *
 * Commands come from one table ({ "status", do_status }, ...), here with
 * their help; each lives in the file of its group (ctl.h lists them). Each
 * reads the agent's JSON and prints either that JSON (--json) or a
 * rendering of it for people, so both outputs come from the same answer.
 * Exit codes (enum ctl_exit): 0 done, 1 refused by the agent or the
 * outcome failed, 2 bad command line, 3 the server could not be reached
 * or is not kanaryd. docs/man/kanaryctl.1 is the manual.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "util/version.h"

static const struct command commands[];

static const struct command *find_command(const char *name)
{
	const struct command *cmd;

	for (cmd = commands; cmd->name; cmd++)
		if (!strcmp(cmd->name, name))
			return cmd;
	return NULL;
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
	       "failed), 2 bad command line, 3 server unreachable or not "
	       "kanaryd\n",
	       CTL_SERVER_ENV, CTL_DEFAULT_SERVER, CTL_TOKEN_FILE_ENV, PROG);
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
	.synopsis =
	    "SERVICE [--steps 10,25,50,75,100 | --step-count N "
	    "--window 10m]\n"
	    "        [--interval 30s] [--min-requests 100] "
	    "[--warmup 50]\n"
	    "        [--max-failures 2] [--spec FILE]\n"
	    "        [--gate-before-start URL] [--gate-before-step URL]\n"
	    "        [--gate-before-promotion URL|manual]",
	.summary = "start a rollout",
	.help =
	    "Starts a rollout of the service's canary pool. Without\n"
	    "flags the service's configured spec applies; --spec FILE\n"
	    "gives a whole rollout spec (JSON, docs/config.md), which\n"
	    "the other flags amend.\n"
	    "  --steps         canary percents, ascending, ending at 100\n"
	    "  --step-count    equal steps over --window\n"
	    "  --interval      minimum time per step\n"
	    "  --min-requests  requests per pool before a step is judged\n"
	    "  --warmup        warm-up requests per canary backend first\n"
	    "  --max-failures  failed evaluations in a row before rollback\n"
	    "  --gate-before-start, --gate-before-step,\n"
	    "  --gate-before-promotion\n"
	    "                  wait there for a URL's 200 (kanaryd POSTs\n"
	    "                  the status) or, with 'manual', for\n"
	    "                  'kanaryctl approve'",
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
	.name = "approve",
	.run = do_approve,
	.synopsis = "SERVICE",
	.summary = "let a rollout waiting for a gate go on",
	.help = "Approves the gate the rollout waits for (phase\n"
		"waiting_gate): a manual gate, or a URL's gate that holds.\n"
		"The rollout goes on to its next step or to promotion.",
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
		"IPv4:PORT,IPv4:PORT,... or [IPv6]:PORT,[IPv6]:PORT,...\n"
		"(--canary '' empties the canary pool). Outside a rollout\n"
		"only.",
    },
    {
	.name = "set-affinity",
	.run = do_set_affinity,
	.synopsis = "SERVICE client|connection",
	.summary = "how new connections pick their version",
	.help = "client: a client address keeps its version (the default).\n"
		"connection: each connection draws its version and replica,\n"
		"so the share follows the weight with few clients (behind a\n"
		"gateway or a NAT), without stickiness. Open connections\n"
		"stay where they are; a rollout's step window starts over.",
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
		const char *arg = argv[i], *eq;
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
		eq = split_flag(arg, name);
		g = global_flag(&ctl, name,
				eq ? eq : (i + 1 < argc ? argv[i + 1] : NULL),
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
	ctl.cmd = cmd;
	ctl.command = cmd->name;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmd->run(&ctl, argc - i, argv + i);
	ctl_client_free(&ctl.client);
	curl_global_cleanup();
	return ret;
}
