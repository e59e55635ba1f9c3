// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_promparse.c - libFuzzer target for what kanaryd reads from a backend's
 * /metrics page: the Prometheus text parser (lib/metrics/promparse.c) and
 * what the analysis takes from a page through every model-server preset
 * (lib/metrics/metric_presets.c).
 *
 * The input is one page, or two pages separated by FUZZ_PAGE_SEPARATOR (a
 * comment line, so that each half is a page in its own right): the first is
 * the start of a scrape window, the second its end. Each page is parsed with
 * the default limits and again with tight ones (the E2BIG paths); a parsed
 * page is checked for consistency, read through every preset, and the two
 * readings give a delta. The first lines of the input are also parsed as
 * label selectors, whose printed form must parse back to the same selector.
 * A broken invariant aborts, so that libFuzzer keeps the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metric_presets.h"
#include "metrics/promparse.h"
#include "../lib/fuzz_check.h"

/* A comment line: both halves stay valid pages. */
#define FUZZ_PAGE_SEPARATOR    "\n# kanary-fuzz: next scrape\n"
#define FUZZ_WHY_LEN	       256
#define FUZZ_SELECTOR_LINES    4
#define FUZZ_SELECTOR_TEXT_MAX 1024
#define FUZZ_LOOKUPS_MAX       64

/* Small enough that short inputs reach every limit. */
static const struct prom_limits tight_limits = {
    .max_page_bytes = 4096,
    .max_line_bytes = 256,
    .max_name_bytes = 32,
    .max_label_value_bytes = 64,
    .max_labels_per_sample = 4,
    .max_samples = 32,
    .max_labels = 64,
    .max_names = 32,
};

/* What the parser promises of a page it returns. */
static void check_page(const struct prom_page *page)
{
	size_t f, s, total = 0, lookups = 0;
	unsigned l;

	FUZZ_CHECK(page->family_count == 0 || page->families);
	for (f = 0; f < page->family_count; f++) {
		const struct prom_family *fam = &page->families[f];

		FUZZ_CHECK(fam->name && fam->name[0]);
		FUZZ_CHECK(fam->sample_count == 0 || fam->samples);
		FUZZ_CHECK(strcmp(prom_type_name(fam->type), "unknown") != 0);
		total += fam->sample_count;
		for (s = 0; s < fam->sample_count; s++) {
			const struct prom_sample *smp = &fam->samples[s];

			FUZZ_CHECK(smp->family == fam);
			FUZZ_CHECK(smp->name && smp->name[0]);
			FUZZ_CHECK(smp->label_count == 0 || smp->labels);
			for (l = 0; l < smp->label_count; l++) {
				FUZZ_CHECK(smp->labels[l].name &&
					   smp->labels[l].value);
				/* The first label of a name is the one
				 * returned by name. */
				FUZZ_CHECK(prom_sample_label(
					       smp, smp->labels[l].name) !=
					   NULL);
			}
		}
		/* Families are found by their names. */
		if (lookups++ < FUZZ_LOOKUPS_MAX)
			FUZZ_CHECK(prom_page_find_family(page, fam->name) ==
				   fam);
	}
	FUZZ_CHECK(total == page->sample_count);
}

/* Iterates the samples of a few names the presets ask for, and of the
 * page's own first sample names. */
static void walk_samples(const struct prom_page *page)
{
	static const char *const names[] = {
	    "vllm:e2e_request_latency_seconds_bucket",
	    "http_requests_total",
	    "nv_inference_request_success",
	    "request_duration_seconds_count",
	    "x_bucket",
	    "",
	};
	struct prom_sample_iter it;
	const struct prom_sample *s;
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		prom_sample_iter_init(&it, page, names[i]);
		n = 0;
		while ((s = prom_sample_iter_next(&it)))
			FUZZ_CHECK(!strcmp(s->name, names[i]) && ++n);
	}
	for (i = 0; i < page->family_count && i < FUZZ_LOOKUPS_MAX; i++) {
		const struct prom_family *fam = &page->families[i];

		if (!fam->sample_count)
			continue;
		FUZZ_CHECK(
		    prom_sample_iter_init(&it, page, fam->samples[0].name));
		n = 0;
		while ((s = prom_sample_iter_next(&it)))
			n++;
		FUZZ_CHECK(n > 0);
	}
}

static struct prom_page *parse_page(const char *text, size_t len)
{
	struct prom_page *page = NULL, *tight = NULL;
	struct prom_error err;
	int ret;

	ret = prom_parse_limited(text, len, &tight_limits, &tight, &err);
	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -E2BIG ||
		   ret == -ENOMEM);
	FUZZ_CHECK(!ret == (tight != NULL));
	if (tight)
		check_page(tight);
	prom_page_free(tight);

	ret = prom_parse(text, len, &page, &err);
	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -E2BIG ||
		   ret == -ENOMEM);
	FUZZ_CHECK(!ret == (page != NULL));
	FUZZ_CHECK(ret == 0 || memchr(err.message, '\0', sizeof(err.message)));
	if (page) {
		check_page(page);
		walk_samples(page);
	}
	return page;
}

/* Reads a page through every preset; returns a mask of the presets that
 * extracted a sample. */
static unsigned extract_all(const struct prom_page *page,
			    struct metrics_sample *samples, size_t count)
{
	char why[FUZZ_WHY_LEN];
	struct metric_spec spec;
	unsigned ok = 0;
	size_t i;

	for (i = 0; i < count; i++) {
		const char *name = metric_preset_name(i);
		int ret;

		FUZZ_CHECK(name && metric_spec_preset(name, &spec) == 0);
		memset(&samples[i], 0, sizeof(samples[i]));
		ret =
		    metrics_extract(page, &spec, &samples[i], why, sizeof(why));
		FUZZ_CHECK(ret == 0 || ret == -ENOENT || ret == -EINVAL ||
			   ret == -E2BIG);
		if (ret)
			continue;
		FUZZ_CHECK(samples[i].latency.bucket_count <=
			   METRICS_BUCKETS_MAX);
		FUZZ_CHECK(samples[i].predictions.class_count <=
			   METRICS_CLASSES_MAX);
		ok |= 1u << i;
	}
	return ok;
}

static size_t preset_count(void)
{
	size_t n = 0;

	while (metric_preset_name(n))
		n++;
	return n;
}

/* A selector printed back must parse to the same selector. */
static void fuzz_selectors(const uint8_t *data, size_t size)
{
	char text[FUZZ_SELECTOR_TEXT_MAX], printed[FUZZ_SELECTOR_TEXT_MAX];
	char err[FUZZ_WHY_LEN];
	struct metric_selector sel, again;
	size_t start = 0, line;

	for (line = 0; line < FUZZ_SELECTOR_LINES && start < size; line++) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = (nl ? (size_t)(nl - data) : size) - start;

		if (len < sizeof(text)) {
			memcpy(text, data + start, len);
			text[len] = '\0';
			memset(&sel, 0, sizeof(sel));
			if (!metric_selector_parse(text, &sel, err,
						   sizeof(err))) {
				int n = metric_selector_format(&sel, printed,
							       sizeof(printed));

				FUZZ_CHECK(n > 0 &&
					   (size_t)n < sizeof(printed));
				memset(&again, 0, sizeof(again));
				FUZZ_CHECK(
				    metric_selector_parse(printed, &again, err,
							  sizeof(err)) == 0);
				FUZZ_CHECK(!memcmp(&sel, &again, sizeof(sel)));
			}
		}
		start += len + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *sep = memmem(data, size, FUZZ_PAGE_SEPARATOR,
				 strlen(FUZZ_PAGE_SEPARATOR));
	size_t first_len = sep ? (size_t)(sep - text) + 1 : size;
	struct metrics_sample *start, *end;
	struct prom_page *a, *b = NULL;
	struct metrics_delta delta;
	size_t presets = preset_count(), i;
	unsigned ok_a, ok_b;

	fuzz_selectors(data, size);
	a = parse_page(text, first_len);
	if (sep)
		b = parse_page(sep + 1, size - first_len);
	if (!a && !b)
		return 0;
	start = calloc(presets, sizeof(*start));
	end = calloc(presets, sizeof(*end));
	if (!start || !end)
		goto out;
	ok_a = a ? extract_all(a, start, presets) : 0;
	ok_b = b ? extract_all(b, end, presets) : ok_a;
	if (!b)
		memcpy(end, start, presets * sizeof(*start));
	for (i = 0; i < presets; i++) {
		if (!(ok_a & ok_b & (1u << i)))
			continue;
		FUZZ_CHECK(metrics_delta(&start[i], &end[i], &delta) == 0);
		/* A window ending where it started saw nothing happen. */
		if (!b && !(delta.flags & METRICS_DELTA_COUNTER_RESET))
			FUZZ_CHECK(delta.requests == 0 && delta.errors == 0);
	}
out:
	free(start);
	free(end);
	prom_page_free(a);
	prom_page_free(b);
	return 0;
}
