/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tool.h - what kanary's test tools (kn-load, kn-csumcheck, kn-synflood)
 * share besides their command lines (lib/util/opts.h): the message on a
 * failure, the monotonic clock, stopping on SIGINT/SIGTERM, and JSON
 * strings in their reports.
 * Define PROGRAM_NAME before including it.
 */
#ifndef KANARY_TOOL_H
#define KANARY_TOOL_H

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#ifndef PROGRAM_NAME
#error "define PROGRAM_NAME before including tool.h"
#endif

#define TOOL_NS_PER_S	 1000000000ULL
#define TOOL_ASCII_SPACE 0x20
#define TOOL_ASCII_DEL	 0x7f

/* Set by SIGINT or SIGTERM (its number): the run stops and reports. */
static volatile sig_atomic_t stop_signal __attribute__((unused));
/* The mask while waiting: SIGINT and SIGTERM are blocked everywhere else. */
static sigset_t wait_mask __attribute__((unused));

static inline void on_signal(int sig)
{
	stop_signal = sig;
}

/*
 * A stop signal is taken only inside the wait (ppoll, epoll_pwait2 with
 * wait_mask), which it interrupts: one arriving between the check of
 * stop_signal and the wait cannot be lost.
 */
static inline void tool_catch_stop_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t stop_set;

	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_set, &wait_mask);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* "PROGRAM: MESSAGE" on stderr. */
static inline void __attribute__((format(printf, 1, 2)))
fail_msg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROGRAM_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * TOOL_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* s as a JSON string: quotes, backslashes and controls escaped. */
static inline void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < TOOL_ASCII_SPACE || c >= TOOL_ASCII_DEL)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

#endif /* KANARY_TOOL_H */
