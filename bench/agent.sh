#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/agent.sh - what kanaryd itself costs: CPU (% of one core) and
# resident memory while it manages 100 services whose backends it scrapes
# every second. The backends are two kanary-modelserver processes (stable
# v1, canary v2) that every service shares: each service scrapes both, so
# kanaryd makes 200 scrapes a second.
#
#   idle     the services configured, no rollout
#   rolling  every service in a rollout held at its first step (10 %): the
#            agent reads the kernel's counters every tick and judges the
#            immediate-rollback rule for each service
#
# Usage: agent.sh OUT.csv  (SECS per phase, SERVICES from the environment)
# Columns: phase,services,seconds,cpu_pct,rss_kib_median,rss_kib_max,scrapes_per_s
set -u
source "$(dirname "$0")/lib.sh"

OUT=$1
SECS=${SECS:-60}
SERVICES=${SERVICES:-100}
SETTLE_S=3 # after start and after the rollouts begin
VIP_BASE=64 # services at 198.18.64.0 + i, port 80

trap bench_destroy EXIT
trap 'exit 130' INT TERM
BENCH_BACKEND=modelserver bench_topology || bench_die "cannot build the topology"

awk -v n="$SERVICES" -v base="$VIP_BASE" -v st="$BENCH_STABLE_IP:$BENCH_PORT" \
	-v ca="$BENCH_CANARY_IP:$BENCH_PORT" 'BEGIN {
	printf "{\"services\": [\n"
	for (i = 0; i < n; i++)
		printf "{\"name\": \"svc%d\", \"vip\": \"198.18.%d.%d:80\", \"stable\": [\"%s\"], \"canary\": [\"%s\"], \"metrics\": {\"preset\": \"kanary-modelserver\", \"interval\": \"1s\", \"timeout\": \"800ms\"}}%s\n", i, base + int(i / 256), i % 256, st, ca, i < n - 1 ? "," : ""
	printf "]}\n"
}' >"$BENCH_TMP/agent.json"
BENCH_KANARYD_ARGS=(--config "$BENCH_TMP/agent.json")
split_up kanary-xdp || bench_die "cannot start kanaryd"

pid=$(bench_kanaryd_pid) || bench_die "cannot find kanaryd's process"
CLK_TCK=$(getconf CLK_TCK)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
scrapes() {
	topo_api GET /api/v1/services | "$BENCH_PYTHON" -c '
import json, sys
def count(x):
    if isinstance(x, dict):
        return (x["scrapes"] if isinstance(x.get("scrapes"), int) else 0) + sum(count(v) for v in x.values())
    if isinstance(x, list):
        return sum(count(v) for v in x)
    return 0
print(count(json.load(sys.stdin)))'
}

measure() { # PHASE
	local t0 c0 s0 c1 s1 t1 i rss=()
	sleep "$SETTLE_S"
	t0=$(date +%s%N) c0=$(cpu_ticks) s0=$(scrapes)
	for ((i = 0; i < SECS; i++)); do
		sleep 1
		rss+=("$(rss_kib)")
	done
	t1=$(date +%s%N) c1=$(cpu_ticks) s1=$(scrapes)
	printf '%s\n' "${rss[@]}" | sort -n | awk -v phase="$1" -v n="$SERVICES" \
		-v secs="$(((t1 - t0) / 1000000))e-3" -v ticks=$((c1 - c0)) -v hz="$CLK_TCK" \
		-v scr=$((s1 - s0)) '{ v[NR] = $1 } END {
		printf "%s,%d,%.1f,%.2f,%d,%d,%.1f\n", phase, n, secs, 100 * ticks / hz / secs,
			v[int((NR + 1) / 2)], v[NR], scr / secs }' >>"$OUT"
	bench_log "agent $1: $(tail -1 "$OUT")"
}

echo "phase,services,seconds,cpu_pct,rss_kib_median,rss_kib_max,scrapes_per_s" >"$OUT"
measure idle
# One client process for all rollouts: a process per request would cost
# more than kanaryd's answer.
topo_node "$BENCH_PYTHON" - "$SERVICES" "$TOPO_API_PORT" <<'EOP' || bench_die "a rollout was refused"
import http.client, json, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
body = json.dumps({"steps": [10, 100], "interval": "1h", "warmup_requests": 0})
for i in range(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", "/api/v1/services/svc%d/rollout" % i, body,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("svc%d: %d" % (i, r.status))
EOP
measure rolling
BENCH_FINDINGS_WHAT=agent split_down kanary-xdp
