#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/inputs.sh - inputs kanaryd must refuse, through each door: a
# real kanaryd on a test topology for the API (PUT .../backends with a VIP,
# loopback, multicast... backend: 400 naming the field; control characters
# in a rollout body), the flags (--stable 127.0.0.1:80 refused unless
# --allow-local-backends), the config file (a warm-up content type with
# CRLF), a token file with a line break inside, and --check-config agreeing
# with the start on each case that once passed the check and failed the
# start. Every message checked here must hold no control character.
# Needs: curl, python3 (JSON).
set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/demo.sh

CURL_TIMEOUT_S=10
# A kanaryd that must refuse to start does so at once; one that starts
# anyway (a failed check) is stopped after this long.
REFUSAL_TIMEOUT_S=30
TOKEN=kanary-test-token-$RANDOM$RANDOM
JSON='Content-Type: application/json'
SVC=/api/v1/services
# The last answer (http) and the last kanaryd run (kanaryd_once).
CODE='' BODY='' RC='' ERR=''

trap topo_destroy EXIT
trap 'exit 130' INT TERM

demo_topology "$TOKEN"
STABLE=$(topo_pool stable)
CANARY=$(topo_pool canary)
CANARY_IP=$(topo_backend_ip canary 1)

# demo has both pools; solo is another TCP service (its VIP is a loop for
# demo too); local means a model server on the node itself.
demo_config '{"interval": "10m"}' "$(demo_solo)" \
	"{\"name\": \"local\", \"vip\": \"$TOPO_VIP:82\", \"stable\": [\"127.0.0.1:8000\"], \"allow_local_backends\": true}"

# http METHOD PATH [CURL ARGS...]: sets CODE and BODY.
http() {
	local method=$1 path=$2
	shift 2
	rm -f "$WORK/body"
	CODE=$(topo_node curl -sS --max-time "$CURL_TIMEOUT_S" -X "$method" \
		-o "$WORK/body" -w '%{http_code}' "$@" "$BASE$path" \
		2>"$WORK/curl.err") || true
	BODY=$(cat "$WORK/body" 2>/dev/null)
}
BASE=$TOPO_API

# refused CODE FIELD TEXT: the last answer is CODE naming FIELD, its error
# holding TEXT and no control character.
refused() {
	[ "$CODE" = "$1" ] &&
		[ "$(jget 'd["field"]' <<<"$BODY")" = "$2" ] &&
		jget 'd["error"]' <<<"$BODY" | grep -qF -- "$3" &&
		[ "$(jget 'any(ord(c) < 32 or ord(c) == 127 for c in d["error"])' <<<"$BODY")" = false ]
}

# check (tests/lib/tap.sh) shows the last answer on failure.
check_diag() {
	echo "#   last answer: ${CODE:-none} ${BODY:0:300}"
	echo "#   last exit: ${RC:-none} ${ERR:0:400}"
}

# kanaryd_once ARGS...: a kanaryd in the node's namespace that is expected
# to stop by itself (a refusal, or --check-config); sets RC and ERR.
kanaryd_once() {
	timeout "$REFUSAL_TIMEOUT_S" nsenter --net=/run/netns/"$(topo_ns node)" \
		"$KANARY_BIN/kanaryd" "$@" >"$WORK/once.out" 2>"$WORK/once.err"
	RC=$?
	ERR=$(cat "$WORK/once.err")
}

# The flags every kanaryd of this test is started with but the running one.
ONCE_FLAGS=(--pin-dir "$TOPO_PIN_DIR-once" --state-file "$WORK/once-state.json"
	--listen "127.0.0.1:$((TOPO_API_PORT + 1))")
TOPO_PIN_DIRS+=("$TOPO_PIN_DIR-once")

# says TEXT: the last kanaryd's stderr holds TEXT and no control character
# but the line ends.
says() {
	grep -qF -- "$1" <<<"$ERR" &&
		! tr -d '\n' <<<"$ERR" | grep -q '[[:cntrl:]]'
}

# refused_start: the last kanaryd exited by itself, with an error.
refused_start() {
	[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]
}

# ---- the API: PUT .../backends -----------------------------------------------
# refuses_each METHOD PATH CASES: CASES names an array of four words a
# case - what the check says, the body sent, and the field and text the 400
# must name.
refuses_each() {
	local method=$1 path=$2 i
	local -n cases=$3
	for ((i = 0; i < ${#cases[@]}; i += 4)); do
		http "$method" "$path" -H "$AUTH" -H "$JSON" -d "${cases[i + 1]}"
		check "${cases[i]}" refused 400 "${cases[i + 2]}" "${cases[i + 3]}"
	done
}

test_api_backends() {
	local before
	local demo_refusals=(
		"PUT backends with the service's own VIP: 400 naming canary[0]"
		"{\"canary\": [\"$TOPO_VIP:$TOPO_VIP_PORT\"]}"
		"canary[0]" "$TOPO_VIP:$TOPO_VIP_PORT is the VIP of service 'demo'"

		"... with another service's VIP: 400 naming canary[1], a loop"
		"{\"canary\": [\"$CANARY\", \"$TOPO_VIP:81\"]}"
		"canary[1]" "is the VIP of service 'solo': its traffic would come back to kanary (a loop)"

		"... with a loopback backend: 400 naming stable[0], and the way to mean it"
		'{"stable": ["127.0.0.1:8000"]}'
		"stable[0]" "127.0.0.1:8000 is a loopback address (127.0.0.0/8), the node itself: a model server on the node needs \"allow_local_backends\": true"

		"... with a multicast backend: 400 naming canary[0]"
		'{"canary": ["224.0.0.1:8000"]}'
		"canary[0]" "224.0.0.1:8000 is a multicast address"

		"... with 0.0.0.0: 400 naming canary[0]"
		'{"canary": ["0.0.0.0:8000"]}'
		"canary[0]" "0.0.0.0:8000 is a 'this network' address"

		"... with the broadcast address: 400 naming canary[0]"
		'{"canary": ["255.255.255.255:8000"]}'
		"canary[0]" "is the broadcast address"

		"... with a backend in both pools: 400 naming canary[0]"
		"{\"canary\": [\"$STABLE\"]}"
		"canary[0]" "$STABLE is also in the stable pool (stable[0])"

		"... with a backend twice: 400 naming canary[1]"
		"{\"canary\": [\"$CANARY\", \"$CANARY\"]}"
		"canary[1]" "$CANARY is listed twice in canary"

		"... with a CRLF in a backend: 400 naming canary[0], the CR not echoed"
		"{\"canary\": [\"$CANARY\\r\\nX-Injected: 1\"]}"
		"canary[0]" "the endpoint holds a control character (CR at byte 17)"

		"... with a port with a leading zero: 400 naming canary[0]"
		"{\"canary\": [\"$CANARY_IP:080\"]}"
		"canary[0]" "'080' is not a port (a number 1-65535 without leading zeros)"
	)
	http GET "$SVC/demo"
	before=$(jget '[b["address"] for b in d["backends"]]' <<<"$BODY")
	refuses_each PUT "$SVC/demo/backends" demo_refusals
	http GET "$SVC/demo"
	check "after every refusal: demo's backends unchanged" \
		test "$(jget '[b["address"] for b in d["backends"]]' <<<"$BODY")" = "$before"
	http PUT "$SVC/local/backends" -H "$AUTH" -H "$JSON" -d '{"stable": ["127.0.0.1:8001"]}'
	check "a service that allows node-local backends takes a loopback one: 200" \
		test "$CODE" = 200 -a "$(jget '[b["address"] for b in d["backends"]]' <<<"$BODY")" = '["127.0.0.1:8001"]'
	http PUT "$SVC/local/backends" -H "$AUTH" -H "$JSON" -d '{"stable": ["224.0.0.1:8001"]}'
	check "... but no multicast one: 400 naming stable[0]" \
		refused 400 "stable[0]" "multicast"
	http PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d "{\"canary\": [\"$CANARY\"]}"
	check "good backends still go through: 200" test "$CODE" = 200
}

# ---- the API: strings in a rollout body --------------------------------------
test_api_rollout_strings() {
	local rollout_refusals=(
		"a rollout interval with CRLF: 400 naming interval, nothing echoed"
		'{"interval": "10m\r\nX-Injected: 1"}'
		interval "the duration holds a control character (CR at byte 3)"

		"a rollout field whose name holds LF: 400, the name not echoed"
		'{"inter\nval": "10m"}'
		"" "has an unknown field whose name holds a control character"

		"min_requests 1.5: 400 saying 'not 1.5'"
		'{"min_requests": 1.5}'
		min_requests "must be a whole number, not 1.5"

		"an interval of 99999999h: 400 saying too large"
		'{"interval": "99999999h"}'
		interval "'99999999h' is too large"
	)
	refuses_each POST "$SVC/demo/rollout" rollout_refusals
	http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"interval": "10m\u0000"}'
	check "a NUL in a body's string: 400 in kanary's words, not jansson's flag" \
		eval 'refused 400 "" "a string holds \\u0000 (NUL)" && ! grep -q JSON_ALLOW_NUL <<<"$BODY"'
	http GET "$SVC/demo"
	check "after these refusals: demo is idle" test "$(jget 'd["phase"]' <<<"$BODY")" = idle
}

# ---- the config file: a warm-up content type with CRLF -----------------------
test_config_strings() {
	local f=$WORK/injected.json
	cat >"$f" <<EOF
{"interface": "nc0",
 "services": [{"name": "demo", "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
  "stable": ["$STABLE"], "canary": ["$CANARY"],
  "warmup": {"method": "POST", "path": "/predict",
             "content_type": "application/json\r\nX-Injected-CT: 1"}}]}
EOF
	kanaryd_once --check-config "$f"
	check "--check-config refuses a warm-up content type with CRLF, at its line and column" \
		eval 'refused_start && says "$f:5:30: services[0].warmup.content_type: holds a control character (CR at byte 16)"'
	kanaryd_once --config "$f" "${ONCE_FLAGS[@]}"
	check "... and so does the start, with the same words" \
		eval 'refused_start && says "$f:5:30: services[0].warmup.content_type: holds a control character (CR at byte 16)"'
	sed -i 's|"/predict"|"/predict\\n"|; s|\\r\\nX-Injected-CT: 1||' "$f"
	kanaryd_once --check-config "$f"
	check "--check-config refuses a warm-up path with LF before libcurl sees it" \
		eval 'refused_start && says "services[0].warmup.path: holds a control character (LF at byte 8)"'
}

# flag_refused WHAT TEXT FLAGS...: kanaryd with a service on the VIP and
# FLAGS exits 2 (a bad command line), its stderr holding TEXT.
flag_refused() {
	local what=$1 text=$2
	shift 2
	kanaryd_once --iface nc0 --service "$TOPO_VIP:$TOPO_VIP_PORT" "$@" "${ONCE_FLAGS[@]}"
	check "$what" eval 'test "$RC" = 2 && says "$text"'
}

# ---- the flags ---------------------------------------------------------------
test_flags() {
	kanaryd_once --iface nc0 --service "$TOPO_VIP:$TOPO_VIP_PORT" --stable 127.0.0.1:80 "${ONCE_FLAGS[@]}"
	check "kanaryd --stable 127.0.0.1:80 is refused, naming the flag and --allow-local-backends" \
		eval 'test "$RC" = 2 && says "kanaryd: --stable: 127.0.0.1:80 is a loopback address" && says "--allow-local-backends"'
	kanaryd_once --check-config "$WORK/config.json" --allow-local-backends
	check "--allow-local-backends without --service: refused (a file says it per service)" \
		eval 'test "$RC" = 2 && says "describe a --service (in a config file: the service'"'"'s fields)"'
	flag_refused "kanaryd --canary VIP (its own VIP) is refused: a loop" \
		"kanaryd: --canary: $TOPO_VIP:$TOPO_VIP_PORT is the VIP of service 'default'" \
		--stable "$STABLE" --canary "$TOPO_VIP:$TOPO_VIP_PORT"
	flag_refused "kanaryd --canary 239.1.1.1:80 is refused: multicast" \
		"kanaryd: --canary: 239.1.1.1:80 is a multicast address" \
		--stable "$STABLE" --canary 239.1.1.1:80
	flag_refused "kanaryd --canary with a stable backend is refused before attaching" \
		"kanaryd: --canary: $STABLE is also in the stable pool" \
		--stable "$STABLE" --canary "$STABLE"
	flag_refused "kanaryd --name .. is refused" \
		"kanaryd: --name: must not be '.' or '..'" --stable "$STABLE" --name ..
	flag_refused "kanaryd --name -x is refused" \
		"kanaryd: --name: must not start with" --stable "$STABLE" --name -x
	kanaryd_once --iface nc0 --service "$TOPO_VIP:$TOPO_VIP_PORT" --stable "$STABLE" \
		--state-file "$WORK/state"$'\n'"forged log line" --pin-dir "$TOPO_PIN_DIR-once"
	check "a flag's value with a line break is refused, not echoed" \
		eval 'test "$RC" = 2 && says "kanaryd: --state-file: the value holds a control character (LF at byte" && ! grep -q forged <<<"$ERR"'
	flag_refused "kanaryd --stable IP:080 is refused: a port with a leading zero" \
		"'080' is not a port (a number 1-65535 without leading zeros)" --stable "$CANARY_IP:080"
	# The same node-local backend, meant: kanaryd starts.
	topo_node timeout 5 "$KANARY_BIN/kanaryd" --iface nc0 --service "$TOPO_VIP:83" \
		--stable 127.0.0.1:80 --allow-local-backends "${ONCE_FLAGS[@]}" \
		>"$WORK/local.out" 2>"$WORK/local.err"
	RC=$?
	ERR=$(cat "$WORK/local.err")
	check "kanaryd --stable 127.0.0.1:80 --allow-local-backends starts and serves" \
		eval 'test "$RC" = 124 && says "serving 1 service"'
}

# ---- the token file ----------------------------------------------------------
test_token_file() {
	local f=$WORK/broken-token
	printf 'first-half\nsecond-half\n' >"$f"
	chmod 600 "$f"
	kanaryd_once --config "$WORK/config.json" --iface nc0 --token-file "$f" "${ONCE_FLAGS[@]}"
	check "a token file with a line break inside: kanaryd refuses, naming the file" \
		eval 'refused_start && says "token file $f must hold one token on one line"'
	printf 'one-token\r\n' >"$f"
	topo_node timeout 5 "$KANARY_BIN/kanaryd" --config "$WORK/config.json" --iface nc0 \
		--token-file "$f" "${ONCE_FLAGS[@]}" >"$WORK/tok.out" 2>"$WORK/tok.err"
	RC=$?
	ERR=$(cat "$WORK/tok.err")
	check "a token followed by CRLF is one token: kanaryd starts" \
		eval 'test "$RC" = 124 && says "serving 3 services"'
}

# ---- --check-config and the start agree -------------------------------------
# agree NAME FILE [FLAGS...]: --check-config FILE and the start with FILE
# (and FLAGS) both refuse, with the same first line.
agree() {
	local what=$1 f=$2 check_err
	shift 2
	kanaryd_once --check-config "$f" "$@"
	check_err=$(head -n 1 <<<"$ERR")
	check "--check-config refuses $what" eval 'refused_start && test -n "$check_err"'
	kanaryd_once --config "$f" "${ONCE_FLAGS[@]}" "$@"
	echo "#   $check_err"
	check "... and the start refuses it in the same words" \
		eval 'refused_start && test "$(head -n 1 <<<"$ERR")" = "$check_err"'
}

# services_file FILE COUNT [TOP-LEVEL FIELDS]: COUNT services on nc0.
services_file() {
	local f=$1 n=$2 extra=${3:-} i
	{
		echo "{\"interface\": \"nc0\", $extra \"services\": ["
		for ((i = 0; i < n; i++)); do
			printf '%s{"name": "s%d", "vip": "198.18.%d.%d:80", "stable": ["%s"]}\n' \
				"$([ "$i" -gt 0 ] && echo ,)" "$i" $((40 + i / 250)) $((i % 250 + 1)) "$STABLE"
		done
		echo "]}"
	} >"$f"
}

test_check_config_agrees() {
	services_file "$WORK/1025.json" 1025
	agree "1025 services (the kernel has 1024 slots)" "$WORK/1025.json"
	check "... naming the first service too many, with its line" \
		says "1025.json:1026:2: services[1024]: 1025 services, more than the node's 1024 service slots: raise max_services (--max-services; at most 1024)"
	services_file "$WORK/11.json" 11 '"max_services": 10,'
	agree "11 services with max_services 10" "$WORK/11.json"
	check "... naming services[10]" says "services[10]: 11 services, more than the node's 10 service slots"
	services_file "$WORK/3.json" 3
	agree "3 services with --max-services 2" "$WORK/3.json" --max-services 2
	check "... naming the flag" says "services[2]: 3 services, more than the node's 2 service slots: raise max_services (--max-services"
	echo '{}' >"$WORK/empty.json"
	agree "{} (no interface)" "$WORK/empty.json"
	check "... saying the interface is required" says "--iface IF is required (or \"interface\" in the config file)"
	kanaryd_once --check-config "$WORK/empty.json" --iface nc0
	check "{} with --iface: good, as the start would find it" \
		eval 'test "$RC" = 0 && grep -qF "empty.json: good (0 services)" "$WORK/once.out"'
	sed 's/"s1"/"s0"/' "$WORK/3.json" >"$WORK/dup.json"
	agree "two services of one name" "$WORK/dup.json"
	check "... at the name's line and column" says "dup.json:3:11: services[1].name: 's0' is used by services[0] too"
	sed 's/"name": "s1"/"name": ".."/' "$WORK/3.json" >"$WORK/dotdot.json"
	agree "a service named .." "$WORK/dotdot.json"
	sed "s/\"stable\": \[\"$STABLE\"\]}/\"stable\": [\"$STABLE\"], \"canary\": [\"$STABLE\"]}/" \
		"$WORK/3.json" >"$WORK/both.json"
	agree "a backend in both pools" "$WORK/both.json"
	check "... at the canary's line and column" says "both.json:2:"
	services_file "$WORK/good.json" 2
	kanaryd_once --check-config "$WORK/good.json"
	check "a good file: --check-config says good" \
		eval 'test "$RC" = 0 && grep -qF "good.json: good (2 services)" "$WORK/once.out"'
	topo_node timeout 5 "$KANARY_BIN/kanaryd" --config "$WORK/good.json" "${ONCE_FLAGS[@]}" \
		>"$WORK/good.out" 2>"$WORK/good.err"
	RC=$?
	ERR=$(cat "$WORK/good.err")
	check "... and the start serves it" eval 'test "$RC" = 124 && says "serving 2 services"'
}

# ---- every flag a message suggests exists --------------------------------------
test_suggested_flags() {
	local help missing="" flag
	help=$("$KANARY_BIN/kanaryd" --help)
	for flag in $(grep -ohE '"[^"]*--[a-z][a-z-]+[^"]*"' kanaryd/*.c lib/*.c lib/*/*.c |
		grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qE -- "(^|[ ,])$flag([ =,]|$)" <<<"$help" || missing+=" $flag"
	done
	check "every --flag kanaryd's messages suggest is in kanaryd --help${missing:+ (missing:$missing)}" \
		test -z "$missing"
}

demo_kanaryd
test_api_backends
test_api_rollout_strings
# The kanaryds below start on nc0 too: one at a time.
topo_kanaryd_stop
test_config_strings
test_flags
test_token_file
test_check_config_agrees
test_suggested_flags
tap_done
