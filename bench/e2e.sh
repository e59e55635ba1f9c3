#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/e2e.sh - HTTP through the VIP, kanary next to the other splitters,
# in the namespace topology of bench/lib.sh. Repetitions are interleaved
# (every splitter once per repetition, in the same order), so that a drift
# of the machine hits all splitters alike.
#
#   keepalive  wrk, BENCH_LOAD_CONNECTIONS persistent connections from one
#              client address
#   close      kn-load, a new connection per request (Connection: close),
#              from BENCH_SOURCES client addresses
#
# Usage: e2e.sh OUT.csv   (REPS, SECS, WARMUP_SECS, SPLITTERS from the
# environment). Writes one row per run; the caller's trap cleans up.
set -u
source "$(dirname "$0")/lib.sh"

OUT=$1
REPS=${REPS:-5}
SECS=${SECS:-10}
WARMUP_SECS=${WARMUP_SECS:-1}
# With the forwarding fast path's rows (--forward redirect) after the rest.
SPLITTERS=${SPLITTERS:-$BENCH_SPLITTERS kanary-xdp-redirect kanary-tc-redirect}
MODES=${MODES:-"keepalive close"}
STATS_SLACK_S=10 # the statistics outlive the run by at most this

trap bench_destroy EXIT
trap 'exit 130' INT TERM
bench_topology || bench_die "cannot build the topology"

# With the programs' columns: packets kanary translated per hook, and the
# kernel's own time per run of the programs on nc0 (BPF run-time
# statistics, on during the kanary and floor runs only).
echo "rep,splitter,mode,tool,$BENCH_LOAD_CSV_HEADER,xdp_translated,tc_translated,xdp_ns,tc_ingress_ns,tc_egress_ns" >"$OUT"

run_mode() { # SPLITTER MODE SECONDS
	local target
	target=$(split_target "$1")
	case $2 in
	keepalive) load_wrk "$target" "$3" ;;
	close) load_kn "$target" "$3" --close ;;
	esac
}

for ((rep = 1; rep <= REPS; rep++)); do
	for s in $SPLITTERS; do
		split_up "$s" || bench_die "cannot set up $s"
		for mode in $MODES; do
			tool=wrk
			[ "$mode" = close ] && tool=kn-load
			[ "$WARMUP_SECS" -gt 0 ] && BENCH_FINDINGS_WHAT="e2e repetition $rep, $s, $mode, warm-up" \
				run_mode "$s" "$mode" "$WARMUP_SECS" >/dev/null
			before="0 0 0" BENCH_STATS_PID="" progs=",,"
			[[ $s == kanary-* ]] && before=$(bench_kanary_translated)
			if [[ $s == kanary-* || $s == floor-* ]]; then
				"$BENCH_PKTCOST" stats $((SECS + STATS_SLACK_S)) &
				BENCH_STATS_PID=$!
				c0=$(bench_prog_counters)
			fi
			row=$(BENCH_FINDINGS_WHAT="e2e repetition $rep, $s, $mode" run_mode "$s" "$mode" "$SECS")
			if [ -n "$BENCH_STATS_PID" ]; then
				progs=$(bench_prog_ns "$c0" "$(bench_prog_counters)")
				kill "$BENCH_STATS_PID" 2>/dev/null
				wait "$BENCH_STATS_PID" 2>/dev/null
			fi
			xdp="" tc=""
			if [[ $s == kanary-* ]]; then
				read -r x0 t0 _ <<<"$before"
				read -r x1 t1 _ <<<"$(bench_kanary_translated)"
				xdp=$((x1 - x0)) tc=$((t1 - t0))
			fi
			bench_check_row "e2e repetition $rep, $s, $mode" "$row"
			echo "$rep,$s,$mode,$tool,$row,$xdp,$tc,$progs" >>"$OUT"
			bench_log "e2e rep $rep $s $mode: $row translated xdp=$xdp tc=$tc, ns/run $progs"
		done
		BENCH_FINDINGS_WHAT="e2e repetition $rep" split_down "$s"
	done
done
