/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * opts.h - the one way kanary's programs read their command lines: a thin
 * layer over getopt_long that owns the loop, --help, and every message
 * about a bad command line, so they read the same in every program:
 *
 *   PROGRAM: unknown flag '--frob'
 *   PROGRAM: flag --seed needs a value
 *   PROGRAM: bad value 'v9' for --model: want v1 or v2
 *   PROGRAM: unexpected argument 'x' (all settings are flags)
 *   Try 'PROGRAM --help'.
 *
 * and a bad command line exits with OPTS_EXIT_USAGE (2).
 */
#ifndef KANARY_UTIL_OPTS_H
#define KANARY_UTIL_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define OPTS_EXIT_USAGE 2

struct opts_parser;

/*
 * Takes one option (id is its getopt value, arg its value or NULL).
 * Returns 0, or a negative errno after saying what is wrong through
 * opts_bad_value() or opts_error().
 */
typedef int (*opts_handler)(const struct opts_parser *p, int id,
			    const char *arg);

/*
 * An option whose val is a letter or digit has that short form too (-v
 * for {"verbose", no_argument, NULL, 'v'}). -h and --help are added: the
 * table holds the program's own options only, 'h' not among them.
 */
struct opts_parser {
	const char *program;		/* the start of every message */
	const struct option *long_opts; /* ends with {NULL, 0, NULL, 0} */
	opts_handler on_option;		/* every option but -h/--help */
	void (*usage)(FILE *out);	/* the help text */
	void *ctx;			/* what on_option fills in */
	bool positionals;		/* leave them in argv[optind..argc) */
};

/* A parser of options only (no positionals), in one line. */
#define OPTS_PARSER(program_, long_opts_, on_option_, usage_, ctx_)            \
	{                                                                      \
		.program = (program_), .long_opts = (long_opts_),              \
		.on_option = (on_option_), .usage = (usage_), .ctx = (ctx_),   \
		.positionals = false,                                          \
	}

enum opts_result {
	OPTS_RUN = 0,  /* go on */
	OPTS_HELP = 1, /* --help was printed on stdout: exit 0 */
};

/*
 * Reads argv[1..argc) (getopt's rules: options and, when allowed,
 * positionals in any order, "--" ends the options). Returns OPTS_RUN,
 * OPTS_HELP, or -EINVAL after printing what is wrong and the --help hint.
 */
int opts_parse(const struct opts_parser *p, int argc, char **argv);

/* The long name of option id ("?" when it has none). */
const char *opts_flag_name(const struct opts_parser *p, int id);

/* "PROGRAM: MESSAGE" and the --help hint on stderr; returns -EINVAL. */
int opts_error(const struct opts_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "bad value 'VALUE' for --FLAG: WANT"; returns -EINVAL. */
int opts_bad_value(const struct opts_parser *p, int id, const char *value,
		   const char *want);

/*
 * A whole number from min to max, digits only (no sign, no blanks, no
 * trailing text). Returns 0, or -EINVAL after opts_bad_value().
 */
int opts_parse_u64(const struct opts_parser *p, int id, const char *text,
		   uint64_t min, uint64_t max, uint64_t *out);

/* The same for an unsigned int setting. */
int opts_parse_uint(const struct opts_parser *p, int id, const char *text,
		    unsigned int min, unsigned int max, unsigned int *out);

/*
 * A finite number in [min, max] (min_open: above min, not at it).
 * Returns 0, or -EINVAL after opts_bad_value() with want.
 */
int opts_parse_double(const struct opts_parser *p, int id, const char *text,
		      double min, bool min_open, double max, const char *want,
		      double *out);

#endif /* KANARY_UTIL_OPTS_H */
