/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * version.h - kanary's version, printed by kanaryd and kanaryctl.
 */
#ifndef KANARY_VERSION_H
#define KANARY_VERSION_H

#define KANARY_VERSION "0.1.0"

#endif /* KANARY_VERSION_H */
