/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_opts.c - lib/util/opts.c: options reach the handler with their
 * values, --help stops the parse, and every bad command line is refused
 * with the message that names the flag or the argument (read back from
 * stderr), whole numbers and decimals checked at their bounds.
 */
#include "unit.h"

#include <errno.h>
#include <unistd.h>

#include "util/opts.h"

#define MSG_LEN	  1024
#define MAX_ARGS  16
#define COUNT_MAX 100
#define RATE_MAX  1.0

enum { OPT_COUNT = 256, OPT_RATE, OPT_NAME, OPT_QUIET };

struct seen {
	uint64_t count;
	double rate;
	const char *name;
	bool quiet;
	bool verbose;
	int help_printed;
};

static struct seen seen;

static const struct option long_opts[] = {
    {"count", required_argument, NULL, OPT_COUNT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"name", required_argument, NULL, OPT_NAME},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	(void)out;
	seen.help_printed++;
}

static int on_option(const struct opts_parser *p, int id, const char *arg)
{
	switch (id) {
	case OPT_COUNT:
		return opts_parse_u64(p, id, arg, 1, COUNT_MAX, &seen.count);
	case OPT_RATE:
		return opts_parse_double(p, id, arg, 0, true, RATE_MAX,
					 "want a share above 0, at most 1",
					 &seen.rate);
	case OPT_NAME:
		if (!*arg)
			return opts_bad_value(p, id, arg, "want a name");
		seen.name = arg;
		return 0;
	case OPT_QUIET:
		seen.quiet = true;
		return 0;
	case 'v':
		seen.verbose = true;
		return 0;
	default:
		return -EINVAL;
	}
}

static char message[MSG_LEN];

/* Parses the NULL-terminated words; stderr is caught into message. */
static int parse(bool positionals, const char *const *words)
{
	const struct opts_parser p = {
	    .program = "prog",
	    .long_opts = long_opts,
	    .on_option = on_option,
	    .usage = usage,
	    .positionals = positionals,
	};
	char *argv[MAX_ARGS + 2] = {(char *)"prog"};
	FILE *capture = tmpfile();
	int argc = 1, saved, ret;
	size_t n;

	assert_non_null(capture);
	while (*words && argc <= MAX_ARGS)
		argv[argc++] = (char *)*words++;
	memset(&seen, 0, sizeof(seen));
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(capture), STDERR_FILENO);
	ret = opts_parse(&p, argc, argv);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(capture);
	n = fread(message, 1, sizeof(message) - 1, capture);
	message[n] = '\0';
	fclose(capture);
	return ret;
}

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_values_reach_the_handler(void **state)
{
	(void)state;
	assert_int_equal(parse(false, WORDS("--count", "7", "--rate=0.5",
					    "--name", "x", "--quiet", "-v")),
			 OPTS_RUN);
	assert_int_equal(seen.count, 7);
	assert_true(seen.rate == 0.5);
	assert_string_equal(seen.name, "x");
	assert_true(seen.quiet);
	assert_true(seen.verbose);
	assert_string_equal(message, "");
}

static void test_help(void **state)
{
	(void)state;
	assert_int_equal(parse(false, WORDS("--count", "3", "--help")),
			 OPTS_HELP);
	assert_int_equal(seen.help_printed, 1);
	assert_int_equal(parse(false, WORDS("-h")), OPTS_HELP);
}

struct refusal {
	const char *const *words;
	const char *message;
};

static void test_refusals_name_what_is_wrong(void **state)
{
	const struct refusal cases[] = {
	    {WORDS("--frob"), "prog: unknown flag '--frob'\n"},
	    {WORDS("-x"), "prog: unknown flag '-x'\n"},
	    {WORDS("--count"), "prog: flag --count needs a value\n"},
	    {WORDS("--count", "0"),
	     "prog: bad value '0' for --count: want a whole number from 1 to "
	     "100\n"},
	    {WORDS("--count", "101"), "bad value '101' for --count"},
	    {WORDS("--count", "-1"), "bad value '-1' for --count"},
	    {WORDS("--count", " 5"), "bad value ' 5' for --count"},
	    {WORDS("--count", "5x"), "bad value '5x' for --count"},
	    {WORDS("--count", "99999999999999999999999"),
	     "bad value '99999999999999999999999' for --count"},
	    {WORDS("--rate", "0"),
	     "prog: bad value '0' for --rate: want a share above 0, at most "
	     "1\n"},
	    {WORDS("--rate", "1.01"), "bad value '1.01' for --rate"},
	    {WORDS("--rate", "nan"), "bad value 'nan' for --rate"},
	    {WORDS("--name="), "prog: bad value '' for --name: want a name\n"},
	    {WORDS("stray"),
	     "prog: unexpected argument 'stray' (all settings are flags)\n"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(false, cases[i].words), -EINVAL);
		if (!strstr(message, cases[i].message))
			fail_msg("case %zu: '%s' does not say '%s'", i, message,
				 cases[i].message);
		/* Every refusal ends with where to look. */
		assert_non_null(strstr(message, "Try 'prog --help'.\n"));
	}
}

static void test_positionals_when_allowed(void **state)
{
	(void)state;
	assert_int_equal(parse(true, WORDS("cmd", "--count", "2", "arg")),
			 OPTS_RUN);
	assert_int_equal(seen.count, 2);
	/* getopt moved the positionals behind the options. */
	assert_int_equal(optind, 3);
}

static void test_bounds_inclusive(void **state)
{
	(void)state;
	assert_int_equal(parse(false, WORDS("--count", "100", "--rate", "1")),
			 OPTS_RUN);
	assert_int_equal(seen.count, COUNT_MAX);
	assert_true(seen.rate == RATE_MAX);
	assert_int_equal(parse(false, WORDS("--count", "1")), OPTS_RUN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values_reach_the_handler),
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_refusals_name_what_is_wrong),
	    cmocka_unit_test(test_positionals_when_allowed),
	    cmocka_unit_test(test_bounds_inclusive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
