#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/share.sh - each pool's share of a step's new connections and of
# its requests, beside the weight: the status's "share" and /metrics'
# kanary_pool_new_connection_share and kanary_pool_request_share, from the
# kernel's counters over the step's window. With a stable and a canary model
# server and real clients through the VIP:
#   before any traffic the shares are null, and /metrics leaves them out;
#   a service that does not observe HTTP has no request share;
#   a few keep-alive connections opened before the rollout stay on the
#     stable pool: at step 1 the new connections follow the weight, the
#     requests lag far behind it;
#   with a new connection per request only (step 2), both shares are near
#     the weight.
# Shares are compared with wide margins (the split is by client address,
# over a few hundred addresses), never timings.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
source "$(dirname "$0")/../lib/json.sh"

SOURCES=200
STEPS="[40, 60, 100]"
STEP1_PERCENT=40
STEP2_PERCENT=60
KEEPALIVE_CONNECTIONS=4
KEEPALIVE_RPS=300
CLOSE_CONNECTIONS=8
CLOSE_RPS=40
LOAD_MAX_S=120       # every load stops by itself after this long
WINDOW_MIN_CONNECTIONS=150 # new connections a window needs before it is read
WINDOW_WAIT_S=40
WARM_MIN_REQUESTS=100 # the keep-alive connections answered this much first
SHARE_MARGIN_PCT=20   # a share "near the weight": within this many points
SAME_MARGIN_PCT=10    # one request per connection: the shares this close
METRICS_MARGIN=0.15   # /metrics read a moment after the status
LOAD_PATH=/predict
LOAD_BODY='{"text": "great product, works well"}'
SVC=/api/v1/services
LOAD=$KANARY_TOOLS/kn-load
KEEPALIVE_PID=
CLOSE_PID=

cleanup() {
	local pid
	for pid in $KEEPALIVE_PID $CLOSE_PID; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	topo_destroy
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$LOAD" ] || tap_bail "kn-load is not built (make test-build)"
topo_create 1 1 "$SOURCES" || tap_bail "cannot build the topology"
topo_backends || tap_bail "cannot start the model servers"
cat >"$TOPO_TMP/config.json" <<EOF
{
  "tick": "50ms",
  "services": [
    {"name": "demo", "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
     "stable": ["$(topo_pool stable)"], "canary": ["$(topo_pool canary)"],
     "rollout": {"steps": $STEPS, "interval": "10m"}},
    {"name": "raw", "vip": "$TOPO_VIP:81", "http": false,
     "stable": ["$(topo_pool stable)"], "canary": ["$(topo_pool canary)"]}
  ]
}
EOF
topo_kanaryd --config "$TOPO_TMP/config.json" || tap_bail "kanaryd did not start"

# share EXPRESSION [SERVICE]: a Python expression over the service's
# "share" (s), its window (w), and the status (d).
share() {
	topo_api GET "$SVC/${2:-demo}" |
		jget "(lambda s: (lambda w: $1)(s['window']))(d['share'])"
}

# metric NAME POOL: the value of NAME{service="demo",pool=POOL} on
# /metrics, or "none" when the series is left out.
metric() {
	topo_node curl -sS -m 5 "$TOPO_API/metrics" >"$TOPO_TMP/metrics.txt"
	awk -v series="$1{service=\"demo\",pool=\"$2\"}" \
		'$1 == series { print $2; found = 1 } END { if (!found) print "none" }' \
		"$TOPO_TMP/metrics.txt"
}

# wait_window MIN_CONNECTIONS MIN_REQUESTS: until the demo's window has
# counted that many new connections and requests.
wait_window() {
	local deadline=$((SECONDS + WINDOW_WAIT_S))
	while ((SECONDS < deadline)); do
		[ "$(share "w['new_connections']['total'] >= $1 and w['requests']['total'] >= $2")" = true ] &&
			return 0
		sleep 0.5
	done
	return 1
}

# within VALUE LOW HIGH: LOW <= VALUE <= HIGH (numbers, decimals allowed).
within() {
	"$PYTHON" -c 'import sys; v, lo, hi = map(float, sys.argv[1:4]); sys.exit(0 if lo <= v <= hi else 1)' \
		"$1" "$2" "$3" 2>/dev/null
}

# load NAME MODE CONNECTIONS RPS SOURCES: kn-load from the client in the
# background (its pid in $!), its summary in $TOPO_TMP/NAME.json.
load() {
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
		--sources "$5" "--$2" --connections "$3" --rate "$4" \
		--duration "$LOAD_MAX_S" --method POST --path "$LOAD_PATH" \
		--body "$LOAD_BODY" --json >"$TOPO_TMP/$1.json" 2>"$TOPO_TMP/$1.err" &
}

check_diag() {
	topo_api GET "$SVC/demo" | jget 'd["share"]' | sed 's/^/#   /'
}

# ---- before any traffic ------------------------------------------------------
tap_is "the status has the share: the weight, 100 % stable" \
	"$(share "[s['weight_percent']['stable'], s['weight_percent']['canary']]")" "[100.0, 0.0]"
tap_is "no traffic yet: both shares are null (nothing counted)" \
	"$(share "[w['new_connections'], w['requests']]")" \
	'[{"total": 0, "stable": null, "canary": null}, {"total": 0, "stable": null, "canary": null}]'
tap_is "the window has a start time" "$(share "isinstance(w['started'], str) and w['started'].endswith('Z')")" true
tap_is "a service that does not observe HTTP has no request share" \
	"$(share "w['requests']" raw)" null
tap_is "/metrics leaves the undefined shares out" \
	"$(metric kanary_pool_new_connection_share canary) $(metric kanary_pool_request_share stable)" "none none"
check "... but describes both families" \
	grep -q '^# TYPE kanary_pool_request_share gauge' "$TOPO_TMP/metrics.txt"

# read_window FILE: the status now into FILE; the canary's share of the
# window's new connections and requests into conn and req.
read_window() {
	topo_api GET "$SVC/demo" >"$1"
	conn=$(jget "d['share']['window']['new_connections']['canary']" <"$1")
	req=$(jget "d['share']['window']['requests']['canary']" <"$1")
}

# ---- keep-alive connections opened before the step ---------------------------
# Weight 0: they all open on the stable pool, and stay there.
load keepalive keepalive "$KEEPALIVE_CONNECTIONS" "$KEEPALIVE_RPS" "$(topo_sources "$KEEPALIVE_CONNECTIONS")"
KEEPALIVE_PID=$!
load close close "$CLOSE_CONNECTIONS" "$CLOSE_RPS" "$(topo_sources)"
CLOSE_PID=$!
wait_window 1 "$WARM_MIN_REQUESTS" ||
	tap_bail "the keep-alive connections got no answers through the VIP"
topo_api POST "$SVC/demo/rollout" '{}' >/dev/null
tap_is "the rollout starts at step 1, $STEP1_PERCENT %" \
	"$(share "[d['phase'], d['step'], s['weight_percent']['canary']]")" \
	"[\"progressing\", 1, $STEP1_PERCENT.0]"
check "the step's window counts $WINDOW_MIN_CONNECTIONS new connections" \
	wait_window "$WINDOW_MIN_CONNECTIONS" "$WINDOW_MIN_CONNECTIONS"
read_window "$TOPO_TMP/step1.json"
check "the canary's share of new connections follows the weight: $conn % (weight $STEP1_PERCENT %)" \
	within "$conn" $((STEP1_PERCENT - SHARE_MARGIN_PCT)) $((STEP1_PERCENT + SHARE_MARGIN_PCT))
check "its share of requests lags far behind: $req %, under half of $conn %" \
	"$PYTHON" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) / 2 else 1)' "$req" "$conn"
tap_is "the pools' shares add up to 100 %" \
	"$(jget "all(abs(x['stable'] + x['canary'] - 100) < 0.02 for x in (d['share']['window']['new_connections'], d['share']['window']['requests']))" <"$TOPO_TMP/step1.json")" true
m_conn=$(metric kanary_pool_new_connection_share canary)
m_req=$(metric kanary_pool_request_share canary)
check "/metrics has the same shares as fractions: $m_conn and $m_req" \
	"$PYTHON" -c '
import sys
conn, req, m_conn, m_req, margin = map(float, sys.argv[1:6])
sys.exit(0 if abs(m_conn - conn / 100) <= margin and abs(m_req - req / 100) <= margin else 1)' \
	"$conn" "$req" "$m_conn" "$m_req" "$METRICS_MARGIN"
check "promtool finds nothing wrong with the page" \
	promtool check metrics <"$TOPO_TMP/metrics.txt"

kill "$KEEPALIVE_PID"
wait "$KEEPALIVE_PID"
KEEPALIVE_PID=
tap_is "the keep-alive client's answers all came from the stable model (v1), on its first connections" \
	"$(jget "[sorted(d['tags']), d['connections_opened'], d['reconnects'], d['errors']]" <"$TOPO_TMP/keepalive.json")" \
	"[[\"v1\"], $KEEPALIVE_CONNECTIONS, 0, 0]"

# ---- a new connection per request only -------------------------------------
topo_api POST "$SVC/demo/promote" >/dev/null
tap_is "promoted one step: step 2, $STEP2_PERCENT %" \
	"$(share "[d['step'], s['weight_percent']['canary']]")" "[2, $STEP2_PERCENT.0]"
check "the new window counts $WINDOW_MIN_CONNECTIONS new connections" \
	wait_window "$WINDOW_MIN_CONNECTIONS" "$WINDOW_MIN_CONNECTIONS"
read_window "$TOPO_TMP/step2.json"
check "the canary's share of new connections is near the weight: $conn % (weight $STEP2_PERCENT %)" \
	within "$conn" $((STEP2_PERCENT - SHARE_MARGIN_PCT)) $((STEP2_PERCENT + SHARE_MARGIN_PCT))
check "... and so is its share of requests: $req %" \
	within "$req" $((STEP2_PERCENT - SHARE_MARGIN_PCT)) $((STEP2_PERCENT + SHARE_MARGIN_PCT))
check "one request per connection: the two shares agree within $SAME_MARGIN_PCT points" \
	"$PYTHON" -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) <= float(sys.argv[3]) else 1)' \
	"$conn" "$req" "$SAME_MARGIN_PCT"

kill "$CLOSE_PID"
wait "$CLOSE_PID"
CLOSE_PID=
tap_done
