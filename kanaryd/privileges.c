/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * privileges.c - drops capabilities after attaching (see privileges.h),
 * with the raw capset(2) and prctl(2) calls: no libcap needed.
 */
#include "privileges.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CAP_BPF
#define CAP_BPF 39
#endif
/* Highest capability number the kernel may know; unknown ones are skipped. */
#define CAP_NUMBER_MAX 63
#define CAP_WORDS      2

static int keep(int cap)
{
	return cap == CAP_BPF || cap == CAP_NET_ADMIN;
}

int privileges_drop_after_attach(char *err, size_t err_len)
{
	struct __user_cap_header_struct header = {
	    .version = _LINUX_CAPABILITY_VERSION_3,
	    .pid = 0,
	};
	struct __user_cap_data_struct data[CAP_WORDS];
	int cap;

	memset(data, 0, sizeof(data));
	for (cap = 0; cap <= CAP_NUMBER_MAX; cap++) {
		if (!keep(cap))
			continue;
		data[cap / 32].effective |= 1U << (cap % 32);
		data[cap / 32].permitted |= 1U << (cap % 32);
	}
	/* The bounding set first: dropping needs CAP_SETPCAP, still held. */
	for (cap = 0; cap <= CAP_NUMBER_MAX; cap++) {
		if (keep(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL) {
			snprintf(err, err_len,
				 "cannot drop capability %d from the bounding "
				 "set: %s",
				 cap, strerror(errno));
			return -errno;
		}
	}
	if (syscall(SYS_capset, &header, data)) {
		snprintf(err, err_len, "cannot drop capabilities: %s",
			 strerror(errno));
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, err_len, "cannot set no_new_privs: %s",
			 strerror(errno));
		return -errno;
	}
	return 0;
}
