#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/restarts.sh - kanaryd must never be what breaks traffic.
#   kanaryd is killed with SIGKILL 20 times under load and started again:
#     the data path keeps forwarding (pinned maps, netlink attachments), no
#     request fails, and each new kanaryd adopts the state and resumes the
#     rollout at the same step with its decision log;
#   a new build whose flow table has another layout is started over the
#     running data path: the maps are migrated, the programs replaced in
#     place, and every established connection keeps going;
#   a build that cannot migrate the maps refuses, and leaves the data path
#     running.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT

KILLS=${KILLS:-20}
SOURCES=200
HOLD_CONNECTIONS=100
UPGRADED_KANARYD=$(dirname "$KANARY_TOOLS")/upgrade/bin/kanaryd

topo_create 2 1 "$SOURCES" || tap_bail "cannot build the topology"
topo_backends || tap_bail "cannot start the model servers"
LOAD=$KANARY_TOOLS/kn-load
[ -x "$LOAD" ] || tap_bail "kn-load is not built (make test-build)"
[ -x "$UPGRADED_KANARYD" ] || tap_bail "the upgrade build is missing (make test-build)"

cat >"$TOPO_TMP/kanary.json" <<EOF
{"services": [{
  "name": "sentiment", "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
  "stable": ["$(topo_backend_ip stable 1):8000", "$(topo_backend_ip stable 2):8000"],
  "canary": ["$(topo_backend_ip canary 1):8000"],
  "metrics": {"preset": "kanary-modelserver", "interval": "500ms", "timeout": "400ms"},
  "rollout": {"steps": [10, 30, 60, 100], "interval": "10m", "min_requests": 20}
}]}
EOF

status() { # python expression over the status s
	topo_api GET /api/v1/services/sentiment | "$PYTHON" -c "
import json, sys
s = json.load(sys.stdin)
print($1)" 2>/dev/null
}

decision_count() {
	topo_api GET /api/v1/services/sentiment/decisions |
		"$PYTHON" -c "import json, sys; print(len(json.load(sys.stdin)['decisions']))"
}

json_of() { # FILE EXPRESSION over d
	"$PYTHON" -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}

# Two loads for the whole run: a new connection per request from every
# source, and long-lived keep-alive connections that must never break.
start_loads() { # SECONDS
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
		--sources "$(topo_sources)" --close --connections 16 --rate 200 --duration "$1" \
		--method POST --path /predict --body '{"text": "fine"}' --timeout-ms 3000 \
		--json >"$TOPO_TMP/new.json" 2>&1 &
	NEW_PID=$!
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
		--sources "$(topo_sources "$HOLD_CONNECTIONS")" --keepalive \
		--connections "$HOLD_CONNECTIONS" --interval-ms 100 --duration "$1" \
		--method POST --path /predict --body '{"text": "fine"}' --timeout-ms 3000 \
		--per-source-report --json >"$TOPO_TMP/hold.json" 2>&1 &
	HOLD_PID=$!
}

stop_loads() {
	kill -TERM "$NEW_PID" "$HOLD_PID" 2>/dev/null
	wait "$NEW_PID" "$HOLD_PID" 2>/dev/null
}

report_loads() { # WHAT
	local new_err hold_err hold_resets new_5xx moved
	new_err=$(json_of "$TOPO_TMP/new.json" "d['errors']")
	new_5xx=$(json_of "$TOPO_TMP/new.json" "d['status']['5xx']")
	hold_err=$(json_of "$TOPO_TMP/hold.json" "d['errors']")
	hold_resets=$(json_of "$TOPO_TMP/hold.json" "d['resets']")
	moved=$(json_of "$TOPO_TMP/hold.json" "d['sources_with_multiple_tags']")
	echo "# $1: new connections: $(json_of "$TOPO_TMP/new.json" "d['attempts']") requests," \
		"$new_err failed, $new_5xx HTTP 5xx; long-lived: $(json_of "$TOPO_TMP/hold.json" \
		"d['attempts']") requests on $HOLD_CONNECTIONS connections, $hold_err failed," \
		"$hold_resets resets"
	tap_is "$1: no request on a new connection failed" "$new_err" 0
	tap_is "$1: no HTTP error" "$new_5xx" 0
	tap_is "$1: no request on a long-lived connection failed" "$hold_err" 0
	tap_is "$1: no long-lived connection was reset" "$hold_resets" 0
	tap_is "$1: no long-lived connection changed version" "$moved" 0
}

# ---- 20 SIGKILLs under load ---------------------------------------------------
topo_kanaryd --config "$TOPO_TMP/kanary.json" || tap_bail "kanaryd does not start"
topo_api POST /api/v1/services/sentiment/rollout '{}' >/dev/null
topo_api POST /api/v1/services/sentiment/promote '{}' >/dev/null # step 2
tap_is "the rollout runs at step 2" "$(status "s['phase'], s['step']")" "progressing 2"
decisions=$(decision_count)
start_loads 120
sleep 2
resumed=0
kept_log=0
recover_ms=()
for ((k = 1; k <= KILLS; k++)); do
	kill -KILL "$TOPO_KANARYD_PID"
	wait "$TOPO_KANARYD_PID" 2>/dev/null
	TOPO_KANARYD_PID=
	sleep 0.3 # traffic flows with no agent at all
	t0=$(date +%s%N)
	topo_kanaryd --config "$TOPO_TMP/kanary.json" || { tap_fail "kanaryd restart $k"; break; }
	recover_ms+=($((($(date +%s%N) - t0) / 1000000)))
	[ "$(status "s['phase'], s['step'], s['canary_percent']")" = "progressing 2 30.0" ] &&
		resumed=$((resumed + 1))
	[ "$(decision_count)" -ge "$decisions" ] && kept_log=$((kept_log + 1))
	sleep 0.5
done
tap_is "each of $KILLS restarted kanaryds resumed at step 2 with weight 30 %" "$resumed" "$KILLS"
tap_is "each kept the decision log" "$kept_log" "$KILLS"
tap_check "each said it adopted the running data path" \
	test "$(grep -c "adopted service 'sentiment'" "$TOPO_TMP/kanaryd.log")" -ge "$KILLS"
echo "# time from start to a serving API after each kill (ms): ${recover_ms[*]}"
sleep 1
stop_loads
report_loads "$KILLS kills"
tap_check "no temporary state file was left behind" \
	bash -c "! ls '$TOPO_TMP' | grep -q 'state.json.tmp'"

# ---- the config changed while kanaryd was down: the config wins ---------------
restart_with() { # CONFIG
	kill -KILL "$TOPO_KANARYD_PID"
	wait "$TOPO_KANARYD_PID" 2>/dev/null
	TOPO_KANARYD_PID=
	topo_kanaryd --config "$1"
}
stable_pool() {
	status "' '.join(b['address'] for b in s['backends'] if b['pool'] == 'stable')"
}
"$PYTHON" -c "
import json, sys
c = json.load(open(sys.argv[1]))
c['services'][0]['stable'] = c['services'][0]['stable'][:1]
json.dump(c, open(sys.argv[2], 'w'))" "$TOPO_TMP/kanary.json" "$TOPO_TMP/kanary-one-stable.json"
restart_with "$TOPO_TMP/kanary-one-stable.json" || tap_fail "kanaryd starts on a changed config"
tap_is "a config changed while kanaryd was down: its stable pool is applied" \
	"$(stable_pool)" "$(topo_backend_ip stable 1):8000"
tap_is "and the rollout starts idle" "$(status "s['phase']")" "idle"
restart_with "$TOPO_TMP/kanary.json" || tap_fail "kanaryd starts on the first config again"
tap_is "the first config back: both stable replicas again" "$(stable_pool)" \
	"$(topo_backend_ip stable 1):8000 $(topo_backend_ip stable 2):8000"
topo_api POST /api/v1/services/sentiment/rollout '{}' >/dev/null
topo_api POST /api/v1/services/sentiment/promote '{}' >/dev/null # step 2 again

# ---- upgrade to a build with another flow-table layout -------------------------
old_prog=$(bpftool net show dev nc0 2>/dev/null; topo_node bpftool net show dev nc0 | grep -o 'id [0-9]*' | head -1)
old_value=$(bpftool map show pinned "$TOPO_PIN_DIR/kn_flows" | grep -o 'value [0-9]*B')
start_loads 30
sleep 3
kill -KILL "$TOPO_KANARYD_PID"
wait "$TOPO_KANARYD_PID" 2>/dev/null
TOPO_KANARYD_PID=
saved_bin=$KANARY_BIN
KANARY_BIN=$(dirname "$UPGRADED_KANARYD")
cp "$saved_bin/kanary-modelserver" "$KANARY_BIN/" 2>/dev/null
topo_kanaryd --config "$TOPO_TMP/kanary.json" || tap_fail "the upgraded kanaryd starts"
KANARY_BIN=$saved_bin
new_value=$(bpftool map show pinned "$TOPO_PIN_DIR/kn_flows" | grep -o 'value [0-9]*B')
new_prog=$(topo_node bpftool net show dev nc0 | grep -o 'id [0-9]*' | head -1)
tap_check "the upgraded kanaryd migrated the flow table" \
	grep -q "migrated [0-9]* entries of kn_flows" "$TOPO_TMP/kanaryd.log"
tap_check "whose values grew ($old_value -> $new_value)" test "$old_value" != "$new_value"
tap_check "and replaced the programs in place ($old_prog -> $new_prog)" test "$old_prog" != "$new_prog"
tap_is "the rollout is still at step 2" "$(status "s['phase'], s['step']")" "progressing 2"
sleep 3
stop_loads
report_loads "upgrade"

# ---- a build that cannot migrate: refuses, the data path keeps running -------
kill -KILL "$TOPO_KANARYD_PID"
wait "$TOPO_KANARYD_PID" 2>/dev/null
TOPO_KANARYD_PID=
out=$(topo_node "$KANARY_BIN/kanaryd" --iface nc0 --pin-dir "$TOPO_PIN_DIR" \
	--state-file "$TOPO_STATE_FILE" --config "$TOPO_TMP/kanary.json" --listen 127.0.0.1:9099 2>&1)
tap_check "the older layout refuses to shrink the migrated map" \
	grep -q "layout this kanary cannot migrate" <<<"$out"
tap_check "and names the way out" grep -q -- "--remove" <<<"$out"
answer=$(topo_client curl -sS -m 3 -H 'Content-Type: application/json' -d '{"text": "ok"}' \
	"http://$TOPO_VIP/predict" | sed -n 's/.*"model" *: *"\([^"]*\)".*/\1/p')
tap_check "while the running data path keeps serving ($answer)" test -n "$answer"
topo_node "$(dirname "$UPGRADED_KANARYD")/kanaryd" --iface nc0 --pin-dir "$TOPO_PIN_DIR" --remove >/dev/null 2>&1
tap_check "the data path is removed at the end" test ! -e "$TOPO_PIN_DIR/kn_flows"

tap_done
