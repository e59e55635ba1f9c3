#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/static/layers_selftest.sh - proves that tests/static/layers.sh can
# fail: each case copies the user-space tree to a temporary folder, plants
# one violation of a rule, runs the checker there and expects the rule's
# `not ok` line and a non-zero exit. The clean copy must pass, so a failure
# is the planted violation's and not the copy's. (TAP)
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh

# What layers.sh reads, and the checker itself.
TREE_PARTS=(include lib kanaryd kanaryctl modelserver)
WORK=$(mktemp -d /tmp/kanary-layers-selftest.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# fresh_copy NAME: a copy of the tree in $WORK/NAME; prints its path.
fresh_copy() {
	local dir=$WORK/$1
	mkdir -p "$dir/tests/static"
	cp -r "${TREE_PARTS[@]}" "$dir/"
	cp tests/static/layers.sh "$dir/tests/static/"
	echo "$dir"
}

# expect_violation WHAT RULE DIR: layers.sh over DIR exits non-zero and
# reports RULE (the text of its check) as `not ok`.
expect_violation() {
	local what=$1 rule=$2 dir=$3 out status
	out=$(bash "$dir/tests/static/layers.sh" 2>&1)
	status=$?
	if [ "$status" -ne 0 ] && grep '^not ok' <<<"$out" | grep -qF -- "- $rule"; then
		tap_ok "$what"
	else
		tap_fail "$what (exit $status; output:)"
		sed 's/^/#   /' <<<"$out"
	fi
}

for part in "${TREE_PARTS[@]}" tests/static/layers.sh; do
	[ -e "$part" ] || tap_bail "$part is missing: run from a kanary tree"
done

clean=$(fresh_copy clean)
tap_check "the unchanged copy passes the checker" bash "$clean/tests/static/layers.sh"

# A library header that reaches up into the daemon.
dir=$(fresh_copy lib_up)
daemon_header=$(cd "$dir" && ls kanaryd/*.h | head -1)
sed -i "0,/^#include/s||#include \"$daemon_header\"\n#include|" "$dir/lib/util/log.c"
expect_violation "lib/ including a kanaryd/ header is caught" \
	"lib/ includes only lib/ and include/ (never kanaryd/ or kanaryctl/)" "$dir"

# Two daemon headers that include each other.
dir=$(fresh_copy cycle)
printf '#ifndef CYCLE_A_H\n#define CYCLE_A_H\n#include "cycle_b.h"\n#endif\n' >"$dir/kanaryd/cycle_a.h"
printf '#ifndef CYCLE_B_H\n#define CYCLE_B_H\n#include "cycle_a.h"\n#endif\n' >"$dir/kanaryd/cycle_b.h"
expect_violation "a cycle of includes is caught" \
	"no cycle of includes between user-space files" "$dir"

# The daemon and the CLI reaching into each other.
dir=$(fresh_copy sideways)
ctl_header=$(cd "$dir" && ls kanaryctl/*.h | head -1)
echo "#include \"$ctl_header\"" >>"$dir/kanaryd/main.c"
expect_violation "kanaryd/ including a kanaryctl/ header is caught" \
	"kanaryd/ includes only kanaryd/, lib/ and include/" "$dir"

# The skeleton outside lib/datapath/.
dir=$(fresh_copy skeleton)
echo '#include "kanary.skel.h"' >>"$dir/kanaryd/main.c"
expect_violation "the BPF skeleton outside lib/datapath/ is caught" \
	"only lib/datapath/ includes the BPF skeleton" "$dir"

tap_done
