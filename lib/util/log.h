/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * log.h - kanary's logging: one line per event on stderr, with a level.
 *
 * Errors say what was attempted, on what, and why (strerror of the errno);
 * debug lines are hidden unless log_set_verbose(true).
 */
#ifndef KANARY_LOG_H
#define KANARY_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

void log_set_verbose(bool verbose);
bool log_is_verbose(void);
/* Prefix every line with this program name ("kanaryd"). */
void log_set_program(const char *name);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif /* KANARY_LOG_H */
