/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * inspect_cmd.c - the inspect-metrics command: a /metrics page fetched,
 * read from a file or stdin, handed to inspect.c, and its findings (or
 * why nothing could be read) printed. No agent is involved.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "inspect.h"
#include "metrics/metric_presets.h"
#include "util/buf.h"

/* A page of model-server metrics is far below this. */
#define INSPECT_MAX_PAGE_BYTES (64 * 1024 * 1024)

static bool is_url(const char *s)
{
	return !strncmp(s, "http://", strlen("http://")) ||
	       !strncmp(s, "https://", strlen("https://"));
}

static int read_source(struct ctl *ctl, const char *source, char **text,
		       size_t *len)
{
	char err[CTL_ERR_LEN];
	struct buf page;
	FILE *f;
	int ret;

	*text = NULL;
	*len = 0;
	if (is_url(source)) {
		long status = 0;

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
	buf_init(&page, INSPECT_MAX_PAGE_BYTES);
	ret = buf_read_file(&page, f);
	if (f != stdin)
		fclose(f);
	if (ret == -E2BIG) {
		say_error(ctl, "'%s' is over %d bytes", source,
			  INSPECT_MAX_PAGE_BYTES);
	} else if (ret == -ENOMEM) {
		say_error(ctl, "'%s': out of memory", source);
	} else if (ret) {
		say_error(ctl, "cannot read '%s': %s", source, strerror(-ret));
	}
	if (ret) {
		buf_free(&page);
		return CTL_EXIT_REFUSED;
	}
	*len = page.len;
	*text = buf_take(&page);
	if (!*text) {
		say_error(ctl, "out of memory");
		return CTL_EXIT_REFUSED;
	}
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

int do_inspect_metrics(struct ctl *ctl, int argc, char **argv)
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
		print_command_help(ctl->cmd);
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
	/* A fetched page's names and labels reach the terminal escaped. */
	if (!result || (!ctl->json && escape_json_strings(result))) {
		json_decref(result);
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
