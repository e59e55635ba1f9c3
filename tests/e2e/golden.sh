#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/golden.sh - kanaryd's API and kanaryctl answer byte for byte as
# recorded: a real kanaryd with a fixed config on a test topology, a fixed
# script of API requests (every route, each operation, the error cases) and
# kanaryctl commands (each in human and --json form, and the error exits),
# each answer normalised where it varies from run to run and compared with
# its golden file in tests/e2e/golden/<api|kanaryctl>/NAME.txt. One TAP line
# per answer; a difference prints as a unified diff.
#
#   tests/run golden                         compare with the golden files
#   GOLDEN_UPDATE=1 bash tests/e2e/golden.sh write them again (then review
#                                            the diff in git before commit)
#   KANARY_BIN=DIR                           the binaries to run (default bin/)
#
# The golden files were written from the binaries of before the tree's
# reorganisation; a change to an answer is a change of the API or the CLI
# and shows in git as a change of its golden file.
#
# What varies and is normalised: timestamps (ISO times, clock times, "t" in
# milliseconds), the elapsed time of a step, curl's time to fail a connect, the history's earlier points
# (one a second: only the newest is compared), the run's paths,
# HTTP Date and Content-Length headers, and /metrics values (only the
# series' names and labels are compared). No traffic crosses the VIP and the
# rollouts' interval is 10 minutes, so every counter stays what the script
# made it.
# Needs: curl, python3.
set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/demo.sh

GOLDEN_DIR=tests/e2e/golden
GOLDEN_UPDATE=${GOLDEN_UPDATE:-0}
CURL_TIMEOUT_S=10
# A test token: it never appears in an answer, and the API is on loopback.
TOKEN=kanary-golden-token
SVC=/api/v1/services
JSON='Content-Type: application/json'
HISTORY_WAIT_S=5 # history points come one a second
declare -A SEEN=()

trap topo_destroy EXIT
trap 'exit 130' INT TERM

demo_topology "$TOKEN"
mkdir -p "$WORK/actual/api" "$WORK/actual/kanaryctl"

# demo has both pools; solo has no canary, so a weight conflicts with it.
demo_config '{"steps": [10, 25, 50, 100], "interval": "10m"}' "$(demo_solo)"
demo_kanaryd

# normalise MODE < RAW > TEXT: what varies from run to run, replaced by a
# placeholder. MODE: text (JSON or a terminal's text), metrics (a /metrics
# page: its series' names and labels, without values), digest (the status
# page: its SHA-256 and size), headers (an HTTP header block: no Date or
# Content-Length).
normalise() {
	"$PYTHON" -c '
import re, sys
mode, work, kbin, root = sys.argv[1:5]
text = sys.stdin.read()
if mode == "headers":
    lines = [l for l in text.replace("\r", "").split("\n") if l]
    drop = ("date:", "content-length:")
    print("\n".join(l for l in lines if not l.lower().startswith(drop)))
    sys.exit(0)
if mode == "digest":
    import hashlib
    data = text.encode()
    print("sha256 %s, %d bytes" % (hashlib.sha256(data).hexdigest(), len(data)))
    sys.exit(0)
if mode == "metrics":
    out = []
    for line in text.split("\n"):
        if line.startswith("# TYPE") or line.startswith("# HELP"):
            out.append(line)
        elif line and not line.startswith("#"):
            out.append(line.rsplit(" ", 1)[0])
    print("\n".join(out))
    sys.exit(0)
for path, name in ((work, "<work>"), (kbin, "<bin>"), (root, "<root>")):
    text = text.replace(path, name)
text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>", text)
text = re.sub(r"\"t\":\d+", "\"t\":<ms>", text)
text = re.sub(r"\"step_elapsed\":\"[^\"]*\"", "\"step_elapsed\":\"<duration>\"", text)
text = re.sub(r"(?m)^\d\d:\d\d:\d\d ", "<clock> ", text)
text = re.sub(r" after \d+ ms", " after <n> ms", text)  # the time curl took to fail
# History: one point a second, so how many there are and which states they
# caught depends on the timing; the newest point stays (the script waits for
# it to show the last change).
point = r"\{\"t\":<ms>,(?:[^{}]|\{[^{}]*\})*\}"
text = re.sub(r"\"points\":\[(?:" + point + ",)*(" + point + r")\]",
              "\"points\":[<earlier points>,\\1]", text)
sys.stdout.write(text)
' "$1" "$WORK" "$KANARY_BIN" "$KANARY_ROOT"
}

# claim SECTION NAME: sets FILE, where this answer is written; a name is
# used once.
claim() {
	local key=$1/$2
	[ -z "${SEEN[$key]:-}" ] || tap_bail "golden.sh: $key is recorded twice"
	SEEN[$key]=1
	FILE=$WORK/actual/$key.txt
}

# compare SECTION NAME: the answer against its golden file (or, with
# GOLDEN_UPDATE=1, the answer becomes the golden file).
compare() {
	local section=$1 name=$2 actual=$WORK/actual/$1/$2.txt
	local golden=$GOLDEN_DIR/$1/$2.txt
	if [ "$GOLDEN_UPDATE" = 1 ]; then
		mkdir -p "$GOLDEN_DIR/$section"
		cp "$actual" "$golden"
		tap_ok "$section $name: golden file written"
	elif [ ! -e "$golden" ]; then
		tap_fail "$section $name: no golden file $golden (GOLDEN_UPDATE=1 writes it)"
		sed 's/^/#   /' "$actual"
	elif diff -u "$golden" "$actual" >"$WORK/diff"; then
		tap_ok "$section $name: as recorded"
	else
		tap_fail "$section $name: differs from $golden"
		sed 's/^/#   /' "$WORK/diff"
	fi
}

# shell_words ARGS...: the arguments as a person would type them, each
# after a space, quoted when it holds more than a plain word.
shell_words() {
	local a
	for a in "$@"; do
		if [[ "$a" =~ ^[A-Za-z0-9_./:=@-]*$ ]]; then
			printf ' %s' "$a"
		else
			printf " '%s'" "$a"
		fi
	done
}

# api NAME METHOD PATH [CURL ARGS...]: one request from the node; the
# status line, the headers and the body, normalised.
api() {
	local name=$1 method=$2 path=$3 mode=text
	shift 3
	claim api "$name"
	rm -f "$WORK/body" "$WORK/headers"
	topo_node curl -sS --max-time "$CURL_TIMEOUT_S" -X "$method" \
		-o "$WORK/body" -D "$WORK/headers" "$@" "$BASE$path" \
		2>"$WORK/curl.err"
	[ "$path" = /metrics ] && mode=metrics
	[ "$path" = / ] && mode=digest
	{
		echo "\$ curl -X $method $path$(shell_words "${@//$TOKEN/<token>}")"
		normalise headers <"$WORK/headers"
		echo
		# HEAD: curl writes the headers again in place of a body.
		[ "$method" = HEAD ] || normalise "$mode" <"$WORK/body"
		echo
		[ -s "$WORK/curl.err" ] && echo "curl: $(cat "$WORK/curl.err")"
	} >"$FILE"
	compare api "$name"
}

# ctl NAME [ARGS...]: kanaryctl in the node's namespace with the token
# (without $KANARY_SERVER or $KANARY_TOKEN_FILE from outside); its exit
# status, standard output and standard error, normalised. nctl: without the
# token.
ctl_run() {
	local name=$1 rc
	shift
	claim kanaryctl "$name"
	topo_node env -u KANARY_SERVER -u KANARY_TOKEN_FILE "$@" \
		>"$WORK/out" 2>"$WORK/err"
	rc=$?
	shift
	{
		echo "\$ kanaryctl $*"
		echo "exit $rc"
		echo "--- stdout"
		cat "$WORK/out"
		echo "--- stderr"
		cat "$WORK/err"
	} | normalise text >"$FILE"
	compare kanaryctl "$name"
}
ctl() {
	local name=$1
	shift
	ctl_run "$name" "$KANARY_BIN/kanaryctl" --token-file "$WORK/token" "$@"
}
nctl() {
	local name=$1
	shift
	ctl_run "$name" "$KANARY_BIN/kanaryctl" "$@"
}
BASE=$TOPO_API

# wait_history_point: until the history has a point made after this call.
wait_history_point() {
	local since_ms deadline=$((SECONDS + HISTORY_WAIT_S))
	since_ms=$(date +%s%3N)
	while ((SECONDS < deadline)); do
		topo_node curl -sS --max-time "$CURL_TIMEOUT_S" "$BASE$SVC/demo/history" |
			"$PYTHON" -c 'import json,sys; p=json.load(sys.stdin)["points"]; sys.exit(0 if p and p[-1]["t"] > int(sys.argv[1]) else 1)' "$since_ms" &&
			return 0
		sleep 0.2
	done
	tap_bail "the history has no new point after ${HISTORY_WAIT_S}s"
}

# ---- API: reads ------------------------------------------------------------
api healthz GET /healthz
api healthz-head HEAD /healthz --head
api services GET "$SVC"
api service-demo GET "$SVC/demo"
api service-solo GET "$SVC/solo"
wait_history_point
api history GET "$SVC/demo/history"
api decisions-empty GET "$SVC/demo/decisions"
api metrics GET /metrics
api statuspage GET /

# ---- API: errors -----------------------------------------------------------
api route-unknown GET /nope
api route-trailing-slash GET "$SVC/demo/"
api route-unknown-action GET "$SVC/demo/frobnicate"
api service-unknown GET "$SVC/nosuch"
api service-unknown-pause POST "$SVC/nosuch/pause" -H "$AUTH"
api method-healthz POST /healthz
api method-pause GET "$SVC/demo/pause"
api method-weight POST "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 1}'
api method-delete DELETE "$SVC/demo"
api token-missing POST "$SVC/demo/rollout"
api token-wrong POST "$SVC/demo/rollout" -H "Authorization: Bearer wrong-token"
api origin-other POST "$SVC/demo/rollout" -H "$AUTH" -H "Origin: http://attacker.example"
api content-type-text POST "$SVC/demo/rollout" -H "$AUTH" -H 'Content-Type: text/plain' -d '{}'
api json-malformed POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"steps": [10, 100]'
api json-duplicate-key POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"a": 1, "a": 2}'
api json-not-object POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '[10, 25]'
api rollout-unknown-field POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"stepz": [10, 100]}'
api rollout-wrong-type POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"interval": 5}'
api rollout-steps-down POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"steps": [50, 25, 100]}'
api rollout-nested-range POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"analysis": {"error_confidence": 2}}'
api weight-string PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": "12"}'
api weight-over-100 PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 100.001}'
api weight-unknown-field PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary": 12}'
api weight-no-body PUT "$SVC/demo/weight" -H "$AUTH"
api weight-no-canary PUT "$SVC/solo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 10}'
api pause-field POST "$SVC/demo/pause" -H "$AUTH" -H "$JSON" -d '{"now": true}'
api pause-idle POST "$SVC/demo/pause" -H "$AUTH"
api abort-idle POST "$SVC/demo/abort" -H "$AUTH"
api promote-wrong-type POST "$SVC/demo/promote" -H "$AUTH" -H "$JSON" -d '{"full": "yes"}'
api backends-no-port PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d '{"canary": ["198.18.16.20"]}'
api backends-not-list PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d '{"canary": "198.18.16.20:8000"}'
api backends-empty PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d '{}'
api backends-empty-stable PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d '{"stable": []}'
api get-with-body GET "$SVC" -H "$JSON" --data-binary '{"x": 1}'
api affinity-sticky PUT "$SVC/demo/affinity" -H "$AUTH" -H "$JSON" -d '{"affinity": "sticky"}'
api affinity-no-field PUT "$SVC/demo/affinity" -H "$AUTH" -H "$JSON" -d '{}'

# ---- API: the operations ---------------------------------------------------
api rollout-start POST "$SVC/demo/rollout" -H "$AUTH" -H "$JSON" -d '{"steps": [10, 25, 50, 100], "interval": "10m"}'
api rollout-again POST "$SVC/demo/rollout" -H "$AUTH"
api backends-during-rollout PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d "{\"canary\": [\"$(topo_pool canary)\"]}"
api weight-during-rollout PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 50}'
api pause POST "$SVC/demo/pause" -H "$AUTH"
api pause-again POST "$SVC/demo/pause" -H "$AUTH" -H "$JSON" -d '{}'
api resume POST "$SVC/demo/resume" -H "$AUTH" -H "$JSON" -d '{}'
api promote POST "$SVC/demo/promote" -H "$AUTH"
api promote-full POST "$SVC/demo/promote" -H "$AUTH" -H "$JSON" -d '{"full": true}'
api abort-promoted POST "$SVC/demo/abort" -H "$AUTH"
api backends PUT "$SVC/demo/backends" -H "$AUTH" -H "$JSON" -d "{\"canary\": [\"$(topo_pool stable)\"]}"
api rollout-configured POST "$SVC/demo/rollout" -H "$AUTH"
api abort POST "$SVC/demo/abort" -H "$AUTH"
api weight PUT "$SVC/demo/weight" -H "$AUTH" -H "$JSON" -d '{"canary_percent": 12.5}'
api decisions GET "$SVC/demo/decisions"
api service-demo-after GET "$SVC/demo"
wait_history_point
api history-after GET "$SVC/demo/history"
api metrics-after GET /metrics
api affinity PUT "$SVC/solo/affinity" -H "$AUTH" -H "$JSON" -d '{"affinity": "connection"}'
api affinity-client PUT "$SVC/solo/affinity" -H "$AUTH" -H "$JSON" -d '{"affinity": "client"}'

# ---- kanaryctl: the command line and the connection --------------------------
nctl help --help
nctl version --version
for c in status watch rollout pause resume promote abort set-weight \
	set-backends set-affinity decisions inspect-metrics; do
	nctl "help-$c" "$c" --help
done
nctl no-command
nctl unknown-command frobnicate
nctl unknown-option status --frob
nctl missing-service pause
nctl extra-argument pause demo extra
nctl weight-three-decimals set-weight demo 12.345
nctl affinity-sticky set-affinity demo sticky
nctl steps-not-numbers rollout demo --steps 10,abc,100
nctl step-count-without-window rollout demo --step-count 4
nctl interval-bad rollout demo --interval 5x
nctl watch-timeout-bad watch demo --timeout soon
nctl backends-neither set-backends demo
nctl backends-no-port set-backends demo --canary 198.18.16.20
nctl token-file-missing --token-file "$WORK/no-such-token" pause demo
nctl server-scheme --server ftp://127.0.0.1 status
nctl server-unreachable --server http://127.0.0.1:1 status
nctl server-unreachable-json --json --server http://127.0.0.1:1 status

# ---- kanaryctl: reads, human and --json --------------------------------------
nctl status status
nctl status-json --json status
nctl status-demo status demo
nctl status-demo-json status demo --json
nctl status-unknown status nosuch
nctl status-unknown-json --json status nosuch
nctl pause-no-token pause demo
nctl decisions decisions demo
nctl decisions-json --json decisions demo
nctl decisions-limit decisions demo --limit 2

# ---- kanaryctl: each operation, human then --json ----------------------------
ctl weight set-weight demo 5
ctl weight-json --json set-weight demo 7.5
ctl weight-no-canary set-weight solo 5
ctl weight-no-canary-json --json set-weight solo 5
ctl affinity set-affinity solo connection
ctl affinity-json --json set-affinity solo client
ctl rollout-steps-down rollout demo --steps 50,25,100
ctl rollout rollout demo --steps 10,50,100 --interval 10m
ctl rollout-again rollout demo
ctl rollout-again-json --json rollout demo
ctl pause pause demo
ctl resume resume demo
ctl pause-json --json pause demo
ctl resume-json --json resume demo
ctl promote promote demo
ctl promote-json --json promote demo
ctl promote-full promote demo --full
ctl abort-promoted abort demo
ctl abort-promoted-json --json abort demo
ctl backends set-backends demo --canary "$(topo_pool stable)"
ctl rollout-json --json rollout demo --step-count 4 --window 4m --min-requests 50 --warmup 0 --max-failures 3
ctl promote-full-json --json promote demo --full
ctl backends-json --json set-backends demo --canary "$(topo_pool canary)"
ctl rollout-configured rollout demo
ctl abort abort demo
ctl backends-during-nothing-json --json set-backends demo --stable ''
ctl rollout-configured-json --json rollout demo
ctl abort-json --json abort demo
ctl watch-ended watch demo --interval 200ms --timeout 5s
ctl watch-ended-json --json watch demo --interval 200ms --timeout 5s
ctl watch-none watch solo
ctl watch-none-json --json watch solo
ctl decisions-after decisions demo
ctl decisions-after-json --json decisions demo
ctl status-demo-after status demo
ctl status-demo-after-json --json status demo

# ---- kanaryctl: inspect-metrics on the project's fixtures ---------------------
nctl inspect-vllm inspect-metrics tests/fixtures/metrics/vllm.txt
nctl inspect-vllm-json --json inspect-metrics tests/fixtures/metrics/vllm.txt --preset vllm
nctl inspect-wrong-preset inspect-metrics tests/fixtures/metrics/vllm.txt --preset triton
nctl inspect-unknown-preset inspect-metrics tests/fixtures/metrics/vllm.txt --preset nosuch
nctl inspect-no-file inspect-metrics "$WORK/no-such-file"

# ---- golden files that no request wrote --------------------------------------
stale=()
for f in "$GOLDEN_DIR"/*/*.txt; do
	[ -e "$f" ] || continue
	key=${f#"$GOLDEN_DIR"/}
	[ -n "${SEEN[${key%.txt}]:-}" ] && continue
	if [ "$GOLDEN_UPDATE" = 1 ]; then
		rm -f "$f"
	else
		stale+=("$key")
	fi
done
tap_is "every golden file is written by a request of this script" "${stale[*]}" ""

tap_done
