# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/lib/tap.sh - TAP output for the shell tests: each check prints
# `ok N - what` or `not ok N - what`; tap_done prints the plan and exits
# non-zero when anything failed. tests/run counts these lines.

TAP_COUNT=0
TAP_FAILED=0
# The system's interpreter: a python3 earlier on PATH may be a slow shim,
# and the tests call it in polling loops.
PYTHON=$(command -v /usr/bin/python3 || command -v python3)

tap_ok() {
	TAP_COUNT=$((TAP_COUNT + 1))
	echo "ok $TAP_COUNT - $*"
}

tap_fail() {
	TAP_COUNT=$((TAP_COUNT + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_COUNT - $*"
}

# tap_check WHAT COMMAND...: ok when the command succeeds.
tap_check() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		tap_ok "$what"
	else
		tap_fail "$what"
	fi
}

# tap_is WHAT GOT EXPECTED
tap_is() {
	if [ "$2" = "$3" ]; then
		tap_ok "$1"
	else
		tap_fail "$1 (got '$2', expected '$3')"
	fi
}

# Stops the whole test: the rest cannot run.
tap_bail() {
	tap_fail "$*"
	echo "Bail out! $*"
	exit 1
}

tap_done() {
	echo "1..$TAP_COUNT"
	[ "$TAP_FAILED" -eq 0 ]
}

# check WHAT COMMAND...: ok when the command succeeds (its output is not
# hidden); on failure, the test's check_diag, when it defines one, shows
# what the command was looking at.
check() {
	local what=$1
	shift
	if "$@"; then
		tap_ok "$what"
	else
		tap_fail "$what"
		if declare -F check_diag >/dev/null; then
			check_diag
		fi
	fi
}
