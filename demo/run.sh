#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# demo/run.sh - a real canary rollout, in network namespaces on this machine.
#
#   make demo                 a good canary (model v2) is promoted to 100 %
#   make demo SCENARIO=bad    the canary starts failing 20 % of requests at
#                             step 2 and is rolled back at once
#   make demo SCENARIO=drift  the canary's predictions drift to "negative":
#                             its error rate is fine, it is rolled back anyway
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
*)
	echo "demo: unknown scenario '$SCENARIO': use good, bad or drift" >&2
	exit 2
	;;
esac
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
topo_backends || exit 1

cat >"$TOPO_TMP/kanary.json" <<EOF
{
  "services": [{
    "name": "sentiment",
    "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
    "stable": ["$(topo_backend_ip stable 1):8000", "$(topo_backend_ip stable 2):8000"],
    "canary": ["$(topo_backend_ip canary 1):8000", "$(topo_backend_ip canary 2):8000"],
    "metrics": {"preset": "kanary-modelserver", "interval": "1s", "timeout": "800ms"},
    "warmup": {"method": "POST", "path": "/predict", "body": "{\"text\": \"warm up\"}"},
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
	--duration "$DEMO_TIMEOUT_S" --method POST --path /predict \
	--body '{"text": "the new model answers quickly and well"}' \
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
    p[1] += k["5xx"]
a = s.get("analysis") or {}
print("%-11s step %s/%s  canary %5.1f %%  | responses stable %6d (5xx %4d)  canary %6d (5xx %4d) | last verdict: %s" % (
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
