/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * inspect.h - kanaryctl inspect-metrics: what kanary reads from one
 * /metrics page (requests, errors, latency quantiles, prediction classes)
 * through a preset or a service's metrics spec, or exactly why it cannot.
 * The result is JSON, which kanaryctl prints as is (--json) or as text.
 */
#ifndef KANARY_CTL_INSPECT_H
#define KANARY_CTL_INSPECT_H

#include <jansson.h>
#include <stddef.h>

#include "metrics/metric_presets.h"

/*
 * Reads len bytes of page text. spec NULL tries every preset and keeps the
 * one that yields the most (requests, errors, latency, predictions; the
 * first in preset order on a tie). Returns 0 with *out set to
 * {"source", "preset", "detected", "matching_presets", "requests",
 * "errors", "error_rate_pct", "latency": {...} | null,
 * "predictions": [...] | null, "notes": [...]}, or a negative errno with
 * *out = {"source", "error", "line", "column"} (page not parseable) or
 * {"source", "error", "preset", "tried": [{"preset", "error"}]} (nothing
 * kanary needs is on the page). *out is NULL only when memory ran out.
 */
int ctl_inspect_page(const char *source, const char *text, size_t len,
		     const struct metric_spec *spec, json_t **out);

#endif /* KANARY_CTL_INSPECT_H */
