#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# demo/run.sh - a real canary rollout, in network namespaces on this machine.
#
#   make demo                 a good canary (model v2) is promoted to 100 %
#   make demo SCENARIO=bad    the canary starts failing 20 % of requests at
#                             step 2 and is rolled back at once
#   make demo SCENARIO=drift  the canary's predictions drift to "negative":
#                             its error rate is fine, it is rolled back anyway
#   make demo SCENARIO=llm-slow    streamed completions (an LLM server): the
#                             canary's first token comes 400 ms later, every
#                             answer a 200; no metrics configured, rolled
#                             back on the time to first token the kernel saw
#   make demo SCENARIO=llm-errors  streamed completions: 10 % of the canary's
#                             streams end in an error event after their 200;
#                             rolled back on the errors the kernel saw
#
# A client namespace sends prediction requests from 300 addresses to the
# service VIP 198.18.32.1:80; kanaryd on the node splits them between two
# stable (v1) and two canary (v2) kanary-modelserver backends, judges the
# canary every step and moves the weight 10 -> 25 -> 50 -> 75 -> 100 %.
# Everything is removed at the end, also on Ctrl-C.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCENARIO=${1:-good}
STEP_INTERVAL=${STEP_INTERVAL:-4s}
LOAD_RPS=${LOAD_RPS:-400}
DEMO_TIMEOUT_S=120

case $SCENARIO in
good | bad | drift) ;;
llm-slow | llm-errors)
	# Streamed completions: headers at once, the first token after
	# LLM_TTFT_MS, then one every LLM_TOKEN_MS. No metrics: the kernel
	# alone judges.
	LLM_TTFT_MS=50
	LLM_TOKEN_MS=10
	LLM_TOKENS=8
	LLM_SLOW_TTFT_MS=450
	LOAD_RPS=${LLM_LOAD_RPS:-150}
	;;
*)
	echo "demo: unknown scenario '$SCENARIO': use good, bad, drift," \
		"llm-slow or llm-errors" >&2
	exit 2
	;;
esac
LLM=0
case $SCENARIO in llm-*) LLM=1 ;; esac
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: kanary loads BPF programs and builds network namespaces:" \
		"run it as root (sudo make demo)" >&2
	exit 1
fi
mount | grep -q ' /sys/fs/bpf type bpf' || mount -t bpf bpf /sys/fs/bpf

source "$ROOT/tests/lib/tap.sh"
source "$ROOT/tests/lib/topology.sh"
trap 'topo_destroy; echo; echo "demo: cleaned up"' EXIT
trap 'exit 130' INT TERM

bold() { printf '\033[1m%s\033[0m\n' "$*"; }

bold "== kanary demo: scenario '$SCENARIO' =="
echo "building the topology: 1 client (300 addresses), 1 node, 2 stable + 2 canary model servers"
topo_create 2 2 300 || exit 1
if [ "$LLM" = 1 ]; then
	topo_backends --ttft-ms "$LLM_TTFT_MS" --token-ms "$LLM_TOKEN_MS" --tokens "$LLM_TOKENS" || exit 1
	LOAD_PATH=/v1/completions
	LOAD_BODY='{"model": "m", "prompt": "Tell me about canaries", "stream": true}'
	WARMUP_BODY='{\"prompt\": \"warm up\"}'
	METRICS_LINE=
else
	topo_backends || exit 1
	LOAD_PATH=/predict
	LOAD_BODY='{"text": "the new model answers quickly and well"}'
	WARMUP_BODY='{\"text\": \"warm up\"}'
	METRICS_LINE='"metrics": {"preset": "kanary-modelserver", "interval": "1s", "timeout": "800ms"},'
fi

cat >"$TOPO_TMP/kanary.json" <<EOF
{
  "services": [{
    "name": "sentiment",
    "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
    "stable": ["$(topo_backend_ip stable 1):8000", "$(topo_backend_ip stable 2):8000"],
    "canary": ["$(topo_backend_ip canary 1):8000", "$(topo_backend_ip canary 2):8000"],
    $METRICS_LINE
    "warmup": {"method": "POST", "path": "$LOAD_PATH", "body": "$WARMUP_BODY"},
    "rollout": {"steps": [10, 25, 50, 75, 100], "interval": "$STEP_INTERVAL",
                "min_requests": 50, "warmup_requests": 20}
  }]
}
EOF
echo "starting kanaryd on the node interface (config: $TOPO_TMP/kanary.json)"
topo_kanaryd --config "$TOPO_TMP/kanary.json" || exit 1
echo "kanaryd: $(grep -o 'attached to .*' "$TOPO_TMP/kanaryd.log" | head -1)"

ip netns exec "$(topo_ns client)" "$KANARY_TOOLS/kn-load" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
	--sources "$(topo_sources)" --close --connections 32 --rate "$LOAD_RPS" \
	--duration "$DEMO_TIMEOUT_S" --method POST --path "$LOAD_PATH" \
	--body "$LOAD_BODY" \
	--json >"$TOPO_TMP/load.json" 2>"$TOPO_TMP/load.err" &
LOAD_PID=$!
TOPO_PIDS+=("$LOAD_PID")
echo "client load: $LOAD_RPS requests/s, a new connection each"
sleep 2

canary_faults() {
	topo_exec canary1 curl -fsS -m 3 -X PUT -H 'Content-Type: application/json' \
		-d "$1" "http://$(topo_backend_ip canary 1):8000/admin/faults" >/dev/null
	topo_exec canary2 curl -fsS -m 3 -X PUT -H 'Content-Type: application/json' \
		-d "$1" "http://$(topo_backend_ip canary 2):8000/admin/faults" >/dev/null
}
if [ "$SCENARIO" = drift ]; then
	canary_faults '{"skew": 0.5, "skew_label": "negative"}'
	echo "the canary model's predictions drift: half of them say 'negative'"
fi
if [ "$SCENARIO" = llm-slow ]; then
	canary_faults "{\"ttft_ms\": $LLM_SLOW_TTFT_MS}"
	echo "the canary's first token comes after $LLM_SLOW_TTFT_MS ms instead of $LLM_TTFT_MS ms;" \
		"its headers as fast, every answer a 200; no metrics configured"
fi
if [ "$SCENARIO" = llm-errors ]; then
	canary_faults '{"stream_error_rate": 0.1}'
	echo "10 % of the canary's streams end in an error event, after their 200"
fi

bold "starting the rollout: 10 -> 25 -> 50 -> 75 -> 100 %, $STEP_INTERVAL per step"
topo_api POST /api/v1/services/sentiment/rollout '{}' >/dev/null ||
	{ echo "demo: the agent refused the rollout: $(cat "$TOPO_TMP/api.out")"; exit 1; }

# One line a second: phase, step, weight and both pools as the kernel sees
# them, and the latest verdict.
SHOW='
import json, sys
s = json.load(sys.stdin)
pools = {"stable": [0, 0, []], "canary": [0, 0, []]}
for b in s["backends"]:
    k = b["kernel"]["http"]
    p = pools[b["pool"]]
    p[0] += k["2xx"] + k["3xx"] + k["4xx"] + k["5xx"]
    p[1] += k["5xx"] + k["stream_errors"]
a = s.get("analysis") or {}
print("%-11s step %s/%s  canary %5.1f %%  | responses stable %6d (errors %4d)  canary %6d (errors %4d) | last verdict: %s" % (
    s["phase"], s["step"], s["steps"], s["canary_percent"],
    pools["stable"][0], pools["stable"][1], pools["canary"][0], pools["canary"][1],
    a.get("verdict", "-")))
print("PHASE", s["phase"], s["step"], file=sys.stderr)
'
deadline=$((SECONDS + DEMO_TIMEOUT_S))
phase=progressing
broke=0
while ((SECONDS < deadline)); do
	line=$(topo_api GET /api/v1/services/sentiment | "$PYTHON" -c "$SHOW" 2>"$TOPO_TMP/phase")
	read -r _ phase step <"$TOPO_TMP/phase"
	printf '[%3ds] %s\n' "$((SECONDS))" "$line"
	if [ "$SCENARIO" = bad ] && [ "$broke" = 0 ] && [ "${step:-0}" -ge 2 ]; then
		canary_faults '{"error_rate": 0.2}'
		broke=1
		bold "the canary starts answering 20 % of its requests with HTTP 500"
	fi
	case $phase in promoted | rolled_back | aborted) break ;; esac
	sleep 1
done

echo
bold "decision log:"
topo_api GET /api/v1/services/sentiment/decisions | "$PYTHON" -c '
import json, sys
for d in json.load(sys.stdin)["decisions"]:
    what = d.get("event") or ("%s (%s)" % (d.get("verdict"), d.get("rule", "step analysis")))
    print("  %s  %-28s %s" % (d.get("time", "")[11:23], what, d.get("outcome") or d.get("reason", "")))
'
kill "$LOAD_PID" 2>/dev/null
wait "$LOAD_PID" 2>/dev/null
echo
"$PYTHON" - "$TOPO_TMP/load.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
tags = r.get("tags", {})
print("clients saw: %d responses, %d from stable (v1), %d from canary (v2); %d HTTP 5xx; "
      "%d failed connections or resets" % (
    r.get("responses", 0), tags.get("v1", 0), tags.get("v2", 0),
    r.get("status", {}).get("5xx", 0), r.get("errors", 0)))
EOF
want=promoted
[ "$SCENARIO" != good ] && want=rolled_back
if [ "$phase" = "$want" ]; then
	bold "result: $phase, as expected for scenario '$SCENARIO'"
	exit 0
fi
bold "result: $phase, but scenario '$SCENARIO' expects $want"
exit 1
