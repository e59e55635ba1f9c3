#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/kanaryctl.sh - kanaryctl against a real kanaryd on a test
# topology (kanary-modelserver backends): every command, its --json output
# (it must parse and say what the human output says), --help everywhere,
# watch on a pipe and on a terminal, inspect-metrics on files, stdin and
# live model servers, and each exit code for real: 0 done, 1 refused by the
# agent, 2 bad command line, 3 server unreachable or not kanaryd (a fake
# server, tests/tools/fake_kanaryd.py, answers the way kanaryd never
# would: escape sequences in its strings, {}, a text page, a redirect).
# Needs: curl, python3 (JSON), script (util-linux, a terminal for watch).
set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/demo.sh

TOKEN=kanary-test-token-$RANDOM$RANDOM
WATCH_POLL=200ms
WATCH_LIMIT=20s
PREDICTIONS=25
COMMANDS=(status watch rollout pause resume promote abort set-weight
	set-backends set-affinity decisions inspect-metrics)
# The last kanaryctl run (ctl), and a command left running.
RC='' OUT='' ERR='' BG_PID=''

cleanup() {
	[ -n "$BG_PID" ] && kill "$BG_PID" 2>/dev/null
	topo_destroy
}
trap cleanup EXIT
trap 'exit 130' INT TERM

demo_topology "$TOKEN"
demo_config '{"interval": "10m"}' "$(demo_solo)"
demo_kanaryd

# ctl ARGS...: kanaryctl in the node's namespace (kanaryd's loopback), with
# neither $KANARY_SERVER nor $KANARY_TOKEN_FILE unless given; sets RC, OUT
# and ERR.
ctl() {
	topo_node env -u KANARY_SERVER -u KANARY_TOKEN_FILE "$@" \
		>"$WORK/out" 2>"$WORK/err"
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}
kctl() {
	ctl "$KANARY_BIN/kanaryctl" "$@"
}
tctl() {
	ctl "$KANARY_BIN/kanaryctl" --token-file "$WORK/token" "$@"
}

# check (tests/lib/tap.sh) shows the last command's exit and output on
# failure.
check_diag() {
	echo "#   rc=$RC out: ${OUT:0:400}"
	echo "#   err: ${ERR:0:400}"
}

rc_is() { [ "$RC" = "$1" ]; }

# has TEXT...: every TEXT is in the last command's standard output.
has() {
	local t
	for t in "$@"; do
		[[ "$OUT" == *"$t"* ]] || return 1
	done
}

# prints CODE TEXT...: the last command exited CODE and printed every TEXT.
prints() {
	rc_is "$1" || return 1
	shift
	has "$@"
}

# fails_with CODE TEXT...: it exited CODE, and its error says every TEXT.
fails_with() {
	local t
	rc_is "$1" || return 1
	shift
	for t in "$@"; do
		[[ "$ERR" == *"$t"* ]] || return 1
	done
}

# ---- help and the command line (exit 2) ------------------------------------------
kctl --help
check "--help: exit 0 and every command listed" \
	bash -c '[ "$1" = 0 ] && for c in '"${COMMANDS[*]}"'; do grep -q "^  $c " <<<"$2" || exit 1; done' \
	_ "$RC" "$OUT"
kctl --version
check "--version: exit 0, 'kanaryctl VERSION'" \
	bash -c '[ "$1" = 0 ] && [[ "$2" =~ ^kanaryctl\ [0-9] ]]' _ "$RC" "$OUT"
helped=0
for c in "${COMMANDS[@]}"; do
	kctl "$c" --help
	rc_is 0 && has "usage: kanaryctl" " $c " && helped=$((helped + 1))
done
check "--help on each of the ${#COMMANDS[@]} commands: exit 0 and its usage" \
	test "$helped" = "${#COMMANDS[@]}"
kctl
check "no command: exit 2 and the help" prints 2 "commands:"
kctl frobnicate
check "an unknown command: exit 2, named" fails_with 2 "unknown command 'frobnicate'"
kctl status --frob
check "an unknown flag: exit 2, named" fails_with 2 "unknown flag '--frob'"
kctl pause
check "a missing SERVICE: exit 2, named" fails_with 2 "missing SERVICE"
kctl pause demo extra
check "an extra argument: exit 2, named" fails_with 2 "unexpected argument 'extra'"
tctl set-weight demo 12.345
check "set-weight 12.345: exit 2 naming the value" \
	fails_with 2 "PERCENT '12.345'"
tctl rollout demo --steps 10,abc,100
check "rollout --steps 10,abc,100: exit 2 naming the flag and value" \
	fails_with 2 "--steps '10,abc,100'"
tctl rollout demo --step-count 4
check "rollout --step-count without --window: exit 2" \
	fails_with 2 "--window"
tctl rollout demo --interval 5x
check "rollout --interval 5x: exit 2 naming it" \
	fails_with 2 "--interval '5x'"
tctl watch demo --timeout soon
check "watch --timeout soon: exit 2 naming it" \
	fails_with 2 "--timeout 'soon'"
tctl set-backends demo
check "set-backends without a pool: exit 2" rc_is 2
tctl set-backends demo --canary 198.18.16.20
check "set-backends --canary without a port: exit 2 naming it" \
	fails_with 2 "--canary '198.18.16.20'"
kctl --token-file "$WORK/no-such-token" pause demo
check "an unreadable --token-file: exit 2 naming the file" \
	fails_with 2 no-such-token
kctl --server ftp://127.0.0.1 status
check "--server ftp://...: exit 2" rc_is 2
kctl --server http://127.0.0.1:99999 status
check "--server with port 99999: a bad command line (exit 2), naming the port" \
	fails_with 2 "http://127.0.0.1:99999" "over 65535"
kctl --server http://127.0.0.1:9x/ status
check "--server with a port that is no number: exit 2" \
	fails_with 2 "the port is not a number"
printf 'kanary-half\nkanary-other-half\n' >"$WORK/token-two-lines"
kctl --token-file "$WORK/token-two-lines" pause demo
check "a token file with a line break inside the token: exit 2 naming the file" \
	fails_with 2 token-two-lines "line break"

# ---- unreachable (exit 3) -----------------------------------------------------------
kctl --server http://127.0.0.1:1 status
check "no kanaryd at --server: exit 3, saying which URL and why" \
	fails_with 3 "http://127.0.0.1:1/api/v1/services" "connect"
ctl env KANARY_SERVER=http://127.0.0.1:1 "$KANARY_BIN/kanaryctl" status demo
check "\$KANARY_SERVER is used: exit 3 there" \
	fails_with 3 "127.0.0.1:1/api/v1/services/demo"
ctl env KANARY_SERVER=http://127.0.0.1:1 "$KANARY_BIN/kanaryctl" --server "$TOPO_API" status
check "--server wins over \$KANARY_SERVER" rc_is 0

# ---- reading -----------------------------------------------------------------------------
kctl status
check "status: exit 0, a table of both services" \
	bash -c '[ "$1" = 0 ] && grep -q "^NAME  *VIP  *PHASE  *STEP  *CANARY" <<<"$2" &&
		grep -q "^demo  *'"$TOPO_VIP:$TOPO_VIP_PORT"'  *idle" <<<"$2" && grep -q "^solo " <<<"$2"' \
	_ "$RC" "$OUT"
kctl --json status
check "status --json: the agent's JSON" \
	test "$RC" = 0 -a "$(jget '[s["name"] for s in d["services"]]' <<<"$OUT")" = '["demo", "solo"]'
kctl status demo --json
check "status SERVICE --json (flag after the command)" \
	test "$RC" = 0 -a "$(jget 'd["name"]' <<<"$OUT")" = demo
kctl status demo
check "status demo: the row and its backends" \
	bash -c '[ "$1" = 0 ] && grep -q "^BACKEND" <<<"$2" && grep -q "^$3  *stable" <<<"$2" && grep -q "^$4  *canary" <<<"$2"' \
	_ "$RC" "$OUT" "$(topo_pool stable)" "$(topo_pool canary)"
kctl status nosuch
check "status nosuch: exit 1 with the agent's error" \
	fails_with 1 "HTTP 404" "no service named 'nosuch'"
kctl --json status nosuch
check "... with --json, the agent's error JSON on stdout" \
	test "$RC" = 1 -a "$(jget 'd["error"]' <<<"$OUT")" = "no service named 'nosuch'"

# ---- refused (exit 1) ---------------------------------------------------------------------
kctl pause demo
check "pause without a token: exit 1, 401, and how to give one" \
	fails_with 1 "HTTP 401" "--token-file"
ctl env KANARY_TOKEN_FILE="$WORK/token" "$KANARY_BIN/kanaryctl" pause demo
check "\$KANARY_TOKEN_FILE is used: the agent gets past the token (409 idle)" \
	fails_with 1 "HTTP 409"
tctl set-weight solo 5
check "set-weight on a service without canaries: exit 1, naming the field" \
	fails_with 1 "HTTP 409" "[field: canary_percent]"
tctl rollout demo --steps 50,25,100
check "rollout --steps 50,25,100: the agent refuses (exit 1, field steps[1])" \
	fails_with 1 "HTTP 400" "[field: steps[1]]"

# ---- changing state (exit 0) ------------------------------------------------------------------
tctl --json rollout demo --steps 10,50,100 --interval 10m --min-requests 50 --warmup 0 --max-failures 3
check "rollout --steps 10,50,100 ...: exit 0, the spec as given" \
	test "$RC" = 0 -a "$(jget '(d["phase"], d["canary_percent"], d["rollout"]["steps"], d["rollout"]["interval"], d["rollout"]["min_requests"], d["rollout"]["max_failures"])' <<<"$OUT")" = \
	'["progressing", 10.0, [10, 50, 100], "10m", 50, 3]'
kctl status
check "status: progressing, step 1/3, 10.00%" \
	bash -c 'grep -q "^demo  *[^ ]*  *progressing  *1/3  *10.00%" <<<"$1"' _ "$OUT"
tctl rollout demo
check "a second rollout: exit 1 (409)" fails_with 1 "HTTP 409"
tctl set-backends demo --canary "$(topo_pool stable)"
check "set-backends during a rollout: exit 1 (409)" fails_with 1 "HTTP 409"
tctl pause demo
check "pause: exit 0, paused" prints 0 "demo: paused; phase paused, step 1/3"
tctl --json resume demo
check "resume --json: progressing" test "$RC" = 0 -a "$(jget 'd["phase"]' <<<"$OUT")" = progressing
tctl --json promote demo
check "promote --json: step 2 at 50 %" test "$RC" = 0 -a "$(jget '(d["step"], d["canary_percent"])' <<<"$OUT")" = "[2, 50.0]"
tctl promote demo --full
check "promote --full: promoted" prints 0 "phase promoted"
tctl --json set-backends demo --canary "$(topo_pool stable)"
check "set-backends --canary: exit 0, both pools again" \
	test "$RC" = 0 -a "$(jget '[(b["address"], b["pool"]) for b in d["backends"]]' <<<"$OUT")" = \
	"[[\"$(topo_pool canary)\", \"stable\"], [\"$(topo_pool stable)\", \"canary\"]]"
tctl --json rollout demo --step-count 4 --window 4m
check "rollout --step-count 4 --window 4m: four equal steps, the first at 25 %" \
	test "$RC" = 0 -a "$(jget '(d["rollout"]["step_count"], d["rollout"]["window"], d["steps"], d["canary_percent"])' <<<"$OUT")" = '[4, "4m", 4, 25.0]'
tctl abort demo
check "abort: exit 0, aborted at 0%" prints 0 "phase aborted, step -, canary 0.00%"
tctl abort demo
check "abort again: exit 1 (409)" fails_with 1 "HTTP 409"
tctl --json set-weight demo 12.5
check "set-weight 12.5: exit 0, 12.5 %" test "$RC" = 0 -a "$(jget 'd["canary_percent"]' <<<"$OUT")" = 12.5
tctl set-backends demo --stable ''
check "set-backends --stable '': the agent refuses an empty stable pool (exit 1)" \
	fails_with 1 "[field: stable]"

# ---- decisions --------------------------------------------------------------------------------
kctl decisions demo
check "decisions: a table with every operator event" \
	bash -c '[ "$1" = 0 ] && grep -q "^TIME  *EVENT" <<<"$2" &&
		for e in "rollout started" paused resumed "promoted one step" "promoted fully" "backends set" aborted "weight set"; do
			grep -q "  $e  " <<<"$2" || exit 1; done' _ "$RC" "$OUT"
kctl --json decisions demo
events=$(jget 'len([x for x in d["decisions"] if x.get("event")])' <<<"$OUT")
check "decisions --json: the same log ($events events)" test "$RC" = 0 -a "$events" = 9
kctl decisions demo --limit 2
check "decisions --limit 2: two rows and a note" \
	bash -c '[ "$1" = 0 ] && [ "$(grep -c "^20" <<<"$2")" = 2 ] && [[ "$2" == *"the last 2 of"* ]]' _ "$RC" "$OUT"

# ---- watch ----------------------------------------------------------------------------------------
tctl rollout demo --steps 20,100 --interval 10m
kctl watch demo --interval "$WATCH_POLL" --timeout 1s
check "watch on a pipe: plain lines; exit 1 when --timeout passes first" \
	bash -c '[ "$1" = 1 ] && grep -q "demo phase=progressing step=1/2 canary=20.00%" <<<"$2" &&
		! grep -q $'"'"'\033'"'"' <<<"$2" && [[ "$3" == *"gave up after --timeout 1s"* ]]' \
	_ "$RC" "$OUT" "$ERR"
kctl --json watch demo --interval "$WATCH_POLL" --timeout 1s
check "watch --json: one status per refresh, each JSON" \
	bash -c '[ "$(wc -l <<<"$1")" -ge 3 ] && while read -r l; do
		[ "$("$2" -c "import json,sys; print(json.loads(sys.argv[1])[\"phase\"])" "$l")" = progressing ] || exit 1
		done <<<"$1"' _ "$OUT" "$PYTHON"
topo_node script -qec "$KANARY_BIN/kanaryctl watch demo --interval $WATCH_POLL --timeout 1s" /dev/null \
	>"$WORK/tty.out" 2>&1
check "watch on a terminal: redrawn in place, with a progress bar" \
	bash -c 'grep -q $'"'"'\033\[2K'"'"' "$1" && grep -q $'"'"'\033\[4A'"'"' "$1" &&
		grep -Eq "\[#+-*\|-+\]" "$1" && grep -q "step 1/2  canary 20.00%" "$1"' _ "$WORK/tty.out"
(sleep 1 && topo_node "$KANARY_BIN/kanaryctl" --token-file "$WORK/token" promote demo --full >/dev/null 2>&1) &
BG_PID=$!
kctl watch demo --interval "$WATCH_POLL" --timeout "$WATCH_LIMIT"
wait "$BG_PID"
BG_PID=
check "watch follows a promotion to its end: exit 0" \
	prints 0 "phase=progressing" "demo: rollout ended: promoted"
tctl set-backends demo --canary "$(topo_pool canary)"
tctl rollout demo --steps 20,100 --interval 10m
(sleep 1 && topo_node "$KANARY_BIN/kanaryctl" --token-file "$WORK/token" abort demo >/dev/null 2>&1) &
BG_PID=$!
kctl watch demo --interval "$WATCH_POLL" --timeout "$WATCH_LIMIT"
wait "$BG_PID"
BG_PID=
check "watch follows an abort to its end: exit 1" \
	prints 1 "demo: rollout ended: aborted"
kctl watch solo
check "watch with no rollout: exit 0 at once" \
	prints 0 "solo: no rollout in progress"

# ---- inspect-metrics -----------------------------------------------------------------------------
detected=0
fixtures=0
for f in tests/fixtures/metrics/*.txt; do
	fixtures=$((fixtures + 1))
	kctl inspect-metrics "$f"
	preset=$(basename "$f" .txt)
	rc_is 0 && has "preset:      $preset (detected" "requests:" && detected=$((detected + 1))
done
check "inspect-metrics on each of the $fixtures model-server fixtures: its own preset detected" \
	test "$fixtures" -gt 0 -a "$detected" = "$fixtures"
kctl --json inspect-metrics tests/fixtures/metrics/vllm.txt --preset vllm
check "inspect-metrics --json --preset vllm: requests, errors, p50 <= p90 <= p99" \
	test "$RC" = 0 -a "$(jget '(d["preset"], d["detected"], d["requests"] > 0, d["latency"]["kind"], 0 < d["latency"]["p50_ms"] <= d["latency"]["p90_ms"] <= d["latency"]["p99_ms"])' <<<"$OUT")" = \
	'["vllm", false, true, "histogram", true]'
kctl inspect-metrics tests/fixtures/metrics/vllm.txt --preset triton
check "inspect-metrics with the wrong preset: exit 1, saying what is missing" \
	fails_with 1 "no series named"
printf '# TYPE x counter\nx{a="1" 3\n' >"$WORK/broken.txt"
kctl inspect-metrics "$WORK/broken.txt"
check "inspect-metrics on a malformed page: exit 1 with FILE:LINE:COLUMN" \
	fails_with 1 "broken.txt:2:" "not a valid metrics page"
kctl inspect-metrics "$WORK/no-such-file"
check "inspect-metrics on a missing file: exit 2" \
	fails_with 2 no-such-file
kctl inspect-metrics tests/fixtures/metrics/vllm.txt --preset nosuch
check "inspect-metrics --preset nosuch: exit 2 listing the presets" \
	fails_with 2 "known: vllm, triton"
topo_node sh -c "'$KANARY_BIN/kanaryctl' inspect-metrics - <tests/fixtures/metrics/tgi.txt" >"$WORK/out" 2>&1
check "inspect-metrics - reads stdin" grep -q "preset:      tgi (detected" "$WORK/out"
printf '{"requests": "http_requests_total", "errors": [], "latency_histogram": null}\n' >"$WORK/spec.json"
kctl --json inspect-metrics tests/fixtures/metrics/generic.txt --spec "$WORK/spec.json"
check "inspect-metrics --spec FILE: the service's own metrics spec" \
	test "$RC" = 0 -a "$(jget '(d["preset"], d["errors"], d["latency"])' <<<"$OUT")" = '[null, 0.0, null]'

# A live model server: predictions sent to it show up as kanary reads them.
STABLE1=$(topo_backend_ip stable 1):$TOPO_BACKEND_PORT
for ((i = 0; i < PREDICTIONS; i++)); do
	topo_node curl -sS -m 3 -o /dev/null -H 'Content-Type: application/json' \
		-d '{"text": "the staff were friendly and quick"}' "http://$STABLE1/predict"
done
kctl --json inspect-metrics "http://$STABLE1/metrics"
check "inspect-metrics on a live kanary-modelserver: its $PREDICTIONS predictions and their labels" \
	test "$RC" = 0 -a "$(jget '(d["preset"], d["requests"] >= '"$PREDICTIONS"', sum(c["count"] for c in d["predictions"]) >= '"$PREDICTIONS"')' <<<"$OUT")" = \
	'["kanary-modelserver", true, true]'
kctl inspect-metrics "$TOPO_API/metrics"
check "inspect-metrics on kanaryd's own page: exit 1, why for every preset" \
	fails_with 1 "no preset finds its series" "vllm " "generic "
kctl inspect-metrics "http://127.0.0.1:1/metrics"
check "inspect-metrics on a URL nobody serves: exit 3" \
	fails_with 3 "127.0.0.1:1/metrics"
kctl inspect-metrics "$TOPO_API/nope"
check "inspect-metrics on a 404: exit 1" fails_with 1 "HTTP 404"

# ---- servers that are not kanaryd, or say what a terminal acts on -----------------------
# tests/tools/fake_kanaryd.py answers in the node's namespace, on loopback.
FAKE=tests/tools/fake_kanaryd.py
FAKE_FIRST_PORT=19190
FAKE_LIFETIME_S=300
FAKE_MODES=(escape empty nonsense redirect counted)
declare -A FAKE_URL=()
port=$FAKE_FIRST_PORT
for mode in "${FAKE_MODES[@]}"; do
	topo_node "$PYTHON" "$FAKE" "$mode" 127.0.0.1 "$port" "$FAKE_LIFETIME_S" \
		>"$WORK/fake-$mode.log" 2>&1 &
	TOPO_PIDS+=($!)
	topo_wait_port node 127.0.0.1 "$port" || tap_bail "fake_kanaryd.py $mode does not start"
	FAKE_URL[$mode]=http://127.0.0.1:$port
	port=$((port + 1))
done

# raw_escapes: the last command printed ESC or a C1 CSI as such.
raw_escapes() {
	[[ "$OUT$ERR" == *$'\x1b'* || "$OUT$ERR" == *$'\xc2\x9b'* ]]
}
escaped_only() { ! raw_escapes && [[ "$OUT$ERR" == *'\x1b[2J'* ]]; }

kctl --server "${FAKE_URL[escape]}" status
check "status: a server's escape sequences are printed escaped (\\x1b[2J), never raw" \
	bash -c '[ "$1" = 0 ] && grep -q "^alpha" <<<"$2"' _ "$RC" "$OUT"
check "... none reaches the terminal" escaped_only
kctl --server "${FAKE_URL[escape]}" status alpha
check "status SERVICE: the backends' strings escaped too" \
	bash -c '[ "$1" = 0 ] && [[ "$2" == *"down: down\x1b[2J"* ]]' _ "$RC" "$OUT"
check "... none reaches the terminal" escaped_only
tctl --server "${FAKE_URL[escape]}" abort alpha
check "a refusal's message and field: escaped on stderr (exit 1)" \
	bash -c '[ "$1" = 1 ] && [[ "$2" == *"nothing to abort\x1b[2J"* ]] && [[ "$2" == *"[field: phase\x1b[2J"* ]]' \
	_ "$RC" "$ERR"
check "... none reaches the terminal" escaped_only
kctl --json --server "${FAKE_URL[escape]}" status
services=$(jget 'len(d["services"])' <<<"$OUT")
check "status --json: the same JSON ($services services), C1 controls as \\u009b" \
	bash -c '[ "$1" = 0 ] && [ "$2" = 3 ] && [[ "$3" == *"\\u009b31m"* ]]' _ "$RC" "$services" "$OUT"
check "... none reaches the terminal" bash -c '! [[ "$1" == *$'"'"'\xc2\x9b'"'"'* ]]' _ "$OUT"
tctl --json --server "${FAKE_URL[escape]}" abort alpha
said=$(jget 'd["error"][:16]' <<<"$OUT")
check "a refusal with --json: the error object on stdout, still JSON ($said)" \
	test "$RC" = 1 -a "$said" = "nothing to abort"
check "... none reaches the terminal" bash -c '! [[ "$1" == *$'"'"'\xc2\x9b'"'"'* ]]' _ "$OUT$ERR"
kctl --server "${FAKE_URL[escape]}" decisions alpha
check "decisions: escaped" bash -c '[ "$1" = 0 ]' _ "$RC"
check "... none reaches the terminal" escaped_only

# Every command that talks to kanaryd, against a server that is not it.
FAKE_CALLS=("status" "status demo" "decisions demo" "pause demo" "resume demo"
	"abort demo" "promote demo" "set-weight demo 5"
	"set-backends demo --stable 198.18.16.20:80" "rollout demo"
	"watch demo --timeout 2s")
for mode in empty nonsense; do
	judged=0
	for call in "${FAKE_CALLS[@]}"; do
		# shellcheck disable=SC2086 # a call is words
		tctl --server "${FAKE_URL[$mode]}" $call
		if fails_with 3 "not a kanaryd answer"; then
			judged=$((judged + 1))
		else
			echo "#   $mode: '$call': rc=$RC err: ${ERR:0:200}"
		fi
	done
	check "a server answering $mode: each of the ${#FAKE_CALLS[@]} calls exits 3, 'not a kanaryd answer'" \
		test "$judged" = "${#FAKE_CALLS[@]}"
done
tctl --server "${FAKE_URL[empty]}" abort demo
check "abort against {}: no 'aborted', nothing on stdout" \
	bash -c '[ "$1" = 3 ] && [ -z "$2" ]' _ "$RC" "$OUT"
kctl --server "${FAKE_URL[redirect]}" status
check "a 301 from a web server: exit 3, said as such, not as kanaryd's refusal" \
	bash -c '[ "$1" = 3 ] && [[ "$2" == *"${3}/api/v1/services: HTTP 301 from a server that is not kanaryd"* ]] &&
		[[ "$2" != *"refused by kanaryd"* ]]' _ "$RC" "$ERR" "${FAKE_URL[redirect]}"

# status asks once for the whole table: the pools' signals are in the status.
kctl --server "${FAKE_URL[counted]}" status
asked=$(topo_node curl -sS -m 3 "${FAKE_URL[counted]}/_requests" | jget 'd["requests"]')
check "status of 3 services: one request (asked $asked)" test "$RC" = 0 -a "$asked" = 1
check "... each row with its pools' latest signals" \
	bash -c 'for s in alpha beta gamma; do
		grep -Eq "^$s .* 1\.50% +12\.3ms +7\.25% +45\.6ms$" <<<"$1" || exit 1; done' _ "$OUT"

check "kanaryd survived it all" kill -0 "$TOPO_KANARYD_PID"
tap_done
