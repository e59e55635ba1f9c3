// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_statefile.c - the state file survives a crash at any point of a
 * write: a child process rewrites it over and over, alternating two large
 * contents, and is killed with SIGKILL at random moments; after every kill
 * the file must hold one content or the other, whole.
 */
#include "unit.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kanaryd/statefile.h"

#define KILLS	      200
#define CONTENT_BYTES (512 * 1024)
#define MAX_DELAY_US  20000

static char *make_content(char fill)
{
	char *text = malloc(CONTENT_BYTES);
	size_t i;

	assert_non_null(text);
	for (i = 0; i < CONTENT_BYTES; i++)
		text[i] = (char)(fill + i % 7);
	text[CONTENT_BYTES - 1] = '\n';
	return text;
}

static void test_crash_leaves_old_or_new(void **state)
{
	char dir[] = "/tmp/kanary-statefile-XXXXXX";
	char path[64];
	char *a = make_content('a'), *b = make_content('A');
	unsigned int seed = (unsigned int)time(NULL);
	int kill_round, as_a = 0, as_b = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(statefile_write_atomic(path, a, CONTENT_BYTES), 0);
	for (kill_round = 0; kill_round < KILLS; kill_round++) {
		size_t len = 0;
		char *now;
		pid_t child = fork();

		assert_true(child >= 0);
		if (child == 0) {
			for (unsigned long n = 0;; n++)
				statefile_write_atomic(path, n & 1 ? a : b,
						       CONTENT_BYTES);
		}
		usleep((useconds_t)(rand_r(&seed) % MAX_DELAY_US));
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		now = unit_read_file(path, &len);
		assert_non_null(now);
		assert_int_equal(len, CONTENT_BYTES);
		if (!memcmp(now, a, CONTENT_BYTES))
			as_a++;
		else if (!memcmp(now, b, CONTENT_BYTES))
			as_b++;
		else
			fail_msg("after kill %d the file is neither content",
				 kill_round);
		free(now);
	}
	printf("# %d kills: %d times the first content, %d the second\n", KILLS,
	       as_a, as_b);
	/* The kills landed at different points: both contents were seen. */
	assert_true(as_a > 0 && as_b > 0);
	statefile_remove_leftovers(path);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "ls %s | grep -q tmp", dir);
		assert_int_not_equal(system(cmd), 0); /* grep found nothing */
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
	free(a);
	free(b);
}

static void test_mode_and_errors(void **state)
{
	char dir[] = "/tmp/kanary-statefile-XXXXXX";
	char path[96];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/state.json", dir);
	assert_int_equal(statefile_write_atomic(path, "{}\n", 3), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* a directory where the file should be: an error, not a crash */
	assert_int_not_equal(statefile_write_atomic(path, "{}\n", 3), 0);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crash_leaves_old_or_new),
	    cmocka_unit_test(test_mode_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
