/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * promparse.c - the strict Prometheus text-format parser (see promparse.h
 * for the format policies).
 *
 * One pass over the page, one line at a time: every read is checked against
 * the end of the current line, found with one bounded memchr(). Strings are
 * copied into an arena that is freed with the page; metric and label names
 * are interned in a hash table keyed with a random per-page SipHash key, so
 * a page crafted to collide cannot make lookups quadratic. Samples are
 * gathered in page order and grouped by family at the end with one counting
 * sort, which keeps interleaved families linear too.
 */
#include "metrics/promparse.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/utf8.h"

#define ARENA_CHUNK_BYTES (64 * 1024)
/* Bigger allocations get a chunk of their own so they waste no chunk tail. */
#define ARENA_DEDICATED_BYTES (ARENA_CHUNK_BYTES / 4)
#define NAME_TABLE_MIN_SLOTS  256
#define VECTOR_MIN_ITEMS      64
#define NO_FAMILY	      UINT32_MAX
/* How much of a bad token an error message quotes. */
#define QUOTED_TOKEN_BYTES  40
#define QUOTED_BUFFER_BYTES (QUOTED_TOKEN_BYTES * 4 + 8)

const char *prom_type_name(enum prom_type type)
{
	switch (type) {
	case PROM_TYPE_UNTYPED:
		return "untyped";
	case PROM_TYPE_COUNTER:
		return "counter";
	case PROM_TYPE_GAUGE:
		return "gauge";
	case PROM_TYPE_HISTOGRAM:
		return "histogram";
	case PROM_TYPE_SUMMARY:
		return "summary";
	case PROM_TYPE_GAUGEHISTOGRAM:
		return "gaugehistogram";
	}
	return "unknown";
}

/* ---- arena ------------------------------------------------------------ */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

struct arena {
	struct arena_chunk *head;
};

static void *arena_alloc(struct arena *arena, size_t size, size_t align)
{
	struct arena_chunk *chunk = arena->head;
	size_t offset, capacity;

	if (chunk) {
		offset = (chunk->used + align - 1) & ~(align - 1);
		if (offset <= chunk->size && size <= chunk->size - offset) {
			chunk->used = offset + size;
			return (unsigned char *)chunk->data + offset;
		}
	}
	capacity = size > ARENA_DEDICATED_BYTES ? size : ARENA_CHUNK_BYTES;
	chunk = malloc(sizeof(*chunk) + capacity);
	if (!chunk)
		return NULL;
	chunk->size = capacity;
	chunk->used = size;
	if (size > ARENA_DEDICATED_BYTES && arena->head) {
		chunk->next = arena->head->next;
		arena->head->next = chunk;
	} else {
		chunk->next = arena->head;
		arena->head = chunk;
	}
	return chunk->data;
}

static char *arena_strndup(struct arena *arena, const char *s, size_t len)
{
	char *copy = arena_alloc(arena, len + 1, 1);

	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

static void arena_free(struct arena *arena)
{
	struct arena_chunk *chunk = arena->head, *next;

	for (; chunk; chunk = next) {
		next = chunk->next;
		free(chunk);
	}
	arena->head = NULL;
}

/* ---- SipHash-1-3: keyed, so colliding names cannot be precomputed ----- */

#define ROTL64(x, bits) (((x) << (bits)) | ((x) >> (64 - (bits))))

#define SIP_ROUND(v0, v1, v2, v3)                                              \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL64(v1, 13);                                           \
		v1 ^= v0;                                                      \
		v0 = ROTL64(v0, 32);                                           \
		v2 += v3;                                                      \
		v3 = ROTL64(v3, 16);                                           \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL64(v3, 21);                                           \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL64(v1, 17);                                           \
		v1 ^= v2;                                                      \
		v2 = ROTL64(v2, 32);                                           \
	} while (0)

static uint64_t siphash13(const void *data, size_t len, const uint64_t key[2])
{
	const unsigned char *in = data;
	const unsigned char *blocks_end = in + (len & ~(size_t)7);
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ULL;
	uint64_t v1 = key[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ULL;
	uint64_t v3 = key[1] ^ 0x7465646279746573ULL;
	uint64_t last = (uint64_t)len << 56;
	uint64_t block;
	size_t i;

	for (; in != blocks_end; in += 8) {
		block = 0;
		for (i = 0; i < 8; i++)
			block |= (uint64_t)in[i] << (8 * i);
		v3 ^= block;
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= block;
	}
	for (i = 0; i < (len & 7); i++)
		last |= (uint64_t)in[i] << (8 * i);
	v3 ^= last;
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

static void random_key(uint64_t key[2], const void *salt)
{
	struct timespec now;

	if (getrandom(key, 2 * sizeof(key[0]), GRND_NONBLOCK) ==
	    (ssize_t)(2 * sizeof(key[0])))
		return;
	/* No entropy this early in boot: weaker, still not guessable offline */
	clock_gettime(CLOCK_MONOTONIC, &now);
	key[0] = (uint64_t)now.tv_nsec * 0x9e3779b97f4a7c15ULL ^
		 (uint64_t)(uintptr_t)salt;
	key[1] = (uint64_t)now.tv_sec ^ ((uint64_t)(uintptr_t)&now << 17);
}

/* ---- interned names ----------------------------------------------------- */

struct name_entry {
	const char *str;
	size_t len;
	uint64_t hash;
	uint32_t family; /* family samples of this name go to, or NO_FAMILY */
	uint64_t label_stamp; /* last sample that used it as a label name */
};

struct name_table {
	struct name_entry **slots;
	size_t mask;
	size_t count;
	uint64_t key[2];
};

static struct name_entry *names_find(const struct name_table *table,
				     const char *s, size_t len, uint64_t hash)
{
	size_t i;

	if (!table->slots)
		return NULL;
	for (i = hash & table->mask; table->slots[i];
	     i = (i + 1) & table->mask) {
		struct name_entry *entry = table->slots[i];

		if (entry->hash == hash && entry->len == len &&
		    memcmp(entry->str, s, len) == 0)
			return entry;
	}
	return NULL;
}

static int names_grow(struct name_table *table)
{
	size_t old_slots = table->slots ? table->mask + 1 : 0;
	size_t new_slots = old_slots ? old_slots * 2 : NAME_TABLE_MIN_SLOTS;
	struct name_entry **slots = calloc(new_slots, sizeof(*slots));
	size_t i, j;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < old_slots; i++) {
		struct name_entry *entry = table->slots[i];

		if (!entry)
			continue;
		for (j = entry->hash & (new_slots - 1); slots[j];
		     j = (j + 1) & (new_slots - 1))
			;
		slots[j] = entry;
	}
	free(table->slots);
	table->slots = slots;
	table->mask = new_slots - 1;
	return 0;
}

static struct name_entry *names_insert(struct name_table *table,
				       struct arena *arena, const char *s,
				       size_t len, uint64_t hash)
{
	struct name_entry *entry;
	size_t i;

	/* Keep the load at or below one half so probes stay short */
	if (!table->slots || (table->count + 1) * 2 > table->mask + 1) {
		if (names_grow(table))
			return NULL;
	}
	entry = arena_alloc(arena, sizeof(*entry), _Alignof(struct name_entry));
	if (!entry)
		return NULL;
	entry->str = arena_strndup(arena, s, len);
	if (!entry->str)
		return NULL;
	entry->len = len;
	entry->hash = hash;
	entry->family = NO_FAMILY;
	entry->label_stamp = 0;
	for (i = hash & table->mask; table->slots[i]; i = (i + 1) & table->mask)
		;
	table->slots[i] = entry;
	table->count++;
	return entry;
}

/* ---- the page ----------------------------------------------------------- */

struct prom_page_store {
	struct prom_page page;
	struct arena arena;
	struct name_table names;
	struct prom_label *labels;
	struct prom_sample *samples;
	struct prom_family *families;
};

void prom_page_free(struct prom_page *page)
{
	struct prom_page_store *store;

	if (!page)
		return;
	store = page->store;
	arena_free(&store->arena);
	free(store->names.slots);
	free(store->labels);
	free(store->samples);
	free(store->families);
	free(store);
}

/* ---- parser state ------------------------------------------------------- */

struct raw_sample {
	struct name_entry *name;
	uint32_t family;
	uint32_t label_count;
	size_t label_start;
	double value;
	int64_t timestamp_ms;
	bool has_timestamp;
};

struct raw_family {
	struct name_entry *name;
	enum prom_type type;
	bool type_fixed; /* by a TYPE line or by the first sample */
	const char *help;
	size_t sample_count;
	size_t first; /* index of its first sample once grouped */
};

struct parser {
	struct prom_limits limits;
	struct prom_error *err;
	struct prom_page_store *store;
	const char *line;     /* start of the current line */
	const char *eol;      /* its line feed, or the end of the input */
	bool line_terminated; /* eol is a line feed, not the end of input */
	unsigned line_no;
	struct raw_sample *samples;
	size_t sample_count, sample_capacity;
	struct raw_family *families;
	size_t family_count, family_capacity;
	size_t label_count, label_capacity; /* labels in store->labels */
	char *scratch; /* unescaped strings, one line long */
	uint64_t sample_stamp;
	/* Consecutive lines repeat names: compare before hashing */
	struct name_entry *last_metric_name;
	struct name_entry **last_label_names;
};

static int grow_vector(void **items, size_t *capacity, size_t needed,
		       size_t item_size)
{
	size_t new_capacity = *capacity ? *capacity : VECTOR_MIN_ITEMS;
	void *grown;

	if (needed <= *capacity)
		return 0;
	while (new_capacity < needed) {
		if (new_capacity > SIZE_MAX / 2 / item_size)
			return -ENOMEM;
		new_capacity *= 2;
	}
	grown = realloc(*items, new_capacity * item_size);
	if (!grown)
		return -ENOMEM;
	*items = grown;
	*capacity = new_capacity;
	return 0;
}

/* Renders s as a short, printable, quoted token for an error message. */
static const char *quote_token(char buf[QUOTED_BUFFER_BYTES], const char *s,
			       size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t shown = len > QUOTED_TOKEN_BYTES ? QUOTED_TOKEN_BYTES : len;
	size_t i, o = 0;

	buf[o++] = '"';
	for (i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c == '\r') {
			buf[o++] = '\\';
			buf[o++] = 'r';
		} else if (c == '\t') {
			buf[o++] = '\\';
			buf[o++] = 't';
		} else if (c < 0x20 || c >= 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	if (shown < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Names what stands at `at` for "found ..." in an error message. */
static const char *describe_at(const struct parser *ps, const char *at,
			       char buf[QUOTED_BUFFER_BYTES])
{
	size_t len;

	if (at >= ps->eol)
		return ps->line_terminated ? "end of line" : "end of input";
	quote_token(buf, at, 1);
	/* 'x' reads better than "x" for a single character */
	len = strlen(buf);
	buf[0] = '\'';
	buf[len - 1] = '\'';
	return buf;
}

/* The character after a backslash, printable, for "invalid escape" errors. */
static const char *escaped_char(char buf[QUOTED_BUFFER_BYTES], char c)
{
	size_t len;

	quote_token(buf, &c, 1);
	/* Drop the quotes */
	len = strlen(buf);
	memmove(buf, buf + 1, len - 2);
	buf[len - 2] = '\0';
	return buf;
}

static int fail_at(struct parser *ps, int code, unsigned line, unsigned column,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail_at(struct parser *ps, int code, unsigned line, unsigned column,
		   const char *fmt, ...)
{
	va_list ap;

	if (!ps->err)
		return code;
	ps->err->line = line;
	ps->err->column = column;
	va_start(ap, fmt);
	vsnprintf(ps->err->message, sizeof(ps->err->message), fmt, ap);
	va_end(ap);
	return code;
}

/* Fails at the byte `at` of the current line. */
#define fail(ps, code, at, ...)                                                \
	fail_at(ps, code, (ps)->line_no, (unsigned)((at) - (ps)->line) + 1,    \
		__VA_ARGS__)

static int fail_nomem(struct parser *ps)
{
	return fail_at(ps, -ENOMEM, ps->line_no, 0,
		       "out of memory while parsing line %u", ps->line_no);
}

/* ---- lexical helpers ---------------------------------------------------- */

/* One table lookup per byte instead of a chain of comparisons */
enum char_class {
	CHAR_BLANK = 1,
	CHAR_LETTER = 2, /* a-z A-Z _ */
	CHAR_DIGIT = 4,
	CHAR_COLON = 8,
};

static const unsigned char char_classes[256] = {
    [' '] = CHAR_BLANK,		 ['\t'] = CHAR_BLANK,
    ['a' ... 'z'] = CHAR_LETTER, ['A' ... 'Z'] = CHAR_LETTER,
    ['_'] = CHAR_LETTER,	 ['0' ... '9'] = CHAR_DIGIT,
    [':'] = CHAR_COLON,
};

static bool char_is(char c, unsigned classes)
{
	return (char_classes[(unsigned char)c] & classes) != 0;
}

static bool is_blank(char c)
{
	return char_is(c, CHAR_BLANK);
}

static bool is_label_start(char c)
{
	return char_is(c, CHAR_LETTER);
}

static bool is_digit(char c)
{
	return char_is(c, CHAR_DIGIT);
}

/* Moves *i past the digits at s[*i]; returns how many there were. */
static size_t skip_digits(const char *s, size_t len, size_t *i)
{
	size_t start = *i;

	while (*i < len && is_digit(s[*i]))
		(*i)++;
	return *i - start;
}

static bool is_label_char(char c)
{
	return char_is(c, CHAR_LETTER | CHAR_DIGIT);
}

static bool is_metric_start(char c)
{
	return char_is(c, CHAR_LETTER | CHAR_COLON);
}

static bool is_metric_char(char c)
{
	return char_is(c, CHAR_LETTER | CHAR_DIGIT | CHAR_COLON);
}

static const char *skip_blanks(const char *c, const char *end)
{
	while (c < end && is_blank(*c))
		c++;
	return c;
}

static const char *token_end(const char *c, const char *end)
{
	while (c < end && !is_blank(*c))
		c++;
	return c;
}

static bool token_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* ---- numbers ------------------------------------------------------------ */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static bool ascii_equal_nocase(const char *s, size_t len, const char *word)
{
	size_t i;

	if (strlen(word) != len)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != word[i])
			return false;
	}
	return true;
}

/* Decimal mantissas up to this are exact doubles */
#define EXACT_MANTISSA_MAX (UINT64_C(1) << 53)
/* Powers of ten up to this are exact doubles */
#define EXACT_POWER_OF_TEN_MAX 22
#define FAST_DIGITS_MAX	       19 /* fit a uint64_t */
#define FAST_EXPONENT_MAX      10000

/*
 * Converts a syntax-checked unsigned decimal without strtod when both its
 * digits and its power of ten are exact doubles: then one IEEE multiply or
 * divide rounds correctly, giving strtod's result bit for bit (Clinger's
 * fast path). Almost every exporter's values take it. Returns false to
 * leave the rest to strtod.
 */
static bool fast_decimal(const char *s, size_t len, double *out)
{
	static const double powers_of_ten[EXACT_POWER_OF_TEN_MAX + 1] = {
	    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,
	    1e8,  1e9,	1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
	};
	uint64_t mantissa = 0;
	int digits = 0, exponent = 0, written = 0;
	bool fraction = false, negative_exponent = false;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			fraction = true;
			continue;
		}
		if (!is_digit(c))
			break;
		if (fraction)
			exponent--;
		/* Leading zeros carry no digit */
		if (mantissa == 0 && c == '0')
			continue;
		if (++digits > FAST_DIGITS_MAX)
			return false;
		mantissa = mantissa * 10 + (uint64_t)(c - '0');
	}
	if (i < len) { /* the exponent */
		i++;
		if (s[i] == '+' || s[i] == '-')
			negative_exponent = s[i++] == '-';
		for (; i < len; i++) {
			if (written > FAST_EXPONENT_MAX)
				return false;
			written = written * 10 + (s[i] - '0');
		}
		exponent += negative_exponent ? -written : written;
	}
	if (mantissa == 0) {
		*out = 0;
		return true;
	}
	if (mantissa > EXACT_MANTISSA_MAX ||
	    exponent > EXACT_POWER_OF_TEN_MAX ||
	    exponent < -EXACT_POWER_OF_TEN_MAX)
		return false;
	*out = exponent < 0 ? (double)mantissa / powers_of_ten[-exponent]
			    : (double)mantissa * powers_of_ten[exponent];
	return true;
}

int prom_parse_float(const char *text, size_t len, double *out)
{
	char buf[PROM_FLOAT_MAX_BYTES + 1];
	const char *rest = text;
	size_t i, rest_len = len, mantissa_digits = 0;
	bool has_sign = false, negative = false;
	char *parsed_end;
	double value;

	if (!text || len == 0)
		return -EINVAL;
	if (len > PROM_FLOAT_MAX_BYTES)
		return -E2BIG;
	if (text[0] == '+' || text[0] == '-') {
		has_sign = true;
		negative = text[0] == '-';
		rest++;
		rest_len--;
	}
	if (ascii_equal_nocase(rest, rest_len, "inf") ||
	    ascii_equal_nocase(rest, rest_len, "infinity")) {
		*out = negative ? -INFINITY : INFINITY;
		return 0;
	}
	/* Go takes no sign on NaN */
	if (!has_sign && ascii_equal_nocase(rest, rest_len, "nan")) {
		*out = NAN;
		return 0;
	}
	/* digits [. digits] [(e|E) [sign] digits], one mantissa digit at least
	 */
	i = 0;
	mantissa_digits = skip_digits(rest, rest_len, &i);
	if (i < rest_len && rest[i] == '.') {
		i++;
		mantissa_digits += skip_digits(rest, rest_len, &i);
	}
	if (mantissa_digits == 0)
		return -EINVAL;
	if (i < rest_len && (rest[i] == 'e' || rest[i] == 'E')) {
		i++;
		if (i < rest_len && (rest[i] == '+' || rest[i] == '-'))
			i++;
		if (skip_digits(rest, rest_len, &i) == 0)
			return -EINVAL;
	}
	if (i != rest_len)
		return -EINVAL;

	if (fast_decimal(rest, rest_len, &value)) {
		*out = negative ? -value : value;
		return 0;
	}
	/* The syntax is checked: strtod now only converts, in the C locale */
	pthread_once(&c_locale_once, c_locale_init);
	if (c_locale == (locale_t)0)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = '\0';
	errno = 0;
	value = strtod_l(buf, &parsed_end, c_locale);
	if (parsed_end != buf + len)
		return -EINVAL;
	/* ERANGE on underflow is fine (Go rounds to zero); overflow is not */
	if (errno == ERANGE && isinf(value))
		return -ERANGE;
	*out = value;
	return 0;
}

/* Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits. */
static int parse_int64(const char *s, size_t len, int64_t *out)
{
	uint64_t limit = (uint64_t)INT64_MAX, value = 0;
	bool negative = false;
	size_t i = 0;

	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		negative = s[0] == '-';
		if (negative)
			limit = (uint64_t)INT64_MAX + 1;
		i = 1;
	}
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		unsigned digit;

		if (!is_digit(s[i]))
			return -EINVAL;
		digit = (unsigned)(s[i] - '0');
		if (value > (limit - digit) / 10)
			return -ERANGE;
		value = value * 10 + digit;
	}
	if (negative)
		*out = value == (uint64_t)INT64_MAX + 1 ? INT64_MIN
							: -(int64_t)value;
	else
		*out = (int64_t)value;
	return 0;
}

/* ---- names and families ------------------------------------------------- */

static int intern(struct parser *ps, const char *s, size_t len, const char *at,
		  struct name_entry **out)
{
	struct name_table *names = &ps->store->names;
	uint64_t hash = siphash13(s, len, names->key);
	struct name_entry *entry = names_find(names, s, len, hash);

	if (!entry) {
		if (names->count >= ps->limits.max_names)
			return fail(ps, -E2BIG, at,
				    "more than %zu distinct metric and label "
				    "names on the page",
				    ps->limits.max_names);
		entry = names_insert(names, &ps->store->arena, s, len, hash);
		if (!entry)
			return fail_nomem(ps);
	}
	*out = entry;
	return 0;
}

static int family_create(struct parser *ps, struct name_entry *name,
			 uint32_t *out)
{
	void *items = ps->families;
	struct raw_family *family;

	if (grow_vector(&items, &ps->family_capacity, ps->family_count + 1,
			sizeof(*ps->families)))
		return fail_nomem(ps);
	ps->families = items;
	family = &ps->families[ps->family_count];
	memset(family, 0, sizeof(*family));
	family->name = name;
	family->type = PROM_TYPE_UNTYPED;
	name->family = (uint32_t)ps->family_count;
	*out = name->family;
	ps->family_count++;
	return 0;
}

static bool is_histogram_type(enum prom_type type)
{
	return type == PROM_TYPE_HISTOGRAM || type == PROM_TYPE_GAUGEHISTOGRAM;
}

struct member_suffix {
	const char *text;
	size_t len;
	bool of_summary; /* also joins a summary, not only a histogram */
};

static const struct member_suffix member_suffixes[] = {
    {"_bucket", 7, false},
    {"_count", 6, true},
    {"_sum", 4, true},
};

/*
 * The suffix that could make `name` a member of another family, and the
 * length of that family's name; NULL when there is none.
 */
static const struct member_suffix *
member_suffix_of(const char *name, size_t len, size_t *base_len)
{
	size_t i;

	for (i = 0; i < sizeof(member_suffixes) / sizeof(member_suffixes[0]);
	     i++) {
		const struct member_suffix *suffix = &member_suffixes[i];

		if (len > suffix->len &&
		    memcmp(name + len - suffix->len, suffix->text,
			   suffix->len) == 0) {
			*base_len = len - suffix->len;
			return suffix;
		}
	}
	return NULL;
}

static bool suffix_joins(const struct member_suffix *suffix,
			 enum prom_type type)
{
	return is_histogram_type(type) ||
	       (suffix->of_summary && type == PROM_TYPE_SUMMARY);
}

/*
 * The family that lines naming `name` belong to, created when none exists.
 * Once decided it never changes (a later family can only be created under a
 * name no line has used), so it is cached in the name entry.
 */
static int resolve_family(struct parser *ps, struct name_entry *name,
			  uint32_t *out)
{
	const struct member_suffix *suffix;
	size_t base_len;

	if (name->family != NO_FAMILY) {
		*out = name->family;
		return 0;
	}
	suffix = member_suffix_of(name->str, name->len, &base_len);
	if (suffix) {
		const struct name_table *names = &ps->store->names;
		uint64_t hash = siphash13(name->str, base_len, names->key);
		struct name_entry *base =
		    names_find(names, name->str, base_len, hash);

		/* Only a family's own name counts, not one of its members */
		if (base && base->family != NO_FAMILY &&
		    ps->families[base->family].name == base &&
		    suffix_joins(suffix, ps->families[base->family].type)) {
			name->family = base->family;
			*out = name->family;
			return 0;
		}
	}
	return family_create(ps, name, out);
}

/* ---- quoted strings ----------------------------------------------------- */

/*
 * Reads the double-quoted string whose opening quote is at *cursor, with
 * the escapes \\, \" and \n. On success *out is the unescaped text (in the
 * page, or in ps->scratch when it had escapes; valid until the next call)
 * and *cursor is past the closing quote.
 */
static int read_quoted(struct parser *ps, const char **cursor, const char *what,
		       size_t max_len, const char **out, size_t *out_len)
{
	const char *open = *cursor, *start = open + 1, *c = start;
	char found[QUOTED_BUFFER_BYTES], shown[QUOTED_BUFFER_BYTES];
	bool escaped = false;
	size_t bad, len;

	while (c < ps->eol && *c != '"') {
		if (*c != '\\') {
			c++;
			continue;
		}
		if (c + 1 == ps->eol)
			return fail(ps, -EINVAL, c,
				    "%s ends in an unfinished escape sequence",
				    what);
		if (c[1] != '\\' && c[1] != '"' && c[1] != 'n')
			return fail(ps, -EINVAL, c,
				    "invalid escape sequence '\\%s' in %s "
				    "(only \\\\, \\\" and \\n are allowed)",
				    escaped_char(found, c[1]), what);
		escaped = true;
		c += 2;
	}
	if (c == ps->eol)
		return fail(ps, -EINVAL, c,
			    "%s %s contains an unescaped new-line or lacks "
			    "its closing quote",
			    what,
			    quote_token(shown, start, (size_t)(c - start)));

	bad = utf8_scan(start, (size_t)(c - start));
	if (bad < (size_t)(c - start)) {
		if (start[bad] == '\0')
			return fail(ps, -EINVAL, start + bad,
				    "%s contains a NUL byte", what);
		return fail(ps, -EINVAL, start + bad,
			    "invalid UTF-8 in %s (byte 0x%02x)", what,
			    (unsigned char)start[bad]);
	}

	if (!escaped) {
		*out = start;
		len = (size_t)(c - start);
	} else {
		const char *in;
		char *o = ps->scratch;

		for (in = start; in < c; in++) {
			if (*in != '\\') {
				*o++ = *in;
				continue;
			}
			in++;
			*o++ = *in == 'n' ? '\n' : *in;
		}
		*out = ps->scratch;
		len = (size_t)(o - ps->scratch);
	}
	if (len > max_len)
		return fail(ps, -E2BIG, open,
			    "%s is %zu bytes long, more than the limit of %zu",
			    what, len, max_len);
	*out_len = len;
	*cursor = c + 1;
	return 0;
}

/*
 * Reads a metric name, plain ([a-zA-Z_:][a-zA-Z0-9_:]*) or quoted, at
 * *cursor. Leaves *entry NULL (and *cursor alone) when no name starts there.
 */
static int read_metric_name(struct parser *ps, const char **cursor,
			    struct name_entry **entry)
{
	const char *start = *cursor, *c = start, *name;
	struct name_entry *last = ps->last_metric_name;
	size_t len;
	int rc;

	*entry = NULL;
	if (c < ps->eol && *c == '"') {
		rc = read_quoted(ps, &c, "metric name",
				 ps->limits.max_name_bytes, &name, &len);
		if (rc)
			return rc;
		if (len == 0)
			return fail(ps, -EINVAL, start, "metric name is empty");
	} else {
		if (c == ps->eol || !is_metric_start(*c))
			return 0;
		while (c < ps->eol && is_metric_char(*c))
			c++;
		name = start;
		len = (size_t)(c - start);
		if (len > ps->limits.max_name_bytes)
			return fail(ps, -E2BIG, start,
				    "metric name is %zu bytes long, more than "
				    "the limit of %zu",
				    len, ps->limits.max_name_bytes);
	}
	if (last && last->len == len && memcmp(last->str, name, len) == 0) {
		*entry = last;
	} else {
		rc = intern(ps, name, len, start, entry);
		if (rc)
			return rc;
		ps->last_metric_name = *entry;
	}
	*cursor = c;
	return 0;
}

/* ---- comment lines ------------------------------------------------------ */

static const char *crlf_hint(const char *token, size_t len)
{
	return len > 0 && token[len - 1] == '\r'
		   ? " (lines must end with \\n alone, not \\r\\n)"
		   : "";
}

static int parse_type(struct parser *ps, struct raw_family *family,
		      const char *name_at, const char *c)
{
	static const struct {
		const char *word;
		enum prom_type type;
	} types[] = {
	    {"counter", PROM_TYPE_COUNTER},
	    {"gauge", PROM_TYPE_GAUGE},
	    {"histogram", PROM_TYPE_HISTOGRAM},
	    {"summary", PROM_TYPE_SUMMARY},
	    {"untyped", PROM_TYPE_UNTYPED},
	    {"gaugehistogram", PROM_TYPE_GAUGEHISTOGRAM},
	    {"gauge_histogram", PROM_TYPE_GAUGEHISTOGRAM},
	};
	char shown[QUOTED_BUFFER_BYTES];
	const char *end = ps->eol;
	size_t i;

	if (family->type_fixed) {
		if (family->sample_count)
			return fail(ps, -EINVAL, name_at,
				    "TYPE reported after samples of metric "
				    "name \"%s\"",
				    family->name->str);
		return fail(ps, -EINVAL, name_at,
			    "second TYPE line for metric name \"%s\"",
			    family->name->str);
	}
	while (end > c && is_blank(end[-1]))
		end--;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (token_is(c, (size_t)(end - c), types[i].word)) {
			family->type = types[i].type;
			family->type_fixed = true;
			return 0;
		}
	}
	return fail(ps, -EINVAL, c,
		    "unknown metric type %s (expected counter, gauge, "
		    "histogram, summary or untyped)%s",
		    quote_token(shown, c, (size_t)(end - c)),
		    crlf_hint(c, (size_t)(end - c)));
}

static int parse_help(struct parser *ps, struct raw_family *family,
		      const char *name_at, const char *c)
{
	char found[QUOTED_BUFFER_BYTES];
	const char *in;
	char *o = ps->scratch, *help;
	size_t bad;

	if (family->help)
		return fail(ps, -EINVAL, name_at,
			    "second HELP line for metric name \"%s\"",
			    family->name->str);
	bad = utf8_scan(c, (size_t)(ps->eol - c));
	if (bad < (size_t)(ps->eol - c)) {
		if (c[bad] == '\0')
			return fail(ps, -EINVAL, c + bad,
				    "HELP text contains a NUL byte");
		return fail(ps, -EINVAL, c + bad,
			    "invalid UTF-8 in HELP text (byte 0x%02x)",
			    (unsigned char)c[bad]);
	}
	for (in = c; in < ps->eol; in++) {
		if (*in != '\\') {
			*o++ = *in;
			continue;
		}
		if (in + 1 == ps->eol)
			return fail(ps, -EINVAL, in,
				    "HELP text ends in an unfinished escape "
				    "sequence");
		if (in[1] != '\\' && in[1] != 'n' && in[1] != '"')
			return fail(
			    ps, -EINVAL, in,
			    "invalid escape sequence '\\%s' in HELP "
			    "text (only \\\\, \\\" and \\n are allowed)",
			    escaped_char(found, in[1]));
		in++;
		*o++ = *in == 'n' ? '\n' : *in;
	}
	help = arena_strndup(&ps->store->arena, ps->scratch,
			     (size_t)(o - ps->scratch));
	if (!help)
		return fail_nomem(ps);
	family->help = help;
	return 0;
}

static int parse_comment(struct parser *ps, const char *c)
{
	char found[QUOTED_BUFFER_BYTES];
	const char *keyword = skip_blanks(c, ps->eol), *keyword_end, *name_at;
	struct name_entry *name;
	uint32_t family;
	bool is_help;
	int rc;

	keyword_end = token_end(keyword, ps->eol);
	/* A lone word, or not HELP/TYPE: a plain comment */
	if (keyword_end == ps->eol)
		return 0;
	if (token_is(keyword, (size_t)(keyword_end - keyword), "HELP"))
		is_help = true;
	else if (token_is(keyword, (size_t)(keyword_end - keyword), "TYPE"))
		is_help = false;
	else
		return 0;

	name_at = skip_blanks(keyword_end, ps->eol);
	if (name_at == ps->eol)
		return 0;
	c = name_at;
	rc = read_metric_name(ps, &c, &name);
	if (rc)
		return rc;
	if (!name || (c < ps->eol && !is_blank(*c)))
		return fail(ps, -EINVAL, name ? c : name_at,
			    "invalid metric name in comment: found %s",
			    describe_at(ps, name ? c : name_at, found));
	c = skip_blanks(c, ps->eol);
	/* "# HELP name" and "# TYPE name" with nothing more say nothing */
	if (c == ps->eol)
		return 0;
	rc = resolve_family(ps, name, &family);
	if (rc)
		return rc;
	if (is_help)
		return parse_help(ps, &ps->families[family], name_at, c);
	return parse_type(ps, &ps->families[family], name_at, c);
}

/* ---- sample lines ------------------------------------------------------- */

struct sample_line {
	struct name_entry *name;
	uint32_t family;
	size_t label_start;
	uint32_t label_count;
};

static int set_sample_name(struct parser *ps, struct sample_line *line,
			   struct name_entry *name)
{
	struct raw_family *family;
	int rc;

	rc = resolve_family(ps, name, &line->family);
	if (rc)
		return rc;
	line->name = name;
	family = &ps->families[line->family];
	/* From now on a TYPE line for it comes too late */
	family->type_fixed = true;
	return 0;
}

static int label_name_entry(struct parser *ps, const char *name, size_t len,
			    const char *at, unsigned position,
			    struct name_entry **out)
{
	struct name_entry *cached = ps->last_label_names[position];
	int rc;

	if (cached && cached->len == len &&
	    memcmp(cached->str, name, len) == 0) {
		*out = cached;
		return 0;
	}
	rc = intern(ps, name, len, at, out);
	if (rc)
		return rc;
	ps->last_label_names[position] = *out;
	return 0;
}

/* "le" of histograms and "quantile" of summaries must be floats. */
static int check_bound_label(struct parser *ps, const struct sample_line *line,
			     const struct name_entry *label, const char *value,
			     size_t value_len, const char *value_at)
{
	enum prom_type type = ps->families[line->family].type;
	char shown[QUOTED_BUFFER_BYTES];
	double bound;

	if (!((is_histogram_type(type) &&
	       token_is(label->str, label->len, "le")) ||
	      (type == PROM_TYPE_SUMMARY &&
	       token_is(label->str, label->len, "quantile"))))
		return 0;
	if (prom_parse_float(value, value_len, &bound) == 0)
		return 0;
	return fail(ps, -EINVAL, value_at,
		    "expected float as value for '%s' label, got %s",
		    label->str, quote_token(shown, value, value_len));
}

static int add_label(struct parser *ps, struct sample_line *line,
		     struct name_entry *name, const char *name_at,
		     const char **cursor)
{
	char found[QUOTED_BUFFER_BYTES];
	const char *c = *cursor, *value_at, *value;
	struct prom_label *label;
	size_t value_len;
	void *items;
	int rc;

	if (token_is(name->str, name->len, "__name__"))
		return fail(ps, -EINVAL, name_at,
			    "label name \"__name__\" is reserved");
	if (name->label_stamp == ps->sample_stamp)
		return fail(ps, -EINVAL, name_at,
			    "duplicate label name \"%s\" for metric \"%s\"",
			    name->str, line->name->str);
	name->label_stamp = ps->sample_stamp;
	if (ps->label_count >= ps->limits.max_labels)
		return fail(ps, -E2BIG, name_at,
			    "more than %zu labels on the page",
			    ps->limits.max_labels);

	c = skip_blanks(c + 1, ps->eol); /* past '=' */
	value_at = c;
	if (c == ps->eol || *c != '"')
		return fail(ps, -EINVAL, c,
			    "expected '\"' at start of label value of \"%s\", "
			    "found %s",
			    name->str, describe_at(ps, c, found));
	rc = read_quoted(ps, &c, "label value",
			 ps->limits.max_label_value_bytes, &value, &value_len);
	if (rc)
		return rc;
	rc = check_bound_label(ps, line, name, value, value_len, value_at);
	if (rc)
		return rc;

	items = ps->store->labels;
	if (grow_vector(&items, &ps->label_capacity, ps->label_count + 1,
			sizeof(*ps->store->labels)))
		return fail_nomem(ps);
	ps->store->labels = items;
	label = &ps->store->labels[ps->label_count];
	label->name = name->str;
	label->value = arena_strndup(&ps->store->arena, value, value_len);
	if (!label->value)
		return fail_nomem(ps);
	ps->label_count++;
	line->label_count++;
	*cursor = c;
	return 0;
}

/*
 * Parses "{...}" with the '{' at *cursor. When the line started with '{',
 * line->name is NULL and the first item must be the quoted metric name.
 */
static int parse_label_set(struct parser *ps, struct sample_line *line,
			   const char **cursor)
{
	char found[QUOTED_BUFFER_BYTES], shown[QUOTED_BUFFER_BYTES];
	const char *open = *cursor, *c = open + 1, *item_at, *name;
	struct name_entry *entry;
	unsigned position = 0;
	size_t name_len;
	bool quoted;
	int rc;

	for (;;) {
		c = skip_blanks(c, ps->eol);
		if (c == ps->eol)
			return fail(ps, -EINVAL, c,
				    "label set lacks its closing '}'");
		if (*c == '}')
			break;
		item_at = c;
		quoted = *c == '"';
		if (quoted) {
			/* A metric name or a label name: '=' tells later */
			rc = read_quoted(ps, &c, "quoted name",
					 ps->limits.max_name_bytes, &name,
					 &name_len);
			if (rc)
				return rc;
			if (name_len == 0)
				return fail(ps, -EINVAL, item_at,
					    "empty quoted name in label set");
		} else if (is_label_start(*c)) {
			name = c;
			while (c < ps->eol && is_label_char(*c))
				c++;
			name_len = (size_t)(c - name);
			if (name_len > ps->limits.max_name_bytes)
				return fail(ps, -E2BIG, item_at,
					    "label name is %zu bytes long, "
					    "more than the limit of %zu",
					    name_len,
					    ps->limits.max_name_bytes);
		} else {
			return fail(ps, -EINVAL, c,
				    "invalid label name: expected a name or "
				    "'}', found %s",
				    describe_at(ps, c, found));
		}
		c = skip_blanks(c, ps->eol);

		if (c < ps->eol && *c == '=') {
			if (!line->name)
				return fail(ps, -EINVAL, item_at,
					    "invalid metric name: a line "
					    "starting with '{' must first give "
					    "the quoted metric name");
			if (position >= ps->limits.max_labels_per_sample)
				return fail(
				    ps, -E2BIG, item_at,
				    "more than %zu labels on one sample",
				    ps->limits.max_labels_per_sample);
			rc = label_name_entry(ps, name, name_len, item_at,
					      position, &entry);
			if (!rc)
				rc = add_label(ps, line, entry, item_at, &c);
			if (rc)
				return rc;
			position++;
			c = skip_blanks(c, ps->eol);
		} else if (quoted && (c == ps->eol || *c == ',' || *c == '}')) {
			/* A quoted string alone is the metric name */
			if (line->name)
				return fail(ps, -EINVAL, item_at,
					    "multiple metric names: %s after "
					    "\"%s\"",
					    quote_token(shown, name, name_len),
					    line->name->str);
			c = item_at;
			rc = read_metric_name(ps, &c, &entry);
			if (!rc)
				rc = set_sample_name(ps, line, entry);
			if (rc)
				return rc;
			c = skip_blanks(c, ps->eol);
		} else {
			return fail(
			    ps, -EINVAL, c,
			    "expected '=' after label name %s, found %s",
			    quote_token(shown, name, name_len),
			    describe_at(ps, c, found));
		}

		if (c == ps->eol)
			return fail(ps, -EINVAL, c,
				    "label set lacks its closing '}'");
		if (*c == '}')
			break;
		if (*c != ',')
			return fail(ps, -EINVAL, c,
				    "expected ',' or '}' after label value, "
				    "found %s",
				    describe_at(ps, c, found));
		c++;
	}
	if (!line->name)
		return fail(ps, -EINVAL, open,
			    "invalid metric name: the label set names no "
			    "metric");
	*cursor = c + 1;
	return 0;
}

static int store_sample(struct parser *ps, const struct sample_line *line,
			double value, bool has_timestamp, int64_t timestamp_ms)
{
	struct raw_sample *sample;
	void *items = ps->samples;

	if (ps->sample_count >= ps->limits.max_samples)
		return fail(ps, -E2BIG, ps->line,
			    "more than %zu samples on the page",
			    ps->limits.max_samples);
	if (grow_vector(&items, &ps->sample_capacity, ps->sample_count + 1,
			sizeof(*ps->samples)))
		return fail_nomem(ps);
	ps->samples = items;
	sample = &ps->samples[ps->sample_count++];
	sample->name = line->name;
	sample->family = line->family;
	sample->label_start = line->label_start;
	sample->label_count = line->label_count;
	sample->value = value;
	sample->has_timestamp = has_timestamp;
	sample->timestamp_ms = timestamp_ms;
	ps->families[line->family].sample_count++;
	return 0;
}

static int parse_sample(struct parser *ps, const char *c)
{
	char found[QUOTED_BUFFER_BYTES], shown[QUOTED_BUFFER_BYTES];
	struct sample_line line = {.label_start = ps->label_count};
	const char *value_at, *value_end, *ts_at, *ts_end;
	struct name_entry *name;
	int64_t timestamp_ms = 0;
	bool has_timestamp = false;
	double value;
	int rc;

	ps->sample_stamp++;
	if (*c != '{') {
		const char *name_at = c;

		rc = read_metric_name(ps, &c, &name);
		if (rc)
			return rc;
		if (!name || *name_at == '"')
			return fail(ps, -EINVAL, name_at,
				    "invalid metric name: expected a name "
				    "matching [a-zA-Z_:][a-zA-Z0-9_:]*, found "
				    "%s",
				    describe_at(ps, name_at, found));
		if (c < ps->eol && *c != '{' && !is_blank(*c))
			return fail(ps, -EINVAL, c,
				    "invalid character %s in metric name",
				    describe_at(ps, c, found));
		rc = set_sample_name(ps, &line, name);
		if (rc)
			return rc;
		c = skip_blanks(c, ps->eol);
	}
	if (c < ps->eol && *c == '{') {
		rc = parse_label_set(ps, &line, &c);
		if (rc)
			return rc;
		c = skip_blanks(c, ps->eol);
	}

	value_at = c;
	value_end = token_end(c, ps->eol);
	if (value_at == value_end)
		return fail(ps, -EINVAL, c,
			    "expected a sample value for \"%s\", found %s",
			    line.name->str, describe_at(ps, c, found));
	rc = prom_parse_float(value_at, (size_t)(value_end - value_at), &value);
	if (rc == -ERANGE)
		return fail(ps, -EINVAL, value_at,
			    "value %s is out of range for a float",
			    quote_token(shown, value_at,
					(size_t)(value_end - value_at)));
	if (rc)
		return fail(
		    ps, -EINVAL, value_at, "expected float as value, got %s%s",
		    quote_token(shown, value_at,
				(size_t)(value_end - value_at)),
		    crlf_hint(value_at, (size_t)(value_end - value_at)));

	ts_at = skip_blanks(value_end, ps->eol);
	if (ts_at < ps->eol) {
		ts_end = token_end(ts_at, ps->eol);
		rc =
		    parse_int64(ts_at, (size_t)(ts_end - ts_at), &timestamp_ms);
		if (rc)
			return fail(
			    ps, -EINVAL, ts_at,
			    "expected integer as timestamp, got %s%s",
			    quote_token(shown, ts_at, (size_t)(ts_end - ts_at)),
			    rc == -ERANGE
				? " (out of int64 range)"
				: crlf_hint(ts_at, (size_t)(ts_end - ts_at)));
		has_timestamp = true;
		c = skip_blanks(ts_end, ps->eol);
		if (c < ps->eol)
			return fail(
			    ps, -EINVAL, c,
			    "spurious string after timestamp: %s",
			    quote_token(shown, c, (size_t)(ps->eol - c)));
	}
	return store_sample(ps, &line, value, has_timestamp, timestamp_ms);
}

static int parse_line(struct parser *ps)
{
	const char *c = skip_blanks(ps->line, ps->eol);

	if (c == ps->eol)
		return 0;
	if (*c == '#')
		return parse_comment(ps, c + 1);
	return parse_sample(ps, c);
}

/* ---- the driver --------------------------------------------------------- */

static int finalize(struct parser *ps)
{
	struct prom_page_store *store = ps->store;
	size_t i, next = 0;

	/* An empty page has neither: NULL is not a failure then. */
	if (ps->family_count)
		store->families =
		    calloc(ps->family_count, sizeof(*store->families));
	if (ps->sample_count)
		store->samples =
		    calloc(ps->sample_count, sizeof(*store->samples));
	if ((ps->family_count && !store->families) ||
	    (ps->sample_count && !store->samples))
		return fail_at(ps, -ENOMEM, 0, 0,
			       "out of memory while building the page");
	/* Counting sort by family: each family's samples end up contiguous */
	for (i = 0; i < ps->family_count; i++) {
		struct raw_family *raw = &ps->families[i];
		struct prom_family *family = &store->families[i];

		raw->first = next;
		family->name = raw->name->str;
		family->type = raw->type;
		family->help = raw->help;
		family->samples =
		    raw->sample_count ? store->samples + next : NULL;
		family->sample_count = raw->sample_count;
		next += raw->sample_count;
	}
	for (i = 0; i < ps->sample_count; i++) {
		const struct raw_sample *raw = &ps->samples[i];
		struct prom_sample *sample =
		    &store->samples[ps->families[raw->family].first++];

		sample->name = raw->name->str;
		sample->labels =
		    raw->label_count ? store->labels + raw->label_start : NULL;
		sample->label_count = raw->label_count;
		sample->value = raw->value;
		sample->has_timestamp = raw->has_timestamp;
		sample->timestamp_ms = raw->timestamp_ms;
		sample->family = &store->families[raw->family];
	}
	store->page.families = store->families;
	store->page.family_count = ps->family_count;
	store->page.sample_count = ps->sample_count;
	return 0;
}

static void set_limits(struct prom_limits *out, const struct prom_limits *in)
{
	static const struct prom_limits defaults = {
	    .max_page_bytes = PROM_DEFAULT_MAX_PAGE_BYTES,
	    .max_line_bytes = PROM_DEFAULT_MAX_LINE_BYTES,
	    .max_name_bytes = PROM_DEFAULT_MAX_NAME_BYTES,
	    .max_label_value_bytes = PROM_DEFAULT_MAX_LABEL_VALUE_BYTES,
	    .max_labels_per_sample = PROM_DEFAULT_MAX_LABELS_PER_SAMPLE,
	    .max_samples = PROM_DEFAULT_MAX_SAMPLES,
	    .max_labels = PROM_DEFAULT_MAX_LABELS,
	    .max_names = PROM_DEFAULT_MAX_NAMES,
	};

	*out = defaults;
	if (!in)
		return;
#define TAKE_LIMIT(field)                                                      \
	do {                                                                   \
		if (in->field)                                                 \
			out->field = in->field;                                \
	} while (0)
	TAKE_LIMIT(max_page_bytes);
	TAKE_LIMIT(max_line_bytes);
	TAKE_LIMIT(max_name_bytes);
	TAKE_LIMIT(max_label_value_bytes);
	TAKE_LIMIT(max_labels_per_sample);
	TAKE_LIMIT(max_samples);
	TAKE_LIMIT(max_labels);
	TAKE_LIMIT(max_names);
#undef TAKE_LIMIT
}

static int parse_lines(struct parser *ps, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	size_t max_line = ps->limits.max_line_bytes;
	int rc;

	while (p < end) {
		size_t remaining = (size_t)(end - p);
		size_t scan = remaining <= max_line ? remaining : max_line + 1;
		const char *newline = memchr(p, '\n', scan);

		ps->line_no++;
		ps->line = p;
		if (!newline && remaining > max_line)
			return fail_at(ps, -E2BIG, ps->line_no,
				       (unsigned)max_line + 1,
				       "line is longer than the limit of %zu "
				       "bytes",
				       max_line);
		ps->eol = newline ? newline : end;
		ps->line_terminated = newline != NULL;
		/* Blanks after the last line feed are no line */
		if (!newline && skip_blanks(p, end) == end)
			return 0;
		rc = parse_line(ps);
		if (rc)
			return rc;
		if (!newline)
			return fail_at(ps, -EINVAL, ps->line_no,
				       (unsigned)remaining + 1,
				       "unexpected end of input: the last "
				       "line must end with a line feed");
		p = newline + 1;
	}
	return 0;
}

int prom_parse_limited(const char *text, size_t len,
		       const struct prom_limits *limits, struct prom_page **out,
		       struct prom_error *err)
{
	struct parser ps = {.err = err};
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	if (!out || (!text && len))
		return fail_at(&ps, -EINVAL, 0, 0,
			       "no page given to parse (NULL buffer)");
	*out = NULL;
	set_limits(&ps.limits, limits);
	if (len > ps.limits.max_page_bytes)
		return fail_at(&ps, -E2BIG, 0, 0,
			       "page is %zu bytes, more than the limit of %zu",
			       len, ps.limits.max_page_bytes);

	ps.store = calloc(1, sizeof(*ps.store));
	if (ps.store)
		ps.store->page.store = ps.store;
	ps.scratch = malloc(ps.limits.max_line_bytes + 1);
	ps.last_label_names = calloc(ps.limits.max_labels_per_sample,
				     sizeof(*ps.last_label_names));
	if (!ps.store || !ps.scratch || !ps.last_label_names) {
		rc = fail_at(&ps, -ENOMEM, 0, 0,
			     "out of memory while starting to parse");
		goto cleanup;
	}
	random_key(ps.store->names.key, ps.store);

	rc = parse_lines(&ps, text ? text : "", len);
	if (!rc)
		rc = finalize(&ps);
	if (!rc) {
		*out = &ps.store->page;
		ps.store = NULL;
	}
cleanup:
	if (ps.store)
		prom_page_free(&ps.store->page);
	free(ps.samples);
	free(ps.families);
	free(ps.scratch);
	free(ps.last_label_names);
	return rc;
}

int prom_parse(const char *text, size_t len, struct prom_page **out,
	       struct prom_error *err)
{
	return prom_parse_limited(text, len, NULL, out, err);
}

/* ---- lookups ------------------------------------------------------------ */

static struct name_entry *page_name(const struct prom_page *page, const char *s,
				    size_t len)
{
	const struct name_table *names = &page->store->names;

	return names_find(names, s, len, siphash13(s, len, names->key));
}

const struct prom_family *prom_page_find_family(const struct prom_page *page,
						const char *name)
{
	struct name_entry *entry;
	const struct prom_family *family;

	if (!page || !name)
		return NULL;
	entry = page_name(page, name, strlen(name));
	if (!entry || entry->family == NO_FAMILY)
		return NULL;
	family = &page->families[entry->family];
	return family->name == entry->str ? family : NULL;
}

bool prom_sample_iter_init(struct prom_sample_iter *it,
			   const struct prom_page *page,
			   const char *sample_name)
{
	const struct member_suffix *suffix;
	struct name_entry *entry;
	size_t len, base_len;

	memset(it, 0, sizeof(*it));
	if (!page || !sample_name)
		return false;
	len = strlen(sample_name);
	entry = page_name(page, sample_name, len);
	if (entry && entry->family != NO_FAMILY) {
		it->family = &page->families[entry->family];
		it->name = entry->str;
		it->cursor = it->family->samples;
		it->end = it->family->samples
			      ? it->family->samples + it->family->sample_count
			      : NULL;
		return true;
	}
	/* Not used by any line: known if a family declares it as a member */
	suffix = member_suffix_of(sample_name, len, &base_len);
	if (suffix) {
		struct name_entry *base =
		    page_name(page, sample_name, base_len);

		if (base && base->family != NO_FAMILY &&
		    page->families[base->family].name == base->str &&
		    suffix_joins(suffix, page->families[base->family].type)) {
			it->family = &page->families[base->family];
			return true;
		}
	}
	return false;
}

const struct prom_sample *prom_sample_iter_next(struct prom_sample_iter *it)
{
	while (it->cursor && it->cursor < it->end) {
		const struct prom_sample *sample = it->cursor++;

		/* Names are interned: equal names are the same pointer */
		if (sample->name == it->name)
			return sample;
	}
	return NULL;
}

const char *prom_sample_label(const struct prom_sample *sample,
			      const char *label_name)
{
	unsigned i;

	if (!sample || !label_name)
		return NULL;
	for (i = 0; i < sample->label_count; i++)
		if (strcmp(sample->labels[i].name, label_name) == 0)
			return sample->labels[i].value;
	return NULL;
}
