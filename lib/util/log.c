/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * log.c - kanary's logging to stderr (journald adds the timestamps when run
 * under systemd; an interactive run gets them from us).
 */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static bool verbose_enabled;
static const char *program_name = "kanary";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warning",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void log_set_verbose(bool verbose)
{
	verbose_enabled = verbose;
}

bool log_is_verbose(void)
{
	return verbose_enabled;
}

void log_set_program(const char *name)
{
	program_name = name;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char stamp[32] = "";
	va_list ap;

	if (level == LOG_LEVEL_DEBUG && !verbose_enabled)
		return;
	if (isatty(STDERR_FILENO)) {
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		localtime_r(&now.tv_sec, &tm);
		snprintf(stamp, sizeof(stamp), "%02d:%02d:%02d.%03ld ",
			 tm.tm_hour, tm.tm_min, tm.tm_sec,
			 now.tv_nsec / 1000000);
	}
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s%s: %s: ", stamp, program_name, level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}
