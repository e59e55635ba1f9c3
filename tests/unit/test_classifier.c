/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_classifier.c - kanary-modelserver's sentiment model: the tokenizer,
 * the corpus reader, the naive Bayes arithmetic on a corpus small enough to
 * work out by hand, and both shipped versions on the held-out sentences.
 *
 * The model is not part of libkanary.a, so its sources are compiled in here
 * (the Makefile makes this test depend on them and on the data).
 */
#include "unit.h"

#include "../../modelserver/classifier.c"
#include "../../modelserver/corpus.c"

#include <math.h>

/* Measured: v1 and v2 both classify 109 of the 120 held-out sentences
 * (0.908); a broken tokenizer or smoothing drops far below this floor. */
#define HELDOUT_ACCURACY_FLOOR 0.85
/* The versions must differ, but on a minority of sentences (12 of 120). */
#define MIN_VERSION_AGREEMENT 0.8
#define HELDOUT_PER_LABEL     40
#define TRAIN_V1_PER_LABEL    100
#define TRAIN_V2_PER_LABEL    50
#define SCORE_EPSILON	      1e-9
/* Long enough that naive products of probabilities would underflow. */
#define LONG_TEXT_BYTES (1024 * 1024)
#define MAX_TEST_TOKENS 16

static struct classifier *models[CLS_VERSION_COUNT];

static int train_shipped(void **state)
{
	struct cls_train_error err = {.corpus = "?", .line = 0};
	int v, ret;

	(void)state;
	for (v = 0; v < CLS_VERSION_COUNT; v++) {
		ret = classifier_train_version((enum cls_version)v, &models[v],
					       &err);
		if (ret) {
			print_error("training %s failed: %d at %s:%zu\n",
				    cls_version_name((enum cls_version)v), ret,
				    err.corpus, err.line);
			return -1;
		}
	}
	return 0;
}

static int free_shipped(void **state)
{
	int v;

	(void)state;
	for (v = 0; v < CLS_VERSION_COUNT; v++)
		classifier_free(models[v]);
	return 0;
}

/* ---- tokenizer ------------------------------------------------------- */

struct tokens {
	size_t count;
	char text[MAX_TEST_TOKENS][CLS_MAX_TOKEN_BYTES + 1];
};

static void collect(const char *token, size_t token_len, void *ctx)
{
	struct tokens *t = ctx;

	assert_int_equal(strlen(token), token_len);
	assert_true(token_len <= CLS_MAX_TOKEN_BYTES);
	if (t->count < MAX_TEST_TOKENS)
		memcpy(t->text[t->count], token, token_len + 1);
	t->count++;
}

static struct tokens tokenize(const char *text, size_t len)
{
	struct tokens t = {.count = 0};
	size_t n = cls_tokenize(text, len, collect, &t);

	assert_int_equal(n, t.count);
	return t;
}

static void test_tokenize_words(void **state)
{
	static const char text[] = "Don't STOP: it's great, 10/10!";
	struct tokens t = tokenize(text, strlen(text));

	(void)state;
	assert_int_equal(t.count, 6);
	assert_string_equal(t.text[0], "dont");
	assert_string_equal(t.text[1], "stop");
	assert_string_equal(t.text[2], "its");
	assert_string_equal(t.text[3], "great");
	assert_string_equal(t.text[4], "10");
	assert_string_equal(t.text[5], "10");
}

static void test_tokenize_empty_and_punctuation(void **state)
{
	static const char punct[] = "?!... ,;-- () \"'\" \t\r\n";
	struct tokens t;

	(void)state;
	t = tokenize("", 0);
	assert_int_equal(t.count, 0);
	t = tokenize(punct, strlen(punct));
	assert_int_equal(t.count, 0);
}

static void test_tokenize_respects_length(void **state)
{
	/* No NUL is needed: only len bytes are read. */
	static const char text[] = "good bad";
	struct tokens t = tokenize(text, 4);

	(void)state;
	assert_int_equal(t.count, 1);
	assert_string_equal(t.text[0], "good");
}

static void test_tokenize_non_ascii(void **state)
{
	/* UTF-8 words stay whole and keep their case; only ASCII folds. */
	static const char utf8[] = "Caf\xc3\xa9 NA\xc3\x8f"
				   "VE";
	/* The typographic apostrophe reads like "'". */
	static const char rsquo[] = "don\xe2\x80\x99t";
	/* Invalid UTF-8 is just bytes: no crash, no special meaning. */
	static const char invalid[] = "\xff\xfe great \xc3";
	struct tokens t;

	(void)state;
	t = tokenize(utf8, strlen(utf8));
	assert_int_equal(t.count, 2);
	assert_string_equal(t.text[0], "caf\xc3\xa9");
	assert_string_equal(t.text[1], "na\xc3\x8f"
				       "ve");
	t = tokenize(rsquo, strlen(rsquo));
	assert_int_equal(t.count, 1);
	assert_string_equal(t.text[0], "dont");
	t = tokenize(invalid, strlen(invalid));
	assert_int_equal(t.count, 3);
	assert_string_equal(t.text[0], "\xff\xfe");
	assert_string_equal(t.text[1], "great");
	assert_string_equal(t.text[2], "\xc3");
}

static void test_tokenize_overlong_words(void **state)
{
	char text[3 * CLS_MAX_TOKEN_BYTES];
	struct tokens t;

	(void)state;
	/* Exactly the limit is a word; one byte more is not. */
	memset(text, 'a', CLS_MAX_TOKEN_BYTES);
	text[CLS_MAX_TOKEN_BYTES] = ' ';
	memset(text + CLS_MAX_TOKEN_BYTES + 1, 'b', CLS_MAX_TOKEN_BYTES + 1);
	t = tokenize(text, 2 * CLS_MAX_TOKEN_BYTES + 2);
	assert_int_equal(t.count, 1);
	assert_int_equal(strlen(t.text[0]), CLS_MAX_TOKEN_BYTES);
	assert_int_equal(t.text[0][0], 'a');
}

/* ---- corpus reader --------------------------------------------------- */

struct examples {
	size_t count;
	size_t per_label[CLS_LABEL_COUNT];
	char last[MAX_TEST_TOKENS * 4];
};

static int count_example(enum cls_label label, const char *text,
			 size_t text_len, void *ctx)
{
	struct examples *ex = ctx;

	assert_true(text_len > 0);
	ex->count++;
	ex->per_label[label]++;
	snprintf(ex->last, sizeof(ex->last), "%.*s", (int)text_len, text);
	return 0;
}

static void test_corpus_reader(void **state)
{
	static const char good[] = "# a comment\n"
				   "\n"
				   "positive\tGreat phone.\r\n"
				   "negative\tAwful.\n"
				   "neutral\tIt is blue.";
	static const char *const bad[] = {
	    "positive\tok\nno tab here\n",
	    "positive\tok\nhappy\tunknown label\n",
	    "positive\tok\nnegative\t\n",
	    "\tno label\n",
	};
	static const size_t bad_lines[] = {2, 2, 2, 1};
	struct examples ex = {.count = 0};
	size_t i, line;

	(void)state;
	assert_int_equal(
	    cls_corpus_for_each(good, strlen(good), count_example, &ex, NULL),
	    0);
	assert_int_equal(ex.count, 3);
	assert_int_equal(ex.per_label[CLS_LABEL_POSITIVE], 1);
	assert_int_equal(ex.per_label[CLS_LABEL_NEGATIVE], 1);
	assert_int_equal(ex.per_label[CLS_LABEL_NEUTRAL], 1);
	assert_string_equal(ex.last, "It is blue.");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		line = 0;
		ex.count = 0;
		assert_int_equal(cls_corpus_for_each(bad[i], strlen(bad[i]),
						     count_example, &ex, &line),
				 -EINVAL);
		assert_int_equal(line, bad_lines[i]);
	}
}

static void test_embedded_corpus_is_balanced(void **state)
{
	static const size_t per_label[CORPUS_COUNT] = {
	    [CORPUS_TRAIN_V1] = TRAIN_V1_PER_LABEL,
	    [CORPUS_TRAIN_V2] = TRAIN_V2_PER_LABEL,
	    [CORPUS_HELDOUT] = HELDOUT_PER_LABEL,
	};
	struct cls_corpus corpus;
	int id, l;

	(void)state;
	for (id = 0; id < CORPUS_COUNT; id++) {
		struct examples ex = {.count = 0};

		corpus = corpus_get((enum corpus_id)id);
		assert_int_equal(cls_corpus_for_each(corpus.data, corpus.len,
						     count_example, &ex, NULL),
				 0);
		for (l = 0; l < CLS_LABEL_COUNT; l++)
			assert_int_equal(ex.per_label[l], per_label[id]);
	}
	corpus = corpus_get(CORPUS_COUNT);
	assert_string_equal(corpus.name, "?");
	assert_int_equal(corpus.len, 0);
}

static void test_names(void **state)
{
	int l, v;

	(void)state;
	for (l = 0; l < CLS_LABEL_COUNT; l++)
		assert_int_equal(
		    cls_label_parse(cls_label_name((enum cls_label)l)), l);
	for (v = 0; v < CLS_VERSION_COUNT; v++)
		assert_int_equal(
		    cls_version_parse(cls_version_name((enum cls_version)v)),
		    v);
	assert_int_equal(cls_label_parse("Positive"), -EINVAL);
	assert_int_equal(cls_label_parse(""), -EINVAL);
	assert_int_equal(cls_version_parse("v3"), -EINVAL);
	assert_null(cls_label_name(CLS_LABEL_COUNT));
	assert_null(cls_version_name(CLS_VERSION_COUNT));
}

/* ---- the arithmetic, on a corpus worked out by hand ------------------ */

static const char tiny_text[] = "positive\tgood\n"
				"negative\tbad\n"
				"neutral\tbox\n";

static struct classifier *train_tiny(bool bigrams, const char *text)
{
	struct cls_config config = {.bigrams = bigrams, .alpha = 1.0};
	struct cls_corpus corpus = {
	    .name = "tiny", .data = text, .len = strlen(text)};
	struct classifier *model = NULL;

	assert_int_equal(classifier_train(&config, &corpus, 1, &model, NULL),
			 0);
	assert_non_null(model);
	return model;
}

static void test_tiny_model_probabilities(void **state)
{
	struct classifier *model = train_tiny(false, tiny_text);
	struct cls_prediction pred;

	(void)state;
	assert_int_equal(classifier_feature_count(model), 3);
	/*
	 * V = 3 words, one occurrence per label: P(good | positive) =
	 * (1 + 1) / (1 + 3) = 1/2, P(good | other) = 1/4; equal priors.
	 */
	classifier_predict(model, "good", 4, &pred);
	assert_int_equal(pred.label, CLS_LABEL_POSITIVE);
	assert_int_equal(pred.known_features, 1);
	assert_float_equal(pred.scores[CLS_LABEL_POSITIVE], 0.5, SCORE_EPSILON);
	assert_float_equal(pred.scores[CLS_LABEL_NEGATIVE], 0.25,
			   SCORE_EPSILON);
	assert_float_equal(pred.scores[CLS_LABEL_NEUTRAL], 0.25, SCORE_EPSILON);
	/* Twice the evidence: 1/4 against 1/16 and 1/16. */
	classifier_predict(model, "GOOD good", 9, &pred);
	assert_float_equal(pred.scores[CLS_LABEL_POSITIVE], 2.0 / 3.0,
			   SCORE_EPSILON);
	assert_float_equal(pred.scores[CLS_LABEL_NEGATIVE], 1.0 / 6.0,
			   SCORE_EPSILON);
	/* Unknown words are ignored: priors only, and the tie is neutral. */
	classifier_predict(model, "zebra", 5, &pred);
	assert_int_equal(pred.known_features, 0);
	assert_int_equal(pred.label, CLS_LABEL_NEUTRAL);
	assert_float_equal(pred.scores[CLS_LABEL_POSITIVE], 1.0 / 3.0,
			   SCORE_EPSILON);
	classifier_free(model);
}

static void test_bigrams_are_features(void **state)
{
	static const char text[] = "positive\tnot bad\n"
				   "negative\tbad\n"
				   "neutral\tbox\n";
	struct classifier *unigram = train_tiny(false, text);
	struct classifier *bigram = train_tiny(true, text);
	struct cls_prediction pred;

	(void)state;
	/* not, bad, box; the bigram model adds "not bad". */
	assert_int_equal(classifier_feature_count(unigram), 3);
	assert_int_equal(classifier_feature_count(bigram), 4);
	classifier_predict(bigram, "not bad", 7, &pred);
	assert_int_equal(pred.known_features, 3);
	assert_int_equal(pred.label, CLS_LABEL_POSITIVE);
	classifier_free(unigram);
	classifier_free(bigram);
}

static void test_train_rejects_bad_input(void **state)
{
	static const char broken[] = "positive\tfine\nnonsense line\n";
	struct cls_config config = {.bigrams = false, .alpha = 0.0};
	struct cls_corpus corpus = {
	    .name = "tiny", .data = tiny_text, .len = strlen(tiny_text)};
	struct cls_train_error err = {.corpus = NULL, .line = 0};
	struct classifier *model = (struct classifier *)&config;

	(void)state;
	assert_int_equal(classifier_train(&config, &corpus, 1, &model, &err),
			 -EINVAL);
	assert_null(model);
	config.alpha = 1.0;
	corpus.data = broken;
	corpus.len = strlen(broken);
	assert_int_equal(classifier_train(&config, &corpus, 1, &model, &err),
			 -EINVAL);
	assert_null(model);
	assert_string_equal(err.corpus, "tiny");
	assert_int_equal(err.line, 2);
	assert_int_equal(
	    classifier_train_version(CLS_VERSION_COUNT, &model, &err), -EINVAL);
}

/* ---- the shipped versions -------------------------------------------- */

static void assert_probabilities(const struct cls_prediction *pred)
{
	double sum = 0;
	int l;

	for (l = 0; l < CLS_LABEL_COUNT; l++) {
		assert_true(isfinite(pred->scores[l]));
		assert_true(pred->scores[l] >= 0 && pred->scores[l] <= 1);
		assert_true(pred->scores[l] <= pred->scores[pred->label]);
		sum += pred->scores[l];
	}
	assert_float_equal(sum, 1.0, SCORE_EPSILON);
}

/* Same label, same evidence, the same scores bit for bit. */
static void assert_same_prediction(const struct cls_prediction *a,
				   const struct cls_prediction *b)
{
	assert_int_equal(a->label, b->label);
	assert_int_equal(a->known_features, b->known_features);
	assert_memory_equal(a->scores, b->scores, sizeof(a->scores));
}

static void test_deterministic(void **state)
{
	static const char text[] = "The courier was late but very polite.";
	struct cls_prediction a, b;
	struct classifier *again;
	int v;

	(void)state;
	for (v = 0; v < CLS_VERSION_COUNT; v++) {
		classifier_predict(models[v], text, strlen(text), &a);
		classifier_predict(models[v], text, strlen(text), &b);
		assert_same_prediction(&a, &b);
		/* A model trained anew answers the same, bit for bit. */
		assert_int_equal(
		    classifier_train_version((enum cls_version)v, &again, NULL),
		    0);
		classifier_predict(again, text, strlen(text), &b);
		assert_same_prediction(&a, &b);
		assert_int_equal(classifier_feature_count(again),
				 classifier_feature_count(models[v]));
		classifier_free(again);
		assert_probabilities(&a);
	}
	/* v2 knows word pairs, so it knows more features than v1. */
	assert_true(classifier_feature_count(models[CLS_VERSION_V2]) >
		    classifier_feature_count(models[CLS_VERSION_V1]));
}

static void test_known_sentences(void **state)
{
	/* Written for this test: in none of the data files. */
	static const struct {
		const char *text;
		enum cls_label label;
	} cases[] = {
	    {"The staff were wonderful and the food was delicious.",
	     CLS_LABEL_POSITIVE},
	    {"I love this phone, the camera is excellent.", CLS_LABEL_POSITIVE},
	    {"The package arrived broken and support was useless.",
	     CLS_LABEL_NEGATIVE},
	    {"Terrible hotel, the room was dirty and noisy.",
	     CLS_LABEL_NEGATIVE},
	    {"The store opens at nine on Saturdays.", CLS_LABEL_NEUTRAL},
	    {"The laptop has two USB ports and a card reader.",
	     CLS_LABEL_NEUTRAL},
	};
	struct cls_prediction pred;
	size_t i;
	int v;

	(void)state;
	for (v = 0; v < CLS_VERSION_COUNT; v++)
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			classifier_predict(models[v], cases[i].text,
					   strlen(cases[i].text), &pred);
			if (pred.label != cases[i].label)
				print_error(
				    "%s: '%s' is %s, not %s\n",
				    cls_version_name((enum cls_version)v),
				    cases[i].text, cls_label_name(pred.label),
				    cls_label_name(cases[i].label));
			assert_int_equal(pred.label, cases[i].label);
			assert_probabilities(&pred);
		}
}

static void test_v2_reads_negation(void **state)
{
	/*
	 * v1 knows "not" (from complaints) but never saw "bad"; v2 learned
	 * "bad" and, from its extra data, the pair "not bad".
	 */
	static const char text[] = "Not bad at all for the price.";
	struct cls_prediction v1, v2;

	(void)state;
	classifier_predict(models[CLS_VERSION_V1], text, strlen(text), &v1);
	classifier_predict(models[CLS_VERSION_V2], text, strlen(text), &v2);
	assert_int_equal(v1.label, CLS_LABEL_NEGATIVE);
	assert_int_equal(v2.label, CLS_LABEL_POSITIVE);
	classifier_predict(models[CLS_VERSION_V1], "not bad", 7, &v1);
	classifier_predict(models[CLS_VERSION_V2], "not bad", 7, &v2);
	assert_int_equal(v1.known_features, 1);
	assert_int_equal(v2.known_features, 3);
}

static void test_edge_texts(void **state)
{
	static const char punct[] = "?!?! ... ;-)";
	static const char foreign[] = "Das Essen war gro\xc3\x9f"
				      "artig \xf0\x9f\x98\x80";
	static const char mixed[] = "\xff\xfe excellent \xc3 service \x80";
	static const char sentence[] = "The staff were friendly and helpful. ";
	struct cls_prediction pred;
	char *text;
	size_t i, n = strlen(sentence);
	int v;

	(void)state;
	text = malloc(LONG_TEXT_BYTES);
	assert_non_null(text);
	for (i = 0; i < LONG_TEXT_BYTES; i++)
		text[i] = sentence[i % n];

	for (v = 0; v < CLS_VERSION_COUNT; v++) {
		/* No evidence: equal priors, neutral, a third each. */
		classifier_predict(models[v], "", 0, &pred);
		assert_int_equal(pred.label, CLS_LABEL_NEUTRAL);
		assert_int_equal(pred.known_features, 0);
		assert_float_equal(pred.scores[CLS_LABEL_POSITIVE], 1.0 / 3.0,
				   SCORE_EPSILON);
		classifier_predict(models[v], punct, strlen(punct), &pred);
		assert_int_equal(pred.label, CLS_LABEL_NEUTRAL);
		assert_int_equal(pred.known_features, 0);
		classifier_predict(models[v], foreign, strlen(foreign), &pred);
		assert_int_equal(pred.label, CLS_LABEL_NEUTRAL);
		assert_probabilities(&pred);
		classifier_predict(models[v], mixed, strlen(mixed), &pred);
		assert_int_equal(pred.label, CLS_LABEL_POSITIVE);
		assert_probabilities(&pred);
		/* A megabyte of praise: log-space keeps it finite. */
		classifier_predict(models[v], text, LONG_TEXT_BYTES, &pred);
		assert_int_equal(pred.label, CLS_LABEL_POSITIVE);
		assert_true(pred.known_features > LONG_TEXT_BYTES / n);
		assert_probabilities(&pred);
	}
	free(text);
}

struct heldout_run {
	size_t total;
	size_t correct[CLS_VERSION_COUNT];
	size_t agree;
};

static int score_heldout(enum cls_label label, const char *text,
			 size_t text_len, void *ctx)
{
	struct heldout_run *run = ctx;
	struct cls_prediction pred[CLS_VERSION_COUNT];
	int v;

	for (v = 0; v < CLS_VERSION_COUNT; v++) {
		classifier_predict(models[v], text, text_len, &pred[v]);
		if (pred[v].label == label)
			run->correct[v]++;
	}
	if (pred[CLS_VERSION_V1].label == pred[CLS_VERSION_V2].label)
		run->agree++;
	run->total++;
	return 0;
}

static void test_heldout_accuracy(void **state)
{
	struct cls_corpus heldout = corpus_get(CORPUS_HELDOUT);
	struct heldout_run run = {.total = 0};
	double accuracy, agreement;
	int v;

	(void)state;
	assert_int_equal(cls_corpus_for_each(heldout.data, heldout.len,
					     score_heldout, &run, NULL),
			 0);
	assert_int_equal(run.total, CLS_LABEL_COUNT * HELDOUT_PER_LABEL);
	for (v = 0; v < CLS_VERSION_COUNT; v++) {
		accuracy = (double)run.correct[v] / (double)run.total;
		print_message("# held-out accuracy of %s: %zu/%zu = %.3f\n",
			      cls_version_name((enum cls_version)v),
			      run.correct[v], run.total, accuracy);
		assert_true(accuracy >= HELDOUT_ACCURACY_FLOOR);
	}
	agreement = (double)run.agree / (double)run.total;
	print_message("# v1 and v2 agree on %zu/%zu = %.3f\n", run.agree,
		      run.total, agreement);
	assert_true(agreement >= MIN_VERSION_AGREEMENT);
	assert_true(run.agree < run.total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokenize_words),
	    cmocka_unit_test(test_tokenize_empty_and_punctuation),
	    cmocka_unit_test(test_tokenize_respects_length),
	    cmocka_unit_test(test_tokenize_non_ascii),
	    cmocka_unit_test(test_tokenize_overlong_words),
	    cmocka_unit_test(test_corpus_reader),
	    cmocka_unit_test(test_embedded_corpus_is_balanced),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_tiny_model_probabilities),
	    cmocka_unit_test(test_bigrams_are_features),
	    cmocka_unit_test(test_train_rejects_bad_input),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_known_sentences),
	    cmocka_unit_test(test_v2_reads_negation),
	    cmocka_unit_test(test_edge_texts),
	    cmocka_unit_test(test_heldout_accuracy),
	};

	return cmocka_run_group_tests(tests, train_shipped, free_shipped);
}
