/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * opts.c - the getopt_long loop and the command-line messages of opts.h.
 */
#include "util/opts.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* More than any of kanary's programs has; a larger table is refused. */
#define OPTS_MAX    64
#define ALNUM_COUNT 62 /* a-z, A-Z, 0-9: the possible short options */
/* "+:", two bytes ("v:") per short option, and the NUL. */
#define SHORT_OPTS_LEN (2 + 2 * ALNUM_COUNT + 1)
#define WANT_TEXT_LEN  96

static void vsay(const struct opts_parser *p, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", p->program);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry '%s --help'.\n", p->program);
}

int opts_error(const struct opts_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(p, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *opts_flag_name(const struct opts_parser *p, int id)
{
	const struct option *o;

	for (o = p->long_opts; o && o->name; o++)
		if (o->val == id && !o->flag)
			return o->name;
	return "?";
}

int opts_bad_value(const struct opts_parser *p, int id, const char *value,
		   const char *want)
{
	return opts_error(p, "bad value '%s' for --%s: %s", value,
			  opts_flag_name(p, id), want);
}

int opts_parse_u64(const struct opts_parser *p, int id, const char *text,
		   uint64_t min, uint64_t max, uint64_t *out)
{
	char want[WANT_TEXT_LEN];
	unsigned long long x;
	char *end;

	snprintf(want, sizeof(want),
		 "want a whole number from %" PRIu64 " to %" PRIu64, min, max);
	/* strtoull() would take "-1" or " 1": digits only. */
	if (text[0] < '0' || text[0] > '9')
		return opts_bad_value(p, id, text, want);
	errno = 0;
	x = strtoull(text, &end, 10);
	if (errno || *end || x < min || x > max)
		return opts_bad_value(p, id, text, want);
	*out = x;
	return 0;
}

int opts_parse_uint(const struct opts_parser *p, int id, const char *text,
		    unsigned int min, unsigned int max, unsigned int *out)
{
	uint64_t x;
	int ret = opts_parse_u64(p, id, text, min, max, &x);

	if (!ret)
		*out = (unsigned int)x;
	return ret;
}

int opts_parse_double(const struct opts_parser *p, int id, const char *text,
		      double min, bool min_open, double max, const char *want,
		      double *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(x) || x < min ||
	    (min_open && x == min) || x > max)
		return opts_bad_value(p, id, text, want);
	*out = x;
	return 0;
}

/*
 * getopt's short options from the long ones. ':' first: a missing value is
 * told apart from an unknown flag; '+' keeps getopt from moving
 * positionals when there are none.
 */
static void short_opts_of(const struct opts_parser *p, const struct option *all,
			  char *out, size_t len)
{
	const struct option *o;
	size_t used = 0;

	if (!p->positionals)
		out[used++] = '+';
	out[used++] = ':';
	for (o = all; o->name; o++) {
		if (o->flag || o->val > UCHAR_MAX || !isalnum(o->val) ||
		    used + 3 > len)
			continue;
		out[used++] = (char)o->val;
		if (o->has_arg == required_argument)
			out[used++] = ':';
	}
	out[used] = '\0';
}

/* The program's options and --help, into all[OPTS_MAX + 2]. */
static int with_help(const struct opts_parser *p, struct option *all)
{
	const struct option help = {"help", no_argument, NULL, 'h'};
	size_t n = 0;

	for (; p->long_opts && p->long_opts[n].name; n++) {
		if (n == OPTS_MAX)
			return opts_error(p, "more than %d options", OPTS_MAX);
		all[n] = p->long_opts[n];
	}
	all[n++] = help;
	memset(&all[n], 0, sizeof(all[n]));
	return 0;
}

int opts_parse(const struct opts_parser *p, int argc, char **argv)
{
	struct option all[OPTS_MAX + 2];
	char short_opts[SHORT_OPTS_LEN];
	int id;

	if (with_help(p, all))
		return -EINVAL;
	short_opts_of(p, all, short_opts, sizeof(short_opts));
	opterr = 0; /* our messages, not getopt's */
	optind = 0; /* a fresh scan, also when called again */
	while ((id = getopt_long(argc, argv, short_opts, all, NULL)) != -1) {
		switch (id) {
		case 'h':
			p->usage(stdout);
			return OPTS_HELP;
		case ':':
			return opts_error(p, "flag %s needs a value",
					  argv[optind - 1]);
		case '?':
			if (optopt && optopt != '?')
				return opts_error(p, "unknown flag '-%c'",
						  optopt);
			return opts_error(p, "unknown flag '%s'",
					  argv[optind - 1]);
		default:
			if (p->on_option(p, id, optarg))
				return -EINVAL;
		}
	}
	if (!p->positionals && optind < argc)
		return opts_error(p,
				  "unexpected argument '%s' (all settings are "
				  "flags)",
				  argv[optind]);
	return OPTS_RUN;
}
