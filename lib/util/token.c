/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * token.c - a bearer token read from its file (see token.h).
 */
#include "util/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/text.h"

int token_read_file(const char *path, char *buf, size_t len, char *err,
		    size_t err_len)
{
	struct stat st;
	ssize_t n;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		snprintf(err, err_len, "cannot read token file %s: %s", path,
			 strerror(saved));
		return -saved;
	}
	if (!fstat(fd, &st) && (st.st_mode & (S_IRWXG | S_IRWXO)))
		log_warn("token file %s is readable by others than its owner: "
			 "chmod 600 it",
			 path);
	n = read(fd, buf, len - 1);
	saved = errno;
	close(fd);
	if (n < 0) {
		snprintf(err, err_len, "cannot read token file %s: %s", path,
			 strerror(saved));
		return -EIO;
	}
	buf[n] = '\0';
	while (n > 0 &&
	       (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n == 0 || (size_t)n >= len - 1) {
		snprintf(err, err_len,
			 "token file %s must hold one token of 1 to %zu "
			 "characters",
			 path, len - 2);
		return -EINVAL;
	}
	if (text_control_at(buf, (size_t)n, false) < (size_t)n) {
		snprintf(err, err_len,
			 "token file %s must hold one token on one line: a "
			 "line break or another control character is inside",
			 path);
		return -EINVAL;
	}
	return 0;
}
