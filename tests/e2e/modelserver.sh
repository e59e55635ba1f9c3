#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/e2e/modelserver.sh - kanary-modelserver from the outside: the real
# binary on 127.0.0.1 (port 0, read back from its log), driven with curl.
# Every endpoint and error code, the fault knobs at start and at run time,
# /metrics through promtool and against the requests sent, streamed
# completions (headers before the first token, one event per token, errors
# inside the 200) and vLLM's series for them, and a clean stop.
#
# Output is TAP; the exit status is non-zero if any check failed. Servers
# are always killed on exit. KANARY_MODELSERVER overrides the binary.
# Needs: curl, python3 (JSON), promtool (package prometheus); bin/kanaryctl
# (KANARYCTL overrides it) to read the page as kanary's vllm preset does.

set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/json.sh

PLAN=109
BIN=${KANARY_MODELSERVER:-bin/kanary-modelserver}
KANARYCTL=${KANARYCTL:-bin/kanaryctl}
CURL_TIMEOUT_S=10
START_POLLS=200 # x 0.05 s: 10 s for a (sanitized) server to come up
STOP_POLLS=200  # x 0.05 s: 10 s for it to exit after a signal
MAX_BODY_BYTES=65536
JSON='Content-Type: application/json'
# The completion knobs of /admin/faults at their defaults (a Python dict's
# tail, for the checks that compare every knob)
STREAM_KNOBS='"ttft_ms": 0, "token_ms": 0, "tokens": 16, "stream_error_rate": 0'
POSITIVE='The staff were friendly and the food was excellent.'
NEGATIVE='The room was dirty and the service was terrible.'

WORK=$(mktemp -d /tmp/kanary-modelserver-e2e.XXXXXX)
SERVER_PIDS=()
N=0
FAILED=0
CODE=
BODY=

cleanup() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# tap STATUS DESCRIPTION: one TAP line; STATUS is the $? of the check.
tap() {
	N=$((N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $N - $2"
	else
		FAILED=$((FAILED + 1))
		echo "not ok $N - $2"
		echo "#   last response: ${CODE:-none} ${BODY:0:300}"
	fi
}

# start_server NAME ARGS...: starts the binary on a free port; sets
# SERVER_PID, PORT, BASE and LOG. Fails if it does not come up.
start_server() {
	local name=$1 i
	shift
	LOG=$WORK/$name.log
	PORT=
	"$BIN" --listen 127.0.0.1:0 "$@" 2>"$LOG" &
	SERVER_PID=$!
	SERVER_PIDS+=("$SERVER_PID")
	for ((i = 0; i < START_POLLS; i++)); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]\+\):.*/\1/p' "$LOG")
		[ -n "$PORT" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	BASE=http://127.0.0.1:$PORT
	[ -n "$PORT" ]
}

# stop_server PID SIGNAL: signals it and waits (bounded); sets STOP_RC to
# its exit status, or "timeout" when it had to be killed.
stop_server() {
	local pid=$1 i rc
	STOP_RC=
	kill -"$2" "$pid" 2>/dev/null
	for ((i = 0; i < STOP_POLLS; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		STOP_RC=timeout
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	[ -n "$STOP_RC" ] || STOP_RC=$rc
}

# raw_http REQUEST: sends REQUEST (HTTP/1.0, so the server closes) over a
# plain socket and prints the whole answer, byte for byte.
raw_http() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	printf '%s' "$1" >&3
	timeout "$CURL_TIMEOUT_S" cat <&3
	exec 3<&-
}

# http METHOD PATH [CURL ARGS...]: sets CODE and BODY; headers in $WORK.
http() {
	local method=$1 path=$2
	shift 2
	rm -f "$WORK/body" "$WORK/headers"
	CODE=$(curl -sS --max-time "$CURL_TIMEOUT_S" -X "$method" \
		-o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
		"$@" "$BASE$path" 2>"$WORK/curl.err") || true
	BODY=$(cat "$WORK/body" 2>/dev/null)
}

predict() {
	http POST /predict -H "$JSON" --data-binary "$1"
}

# header NAME: the value of that header in the last response.
header() {
	tr -d '\r' <"$WORK/headers" | sed -n "s/^$1: *//Ip" | head -n 1
}

# is_error CODE FIELD: last response has that code and a JSON error about
# FIELD ("null" for none).
is_error() {
	[ "$CODE" = "$1" ] &&
		[ "$(jget 'd["field"]' <<<"$BODY")" = "$2" ] &&
		[ -n "$(jget 'd["error"]' <<<"$BODY")" ]
}

# codes COUNT PATH CURL ARGS...: COUNT requests over one connection; prints
# one status code a line.
codes() {
	local count=$1 path=$2 i
	local urls=()
	shift 2
	for ((i = 0; i < count; i++)); do
		urls+=(-o /dev/null "$BASE$path")
	done
	curl -s --max-time $((CURL_TIMEOUT_S * 6)) -w '%{http_code}\n' \
		"$@" "${urls[@]}"
}

# bodies COUNT TEXT: COUNT predictions of TEXT; prints one body a line.
bodies() {
	local count=$1 i
	local urls=()
	for ((i = 0; i < count; i++)); do
		urls+=("$BASE/predict")
	done
	curl -s --max-time $((CURL_TIMEOUT_S * 6)) -w '\n' -H "$JSON" \
		--data-binary "{\"text\":\"$2\"}" "${urls[@]}"
}

scrape() {
	curl -s --max-time "$CURL_TIMEOUT_S" "$BASE/metrics" >"$WORK/metrics"
}

# metric SERIES: its value in the last scrape (0 when absent).
metric() {
	awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$WORK/metrics"
}

# family_sum PREFIX: the sum of the series whose name{labels} starts so.
family_sum() {
	awk -v p="$1" 'index($1, p) == 1 { s += $2 } END { print s + 0 }' \
		"$WORK/metrics"
}

req_total() {
	metric "http_requests_total{code=\"$1\",handler=\"/predict\",method=\"$2\"}"
}

predictions() {
	metric "kanary_predictions_total{label=\"$1\",model=\"$2\"}"
}

# within X LO HI: LO <= X <= HI, in floating point.
within() {
	python3 -c 'import sys; x, lo, hi = map(float, sys.argv[1:]); sys.exit(not lo <= x <= hi)' "$@"
}

# binomial_ok HITS TRIALS P: HITS is within 5 standard deviations of
# TRIALS * P (a false alarm about once in 3.5 million runs).
binomial_ok() {
	python3 -c '
import math, sys
hits, n, p = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
sd = math.sqrt(n * p * (1 - p))
sys.exit(not abs(hits - n * p) <= 5 * sd)' "$@"
}

# promtool_ok FILE: promtool finds nothing wrong with the page but the
# ':' of vLLM's own names, which its lint keeps for recording rules.
promtool_ok() {
	local lint rc others
	lint=$(promtool check metrics <"$1" 2>&1)
	rc=$?
	others=$(grep -v "^vllm:[a-z0-9_]* metric names should not contain ':'$" <<<"$lint")
	if [ -n "$others" ]; then
		while IFS= read -r line; do echo "#   $line"; done <<<"$others"
	fi
	{ [ "$rc" = 0 ] || [ "$rc" = 3 ]; } && [ -z "$others" ]
}

# sse PATH BODY: POSTs BODY to PATH over a plain socket (HTTP/1.1) and
# decodes the answer itself, chunked framing included; writes a JSON
# summary to $WORK/sse: status, headers, when the headers and each event
# came (seconds after sending), and the events' data.
sse() {
	python3 - "$PORT" "$1" "$2" "$CURL_TIMEOUT_S" >"$WORK/sse" <<'PY'
import json, socket, sys, time
port, path, body, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode(), float(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
t0 = time.monotonic()
s.sendall(b"POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % (path.encode(), len(body)) + body)
buf, out = b"", {"events": [], "event_s": []}
def more():
    global buf
    d = s.recv(65536)
    if not d:
        raise EOFError
    buf += d
while b"\r\n\r\n" not in buf:
    more()
out["headers_s"] = time.monotonic() - t0
head, buf = buf.split(b"\r\n\r\n", 1)
lines = head.decode().split("\r\n")
out["status"] = int(lines[0].split()[1])
out["headers"] = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
body_bytes, text = b"", ""
try:
    if out["headers"].get("transfer-encoding") == "chunked":
        while True:
            while b"\r\n" not in buf:
                more()
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line, 16)
            while len(buf) < size + 2:
                more()
            chunk, buf = buf[:size], buf[size + 2:]
            if size == 0:
                break
            text += chunk.decode()
            while "\n\n" in text:
                event, text = text.split("\n\n", 1)
                out["events"].append(event)
                out["event_s"].append(time.monotonic() - t0)
    else:
        n = int(out["headers"].get("content-length", "0"))
        while len(buf) < n:
            more()
        out["body"] = buf[:n].decode()
except EOFError:
    out["eof_early"] = True
out["rest"] = text
json.dump(out, sys.stdout)
PY
}

# sse_eval CODE: runs the Python statements CODE with d bound to the
# summary sse wrote (and json as j); prints what they left in r, as JSON.
sse_eval() {
	"$PYTHON" -c '
import json, sys
d, j = json.load(open(sys.argv[2])), json
exec(sys.argv[1])
print(json.dumps(r))' "$1" "$WORK/sse" 2>&1
}

put_faults() {
	http PUT /admin/faults -H "$JSON" --data-binary "$1"
}

# wait_pids PID...: waits for those children only (never the servers).
wait_pids() {
	local pid
	for pid in "$@"; do
		wait "$pid" 2>/dev/null
	done
}

# elapsed_since NANOSECONDS: seconds since that `date +%s%N`.
elapsed_since() {
	python3 -c "import sys; print((int(sys.argv[2]) - int(sys.argv[1])) / 1e9)" \
		"$1" "$(date +%s%N)"
}

# stop_mid_request PID FAULTS PATH BODY: with FAULTS holding a request to
# PATH (curl -N: a stream is read as it comes), SIGTERM to the server PID;
# sets STOP_RC and elapsed_s, the seconds the stop took.
stop_mid_request() {
	local held start
	put_faults "$2"
	curl -sN -o /dev/null --max-time "$CURL_TIMEOUT_S" -H "$JSON" \
		--data-binary "$4" "$BASE$3" &
	held=$!
	sleep 0.2
	start=$(date +%s%N)
	stop_server "$1" TERM
	elapsed_s=$(elapsed_since "$start")
	wait_pids "$held"
}

echo "1..$PLAN"

if [ ! -x "$BIN" ]; then
	echo "Bail out! $BIN is missing: run make bin/kanary-modelserver"
	exit 1
fi
for tool in curl python3 promtool; do
	if ! command -v "$tool" >/dev/null; then
		echo "Bail out! $tool is missing: run make deps"
		exit 1
	fi
done

# ---- command line -----------------------------------------------------------

out=$("$BIN" --help 2>&1)
rc=$?
[ "$rc" = 0 ] && [[ "$out" == *"Usage: kanary-modelserver --listen"* ]]
tap $? "--help prints the usage and exits 0"

# cli_fails TEXT ARGS...: the binary exits 2 with TEXT in its message.
cli_fails() {
	local want=$1 out rc
	shift
	out=$("$BIN" "$@" 2>&1 </dev/null)
	rc=$?
	[ "$rc" = 2 ] && [[ "$out" == *"$want"* ]]
}
cli_fails "bad value '1.5' for --error-rate" --listen 127.0.0.1:0 --error-rate 1.5
tap $? "a bad --error-rate exits 2 naming the flag and the value"
cli_fails "bad value '-5' for --latency-ms" --listen 127.0.0.1:0 --latency-ms -5
tap $? "a bad --latency-ms exits 2 naming the flag and the value"
cli_fails "bad value 'v9' for --model" --listen 127.0.0.1:0 --model v9
tap $? "a bad --model exits 2 naming the flag and the value"
cli_fails "bad value 'localhost' for --listen" --listen localhost
tap $? "a bad --listen exits 2 naming the flag and the value"
cli_fails "unknown flag '--frobnicate'" --listen 127.0.0.1:0 --frobnicate
tap $? "an unknown flag exits 2 naming it"
cli_fails "flag --seed needs a value" --listen 127.0.0.1:0 --seed
tap $? "a flag without its value exits 2 naming it"
cli_fails "missing --listen" --model v1
tap $? "no --listen exits 2 and says so"
cli_fails "needs --skew-label" --listen 127.0.0.1:0 --skew 0.5
tap $? "--skew without --skew-label exits 2 and says so"

# ---- the main server --------------------------------------------------------

if ! start_server main --seed 42; then
	echo "Bail out! the server did not start; its log:"
	sed 's/^/# /' "$LOG"
	exit 1
fi
MAIN_PID=$SERVER_PID
MAIN_LOG=$LOG
MAIN_BASE=$BASE
MAIN_PORT=$PORT
[ "$PORT" -gt 0 ]
tap $? "the server starts on a free port and logs it"

# What /metrics must count: every /predict answer, by method and code.
declare -A SENT=()
sent() { # METHOD:CODE [COUNT]
	SENT[$1]=$((${SENT[$1]:-0} + ${2:-1}))
}

http GET /healthz
[ "$CODE" = 200 ] && [ "$BODY" = ok ]
tap $? "GET /healthz is 200 ok"
raw_http $'HEAD /healthz HTTP/1.0\r\n\r\n' >"$WORK/head"
head -n 1 "$WORK/head" | grep -q '^HTTP/1.[01] 200 ' &&
	grep -q $'^Content-Length: 3\r$' "$WORK/head" &&
	[ "$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); print(len(d.split(b"\r\n\r\n", 1)[1]))' "$WORK/head")" = 0 ]
tap $? "HEAD /healthz is 200 with the length of ok but no body"

predict "{\"text\":\"$POSITIVE\"}"
sent POST:200
first=$BODY
[ "$CODE" = 200 ] && [ "$(header Content-Type)" = application/json ] &&
	[ "$(jget 'sorted(d)' <<<"$BODY")" = '["label", "model", "scores"]' ] &&
	[ "$(jget 'd["model"]' <<<"$BODY")" = v1 ]
tap $? "POST /predict answers 200 with label, scores and model"
[ "$(jget 'd["label"]' <<<"$BODY")" = positive ]
tap $? "a friendly sentence is positive"
[ "$(jget 'sorted(d["scores"]) == ["negative", "neutral", "positive"] and abs(sum(d["scores"].values()) - 1) < 1e-4 and max(d["scores"], key=d["scores"].get) == d["label"]' <<<"$BODY")" = true ]
tap $? "the scores are probabilities of the three labels, the label the top one"
predict "{\"text\":\"$POSITIVE\"}"
sent POST:200
[ "$BODY" = "$first" ]
tap $? "the same text gets the same answer"
predict "{\"text\":\"$NEGATIVE\"}"
sent POST:200
[ "$(jget 'd["label"]' <<<"$BODY")" = negative ]
tap $? "a complaint is negative"
predict '{"text":"The parcel weighs two kilograms.","request_id":7}'
sent POST:200
[ "$CODE" = 200 ] && [ "$(jget 'd["label"]' <<<"$BODY")" = neutral ]
tap $? "a plain fact is neutral, and extra fields are ignored"
predict '{"text":""}'
sent POST:200
[ "$(jget 'd["label"] == "neutral" and all(abs(v - 1/3) < 1e-4 for v in d["scores"].values())' <<<"$BODY")" = true ]
tap $? "empty text is neutral with even scores"

# ---- /predict errors --------------------------------------------------------

predict '{"text": "unfinished'
sent POST:400
is_error 400 null && [[ "$(jget 'd["error"]' <<<"$BODY")" == *"line 1, column"* ]]
tap $? "malformed JSON is 400 and says where"
predict '["text"]'
sent POST:400
is_error 400 null
tap $? "a JSON array instead of an object is 400"
predict '{"txt":"hello"}'
sent POST:400
is_error 400 text
tap $? "a missing text is 400 naming the field"
predict '{"text":42}'
sent POST:400
is_error 400 text
tap $? "a text that is not a string is 400 naming the field"
http POST /predict -H 'Content-Type: text/plain' --data-binary '{"text":"hi"}'
sent POST:415
is_error 415 null
tap $? "a body that is not JSON by its Content-Type is 415"

python3 -c "import json; print(json.dumps({'text': 'a' * $MAX_BODY_BYTES}))" >"$WORK/big.json"
python3 -c "import json; print(json.dumps({'text': 'a' * ($MAX_BODY_BYTES - 100)}))" >"$WORK/fits.json"
http POST /predict -H "$JSON" --data-binary @"$WORK/big.json"
sent POST:413
is_error 413 null
tap $? "a body over 64 KiB is 413"
http POST /predict -H "$JSON" -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/big.json"
sent POST:413
is_error 413 null
tap $? "a chunked body over 64 KiB is 413 too"
http POST /predict -H "$JSON" -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/fits.json"
sent POST:200
[ "$CODE" = 200 ]
tap $? "a body just under 64 KiB is classified"

http GET /predict
sent GET:405
is_error 405 null && [ "$(header Allow)" = POST ]
tap $? "GET /predict is 405 with Allow: POST"
http PUT /healthz -H "$JSON" --data-binary '{}'
is_error 405 null && [ "$(header Allow)" = "GET, HEAD" ]
tap $? "PUT /healthz is 405 with Allow: GET, HEAD"
http DELETE /admin/faults
is_error 405 null && [ "$(header Allow)" = "GET, HEAD, PUT" ]
tap $? "DELETE /admin/faults is 405 with Allow: GET, HEAD, PUT"
http GET /predictions
is_error 404 null
tap $? "an unknown path is 404 in JSON"
http GET /
is_error 404 null
tap $? "the root is 404 too"

# ---- /admin/faults ----------------------------------------------------------

http GET /admin/faults
[ "$CODE" = 200 ] &&
	[ "$(jget 'd == {"error_rate": 0, "latency_ms": 0, "skew": 0, "skew_label": None, "metrics_down": False, '"$STREAM_KNOBS"'}' <<<"$BODY")" = true ]
tap $? "GET /admin/faults shows the knobs, all off"
put_faults '{"latency_ms":5}'
[ "$CODE" = 200 ] &&
	[ "$(jget 'd == {"error_rate": 0, "latency_ms": 5, "skew": 0, "skew_label": None, "metrics_down": False, '"$STREAM_KNOBS"'}' <<<"$BODY")" = true ]
tap $? "PUT /admin/faults sets a subset and answers the new knobs"
put_faults '{"latency_ms":5,"colour":"red"}'
is_error 400 colour
tap $? "an unknown field is 400 naming it"
put_faults '{"error_rate":1.5}'
is_error 400 error_rate
tap $? "an error_rate out of range is 400 naming it"
put_faults '{"latency_ms":-1}'
is_error 400 latency_ms
tap $? "a negative latency_ms is 400 naming it"
put_faults '{"skew":"half"}'
is_error 400 skew
tap $? "a skew that is not a number is 400 naming it"
put_faults '{"skew_label":"angry"}'
is_error 400 skew_label
tap $? "an unknown skew_label is 400 naming it"
put_faults '{"skew":0.5}'
is_error 400 skew_label
tap $? "a skew without a skew_label is 400 naming skew_label"
put_faults '{"error_rate":0.5,"latency_ms":70000}'
is_error 400 latency_ms
tap $? "an update with one bad value of two is 400"
put_faults '{"error_rate":0.5'
is_error 400 null
tap $? "malformed JSON on /admin/faults is 400"
http PUT /admin/faults -H 'Content-Type: text/plain' --data-binary '{}'
is_error 415 null
tap $? "a PUT that is not JSON by its Content-Type is 415"
http GET /admin/faults
[ "$(jget 'd == {"error_rate": 0, "latency_ms": 5, "skew": 0, "skew_label": None, "metrics_down": False, '"$STREAM_KNOBS"'}' <<<"$BODY")" = true ]
tap $? "failed updates changed nothing (all or nothing)"
put_faults '{"latency_ms":0}'

# ---- error rate -------------------------------------------------------------

ERROR_TRIALS=400
ERROR_RATE=0.3
put_faults "{\"error_rate\":$ERROR_RATE}"
codes "$ERROR_TRIALS" /predict -H "$JSON" --data-binary '{"text":"fine"}' >"$WORK/codes"
fails=$(grep -c '^500$' "$WORK/codes")
oks=$(grep -c '^200$' "$WORK/codes")
sent POST:500 "$fails"
sent POST:200 "$oks"
echo "# error_rate $ERROR_RATE: $fails of $ERROR_TRIALS answered 500"
[ $((fails + oks)) = "$ERROR_TRIALS" ]
tap $? "every one of $ERROR_TRIALS requests got 200 or 500"
binomial_ok "$fails" "$ERROR_TRIALS" "$ERROR_RATE"
tap $? "error_rate $ERROR_RATE fails about that share ($fails of $ERROR_TRIALS)"
put_faults '{"error_rate":1}'
predict '{"text":"fine"}'
sent POST:500
is_error 500 null
tap $? "error_rate 1 fails every request with a JSON 500"
put_faults '{"error_rate":0}'
codes 50 /predict -H "$JSON" --data-binary '{"text":"fine"}' >"$WORK/codes"
oks=$(grep -c '^200$' "$WORK/codes")
sent POST:200 "$oks"
[ "$oks" = 50 ]
tap $? "error_rate 0 fails none"

# ---- latency ----------------------------------------------------------------

LATENCY_MS=500
LATENCY_S=0.5
SLOW=0 # /predict answers delayed by LATENCY_MS
put_faults "{\"latency_ms\":$LATENCY_MS}"
t=$(curl -s -o /dev/null -w '%{time_total}' --max-time "$CURL_TIMEOUT_S" \
	-H "$JSON" --data-binary '{"text":"fine"}' "$BASE/predict")
sent POST:200
SLOW=$((SLOW + 1))
within "$t" "$LATENCY_S" "$CURL_TIMEOUT_S"
tap $? "latency_ms $LATENCY_MS delays /predict by at least that ($t s)"
pids=()
start=$(date +%s%N)
for i in 1 2 3 4; do
	curl -s -o /dev/null --max-time "$CURL_TIMEOUT_S" -H "$JSON" \
		--data-binary '{"text":"fine"}' "$BASE/predict" &
	pids+=($!)
done
sleep 0.05
t_health=$(curl -s -o /dev/null -w '%{time_total}' --max-time "$CURL_TIMEOUT_S" "$BASE/healthz")
wait_pids "${pids[@]}"
elapsed_s=$(elapsed_since "$start")
sent POST:200 4
SLOW=$((SLOW + 4))
# No speed is asserted, only what tells the cases apart: held up would
# take LATENCY_S or more, in turn 4 x LATENCY_S or more.
within "$t_health" 0 "$(echo "$LATENCY_S" | awk '{ print $1 * 0.99 }')"
tap $? "a delayed /predict does not hold up /healthz ($t_health s)"
within "$elapsed_s" "$LATENCY_S" "$(echo "$LATENCY_S" | awk '{ print $1 * 3.99 }')"
tap $? "four delayed requests run side by side, not in turn ($elapsed_s s)"
put_faults '{"latency_ms":0}'
t=$(curl -s -o /dev/null -w '%{time_total}' --max-time "$CURL_TIMEOUT_S" \
	-H "$JSON" --data-binary '{"text":"fine"}' "$BASE/predict")
sent POST:200
within "$t" 0 "$(echo "$LATENCY_S" | awk '{ print $1 * 0.99 }')"
tap $? "latency_ms 0 is no longer delayed ($t s)"

# ---- skew -------------------------------------------------------------------

SKEW_TRIALS=200
SKEW=0.5
scrape
neutral_before=$(predictions neutral v1)
put_faults "{\"skew\":$SKEW,\"skew_label\":\"neutral\"}"
bodies "$SKEW_TRIALS" "$POSITIVE" >"$WORK/skewed"
skewed=$(grep -c '"label":"neutral"' "$WORK/skewed")
positive=$(grep -c '"label":"positive"' "$WORK/skewed")
sent POST:200 "$SKEW_TRIALS"
echo "# skew $SKEW to neutral: $skewed of $SKEW_TRIALS positive sentences answered neutral"
[ $((skewed + positive)) = "$SKEW_TRIALS" ] && binomial_ok "$skewed" "$SKEW_TRIALS" "$SKEW"
tap $? "skew $SKEW moves about that share of predictions to the skew label ($skewed of $SKEW_TRIALS)"
[ "$(grep -m 1 '"label":"neutral"' "$WORK/skewed" | jget 'max(d["scores"], key=d["scores"].get)')" = neutral ]
tap $? "a skewed answer keeps its scores consistent with its label"
scrape
[ "$(predictions neutral v1)" = $((neutral_before + skewed)) ]
tap $? "kanary_predictions_total counts the skewed labels"
put_faults '{"skew":0,"skew_label":null}'
bodies 20 "$POSITIVE" >"$WORK/unskewed"
sent POST:200 20
[ "$(grep -c '"label":"positive"' "$WORK/unskewed")" = 20 ]
tap $? "skew 0 leaves the predictions alone"

# ---- metrics_down: /metrics answers 503, /predict goes on serving -----------
put_faults '{"metrics_down":true}'
http GET /metrics
[ "$CODE" = 503 ] && [ "$(jget 'd["error"]' <<<"$BODY")" != "" ]
tap $? "metrics_down makes /metrics answer 503 with a JSON error"
predict "$(printf '{"text": "%s"}' "$POSITIVE")"
sent POST:200 1
[ "$CODE" = 200 ]
tap $? "while /predict still answers 200"
put_faults '{"metrics_down":false}'
http GET /metrics
[ "$CODE" = 200 ]
tap $? "metrics_down false brings /metrics back"

# ---- concurrent requests, then /metrics -------------------------------------

PARALLEL=8
PER_CLIENT=25
pids=()
for ((c = 0; c < PARALLEL; c++)); do
	codes "$PER_CLIENT" /predict -H "$JSON" --data-binary '{"text":"fine"}' >"$WORK/parallel.$c" &
	pids+=($!)
done
wait_pids "${pids[@]}"
all=$(cat "$WORK"/parallel.* | grep -c '^200$')
sent POST:200 "$all"
[ "$all" = $((PARALLEL * PER_CLIENT)) ]
tap $? "$PARALLEL clients x $PER_CLIENT requests at once all answered 200"

http GET /metrics
cp "$WORK/body" "$WORK/metrics"
[ "$CODE" = 200 ] && [ "$(header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" ]
tap $? "GET /metrics is 200 in Prometheus text format 0.0.4"
promtool_ok "$WORK/metrics"
tap $? "promtool check metrics finds no problem (but vLLM's ':' in names)"
[ "$(grep -c '^# TYPE http_requests_total counter$' "$WORK/metrics")" = 1 ] &&
	[ "$(grep -c '^# TYPE http_request_duration_seconds histogram$' "$WORK/metrics")" = 1 ] &&
	[ "$(grep -c '^# TYPE kanary_predictions_total counter$' "$WORK/metrics")" = 1 ] &&
	[ "$(grep -c '^# HELP ' "$WORK/metrics")" = 7 ]
tap $? "each of the seven families (three, and vLLM's four) has HELP and TYPE"

counted_ok=0
total_sent=0
for key in "${!SENT[@]}"; do
	total_sent=$((total_sent + SENT[$key]))
	got=$(req_total "${key#*:}" "${key%%:*}")
	if [ "$got" != "${SENT[$key]}" ]; then
		echo "#   method ${key%%:*} code ${key#*:}: sent ${SENT[$key]}, counted $got"
		counted_ok=1
	fi
done
[ "$counted_ok" = 0 ] &&
	[ "$(grep -c '^http_requests_total{' "$WORK/metrics")" = "${#SENT[@]}" ]
tap $? "http_requests_total has one series per method and code sent, each adding up"
[ "$(family_sum 'http_requests_total{')" = "$total_sent" ]
tap $? "only /predict is counted: the series sum to the $total_sent requests sent there"
[ "$(metric 'http_request_duration_seconds_count{handler="/predict"}')" = "$total_sent" ] &&
	[ "$(metric 'http_request_duration_seconds_bucket{handler="/predict",le="+Inf"}')" = "$total_sent" ]
tap $? "the duration histogram counts every /predict request"
[ "$(grep -c '^http_request_duration_seconds_bucket{handler="/predict",le="' "$WORK/metrics")" = 15 ] &&
	grep -q 'le="0.001"}' "$WORK/metrics" && grep -q 'le="10"}' "$WORK/metrics"
tap $? "the histogram has 15 buckets, 1 ms to 10 s and +Inf"
slow=$(($(metric 'http_request_duration_seconds_count{handler="/predict"}') - $(metric 'http_request_duration_seconds_bucket{handler="/predict",le="0.25"}')))
[ "$slow" = "$SLOW" ]
tap $? "the histogram includes injected latency ($slow of $SLOW requests over 250 ms)"
[ "$(family_sum 'kanary_predictions_total{')" = "${SENT[POST:200]}" ] &&
	[ "$(grep -c '^kanary_predictions_total{label="[a-z]*",model="v1"} ' "$WORK/metrics")" = 3 ]
tap $? "kanary_predictions_total has all three labels and sums to the 200s"

# ---- a second server: v2, knobs from the command line -----------------------

start_server v2 --model v2 --error-rate 1 --latency-ms 200 --skew 1 --skew-label negative --seed 7
tap $? "a second server starts with --model v2 and every knob set"
V2_PID=$SERVER_PID
http GET /admin/faults
[ "$(jget 'd == {"error_rate": 1, "latency_ms": 200, "skew": 1, "skew_label": "negative", "metrics_down": False, '"$STREAM_KNOBS"'}' <<<"$BODY")" = true ]
tap $? "the command-line knobs show in /admin/faults"
t=$(curl -s -o "$WORK/body" -w '%{time_total}' --max-time "$CURL_TIMEOUT_S" \
	-H "$JSON" --data-binary '{"text":"fine"}' "$BASE/predict")
within "$t" 0.2 "$CURL_TIMEOUT_S" && grep -q injected "$WORK/body"
tap $? "--error-rate 1 --latency-ms 200 answers a slow 500 ($t s)"
put_faults '{"error_rate":0,"latency_ms":0}'
predict "{\"text\":\"$POSITIVE\"}"
[ "$(jget 'd["label"] + " " + d["model"]' <<<"$BODY")" = "negative v2" ]
tap $? "--skew 1 --skew-label negative makes every answer negative, from v2"
put_faults '{"skew":0}'
predict '{"text":"Not bad at all for the price."}'
v2_label=$(jget 'd["label"]' <<<"$BODY")
BASE=$MAIN_BASE
predict '{"text":"Not bad at all for the price."}'
v1_label=$(jget 'd["label"]' <<<"$BODY")
[ "$v1_label" = negative ] && [ "$v2_label" = positive ]
tap $? "v1 and v2 disagree where v2 reads the negation (v1 $v1_label, v2 $v2_label)"
stop_server "$V2_PID" INT
[ "$STOP_RC" = 0 ]
tap $? "SIGINT stops the server with status 0"

# ---- completions, streamed like an LLM server's --------------------------------

cli_fails "bad value '0' for --tokens" --listen 127.0.0.1:0 --tokens 0
tap $? "a bad --tokens exits 2 naming the flag and the value"
cli_fails "bad value '2' for --stream-error-rate" --listen 127.0.0.1:0 --stream-error-rate 2
tap $? "a bad --stream-error-rate exits 2 naming the flag and the value"
cli_fails "bad value '10001' for --token-ms" --listen 127.0.0.1:0 --token-ms 10001
tap $? "a bad --token-ms exits 2 naming the flag and the value"

TTFT_MS=600
TOKEN_MS=20
TOKENS=8
start_server llm --ttft-ms "$TTFT_MS" --token-ms "$TOKEN_MS" --tokens "$TOKENS" --seed 5
tap $? "a server starts with --ttft-ms $TTFT_MS --token-ms $TOKEN_MS --tokens $TOKENS"
LLM_PID=$SERVER_PID
http GET /admin/faults
[ "$(jget '(d["ttft_ms"], d["token_ms"], d["tokens"], d["stream_error_rate"]) == ('"$TTFT_MS, $TOKEN_MS, $TOKENS"', 0)' <<<"$BODY")" = true ]
tap $? "the completion knobs show in /admin/faults"

# Streams sent, and what /metrics must say about them afterwards
STREAM_STOP=0
STREAM_LENGTH=0
STREAM_ERROR=0
STREAM_ABORT=0
FIRST_TOKENS=0

sse /v1/completions '{"model": "v1", "prompt": "Say something", "stream": true}'
STREAM_STOP=$((STREAM_STOP + 1))
FIRST_TOKENS=$((FIRST_TOKENS + 1))
[ "$(jget '(d["status"], d["headers"]["content-type"], d["headers"].get("transfer-encoding"))' <"$WORK/sse")" = \
	'[200, "text/event-stream", "chunked"]' ]
tap $? "\"stream\": true answers 200, text/event-stream, chunked"
headers_s=$(jget 'd["headers_s"]' <"$WORK/sse")
first_s=$(jget 'd["event_s"][0]' <"$WORK/sse")
echo "# headers after $headers_s s, first token after $first_s s (ttft $TTFT_MS ms)"
within "$headers_s" 0 "$(awk -v t="$TTFT_MS" 'BEGIN { print t / 1000 / 4 }')" &&
	within "$first_s" "$(awk -v t="$TTFT_MS" 'BEGIN { print t / 1000 }')" "$CURL_TIMEOUT_S"
tap $? "the headers come at once, the first token after ttft ($headers_s s, then $first_s s)"
[ "$(jget 'len(d["events"]) == '"$TOKENS"' + 1 and d["events"][-1] == "data: [DONE]" and d["rest"] == "" and not d.get("eof_early")' <"$WORK/sse")" = true ]
tap $? "one event per token ($TOKENS), then data: [DONE], then the end of the chunked body"
[ "$(sse_eval '
chunks = [j.loads(e[len("data: "):]) for e in d["events"][:-1]]
ok = all(c["object"] == "text_completion" and c["id"] == chunks[0]["id"] and
         c["model"] == "v1" and len(c["choices"]) == 1 and c["choices"][0]["index"] == 0
         for c in chunks)
reasons = [c["choices"][0]["finish_reason"] for c in chunks]
r = ok and reasons == [None] * (len(chunks) - 1) + ["stop"] and all(c["choices"][0]["text"] for c in chunks)
')" = true ]
tap $? "each event is an OpenAI completion chunk with one token; the last says stop"
streamed_text=$(jget '"".join(__import__("json").loads(e[6:])["choices"][0]["text"] for e in d["events"][:-1])' <"$WORK/sse")
# Token k cannot reach the client before ttft + k x token_ms: a client that
# reads late only makes it later (gaps between reads would not be a bound).
gaps_ok=$(jget 'all(t >= ('"$TTFT_MS"' + k * '"$TOKEN_MS"') / 1000 * 0.99 for k, t in enumerate(d["event_s"][:-1]))' <"$WORK/sse")
[ "$gaps_ok" = true ]
tap $? "token k comes no sooner than ttft + k x token_ms"

sse /v1/chat/completions '{"messages": [{"role": "user", "content": "Hello"}], "stream": true, "max_tokens": 3}'
STREAM_LENGTH=$((STREAM_LENGTH + 1))
FIRST_TOKENS=$((FIRST_TOKENS + 1))
[ "$(sse_eval '
chunks = [j.loads(e[6:]) for e in d["events"][:-1]]
r = (d["status"], len(chunks), d["events"][-1], [c["object"] for c in chunks] == ["chat.completion.chunk"] * 3,
     chunks[0]["choices"][0]["delta"].get("role"), chunks[-1]["choices"][0]["finish_reason"])
')" = '[200, 3, "data: [DONE]", true, "assistant", "length"]' ]
tap $? "a chat stream: chat.completion.chunk deltas, max_tokens 3 cuts it at 3 with length"

start=$(date +%s%N)
http POST /v1/completions -H "$JSON" --data-binary '{"prompt": "Say something"}'
elapsed_s=$(elapsed_since "$start")
STREAM_STOP=$((STREAM_STOP + 1))
FIRST_TOKENS=$((FIRST_TOKENS + 1))
[ "$CODE" = 200 ] && [ "$(header Content-Type)" = application/json ] &&
	[ "$(jget '(d["object"], d["choices"][0]["finish_reason"], d["choices"][0]["text"])' <<<"$BODY")" = \
		"[\"text_completion\", \"stop\", \"$streamed_text\"]" ]
tap $? "without stream: one JSON completion, the same text as the stream"
within "$elapsed_s" "$(awk -v t="$TTFT_MS" -v k="$TOKEN_MS" -v n="$TOKENS" 'BEGIN { print (t + k * (n - 1)) / 1000 }')" "$CURL_TIMEOUT_S"
tap $? "a whole answer waits for every token ($elapsed_s s)"

# Errors after the 200: the engine failing mid-answer
put_faults '{"stream_error_rate": 1, "ttft_ms": 0, "token_ms": 0}'
sse /v1/completions '{"prompt": "Say something", "stream": true}'
STREAM_ERROR=$((STREAM_ERROR + 1))
FIRST_TOKENS=$((FIRST_TOKENS + 1))
[ "$(sse_eval '
ev = d["events"]
err = j.loads(ev[-2][6:]).get("error", {}) if len(ev) >= 2 else {}
r = (d["status"], len(ev) - 2, sorted(err), err.get("code"), ev[-1])
')" = "[200, $((TOKENS / 2)), [\"code\", \"message\", \"type\"], 500, \"data: [DONE]\"]" ]
tap $? "stream_error_rate 1: a 200 whose stream has $((TOKENS / 2)) tokens, then data: {\"error\": ...}, then [DONE]"
http POST /v1/completions -H "$JSON" --data-binary '{"prompt": "Say something"}'
STREAM_ERROR=$((STREAM_ERROR + 1))
FIRST_TOKENS=$((FIRST_TOKENS + 1))
[ "$CODE" = 500 ] && [ "$(jget 'd["error"]["code"]' <<<"$BODY")" = 500 ]
tap $? "stream_error_rate 1 without stream: a JSON 500"
STREAM_TRIALS=200
STREAM_RATE=0.25
put_faults "{\"stream_error_rate\": $STREAM_RATE, \"tokens\": 2}"
codes "$STREAM_TRIALS" /v1/completions -H "$JSON" --data-binary '{"prompt": "x"}' >"$WORK/codes"
fails=$(grep -c '^500$' "$WORK/codes")
oks=$(grep -c '^200$' "$WORK/codes")
STREAM_ERROR=$((STREAM_ERROR + fails))
STREAM_STOP=$((STREAM_STOP + oks))
FIRST_TOKENS=$((FIRST_TOKENS + STREAM_TRIALS))
[ $((fails + oks)) = "$STREAM_TRIALS" ] && binomial_ok "$fails" "$STREAM_TRIALS" "$STREAM_RATE"
tap $? "stream_error_rate $STREAM_RATE fails about that share ($fails of $STREAM_TRIALS)"
put_faults "{\"stream_error_rate\": 0, \"tokens\": $TOKENS, \"ttft_ms\": $TTFT_MS, \"token_ms\": $TOKEN_MS}"

# A client that leaves before its first token: counted as an abort
timeout 0.2 curl -sN -o /dev/null -H "$JSON" --data-binary '{"prompt": "x", "stream": true}' "$BASE/v1/completions"
STREAM_ABORT=$((STREAM_ABORT + 1))
FIRST_TOKENS=$((FIRST_TOKENS + 1))
sleep "$(awk -v t="$TTFT_MS" 'BEGIN { print 2 * t / 1000 }')"

# Bad requests are refused before any stream starts
http POST /v1/completions -H "$JSON" --data-binary '{"stream": true}'
is_error 400 prompt
tap $? "a completion without a prompt is 400 naming it"
http POST /v1/chat/completions -H "$JSON" --data-binary '{"messages": [{"role": "user"}], "stream": true}'
is_error 400 messages
tap $? "a chat message without content is 400 naming messages"
http POST /v1/completions -H "$JSON" --data-binary '{"prompt": "x", "stream": "yes"}'
is_error 400 stream
tap $? "a stream that is not a boolean is 400 naming it"
http POST /v1/completions -H "$JSON" --data-binary '{"prompt": "x", "max_tokens": 0}'
is_error 400 max_tokens
tap $? "max_tokens 0 is 400 naming it"
http GET /v1/completions
is_error 405 null && [ "$(header Allow)" = POST ]
tap $? "GET /v1/completions is 405 with Allow: POST"
put_faults '{"tokens": 0}'
is_error 400 tokens
tap $? "tokens 0 on /admin/faults is 400 naming it"
put_faults '{"stream_error_rate": -0.5}'
is_error 400 stream_error_rate
tap $? "a negative stream_error_rate is 400 naming it"

# What the server says about itself, as vLLM would
http GET /metrics
cp "$WORK/body" "$WORK/metrics"
promtool_ok "$WORK/metrics"
tap $? "promtool parses the page with vLLM's series (only the ':' lint)"
finished() { metric "vllm:request_success_total{finished_reason=\"$1\",model_name=\"v1\"}"; }
echo "# finished: stop $(finished stop)/$STREAM_STOP, length $(finished length)/$STREAM_LENGTH, error $(finished error)/$STREAM_ERROR, abort $(finished abort)/$STREAM_ABORT"
[ "$(finished stop)" = "$STREAM_STOP" ] && [ "$(finished length)" = "$STREAM_LENGTH" ] &&
	[ "$(finished error)" = "$STREAM_ERROR" ] && [ "$(finished abort)" = "$STREAM_ABORT" ]
tap $? "vllm:request_success_total counts each completion by finished_reason"
ttft_count=$(metric 'vllm:time_to_first_token_seconds_count{model_name="v1"}')
slow_ttft=$((ttft_count - $(metric 'vllm:time_to_first_token_seconds_bucket{le="0.5",model_name="v1"}')))
[ "$ttft_count" = "$FIRST_TOKENS" ] && [ "$slow_ttft" = 4 ] &&
	[ "$(grep -c '^vllm:time_to_first_token_seconds_bucket{' "$WORK/metrics")" = 23 ] &&
	[ "$(grep -c '^vllm:inter_token_latency_seconds_bucket{' "$WORK/metrics")" = 20 ] &&
	[ "$(grep -c '^vllm:e2e_request_latency_seconds_bucket{' "$WORK/metrics")" = 22 ]
tap $? "TTFT counts every first token ($ttft_count), the $TTFT_MS ms ones above 0.5 s; vLLM's bucket layouts"
"$KANARYCTL" --json inspect-metrics "$BASE/metrics" --preset vllm >"$WORK/inspect" 2>"$WORK/inspect.err"
rc=$?
[ "$rc" = 0 ] && [ "$(jget '(d["preset"], d["ttft"]["count"] == '"$ttft_count"', 500 < d["ttft"]["p99_ms"] <= 750, d["itl"]["count"] > 0)' <"$WORK/inspect")" = \
	'["vllm", true, true, true]' ]
tap $? "kanaryctl inspect-metrics --preset vllm reads TTFT and ITL off the live page"

# A stream waiting for its next token does not hold up the stop
stop_mid_request "$LLM_PID" '{"ttft_ms": 30000}' /v1/completions '{"prompt": "x", "stream": true}'
[ "$STOP_RC" = 0 ] && within "$elapsed_s" 0 5
tap $? "SIGTERM stops the server promptly mid-stream ($elapsed_s s)"

# ---- the seed ---------------------------------------------------------------

# fault_codes SEED: the codes of 60 requests at error_rate 0.5, on one line.
fault_codes() {
	start_server "seed-$1-$RANDOM" --seed "$1" --error-rate 0.5 || return 1
	codes 60 /predict -H "$JSON" --data-binary '{"text":"x"}' | tr '\n' ' '
	stop_server "$SERVER_PID" TERM
}
fault_codes 11 >"$WORK/seed.a"
fault_codes 11 >"$WORK/seed.b"
fault_codes 12 >"$WORK/seed.c"
[ -s "$WORK/seed.a" ] && cmp -s "$WORK/seed.a" "$WORK/seed.b"
tap $? "the same --seed draws the same faults"
[ -s "$WORK/seed.c" ] && ! cmp -s "$WORK/seed.a" "$WORK/seed.c"
tap $? "another --seed draws other faults"

# ---- a port in use, and a clean stop ----------------------------------------

out=$("$BIN" --listen "127.0.0.1:$MAIN_PORT" 2>&1 </dev/null)
rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"listening on 127.0.0.1 port $MAIN_PORT failed: Address already in use"* ]]
tap $? "a port in use exits 1 and says what failed"

# A request held in an injected delay must not hold up the stop.
BASE=$MAIN_BASE
stop_mid_request "$MAIN_PID" '{"latency_ms":30000}' /predict '{"text":"fine"}'
[ "$STOP_RC" = 0 ]
tap $? "SIGTERM stops the server with status 0, even mid-delay"
within "$elapsed_s" 0 5 && grep -q 'info: stopped' "$MAIN_LOG"
tap $? "the stop is prompt ($elapsed_s s) and logged"
! grep -l -E 'runtime error|AddressSanitizer|LeakSanitizer|ERROR: ' "$WORK"/*.log
tap $? "no sanitizer or memory error in the servers' logs"

if [ "$N" != "$PLAN" ]; then
	echo "# planned $PLAN checks but ran $N"
	FAILED=$((FAILED + 1))
fi
echo "# $((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" = 0 ]
