/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * privileges.h - giving up what kanaryd no longer needs once attached.
 */
#ifndef KANARY_PRIVILEGES_H
#define KANARY_PRIVILEGES_H

#include <stddef.h>

/*
 * Keeps only CAP_BPF (the maps are updated for as long as kanaryd runs) and
 * CAP_NET_ADMIN (the programs are detached at exit), in the effective,
 * permitted and bounding sets, clears the inheritable set and sets
 * no_new_privs. Everything else kanaryd needed to start (mounting bpffs,
 * loading programs, creating pins, binding the API port) is done by then.
 * Returns 0, or a negative errno with a message in err.
 */
int privileges_drop_after_attach(char *err, size_t err_len);

#endif /* KANARY_PRIVILEGES_H */
