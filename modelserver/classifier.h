/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * classifier.h - the sentiment model that kanary-modelserver serves: a
 * multinomial naive Bayes classifier over a bag of words, in two versions
 * that a canary rollout can compare.
 *
 *   v1: unigrams, trained on train-v1.tsv, Laplace smoothing (alpha 1).
 *   v2: unigrams and bigrams, trained on train-v1.tsv and train-v2.tsv,
 *       lighter smoothing (alpha 0.5); bigrams let it read "not good".
 *
 * Pure computation: no I/O, no logging, no global state. A trained model is
 * read-only, so any number of threads may predict with it at once.
 */
#ifndef KANARY_MODELSERVER_CLASSIFIER_H
#define KANARY_MODELSERVER_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>

enum cls_label {
	CLS_LABEL_POSITIVE = 0,
	CLS_LABEL_NEGATIVE = 1,
	CLS_LABEL_NEUTRAL = 2,
	CLS_LABEL_COUNT = 3,
};

enum cls_version {
	CLS_VERSION_V1 = 0,
	CLS_VERSION_V2 = 1,
	CLS_VERSION_COUNT = 2,
};

/* Longer runs of word characters are not words; the tokenizer skips them. */
#define CLS_MAX_TOKEN_BYTES 32

struct cls_prediction {
	enum cls_label label;
	/* Posterior probabilities, indexed by enum cls_label; they sum to 1. */
	double scores[CLS_LABEL_COUNT];
	/* How many of the text's features the model knew (0: priors only). */
	size_t known_features;
};

struct classifier;

/* "positive", "negative", "neutral"; NULL for an out-of-range label. */
const char *cls_label_name(enum cls_label label);
/* The label called name, or -EINVAL. */
int cls_label_parse(const char *name);
/* "v1", "v2"; NULL for an out-of-range version. */
const char *cls_version_name(enum cls_version version);
/* The version called name, or -EINVAL. */
int cls_version_parse(const char *name);

/*
 * Splits text into lower-case word tokens and calls fn on each, in order.
 * A word is a run of ASCII letters and digits, apostrophes (dropped: "don't"
 * is "dont") and bytes >= 0x80 (so UTF-8 words stay whole); anything else
 * separates words. A token handed to fn is NUL-terminated and at most
 * CLS_MAX_TOKEN_BYTES long. Returns the number of tokens.
 */
size_t cls_tokenize(const char *text, size_t len,
		    void (*fn)(const char *token, size_t token_len, void *ctx),
		    void *ctx);

/*
 * Calls fn on each example of a corpus: lines of "label<TAB>text"; blank
 * lines and lines starting with '#' are skipped. Stops at fn's first
 * non-zero return and returns it. A malformed line gives -EINVAL with its
 * 1-based number in *bad_line (when bad_line is not NULL).
 */
int cls_corpus_for_each(const char *data, size_t len,
			int (*fn)(enum cls_label label, const char *text,
				  size_t text_len, void *ctx),
			void *ctx, size_t *bad_line);

/* How a model learns: the knobs that tell v1 and v2 apart. */
struct cls_config {
	bool bigrams; /* adjacent word pairs are features too */
	double alpha; /* additive smoothing of the word counts, > 0 */
};

/* One training corpus, in the format of cls_corpus_for_each(). */
struct cls_corpus {
	const char *name; /* for error messages */
	const char *data;
	size_t len;
};

/* Where training failed on a malformed corpus. */
struct cls_train_error {
	const char *corpus; /* the cls_corpus name */
	size_t line;	    /* 1-based */
};

/*
 * Trains a model with config on count corpora. Returns 0 and the model in
 * *out; -EINVAL for a bad config or a malformed corpus (where, in *err,
 * which may be NULL); -ENOMEM.
 */
int classifier_train(const struct cls_config *config,
		     const struct cls_corpus *corpora, size_t count,
		     struct classifier **out, struct cls_train_error *err);

/*
 * Trains a shipped model version on the corpus embedded in the binary (see
 * the top of this file and corpus.h). Same returns as classifier_train().
 */
int classifier_train_version(enum cls_version version, struct classifier **out,
			     struct cls_train_error *err);

void classifier_free(struct classifier *model);

/* Distinct features (words, and word pairs with bigrams) the model knows. */
size_t classifier_feature_count(const struct classifier *model);

/*
 * Classifies len bytes of text (no NUL needed). Deterministic for a given
 * model and text. With no known feature the answer is the priors, and ties
 * go to neutral: no evidence is no sentiment.
 */
void classifier_predict(const struct classifier *model, const char *text,
			size_t len, struct cls_prediction *out);

#endif /* KANARY_MODELSERVER_CLASSIFIER_H */
