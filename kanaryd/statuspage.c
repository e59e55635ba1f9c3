/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * statuspage.c - embeds kanaryd/statuspage.html with the assembler's .incbin.
 *
 * The path is relative to the repository root, where make runs the
 * compiler; the Makefile makes this object depend on the page. Two labels
 * around the bytes give its length without a NUL or a generated header.
 */
#include "statuspage.h"

__asm__(".section .rodata\n"
	".balign 16\n"
	"kanary_statuspage_start:\n"
	".incbin \"kanaryd/statuspage.html\"\n"
	"kanary_statuspage_end:\n"
	".previous\n");

extern const char kanary_statuspage_start[] __asm__("kanary_statuspage_start");
extern const char kanary_statuspage_end[] __asm__("kanary_statuspage_end");

const char *statuspage_html(size_t *len)
{
	*len = (size_t)(kanary_statuspage_end - kanary_statuspage_start);
	return kanary_statuspage_start;
}
