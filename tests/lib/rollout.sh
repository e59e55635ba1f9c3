# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/lib/rollout.sh - one rollout case after another on a topology of one
# stable and one canary model server (tests/e2e/rollout.sh, llm.sh): fresh
# backends and kanaryd for each case, client load from many addresses, and
# the service's status and decisions read back while kanaryd judges.
#
# The test sets, before calling these:
#   ROLLOUT_SERVICE       the service's name
#   ROLLOUT_PRESET        its metrics preset
#   ROLLOUT_EXTRA         more service fields, one JSON line ending with a
#                         comma (none when unset)
#   ROLLOUT_TOP           more top-level fields, the same way
#   ROLLOUT_BACKEND_ARGS  an array: kanary-modelserver flags for both pools
#                         (none when unset)
#   ROLLOUT_METRICS       the service's "metrics" field, one JSON line ending
#                         with a comma (the preset's when unset; empty: no
#                         metrics, the kernel alone judges)
#   ROLLOUT_KANARYD_ARGS  an array: more kanaryd flags, e.g. --mode tc
#   LOAD_CONNECTIONS, LOAD_RPS, LOAD_PATH, LOAD_BODY   the clients' requests
# Needs tests/lib/tap.sh and tests/lib/topology.sh, and topo_create run.

ROLLOUT_CONFIG=$TOPO_TMP/kanary.json
ROLLOUT_EXTRA=${ROLLOUT_EXTRA:-}
ROLLOUT_TOP=${ROLLOUT_TOP:-}
[ -n "${ROLLOUT_BACKEND_ARGS+set}" ] || ROLLOUT_BACKEND_ARGS=()
[ -n "${ROLLOUT_KANARYD_ARGS+set}" ] || ROLLOUT_KANARYD_ARGS=()
CANARY_IP=$(topo_backend_ip canary 1)
LOAD=$KANARY_TOOLS/kn-load
[ -x "$LOAD" ] || tap_bail "kn-load is not built (make test-build)"
LOAD_PID=

rollout_write_config() { # STEPS INTERVAL
	local metrics="\"metrics\": {\"preset\": \"$ROLLOUT_PRESET\", \"interval\": \"500ms\", \"timeout\": \"400ms\"},"

	[ -n "${ROLLOUT_METRICS+set}" ] && metrics=$ROLLOUT_METRICS
	cat >"$ROLLOUT_CONFIG" <<-EOF
	{
	  "tick": "50ms",
	  $ROLLOUT_TOP
	  "services": [{
	    "name": "$ROLLOUT_SERVICE",
	    "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
	    "stable": ["$(topo_backend_ip stable 1):$TOPO_BACKEND_PORT"],
	    "canary": ["$CANARY_IP:$TOPO_BACKEND_PORT"],
	    $metrics
	    $ROLLOUT_EXTRA
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
	topo_backend stable 1 --model v1 "${ROLLOUT_BACKEND_ARGS[@]}" || return 1
	topo_backend canary 1 --model v2 "${ROLLOUT_BACKEND_ARGS[@]}" || return 1
	rollout_write_config "$1" "$2"
	topo_kanaryd --config "$ROLLOUT_CONFIG" "${ROLLOUT_KANARYD_ARGS[@]}" || return 1
	[ -n "${3:-}" ] && canary_faults "$3"
	return 0
}

# run_case STEPS INTERVAL LOAD_S [FAULTS [ROLLOUT_BODY]]: a fresh case
# (start_case), LOAD_S seconds of client load, and the rollout started with
# ROLLOUT_BODY ({} by default); TOPO_HTTP_STATUS is the start's status.
run_case() {
	local body=${5:-'{}'}
	start_case "$1" "$2" "${4:-}" || tap_bail "cannot start the case's backends and kanaryd"
	start_load "$3"
	topo_api POST "/api/v1/services/$ROLLOUT_SERVICE/rollout" "$body" >/dev/null
}

canary_faults() { # JSON: the canary's injected faults
	topo_exec canary1 curl -fsS -m 3 -X PUT -H 'Content-Type: application/json' \
		-d "$1" "http://$CANARY_IP:$TOPO_BACKEND_PORT/admin/faults" >/dev/null
}

start_load() { # SECONDS
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" --sources "$(topo_sources)" \
		--close --connections "$LOAD_CONNECTIONS" --rate "$LOAD_RPS" --duration "$1" \
		--method POST --path "$LOAD_PATH" --body "$LOAD_BODY" \
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

# status_fields FIELD...: one GET /api/v1/services/$ROLLOUT_SERVICE's
# fields, tab separated (fields read together come from one answer).
status_fields() {
	topo_api GET "/api/v1/services/$ROLLOUT_SERVICE" | "$PYTHON" -c \
		"import json,sys; s=json.load(sys.stdin); print(*(s.get(f) for f in sys.argv[1:]), sep='\t')" "$@" 2>/dev/null
}

status_field() { status_fields "$1"; }

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

# decisions EXPRESSION: a Python expression over the evaluated decisions ds,
# the last of them d, and verdicts(d, SIGNAL) (that signal's check verdicts).
decisions() {
	topo_api GET "/api/v1/services/$ROLLOUT_SERVICE/decisions" | "$PYTHON" -c "
import json, sys
ds = [d for d in json.load(sys.stdin)['decisions'] if 'verdict' in d]
d = ds[-1] if ds else {}
def verdicts(d, signal):
    return [c['verdict'] for c in d.get('checks', []) if c['signal'] == signal]
print($1)" 2>/dev/null
}
