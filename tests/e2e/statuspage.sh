#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/statuspage.sh - the status page in a real browser: Debian's
# headless Chromium, driven over WebDriver (chromedriver, spoken to with
# curl), loads kanaryd's page while clients send traffic through the VIP
# during a rollout. The page must show the live weight and phase, follow a
# step made through the API, draw both pools' error rate and p99, load
# nothing from anywhere else, refuse a wrong token, and an Abort pressed on
# the page must reach the agent. An IPv6 service beside it shows its VIP
# and its pools' backends in brackets. Screenshots go to tests/out/
# (KANARY_UPDATE_DOCS=1 also copies the live one to docs/statuspage.png).
# Needs: chromium, chromium-driver, curl, python3.
set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/demo.sh

TOKEN=kanary-test-token-$RANDOM$RANDOM
SOURCES=64
LOAD_MAX_S=150       # the client load stops by itself after this long...
LOAD_MAX_REQUESTS=20000 # ...or this many requests
WD_PORT=9515         # chromedriver, inside the node's namespace
WD_START_S=15
PAGE_WAIT_S=20
CHART_WAIT_S=30
WINDOW_W=1280
WINDOW_H=1360
DOCS_HISTORY_S=45
OUT_DIR=tests/out
CHROMIUM=$(command -v chromium || command -v chromium-browser)
CHROMEDRIVER=$(command -v chromedriver)
WD=http://127.0.0.1:$WD_PORT
SID=
WD_PID=
LOAD_PID=

cleanup() {
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
	[ -n "$SID" ] && topo_node curl -s -m 10 -X DELETE "$WD/session/$SID" >/dev/null 2>&1
	[ -n "$WD_PID" ] && kill "$WD_PID" 2>/dev/null
	topo_destroy
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -n "$CHROMIUM" ] && [ -n "$CHROMEDRIVER" ] ||
	tap_bail "chromium and chromedriver are needed (make deps installs them)"
mkdir -p "$OUT_DIR"

topo_create 1 1 "$SOURCES" || tap_bail "cannot build the topology"
topo_add_ipv6 0 || tap_bail "cannot add IPv6 to the topology"
# The canary answers a little slower and fails a little more often: the
# charts then have two visibly different lines.
topo_backend stable 1 --model v1 --latency-ms 4 ||
	tap_bail "cannot start the stable model server"
topo_backend canary 1 --model v2 --latency-ms 9 --error-rate 0.03 ||
	tap_bail "cannot start the canary model server"
topo_backends6 || tap_bail "cannot start the IPv6 model servers"
demo_token "$TOKEN"
# Long steps, and rollback only on a very high error rate: the rollout must
# still be running when the page aborts it.
VIP6="[$TOPO_VIP6]:$TOPO_VIP_PORT"
STABLE6=$(topo_pool6 stable)
CANARY6=$(topo_pool6 canary)
demo_config '{"steps": [25, 50, 100], "interval": "10m", "analysis": {"rollback_error_rate": 60}}' \
	"{\"name\": \"demo6\", \"vip\": \"$VIP6\", \"stable\": [\"$STABLE6\"], \"canary\": [\"$CANARY6\"]}"
demo_kanaryd

api_phase() {
	topo_node curl -sS -m 5 "$TOPO_API/api/v1/services/demo" | jget '"%s %.2f" % (d["phase"], d["canary_percent"])'
}

# ---- WebDriver --------------------------------------------------------------
# wd METHOD PATH [JSON]: a WebDriver command on the session; prints the answer.
wd() {
	local args=(-sS -m 60 -X "$1" -H 'Content-Type: application/json')
	[ $# -ge 3 ] && args+=(--data-binary "$3")
	topo_node curl "${args[@]}" "$WD/session${SID:+/$SID}$2"
}

# js SCRIPT: runs SCRIPT in the page; prints what it returns.
js() {
	local body
	body=$("$PYTHON" -c 'import json, sys; print(json.dumps({"script": sys.argv[1], "args": []}))' "$1")
	wd POST /execute/sync "$body" | jget 'd["value"]'
}

# wait_js SCRIPT EXPECTED SECONDS: until SCRIPT returns EXPECTED; prints the
# last value.
wait_js() {
	local deadline=$((SECONDS + $3)) got=
	while ((SECONDS < deadline)); do
		got=$(js "$1")
		[ "$got" = "$2" ] && break
		sleep 0.25
	done
	echo "$got"
}

# click_until CSS SCRIPT WANT SECONDS: clicks CSS until SCRIPT returns WANT,
# for a row of the service table, which the page redraws at each refresh: a
# click on a row replaced in between goes nowhere (seen on a loaded host).
# Prints what SCRIPT returned last.
click_until() {
	local deadline=$((SECONDS + $4)) got=
	while ((SECONDS < deadline)); do
		click "$1"
		got=$(wait_js "$2" "$3" 2)
		[ "$got" = "$3" ] && break
	done
	echo "$got"
}

# element CSS: the WebDriver id of the element CSS selects.
element() {
	local body
	body=$("$PYTHON" -c 'import json, sys; print(json.dumps({"using": "css selector", "value": sys.argv[1]}))' "$1")
	wd POST /element "$body" | jget 'list(d["value"].values())[0]'
}

click() {
	wd POST "/element/$(element "$1")/click" '{}' >/dev/null
}

type_into() { # CSS TEXT: replaces the field's text
	local id body
	id=$(element "$1")
	wd POST "/element/$id/clear" '{}' >/dev/null
	body=$("$PYTHON" -c 'import json, sys; print(json.dumps({"text": sys.argv[1]}))' "$2")
	wd POST "/element/$id/value" "$body" >/dev/null
}

screenshot() { # FILE
	wd GET /screenshot | "$PYTHON" -c '
import base64, json, sys
open(sys.argv[1], "wb").write(base64.b64decode(json.load(sys.stdin)["value"]))' "$1"
}

# ---- traffic: bounded in time and count, from many client addresses ---------
cat >"$WORK/load.sh" <<EOF
end=\$((SECONDS + $LOAD_MAX_S))
for ((i = 0; i < $LOAD_MAX_REQUESTS && SECONDS < end; i++)); do
	[ -e "$WORK/load.stop" ] && break
	curl -s -m 2 -o /dev/null --interface 198.18.\$((1 + (i % $SOURCES) / 256)).\$(((i % $SOURCES) % 256)) \\
		-H 'Content-Type: application/json' -d '{"text": "the room was clean and the staff were kind"}' \\
		http://$TOPO_VIP:$TOPO_VIP_PORT/predict
done
EOF
topo_client bash "$WORK/load.sh" &
LOAD_PID=$!

topo_node curl -sS -m 5 -X POST -H "Authorization: Bearer $TOKEN" \
	"$TOPO_API/api/v1/services/demo/rollout" >/dev/null
check "the rollout runs (API: progressing at 25 %)" test "$(api_phase)" = "progressing 25.00"

# ---- the browser ---------------------------------------------------------------
topo_node "$CHROMEDRIVER" --port="$WD_PORT" >"$WORK/chromedriver.log" 2>&1 &
WD_PID=$!
for ((i = 0; i < WD_START_S * 10; i++)); do
	[ "$(topo_node curl -s -m 1 "$WD/status" | jget 'd["value"]["ready"]')" = true ] && break
	sleep 0.1
done
caps=$("$PYTHON" -c '
import json, sys
print(json.dumps({"capabilities": {"alwaysMatch": {
    "browserName": "chrome",
    "goog:chromeOptions": {"binary": sys.argv[1], "args": [
        "--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions",
        "--user-data-dir=" + sys.argv[2],
        "--window-size=%s,%s" % (sys.argv[3], sys.argv[4])]}}}}))' \
	"$CHROMIUM" "$WORK/chrome-profile" "$WINDOW_W" "$WINDOW_H")
SID=$(wd POST "" "$caps" | jget 'd["value"]["sessionId"]')
[[ "$SID" =~ ^[0-9a-f]+$ ]] || {
	SID=
	sed 's/^/#   /' "$WORK/chromedriver.log" | tail -20
	tap_bail "headless chromium did not start"
}
tap_ok "headless chromium runs"

wd POST /url "{\"url\": \"$TOPO_API/\"}" >/dev/null
check "the page loads: title kanary" test "$(js 'return document.title')" = kanary
shown=$(wait_js 'return document.getElementById("canary-percent").textContent' "25.00 %" "$PAGE_WAIT_S")
check "the page shows the live weight: 25.00 % (shown: '$shown')" test "$shown" = "25.00 %"
check "... the phase: progressing" \
	test "$(js 'return document.getElementById("detail-phase").textContent')" = progressing
check "... and step 1 / 3" \
	test "$(js 'return document.getElementById("detail-step").textContent')" = "1 / 3"
check "the services table has demo" \
	test "$(js 'return document.querySelector("#service-table tbody tr").dataset.service')" = demo
check "the decision log shows the rollout's start" \
	test "$(wait_js 'return [...document.querySelectorAll("#decisions tbody td")].some(td => td.textContent === "rollout started")' true "$PAGE_WAIT_S")" = true

topo_node curl -sS -m 5 -X POST -H "Authorization: Bearer $TOKEN" \
	"$TOPO_API/api/v1/services/demo/promote" >/dev/null
shown=$(wait_js 'return document.getElementById("canary-percent").textContent' "50.00 %" "$PAGE_WAIT_S")
check "a step made through the API shows up live: 50.00 % (shown: '$shown')" test "$shown" = "50.00 %"

shown=$(wait_js 'return /^this step: \d+\.\d\d % of new connections, \d+\.\d\d % of requests$/.test(document.getElementById("detail-share").textContent)' true "$PAGE_WAIT_S")
check "the page shows the canary's share of the step's new connections and requests (shown: '$(js 'return document.getElementById("detail-share").textContent')')" \
	test "$shown" = true
lines=$(wait_js 'return ["stable", "canary"].every(p => document.querySelector("#chart-p99 polyline." + p) && document.querySelector("#chart-errors polyline." + p))' true "$CHART_WAIT_S")
check "the charts draw both pools' error rate and p99 from the traffic" test "$lines" = true
check "the weight chart draws the weight" \
	test "$(js 'return document.querySelectorAll("#chart-weight polyline").length > 0')" = true
check "the pools' p99 shows in the table" \
	test "$(js 'return /ms$/.test(document.querySelector("#service-table tbody tr").children[6].textContent)')" = true
check "nothing was loaded from another origin" \
	test "$(js 'return performance.getEntriesByType("resource").every(e => e.name.startsWith(location.origin + "/"))')" = true
check "no script error, no policy violation" test "$(js 'return window.kanaryPage.errors.length')" = 0
if [ "${KANARY_UPDATE_DOCS:-}" = 1 ]; then
	sleep "$DOCS_HISTORY_S" # a longer history for the picture in the docs
fi
screenshot "$OUT_DIR/statuspage-live.png"
check "screenshot of the live page: $OUT_DIR/statuspage-live.png" \
	bash -c '[ "$(head -c 4 "$1" | od -An -c | tr -d " ")" = "211PNG" ]' _ "$OUT_DIR/statuspage-live.png"
if [ "${KANARY_UPDATE_DOCS:-}" = 1 ]; then
	cp "$OUT_DIR/statuspage-live.png" docs/statuspage.png
fi

# ---- pressing Abort ------------------------------------------------------------------
click "#action-abort"
check "Abort asks to confirm, and for the token" \
	test "$(js 'return document.getElementById("confirm").open && document.getElementById("confirm-text").textContent')" = \
	"Abort the rollout of demo?"
type_into "#token-input" "not-the-token"
click "#confirm-ok"
refused=$(wait_js 'return document.getElementById("confirm-error").textContent.startsWith("kanaryd refused the token")' true "$PAGE_WAIT_S")
check "a wrong token: the page says kanaryd refused it" test "$refused" = true
check "... and the rollout goes on (API: progressing)" test "$(api_phase)" = "progressing 50.00"
type_into "#token-input" "$TOKEN"
click "#confirm-ok"
for ((i = 0; i < PAGE_WAIT_S * 4; i++)); do
	[ "$(api_phase)" = "aborted 0.00" ] && break
	sleep 0.25
done
check "the right token: the abort reached the agent (API: aborted at 0 %)" test "$(api_phase)" = "aborted 0.00"
check "the page shows it: aborted" \
	test "$(wait_js 'return document.getElementById("detail-phase").textContent' aborted "$PAGE_WAIT_S")" = aborted
check "... the weight: 0.00 %" \
	test "$(wait_js 'return document.getElementById("canary-percent").textContent' "0.00 %" "$PAGE_WAIT_S")" = "0.00 %"
check "... the dialog closed and Abort is disabled now" \
	test "$(js 'return !document.getElementById("confirm").open && document.getElementById("action-abort").disabled')" = true
check "the token is kept for this tab's session only" \
	test "$(js 'return [sessionStorage.getItem("kanary.token") !== null, localStorage.getItem("kanary.token") === null].join()')" = "true,true"
screenshot "$OUT_DIR/statuspage-aborted.png"
check "screenshot after the abort: $OUT_DIR/statuspage-aborted.png" test -s "$OUT_DIR/statuspage-aborted.png"
check "kanaryd logged the page's abort" grep -q "api: POST /api/v1/services/demo/abort: 200" "$WORK/kanaryd.log"

# ---- an IPv6 service ------------------------------------------------------------
check "the table shows the IPv6 service's VIP in brackets" \
	test "$(js 'return document.querySelector("#service-table tbody tr[data-service=demo6]").children[1].textContent')" = "$VIP6"
check "demo's detail lists its IPv4 backends" \
	test "$(js 'return document.getElementById("detail-backends").textContent')" = \
	"stable $(topo_pool stable) · canary $(topo_pool canary)"
shown=$(click_until "#service-table tbody tr[data-service=demo6]" \
	'return document.getElementById("detail-name").textContent' "demo6 ($VIP6, tcp)" "$PAGE_WAIT_S")
check "the IPv6 service's detail names its VIP in brackets (shown: '$shown')" test "$shown" = "demo6 ($VIP6, tcp)"
shown=$(js 'return document.getElementById("detail-backends").textContent')
check "... and its backends in brackets (shown: '$shown')" test "$shown" = "stable $STABLE6 · canary $CANARY6"
screenshot "$OUT_DIR/statuspage-ipv6.png"
check "screenshot of the IPv6 service: $OUT_DIR/statuspage-ipv6.png" test -s "$OUT_DIR/statuspage-ipv6.png"

touch "$WORK/load.stop"
wait "$LOAD_PID"
LOAD_PID=
tap_done
