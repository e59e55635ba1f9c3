/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * corpus.h - the labeled sentences in modelserver/data/, assembled into the
 * binary so kanary-modelserver runs from anywhere without data files.
 */
#ifndef KANARY_MODELSERVER_CORPUS_H
#define KANARY_MODELSERVER_CORPUS_H

#include "classifier.h"

enum corpus_id {
	CORPUS_TRAIN_V1 = 0, /* data/train-v1.tsv: what both versions learn */
	CORPUS_TRAIN_V2 = 1, /* data/train-v2.tsv: what only v2 adds */
	CORPUS_HELDOUT = 2,  /* data/heldout.tsv: never trained on */
	CORPUS_COUNT = 3,
};

/* The embedded file id; an empty corpus named "?" for an invalid id. */
struct cls_corpus corpus_get(enum corpus_id id);

#endif /* KANARY_MODELSERVER_CORPUS_H */
