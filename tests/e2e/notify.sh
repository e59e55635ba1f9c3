#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/notify.sh - operators in the loop, with a real HTTP receiver
# (tests/tools/hook_receiver.py) in its own namespace:
#   every event kind reaches a receiver with its fields, its id and the
#     token; a slack receiver gets one line for the events it chose;
#   receivers that hang, reset or answer 500 get retries, are shown
#     unhealthy, and the rollout goes on as if they were not there;
#   a flood of events fills a hanging receiver's queue: the excess is
#     dropped and counted, the queue stays bounded;
#   gates: a URL answering 503 then 200 holds then proceeds, a manual gate
#     is approved with kanaryctl, a refusal rolls back, a rollback happens
#     while a gate waits, and no traffic moves before a before_start gate.
# (What a hanging receiver costs the loop is a figure: bench/notify.sh.)
# Needs: curl, python3, promtool (package prometheus).
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT

SOURCES=200
topo_create 2 1 "$SOURCES" || tap_bail "cannot build the topology"

# The receiver lives where the second stable backend would: a host of its own.
HOOK_IP=$(topo_backend_ip stable 2)
HOOK_PORT=8088
HOOK=http://$HOOK_IP:$HOOK_PORT
HOOK_LOG=$TOPO_TMP/hooks.jsonl
TOKEN_FILE=$TOPO_TMP/hook.token
echo "s3cret-hook-token" >"$TOKEN_FILE"
cat >"$TOPO_TMP/gates.json" <<-EOF2
{"step503": [[503, ""], [503, ""], [200, ""]],
 "refuse": [[403, "{\"decision\": \"refuse\", \"reason\": \"load test failed\"}"]]}
EOF2
ip netns exec "$(topo_ns stable2)" "$PYTHON" "$KANARY_ROOT/tests/tools/hook_receiver.py" \
	"$HOOK_IP" "$HOOK_PORT" "$HOOK_LOG" "$TOPO_TMP/gates.json" 600 \
	>"$TOPO_TMP/hook.err" 2>&1 &
TOPO_PIDS+=($!)
topo_wait_port stable2 "$HOOK_IP" "$HOOK_PORT" || tap_bail "the receiver does not listen"

ROLLOUT_SERVICE=sentiment
ROLLOUT_PRESET=kanary-modelserver
ROLLOUT_TOP='"notifications": [{"url": "'$HOOK'/ok/all", "token_file": "'$TOKEN_FILE'"},
  {"url": "'$HOOK'/ok/slack", "format": "slack", "events": ["promoted", "rolled_back"]}],'
ROLLOUT_EXTRA='"notifications": [{"url": "'$HOOK'/hang/x", "timeout": "1s"},
  {"url": "'$HOOK'/reset/x"}, {"url": "'$HOOK'/fail/x"}],'
LOAD_CONNECTIONS=16
LOAD_RPS=200
LOAD_PATH=/predict
LOAD_BODY='{"text": "great product, works well"}'
source "$(dirname "$0")/../lib/rollout.sh"
CTL=$KANARY_BIN/kanaryctl

# hooks PATH-PREFIX EXPRESSION: a Python expression over the bodies bs
# received under that path (oldest first) and their requests rs.
hooks() {
	"$PYTHON" - "$HOOK_LOG" "$1" "$2" <<-'PY' 2>/dev/null
	import json, sys
	rs = [json.loads(l) for l in open(sys.argv[1])]
	rs = [r for r in rs if r["path"].startswith(sys.argv[2])]
	bs = [r["body"] for r in rs]
	print(eval(sys.argv[3]))
	PY
}

events_at() { hooks "$1" "[b['event'] for b in bs if isinstance(b, dict) and 'event' in b]"; }

# Waits until the receiver at PATH has had EVENT; true when it has.
wait_event() { # SECONDS PATH EVENT
	local deadline=$((SECONDS + $1))
	while ((SECONDS < deadline)); do
		hooks "$2" "'$3' in [b.get('event') for b in bs if isinstance(b, dict)]" | grep -q True && return 0
		sleep 0.2
	done
	return 1
}

receiver_field() { # URL-SUFFIX EXPRESSION over the status's entry r
	topo_api GET "/api/v1/services/$ROLLOUT_SERVICE" | "$PYTHON" -c "
import json, sys
r = [r for r in json.load(sys.stdin).get('notifications', []) if r['url'].endswith('$1')][0]
print($2)" 2>/dev/null
}

gate_body() { # the rollout request: GATES JSON object
	echo "{\"gates\": $1}"
}

# ---- a whole rollout: every event, two gates, bad receivers ------------------
start_case "[10, 50, 100]" "1s" || tap_bail "cannot start kanaryd"
topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/rollout" "$(gate_body \
	'{"before_step": "'$HOOK'/gate/step503", "before_promotion": "manual", "interval": "300ms"}')" >/dev/null
tap_is "a rollout with gates is accepted" "$TOPO_HTTP_STATUS" 200
tap_check "the spec in the status shows its gates" \
	test "$(status_field rollout | grep -c before_promotion)" = 1
# No clients yet: the first step cannot be judged and is held.
wait_event 15 /ok/all held || tap_fail "a held step is announced"
topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/pause" '{}' >/dev/null
topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/resume" '{}' >/dev/null
start_load 60
canary_faults '{"metrics_down": true}'
wait_event 10 /ok/all target_down || tap_fail "the canary's /metrics going down is announced"
canary_faults '{"metrics_down": false}'
wait_event 10 /ok/all target_up || tap_fail "its coming back is announced"
wait_phase 40 waiting_gate promoted rolled_back >/dev/null
# Phase and gate from one answer: two would race the step into the gate.
IFS=$'\t' read -r phase gate < <(status_fields phase gate)
while [[ "$gate" != *before_promotion* ]] && [ "$phase" = waiting_gate -o "$phase" = progressing ]; do
	sleep 0.3
	IFS=$'\t' read -r phase gate < <(status_fields phase gate)
	[ "$SECONDS" -gt 200 ] && break
done
tap_is "the rollout waits at the manual promotion gate" "$phase" waiting_gate
tap_check "the status names the gate ($gate)" grep -q "'gate': 'before_promotion'" <<<"$gate"
tap_is "the weight stays at the last step while it waits" "$(status_field canary_percent)" 100.0
asked=$(hooks /gate/step503 "len(rs)")
tap_check "the before_step gate was asked again while it answered 503 ($asked times)" test "${asked:-0}" -ge 3
tap_is "each asking carried the service's status" \
	"$(hooks /gate/step503 "sorted(set((b['name'], b['phase']) for b in bs))")" "[('sentiment', 'waiting_gate')]"
topo_node "$CTL" --server "$TOPO_API" watch "$ROLLOUT_SERVICE" --timeout 1s >"$TOPO_TMP/watch.out" 2>&1
tap_check "kanaryctl watch shows the wait and its gate" \
	grep -q "phase=waiting_gate .* gate=before_promotion" "$TOPO_TMP/watch.out"
topo_node "$CTL" --server "$TOPO_API" approve "$ROLLOUT_SERVICE" >"$TOPO_TMP/approve.out" 2>&1
tap_is "kanaryctl approve succeeds" "$?" 0
phase=$(wait_phase 10 promoted rolled_back)
tap_is "the approved rollout is promoted" "$phase" promoted
stop_load
wait_event 10 /ok/all promoted || tap_fail "the promotion is announced"
seen=$(events_at /ok/all)
for ev in rollout_started held paused resumed step_passed gate_waiting gate_approved target_down target_up promoted; do
	tap_check "the receiver got $ev" grep -q "'$ev'" <<<"$seen"
done
tap_is "every event carries the service, phase, weight, step, reason and id" \
	"$(hooks /ok/all "all(set(['id', 'event', 'time', 'service', 'phase', 'canary_percent', 'step', 'steps', 'reason', 'decision']) <= set(b) for b in bs)")" True
tap_is "the ids are unique" "$(hooks /ok/all "len(set(b['id'] for b in bs)) == len(bs)")" True
tap_is "a step's pass carries the figures of its decision" \
	"$(hooks /ok/all "[b['decision']['verdict'] for b in bs if b['event'] == 'step_passed'][0]")" pass
tap_is "a gate event names its gate" \
	"$(hooks /ok/all "sorted(set(b['gate'] for b in bs if b['event'] == 'gate_waiting'))")" "['before_promotion', 'before_step']"
tap_is "the token goes in the Authorization header" \
	"$(hooks /ok/all "set(r['authorization'] for r in rs)")" "{'Bearer s3cret-hook-token'}"
tap_is "the slack receiver got only the event it chose, as one line" \
	"$(hooks /ok/slack "[list(b) for b in bs]")" "[['text']]"
tap_check "its line names the service and the event" \
	grep -q "sentiment promoted" <<<"$(hooks /ok/slack "bs[0]['text']")"
tap_is "the good receiver is healthy, nothing dropped" \
	"$(receiver_field /ok/all "(r['healthy'], sum(r['dropped'].values()))")" "(True, 0)"
for bad in fail reset; do
	tap_check "a receiver that answers with $bad gets retries" \
		test "$(receiver_field /$bad/x "r['retries']")" -gt 0
	tap_is "and is shown unhealthy" "$(receiver_field /$bad/x "r['healthy']")" False
done
tap_check "each attempt at the failing receiver had the same id" \
	test "$(hooks /fail/x "len(bs) > len(set(b['id'] for b in bs))")" = True
topo_api GET /metrics >"$TOPO_TMP/metrics.txt"
tap_check "/metrics counts deliveries per receiver" \
	grep -q "kanary_notifications_total{receiver=\"$HOOK/ok/all\",outcome=\"delivered\"} [1-9]" "$TOPO_TMP/metrics.txt"
tap_check "/metrics counts retries of the failing receiver" \
	grep -q "kanary_notifications_total{receiver=\"$HOOK/fail/x\",outcome=\"retried\"} [1-9]" "$TOPO_TMP/metrics.txt"
tap_check "/metrics with receivers passes promtool" \
	promtool check metrics <"$TOPO_TMP/metrics.txt"
decided=$(topo_api GET "/api/v1/services/$ROLLOUT_SERVICE/decisions" | "$PYTHON" -c "
import json, sys
print(sorted(set(d.get('event') or d.get('phase_after') for d in json.load(sys.stdin)['decisions'])))")
tap_check "the decision log shows the wait and the approval ($decided)" \
	grep -q "'gate approved'.*'waiting_gate'" <<<"$decided"

# ---- a gate that refuses rolls back ---------------------------------------------
start_case "[10, 50, 100]" "1s" || tap_bail "cannot start kanaryd"
start_load 30
topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/approve" '{}' >"$TOPO_TMP/approve.json"
tap_is "approve with no gate waiting is a conflict" "$TOPO_HTTP_STATUS" 409
tap_check "that says why" grep -q "no gate is waiting" "$TOPO_TMP/approve.json"
topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/rollout" '{"gates": {"before_step": "198.18.0.5/x"}}' >"$TOPO_TMP/bad.json"
tap_is "a gate URL without a scheme is refused" "$TOPO_HTTP_STATUS" 400
tap_check "naming the field" grep -q '"field":"gates.before_step"' "$TOPO_TMP/bad.json"
topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/rollout" "$(gate_body \
	'{"before_step": "'$HOOK'/gate/refuse", "interval": "300ms"}')" >/dev/null
phase=$(wait_phase 30 rolled_back promoted)
tap_is "a gate's explicit refusal rolls the rollout back" "$phase" rolled_back
tap_check "the reason quotes the refusal" grep -q "load test failed" <<<"$(status_field reason)"
wait_event 10 /ok/all gate_refused || tap_fail "the refusal is announced"
tap_check "/metrics counts it as a gate's rollback" \
	grep -q '^kanary_rollbacks_total{reason="gate"} 1$' <<<"$(topo_api GET /metrics)"
tap_is "the weight went back to 0" "$(status_field canary_percent)" 0.0
stop_load

# ---- a rollback while a gate waits ------------------------------------------------
start_case "[10, 100]" "1s" || tap_bail "cannot start kanaryd"
start_load 40
topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/rollout" "$(gate_body '{"before_promotion": "manual"}')" >/dev/null
phase=$(wait_phase 30 waiting_gate promoted rolled_back)
tap_is "the rollout waits for its manual gate" "$phase" waiting_gate
canary_faults '{"error_rate": 0.3}'
phase=$(wait_phase 20 rolled_back promoted)
tap_is "a failing canary is rolled back while the gate waits" "$phase" rolled_back
tap_is "by the immediate rule" "$(decisions "d.get('rule')")" immediate
stop_load

# ---- before_start: no traffic moves; a flood of events ------------------------------
start_case "[10, 100]" "1s" || tap_bail "cannot start kanaryd"
topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/rollout" "$(gate_body '{"before_start": "manual"}')" >/dev/null
tap_is "a rollout waits before its start" "$(status_field phase)" waiting_gate
tap_is "with no traffic moved" "$(status_field canary_percent)" 0.0
topo_kanaryd_stop
topo_kanaryd --config "$ROLLOUT_CONFIG" || tap_bail "kanaryd does not restart"
tap_is "a restarted kanaryd still waits at the same gate" \
	"$(status_field gate | "$PYTHON" -c "import ast, sys; print(ast.literal_eval(sys.stdin.read())['gate'])")" before_start
topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/abort" '{}' >/dev/null
tap_is "and can be aborted there" "$(status_field phase)" aborted
FLOOD=50
for ((i = 0; i < FLOOD; i++)); do
	topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/rollout" "$(gate_body '{"before_start": "manual"}')" >/dev/null
	topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/abort" '{}' >/dev/null
done
queued=$(receiver_field /hang/x "r['queued']")
tap_check "the hanging receiver's queue stays bounded ($queued)" test "${queued:-999}" -le 64
tap_check "what did not fit is dropped and counted" \
	test "$(receiver_field /hang/x "r['dropped']['queue_full']")" -gt 0
tap_is "the API still answers at once: the last abort took" "$(status_field phase)" aborted
sleep 2
tap_is "the good receiver lost nothing in the flood" \
	"$(receiver_field /ok/all "sum(r['dropped'].values())")" 0

tap_done
