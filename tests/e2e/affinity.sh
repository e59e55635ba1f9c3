#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/affinity.sh - few clients behind a "gateway": three client
# addresses open every connection, as the pods of an ingress controller or
# a NAT would. Two services on the same model servers, one with client
# affinity (the default) and one with connection affinity, each in a
# rollout at step 1 (30 %):
#   connection affinity: the canary's share of the step's new connections
#     follows the weight; no warning;
#   client affinity: the share is a whole number of clients (0, 33, 67 or
#     100 %), every connection of a client on its version; the status and
#     the decision log warn that 3 clients are too few and name
#     "affinity": "connection";
#   switching the client-affinity service to connection affinity with
#     kanaryctl starts the step's window over, and its share then follows
#     the weight;
#   after a restart, the affinity set through the API stays while the
#     service's config is unchanged, and a changed config wins;
#   "affinity": "sticky" is refused with the field named: in the config
#     (--check-config), by kanaryd's --affinity, the API and kanaryctl.
# Shares are compared with wide margins (several hundred connections),
# never timings.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
source "$(dirname "$0")/../lib/json.sh"

GATEWAY_SOURCES=3
STEP_PERCENT=30
STEPS="[$STEP_PERCENT, 100]"
CLOSE_CONNECTIONS=6
CLOSE_RPS=150
LOAD_MAX_S=120             # every load stops by itself after this long
WINDOW_MIN_CONNECTIONS=400 # new connections a window needs before it is read
WINDOW_WAIT_S=60
# 4 sigma of a 30 % share over 400 connections is 9 points.
SHARE_MARGIN_PCT=10
CLIENT_STEP_PCT=33.33 # one of three clients
EVEN_SPREAD_MARGIN_PCT=3
LOAD_PATH=/predict
LOAD_BODY='{"text": "great product, works well"}'
SVC=/api/v1/services
LOAD=$KANARY_TOOLS/kn-load
CTL=$KANARY_BIN/kanaryctl
GW_PORT=$TOPO_VIP_PORT
CONN_PORT=81
declare -A LOAD_PIDS=()

cleanup() {
	local pid
	for pid in "${LOAD_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	topo_destroy
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$LOAD" ] || tap_bail "kn-load is not built (make test-build)"
topo_create 1 1 "$GATEWAY_SOURCES" || tap_bail "cannot build the topology"
topo_backends || tap_bail "cannot start the model servers"

# service NAME PORT EXTRA: one service of the config.
service() {
	echo "{\"name\": \"$1\", \"vip\": \"$TOPO_VIP:$2\",
	  \"stable\": [\"$(topo_pool stable)\"], \"canary\": [\"$(topo_pool canary)\"],
	  \"rollout\": {\"steps\": $STEPS, \"interval\": \"10m\"}$3}"
}

# ---- bad input ----------------------------------------------------------------
cat >"$TOPO_TMP/sticky.json" <<EOF
{"services": [$(service gw "$GW_PORT" ', "affinity": "sticky"')]}
EOF
ERR=$(topo_node "$KANARY_BIN/kanaryd" --check-config "$TOPO_TMP/sticky.json" 2>&1)
RC=$?
check_diag() { echo "#   rc=${RC:-} ${ERR:0:400}"; }
check "the config's \"affinity\": \"sticky\" is refused at its line, with the field named" \
	bash -c '[ "$1" = 1 ] && [[ "$2" == *"sticky.json:"*"services[0].affinity: must be \"client\" or \"connection\""* ]]' \
	_ "$RC" "$ERR"

ERR=$(topo_node "$KANARY_BIN/kanaryd" --iface nc0 --pin-dir "$TOPO_PIN_DIR-flags" \
	--service "$TOPO_VIP:$GW_PORT" --stable "$(topo_pool stable)" --affinity sticky 2>&1)
RC=$?
check "kanaryd --affinity sticky is refused (exit 2), naming the flag" \
	bash -c '[ "$1" = 2 ] && [[ "$2" == *"--affinity '"'"'sticky'"'"': must be \"client\" or \"connection\""* ]]' \
	_ "$RC" "$ERR"

cat >"$TOPO_TMP/config.json" <<EOF
{
  "tick": "50ms",
  "services": [
    $(service gw "$GW_PORT" ''),
    $(service conn "$CONN_PORT" ', "affinity": "connection"')
  ]
}
EOF
topo_kanaryd --config "$TOPO_TMP/config.json" || tap_bail "kanaryd did not start"

check_diag() { echo "#   rc=${RC:-} ${ERR:0:400}"; }
topo_api PUT "$SVC/gw/affinity" '{"affinity": "sticky"}' >"$TOPO_TMP/put.json"
tap_is "the API refuses \"sticky\" (400), naming the field and the two words" \
	"$TOPO_HTTP_STATUS $(jget '[d["field"], d["error"]]' <"$TOPO_TMP/put.json")" \
	'400 ["affinity", "must be \"client\" or \"connection\""]'
topo_api PUT "$SVC/gw/affinity" '{}' >"$TOPO_TMP/put.json"
tap_is "the API asks for the field when it is missing (400)" \
	"$TOPO_HTTP_STATUS $(jget 'd["field"]' <"$TOPO_TMP/put.json")" '400 affinity'
ERR=$(topo_node "$CTL" --server "$TOPO_API" set-affinity gw sticky 2>&1)
RC=$?
check "kanaryctl refuses \"sticky\" (exit 2), naming the argument" \
	bash -c '[ "$1" = 2 ] && [[ "$2" == *"AFFINITY '"'"'sticky'"'"': must be \"client\" or \"connection\""* ]]' \
	_ "$RC" "$ERR"
tap_is "both services kept their affinity" \
	"$(topo_api GET "$SVC" | jget "[s['affinity'] for s in d['services']]")" '["client", "connection"]'

# ---- three clients, new connection per request ------------------------------
# status NAME EXPRESSION: a Python expression over the service's status (d),
# its share's window (w) and its clients (c).
status() {
	topo_api GET "$SVC/$1" |
		jget "(lambda w, c: $2)(d['share']['window'], d['clients'])"
}

# wait_window NAME MIN_CONNECTIONS: until the service's window has counted
# that many new connections.
wait_window() {
	local deadline=$((SECONDS + WINDOW_WAIT_S))
	while ((SECONDS < deadline)); do
		[ "$(status "$1" "w['new_connections']['total'] >= $2")" = true ] && return 0
		sleep 0.5
	done
	return 1
}

# load NAME PORT: kn-load from the three gateway addresses, a new
# connection per request, in the background.
load() {
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$2" \
		--sources "$(topo_sources)" --close --connections "$CLOSE_CONNECTIONS" \
		--rate "$CLOSE_RPS" --duration "$LOAD_MAX_S" --method POST \
		--path "$LOAD_PATH" --body "$LOAD_BODY" --json \
		>"$TOPO_TMP/$1.json" 2>"$TOPO_TMP/$1.err" &
	LOAD_PIDS[$1]=$!
}

# near VALUE TARGET MARGIN: |VALUE - TARGET| <= MARGIN.
near() {
	"$PYTHON" -c 'import sys; v, t, m = map(float, sys.argv[1:4]); sys.exit(0 if abs(v - t) <= m else 1)' \
		"$1" "$2" "$3" 2>/dev/null
}

# whole_clients SHARE: SHARE is near k x 33.33 % for k in 0..3 (the load
# spreads its connections over its sources nearly, not exactly, evenly).
whole_clients() {
	"$PYTHON" -c 'import sys; v, step, m = map(float, sys.argv[1:4]); sys.exit(0 if min(abs(v - k * step) for k in range(4)) <= m else 1)' \
		"$1" "$CLIENT_STEP_PCT" "$EVEN_SPREAD_MARGIN_PCT" 2>/dev/null
}

# stop_load NAME: ends the background load NAME (its summary is then whole).
stop_load() {
	local pid=${LOAD_PIDS[$1]}
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "LOAD_PIDS[$1]"
}

for name in gw conn; do
	topo_api POST "$SVC/$name/rollout" '{}' >/dev/null ||
		tap_bail "the rollout of $name did not start"
done
load gw "$GW_PORT"
load conn "$CONN_PORT"
check_diag() { topo_api GET "$SVC/$name" | jget "[d['share'], d['clients']]" | sed 's/^/#   /'; }

name=conn
check "connection affinity: the step's window counts $WINDOW_MIN_CONNECTIONS new connections" \
	wait_window conn "$WINDOW_MIN_CONNECTIONS"
share=$(status conn "w['new_connections']['canary']")
check "connection affinity: the canary's share follows the weight: $share % (weight $STEP_PERCENT %)" \
	near "$share" "$STEP_PERCENT" "$SHARE_MARGIN_PCT"
tap_is "connection affinity: 3 distinct clients seen, no warning" \
	"$(status conn "[c['distinct'], c['too_few'], c['warning']]")" '[3, false, null]'

name=gw
check "client affinity: the step's window counts $WINDOW_MIN_CONNECTIONS new connections" \
	wait_window gw "$WINDOW_MIN_CONNECTIONS"
share=$(status gw "w['new_connections']['canary']")
check "client affinity: the share is a whole number of clients (0, 33, 67 or 100 %): $share %" \
	whole_clients "$share"
tap_is "client affinity: 3 distinct clients, too few, a step of 33.33 points" \
	"$(status gw "[d['affinity'], c['distinct'], c['too_few'], c['share_step_points']]")" \
	'["client", 3, true, 33.33]'
check "the status's warning names the suggestion" \
	bash -c '[[ "$1" == *"about 3 distinct client addresses"*"\"affinity\": \"connection\""* ]]' \
	_ "$(status gw "c['warning']")"
tap_is "the decision log says it once, naming the suggestion" \
	"$(topo_api GET "$SVC/gw/decisions" | jget "[e['event'] for e in d['decisions'] if e['event'] == 'few clients' and '\"affinity\": \"connection\"' in e['reason']]")" \
	'["few clients"]'
tap_is "the service with connection affinity logged no warning" \
	"$(topo_api GET "$SVC/conn/decisions" | jget "[e for e in d['decisions'] if e['event'] == 'few clients']")" '[]'

stop_load gw
tap_is "client affinity: each of the 3 addresses had all its answers from one version" \
	"$(jget "[d['sources'], d['sources_with_multiple_tags'], d['errors']]" <"$TOPO_TMP/gw.json")" '[3, 0, 0]'

# ---- switching a live service ----------------------------------------------
window_before=$(status gw "w['started']")
ERR=$(topo_node "$CTL" --server "$TOPO_API" set-affinity gw connection 2>&1)
RC=$?
check "kanaryctl set-affinity gw connection: done (exit 0)" \
	bash -c '[ "$1" = 0 ]' _ "$RC"
load gw2 "$GW_PORT"
tap_is "the status says connection, the step and the weight unchanged" \
	"$(status gw "[d['affinity'], d['step'], d['share']['weight_percent']['canary']]")" \
	"[\"connection\", 1, $STEP_PERCENT.0]"
check "the step's window started over" \
	bash -c '[ "$1" != "$2" ]' _ "$window_before" "$(status gw "w['started']")"
tap_is "the decision log has the change" \
	"$(topo_api GET "$SVC/gw/decisions" | jget "d['decisions'][-1]['event']")" 'affinity set: connection'
check "the new window counts $WINDOW_MIN_CONNECTIONS new connections" \
	wait_window gw "$WINDOW_MIN_CONNECTIONS"
share=$(status gw "w['new_connections']['canary']")
check "now the share follows the weight: $share % (weight $STEP_PERCENT %)" \
	near "$share" "$STEP_PERCENT" "$SHARE_MARGIN_PCT"
tap_is "and the warning is gone" "$(status gw "[c['too_few'], c['warning']]")" '[false, null]'

stop_load gw2
tap_is "connection affinity: each address now had answers from both versions" \
	"$(jget "[d['sources'], d['sources_with_multiple_tags'], d['errors']]" <"$TOPO_TMP/gw2.json")" '[3, 3, 0]'
stop_load conn

# ---- a restart: the API's change stays, a changed config wins -----------------
kill -KILL "$TOPO_KANARYD_PID"
wait "$TOPO_KANARYD_PID" 2>/dev/null
TOPO_KANARYD_PID=
cat >"$TOPO_TMP/config2.json" <<EOF
{
  "tick": "50ms",
  "services": [
    $(service gw "$GW_PORT" ''),
    $(service conn "$CONN_PORT" '')
  ]
}
EOF
topo_kanaryd --config "$TOPO_TMP/config2.json" || tap_bail "kanaryd did not start again"
tap_is "after a restart: gw keeps the affinity set through the API (its config is unchanged), conn takes its changed config's" \
	"$(topo_api GET "$SVC" | jget "[s['affinity'] for s in d['services']]")" '["connection", "client"]'
tap_done
