#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/reaction.sh - how fast kanary reacts, with kanary-modelserver
# backends (stable v1, canary v2) and kanaryd in XDP mode:
#   weights  the time from PUT .../weight to the first new connection that
#            the new weight steers (bench/reaction.py probe + weights);
#   faults   the time from the canary starting to fail to its weight
#            reaching 0 (bench/reaction.py faults), under client load.
#
# Usage: reaction.sh WEIGHTS.csv FAULTS.csv  (TRIALS, FAULT_TRIALS,
#   LOAD_RPS, ERROR_RATE from the environment)
set -u
source "$(dirname "$0")/lib.sh"

WEIGHTS_OUT=$1
FAULTS_OUT=$2
TRIALS=${TRIALS:-20}
FAULT_TRIALS=${FAULT_TRIALS:-20}
LOAD_RPS=${LOAD_RPS:-400}  # client requests/s during the fault trials
ERROR_RATE=${ERROR_RATE:-0.3}
PROBE_SOURCES=4            # probe threads, each from its own address
PAUSE_MIN_S=0.2            # between weight changes
PAUSE_MAX_S=0.5
SETTLE_S=1                 # probe running before the first change
FAULT_TRIAL_MAX_S=45       # bound of one fault trial (rollout, rollback, rest)

trap bench_destroy EXIT
trap 'exit 130' INT TERM
BENCH_BACKEND=modelserver bench_topology || bench_die "cannot build the topology"
PY=$BENCH_PYTHON
API=127.0.0.1:$TOPO_API_PORT

cat >"$BENCH_TMP/reaction.json" <<EOC
{
  "services": [{
    "name": "bench",
    "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
    "stable": ["$BENCH_STABLE_IP:$BENCH_PORT"],
    "canary": ["$BENCH_CANARY_IP:$BENCH_PORT"],
    "metrics": {"preset": "kanary-modelserver", "interval": "1s", "timeout": "800ms"}
  }]
}
EOC
BENCH_KANARYD_ARGS=(--config "$BENCH_TMP/reaction.json")
split_up kanary-xdp || bench_die "cannot start kanaryd"

# ---- a weight change and the first connection it steers --------------------
sources=$(for ((i = 0; i < PROBE_SOURCES; i++)); do topo_source_ip "$i"; done | paste -sd,)
probe_s=$(awk -v t="$TRIALS" -v m="$PAUSE_MAX_S" -v s="$SETTLE_S" 'BEGIN { print int(s + t * (m + 0.1) + 3) }')
topo_client "$PY" "$BENCH_DIR/reaction.py" probe --target "$TOPO_VIP:$TOPO_VIP_PORT" \
	--sources "$sources" --duration "$probe_s" --out "$BENCH_TMP/probe.csv" &
probe_pid=$!
TOPO_PIDS+=($probe_pid)
topo_node "$PY" "$BENCH_DIR/reaction.py" weights --api "$API" --service bench \
	--trials "$TRIALS" --settle "$SETTLE_S" --pause-min "$PAUSE_MIN_S" \
	--pause-max "$PAUSE_MAX_S" --out "$BENCH_TMP/puts.csv" || bench_die "weight changes failed"
wait "$probe_pid" || bench_die "the probe failed"
"$PY" "$BENCH_DIR/reaction.py" weight-delays "$BENCH_TMP/probe.csv" "$BENCH_TMP/puts.csv" >"$WEIGHTS_OUT" ||
	bench_die "cannot analyse the weight changes"
bench_log "weight changes: $(($(wc -l <"$WEIGHTS_OUT") - 1)) trials, $(($(wc -l <"$BENCH_TMP/probe.csv") - 1)) probe connections"
topo_api PUT /api/v1/services/bench/weight '{"canary_percent": 0}' >/dev/null

# ---- a canary that starts failing ---------------------------------------------
load_s=$((FAULT_TRIALS * FAULT_TRIAL_MAX_S))
# Not through a shell function: $! must be kn-load itself, for the SIGINT.
ip netns exec "$(topo_ns client)" "$KANARY_TOOLS/kn-load" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
	--sources "$(topo_sources "$BENCH_SOURCES")" --close --connections 32 \
	--rate "$LOAD_RPS" --duration "$load_s" --method POST --path /predict \
	--body '{"text": "a fine answer, quickly"}' --json >"$BENCH_TMP/fault-load.json" 2>/dev/null &
load_pid=$!
TOPO_PIDS+=($load_pid)
timeout "$load_s" nsenter --net=/run/netns/"$(topo_ns node)" "$PY" "$BENCH_DIR/reaction.py" faults \
	--api "$API" --service bench --canary "$BENCH_CANARY_IP:$BENCH_PORT" \
	--trials "$FAULT_TRIALS" --error-rate "$ERROR_RATE" --out "$FAULTS_OUT" ||
	bench_die "the fault trials failed"
kill -INT "$load_pid" 2>/dev/null
wait "$load_pid" 2>/dev/null
bench_log "fault trials: $(($(wc -l <"$FAULTS_OUT") - 1)) rollbacks"
BENCH_FINDINGS_WHAT=reaction split_down kanary-xdp
