#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/api.sh - kanaryd's HTTP API from the outside: a real kanaryd on
# the node interface of a test topology (kanary-modelserver backends), driven
# with curl from the node's namespace. Every route, every error code with its
# JSON error and headers, the token on every state change and on no read,
# body limits, malformed JSON, unknown fields, wrong types, requests cut off
# half-way, idle connections, 50 clients at once, /metrics through promtool,
# and the refusal to serve a non-loopback address without a token.
# Needs: curl, python3 (JSON), promtool (package prometheus).
set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/tap.sh
source tests/lib/topology.sh
source tests/lib/json.sh

CURL_TIMEOUT_S=10
PARALLEL=50
WEIGHT_WRITERS=20
MAX_BODY_BYTES=65536
IDLE_TIMEOUT_S=5 # API_CONNECTION_TIMEOUT_S in kanaryd/api.h
IDLE_MARGIN_S=6
IDLE_LIMIT_S=$((IDLE_TIMEOUT_S + IDLE_MARGIN_S + 20))
TOKEN=kanary-test-token-$RANDOM$RANDOM
JSON='Content-Type: application/json'
SVC=/api/v1/services
IDLE_PID=
CODE=
BODY=

cleanup() {
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	topo_destroy
}
trap cleanup EXIT
trap 'exit 130' INT TERM

topo_create 1 1 0 || tap_bail "cannot build the topology"
topo_backends || tap_bail "cannot start the model servers"
WORK=$TOPO_TMP
BASE=$TOPO_API
printf '%s\n' "$TOKEN" >"$WORK/token"
chmod 600 "$WORK/token"
AUTH="Authorization: Bearer $TOKEN"

# demo has both pools; solo has no canary, so weights conflict with it.
cat >"$WORK/config.json" <<EOF
{
  "services": [
    {"name": "demo", "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
     "stable": ["$(topo_pool stable)"], "canary": ["$(topo_pool canary)"],
     "rollout": {"steps": [10, 25, 50, 100], "interval": "10m"}},
    {"name": "solo", "vip": "$TOPO_VIP:81",
     "stable": ["$(topo_pool stable)"]}
  ]
}
EOF

# http METHOD PATH [CURL ARGS...]: sets CODE and BODY; headers in $WORK.
http() {
	local method=$1 path=$2
	shift 2
	rm -f "$WORK/body" "$WORK/headers"
	CODE=$(topo_node curl -sS --max-time "$CURL_TIMEOUT_S" -X "$method" \
		-o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
		"$@" "$BASE$path" 2>"$WORK/curl.err") || true
	BODY=$(cat "$WORK/body" 2>/dev/null)
}

# header NAME: its value in the last response.
header() {
	tr -d '\r' <"$WORK/headers" | sed -n "s/^$1: *//Ip" | head -n 1
}

# is_error CODE FIELD: the last answer is CODE with a JSON error message
# about FIELD ("" for none).
is_error() {
	[ "$CODE" = "$1" ] &&
		[ "$(header Content-Type)" = "application/json" ] &&
		[ "$(jget '"%s|%d" % (d["field"], len(d["error"]) > 0)' <<<"$BODY")" = "$2|1" ]
}

# raw BYTES...: sends the bytes (printf %b: \r, \n, \xff) as they are on one
# connection, ends the client's side, and reads what comes back. Sets CODE
# and BODY from the final response, RESPONSES to how many final responses
# came, WELL_FORMED to 1 when all of it parses as HTTP/1.1 responses with
# exactly Content-Length bytes of body each and nothing after.
cat >"$WORK/raw.py" <<'EOF_RAW'
import json, socket, sys

port, path = int(sys.argv[1]), sys.argv[2]
data = open(path, "rb").read()
is_head = data.lstrip(b"\r\n").startswith(b"HEAD ")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass  # the server may answer and close before it has read it all
buf = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
except OSError:
    pass
out = {"responses": 0, "code": "000", "body": "", "type": "", "well_formed": 1}
pos = 0
while pos < len(buf):
    end = buf.find(b"\r\n\r\n", pos)
    if end < 0 or not buf.startswith(b"HTTP/1.1 ", pos):
        out["well_formed"] = 0
        break
    lines = buf[pos:end].decode("latin-1").split("\r\n")
    status = lines[0][9:12]
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    pos = end + 4
    if status < "200":
        continue
    lengths = fields.get("content-length", [])
    n = int(lengths[0]) if len(lengths) == 1 and lengths[0].isdigit() else -1
    n = 0 if is_head and n >= 0 else n
    if n < 0 or pos + n > len(buf):
        out["well_formed"] = 0
        break
    out["responses"] += 1
    out["code"] = status
    out["body"] = buf[pos:pos + n].decode("utf-8", "replace")
    out["type"] = fields.get("content-type", [""])[0]
    pos += n
print(json.dumps(out))
EOF_RAW
RESPONSES=0
WELL_FORMED=0
raw() {
	local out
	printf '%b' "$@" >"$WORK/raw.req"
	raw_file "$WORK/raw.req"
}

# raw_file FILE: raw with the bytes of FILE.
raw_file() {
	local out
	out=$(topo_node timeout "$CURL_TIMEOUT_S" "$PYTHON" "$WORK/raw.py" \
		"$TOPO_API_PORT" "$1")
	CODE=$(jget 'd["code"]' <<<"$out")
	BODY=$(jget 'd["body"]' <<<"$out")
	RESPONSES=$(jget 'd["responses"]' <<<"$out")
	WELL_FORMED=$(jget 'd["well_formed"]' <<<"$out")
	printf 'Content-Type: %s\n' "$(jget 'd["type"]' <<<"$out")" >"$WORK/headers"
}

# raw_error CODE FIELD: the last raw exchange was one well-formed response,
# CODE with a JSON error about FIELD.
raw_error() {
	[ "$RESPONSES" = 1 ] && [ "$WELL_FORMED" = 1 ] && is_error "$1" "$2"
}

# check WHAT COMMAND...: one TAP line; shows the last answer on failure.
# What check (tests/lib/tap.sh) shows when a check fails.
check_diag() {
	echo "#   last answer: ${CODE:-none} ${BODY:0:300}"
}

phase_of() {
	http GET "$SVC/$1"
	jget 'd["phase"]' <<<"$BODY"
}

weight_of() {
	http GET "$SVC/$1"
	jget 'd["canary_percent"]' <<<"$BODY"
}

# ---- a token is required off loopback ----------------------------------------
# Before the real kanaryd: this one must refuse to start.
timeout 30 nsenter --net=/run/netns/"$(topo_ns node)" "$KANARY_BIN/kanaryd" --iface nc0 \
	--pin-dir "$TOPO_PIN_DIR" --state-file "$WORK/refused-state.json" \
	--config "$WORK/config.json" --listen "$TOPO_NODE_CLIENT_IP:9091" \
	>"$WORK/refused.log" 2>&1
rc=$?
check "kanaryd refuses a non-loopback API address without a token" \
	test "$rc" -ne 0 -a "$rc" -ne 124
check "... and says why and what to do" \
	grep -q "refusing to serve the API on $TOPO_NODE_CLIENT_IP without a token.*--token-file" \
	"$WORK/refused.log"

topo_kanaryd --config "$WORK/config.json" --token-file "$WORK/token" ||
	tap_bail "kanaryd did not start"

# An idle connection must be closed by the server, not held forever.
topo_node timeout "$IDLE_LIMIT_S" bash -c \
	'exec 3<>/dev/tcp/127.0.0.1/'"$TOPO_API_PORT"'; s=$SECONDS;
	 cat <&3 >/dev/null; echo $((SECONDS - s))' >"$WORK/idle.out" 2>&1 &
IDLE_PID=$!

# ---- reads: no token needed ----------------------------------------------------
http GET /healthz
check "GET /healthz: 200 {\"status\": \"ok\"}" \
	test "$CODE" = 200 -a "$(jget 'd["status"]' <<<"$BODY")" = ok

http GET "$SVC"
check "GET $SVC lists both services, as JSON" \
	test "$CODE" = 200 -a "$(header Content-Type)" = application/json \
	-a "$(jget '[s["name"] for s in d["services"]]' <<<"$BODY")" = '["demo", "solo"]'
check "... and says not to cache it" test "$(header Cache-Control)" = no-store

http GET "$SVC/demo"
check "GET $SVC/demo: the status shape" \
	test "$CODE" = 200 -a "$(jget '(d["name"], d["vip"], d["phase"], d["canary_percent"], len(d["backends"]))' <<<"$BODY")" = \
	"[\"demo\", \"$TOPO_VIP:$TOPO_VIP_PORT\", \"idle\", 0.0, 2]"

http GET "$SVC/demo/decisions"
check "GET $SVC/demo/decisions: {name, decisions: []}" \
	test "$CODE" = 200 -a "$(jget '(d["name"], type(d["decisions"]).__name__)' <<<"$BODY")" = '["demo", "list"]'

http GET "$SVC/demo/history"
check "GET $SVC/demo/history: {name, points: [...]}" \
	test "$CODE" = 200 -a "$(jget '(d["name"], type(d["points"]).__name__)' <<<"$BODY")" = '["demo", "list"]'
# One point a second, oldest first, each with both pools' signals; and the
# status carries the newest point's pools.
sleep 2
http GET "$SVC/demo/history"
check "history: >= 2 points, one a second, oldest first, each {t, canary_percent, phase, stable, canary}" \
	test "$(jget 'all(p["t"] < q["t"] <= p["t"] + 1500 for p, q in zip(d["points"], d["points"][1:])) and len(d["points"]) >= 2 and all(sorted(p) == ["canary", "canary_percent", "phase", "stable", "t"] and p["phase"] == "idle" and p["canary_percent"] == 0 and all(sorted(p[k]) == ["error_rate_pct", "p99_ms", "requests"] for k in ("stable", "canary")) for p in d["points"])' <<<"$BODY")" = true
http GET "$SVC/demo"
check "status: pools = the newest history point's signals" \
	test "$(jget 'sorted(d["pools"]["stable"]) == ["error_rate_pct", "p99_ms", "requests"] and sorted(d["pools"]["canary"]) == ["error_rate_pct", "p99_ms", "requests"]' <<<"$BODY")" = true

http GET /metrics
check "GET /metrics: 200 in the Prometheus text format 0.0.4" \
	test "$CODE" = 200 -a "$(header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8"
cp "$WORK/body" "$WORK/metrics.txt"
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1
rc=$?
check "promtool check metrics: no error, no warning" \
	test "$rc" = 0 -a ! -s "$WORK/promtool.out"
[ -s "$WORK/promtool.out" ] && sed 's/^/#   /' "$WORK/promtool.out"
check "/metrics has kanary's own series" grep -q '^kanary_' "$WORK/metrics.txt"

http GET /
check "GET /: the status page, HTML" \
	test "$CODE" = 200 -a "$(header Content-Type)" = "text/html; charset=utf-8"
check "... a self-contained page (no src= or href= leaving kanaryd)" \
	bash -c '! grep -Eiq "(src|href)=\"(https?:)?//" "$1" && grep -q "<title>kanary</title>" "$1"' _ "$WORK/body"
check "... under a policy that forbids other origins" \
	bash -c '[[ "$1" == *"default-src '"'"'none'"'"'"* && "$1" == *"connect-src '"'"'self'"'"'"* ]]' _ "$(header Content-Security-Policy)"

http HEAD /healthz --head
check "HEAD /healthz: 200, headers only" \
	bash -c '[ "$1" = 200 ] && ! grep -q status "$2"' _ "$CODE" "$WORK/body"

# ---- 404 -----------------------------------------------------------------------
http GET /nope
check "GET /nope: 404 with a JSON error" is_error 404 ""
http GET "$SVC/nosuch"
check "GET $SVC/nosuch: 404" is_error 404 ""
check "... naming the service" grep -q "nosuch" "$WORK/body"
http POST "$SVC/nosuch/pause" -H "$AUTH"
check "POST $SVC/nosuch/pause with the token: 404" is_error 404 ""
http GET "$SVC/demo/"
check "GET $SVC/demo/ (trailing slash): 404" is_error 404 ""
http GET "$SVC/demo/frobnicate"
check "GET $SVC/demo/frobnicate: 404" is_error 404 ""
http GET "$SVC//pause"
check "GET $SVC//pause (no name): 404" is_error 404 ""

# ---- 405 -----------------------------------------------------------------------
# not_allowed ALLOW: the last answer is a 405 JSON error with that Allow.
not_allowed() {
	is_error 405 "" && [ "$(header Allow)" = "$1" ]
}

http POST /healthz
check "POST /healthz: 405, Allow: GET, HEAD" not_allowed "GET, HEAD"
http GET "$SVC/demo/pause"
check "GET $SVC/demo/pause: 405, Allow: POST" not_allowed POST
http POST "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 1}'
check "POST $SVC/demo/weight: 405, Allow: PUT" not_allowed PUT
http DELETE "$SVC/demo"
check "DELETE $SVC/demo: 405, Allow: GET, HEAD" not_allowed "GET, HEAD"
check "... with nothing changed" test "$(phase_of demo)" = idle

# ---- 401: every state change needs the token ---------------------------------------
routes_without_token=0
for route in "POST rollout" "POST pause" "POST resume" "POST promote" \
	"POST abort" "PUT weight" "PUT backends"; do
	http ${route% *} "$SVC/demo/${route#* }"
	if is_error 401 "" && [[ "$(header WWW-Authenticate)" == Bearer* ]]; then
		routes_without_token=$((routes_without_token + 1))
	else
		echo "#   ${route}: $CODE $BODY"
	fi
done
check "all 7 state changes without a token: 401 + WWW-Authenticate: Bearer" \
	test "$routes_without_token" = 7
http POST "$SVC/demo/rollout" -H "Authorization: Bearer wrong-$TOKEN"
check "a wrong token: 401, error=\"invalid_token\"" \
	bash -c '[ "$1" = 401 ] && [[ "$2" == *invalid_token* ]]' _ "$CODE" "$(header WWW-Authenticate)"
check "... and the answer echoes no token" \
	bash -c '! grep -q -- "$1" "$2" "$3"' _ "$TOKEN" "$WORK/body" "$WORK/headers"
http POST "$SVC/demo/rollout" -H "Authorization: Basic $(printf 'a:%s' "$TOKEN" | base64)"
check "another scheme (Basic): 401" is_error 401 ""
http POST "$SVC/demo/rollout" -H "Authorization: Bearer ${TOKEN}x"
check "the token with one more character: 401" is_error 401 ""
http POST "$SVC/demo/rollout" -H "Authorization: Bearer ${TOKEN%?}"
check "the token less its last character: 401" is_error 401 ""
check "... none of that changed anything" test "$(phase_of demo)" = idle
reads_without_token=0
for path in / /healthz /metrics "$SVC" "$SVC/demo" "$SVC/demo/decisions" \
	"$SVC/demo/history"; do
	http GET "$path"
	[ "$CODE" = 200 ] && reads_without_token=$((reads_without_token + 1))
done
check "all 7 reads without a token: 200" test "$reads_without_token" = 7

# ---- 403: browsers on other origins -------------------------------------------------
http POST "$SVC/demo/rollout" -H "$AUTH" -H "Origin: http://attacker.example"
check "a state change from another origin: 403" is_error 403 ""
http POST "$SVC/demo/pause" -H "$AUTH" -H "Origin: http://127.0.0.1:$TOPO_API_PORT"
check "from kanaryd's own origin it passes the check (409: idle)" is_error 409 ""

# ---- 415 / 413 ----------------------------------------------------------------------
http POST "$SVC/demo/rollout" -H "$AUTH" -H 'Content-Type: text/plain' -d '{}'
check "a body sent as text/plain: 415" is_error 415 ""
http POST "$SVC/demo/rollout" -H "$AUTH" -H 'Content-Type:' -d '{}'
check "a body without a Content-Type: 415" is_error 415 ""
http POST "$SVC/demo/rollout" -H "$AUTH" -H 'Content-Type: application/json; charset=utf-8' \
	-d '{"interval": "bad"}'
check "application/json with a charset is JSON (400 on the field, not 415)" \
	is_error 400 interval
head -c $((MAX_BODY_BYTES + 1)) /dev/zero | tr '\0' ' ' >"$WORK/big.json"
http PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" --data-binary @"$WORK/big.json"
check "a body of 64 KiB + 1 byte: 413, refused from its Content-Length" is_error 413 ""
http PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -H 'Transfer-Encoding: chunked' \
	--data-binary @"$WORK/big.json"
check "the same body chunked (no length up front): 413" is_error 413 ""
head -c $((MAX_BODY_BYTES * 64)) /dev/zero | tr '\0' ' ' >"$WORK/huge.json"
http PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" --data-binary @"$WORK/huge.json"
check "a 4 MiB body: 413 before it is read" is_error 413 ""
printf '{"canary_percent": 5}%*s' $((MAX_BODY_BYTES - 21)) '' >"$WORK/exact.json"
http PUT "$SVC/solo/weight" -H "$AUTH" -H "$JSON" --data-binary @"$WORK/exact.json"
check "a body of exactly 64 KiB is read (409: solo has no canary)" is_error 409 canary_percent

# ---- 400: what the body says -----------------------------------------------------------
http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"steps": [10, 100]'
check "malformed JSON: 400" is_error 400 ""
check "... with its line and column" \
	test "$(jget '(d["line"], d["column"])' <<<"$BODY")" = "[1, 19]"
printf '{\n  "steps": [10, 100],\n  "interval" "1s"\n}' >"$WORK/bad.json"
http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" --data-binary @"$WORK/bad.json"
check "malformed JSON on line 3: the error says line 3" \
	bash -c '[ "$1" = 3 ] && [[ "$2" == *"line 3"* ]]' _ \
	"$(jget 'd["line"]' <<<"$BODY")" "$(jget 'd["error"]' <<<"$BODY")"
http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"a": 1, "a": 2}'
check "duplicate keys: 400" is_error 400 ""
http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '[10, 25]'
check "a body that is not an object: 400" is_error 400 ""
http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"stepz": [10, 100]}'
check "an unknown rollout field: 400 naming it" is_error 400 stepz
http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"interval": 5}'
check "a wrong type (interval: 5): 400 naming interval" is_error 400 interval
http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"steps": [50, 25, 100]}'
check "steps that go down: 400 naming the step" is_error 400 "steps[1]"
http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"analysis": {"error_confidence": 2}}'
check "a nested field out of range: 400 naming its path" \
	is_error 400 analysis.error_confidence
http PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": "12"}'
check "canary_percent as a string: 400 naming it" is_error 400 canary_percent
http PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 100.001}'
check "canary_percent with three decimals above 100: 400" is_error 400 canary_percent
http PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary": 12}'
check "an unknown weight field: 400 naming it" is_error 400 canary
http PUT "$SVC/demo/weight" -H "$AUTH"
check "PUT weight without a body: 400" is_error 400 ""
http POST "$SVC/demo/pause" -H "$AUTH" -H "$JSON" -d '{"now": true}'
check "pause with a field: 400 naming it" is_error 400 now
printf '\0\0\0' >"$WORK/nul.json"
http POST "$SVC/demo/pause" -H "$AUTH" -H "$JSON" --data-binary @"$WORK/nul.json"
check "a body of NUL bytes is malformed JSON, not an empty body: 400" is_error 400 ""
http POST "$SVC/demo/promote" -H "$AUTH" -H "$JSON" -d '{"full": "yes"}'
check "promote {\"full\": \"yes\"}: 400 naming full" is_error 400 full
http PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d '{"canary": ["198.18.16.20"]}'
check "a backend without a port: 400 naming canary[0]" is_error 400 "canary[0]"
http PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d '{"canary": "198.18.16.20:8000"}'
check "a pool that is not a list: 400 naming canary" is_error 400 canary
http PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d '{}'
check "backends with neither pool: 400" is_error 400 ""
http PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d '{"stable": []}'
check "an empty stable pool: 400 naming stable" is_error 400 stable
http PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d "{\"canary\": [\"$(topo_pool stable)\"]}"
check "a canary that is the stable backend: 400 naming canary[0]" is_error 400 "canary[0]"
http PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" \
	-d "{\"stable\": [\"$(topo_pool stable)\", \"$(topo_pool stable)\"]}"
check "a backend listed twice: 400 naming stable[1]" is_error 400 "stable[1]"
http GET "$SVC/demo"
check "after every refusal: still idle at 0 % with both backends" \
	test "$(jget '(d["phase"], d["canary_percent"], [b["address"] for b in d["backends"]])' <<<"$BODY")" = \
	"[\"idle\", 0.0, [\"$(topo_pool stable)\", \"$(topo_pool canary)\"]]"

# ---- 400 and friends: the request itself -----------------------------------------
# What libmicrohttpd would have decoded, truncated, answered twice or in
# HTML is refused by kanaryd's front door with one JSON error.
H="Host: 127.0.0.1\r\n"
A="$AUTH\r\n"
raw "POST $SVC/demo/abort%00anything HTTP/1.1\r\n$H$A\r\n"
check "POST .../abort%00anything: 400 naming the path, not an abort" raw_error 400 path
raw "POST $SVC/demo/rollout%00/../../x HTTP/1.1\r\n$H$A\r\n"
check "POST .../rollout%00/../../x: 400 naming the path" raw_error 400 path
check "... and no rollout started" test "$(phase_of demo)" = idle
raw "GET $SVC/demo%2fhistory HTTP/1.1\r\n$H\r\n"
check "an escaped slash (demo%2fhistory): 400" raw_error 400 path
raw "GET $SVC/./demo HTTP/1.1\r\n$H\r\n"
check "a '.' segment: 400" raw_error 400 path
raw "GET /api/v1/x/%2E%2E/services/demo HTTP/1.1\r\n$H\r\n"
check "an escaped '..' segment: 400" raw_error 400 path
raw "GET $SVC/%FF HTTP/1.1\r\n$H\r\n"
check "GET $SVC/%FF (invalid UTF-8): 400, not a closed connection" raw_error 400 path
raw "GET $SVC/\xff HTTP/1.1\r\n$H\r\n"
check "GET $SVC/ and a raw 0xFF byte: 400" raw_error 400 path
raw "GET $SVC/d%C3 HTTP/1.1\r\n$H\r\n"
check "a cut UTF-8 sequence (%C3): 400" raw_error 400 path
raw "PUT $SVC/demo/weight HTTP/1.1\r\n$H${A}Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n"
check "Content-Length 99999999999999999999: one well-formed JSON 413" \
	raw_error 413 Content-Length
raw "PUT $SVC/demo/weight HTTP/1.1\r\n$H${A}Content-Type: application/json\r\nContent-Length: -5\r\n\r\n"
check "Content-Length -5: one well-formed JSON 400" raw_error 400 Content-Length
raw "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n"
check "an empty Host: one well-formed JSON 400" raw_error 400 Host
raw "GET /healthz HTTP/1.1\r\n\r\n"
check "HTTP/1.1 without Host: one well-formed JSON 400" raw_error 400 Host
raw "PUT $SVC/demo/weight HTTP/1.1\r\n$H${A}Content-Type: application/json\r\nContent-Length: 22\r\nContent-Length: 2\r\n\r\n{\"canary_percent\": 9}\n"
check "two Content-Length headers that disagree: 400" raw_error 400 Content-Length
check "... and the weight is unchanged" test "$(weight_of demo)" = 0.0
for name in Host Origin Authorization Content-Type; do
	case $name in
	Host) twice="Host: 127.0.0.1\r\nHost: evil.example\r\n" ;;
	Origin) twice="${H}Origin: http://127.0.0.1\r\nOrigin: http://evil.example\r\n" ;;
	Authorization) twice="$H$A${A}" ;;
	Content-Type) twice="${H}Content-Type: application/json\r\nContent-Type: text/plain\r\n" ;;
	esac
	raw "POST $SVC/demo/pause HTTP/1.1\r\n$twice\r\n"
	check "$name twice: 400 naming $name" raw_error 400 "$name"
done
raw "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:$TOPO_API_PORT@evil.example\r\n\r\n"
check "Host: 127.0.0.1:PORT@evil.example: 400, not 200" raw_error 400 Host
raw "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:$TOPO_API_PORT\r\nX-Folded: a\r\n b\r\n\r\n"
check "a folded header line: one well-formed JSON 400" raw_error 400 ""
raw "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n"
check "lines ending in a bare LF: one well-formed JSON 400" raw_error 400 ""
raw "GET /healthz HTTP/1.1\r\n${H}X-Long: $(head -c 9000 /dev/zero | tr '\0' x)\r\n\r\n"
check "a head over 8 KiB: one well-formed JSON 431" raw_error 431 ""
raw "HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: a\r\n\r\n"
check "a refused HEAD: 400 with headers only" \
	bash -c '[ "$1" = 400 ] && [ "$2" = 1 ] && [ "$3" = 1 ] && [ -z "$4" ]' _ \
	"$CODE" "$RESPONSES" "$WELL_FORMED" "$BODY"
raw "GET /healthz HTTP/1.1\r\n$H\r\nGET /healthz HTTP/1.1\r\n$H\r\n"
check "two requests on one connection: one answer, Connection: close" \
	test "$CODE|$RESPONSES|$WELL_FORMED" = "200|1|1"
raw "PUT $SVC/demo/weight HTTP/1.1\r\n$H${A}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
check "malformed chunked framing: one well-formed JSON 400" raw_error 400 ""
"$PYTHON" - "$WORK/chunked.req" "$H$A" <<'EOF_CHUNKED'
import sys
chunk = b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n"
head = b"PUT /api/v1/services/demo/weight HTTP/1.1\r\n" + sys.argv[2].encode().decode("unicode_escape").encode()
head += b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
open(sys.argv[1], "wb").write(head + chunk * 17 + b"0\r\n\r\n")
EOF_CHUNKED
raw_file "$WORK/chunked.req"
check "a chunked body over 1 MiB: one JSON 413 before the close" raw_error 413 ""

# A request cut off half-way through its body never reaches the agent.
topo_node timeout 10 bash -c '
	exec 3<>/dev/tcp/127.0.0.1/'"$TOPO_API_PORT"'
	printf "POST '"$SVC"'/demo/rollout HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"steps\": [" "'"$AUTH"'" >&3
	exec 3>&-' 2>/dev/null
sleep 0.3
check "a body cut off half-way changes nothing" test "$(phase_of demo)" = idle

# ---- 409: what the phase does not allow ---------------------------------------------------
http POST "$SVC/demo/pause" -H "$AUTH"
check "pause while idle: 409" is_error 409 ""
http POST "$SVC/demo/abort" -H "$AUTH"
check "abort while idle: 409" is_error 409 ""
http PUT "$SVC/solo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 10}'
check "a weight for a service without canary backends: 409" is_error 409 canary_percent

# ---- the operations ---------------------------------------------------------------------------
http POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"steps": [10, 25, 50, 100], "interval": "10m"}'
check "POST rollout: 200, progressing at step 1/4, 10 %" \
	test "$CODE" = 200 -a "$(jget '(d["phase"], d["step"], d["steps"], d["canary_percent"])' <<<"$BODY")" = \
	'["progressing", 1, 4, 10.0]'
check "... and the answer carries the spec in use" \
	test "$(jget '(d["rollout"]["steps"], d["rollout"]["interval"])' <<<"$BODY")" = '[[10, 25, 50, 100], "10m"]'
http POST "$SVC/demo/rollout" -H "$AUTH"
check "a second rollout while one runs: 409" is_error 409 ""
http PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d "{\"canary\": [\"$(topo_pool canary)\"]}"
check "new backends during a rollout: 409" is_error 409 ""
http PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 50}'
check "a weight by hand during a rollout: 409" is_error 409 ""
http POST "$SVC/demo/pause" -H "$AUTH"
check "POST pause: 200, paused" test "$CODE" = 200 -a "$(jget 'd["phase"]' <<<"$BODY")" = paused
http POST "$SVC/demo/pause" -H "$AUTH" -H "$JSON" -d '{}'
check "pause again (body {}): 409" is_error 409 ""
http POST "$SVC/demo/resume" -H "$AUTH" -H "$JSON" -d '{}'
check "POST resume: 200, progressing" test "$CODE" = 200 -a "$(jget 'd["phase"]' <<<"$BODY")" = progressing
http POST "$SVC/demo/promote" -H "$AUTH"
check "POST promote: 200, step 2/4 at 25 %" \
	test "$CODE" = 200 -a "$(jget '(d["step"], d["canary_percent"])' <<<"$BODY")" = "[2, 25.0]"
http POST "$SVC/demo/promote" -H "$AUTH" -H "$JSON" -d '{"full": true}'
check "POST promote {\"full\": true}: 200, promoted" \
	test "$CODE" = 200 -a "$(jget 'd["phase"]' <<<"$BODY")" = promoted
http POST "$SVC/demo/abort" -H "$AUTH"
check "abort after the promotion: 409" is_error 409 ""
http PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d "{\"canary\": [\"$(topo_pool stable)\"]}"
check "PUT backends: 200, the old stable is the canary again" \
	test "$CODE" = 200 -a "$(jget '[b["pool"] for b in d["backends"]]' <<<"$BODY")" = '["stable", "canary"]'
http POST "$SVC/demo/rollout" -H "$AUTH"
check "POST rollout without a body: the configured spec (4 steps)" \
	test "$CODE" = 200 -a "$(jget '(d["phase"], d["steps"])' <<<"$BODY")" = '["progressing", 4]'
http POST "$SVC/demo/abort" -H "$AUTH"
check "POST abort: 200, aborted at 0 %" \
	test "$CODE" = 200 -a "$(jget '(d["phase"], d["canary_percent"])' <<<"$BODY")" = '["aborted", 0.0]'
http PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 12.5}'
check "PUT weight 12.5: 200, 12.5 %" \
	test "$CODE" = 200 -a "$(jget 'd["canary_percent"]' <<<"$BODY")" = 12.5
http GET "$SVC/demo/decisions"
check "the decision log has every change, oldest first" \
	test "$(jget '[x.get("event") for x in d["decisions"] if x.get("event")]' <<<"$BODY")" = \
	'["rollout started", "paused", "resumed", "promoted one step", "promoted fully", "backends set", "rollout started", "aborted", "weight set"]'

# ---- many clients at once ------------------------------------------------------------------------
paths=(/healthz "$SVC" "$SVC/demo" "$SVC/demo/history" "$SVC/demo/decisions" /metrics)
pids=()
for ((i = 0; i < PARALLEL; i++)); do
	path=${paths[$((i % ${#paths[@]}))]}
	topo_node curl -sS --max-time "$CURL_TIMEOUT_S" -o "$WORK/par.$i" \
		-w '%{http_code}' "$BASE$path" >"$WORK/par.$i.code" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
answered=0
for ((i = 0; i < PARALLEL; i++)); do
	path=${paths[$((i % ${#paths[@]}))]}
	[ "$(cat "$WORK/par.$i.code")" = 200 ] || continue
	if [ "$path" = /metrics ]; then
		grep -q '^kanary_' "$WORK/par.$i" && answered=$((answered + 1))
	elif [[ "$(jget 'type(d).__name__' <"$WORK/par.$i")" = dict ]]; then
		answered=$((answered + 1))
	fi
done
check "$PARALLEL clients at once: all answered 200 with a whole answer" \
	test "$answered" = "$PARALLEL"

pids=()
for ((i = 1; i <= WEIGHT_WRITERS; i++)); do
	topo_node curl -sS --max-time "$CURL_TIMEOUT_S" -o /dev/null -w '%{http_code}' \
		-X PUT -H "$AUTH" -H "$JSON" -d "{\"canary_percent\": $i}" \
		"$BASE$SVC/demo/weight" >"$WORK/w.$i.code" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
ok=0
for ((i = 1; i <= WEIGHT_WRITERS; i++)); do
	[ "$(cat "$WORK/w.$i.code")" = 200 ] && ok=$((ok + 1))
done
check "$WEIGHT_WRITERS weight changes at once: all 200" test "$ok" = "$WEIGHT_WRITERS"
final=$(weight_of demo)
http GET "$SVC/demo/decisions"
last=$(jget '[x["canary_percent"] for x in d["decisions"] if x.get("event") == "weight set"][-1]' <<<"$BODY")
check "... serialized: the weight is the last one logged ($final)" \
	test "$final" = "$last" -a "$(jget 'sum(1 for x in d["decisions"] if x.get("event") == "weight set")' <<<"$BODY")" = $((WEIGHT_WRITERS + 1))

# ---- bodies where none is taken ------------------------------------------------------------------
http GET "$SVC" -H 'Content-Type: application/json' --data-binary '{"x": 1}' -X GET
check "a GET with a body is refused at once (400)" is_error 400 ""
# Requests that announce a body and go away must not hold the API: after
# 100 of them, on a route that needs no token, /healthz still answers.
topo_node bash -c 'for i in $(seq 100); do exec {fd}<>/dev/tcp/127.0.0.1/'"$TOPO_API_PORT"'
	printf "GET /api/v1/services HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20\r\n\r\n{" >&$fd
	exec {fd}>&-; done'
http GET /healthz -m 2
check "100 abandoned bodies leave the API answering" test "$CODE" = 200

# ---- connections ---------------------------------------------------------------------------------
wait "$IDLE_PID"
idle_s=$(cat "$WORK/idle.out" 2>/dev/null)
IDLE_PID=
CODE=
BODY=
check "an idle connection is closed after ~${IDLE_TIMEOUT_S}s (took ${idle_s:-?}s)" \
	bash -c '[[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge $(($2 - 2)) ] && [ "$1" -le $(($2 + $3)) ]' _ \
	"$idle_s" "$IDLE_TIMEOUT_S" "$IDLE_MARGIN_S"
check "kanaryd is still alive after all of it" kill -0 "$TOPO_KANARYD_PID"
http GET /healthz
check "... and answers" test "$CODE" = 200
check "kanaryd logged the state changes, never the token" \
	bash -c 'grep -q "api: PUT /api/v1/services/demo/weight: 200" "$1" && ! grep -q -- "$2" "$1"' _ \
	"$WORK/kanaryd.log" "$TOKEN"

tap_done
