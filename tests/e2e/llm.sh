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
#     is rolled back, the kernel counting the error events as the server
#     does;
# and, with no metrics configured, judged by the kernel alone, in XDP and
# in tc mode:
#   a canary as fast as the stable pool is promoted, kernel.ttft and
#     kernel.itl passing;
#   a canary whose first token comes 400 ms later (its headers as fast) is
#     rolled back by kernel.ttft;
#   a canary 10 % of whose streams end in an error event after their 200 is
#     rolled back on the kernel's error count.
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

topo_create 1 1 "$SOURCES" || tap_bail "cannot build the topology"
ROLLOUT_SERVICE=chat
ROLLOUT_PRESET=vllm
ROLLOUT_BACKEND_ARGS=(--ttft-ms "$TTFT_MS" --token-ms "$TOKEN_MS" --tokens "$TOKENS")
LOAD_PATH=/v1/completions
LOAD_BODY='{"model": "m", "prompt": "Tell me about canaries", "stream": true}'
source "$(dirname "$0")/../lib/rollout.sh"

# ---- as fast as the stable pool: promoted ---------------------------------
run_case "[50, 100]" "${STEP_S}s" 30
tap_is "rollout accepted" "$TOPO_HTTP_STATUS" 200
phase=$(wait_phase "$PHASE_WAIT_S" promoted rolled_back aborted)
tap_is "a canary with the stable pool's token timing is promoted" "$phase" promoted
tap_is "every evaluation judged TTFT and ITL from the servers' pages, and passed them" \
	"$(decisions "all(verdicts(x, 'metrics.ttft') == ['pass'] and verdicts(x, 'metrics.itl') == ['pass'] for x in ds if x['verdict'] == 'pass') and any(x['verdict'] == 'pass' for x in ds)")" True
stop_load
tap_is "the clients' streams were all 200s" \
	"$(load_field "d['responses'] > 0 and d['status']['2xx'] == d['responses'] and d['errors'] == 0")" True

# ---- the first token 400 ms later: rolled back by metrics.ttft -------------
run_case "[50, 100]" "${STEP_S}s" 30 "{\"ttft_ms\": $SLOW_TTFT_MS}"
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
run_case "[50, 100]" "30s" 30
wait_phase 10 progressing >/dev/null || tap_fail "the rollout is under way"
canary_faults '{"stream_error_rate": 0.5}'
phase=$(wait_phase 20 rolled_back promoted)
tap_is "a canary whose streams fail after their 200 is rolled back" "$phase" rolled_back
tap_is "by the immediate rule" "$(decisions "d.get('rule')")" immediate
# The kernel's count can trip the rule before the next scrape brings the
# server's: the server's own count is read from its page.
tap_is "the kernel saw the error events" "$(decisions "d['kernel']['errors'] > 0")" True
server_errors=$(topo_exec canary1 curl -fsS -m 3 "http://$CANARY_IP:$TOPO_BACKEND_PORT/metrics" |
	sed -n 's/^vllm:request_success_total{finished_reason="error",[^}]*} //p')
tap_check "as the server's own count did ($server_errors)" test "${server_errors:-0}" -gt 0
stop_load
tap_is "every stream the clients got was a 200" \
	"$(load_field "d['responses'] > 0 and d['status']['2xx'] == d['responses'] and d['errors'] == 0")" True

# ---- the kernel alone (no metrics), in each mode ---------------------------
ROLLOUT_METRICS=
STREAM_ERROR_RATE=0.1
for mode in xdp tc; do
	ROLLOUT_KANARYD_ARGS=(--mode "$mode")

	run_case "[50, 100]" "${STEP_S}s" 30
	phase=$(wait_phase "$PHASE_WAIT_S" promoted rolled_back aborted)
	tap_is "$mode, kernel only: a canary with the stable pool's token timing is promoted" "$phase" promoted
	tap_is "$mode: every passing evaluation judged kernel.ttft and kernel.itl, and passed them" \
		"$(decisions "all(verdicts(x, 'kernel.ttft') == ['pass'] and verdicts(x, 'kernel.itl') == ['pass'] for x in ds if x['verdict'] == 'pass') and any(x['verdict'] == 'pass' for x in ds)")" True
	tap_is "$mode: the kernel counted the streams on both backends" \
		"$(topo_api GET "/api/v1/services/$ROLLOUT_SERVICE" | "$PYTHON" -c "import json, sys; s = json.load(sys.stdin); print(all(b['kernel']['http']['streams'] > 0 and b['kernel']['timing']['event_gap']['count'] > 0 for b in s['backends']))")" True
	stop_load

	run_case "[50, 100]" "${STEP_S}s" 30 "{\"ttft_ms\": $SLOW_TTFT_MS}"
	phase=$(wait_phase "$PHASE_WAIT_S" rolled_back promoted)
	tap_is "$mode, kernel only: a canary whose first token comes 400 ms later is rolled back" "$phase" rolled_back
	tap_is "$mode: by kernel.ttft, kernel.latency and the error rate passing" \
		"$(decisions "(verdicts(d, 'kernel.ttft'), verdicts(d, 'kernel.latency'), verdicts(d, 'kernel.error_rate'))")" \
		"(['fail'], ['pass'], ['pass'])"
	stop_load

	run_case "[50, 100]" "30s" 30 "{\"stream_error_rate\": $STREAM_ERROR_RATE}"
	phase=$(wait_phase "$PHASE_WAIT_S" rolled_back promoted)
	tap_is "$mode, kernel only: a canary 10 % of whose streams fail after their 200 is rolled back" "$phase" rolled_back
	tap_is "$mode: on the error events the kernel counted" \
		"$(decisions "d.get('kernel', {}).get('errors', 0) > 0 or verdicts(d, 'kernel.error_rate') == ['fail']")" True
	stop_load
	tap_is "$mode: every stream the clients got was a 200" \
		"$(load_field "d['responses'] > 0 and d['status']['2xx'] == d['responses'] and d['errors'] == 0")" True
done

tap_done
