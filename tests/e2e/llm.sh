#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/llm.sh - rollouts of an LLM server, judged by kanaryd with the
# vllm preset, with kanary-modelserver backends streaming completions
# (headers first, then one event per token) under client load:
#   a canary as fast as the stable pool is promoted, its TTFT and ITL
#     checks passing;
#   a canary whose first token comes 400 ms later is rolled back by
#     metrics.ttft, though every answer it sent was a 200;
#   a canary whose streams fail after their 200 (an error event mid-stream)
#     is rolled back on the server's own error count.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT

SOURCES=200
LOAD_RPS=80
LOAD_CONNECTIONS=48
STEP_S=3
PHASE_WAIT_S=40
# Both pools: a token every 10 ms, 4 per answer, the first after 50 ms
TTFT_MS=50
TOKEN_MS=10
TOKENS=4
SLOW_TTFT_MS=450
BODY='{"model": "m", "prompt": "Tell me about canaries", "stream": true}'

topo_create 1 1 "$SOURCES" || tap_bail "cannot build the topology"
LOAD=$KANARY_TOOLS/kn-load
[ -x "$LOAD" ] || tap_bail "kn-load is not built (make test-build)"
CANARY_IP=$(topo_backend_ip canary 1)

write_config() { # STEPS INTERVAL
	cat >"$TOPO_TMP/kanary.json" <<-EOF
	{
	  "tick": "50ms",
	  "services": [{
	    "name": "chat",
	    "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
	    "stable": ["$(topo_backend_ip stable 1):$TOPO_BACKEND_PORT"],
	    "canary": ["$CANARY_IP:$TOPO_BACKEND_PORT"],
	    "metrics": {"preset": "vllm", "interval": "500ms",
	                "timeout": "400ms"},
	    "rollout": {"steps": $1, "interval": "$2", "min_requests": 30,
	                "max_failures": 2}
	  }]
	}
	EOF
}

# Fresh backends and kanaryd for each case.
start_case() { # STEPS INTERVAL [canary faults JSON]
	local pid
	topo_kanaryd_stop
	for pid in ${TOPO_PID_stable1:-} ${TOPO_PID_canary1:-}; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -f "$TOPO_STATE_FILE"
	topo_backend stable 1 --model v1 --ttft-ms "$TTFT_MS" \
		--token-ms "$TOKEN_MS" --tokens "$TOKENS" || return 1
	topo_backend canary 1 --model v2 --ttft-ms "$TTFT_MS" \
		--token-ms "$TOKEN_MS" --tokens "$TOKENS" || return 1
	write_config "$1" "$2"
	topo_kanaryd --config "$TOPO_TMP/kanary.json" || return 1
	[ -n "${3:-}" ] && canary_faults "$3"
	return 0
}

canary_faults() {
	topo_exec canary1 curl -fsS -m 3 -X PUT -H 'Content-Type: application/json' \
		-d "$1" "http://$CANARY_IP:$TOPO_BACKEND_PORT/admin/faults" >/dev/null
}

start_load() { # SECONDS
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" --sources "$(topo_sources)" \
		--close --connections "$LOAD_CONNECTIONS" --rate "$LOAD_RPS" --duration "$1" \
		--method POST --path /v1/completions --body "$BODY" \
		--json >"$TOPO_TMP/load.json" 2>"$TOPO_TMP/load.err" &
	LOAD_PID=$!
}

stop_load() {
	kill "$LOAD_PID" 2>/dev/null
	wait "$LOAD_PID" 2>/dev/null
}

load_field() { # EXPRESSION over the load summary d
	"$PYTHON" -c "import json; d = json.load(open('$TOPO_TMP/load.json')); print($1)" 2>/dev/null
}

status_field() { # FIELD: from GET /api/v1/services/chat
	topo_api GET /api/v1/services/chat | "$PYTHON" -c \
		"import json,sys; print(json.load(sys.stdin).get('$1'))" 2>/dev/null
}

# Waits until the phase is one of PHASES (space separated); prints it.
wait_phase() { # SECONDS PHASES...
	local deadline=$((SECONDS + $1)) phase
	shift
	while ((SECONDS < deadline)); do
		phase=$(status_field phase)
		for p in "$@"; do
			[ "$phase" = "$p" ] && { echo "$phase"; return 0; }
		done
		sleep 0.2
	done
	echo "$phase"
	return 1
}

decisions() { # python expression over the evaluated decisions ds
	topo_api GET /api/v1/services/chat/decisions | "$PYTHON" -c "
import json, sys
ds = [d for d in json.load(sys.stdin)['decisions'] if 'verdict' in d]
d = ds[-1] if ds else {}
def verdicts(d, signal):
    return [c['verdict'] for c in d.get('checks', []) if c['signal'] == signal]
print($1)" 2>/dev/null
}

# ---- as fast as the stable pool: promoted ---------------------------------
start_case "[50, 100]" "${STEP_S}s" || tap_bail "cannot start kanaryd"
start_load 30
topo_api POST /api/v1/services/chat/rollout '{}' >/dev/null
tap_is "rollout accepted" "$TOPO_HTTP_STATUS" 200
phase=$(wait_phase "$PHASE_WAIT_S" promoted rolled_back aborted)
tap_is "a canary with the stable pool's token timing is promoted" "$phase" promoted
tap_is "every evaluation judged TTFT and ITL from the servers' pages, and passed them" \
	"$(decisions "all(verdicts(x, 'metrics.ttft') == ['pass'] and verdicts(x, 'metrics.itl') == ['pass'] for x in ds if x['verdict'] == 'pass') and any(x['verdict'] == 'pass' for x in ds)")" True
stop_load
tap_is "the clients' streams were all 200s" \
	"$(load_field "d['responses'] > 0 and d['status']['2xx'] == d['responses'] and d['errors'] == 0")" True

# ---- the first token 400 ms later: rolled back by metrics.ttft -------------
start_case "[50, 100]" "${STEP_S}s" "{\"ttft_ms\": $SLOW_TTFT_MS}" || tap_bail "cannot restart kanaryd"
start_load 30
topo_api POST /api/v1/services/chat/rollout '{}' >/dev/null
phase=$(wait_phase "$PHASE_WAIT_S" rolled_back promoted)
tap_is "a canary whose first token comes 400 ms later is rolled back" "$phase" rolled_back
tap_is "because metrics.ttft failed" "$(decisions "verdicts(d, 'metrics.ttft')")" "['fail']"
increase=$(decisions "[c['statistics']['p99_increase_ms'] for c in d['checks'] if c['signal'] == 'metrics.ttft'][0]")
tap_check "by the canary's TTFT p99 over the stable pool's (+${increase} ms > 200 ms)" \
	"$PYTHON" -c "import sys; sys.exit(not float(sys.argv[1]) > 200)" "${increase:-0}"
tap_is "while its error rates were fine" \
	"$(decisions "verdicts(d, 'metrics.error_rate') + verdicts(d, 'kernel.error_rate')")" "['pass', 'pass']"
stop_load

# ---- errors inside the 200: rolled back on the server's own count ----------
start_case "[50, 100]" "30s" || tap_bail "cannot restart kanaryd"
start_load 30
topo_api POST /api/v1/services/chat/rollout '{}' >/dev/null
wait_phase 10 progressing >/dev/null || tap_fail "the rollout is under way"
canary_faults '{"stream_error_rate": 0.5}'
phase=$(wait_phase 20 rolled_back promoted)
tap_is "a canary whose streams fail after their 200 is rolled back" "$phase" rolled_back
tap_is "by the immediate rule" "$(decisions "d.get('rule')")" immediate
tap_is "on the server's error count: the kernel saw no error, the metrics did" \
	"$(decisions "(d['kernel']['errors'] == 0, d['metrics']['errors'] > 0)")" "(True, True)"
stop_load
tap_is "every stream the clients got was a 200" \
	"$(load_field "d['responses'] > 0 and d['status']['2xx'] == d['responses'] and d['errors'] == 0")" True

tap_done
