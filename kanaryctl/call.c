/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * call.c - one call to kanaryd's API as a command sees it: the request,
 * then the answer judged. An answer is kanaryd's only in kanaryd's shape
 * (an error as {"error": "...", "field": "..."}, a service with its name,
 * phase and weight, ...); anything else, a redirect, a proxy's page, "{}",
 * is said to come from a server that is not kanaryd and exits 3, never
 * read as a refusal or a success. Strings meant for people are escaped
 * before anything prints them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define HTTP_UNAUTHORIZED 401
#define WHY_LEN		  128

static bool is_service(const json_t *svc)
{
	return json_is_string(json_object_get(svc, "name")) &&
	       json_is_string(json_object_get(svc, "phase")) &&
	       json_is_number(json_object_get(svc, "canary_percent"));
}

/* Whether a 2xx answer has the shape asked for; why says what is off. */
static bool has_shape(const json_t *answer, enum answer_shape shape, char *why,
		      size_t why_len)
{
	const json_t *list, *svc;
	size_t i;

	if (!json_is_object(answer)) {
		snprintf(why, why_len, "not a JSON object");
		return false;
	}
	switch (shape) {
	case ANSWER_SERVICE:
		if (is_service(answer))
			return true;
		snprintf(why, why_len,
			 "no service: \"name\", \"phase\" or "
			 "\"canary_percent\" missing");
		return false;
	case ANSWER_SERVICES:
		list = json_object_get(answer, "services");
		if (!json_is_array(list)) {
			snprintf(why, why_len, "no \"services\" list");
			return false;
		}
		json_array_foreach(list, i, svc)
		{
			if (!is_service(svc)) {
				snprintf(why, why_len,
					 "services[%zu] is not a service", i);
				return false;
			}
		}
		return true;
	case ANSWER_DECISIONS:
		if (json_is_array(json_object_get(answer, "decisions")))
			return true;
		snprintf(why, why_len, "no \"decisions\" list");
		return false;
	case ANSWER_NODES:
		if (json_is_array(json_object_get(answer, "nodes")))
			return true;
		snprintf(why, why_len, "no \"nodes\" list");
		return false;
	}
	snprintf(why, why_len, "unknown shape");
	return false;
}

/* A refusal in kanaryd's words: exit 1, or 3 when it is not kanaryd's. */
static int refused(struct ctl *ctl, const char *path,
		   const struct ctl_response *r)
{
	const char *msg = NULL, *field = NULL;
	char msg_text[CTL_ERR_LEN], field_text[CTL_ERR_LEN];

	if (json_is_object(r->json)) {
		msg = json_string_value(json_object_get(r->json, "error"));
		field = json_string_value(json_object_get(r->json, "field"));
	}
	if (!msg) {
		say_error(ctl,
			  "%s%s: HTTP %ld from a server that is not kanaryd",
			  ctl->client.server, path, r->status);
		return CTL_EXIT_UNREACHABLE;
	}
	if (ctl->json)
		print_json_text(r->body);
	say_error(ctl, "refused by kanaryd (HTTP %ld): %s%s%s%s", r->status,
		  escape_text(msg, msg_text, sizeof(msg_text)),
		  field && *field ? " [field: " : "",
		  field && *field
		      ? escape_text(field, field_text, sizeof(field_text))
		      : "",
		  field && *field ? "]" : "");
	if (r->status == HTTP_UNAUTHORIZED)
		fprintf(stderr,
			"  give the token with --token-file FILE or "
			"$%s\n",
			CTL_TOKEN_FILE_ENV);
	return CTL_EXIT_REFUSED;
}

int call_agent(struct ctl *ctl, const char *method, const char *path,
	       const json_t *body, enum answer_shape shape, json_t **answer)
{
	struct ctl_response r;
	char err[CTL_ERR_LEN], why[WHY_LEN];
	int ret;

	*answer = NULL;
	ret =
	    ctl_request(&ctl->client, method, path, body, &r, err, sizeof(err));
	if (ret == -ENOMEM || ret == -E2BIG) {
		say_error(ctl, "%s", err);
		return CTL_EXIT_REFUSED;
	}
	if (ret) {
		say_error(ctl,
			  "cannot reach kanaryd at %s\n  is kanaryd running "
			  "and listening there? Point kanaryctl at it with "
			  "--server URL or $%s",
			  err, CTL_SERVER_ENV);
		return CTL_EXIT_UNREACHABLE;
	}
	if (r.status < HTTP_OK_MIN || r.status > HTTP_OK_MAX) {
		ret = refused(ctl, path, &r);
		ctl_response_free(&r);
		return ret;
	}
	if (!has_shape(r.json, shape, why, sizeof(why))) {
		say_error(ctl,
			  "%s%s: not a kanaryd answer (HTTP %ld, %s); is that "
			  "server kanaryd?",
			  ctl->client.server, path, r.status, why);
		ctl_response_free(&r);
		return CTL_EXIT_UNREACHABLE;
	}
	/* --json prints the agent's JSON, escaped by the encoder; people get
	 * text, so what a terminal would act on is escaped first. */
	if (!ctl->json && escape_json_strings(r.json)) {
		say_error(ctl, "out of memory");
		ctl_response_free(&r);
		return CTL_EXIT_REFUSED;
	}
	*answer = json_incref(r.json);
	ctl_response_free(&r);
	return CTL_EXIT_OK;
}

int service_path(struct ctl *ctl, const char *name, const char *action,
		 char *buf, size_t len)
{
	if (ctl_service_path(name, action, buf, len)) {
		say_error(ctl, "service name '%s' is too long", name);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}
