#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/soak/soak.sh - `make soak`: a month of rollouts in an hour, and
# whether anything grows. Not part of `make test`: it runs for SOAK (one
# hour by default; SOAK=10m for a short run) and writes its figures, not
# TAP.
#
# On the test topology (tests/lib/topology.sh), three HTTP services, each
# with three kanary-modelserver backends (A, B and a spare):
#   - client load the whole time, per service: new connections from many
#     client addresses, and keep-alive connections (kn-load, light: this
#     measures growth, not speed);
#   - per service, rollouts back to back, by scenario in turn: promoted;
#     rolled back by injected errors, by latency, by drifted predictions;
#     paused and resumed, then promoted; aborted; between rollouts the
#     weight is flipped by hand and the spare backend added and removed;
#     after a promotion the old stable backend becomes the next canary;
#   - kanaryd killed with SIGKILL every KILL_EVERY and started again, and
#     once (half way) replaced by the upgrade build (another flow-table
#     layout: maps migrated, programs replaced in place); the last
#     QUIET_TAIL of the run has no kill, one long life to fit;
#   - tests/soak/sample.py samples every SAMPLE_S into samples.csv;
#   - tests/soak/verdict.py fits, plots and writes SOAK.md.
# Output: $SOAK_OUT (tests/soak/out/<utc time>/ by default): samples.csv,
# events.csv (what the drivers did, with times), rollouts.csv (each
# rollout's scenario, expected and actual phase), loads/*.log (kn-load's
# per-second lines), kanaryd.log; failures.csv and verdict.txt, and with
# SOAK_REPORT=1 the committed SOAK.md, tests/soak/plots/ and
# tests/soak/results/ (the run's CSVs).
set -u
SOAK_DIR=$(cd "$(dirname "$0")" && pwd)
export KANARY_ROOT=${KANARY_ROOT:-$(cd "$SOAK_DIR/../.." && pwd)}
source "$KANARY_ROOT/tests/lib/tap.sh"
source "$KANARY_ROOT/tests/lib/topology.sh"

# ---- the run's shape ---------------------------------------------------------
duration_s() { # "90s", "10m", "1h" or seconds
	case $1 in
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
SOAK=${SOAK:-1h}
SOAK_S=$(duration_s "$SOAK")
[[ "$SOAK_S" =~ ^[0-9]+$ ]] && [ "$SOAK_S" -ge 60 ] ||
	{ echo "soak: SOAK=$SOAK: give a duration of at least 60s (90s, 10m, 1h)" >&2; exit 2; }
SAMPLE_S=${SAMPLE_S:-5}
# A SIGKILL every KILL_EVERY seconds (every few minutes in an hour, more
# often in a short run so that it has some), none in the last QUIET_TAIL.
# The quiet tail is long enough (7/12 of an hour) for the decision logs to
# fill to their cap in one kanaryd and stay there: kanaryd's own figures
# are judged on that stretch (tests/soak/verdict.py).
KILL_EVERY=$(duration_s "${KILL_EVERY:-$((SOAK_S >= 1800 ? 180 : 60))}")
QUIET_TAIL=$(duration_s "${QUIET_TAIL:-$((SOAK_S >= 1800 ? SOAK_S * 7 / 12 : SOAK_S / 3))}")
# Weights set by hand between rollouts (each one a decision-log record).
HAND_WEIGHTS="30 0 60 0 10 0 90 0 45 0 5 0"
SERVICES=3             # with rollouts; and soakhold, below
BACKENDS_PER_SERVICE=3 # A, B, and a spare
SOURCES=240            # client addresses, 80 per service with rollouts
HOLD_SOURCES=24        # and soakhold's, after them
NEW_RPS=25             # per service, a new connection per request
# Keep-alive connections go to a service of their own, soakhold (one
# backend, no canary, no rollout): they live through every kill and the
# upgrade. On a service with rollouts they would stay on the stable pool
# (connections keep their pool) and make it look faster than the canary,
# which sees only new connections.
HOLD_CONNECTIONS=24
HOLD_INTERVAL_MS=500   # a request every 0.5 s on each
LOAD_CHUNK_S=600       # each kn-load runs at most this long, then another
LOAD_TIMEOUT_MS=3000
API_TRIES=100          # x 0.1 s: an API call waits out a restart
PHASE_WAIT_S=120       # a rollout that has not ended by then is a finding
STEP_INTERVAL=5s
SOAK_OUT=${SOAK_OUT:-$KANARY_ROOT/tests/soak/out/$(date -u +%Y%m%dT%H%M%SZ)}
UPGRADED_KANARYD=${UPGRADED_KANARYD:-$(dirname "$KANARY_TOOLS")/upgrade/bin/kanaryd}

for tool in "$KANARY_BIN/kanaryd" "$KANARY_BIN/kanary-modelserver" "$KANARY_TOOLS/kn-load" \
	"$KANARY_TOOLS/kn-mapstat" "$UPGRADED_KANARYD"; do
	[ -x "$tool" ] || { echo "soak: $tool is not built: run 'make soak'" >&2; exit 2; }
done
command -v bpftool >/dev/null || { echo "soak: bpftool is missing: run 'make deps'" >&2; exit 2; }
mkdir -p "$SOAK_OUT/loads"
EVENTS=$SOAK_OUT/events.csv
ROLLOUTS=$SOAK_OUT/rollouts.csv
echo "time,service,event,detail" >"$EVENTS"
echo "time,service,scenario,expected,actual,seconds,reason" >"$ROLLOUTS"
event() { # SERVICE EVENT DETAIL
	printf '%s,%s,%s,%s\n' "$(date +%s.%N)" "$1" "$2" "${3:-}" >>"$EVENTS"
}
log() { echo "# $(date -u +%T) $*" >&2; }

CHILDREN=()
soak_cleanup() {
	local pid
	for pid in "${CHILDREN[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${CHILDREN[@]}"; do
		wait "$pid" 2>/dev/null
	done
	[ -n "${TOPO_TMP:-}" ] && [ -f "$TOPO_TMP/kanaryd.log" ] && cp "$TOPO_TMP/kanaryd.log" "$SOAK_OUT/"
	topo_destroy
}
trap soak_cleanup EXIT
trap 'exit 130' INT TERM
set -m # each background job its own process group: the cleanup ends it whole

# ---- topology: service k has backends stable(3k+1 .. 3k+3) -------------------
topo_create $((SERVICES * BACKENDS_PER_SERVICE + 1)) 0 $((SOURCES + HOLD_SOURCES)) || { echo "soak: cannot build the topology" >&2; exit 1; }
for ((i = 1; i <= SERVICES * BACKENDS_PER_SERVICE + 1; i++)); do
	# A and the spare answer as model v1, B as v2: the tag says who answered.
	model=v1
	[ $(((i - 1) % BACKENDS_PER_SERVICE)) -eq 1 ] && model=v2
	topo_backend stable "$i" --model "$model" || { echo "soak: backend $i does not start" >&2; exit 1; }
done

svc_name() { echo "soak$1"; }
svc_port() { echo $((TOPO_VIP_PORT + $1)); }
backend_ip() { topo_backend_ip stable $(($1 * BACKENDS_PER_SERVICE + $2)); } # SVC 1..3
HOLD_BACKEND=$(backend_ip "$SERVICES" 1)
backend_ns() { echo "stable$(($1 * BACKENDS_PER_SERVICE + $2))"; }

config=$SOAK_OUT/kanary.json
{
	printf '{\n  "tick": "100ms",\n  "services": [\n'
	for ((k = 0; k < SERVICES; k++)); do
		[ "$k" -gt 0 ] && printf ',\n'
		cat <<-EOF
		    {"name": "$(svc_name $k)", "vip": "$TOPO_VIP:$(svc_port $k)",
		     "stable": ["$(backend_ip $k 1):$TOPO_BACKEND_PORT"],
		     "canary": ["$(backend_ip $k 2):$TOPO_BACKEND_PORT"],
		     "metrics": {"preset": "kanary-modelserver", "interval": "1s", "timeout": "800ms"},
		     "warmup": {"method": "POST", "path": "/predict", "body": "{\"text\": \"warming up\"}"},
		     "rollout": {"steps": [25, 50, 100], "interval": "$STEP_INTERVAL",
		                 "min_requests": 30, "max_failures": 2, "warmup_requests": 20}}
		EOF
	done
	printf ',\n    {"name": "soakhold", "vip": "%s", "stable": ["%s"]}\n' \
		"$TOPO_VIP:$(svc_port "$SERVICES")" "$HOLD_BACKEND:$TOPO_BACKEND_PORT"
	printf '  ]\n}\n'
} >"$config"

KANARYD_BUILD=release
start_kanaryd() {
	topo_kanaryd --config "$config" || return 1
	echo "$TOPO_KANARYD_PID" >"$SOAK_OUT/kanaryd.pid"
	event - started "$KANARYD_BUILD pid $TOPO_KANARYD_PID"
}
start_kanaryd || { echo "soak: kanaryd does not start" >&2; exit 1; }
"$KANARY_TOOLS/kn-mapstat" --pin-dir "$TOPO_PIN_DIR" | "$PYTHON" -c "
import json, sys
m = json.load(sys.stdin)
print(json.dumps({'flows': m['kn_flows']['max_entries'], 'replies': m['kn_replies']['max_entries']}))
" >"$SOAK_OUT/max_entries.json"

# ---- the API, safe to call from several drivers at once ---------------------
# api METHOD PATH [BODY]: prints the body; returns 0 on 2xx. A refused
# connection (kanaryd restarting) is retried; any HTTP answer is final.
api() {
	local method=$1 path=$2 body=${3:-} out code try
	local args=(-sS -m 5 -X "$method" -w '\n%{http_code}')
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
	for ((try = 0; try < API_TRIES; try++)); do
		out=$(topo_node curl "${args[@]}" "$TOPO_API$path" 2>/dev/null)
		code=${out##*$'\n'}
		if [ -n "$code" ] && [ "$code" != 000 ]; then
			printf '%s\n' "${out%$'\n'*}"
			[[ "$code" == 2* ]]
			return
		fi
		sleep 0.1
	done
	return 1
}

field() { # SERVICE FIELD: one field of the service's status
	api GET "/api/v1/services/$1" | "$PYTHON" -c \
		"import json,sys; print(json.load(sys.stdin).get('$2'))" 2>/dev/null
}

wait_phase() { # SERVICE SECONDS PHASES...: prints the phase it ended in
	local svc=$1 deadline=$((SECONDS + $2)) phase p
	shift 2
	while ((SECONDS < deadline)); do
		phase=$(field "$svc" phase)
		for p in "$@"; do
			[ "$phase" = "$p" ] && { echo "$phase"; return 0; }
		done
		sleep 0.5
	done
	echo "${phase:-unknown}"
	return 1
}

faults() { # SVC INDEX JSON: a backend's injected faults
	local ip
	ip=$(backend_ip "$1" "$2")
	topo_exec "$(backend_ns "$1" "$2")" curl -fsS -m 3 -X PUT -H 'Content-Type: application/json' \
		-d "$3" "http://$ip:$TOPO_BACKEND_PORT/admin/faults" >/dev/null
}
CLEAR_FAULTS='{"error_rate": 0, "latency_ms": 0, "skew": 0}'

# ---- one service's rollouts, back to back -----------------------------------
# The scenarios in turn; each names the phase it must end in.
SCENARIOS=(promote errors latency drift pause_resume abort)
expected_phase() {
	case $1 in
	promote | pause_resume) echo promoted ;;
	errors | latency | drift) echo rolled_back ;;
	abort) echo aborted ;;
	esac
}

drive_service() { # SVC END_EPOCH
	local k=$1 end=$2 svc stable=1 canary=2 spare=3 n=0 scenario expected actual t0 tmp reason
	svc=$(svc_name "$k")
	while (($(date +%s) < end - 30)); do
		scenario=${SCENARIOS[$((n % ${#SCENARIOS[@]}))]}
		expected=$(expected_phase "$scenario")
		t0=$(date +%s)
		event "$svc" rollout "$scenario canary $(backend_ip "$k" "$canary")"
		case $scenario in
		latency) faults "$k" "$canary" '{"latency_ms": 150}' && event "$svc" fault_on latency ;;
		drift) faults "$k" "$canary" '{"skew": 0.8, "skew_label": "negative"}' && event "$svc" fault_on drift ;;
		esac
		api POST "/api/v1/services/$svc/rollout" '{}' >/dev/null || event "$svc" api_refused rollout
		case $scenario in
		errors)
			sleep 3
			event "$svc" fault_on errors
			faults "$k" "$canary" '{"error_rate": 0.3}'
			;;
		pause_resume)
			sleep 2
			api POST "/api/v1/services/$svc/pause" >/dev/null && event "$svc" paused
			sleep 4
			[ "$(field "$svc" phase)" = paused ] || event "$svc" finding "not paused after pause"
			api POST "/api/v1/services/$svc/resume" >/dev/null && event "$svc" resumed
			;;
		abort)
			sleep 3
			api POST "/api/v1/services/$svc/abort" >/dev/null
			;;
		esac
		actual=$(wait_phase "$svc" "$PHASE_WAIT_S" promoted rolled_back aborted) || {
			event "$svc" finding "$scenario: still $actual after ${PHASE_WAIT_S}s; aborted"
			api POST "/api/v1/services/$svc/abort" >/dev/null
		}
		faults "$k" "$canary" "$CLEAR_FAULTS"
		case $scenario in errors | latency | drift) event "$svc" fault_off "$scenario" ;; esac
		# the last transition's reason, as one CSV cell
		reason=$(field "$svc" reason | tr -d '",\n' | cut -c1-300)
		printf '%s,%s,%s,%s,%s,%s,"%s"\n' "$t0" "$svc" "$scenario" "$expected" "$actual" \
			$(($(date +%s) - t0)) "$reason" >>"$ROLLOUTS"
		# After a promotion the canary is the stable pool: the old stable
		# backend becomes the next canary (removed, then added back).
		if [ "$actual" = promoted ]; then
			tmp=$stable
			stable=$canary
			canary=$tmp
		fi
		# Between rollouts: the spare joins the stable pool and leaves it,
		# the weight is flipped by hand, the canary set again.
		api PUT "/api/v1/services/$svc/backends" \
			"{\"stable\": [\"$(backend_ip "$k" "$stable"):8000\", \"$(backend_ip "$k" "$spare"):8000\"], \"canary\": []}" \
			>/dev/null && event "$svc" backends "stable+spare, no canary"
		sleep 1
		api PUT "/api/v1/services/$svc/backends" \
			"{\"stable\": [\"$(backend_ip "$k" "$stable"):8000\"], \"canary\": [\"$(backend_ip "$k" "$canary"):8000\"]}" \
			>/dev/null && event "$svc" backends "stable, canary"
		for w in $HAND_WEIGHTS; do
			api PUT "/api/v1/services/$svc/weight" "{\"canary_percent\": $w}" >/dev/null &&
				event "$svc" weight "$w"
			sleep 0.3
		done
		n=$((n + 1))
	done
}

# ---- client load, in chunks -----------------------------------------------------
# One file per load: a {"chunk_start": EPOCH} line before each kn-load, then
# its per-second lines, each after the wall-clock time it was written at
# ("1796423369.123456 {...}"): the events carry the same clock. (kn-load's
# own t_s counts on the monotonic clock, which the wall clock of a VM can
# drift or step away from by seconds within a chunk.)
stamp_lines() {
	local line
	while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "$line"
	done
}

load_loop() { # NAME END_EPOCH kn-load ARGS...
	local name=$1 end=$2 left file=$SOAK_OUT/loads/$1.log
	shift 2
	while left=$((end - $(date +%s))) && [ "$left" -gt 1 ]; do
		[ "$left" -gt "$LOAD_CHUNK_S" ] && left=$LOAD_CHUNK_S
		printf '{"chunk_start": %s}\n' "$(date +%s.%N)" >>"$file"
		ip netns exec "$(topo_ns client)" "$KANARY_TOOLS/kn-load" "$@" --duration "$left" \
			--timeout-ms "$LOAD_TIMEOUT_MS" --report-interval-ms 1000 --json \
			>>"$SOAK_OUT/loads/$name.summary" 2> >(stamp_lines >>"$file")
	done
}

START=$(date +%s)
END=$((START + SOAK_S))
QUIET_FROM=$((END - QUIET_TAIL))
UPGRADE_AT=$((START + (SOAK_S - QUIET_TAIL) / 2))
echo "start=$START end=$END quiet_from=$QUIET_FROM upgrade_at=$UPGRADE_AT sample_s=$SAMPLE_S" \
	"kill_every=$KILL_EVERY services=$SERVICES" >"$SOAK_OUT/run.txt"
log "soak for ${SOAK_S}s into $SOAK_OUT (kills every ${KILL_EVERY}s until the last ${QUIET_TAIL}s)"

per_service=$((SOURCES / SERVICES))
for ((k = 0; k < SERVICES; k++)); do
	first=$((k * per_service))
	sources="$(topo_source_ip "$first")-$(topo_source_ip $((first + per_service - 1)))"
	common=(--target "$TOPO_VIP:$(svc_port "$k")" --method POST --path /predict
		--body '{"text": "great product, works well"}')
	load_loop "new$k" "$END" "${common[@]}" --sources "$sources" --close \
		--connections 4 --rate "$NEW_RPS" &
	CHILDREN+=($!)
done
load_loop hold "$END" --target "$TOPO_VIP:$(svc_port "$SERVICES")" --method POST --path /predict \
	--body '{"text": "great product, works well"}' \
	--sources "$(topo_source_ip "$SOURCES")-$(topo_source_ip $((SOURCES + HOLD_SOURCES - 1)))" \
	--keepalive --connections "$HOLD_CONNECTIONS" --interval-ms "$HOLD_INTERVAL_MS" &
CHILDREN+=($!)

nsenter --net=/run/netns/"$(topo_ns node)" "$PYTHON" "$SOAK_DIR/sample.py" \
	--out "$SOAK_OUT/samples.csv" --interval "$SAMPLE_S" --until "$END" \
	--pid-file "$SOAK_OUT/kanaryd.pid" --pin-dir "$TOPO_PIN_DIR" \
	--state-file "$TOPO_STATE_FILE" --api "$TOPO_API" --loads "$SOAK_OUT/loads" \
	--mapstat "$KANARY_TOOLS/kn-mapstat" 2>"$SOAK_OUT/sample.err" &
SAMPLER=$!
CHILDREN+=($SAMPLER)

sleep 5 # the loads are on before the first rollout
for ((k = 0; k < SERVICES; k++)); do
	drive_service "$k" "$END" 2>>"$SOAK_OUT/driver.err" &
	CHILDREN+=($!)
done

# ---- kills, and the upgrade -----------------------------------------------------
upgraded=0
next_kill=$((START + KILL_EVERY))
while (($(date +%s) < END)); do
	now=$(date +%s)
	if ((now >= next_kill && now < QUIET_FROM)); then
		kind=sigkill
		((!upgraded && now >= UPGRADE_AT)) && kind=upgrade
		event - kill "$kind pid $TOPO_KANARYD_PID"
		kill -KILL "$TOPO_KANARYD_PID"
		wait "$TOPO_KANARYD_PID" 2>/dev/null
		TOPO_KANARYD_PID=
		sleep 1 # the data path forwards with no agent at all
		if [ "$kind" = upgrade ]; then
			KANARY_BIN=$(dirname "$UPGRADED_KANARYD")
			KANARYD_BUILD=upgrade
			upgraded=1
		fi
		start_kanaryd || { event - finding "kanaryd did not restart"; log "kanaryd did not restart"; break; }
		[ "$kind" = upgrade ] && ! grep -q "migrated [0-9]* entries of kn_flows" "$TOPO_TMP/kanaryd.log" &&
			event - finding "the upgrade did not migrate kn_flows"
		log "$kind done"
		next_kill=$((now + KILL_EVERY))
	fi
	sleep 1
done

log "run over; waiting for the drivers and loads"
for pid in "${CHILDREN[@]}"; do
	wait "$pid" 2>/dev/null
done
CHILDREN=()
cp "$TOPO_TMP/kanaryd.log" "$SOAK_OUT/"
"$PYTHON" "$SOAK_DIR/verdict.py" "$SOAK_OUT" ${SOAK_REPORT:+--report "$KANARY_ROOT/SOAK.md" --plots "$SOAK_DIR/plots" --results "$SOAK_DIR/results"} \
	${SOAK_NOTES:+--notes "$SOAK_NOTES"}
