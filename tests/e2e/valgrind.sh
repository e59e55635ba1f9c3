#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/valgrind.sh - kanaryd under valgrind's memcheck through a whole
# rollout: start, scrapes, warm-up, analysis, promotion, API calls of every
# kind, bad requests, SIGTERM. No invalid access, no uninitialised value
# used, no leak.
set -u
source "$(dirname "$0")/../lib/tap.sh"
export TOPO_READY_TIMEOUT_S=60
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT

command -v valgrind >/dev/null || tap_bail "valgrind is not installed (make deps)"
if [ "${SANITIZE:-}" = 1 ]; then
	# Not hiding anything: CI runs this test in the plain build too.
	echo "ok 1 # SKIP valgrind cannot run an AddressSanitizer build; the" \
		"plain build (make test) runs this test"
	echo "1..1"
	exit 0
fi
topo_create 1 1 100 || tap_bail "cannot build the topology"
topo_backends || tap_bail "cannot start the model servers"
VGLOG=$TOPO_TMP/valgrind.log

cat >"$TOPO_TMP/kanary.json" <<JSON
{"services": [{
  "name": "sentiment", "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
  "stable": ["$(topo_backend_ip stable 1):8000"], "canary": ["$(topo_backend_ip canary 1):8000"],
  "metrics": {"preset": "kanary-modelserver", "interval": "1s", "timeout": "900ms"},
  "warmup": {"method": "POST", "path": "/predict", "body": "{\"text\": \"warm\"}"},
  "rollout": {"steps": [20, 60, 100], "interval": "4s", "min_requests": 20, "warmup_requests": 5}
}]}
JSON
KANARYD_WRAPPER="valgrind --error-exitcode=99 --leak-check=full \
--suppressions=$KANARY_ROOT/tests/valgrind.supp \
--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
--track-origins=yes --log-file=$VGLOG" \
	topo_kanaryd --config "$TOPO_TMP/kanary.json" || tap_bail "kanaryd does not start under valgrind"
ip netns exec "$(topo_ns client)" "$KANARY_TOOLS/kn-load" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
	--sources "$(topo_sources)" --close --connections 8 --rate 150 --duration 60 \
	--method POST --path /predict --body '{"text": "fine"}' --json >"$TOPO_TMP/load.json" 2>&1 &
load_pid=$!
topo_api POST /api/v1/services/sentiment/rollout '{}' >/dev/null
tap_is "a rollout starts" "$TOPO_HTTP_STATUS" 200
deadline=$((SECONDS + 90))
phase=""
while ((SECONDS < deadline)); do
	phase=$(topo_api GET /api/v1/services/sentiment | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['phase'])" 2>/dev/null)
	[ "$phase" = promoted ] || [ "$phase" = rolled_back ] && break
	sleep 1
done
tap_is "the rollout ends in promotion, under valgrind" "$phase" promoted
# Every other kind of request, good and bad.
for req in "GET /api/v1/services" "GET /api/v1/services/sentiment/decisions" \
	"GET /api/v1/services/sentiment/history" "GET /metrics" "GET /" "GET /nope"; do
	topo_api ${req} >/dev/null
done
topo_api PUT /api/v1/services/sentiment/weight '{"canary_percent": 5}' >/dev/null
topo_api PUT /api/v1/services/sentiment/weight '{"canary_percent": "x"}' >/dev/null
topo_api POST /api/v1/services/sentiment/rollout '{"steps": [50, 10]}' >/dev/null
topo_api POST /api/v1/services/sentiment/rollout '{not json' >/dev/null
topo_api PUT /api/v1/services/sentiment/backends \
	"{\"canary\": [\"$(topo_backend_ip canary 1):8000\"], \"stable\": [\"$(topo_backend_ip stable 1):8000\"]}" >/dev/null
kill -TERM "$load_pid" 2>/dev/null
wait "$load_pid" 2>/dev/null
kill -TERM "$TOPO_KANARYD_PID"
wait "$TOPO_KANARYD_PID"
status=$?
TOPO_KANARYD_PID=
tap_is "kanaryd exits cleanly under valgrind (status $status)" "$status" 0
summary=$(grep -h "ERROR SUMMARY" "$VGLOG" | sed 's/==[0-9]*== //')
echo "# valgrind: $summary"
grep -h "definitely lost\|indirectly lost\|All heap blocks" "$VGLOG" | sed 's/==[0-9]*== /# valgrind: /'
if ! grep -q "ERROR SUMMARY: 0 errors" "$VGLOG"; then
	grep -v "WARNING: unhandled eBPF command" "$VGLOG" | sed 's/^/# /' | head -80
fi
tap_check "valgrind reports no error" grep -q "ERROR SUMMARY: 0 errors" "$VGLOG"
tap_check "and no memory lost" bash -c "! grep -q 'definitely lost: [1-9]\|indirectly lost: [1-9]' '$VGLOG'"
tap_check "the data path was removed at exit" test ! -e "$TOPO_PIN_DIR/kn_flows"
tap_done
