/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tests/lib/stale_pins.h - removes the pin directories that test programs
 * left in bpffs when they died before closing their data path. Each test
 * pins under ROOT/PREFIX<pid>; a directory whose pid is gone is stale.
 * Shared by the packet fuzzer (tests/bpf) and the API fuzz target
 * (tests/fuzz); header-only, as both are single-file programs.
 */
#ifndef KANARY_TESTS_STALE_PINS_H
#define KANARY_TESTS_STALE_PINS_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Says what it removed on stdout ("# removed ...") when SAY is set. */
static inline void remove_stale_pin_dirs(const char *root_path,
					 const char *prefix, bool say)
{
	DIR *root = opendir(root_path);
	size_t prefix_len = strlen(prefix);
	struct dirent *d;

	if (!root)
		return;
	while ((d = readdir(root))) {
		char path[PATH_MAX], file[PATH_MAX + NAME_MAX + 2];
		struct dirent *e;
		char *end;
		long pid;
		DIR *pins;

		if (strncmp(d->d_name, prefix, prefix_len))
			continue;
		pid = strtol(d->d_name + prefix_len, &end, 10);
		if (pid <= 0 || *end || !kill((pid_t)pid, 0) || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", root_path, d->d_name);
		pins = opendir(path);
		while (pins && (e = readdir(pins))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
			unlink(file);
		}
		if (pins)
			closedir(pins);
		if (!rmdir(path) && say)
			printf("# removed %s, left by a run that died\n", path);
	}
	closedir(root);
}

#endif /* KANARY_TESTS_STALE_PINS_H */
