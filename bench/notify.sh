#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/notify.sh - what bad notification receivers cost the control loop:
# the time from a canary starting to fail (30 % errors under client load)
# to kanaryd's immediate rollback decision and to its weight reaching 0
# (bench/reaction.py faults), with no receivers and with 16 bad ones (8
# that hang past their timeout, 4 that reset the connection, 4 that answer
# 500; every event to each), in the same run, interleaved A B A B.
#
# Usage: notify.sh OUT.csv  (ROUNDS, TRIALS per round from the environment)
# Columns: receivers,trial,decided_ms,weight_zero_seen_ms,reason
set -u
source "$(dirname "$0")/lib.sh"

OUT=$1
ROUNDS=${ROUNDS:-3}
TRIALS=${TRIALS:-3}
LOAD_RPS=${LOAD_RPS:-300}
ERROR_RATE=${ERROR_RATE:-0.3}
HOOK_PORT=8088
TRIAL_MAX_S=45 # bound of one fault trial (rollout, rollback, rest)

trap bench_destroy EXIT
trap 'exit 130' INT TERM
BENCH_BACKEND=modelserver bench_topology || bench_die "cannot build the topology"
PY=$BENCH_PYTHON
API=127.0.0.1:$TOPO_API_PORT
HOOK=http://127.0.0.1:$HOOK_PORT

# The receivers run beside kanaryd, in the node's namespace.
nsenter --net=/run/netns/"$(topo_ns node)" "$PY" "$KANARY_ROOT/tests/tools/hook_receiver.py" \
	127.0.0.1 "$HOOK_PORT" "$BENCH_TMP/hooks.jsonl" "" 3600 >/dev/null 2>&1 &
TOPO_PIDS+=($!)
topo_wait_port node 127.0.0.1 "$HOOK_PORT" || bench_die "the receiver does not listen"

receivers() { # KIND COUNT
	local i
	for ((i = 0; i < $2; i++)); do
		printf '%s{"url": "%s/%s/%d", "timeout": "1s"}' "$([ "$i" -gt 0 ] && echo ,)" "$HOOK" "$1" "$i"
	done
}

write_config() { # none | bad
	local top="" svc=""
	if [ "$1" = bad ]; then
		top="\"notifications\": [$(receivers hang 8)],"
		svc="\"notifications\": [$(receivers reset 4),$(receivers fail 4)],"
	fi
	cat >"$BENCH_TMP/notify-$1.json" <<-EOC
	{
	  $top
	  "services": [{
	    "name": "bench",
	    "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
	    "stable": ["$BENCH_STABLE_IP:$BENCH_PORT"],
	    "canary": ["$BENCH_CANARY_IP:$BENCH_PORT"],
	    $svc
	    "metrics": {"preset": "kanary-modelserver", "interval": "1s", "timeout": "800ms"}
	  }]
	}
	EOC
}
write_config none
write_config bad

load_s=$((ROUNDS * 2 * TRIALS * TRIAL_MAX_S))
ip netns exec "$(topo_ns client)" "$KANARY_TOOLS/kn-load" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
	--sources "$(topo_sources "$BENCH_SOURCES")" --close --connections 32 \
	--rate "$LOAD_RPS" --duration "$load_s" --method POST --path /predict \
	--body '{"text": "a fine answer, quickly"}' --json >"$BENCH_TMP/load.json" 2>/dev/null &
load_pid=$!
TOPO_PIDS+=($load_pid)

echo "receivers,trial,decided_ms,weight_zero_seen_ms,reason" >"$OUT"
for ((round = 1; round <= ROUNDS; round++)); do
	for kind in none bad; do
		rm -f "$TOPO_STATE_FILE"
		BENCH_KANARYD_ARGS=(--config "$BENCH_TMP/notify-$kind.json")
		split_up kanary-xdp || bench_die "cannot start kanaryd"
		timeout $((TRIALS * TRIAL_MAX_S)) nsenter --net=/run/netns/"$(topo_ns node)" \
			"$PY" "$BENCH_DIR/reaction.py" faults --api "$API" --service bench \
			--canary "$BENCH_CANARY_IP:$BENCH_PORT" --trials "$TRIALS" \
			--error-rate "$ERROR_RATE" --out "$BENCH_TMP/faults.csv" ||
			bench_die "the fault trials failed ($kind)"
		tail -n +2 "$BENCH_TMP/faults.csv" | sed "s/^/$kind,/" >>"$OUT"
		if [ "$kind" = bad ]; then
			topo_api GET /api/v1/services/bench | "$PY" -c '
import json, sys
rs = json.load(sys.stdin).get("notifications", [])
print("# bad receivers: %d retries, %d dropped, %d delivered" % (
    sum(r["retries"] for r in rs), sum(sum(r["dropped"].values()) for r in rs),
    sum(r["delivered"] for r in rs)))' >&2
		fi
		topo_kanaryd_stop
	done
done
kill -INT "$load_pid" 2>/dev/null
wait "$load_pid" 2>/dev/null
"$PY" - "$OUT" <<-'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {}
for kind in ("none", "bad"):
    d = [float(r["decided_ms"]) for r in rows if r["receivers"] == kind]
    z = [float(r["weight_zero_seen_ms"]) for r in rows if r["receivers"] == kind]
    med[kind] = (statistics.median(d), statistics.median(z))
    print("# %-4s receivers: %d trials, median decided %.0f ms, weight 0 seen %.0f ms"
          % (kind, len(d), med[kind][0], med[kind][1]), file=sys.stderr)
print("# ratio bad/none: decided %.2f, weight 0 seen %.2f"
      % (med["bad"][0] / med["none"][0], med["bad"][1] / med["none"][1]), file=sys.stderr)
PY
