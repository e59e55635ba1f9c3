#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/run.sh - every benchmark of kanary, one after the other, then the
# report: `make bench` (full run, results in bench/results/, report in
# BENCHMARKS.md, plots in bench/plots/) or `make bench QUICK=1` (the same
# code with fewer repetitions and shorter runs; results, report and plots in
# bench/out/quick/, so that a quick run never overwrites the full one).
#
#   1 pktcost   per-packet cost through bpf_prog_test_run_opts
#   2 e2e       HTTP through the VIP: kanary and the other splitters
#   ipv6        HTTP through an IPv6 VIP against direct, IPv4 twins in the
#               same rounds
#   3 scale     1 to 10,000 services; the connection table up to 1,000,000
#   4 reaction  weight change -> first steered connection; failing canary
#               -> weight 0
#   5 agent     kanaryd's CPU and memory with 100 services
#   notify      (not in the default run: BENCH_PARTS=notify) the rollback
#               reaction with and without bad notification receivers
#
# Needs root (BPF, namespaces). Every part builds and removes its own
# namespaces, rules and processes, also when it fails; a failed part is
# reported and the others still run. BENCH_PARTS="pktcost e2e" runs some.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$ROOT" || exit 1

QUICK=${QUICK:-}
[ "$QUICK" = 0 ] && QUICK=
PARTS=${BENCH_PARTS:-"pktcost e2e ipv6 scale reaction agent"}
export KANARY_ROOT=$ROOT
export KANARY_BIN=${KANARY_BIN:-$ROOT/bin}
export KANARY_TOOLS=${KANARY_TOOLS:-$ROOT/.output/tests}
BENCH_OUTPUT=${BENCH_OUTPUT:-$(dirname "$KANARY_TOOLS")}
export BENCH_PKTCOST=${BENCH_PKTCOST:-$BENCH_OUTPUT/bench/pktcost}
# Services beyond kanary's default cap (KN_MAX_SERVICES, 1024) need a
# kanaryd built with a larger one; the scale figure builds it here.
MAXSVC_LIMIT=16384
MAXSVC_OUTPUT=$BENCH_OUTPUT/bench-maxsvc

if [ -n "$QUICK" ]; then
	OUT=$BENCH_DIR/out/quick
	REPORT=$OUT/BENCHMARKS.md
	PLOTS=$OUT/plots
	PKT_ROUNDS=3 PKT_BATCH=1000 PKT_REPEAT=20000 FLOW_SIZES=1000,100000
	E2E_REPS=1 E2E_SECS=1 E2E_WARMUP=0
	IPV6_REPS=1 IPV6_SECS=1 IPV6_WARMUP=0
	SCALE_SIZES="1 1000" SCALE_REPS=1 SCALE_SECS=1 SCALE_WARMUP=0
	WEIGHT_TRIALS=4 FAULT_TRIALS=1
	NOTIFY_ROUNDS=1 NOTIFY_TRIALS=1
	AGENT_SECS=3
else
	OUT=$BENCH_DIR/results
	REPORT=$ROOT/BENCHMARKS.md
	PLOTS=$BENCH_DIR/plots
	PKT_ROUNDS=21 PKT_BATCH=4000 PKT_REPEAT=100000
	FLOW_SIZES=1000,10000,100000,1000000
	# E2E_REPS from the environment: fewer repetitions when time is short
	# (the report says how many each row had).
	E2E_REPS=${E2E_REPS:-5} E2E_SECS=10 E2E_WARMUP=1
	IPV6_REPS=3 IPV6_SECS=3 IPV6_WARMUP=1
	SCALE_SIZES="1 100 1000 10000" SCALE_REPS=5 SCALE_SECS=5 SCALE_WARMUP=1
	WEIGHT_TRIALS=20 FAULT_TRIALS=20
	NOTIFY_ROUNDS=4 NOTIFY_TRIALS=4
	AGENT_SECS=60
fi

log() { echo "== $(date +%T) $*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (BPF programs, network namespaces)" >&2; exit 1; }
for tool in "$KANARY_BIN/kanaryd" "$KANARY_TOOLS/kn-load" "$BENCH_PKTCOST"; do
	[ -x "$tool" ] || { echo "bench: $tool is not built: run 'make bench'" >&2; exit 1; }
done
for cmd in wrk nginx haproxy iptables-restore nft bpftool ethtool gnuplot; do
	command -v "$cmd" >/dev/null || { echo "bench: $cmd is missing: run 'make deps'" >&2; exit 1; }
done
mount | grep -q ' /sys/fs/bpf type bpf' || mount -t bpf bpf /sys/fs/bpf
source "$BENCH_DIR/lib.sh"
bench_reap

mkdir -p "$OUT" "$PLOTS"
# What went wrong in kanary during the run (kanaryd's errors, a crash): each
# part appends to a file of its own (BENCH_FINDINGS, set by run_part), so
# that a run of some parts replaces only their findings; the report shows
# them all.
FINDINGS_DIR=$OUT/findings
mkdir -p "$FINDINGS_DIR"
# Each part writes to a temporary name and replaces its result only when it
# succeeded: a failed part leaves the last good data in place.
declare -A PART_SECS PART_STATUS
started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# A part runs in the background so that an interrupt reaches it at once:
# its own trap then removes what it set up.
PART_PID=""
stop_part() {
	local child
	[ -n "$PART_PID" ] || return 0
	# The part's scripts, children of the subshell that runs the part: each
	# one's trap ends its run and removes its namespaces.
	for child in $(cat /proc/"$PART_PID"/task/*/children 2>/dev/null); do
		kill -TERM "$child" 2>/dev/null
	done
	wait "$PART_PID" 2>/dev/null
}
trap 'stop_part; exit 130' INT TERM

run_part() { # NAME COMMAND...
	local name=$1 t0 rc
	shift
	log "$name"
	export BENCH_FINDINGS=$FINDINGS_DIR/$name.txt
	: >"$BENCH_FINDINGS"
	t0=$(date +%s)
	"$@" &
	PART_PID=$!
	wait "$PART_PID"
	rc=$?
	PART_PID=""
	PART_SECS[$name]=$(($(date +%s) - t0))
	PART_STATUS[$name]=$rc
	[ $rc -eq 0 ] || log "$name FAILED (exit $rc)"
	return $rc
}

commit_files() { # FILE... : FILE.tmp -> FILE
	local f
	for f in "$@"; do mv -f "$f.tmp" "$f"; done
}

part_pktcost() {
	"$BENCH_PKTCOST" cost --rounds "$PKT_ROUNDS" --batch "$PKT_BATCH" \
		--repeat "$PKT_REPEAT" >"$OUT/pktcost.csv.tmp" &&
		"$BENCH_PKTCOST" flows --sizes "$FLOW_SIZES" --rounds "$PKT_ROUNDS" \
			--batch "$PKT_BATCH" --memory "$OUT/memory.csv.tmp" >"$OUT/flows.csv.tmp" &&
		commit_files "$OUT/pktcost.csv" "$OUT/flows.csv" "$OUT/memory.csv"
}

part_e2e() {
	REPS=$E2E_REPS SECS=$E2E_SECS WARMUP_SECS=$E2E_WARMUP \
		"$BENCH_DIR/e2e.sh" "$OUT/e2e.csv.tmp" && commit_files "$OUT/e2e.csv"
}

part_ipv6() {
	REPS=$IPV6_REPS SECS=$IPV6_SECS WARMUP_SECS=$IPV6_WARMUP \
		"$BENCH_DIR/ipv6.sh" "$OUT/ipv6_http.csv.tmp" && commit_files "$OUT/ipv6_http.csv"
}

part_scale() {
	local maxsvc=""
	if [ -z "$QUICK" ]; then
		log "building a kanaryd for up to $MAXSVC_LIMIT services in $MAXSVC_OUTPUT"
		# Its own output directories, and none of the calling make's flags.
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT" \
			OUTPUT="$MAXSVC_OUTPUT" BIN="$MAXSVC_OUTPUT/bin" \
			EXTRA_DEFS="-DKN_MAX_SERVICES=$MAXSVC_LIMIT" \
			"$MAXSVC_OUTPUT/bin/kanaryd" >&2 || return 1
		maxsvc=$MAXSVC_OUTPUT/bin
	fi
	SIZES=$SCALE_SIZES REPS=$SCALE_REPS SECS=$SCALE_SECS WARMUP_SECS=$SCALE_WARMUP \
		KANARYD_MAXSVC=$maxsvc "$BENCH_DIR/scale.sh" "$OUT/scale.csv.tmp" &&
		commit_files "$OUT/scale.csv"
}

part_reaction() {
	TRIALS=$WEIGHT_TRIALS FAULT_TRIALS=$FAULT_TRIALS "$BENCH_DIR/reaction.sh" \
		"$OUT/weights.csv.tmp" "$OUT/faults.csv.tmp" &&
		commit_files "$OUT/weights.csv" "$OUT/faults.csv"
}

part_agent() {
	SECS=$AGENT_SECS "$BENCH_DIR/agent.sh" "$OUT/agent.csv.tmp" && commit_files "$OUT/agent.csv"
}

part_notify() {
	ROUNDS=$NOTIFY_ROUNDS TRIALS=$NOTIFY_TRIALS "$BENCH_DIR/notify.sh" \
		"$OUT/notify.csv.tmp" && commit_files "$OUT/notify.csv"
}

# Cluster mode (docs/cluster.md): propagation and failover on three nodes
# and a real etcd. Not among the default parts: BENCH_PARTS=cluster.
part_cluster() {
	CHANGES=${CLUSTER_CHANGES:-100} KILLS=${CLUSTER_KILLS:-10} \
		"$BENCH_DIR/cluster.sh" "$OUT/cluster.csv.tmp" && commit_files "$OUT/cluster.csv"
}

failed=0
for part in $PARTS; do
	run_part "$part" "part_$part" || failed=1
done
rm -f "$OUT"/*.tmp

# What the report says about the run: the machine, the command, the time.
{
	printf '{\n'
	printf '  "date": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "quick": %s,\n' "$([ -n "$QUICK" ] && echo true || echo false)"
	printf '  "command": "%s",\n' "${BENCH_COMMAND:-make bench${QUICK:+ QUICK=1}${BENCH_PARTS:+ BENCH_PARTS='$BENCH_PARTS'}}"
	printf '  "kernel": "%s",\n' "$(uname -r)"
	printf '  "cpu": "%s",\n' "$(lscpu | awk -F: '/^Model name/ { gsub(/^ +/, "", $2); print $2; exit }')"
	printf '  "cpus": %d,\n' "$(nproc)"
	printf '  "memory_gib": %d,\n' "$(awk '/^MemTotal/ { print int($2 / 1048576 + 0.5) }' /proc/meminfo)"
	printf '  "commit": "%s%s",\n' "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)" \
		"$(git -C "$ROOT" diff --quiet HEAD -- lib kanaryd kanaryctl bpf include 2>/dev/null || echo ' + uncommitted changes to lib/, kanaryd/, kanaryctl/, bpf/ or include/')"
	printf '  "load_before": "%s",\n' "$load_before"
	printf '  "load_after": "%s",\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '  "total_s": %d,\n' $(($(date +%s) - started))
	printf '  "parts": {'
	sep=""
	for part in $PARTS; do
		printf '%s"%s": {"seconds": %d, "status": %d}' "$sep" "$part" \
			"${PART_SECS[$part]:-0}" "${PART_STATUS[$part]:-1}"
		sep=", "
	done
	printf '}\n}\n'
} >"$OUT/meta.json.new"
# A run of some parts (BENCH_PARTS) replaces only their results: the run's
# record keeps the full run's and notes the re-run next to it.
if [ -n "${BENCH_PARTS:-}" ] && [ -s "$OUT/meta.json" ]; then
	"$BENCH_PYTHON" - "$OUT/meta.json" "$OUT/meta.json.new" <<-'EOF' || failed=1
		import json, sys
		old = json.load(open(sys.argv[1]))
		new = json.load(open(sys.argv[2]))
		old["parts"].update(new["parts"])
		old.setdefault("reruns", []).append({k: new[k] for k in (
		    "date", "command", "commit", "load_before", "load_after", "total_s")}
		    | {"parts": list(new["parts"])})
		json.dump(old, open(sys.argv[2], "w"), indent=2)
	EOF
fi
mv -f "$OUT/meta.json.new" "$OUT/meta.json"
lscpu >"$OUT/lscpu.txt"

log "report: $REPORT"
"$BENCH_PYTHON" "$BENCH_DIR/report.py" --results "$OUT" --report "$REPORT" \
	--plots "$PLOTS" --template "$BENCH_DIR/BENCHMARKS.md.in" || failed=1
log "done in $(($(date +%s) - started)) s$([ $failed -ne 0 ] && echo ', with failures')"
exit $failed
