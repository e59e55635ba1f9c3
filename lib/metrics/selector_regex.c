/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * selector_regex.c - the regular expressions of label matchers (=~, !~):
 * what is refused before glibc's regcomp() sees a pattern, compiling, and
 * matching a whole label value (see selector_regex.h).
 */
#include "metrics/selector_regex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * What regcomp() is allowed to build. glibc copies what a bounded repetition
 * repeats once per count, and nested repetitions multiply: a 26-byte
 * "((a{1,100}){1,100}){1,100}" takes 1.8 GB to compile (found by fuzzing a
 * selector). Patterns are refused before regcomp() when the copies would
 * hold more than REGEX_MAX_POSITIONS atoms. Chains of optional copies cost
 * more than their length ("(a{0,1}){1,256}" takes 11 MB, and at 1000 copies
 * 139 MB), so the bound keeps the worst shapes measured under 20 MB; label
 * matchers need a few dozen positions.
 */
#define REGEX_MAX_POSITIONS   256
#define REGEX_MAX_GROUP_DEPTH 64
#define REGEX_DETAIL_BYTES    256

/* One group being measured: atoms so far, and the last atom's size (what a
 * repetition that follows copies); whether the group, its branch so far,
 * the branch before its last atom, and that atom can match the empty
 * string. */
struct regex_group {
	size_t total;
	size_t last;
	bool branch_nullable;
	bool branch_nullable_before_last;
	bool last_nullable;
	bool some_branch_nullable;
};

/* Past a bracket expression at c ('['): its end, or the string's end when it
 * is unterminated (regcomp() then says so). */
static const char *regex_skip_bracket(const char *c)
{
	c++;
	if (*c == '^')
		c++;
	if (*c == ']')
		c++;
	for (; *c && *c != ']'; c++) {
		char close = c[1];

		if (*c != '[' || (close != ':' && close != '.' && close != '='))
			continue;
		/* "[:alpha:]", "[.x.]", "[=e=]": their ']' is not the end. */
		for (c += 2; *c && !(c[0] == close && c[1] == ']'); c++)
			;
		if (!*c)
			return c;
		c++;
	}
	return *c ? c + 1 : c;
}

/* One character of an interval as glibc reads it: an escaped character is
 * that character there ("{1,19\\0}" is {1,190}), and '}' closes only
 * unescaped. Returns the character (-1 for the close) and moves *c on. */
static int regex_interval_char(const char **c)
{
	const char *at = *c;

	if (at[0] == '\\' && at[1]) {
		*c = at + 2;
		return (unsigned char)at[1];
	}
	*c = at + 1;
	return at[0] == '}' ? -1 : (unsigned char)at[0];
}

/* Reads the count after a ',' or after the '{': how far it went, in *count
 * (clamped past REGEX_MAX_POSITIONS); the character that ended it. */
static int regex_interval_number(const char **c, size_t *count, bool *digits)
{
	int ch;

	*count = 0;
	*digits = false;
	while ((ch = regex_interval_char(c)) >= '0' && ch <= '9') {
		if (*count <= REGEX_MAX_POSITIONS)
			*count = *count * 10 + (size_t)(ch - '0');
		*digits = true;
	}
	return ch;
}

/* Reads an interval "{m}", "{m,}", "{,n}" or "{m,n}" at c ('{'): how many
 * copies of the atom it makes, or 0 when the text is not one (regcomp()
 * then refuses it); *end is past the '}', and *optional says whether the
 * atom may be absent ("{0}", "{0,n}", "{,n}", "{0,}"). */
static size_t regex_interval_copies(const char *c, const char **end,
				    bool *optional)
{
	size_t m, n;
	bool has_m, has_n = false, comma = false;
	int ch;

	c++;
	ch = regex_interval_number(&c, &m, &has_m);
	if (ch == ',') {
		comma = true;
		ch = regex_interval_number(&c, &n, &has_n);
	}
	if (ch != -1 || (!has_m && !comma))
		return 0;
	*end = c;
	*optional = m == 0;
	if (has_n)
		m = n;
	else if (comma)
		m++;	      /* "{m,}" is m copies and a star */
	return m > 0 ? m : 1; /* "{0}" still holds its atom */
}

/* The group's last atom repeated: copies of it in place of one. */
static void regex_repeat(struct regex_group *group, size_t copies)
{
	if (group->last > REGEX_MAX_POSITIONS / copies) {
		group->total = REGEX_MAX_POSITIONS + 1;
		return;
	}
	group->total += group->last * (copies - 1);
	group->last *= copies;
}

static const struct regex_group regex_group_start = {
    .branch_nullable = true,
    .branch_nullable_before_last = true,
};

/* A zero-width escape of glibc's: "\b", "\B", "\<", "\>", "\`", "\'". */
static bool regex_escape_is_zero_width(char c)
{
	return c && strchr("bB<>`'", c) != NULL;
}

/* Adds an atom of size atom to the group's branch. */
static void regex_atom(struct regex_group *group, size_t atom, bool nullable)
{
	group->total += atom;
	group->last = atom;
	group->branch_nullable_before_last = group->branch_nullable;
	group->branch_nullable = group->branch_nullable && nullable;
	group->last_nullable = nullable;
}

/* The group's last atom made optional ('?', '*', "{0,n}"). */
static void regex_atom_optional(struct regex_group *group)
{
	group->last_nullable = true;
	group->branch_nullable = group->branch_nullable_before_last;
}

/*
 * Refuses a pattern whose compiled form would be too large or too slow to
 * build, and back-references (RE2, which Prometheus selectors follow, has
 * none, and they make matching exponential). The count is an estimate of
 * the atoms regcomp() makes; it errs large. A repetition of what can match
 * the empty string ("(a?)*", "a**", "(x|)+") is refused too: glibc's
 * closure of nested empty loops takes exponential time (a 100-byte pattern
 * of such groups took 4 s to compile, each 14-byte group more five times
 * that).
 */
static int regex_check(const char *pattern, char *why, size_t why_len)
{
	struct regex_group stack[REGEX_MAX_GROUP_DEPTH + 1];
	struct regex_group *top = stack;
	const char *c = pattern;

	stack[0] = regex_group_start;
	for (; *c && top->total <= REGEX_MAX_POSITIONS; c++) {
		size_t atom = 1, copies = 1;
		bool nullable = false, optional = false;
		const char *end = c;

		if ((*c == '*' || *c == '?' || *c == '+' ||
		     (*c == '{' && (copies = regex_interval_copies(
					c, &end, &optional)) != 0)) &&
		    top->last_nullable) {
			snprintf(why, why_len,
				 "regular expression \"%s\": the repetition "
				 "at column %zu repeats what can match the "
				 "empty string (as in \"(a?)*\"): exponential "
				 "to compile",
				 pattern, (size_t)(c - pattern) + 1);
			return -EINVAL;
		}
		switch (*c) {
		case '(':
			if (top == &stack[REGEX_MAX_GROUP_DEPTH]) {
				snprintf(why, why_len,
					 "regular expression \"%s\" nests "
					 "groups more than %d deep",
					 pattern, REGEX_MAX_GROUP_DEPTH);
				return -E2BIG;
			}
			*++top = regex_group_start;
			continue;
		case ')': /* an unmatched ')' is a literal to glibc */
			if (top > stack) { /* the group's own node, even "()" */
				nullable = top->branch_nullable ||
					   top->some_branch_nullable;
				atom = (top--)->total + 1;
			}
			break;
		case '|': /* a node of its own */
			top->total++;
			top->last = 0;
			top->some_branch_nullable |= top->branch_nullable;
			top->branch_nullable = true;
			top->branch_nullable_before_last = true;
			top->last_nullable = false;
			continue;
		case '^':
		case '$':
			nullable = true;
			break;
		case '[':
			c = regex_skip_bracket(c) - 1;
			break;
		case '\\':
			if (c[1] >= '1' && c[1] <= '9') {
				snprintf(why, why_len,
					 "regular expression \"%s\": "
					 "back-references (\\%c at column "
					 "%zu) are not supported",
					 pattern, c[1],
					 (size_t)(c - pattern) + 1);
				return -EINVAL;
			}
			nullable = regex_escape_is_zero_width(c[1]);
			if (c[1])
				c++;
			break;
		case '*':
		case '?': /* no copy: a node around the atom */
			top->total++;
			top->last++;
			regex_atom_optional(top);
			continue;
		case '+': /* glibc writes "a+" as "aa*": "a++" is four */
			regex_repeat(top, 2);
			continue;
		case '{':
			if (!copies) /* not an interval: a literal '{' */
				break;
			c = end - 1;
			regex_repeat(top, copies);
			if (optional)
				regex_atom_optional(top);
			continue;
		}
		regex_atom(top, atom, nullable);
	}
	/* Groups left open add to those around them; regcomp() refuses them
	 * anyway. */
	for (; top > stack; top--)
		top[-1].total += top->total;
	if (stack[0].total > REGEX_MAX_POSITIONS) {
		snprintf(why, why_len,
			 "regular expression \"%s\" is too large: its "
			 "repetitions ({m,n}) would copy it to more than %d "
			 "positions",
			 pattern, REGEX_MAX_POSITIONS);
		return -E2BIG;
	}
	return 0;
}

int selector_regex_compile(regex_t *re, const char *pattern, char *why,
			   size_t why_len)
{
	char detail[REGEX_DETAIL_BYTES];
	int rc = regex_check(pattern, why, why_len);

	if (rc)
		return rc;
	rc = regcomp(re, pattern, REG_EXTENDED);
	if (rc == 0)
		return 0;
	regerror(rc, re, detail, sizeof(detail));
	snprintf(why, why_len, "invalid regular expression \"%s\": %s", pattern,
		 detail);
	return -EINVAL;
}

/*
 * Whole-value match. Anchoring by wrapping the pattern as ^(...)$ would be
 * undone by a stray ')' (glibc's ERE reads an unmatched ')' literally), so
 * the match itself must span the value: POSIX regexec() reports the
 * leftmost-longest match, which covers the value whenever any match does.
 */
bool selector_regex_full_match(const regex_t *re, const char *value)
{
	regmatch_t match;

	if (regexec(re, value, 1, &match, 0) != 0)
		return false;
	return match.rm_so == 0 && (size_t)match.rm_eo == strlen(value);
}
