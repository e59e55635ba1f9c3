/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * corpus.c - embeds the .tsv files of modelserver/data/ with the assembler's
 * .incbin.
 *
 * The paths are relative to the repository root, where make runs the
 * compiler; the Makefile makes this object depend on the data files.
 */
#include "corpus.h"

#include <stddef.h>
#include <string.h>

/*
 * Each file becomes a NUL-terminated string in .rodata: the data is text, so
 * strlen() gives its size without the assembler having to export one.
 */
#define CORPUS_EMBED(sym, path)                                                \
	__asm__(".section .rodata\n"                                           \
		".global " #sym "\n"                                           \
		".type " #sym ", @object\n"                                    \
		".balign 16\n" #sym ":\n"                                      \
		".incbin \"" path "\"\n"                                       \
		".byte 0\n"                                                    \
		".previous\n");                                                \
	extern const char sym[]

CORPUS_EMBED(kanary_corpus_train_v1, "modelserver/data/train-v1.tsv");
CORPUS_EMBED(kanary_corpus_train_v2, "modelserver/data/train-v2.tsv");
CORPUS_EMBED(kanary_corpus_heldout, "modelserver/data/heldout.tsv");

struct cls_corpus corpus_get(enum corpus_id id)
{
	static const struct {
		const char *name;
		const char *data;
	} files[CORPUS_COUNT] = {
	    [CORPUS_TRAIN_V1] = {"train-v1.tsv", kanary_corpus_train_v1},
	    [CORPUS_TRAIN_V2] = {"train-v2.tsv", kanary_corpus_train_v2},
	    [CORPUS_HELDOUT] = {"heldout.tsv", kanary_corpus_heldout},
	};
	struct cls_corpus corpus = {.name = "?", .data = "", .len = 0};

	if ((unsigned int)id >= CORPUS_COUNT)
		return corpus;
	corpus.name = files[id].name;
	corpus.data = files[id].data;
	corpus.len = strlen(files[id].data);
	return corpus;
}
