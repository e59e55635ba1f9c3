#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/faults.sh - damage done for real, and what kanary does about it:
#   the canary backend is killed mid-step: rolled back by the immediate
#     rule, while clients of the stable pool see no errors;
#   a stable replica is killed: kanaryd marks it down, its share of new
#     connections goes to the other replica, the other's connections are
#     untouched;
#   backends whose /metrics hangs, resets, answers garbage or 100 MB: each
#     gets a clear status, and the control loop keeps its pace;
#   the connection table is full and a SYN flood from thousands of sources
#     goes on: established connections keep their backends;
#   40 services share 3 backends: one health probe a second per address,
#     and a dead replica is marked down (and up again) in every service.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT

SOURCES=200
LOAD=$KANARY_TOOLS/kn-load
FLOOD=$KANARY_TOOLS/kn-synflood
BAD_METRICS=$KANARY_ROOT/tests/tools/bad_metrics_server.py
for tool in "$LOAD" "$FLOOD"; do
	[ -x "$tool" ] || tap_bail "$tool is not built (make test-build)"
done

topo_create 2 1 "$SOURCES" || tap_bail "cannot build the topology"
topo_backends || tap_bail "cannot start the model servers"
S1=$(topo_backend_ip stable 1)
S2=$(topo_backend_ip stable 2)
C1=$(topo_backend_ip canary 1)

json_of() { # FILE EXPRESSION over d
	"$PYTHON" -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}

status() { # python expression over the status s
	topo_api GET /api/v1/services/sentiment | "$PYTHON" -c "
import json, sys
s = json.load(sys.stdin)
print($1)" 2>/dev/null
}

# Which source addresses go to which version at the current weight.
split_sources() { # -> files stable.src, canary.src
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
		--sources "$(topo_sources)" --close --connections 16 --requests "$SOURCES" \
		--method POST --path /predict --body '{"text": "ok"}' --per-source-report \
		--json >"$TOPO_TMP/split.json" 2>/dev/null
	json_of "$TOPO_TMP/split.json" \
		"'\n'.join(p['addr'] for p in d['per_source'] if p['tag_set'] == ['v1'])" >"$TOPO_TMP/stable.src"
	json_of "$TOPO_TMP/split.json" \
		"'\n'.join(p['addr'] for p in d['per_source'] if p['tag_set'] == ['v2'])" >"$TOPO_TMP/canary.src"
}

# Starts a load in the background; its pid is LOAD_PID.
load_from() { # SRCFILE OUT SECONDS [MODE]
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
		--sources "$(paste -sd, "$1")" "--${4:-close}" --connections 16 --rate 150 \
		--duration "$3" --method POST --path /predict --body '{"text": "ok"}' \
		--timeout-ms 2000 --per-source-report --json >"$2" 2>&1 &
	LOAD_PID=$!
}

# ---- the canary is killed mid-step -------------------------------------------
cat >"$TOPO_TMP/kanary.json" <<EOF
{"services": [{
  "name": "sentiment", "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
  "stable": ["$S1:8000", "$S2:8000"], "canary": ["$C1:8000"],
  "rollout": {"steps": [25, 50, 100], "interval": "5m", "min_requests": 20}
}]}
EOF
topo_kanaryd --config "$TOPO_TMP/kanary.json" || tap_bail "kanaryd does not start"
topo_api POST /api/v1/services/sentiment/rollout '{}' >/dev/null
split_sources
tap_check "both versions have clients at 25 %" \
	test -s "$TOPO_TMP/stable.src" -a -s "$TOPO_TMP/canary.src"
load_from "$TOPO_TMP/stable.src" "$TOPO_TMP/stable-load.json" 8
stable_pid=$LOAD_PID
load_from "$TOPO_TMP/canary.src" "$TOPO_TMP/canary-load.json" 8
canary_pid=$LOAD_PID
sleep 2
t0=$(date +%s%N)
kill -KILL "$TOPO_PID_canary1"
wait "$TOPO_PID_canary1" 2>/dev/null
deadline=$((SECONDS + 10))
while ((SECONDS < deadline)) && [ "$(status "s['phase']")" != rolled_back ]; do
	sleep 0.05
done
reaction_ms=$((($(date +%s%N) - t0) / 1000000))
tap_is "killing the canary mid-step rolls it back" "$(status "s['phase']")" rolled_back
reason=$(topo_api GET /api/v1/services/sentiment/decisions |
	"$PYTHON" -c "import json, sys; print([d for d in json.load(sys.stdin)['decisions'] if d.get('rule')][-1]['reason'])")
echo "# rolled back ${reaction_ms} ms after the kill: $reason"
tap_check "because the canary refused connections" grep -q "refused" <<<"$reason"
wait "$stable_pid" "$canary_pid"
tap_is "stable clients saw no failed request" "$(json_of "$TOPO_TMP/stable-load.json" "d['errors']")" 0
tap_is "and no HTTP error" "$(json_of "$TOPO_TMP/stable-load.json" "d['status']['5xx']")" 0
echo "# canary clients: $(json_of "$TOPO_TMP/canary-load.json" "d['attempts']") requests," \
	"$(json_of "$TOPO_TMP/canary-load.json" "d['errors']") failed until the rollback"
load_from "$TOPO_TMP/canary.src" "$TOPO_TMP/canary-after.json" 2
wait "$LOAD_PID"
tap_is "after the rollback the canary's clients are served by stable" \
	"$(json_of "$TOPO_TMP/canary-after.json" "d['errors'], sorted(d['tags'])")" "0 ['v1']"
topo_backend canary 1 --model v2 || tap_fail "the canary comes back"

# ---- a stable replica is killed ----------------------------------------------
topo_api PUT /api/v1/services/sentiment/weight '{"canary_percent": 0}' >/dev/null
s2_flows_before_hold=$(status "[b['kernel']['new_connections'] for b in s['backends'] if b['address'] == '$S2:8000'][0]")
ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
	--sources "$(topo_sources 60)" --keepalive --connections 60 --interval-ms 100 \
	--duration 10 --method POST --path /predict --body '{"text": "ok"}' --timeout-ms 2000 \
	--json >"$TOPO_TMP/hold.json" 2>&1 &
hold_pid=$!
sleep 2
s1_flows_before=$(status "[b['kernel']['new_connections'] for b in s['backends'] if b['address'] == '$S1:8000'][0]")
# Only the held connections open in these 2 s: the dead replica's share.
on_dead=$(($(status "[b['kernel']['new_connections'] for b in s['backends'] if b['address'] == '$S2:8000'][0]") - s2_flows_before_hold))
kill -KILL "$TOPO_PID_stable2"
wait "$TOPO_PID_stable2" 2>/dev/null
# New connections from every source: those that hashed to the dead replica
# fail until kanaryd sees it (a refusal or two failed probes).
deadline=$((SECONDS + 5))
while ((SECONDS < deadline)) && [ "$(status "[b['health']['healthy'] for b in s['backends'] if b['address'] == '$S2:8000'][0]")" != False ]; do
	topo_client curl -s -m 1 -o /dev/null "http://$TOPO_VIP/healthz"
	sleep 0.1
done
tap_is "kanaryd marks the dead stable replica down" \
	"$(status "[b['health']['healthy'] for b in s['backends'] if b['address'] == '$S2:8000'][0]")" False
seq 0 $((SOURCES - 1)) | while read -r i; do topo_source_ip "$i"; done >"$TOPO_TMP/all.src"
load_from "$TOPO_TMP/all.src" "$TOPO_TMP/after-down.json" 3
wait "$LOAD_PID"
tap_is "its share of new connections goes to the other replica: no failures" \
	"$(json_of "$TOPO_TMP/after-down.json" "d['errors']")" 0
s1_flows_after=$(status "[b['kernel']['new_connections'] for b in s['backends'] if b['address'] == '$S1:8000'][0]")
tap_check "the live replica took them ($s1_flows_before -> $s1_flows_after new connections)" \
	test "$s1_flows_after" -gt "$s1_flows_before"
wait "$hold_pid"
# The kernel of the dead replica's host closes its connections (FIN when
# idle, RST when data arrives): that is TCP's answer; kn-load reconnects,
# and the new connections go to the live replica.
ended=$(json_of "$TOPO_TMP/hold.json" "d['idle_closes'] + d['premature_closes'] + d['resets']")
echo "# long-lived connections when a replica died: $(json_of "$TOPO_TMP/hold.json" "d['attempts']")" \
	"requests; $ended connections ended by the dead host's kernel;" \
	"$(json_of "$TOPO_TMP/hold.json" "d['reconnects']") reconnects;" \
	"$(json_of "$TOPO_TMP/hold.json" "d['errors']") failed requests," \
	"$(json_of "$TOPO_TMP/hold.json" "d['connect_failures']['refused']") of them reconnects refused before it was marked down"
tap_check "the dead replica's connections ended as TCP says ($ended)" test "$ended" -gt 0
tap_check "and only they: the live replica's went on ($ended ended, $on_dead held on the dead replica)" \
	test "$ended" -le "$on_dead"
# Every failed request is explained by the dead replica: at most the one in
# flight on each connection its host ended, plus the reconnects it refused
# until kanaryd marked it down (sticky by client address, a source goes back
# to its replica).
unexplained=$(json_of "$TOPO_TMP/hold.json" \
	"d['errors'] - d['connect_failures']['refused'] - ($ended)")
tap_check "and no other request failed ($unexplained unexplained)" \
	test "$unexplained" -le 0
tap_is "no request timed out" "$(json_of "$TOPO_TMP/hold.json" "d['timeouts'], d['connect_failures']['timeout']")" "0 0"
topo_backend stable 2 --model v1 || tap_fail "the replica comes back"
deadline=$((SECONDS + 6))
while ((SECONDS < deadline)) && [ "$(status "[b['health']['healthy'] for b in s['backends'] if b['address'] == '$S2:8000'][0]")" != True ]; do
	sleep 0.2
done
tap_is "once it accepts connections again, it is marked up" \
	"$(status "[b['health']['healthy'] for b in s['backends'] if b['address'] == '$S2:8000'][0]")" True
topo_kanaryd_stop

# ---- /metrics that hangs, resets, is garbage, is 100 MB -------------------------
for i in 1 2 3 4; do
	mode=$(echo hang reset garbage huge | cut -d' ' -f"$i")
	ip netns exec "$(topo_ns stable1)" "$PYTHON" "$BAD_METRICS" "$mode" "$S1" $((9100 + i)) 120 \
		>"$TOPO_TMP/bad-$mode.log" 2>&1 &
	TOPO_PIDS+=($!)
	topo_wait_port stable1 "$S1" $((9100 + i)) || tap_fail "the $mode server starts"
done
cat >"$TOPO_TMP/bad.json" <<EOF
{"services": [{
  "name": "badmetrics", "vip": "198.18.32.9:80",
  "stable": ["$S1:9101", "$S1:9102", "$S1:9103", "$S1:9104"],
  "metrics": {"preset": "generic", "interval": "1s", "timeout": "800ms"}
}]}
EOF
topo_kanaryd --config "$TOPO_TMP/bad.json" || tap_bail "kanaryd does not start"
sleep 4
topo_api GET /api/v1/services/badmetrics >"$TOPO_TMP/bad-status.json"
target_error() { # PORT
	json_of "$TOPO_TMP/bad-status.json" \
		"[b['metrics']['last_error'] for b in d['backends'] if b['address'].endswith(':$1')][0]"
}
tap_check "a /metrics that never answers: timed out ($(target_error 9101))" \
	grep -qi "timed out\|timeout" <<<"$(target_error 9101)"
tap_check "a /metrics that resets: reported ($(target_error 9102))" \
	grep -qi "reset\|recv\|receiv" <<<"$(target_error 9102)"
tap_check "a /metrics of garbage: where it stops parsing ($(target_error 9103))" \
	grep -q "line 1, column" <<<"$(target_error 9103)"
tap_check "a /metrics of 100 MB: cut off ($(target_error 9104))" \
	grep -q "larger than" <<<"$(target_error 9104)"
points_before=$(topo_api GET /api/v1/services/badmetrics/history | "$PYTHON" -c "import json,sys; print(len(json.load(sys.stdin)['points']))")
api_ms=$(topo_node curl -s -o /dev/null -w '%{time_total}' "$TOPO_API/api/v1/services/badmetrics")
sleep 3
points_after=$(topo_api GET /api/v1/services/badmetrics/history | "$PYTHON" -c "import json,sys; print(len(json.load(sys.stdin)['points']))")
tap_check "the control loop keeps its pace meanwhile ($points_before -> $points_after points in 3 s)" \
	test $((points_after - points_before)) -ge 2
# Held up behind the hanging scrape, it would take its 800 ms timeout.
tap_check "and the API does not wait for the hanging scrape (${api_ms}s)" \
	awk -v t="$api_ms" 'BEGIN { exit !(t < 0.8) }'
errors=$(topo_node curl -s "$TOPO_API/metrics" | grep '^kanary_scrape_errors_total' | awk '{s += $2} END {print s + 0}')
tap_check "scrape errors are counted by target in kanaryd's /metrics ($errors)" test "$errors" -ge 8
topo_kanaryd_stop

# ---- a full connection table under a SYN flood ----------------------------------
topo_kanaryd --max-flows 1024 --name sentiment --service "$TOPO_VIP:$TOPO_VIP_PORT" \
	--stable "$S1:8000,$S2:8000" --canary "$C1:8000" --weight 30 || tap_bail "kanaryd does not start"
ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
	--sources "$(topo_sources 50)" --keepalive --connections 50 --interval-ms 50 --duration 15 \
	--method POST --path /predict --body '{"text": "ok"}' --timeout-ms 3000 \
	--per-source-report --json >"$TOPO_TMP/flood-hold.json" 2>&1 &
hold_pid=$!
sleep 2
ip netns exec "$(topo_ns client)" "$FLOOD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
	--sources 198.18.200.0-198.18.239.255 --count 200000 --rate 20000 --duration 12 \
	>"$TOPO_TMP/flood.json" 2>&1
wait "$hold_pid"
entries=$(bpftool map dump pinned "$TOPO_PIN_DIR/kn_flows" 2>/dev/null | grep -c '"key"')
echo "# SYN flood: $(cat "$TOPO_TMP/flood.json"); connection table: $entries of 1024 entries"
new_flows=$(bpftool map dump pinned "$TOPO_PIN_DIR/kn_service_ctr" | "$PYTHON" -c "
import json, sys
print(sum(sum(c['value']['new_flows']) for e in json.load(sys.stdin) for c in e['values']))")
# The kernel's LRU evicts before its last free slots are used.
tap_check "the flood kept the table at capacity ($entries of 1024 entries, $new_flows flows inserted)" \
	test "$entries" -ge 768 -a "$new_flows" -ge 100000
tap_is "50 established connections: no failed request under the flood" \
	"$(json_of "$TOPO_TMP/flood-hold.json" "d['errors']")" 0
tap_is "none moved to another version" \
	"$(json_of "$TOPO_TMP/flood-hold.json" "d['sources_with_multiple_tags']")" 0
tap_check "they kept serving ($(json_of "$TOPO_TMP/flood-hold.json" "d['responses']") responses)" \
	test "$(json_of "$TOPO_TMP/flood-hold.json" "d['responses']")" -gt 5000
misses=$(bpftool map dump pinned "$TOPO_PIN_DIR/kn_service_ctr" | awk '/flow_misses/ {s += $2} END {print s + 0}')
echo "# flows re-derived after eviction (connection-table misses): $misses"
topo_kanaryd_stop

# ---- many services, one set of backends: one probe per address ------------------
SHARED=40
"$PYTHON" -c "
import json, sys
print(json.dumps({'services': [
    {'name': 'shared%d' % i, 'vip': '198.18.33.%d:80' % i,
     'stable': sys.argv[1:3], 'canary': sys.argv[3:4]} for i in range(1, $SHARED + 1)]}))
" "$S1:8000" "$S2:8000" "$C1:8000" >"$TOPO_TMP/shared.json"
topo_kanaryd --config "$TOPO_TMP/shared.json" || tap_bail "kanaryd does not start"
probe_metric() { # NAME
	topo_node curl -s "$TOPO_API/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
sleep 2
probes_before=$(probe_metric kanary_health_probes_total)
sleep 3
probes_after=$(probe_metric kanary_health_probes_total)
tap_is "$SHARED services with the same 3 backends: 3 addresses probed" \
	"$(probe_metric kanary_health_probe_addresses)" 3
tap_check "one probe a second per address, not per service ($probes_before -> $probes_after in 3 s)" \
	test $((probes_after - probes_before)) -ge 6 -a $((probes_after - probes_before)) -le 15
shared_healthy() { # ADDRESS -> the healthy flags of every service's backend at ADDRESS
	topo_api GET /api/v1/services | "$PYTHON" -c "
import json, sys
d = json.load(sys.stdin)
print(sorted({b['health']['healthy'] for s in d['services'] for b in s['backends'] if b['address'] == sys.argv[1]}))" "$1" 2>/dev/null
}
kill -KILL "$TOPO_PID_stable2"
wait "$TOPO_PID_stable2" 2>/dev/null
deadline=$((SECONDS + 6))
while ((SECONDS < deadline)) && [ "$(shared_healthy "$S2:8000")" != "[False]" ]; do
	sleep 0.2
done
tap_is "a dead shared replica is marked down in all $SHARED services" "$(shared_healthy "$S2:8000")" "[False]"
tap_is "and the others stay up in all of them" "$(shared_healthy "$S1:8000")" "[True]"
topo_backend stable 2 --model v1 || tap_fail "the replica comes back"
deadline=$((SECONDS + 6))
while ((SECONDS < deadline)) && [ "$(shared_healthy "$S2:8000")" != "[True]" ]; do
	sleep 0.2
done
tap_is "once it is back, it is up again in all $SHARED services" "$(shared_healthy "$S2:8000")" "[True]"
topo_kanaryd_stop

tap_done
