#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/tools.sh - the test tools themselves, for real: kn-load and
# kn-csumcheck between two network namespaces joined by a veth pair,
# against nginx (and kanary-modelserver when it is built) and a small
# Python server that answers in awkward ways on purpose.
#
# kn-load must count exactly what it sent and got: responses, tags, status
# codes, connections per mode, source addresses as the server saw them,
# chunked and until-close bodies, premature closes, timeouts, refused /
# unreachable / timed-out connects, resets when the server is killed, and
# pacing. kn-csumcheck must pass real traffic with TX checksum offload on
# (CHECKSUM_PARTIAL) and off (full checksums), on both sides of the wire,
# and must fail on crafted frames with a wrong IP, full L4 or partial L4
# checksum. Output is TAP (tests/lib/tap.sh). Needs root, nginx, ethtool,
# python3; KANARY_TOOLS points at the built tools.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT
trap 'exit 130' INT TERM

LOAD=$KANARY_TOOLS/kn-load
CSUM=$KANARY_TOOLS/kn-csumcheck
MODELSERVER=${KANARY_MODELSERVER:-$KANARY_BIN/kanary-modelserver}

CLIENT_IP=198.18.50.1
SERVER_IP=198.18.50.2
# Extra client addresses: kn-load --sources binds to them.
SOURCES=198.18.50.10-198.18.50.13
SOURCE_LIST=(198.18.50.10 198.18.50.11 198.18.50.12 198.18.50.13)
ON_LINK_NOBODY=198.18.50.99 # on the veth's subnet, nobody answers ARP
NO_ROUTE=198.19.250.1 # the client has no route there
NOT_LOCAL=198.18.51.7 # not an address of the client
HTTP_PORT=80
ODD_PORT=8081 # the Python server
KILL_PORT=8082 # an nginx that gets killed
CLOSED_PORT=81 # nothing listens
MODEL_PORT=8000 # kanary-modelserver
PROBE_PORT=9 # crafted frames go here (discard)

RUN_LIMIT_S=60 # no single tool run may take longer
READY_POLLS=100 # x 0.05 s: how long a capture may take to start
SERVER_LIFE_S=300 # the Python server exits by itself after this
TEST_TIMEOUT_MS=300 # per request, where a timeout is the point
N=200 # requests in the exact-count checks
PROBES=3 # crafted frames per kind

for tool in "$LOAD" "$CSUM"; do
	[ -x "$tool" ] || tap_bail "$tool is not built (make test-build)"
done
for cmd in nginx ethtool python3; do
	command -v "$cmd" >/dev/null || tap_bail "$cmd is not installed (make deps)"
done
[ "$(id -u)" -eq 0 ] || tap_bail "needs root (namespaces, AF_PACKET)"
# The interpreter itself: a version manager's shim costs a second a call.
PY=$(python3 -c 'import sys; print(sys.executable)') || tap_bail "python3 does not run"

# ---- the two hosts ---------------------------------------------------------
topo_reap
TOPO_SFX="${BASHPID}x${RANDOM}"
# Run files (configs, logs, JSON) stay with the checkout, git-ignored.
mkdir -p "$KANARY_ROOT/tests/out"
TOPO_TMP=$(mktemp -d "$KANARY_ROOT/tests/out/run-$TOPO_SFX.XXXX")
T=$TOPO_TMP
NS_C=$(topo_ns tclient)
NS_S=$(topo_ns tserver)
LINK_SFX=$(printf '%x%02x' "$BASHPID" $((RANDOM % 256)))
IF_C=kc$LINK_SFX
IF_S=ks$LINK_SFX
topo_add_ns tclient || tap_bail "cannot create namespace $NS_C"
topo_add_ns tserver || tap_bail "cannot create namespace $NS_S"
ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_S" netns "$NS_S" ||
	tap_bail "cannot create the veth pair"
ip -n "$NS_C" addr add "$CLIENT_IP/24" dev "$IF_C"
for a in "${SOURCE_LIST[@]}"; do
	ip -n "$NS_C" addr add "$a/24" dev "$IF_C"
done
ip -n "$NS_S" addr add "$SERVER_IP/24" dev "$IF_S"
ip -n "$NS_C" link set "$IF_C" up
ip -n "$NS_S" link set "$IF_S" up

in_c() { ip netns exec "$NS_C" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

# nginx CONF-NAME PORT: one process (so kill -9 is the whole server).
nginx_conf() {
	local dir=$T/nginx-$1
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	keepalive_requests 1000000;
	default_type application/json;
	# By source address: even last digit v1, odd v2 (a sticky split).
	map \$remote_addr \$split_model { ~[02468]\$ v1; default v2; }
	# By connection: each new connection may flip (not sticky).
	map \$connection \$flappy_model { ~[02468]\$ v1; default v2; }
	server {
		listen $SERVER_IP:$2 backlog=1024;
		location / { return 200 '{"label":"positive","scores":{"positive":0.9},"model":"v1"}'; }
		location /whoami { return 200 '{"model":"\$remote_addr"}'; }
		location /split { return 200 '{"model":"\$split_model"}'; }
		location /flappy { return 200 '{"model":"\$flappy_model"}'; }
		location /length { return 200 '{"model":"len\$content_length"}'; }
		location /error { return 503 '{"error":"overloaded","model":"v1"}'; }
		# SSI drops Content-Length: the answer goes out chunked.
		location /chunked { ssi on; ssi_types application/json; alias $dir/chunked.json; }
	}
}
EOF
	printf '{"model":"<!--# echo var="ssi_model" default="v3" -->"}' >"$dir/chunked.json"
}

# start_nginx NAME PORT: sets NGINX_PID.
start_nginx() {
	nginx_conf "$1" "$2"
	# Not through a shell function: $! must be nginx itself.
	ip netns exec "$NS_S" nginx -c "$T/nginx-$1/nginx.conf" -p "$T/nginx-$1" \
		>"$T/nginx-$1.log" 2>&1 &
	NGINX_PID=$!
	TOPO_PIDS+=("$NGINX_PID")
	topo_wait_port tclient "$SERVER_IP" "$2"
}

start_nginx main "$HTTP_PORT" || tap_bail "nginx does not start: $(cat "$T/nginx-main.log")"

# A server with awkward answers, by path: /chunky (chunked, written a byte
# at a time, with an extension, a decoy nested "model" and a trailer),
# /eof (no length: the body ends at close), /continue (100 first), /cut
# (half a head, then close), /stall (never answers).
cat >"$T/odd.py" <<'EOF'
import socket, sys, threading, time
addr, port, life = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + life
BODY = b'{"scores":{"a":[1,{"model":"decoy"}]},"note":"}\\"{","model":"v\\u0032"}'

def chunky():
    parts = [BODY[:5], BODY[5:17], BODY[17:]]
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for i, p in enumerate(parts):
        out += b"%x;n=%d\r\n" % (len(p), i) + p + b"\r\n"
    return out + b"0\r\nX-Checked: yes\r\n\r\n"

def serve(c):
    buf = b""
    try:
        while time.time() < end:
            c.settimeout(max(0.1, end - time.time()))
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1]
            if path == b"/chunky":
                out = chunky()
                for i in range(len(out)):
                    c.sendall(out[i:i + 1])
            elif path == b"/eof":
                c.sendall(b'HTTP/1.1 503 Busy\r\n\r\n{"model": "v9"}')
                return
            elif path == b"/continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n"
                          b"HTTP/1.1 201 Created\r\nContent-Length: 15\r\n\r\n"
                          b'{"model":"v1"}\n')
            elif path == b"/cut":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Len")
                return
            elif path == b"/stall":
                time.sleep(max(0, end - time.time()))
                return
            else:
                c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    finally:
        c.close()

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(128)
while time.time() < end:
    s.settimeout(max(0.1, end - time.time()))
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
ip netns exec "$NS_S" "$PY" "$T/odd.py" "$SERVER_IP" "$ODD_PORT" "$SERVER_LIFE_S" >"$T/odd.log" 2>&1 &
TOPO_PIDS+=($!)
topo_wait_port tclient "$SERVER_IP" "$ODD_PORT" || tap_bail "the Python server does not start: $(cat "$T/odd.log")"

# ---- helpers ---------------------------------------------------------------
# load NAME ARGS...: kn-load in the client namespace, JSON to $T/NAME.json;
# LOAD_RC is its exit status.
load() {
	local name=$1
	shift
	in_c timeout "$RUN_LIMIT_S" "$LOAD" --json "$@" >"$T/$name.json" 2>"$T/$name.err"
	LOAD_RC=$?
}

# j NAME EXPR: Python EXPR on d, the JSON in $T/NAME.json (or NAME if a
# path); strings bare, the rest as JSON ("<error>" if it does not parse).
j() {
	local f=$1
	[ -f "$f" ] || f=$T/$1.json
	"$PY" -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    r = eval(sys.argv[2])
except Exception as e:
    print("<%s>" % type(e).__name__)
    sys.exit(0)
print(r if isinstance(r, str) else json.dumps(r))' "$f" "$2"
}

# Every attempt ends in exactly one outcome.
OUTCOMES='d["responses"] + sum(d["connect_failures"].values()) + d["resets"] + d["premature_closes"] + d["timeouts"] + d["protocol_errors"] + d["io_errors"] + d["unfinished"]'

# csum_start NS NAME ARGS...: kn-csumcheck in the background, JSON to
# $T/NAME.json; returns once it captures (bounded). CSUM_PID is its pid.
csum_start() {
	local ns=$1 name=$2 i
	shift 2
	ip netns exec "$ns" "$CSUM" --json "$@" >"$T/$name.json" 2>"$T/$name.err" &
	CSUM_PID=$!
	TOPO_PIDS+=("$CSUM_PID")
	for ((i = 0; i < READY_POLLS; i++)); do
		grep -q 'capturing on' "$T/$name.err" 2>/dev/null && return 0
		kill -0 "$CSUM_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# csum_wait: its exit status in CSUM_RC (it stops by itself: --timeout-ms).
csum_wait() {
	wait "$CSUM_PID"
	CSUM_RC=$?
}

# ---- kn-load: usage --------------------------------------------------------
tap_check "kn-load --help documents --sources" bash -c "'$LOAD' --help | grep -q -- --sources"
out=$("$LOAD" --target "$SERVER_IP:$HTTP_PORT" --requests 1 --connections 0 2>&1)
rc=$?
tap_check "kn-load: a bad value exits 2 naming flag and value (rc $rc)" \
	bash -c "[ $rc = 2 ] && grep -q -- \"'0' for --connections\" <<<\"\$1\"" _ "$out"
out=$("$LOAD" --target "$SERVER_IP:$HTTP_PORT" 2>&1)
rc=$?
tap_check "kn-load: no --requests/--duration exits 2 and says so (rc $rc)" \
	bash -c "[ $rc = 2 ] && grep -q -- '--requests N or --duration' <<<\"\$1\"" _ "$out"
out=$(in_c "$LOAD" --target "$SERVER_IP:$HTTP_PORT" --requests 1 --sources "$NOT_LOCAL" 2>&1)
rc=$?
tap_check "kn-load: a source that is not local exits 1 naming it (rc $rc)" \
	bash -c "[ $rc = 1 ] && grep -q '$NOT_LOCAL' <<<\"\$1\"" _ "$out"

# ---- kn-load: counting -----------------------------------------------------
load keep --target "$SERVER_IP:$HTTP_PORT" --path /predict --requests "$N" --connections 4
tap_is "keepalive: exits 0" "$LOAD_RC" 0
tap_is "keepalive: exactly $N responses, all 200" \
	"$(j keep '[d["attempts"], d["requests"], d["responses"], d["codes"], d["status"]["2xx"], d["errors"]]')" \
	"[$N, $N, $N, {\"200\": $N}, $N, 0]"
tap_is "keepalive: every response tagged v1" "$(j keep '[d["tags"], d["untagged"]]')" "[{\"v1\": $N}, 0]"
tap_is "keepalive: 4 connections opened, none again" \
	"$(j keep '[d["connections_opened"], d["reconnects"]]')" "[4, 0]"
tap_is "keepalive: one latency sample per response, ordered quantiles" \
	"$(j keep '(l := d["latency_ms"])["samples"] == d["responses"] and l["exact"] and 0 < l["p50"] <= l["p90"] <= l["p99"] <= l["max"]')" true
tap_is "keepalive: the outcomes add up to the attempts" "$(j keep "$OUTCOMES == d[\"attempts\"]")" true

load close --target "$SERVER_IP:$HTTP_PORT" --close --requests 60 --connections 4
tap_is "--close: 60 responses over 60 connections" \
	"$(j close '[d["responses"], d["connections_opened"], d["errors"]]')" "[60, 60, 0]"

load whoami --target "$SERVER_IP:$HTTP_PORT" --path /whoami --close --requests 40 \
	--connections 3 --sources "$SOURCES" --per-source-report
tap_is "--sources: the server saw each of 4 addresses 10 times" \
	"$(j whoami 'd["tags"]')" \
	'{"198.18.50.10": 10, "198.18.50.11": 10, "198.18.50.12": 10, "198.18.50.13": 10}'
tap_is "--per-source-report: each source saw one tag, its own address" \
	"$(j whoami '[d["sources"], d["sources_with_multiple_tags"], all(s["tag_set"] == [s["addr"]] and s["answered"] == 10 for s in d["per_source"])]')" \
	"[4, 0, true]"

load split --target "$SERVER_IP:$HTTP_PORT" --path /split --close --requests 40 \
	--connections 4 --sources "$SOURCES" --per-source-report
tap_is "a split by source: v1 and v2 counted, every source sticky" \
	"$(j split '[d["tags"], d["sources_with_multiple_tags"]]')" '[{"v1": 20, "v2": 20}, 0]'

load flappy --target "$SERVER_IP:$HTTP_PORT" --path /flappy --close --requests 12 \
	--connections 1 --sources 198.18.50.10-198.18.50.12 --per-source-report
tap_is "a split by connection: every source flagged with two tags" \
	"$(j flappy '[d["sources_with_multiple_tags"], sorted(d["multi_tag_sources"]), d["tags"]]')" \
	'[3, ["198.18.50.10", "198.18.50.11", "198.18.50.12"], {"v1": 6, "v2": 6}]'

body='{"text": "the room was clean and the staff friendly"}'
load post --target "$SERVER_IP:$HTTP_PORT" --path /length --body "$body" --requests 20 --connections 2
tap_is "POST: the server got the body's length, keepalive held" \
	"$(j post '[d["method"], d["tags"], d["connections_opened"]]')" "[\"POST\", {\"len${#body}\": 20}, 2]"

load err --target "$SERVER_IP:$HTTP_PORT" --path /error --requests 30 --connections 3
tap_is "HTTP errors are data: exit 0, 30 x 503 in 5xx, tagged, no errors" \
	"$LOAD_RC $(j err '[d["codes"], d["status"]["5xx"], d["tags"], d["errors"]]')" \
	'0 [{"503": 30}, 30, {"v1": 30}, 0]'

load chunked --target "$SERVER_IP:$HTTP_PORT" --path /chunked --requests 50 --connections 2
tap_is "chunked answers (nginx SSI): parsed and tagged" \
	"$(j chunked '[d["responses"], d["tags"], d["protocol_errors"], d["connections_opened"]]')" \
	'[50, {"v3": 50}, 0, 2]'

load chunky --target "$SERVER_IP:$ODD_PORT" --path /chunky --requests 10 --connections 2
tap_is "chunked a byte at a time, extensions, trailer, decoy tag: tag v2" \
	"$(j chunky '[d["responses"], d["tags"], d["errors"], d["connections_opened"]]')" \
	'[10, {"v2": 10}, 0, 2]'

load eof --target "$SERVER_IP:$ODD_PORT" --path /eof --requests 6 --connections 2
tap_is "a body that ends at close: 6 x 503, tag v9, reconnecting" \
	"$(j eof '[d["codes"], d["tags"], d["errors"], d["connections_opened"], d["reconnects"]]')" \
	'[{"503": 6}, {"v9": 6}, 0, 6, 4]'

load cont --target "$SERVER_IP:$ODD_PORT" --path /continue --requests 6 --connections 2
tap_is "100 Continue then the answer: 6 x 201" "$(j cont '[d["codes"], d["tags"], d["errors"]]')" \
	'[{"201": 6}, {"v1": 6}, 0]'

load cut --target "$SERVER_IP:$ODD_PORT" --path /cut --requests 5 --connections 1
tap_is "a close half way through the head: 5 premature closes" \
	"$(j cut '[d["responses"], d["premature_closes"], d["errors"]]')" '[0, 5, 5]'

load stall --target "$SERVER_IP:$ODD_PORT" --path /stall --requests 4 --connections 4 \
	--timeout-ms "$TEST_TIMEOUT_MS"
tap_is "an answer that never comes: 4 timeouts after ${TEST_TIMEOUT_MS} ms" \
	"$(j stall '[d["timeouts"], d["responses"], d["duration_s"] < 2]')" '[4, 0, true]'

load refused --target "$SERVER_IP:$CLOSED_PORT" --requests 5 --connections 1
tap_is "a closed port: exit 0, 5 refused, nothing sent" \
	"$LOAD_RC $(j refused '[d["connect_failures"]["refused"], d["requests"], d["errors"]]')" '0 [5, 0, 5]'

load unreach --target "$NO_ROUTE:$HTTP_PORT" --requests 3 --connections 1
tap_is "no route: 3 unreachable" "$(j unreach 'd["connect_failures"]["unreachable"]')" 3

load ctimeout --target "$ON_LINK_NOBODY:$HTTP_PORT" --requests 2 --connections 2 \
	--timeout-ms "$TEST_TIMEOUT_MS"
tap_is "nobody at the address: 2 connect timeouts" \
	"$(j ctimeout '[d["connect_failures"]["timeout"], d["timeouts"]]')" '[2, 0]'

load rate --target "$SERVER_IP:$HTTP_PORT" --rate 100 --requests 50 --connections 4
tap_is "--rate 100: 50 requests take at least 0.45 s" \
	"$(j rate '[d["responses"], d["duration_s"] >= 0.45]')" '[50, true]'

load interval --target "$SERVER_IP:$HTTP_PORT" --interval-ms 100 --requests 5 --connections 1
tap_is "--interval-ms 100: 5 requests on one connection take at least 0.4 s" \
	"$(j interval '[d["responses"], d["duration_s"] >= 0.4]')" '[5, true]'

in_c timeout "$RUN_LIMIT_S" "$LOAD" --target "$SERVER_IP:$HTTP_PORT" --duration 1 --rate 400 \
	--connections 4 --report-interval-ms 200 --json-lines >"$T/lines.out" 2>"$T/lines.err"
"$PY" - "$T/lines.out" >"$T/lines.check" 2>&1 <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
# JSON lines first, then the human summary ("... responses N (...)").
import json, re
objs = [json.loads(l) for l in lines if l.startswith("{")]
total = int(re.search(r"responses (\d+)", "\n".join(lines)).group(1))
ok = len(objs) >= 3 and sum(o["responses"] for o in objs) == total and \
    all(o["tags"].get("v1", 0) == o["responses"] for o in objs) and total > 0
print("ok" if ok else "bad: %d lines, total %d" % (len(objs), total))
EOF
tap_is "--report-interval-ms: JSON lines that add up to the total" "$(cat "$T/lines.check")" ok

# Killed for real: stopped first, so requests sit unread in its socket
# buffers; SIGKILL then closes those with a reset, and afterwards nothing
# listens.
start_nginx kill "$KILL_PORT" || tap_bail "the second nginx does not start"
kill_pid=$NGINX_PID
ip netns exec "$NS_C" timeout "$RUN_LIMIT_S" "$LOAD" --json --target "$SERVER_IP:$KILL_PORT" --duration 3 \
	--connections 8 --timeout-ms 2000 --retry-delay-ms 50 >"$T/kill.json" 2>"$T/kill.err" &
load_pid=$!
sleep 1
kill -STOP "$kill_pid"
sleep 0.3
kill -KILL "$kill_pid"
wait "$kill_pid" 2>/dev/null # reaped quietly
wait "$load_pid"
LOAD_RC=$?
tap_is "server killed mid-run: exit 0, answers before, resets, then refused" \
	"$LOAD_RC $(j kill '[d["responses"] > 100, d["resets"] >= 1, d["connect_failures"]["refused"] >= 1]')" \
	'0 [true, true, true]'
tap_is "server killed mid-run: the outcomes add up to the attempts" "$(j kill "$OUTCOMES == d[\"attempts\"]")" true

if [ -x "$MODELSERVER" ]; then
	ip netns exec "$NS_S" "$MODELSERVER" --listen "$SERVER_IP:$MODEL_PORT" --model v2 >"$T/model.log" 2>&1 &
	TOPO_PIDS+=($!)
	if topo_wait_port tclient "$SERVER_IP" "$MODEL_PORT"; then
		load model --target "$SERVER_IP:$MODEL_PORT" --path /predict \
			--body '{"text": "the food was excellent"}' --requests 100 --connections 4
		tap_is "kanary-modelserver: 100 predictions, all 200 and tagged v2" \
			"$(j model '[d["codes"], d["tags"], d["errors"]]')" '[{"200": 100}, {"v2": 100}, 0]'
	else
		tap_fail "kanary-modelserver starts: $(cat "$T/model.log")"
	fi
else
	tap_ok "kanary-modelserver answers # SKIP $MODELSERVER is not built"
fi

# ---- kn-csumcheck ----------------------------------------------------------
out=$("$CSUM" --iface lo --proto icmp 2>&1)
rc=$?
tap_check "kn-csumcheck: a bad value exits 2 naming flag and value (rc $rc)" \
	bash -c "[ $rc = 2 ] && grep -q -- \"'icmp' for --proto\" <<<\"\$1\"" _ "$out"

# wire NS IFACE NAME TX(on|off) ARGS...: captures while kn-load runs.
wire() {
	local ns=$1 iface=$2 name=$3
	shift 3
	csum_start "$ns" "$name" --iface "$iface" --count 40 --timeout-ms 5000 "$@" ||
		{ CSUM_RC=capture-did-not-start; return; }
	in_c "$LOAD" --target "$SERVER_IP:$HTTP_PORT" --requests 200 --connections 2 --close >/dev/null 2>&1
	csum_wait
}

for tx in on off; do
	in_c ethtool -K "$IF_C" tx "$tx" >/dev/null 2>&1
	state=$(in_c ethtool -k "$IF_C" | sed -n 's/^tx-checksumming: *\([a-z]*\).*/\1/p')
	tap_is "client veth tx checksum offload is $tx" "$state" "$tx"
	if [ "$tx" = on ]; then
		want='[40, 0, 40, 0, 0]' kind=partial
	else
		want='[40, 40, 0, 0, 0]' kind=full
	fi
	wire "$NS_C" "$IF_C" "out-$tx" --proto tcp --filter-dst "$SERVER_IP:$HTTP_PORT" --direction out
	tap_is "tx $tx: client side, requests leaving: all correct, all $kind" \
		"$CSUM_RC $(j "out-$tx" '[d["seen"], d["l4_full_ok"], d["l4_partial_ok"], d["ip_bad"], d["bad_total"]]')" \
		"0 $want"
	wire "$NS_S" "$IF_S" "in-$tx" --proto tcp --filter-src "$CLIENT_IP" --direction in
	tap_is "tx $tx: server side, requests arriving: all correct, all $kind" \
		"$CSUM_RC $(j "in-$tx" '[d["seen"], d["l4_full_ok"], d["l4_partial_ok"], d["ip_bad"], d["bad_total"]]')" \
		"0 $want"
done
wire "$NS_C" "$IF_C" both --proto tcp
tap_is "both directions at the client: correct, both states seen" \
	"$CSUM_RC $(j both '[d["seen"], d["bad_total"], d["l4_full_ok"] > 0, d["l4_partial_ok"] > 0]')" \
	'0 [40, 0, true, true]'
in_c ethtool -K "$IF_C" tx on >/dev/null 2>&1

# A snap length shorter than the requests: cut packets are skipped.
csum_start "$NS_C" snap --iface "$IF_C" --count 40 --timeout-ms 5000 --snaplen 200 \
	--proto tcp --filter-dst "$SERVER_IP:$HTTP_PORT" ||
	tap_fail "capture with --snaplen starts"
big=$(printf '{"text": "%0900d"}' 0)
in_c "$LOAD" --target "$SERVER_IP:$HTTP_PORT" --path /length --body "$big" --requests 100 \
	--connections 2 --close >/dev/null 2>&1
csum_wait
tap_is "--snaplen 200: large packets counted truncated, the rest checked" \
	"$CSUM_RC $(j snap '[d["truncated"] > 0, d["seen"] > 0, d["bad_total"]]')" '0 [true, true, 0]'

# probe NAME KIND PROTO: sends $PROBES crafted frames from the client and
# checks them as they arrive at the server. SENT holds what the sender said.
probe() {
	local name=$1 kind=$2 proto=$3
	csum_start "$NS_S" "$name" --iface "$IF_S" --direction in --count "$PROBES" \
		--timeout-ms 3000 --proto "$proto" --filter-dst "$SERVER_IP:$PROBE_PORT" ||
		{ CSUM_RC=capture-did-not-start; return; }
	SENT=$(in_c "$CSUM" --send "$kind" --iface "$IF_C" --count "$PROBES" --proto "$proto" \
		--src "$CLIENT_IP:40000" --dst "$SERVER_IP:$PROBE_PORT" 2>&1)
	csum_wait
}
# right VALUE of "right: 0x...." in what the sender printed.
right() { sed -n 's/.*right: \(0x[0-9a-f]*\).*/\1/p' <<<"$SENT"; }

probe good-udp good udp
tap_is "crafted UDP, full checksum right: all correct" \
	"$CSUM_RC $(j good-udp '[d["seen"], d["l4_full_ok"], d["bad_total"]]')" "0 [$PROBES, $PROBES, 0]"
probe good-tcp good tcp
tap_is "crafted TCP, full checksum right: all correct" \
	"$CSUM_RC $(j good-tcp '[d["seen"], d["l4_full_ok"], d["bad_total"]]')" "0 [$PROBES, $PROBES, 0]"
probe bad-l4 bad-l4 udp
tap_is "crafted UDP, wrong checksum: exit 1, each reported with the right value" \
	"$CSUM_RC $(j bad-l4 '[d["l4_full_bad"], d["ip_ok"], [b["kind"] for b in d["bad"]], d["bad"][0]["expected"]]')" \
	"1 [$PROBES, $PROBES, [\"l4-full\", \"l4-full\", \"l4-full\"], \"$(right)\"]"
probe bad-tcp bad-l4 tcp
tap_is "crafted TCP, wrong checksum: exit 1" \
	"$CSUM_RC $(j bad-tcp '[d["l4_full_bad"], d["bad"][0]["src"], d["bad"][0]["dst"]]')" \
	"1 [$PROBES, \"$CLIENT_IP:40000\", \"$SERVER_IP:$PROBE_PORT\"]"
probe bad-ip bad-ip udp
tap_is "crafted IPv4 header checksum wrong: exit 1" \
	"$CSUM_RC $(j bad-ip '[d["ip_bad"], d["l4_full_ok"], d["bad"][0]["kind"]]')" "1 [$PROBES, $PROBES, \"ip\"]"
probe good-partial good-partial udp
tap_is "crafted CHECKSUM_PARTIAL, right seed: all correct" \
	"$CSUM_RC $(j good-partial '[d["seen"], d["l4_partial_ok"], d["bad_total"]]')" "0 [$PROBES, $PROBES, 0]"
probe bad-partial bad-partial udp
tap_is "crafted CHECKSUM_PARTIAL, wrong seed: exit 1 with the right seed" \
	"$CSUM_RC $(j bad-partial '[d["l4_partial_bad"], d["bad"][0]["kind"], d["bad"][0]["expected"]]')" \
	"1 [$PROBES, \"l4-partial\", \"$(right)\"]"

csum_start "$NS_S" none --iface "$IF_S" --count 5 --timeout-ms 300 --filter-dst "$SERVER_IP:$CLOSED_PORT" ||
	tap_fail "capture starts"
csum_wait
tap_is "nothing matches within the timeout: exit 3" "$CSUM_RC $(j none '[d["seen"], d["result"]]')" '3 [0, "none"]'

tap_done
