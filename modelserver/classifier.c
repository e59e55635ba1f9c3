/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * classifier.c - tokenizer, corpus reader, training and prediction of the
 * naive Bayes sentiment model (see classifier.h for the two versions).
 *
 * Features live in an open-addressing hash table keyed by the feature text
 * ("good", or "not good" for a bigram); training fills per-label counts, then
 * turns them into smoothed log-likelihoods so a prediction is one lookup and
 * CLS_LABEL_COUNT additions per feature.
 */
#include "classifier.h"
#include "corpus.h"
#include "util/hash.h"
#include "util/names.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The table starts with this many slots (a power of two) and doubles. */
#define CLS_TABLE_MIN_SLOTS 1024
/* A bigram is two tokens and the space that joins them. */
#define CLS_MAX_FEATURE_BYTES (2 * CLS_MAX_TOKEN_BYTES + 1)
/* U+2019, the typographic apostrophe, in UTF-8: read like "'". */
#define CLS_UTF8_RSQUO_0     0xe2
#define CLS_UTF8_RSQUO_1     0x80
#define CLS_UTF8_RSQUO_2     0x99
#define CLS_UTF8_RSQUO_BYTES 3

/* What each shipped version is: its knobs and the corpora it learns. */
static const struct {
	const char *name;
	struct cls_config config;
	size_t corpus_count;
	enum corpus_id corpora[CORPUS_COUNT];
} versions[CLS_VERSION_COUNT] = {
    [CLS_VERSION_V1] =
	{
	    .name = "v1",
	    .config = {.bigrams = false, .alpha = 1.0},
	    .corpus_count = 1,
	    .corpora = {CORPUS_TRAIN_V1},
	},
    [CLS_VERSION_V2] =
	{
	    .name = "v2",
	    .config = {.bigrams = true, .alpha = 0.5},
	    .corpus_count = 2,
	    .corpora = {CORPUS_TRAIN_V1, CORPUS_TRAIN_V2},
	},
};

static const char *const label_names[CLS_LABEL_COUNT] = {
    [CLS_LABEL_POSITIVE] = "positive",
    [CLS_LABEL_NEGATIVE] = "negative",
    [CLS_LABEL_NEUTRAL] = "neutral",
};

struct cls_feature {
	char *key; /* NULL: free slot */
	uint64_t hash;
	uint32_t counts[CLS_LABEL_COUNT];
	double log_likelihood[CLS_LABEL_COUNT];
};

struct classifier {
	struct cls_config config;
	struct cls_feature *slots;
	size_t slot_count; /* a power of two */
	size_t feature_count;
	uint64_t docs[CLS_LABEL_COUNT];
	uint64_t occurrences[CLS_LABEL_COUNT]; /* feature tokens seen */
	double log_prior[CLS_LABEL_COUNT];
};

const char *cls_label_name(enum cls_label label)
{
	return names_of(label_names, CLS_LABEL_COUNT, label, NULL);
}

static int label_from(const char *name, size_t len)
{
	int i;

	for (i = 0; i < CLS_LABEL_COUNT; i++)
		if (strlen(label_names[i]) == len &&
		    memcmp(label_names[i], name, len) == 0)
			return i;
	return -EINVAL;
}

int cls_label_parse(const char *name)
{
	return label_from(name, strlen(name));
}

const char *cls_version_name(enum cls_version version)
{
	if ((unsigned int)version >= CLS_VERSION_COUNT)
		return NULL;
	return versions[version].name;
}

int cls_version_parse(const char *name)
{
	int i;

	for (i = 0; i < CLS_VERSION_COUNT; i++)
		if (strcmp(versions[i].name, name) == 0)
			return i;
	return -EINVAL;
}

static bool is_word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80;
}

/* Only ASCII is folded: other bytes may be inside a UTF-8 sequence. */
static char ascii_lower(unsigned char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

static bool is_rsquo(const unsigned char *p, size_t left)
{
	return left >= CLS_UTF8_RSQUO_BYTES && p[0] == CLS_UTF8_RSQUO_0 &&
	       p[1] == CLS_UTF8_RSQUO_1 && p[2] == CLS_UTF8_RSQUO_2;
}

size_t cls_tokenize(const char *text, size_t len,
		    void (*fn)(const char *token, size_t token_len, void *ctx),
		    void *ctx)
{
	const unsigned char *p = (const unsigned char *)text;
	char token[CLS_MAX_TOKEN_BYTES + 1];
	size_t token_len = 0, count = 0, i;
	bool overlong = false;

	/* One step past the end flushes the last token. */
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? p[i] : ' ';

		if (c == '\'')
			continue;
		if (i < len && is_rsquo(p + i, len - i)) {
			i += CLS_UTF8_RSQUO_BYTES - 1;
			continue;
		}
		if (is_word_byte(c)) {
			if (token_len == CLS_MAX_TOKEN_BYTES)
				overlong = true;
			else
				token[token_len++] = ascii_lower(c);
			continue;
		}
		if (token_len > 0 && !overlong) {
			token[token_len] = '\0';
			fn(token, token_len, ctx);
			count++;
		}
		token_len = 0;
		overlong = false;
	}
	return count;
}

int cls_corpus_for_each(const char *data, size_t len,
			int (*fn)(enum cls_label label, const char *text,
				  size_t text_len, void *ctx),
			void *ctx, size_t *bad_line)
{
	size_t pos = 0, line_no = 0;

	while (pos < len) {
		const char *line = data + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - line) : len - pos;
		const char *tab;
		int label, ret;

		pos += line_len + (nl ? 1 : 0);
		line_no++;
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (line_len == 0 || line[0] == '#')
			continue;
		tab = memchr(line, '\t', line_len);
		label = tab ? label_from(line, (size_t)(tab - line)) : -EINVAL;
		if (label < 0 || tab + 1 == line + line_len) {
			if (bad_line)
				*bad_line = line_no;
			return -EINVAL;
		}
		ret = fn((enum cls_label)label, tab + 1,
			 line_len - (size_t)(tab + 1 - line), ctx);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- features -------------------------------------------------------- */

struct feature_walk {
	bool bigrams;
	char prev[CLS_MAX_TOKEN_BYTES + 1];
	size_t prev_len;
	void (*fn)(const char *key, size_t key_len, void *ctx);
	void *ctx;
};

static void walk_token(const char *token, size_t token_len, void *ctx)
{
	struct feature_walk *walk = ctx;
	char pair[CLS_MAX_FEATURE_BYTES + 1];

	walk->fn(token, token_len, walk->ctx);
	if (!walk->bigrams)
		return;
	if (walk->prev_len > 0) {
		memcpy(pair, walk->prev, walk->prev_len);
		pair[walk->prev_len] = ' ';
		memcpy(pair + walk->prev_len + 1, token, token_len);
		pair[walk->prev_len + 1 + token_len] = '\0';
		walk->fn(pair, walk->prev_len + 1 + token_len, walk->ctx);
	}
	memcpy(walk->prev, token, token_len + 1);
	walk->prev_len = token_len;
}

/* Calls fn on each feature of text: its tokens, then bigrams if asked. */
static void for_each_feature(bool bigrams, const char *text, size_t len,
			     void (*fn)(const char *key, size_t key_len,
					void *ctx),
			     void *ctx)
{
	struct feature_walk walk = {
	    .bigrams = bigrams, .prev_len = 0, .fn = fn, .ctx = ctx};

	cls_tokenize(text, len, walk_token, &walk);
}

/* ---- the feature table ----------------------------------------------- */

/* Keys hash with FNV-1a, 64-bit: simple, and good enough for short words. */

/* The slot holding key, or the free slot where it would go. */
static struct cls_feature *table_slot(struct cls_feature *slots,
				      size_t slot_count, const char *key,
				      size_t len, uint64_t hash)
{
	size_t mask = slot_count - 1, i = (size_t)hash & mask;

	/* The table is never more than half full, so this ends. */
	while (slots[i].key &&
	       (slots[i].hash != hash || strncmp(slots[i].key, key, len) != 0 ||
		slots[i].key[len] != '\0'))
		i = (i + 1) & mask;
	return &slots[i];
}

static const struct cls_feature *table_find(const struct classifier *model,
					    const char *key, size_t len)
{
	const struct cls_feature *slot = table_slot(
	    model->slots, model->slot_count, key, len, hash_fnv1a64(key, len));

	return slot->key ? slot : NULL;
}

static int table_grow(struct classifier *model)
{
	size_t new_count = model->slot_count * 2, i;
	struct cls_feature *slots = calloc(new_count, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < model->slot_count; i++) {
		struct cls_feature *old = &model->slots[i];

		if (old->key)
			*table_slot(slots, new_count, old->key,
				    strlen(old->key), old->hash) = *old;
	}
	free(model->slots);
	model->slots = slots;
	model->slot_count = new_count;
	return 0;
}

static int table_count(struct classifier *model, const char *key, size_t len,
		       enum cls_label label)
{
	uint64_t hash = hash_fnv1a64(key, len);
	struct cls_feature *slot;
	int err;

	if (2 * (model->feature_count + 1) > model->slot_count) {
		err = table_grow(model);
		if (err)
			return err;
	}
	slot = table_slot(model->slots, model->slot_count, key, len, hash);
	if (!slot->key) {
		slot->key = strndup(key, len);
		if (!slot->key)
			return -ENOMEM;
		slot->hash = hash;
		model->feature_count++;
	}
	slot->counts[label]++;
	model->occurrences[label]++;
	return 0;
}

/* ---- training -------------------------------------------------------- */

struct train_ctx {
	struct classifier *model;
	enum cls_label label;
	int err;
};

static void train_feature(const char *key, size_t key_len, void *ctx)
{
	struct train_ctx *train = ctx;

	if (!train->err)
		train->err =
		    table_count(train->model, key, key_len, train->label);
}

static int train_example(enum cls_label label, const char *text,
			 size_t text_len, void *ctx)
{
	struct train_ctx *train = ctx;

	train->label = label;
	for_each_feature(train->model->config.bigrams, text, text_len,
			 train_feature, train);
	train->model->docs[label]++;
	return train->err;
}

/*
 * Counts become log-probabilities: P(feature | label) = (count + alpha) /
 * (occurrences + alpha * V) over the V known features; priors get add-one
 * smoothing so a label without examples is unlikely, not impossible.
 */
static void finish_training(struct classifier *model)
{
	double log_denom[CLS_LABEL_COUNT];
	uint64_t total_docs = 0;
	size_t i;
	int l;

	for (l = 0; l < CLS_LABEL_COUNT; l++)
		total_docs += model->docs[l];
	for (l = 0; l < CLS_LABEL_COUNT; l++) {
		model->log_prior[l] =
		    log((double)(model->docs[l] + 1) /
			(double)(total_docs + CLS_LABEL_COUNT));
		log_denom[l] =
		    log((double)model->occurrences[l] +
			model->config.alpha * (double)model->feature_count);
	}
	for (i = 0; i < model->slot_count; i++) {
		struct cls_feature *f = &model->slots[i];

		if (!f->key)
			continue;
		for (l = 0; l < CLS_LABEL_COUNT; l++)
			f->log_likelihood[l] =
			    log((double)f->counts[l] + model->config.alpha) -
			    log_denom[l];
	}
}

int classifier_train(const struct cls_config *config,
		     const struct cls_corpus *corpora, size_t count,
		     struct classifier **out, struct cls_train_error *err)
{
	struct classifier *model;
	struct train_ctx train;
	size_t i, bad_line = 0;
	int ret;

	*out = NULL;
	if (!(config->alpha > 0) || !isfinite(config->alpha))
		return -EINVAL;
	model = calloc(1, sizeof(*model));
	if (!model)
		return -ENOMEM;
	model->config = *config;
	model->slot_count = CLS_TABLE_MIN_SLOTS;
	model->slots = calloc(model->slot_count, sizeof(*model->slots));
	if (!model->slots) {
		free(model);
		return -ENOMEM;
	}
	train = (struct train_ctx){.model = model, .err = 0};
	for (i = 0; i < count; i++) {
		ret = cls_corpus_for_each(corpora[i].data, corpora[i].len,
					  train_example, &train, &bad_line);
		if (ret) {
			if (ret == -EINVAL && err) {
				err->corpus = corpora[i].name;
				err->line = bad_line;
			}
			classifier_free(model);
			return ret;
		}
	}
	finish_training(model);
	*out = model;
	return 0;
}

int classifier_train_version(enum cls_version version, struct classifier **out,
			     struct cls_train_error *err)
{
	struct cls_corpus corpora[CORPUS_COUNT];
	size_t i;

	*out = NULL;
	if ((unsigned int)version >= CLS_VERSION_COUNT)
		return -EINVAL;
	for (i = 0; i < versions[version].corpus_count; i++)
		corpora[i] = corpus_get(versions[version].corpora[i]);
	return classifier_train(&versions[version].config, corpora,
				versions[version].corpus_count, out, err);
}

void classifier_free(struct classifier *model)
{
	size_t i;

	if (!model)
		return;
	for (i = 0; i < model->slot_count; i++)
		free(model->slots[i].key);
	free(model->slots);
	free(model);
}

size_t classifier_feature_count(const struct classifier *model)
{
	return model->feature_count;
}

/* ---- prediction ------------------------------------------------------ */

struct predict_ctx {
	const struct classifier *model;
	double log_score[CLS_LABEL_COUNT];
	size_t known;
};

static void predict_feature(const char *key, size_t key_len, void *ctx)
{
	struct predict_ctx *pred = ctx;
	const struct cls_feature *f = table_find(pred->model, key, key_len);
	int l;

	/* A feature never seen in training says nothing about any label. */
	if (!f)
		return;
	for (l = 0; l < CLS_LABEL_COUNT; l++)
		pred->log_score[l] += f->log_likelihood[l];
	pred->known++;
}

void classifier_predict(const struct classifier *model, const char *text,
			size_t len, struct cls_prediction *out)
{
	struct predict_ctx pred = {.model = model, .known = 0};
	double max, sum = 0;
	int l, best = CLS_LABEL_NEUTRAL;

	memcpy(pred.log_score, model->log_prior, sizeof(pred.log_score));
	for_each_feature(model->config.bigrams, text, len, predict_feature,
			 &pred);

	/* Ties go to neutral: only a strictly higher score wins over it. */
	for (l = 0; l < CLS_LABEL_COUNT; l++)
		if (pred.log_score[l] > pred.log_score[best])
			best = l;
	/* Softmax relative to the best score, so exp() never overflows. */
	max = pred.log_score[best];
	for (l = 0; l < CLS_LABEL_COUNT; l++) {
		out->scores[l] = exp(pred.log_score[l] - max);
		sum += out->scores[l];
	}
	for (l = 0; l < CLS_LABEL_COUNT; l++)
		out->scores[l] /= sum;
	out->label = (enum cls_label)best;
	out->known_features = pred.known;
}
