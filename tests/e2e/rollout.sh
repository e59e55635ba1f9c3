#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/rollout.sh - whole rollouts, judged by kanaryd on its own, with
# kanary-modelserver backends (stable = model v1, canary = v2) under client
# load from many addresses (a new connection per request, so weights apply):
#   a good canary is promoted and becomes the stable pool;
#   a canary that starts answering 20 % errors is rolled back by the
#     immediate rule, on the last second's data;
#   a canary 100 ms slower is rolled back by the latency analysis;
#   a canary whose predictions shifted is rolled back;
#   a canary whose /metrics is down is held, never promoted;
#   kanaryd killed mid-rollout resumes at the same step with its log;
#   kanaryd killed at the last step (100 %, no traffic to the stable pool)
#     judges it against the stable pool's baseline it kept on disk.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT

SOURCES=300
LOAD_RPS=300
STEP_S=3
PHASE_WAIT_S=60

topo_create 1 1 "$SOURCES" || tap_bail "cannot build the topology"
ROLLOUT_SERVICE=sentiment
ROLLOUT_PRESET=kanary-modelserver
ROLLOUT_EXTRA='"warmup": {"method": "POST", "path": "/predict", "body": "{\"text\": \"warming up\"}"},'
LOAD_CONNECTIONS=32
LOAD_PATH=/predict
LOAD_BODY='{"text": "great product, works well"}'
source "$(dirname "$0")/../lib/rollout.sh"

wait_step() { # SECONDS STEP
	local deadline=$((SECONDS + $1))
	while ((SECONDS < deadline)); do
		[ "$(status_field step)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- a good canary is promoted --------------------------------------------
run_case "[10, 50, 100]" "${STEP_S}s" 60 "" '{"warmup_requests": 20}'
tap_is "rollout accepted" "$TOPO_HTTP_STATUS" 200
phase=$(wait_phase "$PHASE_WAIT_S" promoted rolled_back aborted)
tap_is "a good canary is promoted" "$phase" promoted
topo_api GET /api/v1/services/sentiment >"$TOPO_TMP/status.json"
tap_is "the canary pool became the stable pool" \
	"$("$PYTHON" -c "import json; s=json.load(open('$TOPO_TMP/status.json')); print(sorted((b['address'], b['pool']) for b in s['backends']))")" \
	"[('$CANARY_IP:$TOPO_BACKEND_PORT', 'stable')]"
tap_is "the weight is 0 with no canary left" "$(status_field canary_percent)" 0.0
passes=$(topo_api GET /api/v1/services/sentiment/decisions | "$PYTHON" -c "
import json, sys
print(sum(1 for d in json.load(sys.stdin)['decisions'] if d.get('verdict') == 'pass'))")
tap_is "every step passed an evaluation" "$passes" 3
tap_check "the warm-up ran before the first step" \
	grep -q "warming up each canary backend with 20 requests" "$TOPO_TMP/kanaryd.log"
sleep 1
stop_load
tap_is "no client request failed during the promotion" \
	"$(load_field "d['errors']")" 0

# ---- 20 % errors: rolled back by the immediate rule -----------------------
run_case "[10, 50, 100]" "30s" 40
wait_step 10 1 || tap_fail "the rollout reaches step 1"
sleep 2
canary_faults '{"error_rate": 0.2}'
phase=$(wait_phase 20 rolled_back promoted)
tap_is "a canary with 20 % errors is rolled back" "$phase" rolled_back
tap_is "by the immediate rule, not the step's analysis" "$(decisions "d.get('rule')")" immediate
span=$(decisions "d['kernel']['span_ms'] if d['kernel']['requests'] >= 20 else d['metrics']['span_ms']")
tap_check "on at most the last second of data (span ${span} ms)" test "${span:-99999}" -le 1000
tap_is "the weight went to 0 at once" "$(status_field canary_percent)" 0.0
stop_load

# ---- 100 ms slower: rolled back by the latency analysis -------------------
run_case "[10, 50, 100]" "${STEP_S}s" 40 '{"latency_ms": 100}'
phase=$(wait_phase 30 rolled_back promoted)
tap_is "a canary 100 ms slower is rolled back" "$phase" rolled_back
tap_is "because its latency failed" \
	"$(decisions "'fail' in [c['verdict'] for c in d.get('checks', []) if 'latency' in c['signal']]")" True
stop_load

# ---- shifted predictions ----------------------------------------------------
run_case "[10, 50, 100]" "${STEP_S}s" 40 '{"skew": 0.6, "skew_label": "negative"}'
phase=$(wait_phase 30 rolled_back promoted)
tap_is "a canary with shifted predictions is rolled back" "$phase" rolled_back
tap_is "because its predictions failed" \
	"$(decisions "[c['verdict'] for c in d.get('checks', []) if c['signal'] == 'metrics.predictions']")" "['fail']"
tap_is "while its error rate was fine" \
	"$(decisions "[c['verdict'] for c in d.get('checks', []) if c['signal'] == 'kernel.error_rate']")" "['pass']"
stop_load

# ---- /metrics down: held ------------------------------------------------------
run_case "[10, 50, 100]" "1s" 20 '{"metrics_down": true}'
sleep $((STEP_S * 3))
tap_is "a canary whose /metrics is down is held at step 1" "$(status_field step)" 1
tap_is "and not promoted" "$(status_field phase)" progressing
reason=$(decisions "d['reason']")
tap_check "the decision names the canary's metrics target ($reason)" \
	grep -q "$CANARY_IP:$TOPO_BACKEND_PORT/metrics" <<<"$reason"
canary_faults '{"metrics_down": false}'
phase=$(wait_phase 30 promoted rolled_back)
tap_is "once /metrics is back, the rollout goes on to promotion" "$phase" promoted
stop_load

# ---- restart mid-rollout ------------------------------------------------------
run_case "[10, 40, 70, 100]" "8s" 60
wait_step 20 2 || tap_fail "the rollout reaches step 2"
decisions_before=$(topo_api GET /api/v1/services/sentiment/decisions |
	"$PYTHON" -c "import json, sys; print(len(json.load(sys.stdin)['decisions']))")
kill -KILL "$TOPO_KANARYD_PID"
wait "$TOPO_KANARYD_PID" 2>/dev/null
TOPO_KANARYD_PID=
topo_kanaryd --config "$TOPO_TMP/kanary.json" || tap_fail "kanaryd restarts"
tap_check "the restarted kanaryd says it resumes" \
	grep -q "resuming the rollout at step 2 of 4" "$TOPO_TMP/kanaryd.log"
snapshot=$(topo_api GET /api/v1/services/sentiment | "$PYTHON" -c \
	"import json, sys; s = json.load(sys.stdin); print(s['phase'], s['step'], s['canary_percent'])")
tap_is "it resumes at the same step, with that step's weight" "$snapshot" "progressing 2 40.0"
decisions_after=$(topo_api GET /api/v1/services/sentiment/decisions |
	"$PYTHON" -c "import json, sys; print(len(json.load(sys.stdin)['decisions']))")
tap_check "and its decision log ($decisions_before records before, $decisions_after after)" \
	test "$decisions_after" -ge "$decisions_before"
phase=$(wait_phase "$PHASE_WAIT_S" promoted rolled_back)
tap_is "and finishes the rollout" "$phase" promoted
stop_load

# ---- restart at the last step -------------------------------------------------
# At 100 % the stable pool gets no new connection: the last step is judged
# against the stable pool's window of the step before, which must come back
# with a restarted kanaryd, or the rollout would wait forever.
run_case "[50, 100]" "6s" 60
wait_step 30 2 || tap_fail "the rollout reaches its last step"
kill_kanaryd() {
	kill -KILL "$TOPO_KANARYD_PID"
	wait "$TOPO_KANARYD_PID" 2>/dev/null
	TOPO_KANARYD_PID=
}
kill_kanaryd
# First with the baseline spoilt in the state file: said, left out, no harm.
cp "$TOPO_STATE_FILE" "$TOPO_TMP/state.good"
"$PYTHON" -c "
import json, sys
d = json.load(open(sys.argv[1]))
for s in d['services']:
    s['stable_baseline']['kernel']['latency'] = 'spoilt'
json.dump(d, open(sys.argv[1], 'w'))" "$TOPO_STATE_FILE"
topo_kanaryd --config "$TOPO_TMP/kanary.json" || tap_fail "kanaryd starts on a spoilt baseline"
tap_check "a state file's unreadable baseline is named and left out" \
	grep -q "service sentiment: the stable pool's baseline is unreadable: left out" "$TOPO_TMP/kanaryd.log"
tap_is "the rollout still resumes at its last step" "$(status_field step)" 2
kill_kanaryd
cp "$TOPO_TMP/state.good" "$TOPO_STATE_FILE"
topo_kanaryd --config "$TOPO_TMP/kanary.json" || tap_fail "kanaryd restarts at the last step"
tap_check "the restarted kanaryd brings back the stable pool's baseline of step 1" \
	grep -q "the stable pool's baseline from step 1 comes back" "$TOPO_TMP/kanaryd.log"
phase=$(wait_phase "$PHASE_WAIT_S" promoted rolled_back)
tap_is "and judges the last step against it: promoted" "$phase" promoted
tap_is "saying so in the decision" "$(decisions "d.get('stable_baseline', {}).get('step')")" 1
stop_load

tap_done
