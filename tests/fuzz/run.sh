#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/fuzz/run.sh - runs kanary's libFuzzer targets (tests/fuzz/fuzz_*.c,
# built by `make fuzz-build` into $FUZZ_OUT) and says what they found.
#
#   tests/fuzz/run.sh [--time S] [--jobs N] [--smoke] [--merge] [TARGET...]
#
#   --time S   run each target S seconds (default 600)
#   --jobs N   targets running at once (default: the number of CPUs)
#   --smoke    regression check: one process per target over a scratch copy
#              of its seed corpus, stopping at the first finding (what
#              tests/e2e/fuzz_smoke.sh uses); otherwise libFuzzer's fork mode
#              keeps going after a crash, a leak or a timeout and saves each
#   --merge    afterwards, add to tests/fuzz/corpus/TARGET the inputs that
#              reach code its seeds do not (libFuzzer -merge=1)
#
# Seeds come from tests/fuzz/corpus/TARGET and are only ever added to, by
# --merge; dictionaries from tests/fuzz/TARGET.dict. Everything a run makes
# goes to $FUZZ_OUT/run/TARGET/: corpus/ (seeds and new inputs),
# artifacts/ (crash-*, leak-*, timeout-*, oom-*: the reproducers) and log.
# One summary line per target: seconds, executions, executions/s, coverage
# (cov: code edges, ft: features) and findings. Exits non-zero when any
# target found something. One run at a time per $FUZZ_OUT.
#
# Environment: FUZZ_OUT (default .output/fuzz). fuzz_api and fuzz_http need root
# and bpffs.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
FUZZ_OUT=${FUZZ_OUT:-.output/fuzz}
SECONDS_EACH=600
JOBS=$(nproc)
SMOKE=0
MERGE=0
# Per input: a request to the API waits up to 10 s for its answer.
INPUT_TIMEOUT_S=25
RSS_LIMIT_MB=2048
MAX_LEN=65536

usage() {
	sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
}

targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--time) SECONDS_EACH=$2; shift ;;
	--jobs) JOBS=$2; shift ;;
	--smoke) SMOKE=1 ;;
	--merge) MERGE=1 ;;
	-h|--help) usage ;;
	-*) echo "run.sh: unknown option $1" >&2; usage ;;
	*) targets+=("$1") ;;
	esac
	shift
done
if [ ${#targets[@]} -eq 0 ]; then
	for src in tests/fuzz/fuzz_*.c; do
		targets+=("$(basename "$src" .c)")
	done
fi

# Options of one target: the API logs each state change on stderr, which
# -close_fd_mask=2 silences while libFuzzer and the sanitizers keep theirs.
target_opts() {
	local t=$1 opts=("-timeout=$INPUT_TIMEOUT_S"
		"-rss_limit_mb=$RSS_LIMIT_MB" "-max_len=$MAX_LEN"
		-print_final_stats=1)

	[ -f "tests/fuzz/$t.dict" ] && opts+=(-dict="$ROOT/tests/fuzz/$t.dict")
	case $t in fuzz_api | fuzz_http) opts+=(-close_fd_mask=2) ;; esac
	echo "${opts[@]}"
}

run_one() {
	local t=$1 bin=$FUZZ_OUT/$1 dir=$FUZZ_OUT/run/$1 opts status

	rm -rf "$dir"
	mkdir -p "$dir/corpus" "$dir/artifacts"
	cp tests/fuzz/corpus/"$t"/* "$dir/corpus/" 2>/dev/null
	opts=$(target_opts "$t")
	if [ "$SMOKE" = 1 ]; then
		# shellcheck disable=SC2086
		"$bin" $opts -max_total_time="$SECONDS_EACH" \
			-artifact_prefix="$dir/artifacts/" "$dir/corpus" \
			>"$dir/log" 2>&1
	else
		# shellcheck disable=SC2086
		"$bin" $opts -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
			-ignore_ooms=1 -max_total_time="$SECONDS_EACH" \
			-artifact_prefix="$dir/artifacts/" "$dir/corpus" \
			>"$dir/log" 2>&1
	fi
	status=$?
	echo "$status" >"$dir/status"
}

# The last progress line of a log: "#N ... cov: C ft: F ... exec/s: E".
summary() {
	local t=$1 dir=$FUZZ_OUT/run/$1 line execs cov ft rate found status
	local elapsed

	status=$(cat "$dir/status" 2>/dev/null || echo '?')
	line=$(grep -E '^#[0-9]+:?[[:space:]].*cov: ' "$dir/log" | tail -n 1)
	if [[ "$line" =~ ^#[0-9]+: ]]; then
		# Fork mode: totals on its progress lines; stat:: lines, when
		# any, are one job's only.
		execs=$(echo "$line" | sed -n 's/^#\([0-9]*\):.*/\1/p')
		elapsed=$(echo "$line" | sed -n 's/.* time: \([0-9]*\)s.*/\1/p')
		[ "${elapsed:-0}" -gt 0 ] && rate=$((execs / elapsed))
	else
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
			"$dir/log" | tail -n 1)
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' \
			"$dir/log" | tail -n 1)
	fi
	cov=$(echo "$line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	found=$(find "$dir/artifacts" -type f | wc -l)
	printf '%-16s %5ss %12s execs %7s exec/s  cov %5s  ft %6s  corpus %5s  findings %s  (exit %s)\n' \
		"$t" "$SECONDS_EACH" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
		"${ft:-?}" "$(find "$dir/corpus" -type f | wc -l)" "$found" \
		"$status"
	[ "$found" -eq 0 ] && { [ "$SMOKE" = 0 ] || [ "$status" = 0 ]; }
}

for t in "${targets[@]}"; do
	if [ ! -x "$FUZZ_OUT/$t" ]; then
		echo "run.sh: $FUZZ_OUT/$t is not built: make fuzz-build" >&2
		exit 1
	fi
done

# Runs wipe and fill $FUZZ_OUT/run/TARGET: one run at a time per build.
mkdir -p "$FUZZ_OUT/run"
exec 9>"$FUZZ_OUT/run/.lock"
if ! flock -n 9; then
	echo "run.sh: another run is using $FUZZ_OUT/run; wait for it, or" \
		"build elsewhere (make OUTPUT=...)" >&2
	exit 1
fi

running=0
for t in "${targets[@]}"; do
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

failed=0
for t in "${targets[@]}"; do
	summary "$t" || failed=1
	for f in "$FUZZ_OUT/run/$t"/artifacts/*; do
		[ -e "$f" ] && echo "    $f"
	done
done

if [ "$MERGE" = 1 ]; then
	# The seeds stay as they are; only inputs that reach code they do
	# not are added (libFuzzer keeps the first directory's files).
	for t in "${targets[@]}"; do
		seeds=tests/fuzz/corpus/$t
		before=$(find "$seeds" -type f | wc -l)
		# shellcheck disable=SC2046
		"$FUZZ_OUT/$t" -merge=1 $(target_opts "$t") "$seeds" \
			"$FUZZ_OUT/run/$t/corpus" >"$FUZZ_OUT/run/$t/merge.log" 2>&1 &&
			echo "$t: $(($(find "$seeds" -type f | wc -l) - before))" \
				"inputs added, $(du -sh "$seeds" | cut -f1) in $seeds"
	done
fi
exit "$failed"
