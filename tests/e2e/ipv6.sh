#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/ipv6.sh - IPv6 and dual-stack services for real, in both modes:
# one kanaryd serving an IPv6 service ([2001:2:32::1]:80, its pools on
# 2001:2:16::/64) and an IPv4 one on the same port (198.18.32.1:80), model
# servers on both families in the same backend namespaces, kn-load and curl
# as clients from many IPv6 source addresses. Checks the observed split
# against the weight, stickiness, replies from the VIP, checksums on the
# wire (tcpdump, with the client's checksum offload off), traffic that is
# not for a service, long-lived connections across weight flips, the IPv4
# twin still served, bpftool showing the IPv6 keys (as docs/design.md
# says), the /metrics labels, and a whole rollout on the IPv6 service,
# driven through the API on the node's IPv6 address (--listen [ADDR]:PORT,
# with a token; refused without one) and read by kanaryctl from the client.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
source "$(dirname "$0")/../lib/flips.sh"
trap topo_destroy EXIT

SOURCES6=${SOURCES6:-200}
WEIGHT_PCT=25
FLIPS=${FLIPS:-100}
LONG_LIVED=${LONG_LIVED:-200}
SIGMAS=4
CURL_SAMPLE=10
WIRE_PACKETS=12
PHASE_WAIT_S=60

topo_create 2 1 0 || tap_bail "cannot build the topology"
topo_add_ipv6 $((SOURCES6 > LONG_LIVED ? SOURCES6 : LONG_LIVED)) || tap_bail "cannot add IPv6 to the topology"
topo_backends || tap_bail "cannot start the IPv4 model servers"
topo_backends6 || tap_bail "cannot start the IPv6 model servers"
LOAD=$KANARY_TOOLS/kn-load
[ -x "$LOAD" ] || tap_bail "kn-load is not built (make test-build)"
command -v tcpdump >/dev/null || tap_bail "tcpdump is missing (make deps)"
CONFIG=$TOPO_TMP/dual.json
VIP6_TARGET="[$TOPO_VIP6]:$TOPO_VIP_PORT"

json_list() { echo "\"${1//,/\", \"}\""; } # "a,b" -> "a", "b"

# The IPv6 service and its IPv4 twin on the same port; ROLLOUT (JSON after
# a comma) is the IPv6 service's rollout spec, when given.
write_config() { # [ROLLOUT]
	cat >"$CONFIG" <<-EOF
	{
	  "tick": "50ms",
	  "services": [{
	    "name": "sentiment6",
	    "vip": "$VIP6_TARGET",
	    "stable": [$(json_list "$(topo_pool6 stable)")],
	    "canary": [$(json_list "$(topo_pool6 canary)")],
	    "canary_percent": $WEIGHT_PCT,
	    "metrics": {"preset": "kanary-modelserver", "interval": "500ms",
	                "timeout": "400ms"}${1:+,
	    $1}
	  }, {
	    "name": "sentiment",
	    "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
	    "stable": [$(json_list "$(topo_pool stable)")],
	    "canary": [$(json_list "$(topo_pool canary)")],
	    "canary_percent": $WEIGHT_PCT
	  }]
	}
	EOF
}

# The model that answered a POST /predict to URL from source address SRC.
predict() { # SRC URL
	topo_client curl -sS -m 3 --interface "$1" -H 'Content-Type: application/json' \
		-d '{"text": "the service was fast and friendly"}' "$2/predict" 2>/dev/null |
		sed -n 's/.*"model" *: *"\([^"]*\)".*/\1/p'
}
predict6() { predict "$(topo_source_ip6 "$1")" "http://[$TOPO_VIP6]"; }

# One new connection per client with kn-load; sets CANARY_SEEN,
# FAILED_REQUESTS and MODEL (version per client).
observe_split() {
	local out=$TOPO_TMP/split.json i
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$VIP6_TARGET" \
		--sources "$(topo_sources6 "$SOURCES6")" --close --connections 16 --requests "$SOURCES6" \
		--method POST --path /predict --body '{"text": "fast and friendly"}' \
		--per-source-report --json >"$out" 2>"$TOPO_TMP/split.err"
	mapfile -t MODEL < <("$PYTHON" -c "
import ipaddress, json, sys
d = json.load(open(sys.argv[1]))
tags = {str(ipaddress.IPv6Address(p['addr'])): ','.join(p['tag_set']) for p in d['per_source']}
first = ipaddress.IPv6Address(sys.argv[3])
for i in range(int(sys.argv[2])):
    print(tags.get(str(first + i), 'none'))
" "$out" "$SOURCES6" "$(topo_source_ip6 0)")
	CANARY_SEEN=0
	FAILED_REQUESTS=0
	for ((i = 0; i < SOURCES6; i++)); do
		case ${MODEL[$i]} in
		v2) CANARY_SEEN=$((CANARY_SEEN + 1)) ;;
		v1) ;;
		*) FAILED_REQUESTS=$((FAILED_REQUESTS + 1)) ;;
		esac
	done
}

within_sigmas() { # OBSERVED N PERCENT
	awk -v o="$1" -v n="$2" -v p="$3" -v k="$SIGMAS" 'BEGIN {
		p /= 100; e = n * p; s = sqrt(n * p * (1 - p));
		exit !((o - e) <= k * s && (e - o) <= k * s) }'
}

# tcpdump's own checksum verdicts on WIRE_PACKETS packets of FILTER seen on
# IFACE in namespace ROLE while clients send: prints "correct/captured".
wire_verdicts() { # ROLE IFACE FILTER
	local out=$TOPO_TMP/wire-$1-$2.txt pid i
	topo_exec "$1" timeout 8 tcpdump -i "$2" -nn -vv -c "$WIRE_PACKETS" "$3" >"$out" 2>/dev/null &
	pid=$!
	sleep 1
	for ((i = 0; i < 16; i++)); do predict6 "$i" >/dev/null; done
	wait "$pid"
	echo "$(grep -c '(correct)' "$out")/$(grep -c 'cksum' "$out")"
}

# What docs/design.md tells an operator to run: bpftool's dump of the
# services with each VIP's four words turned back into an address.
bpftool_vips() {
	bpftool -j map dump pinned "$TOPO_PIN_DIR/kn_services" | "$PYTHON" -c '
import ipaddress, json, struct, sys
for e in json.load(sys.stdin):
    k = e["formatted"]["key"]
    raw = struct.pack("=4I", *k["vip"]["w"])
    ip = ipaddress.IPv6Address(raw) if k["family"] == 10 else ipaddress.IPv4Address(raw[:4])
    print(ip, e["formatted"]["value"]["name"])' | sort
}

run_checks() {
	local mode=$1 offload
	topo_kanaryd --mode "$mode" --config "$CONFIG" || { tap_fail "$mode: kanaryd starts"; return; }
	tap_is "$mode: bpftool shows both VIPs readably" "$(bpftool_vips | tr '\n' ' ')" \
		"198.18.32.1 sentiment 2001:2:32::1 sentiment6 "

	for offload in on off; do
		topo_client ethtool -K eth0 tx "$offload" >/dev/null 2>&1
		declare -a PREV=("${MODEL[@]:-}")
		observe_split
		tap_is "$mode, tx offload $offload: every IPv6 request answered (replies from the VIP)" "$FAILED_REQUESTS" 0
		local i bad=0
		for ((i = 0; i < CURL_SAMPLE; i++)); do
			[ "$(predict6 "$i")" = "${MODEL[$i]}" ] || bad=$((bad + 1))
		done
		tap_is "$mode, tx offload $offload: curl from $CURL_SAMPLE clients gets the same versions" "$bad" 0
		if within_sigmas "$CANARY_SEEN" "$SOURCES6" "$WEIGHT_PCT"; then
			tap_ok "$mode, tx offload $offload: canary share $CANARY_SEEN/$SOURCES6 within ${SIGMAS} sigma of $WEIGHT_PCT %"
		else
			tap_fail "$mode, tx offload $offload: canary share $CANARY_SEEN/$SOURCES6 not within ${SIGMAS} sigma of $WEIGHT_PCT %"
		fi
		[ "$offload" = off ] || continue
		local moved=0
		for ((i = 0; i < SOURCES6; i++)); do
			[ "${PREV[$i]:-}" = "${MODEL[$i]}" ] || moved=$((moved + 1))
		done
		tap_is "$mode: every IPv6 client kept its version across connections" "$moved" 0
		# Full checksums from the client: tcpdump verifies them where
		# the node sends them to the backends, and on the replies.
		tap_is "$mode: requests rewritten to the backends carry correct TCP checksums" \
			"$(wire_verdicts node br0 "ip6 and tcp and src net 2001:2::/64 and dst net 2001:2:16::/64 and dst port $TOPO_BACKEND_PORT")" \
			"$WIRE_PACKETS/$WIRE_PACKETS"
		topo_exec stable1 ethtool -K eth0 tx off >/dev/null 2>&1
		topo_exec stable2 ethtool -K eth0 tx off >/dev/null 2>&1
		topo_exec canary1 ethtool -K eth0 tx off >/dev/null 2>&1
		tap_is "$mode: replies leave from the VIP with correct TCP checksums" \
			"$(wire_verdicts client eth0 "ip6 and tcp and src host $TOPO_VIP6 and src port $TOPO_VIP_PORT")" \
			"$WIRE_PACKETS/$WIRE_PACKETS"
		topo_exec stable1 ethtool -K eth0 tx on >/dev/null 2>&1
		topo_exec stable2 ethtool -K eth0 tx on >/dev/null 2>&1
		topo_exec canary1 ethtool -K eth0 tx on >/dev/null 2>&1
	done
	topo_client ethtool -K eth0 tx on >/dev/null 2>&1

	# The IPv4 twin on the same port, and what is for no service.
	tap_check "$mode: the IPv4 service on the same port answers too" \
		test -n "$(predict 198.18.0.2 "http://$TOPO_VIP")"
	tap_check "$mode: an IPv6 backend reached directly, untouched" \
		topo_client curl -fsS -m 3 -o /dev/null "http://[$(topo_backend_ip6 stable 1)]:$TOPO_BACKEND_PORT/healthz"
	tap_check "$mode: ICMPv6 (and neighbour discovery) passes" \
		topo_client ping -6 -c 1 -W 2 "$TOPO_NODE_CLIENT_IP6"
	tap_check "$mode: /metrics labels the IPv6 backends in brackets" \
		bash -c "nsenter --net=/run/netns/$(topo_ns node) curl -fsS -m 3 $TOPO_API/metrics |
			grep -q 'backend=\"\[$(topo_backend_ip6 stable 1)\]:$TOPO_BACKEND_PORT\"'"

	flips_keep_connections "$mode" "$VIP6_TARGET" "$(topo_sources6 "$LONG_LIVED")" sentiment6 "long-lived IPv6"
	[ "$mode" = tc ] && control_checks
}

# The API and kanaryctl with IPv6 endpoints (once: they do not depend on
# the mode).
control_checks() {
	local ctl="$KANARY_BIN/kanaryctl" canary6 out
	canary6="[$(topo_backend_ip6 canary 1)]:$TOPO_BACKEND_PORT"
	out=$(topo_node "$ctl" status sentiment6 2>&1)
	tap_check "kanaryctl status shows the IPv6 VIP and backends in brackets" \
		bash -c 'grep -qF "[$1]:$2" <<<"$3" && grep -qF "$4" <<<"$3"' _ \
		"$TOPO_VIP6" "$TOPO_VIP_PORT" "$out" "$canary6"
	tap_check "kanaryctl set-backends takes IPv6 endpoints" \
		topo_node "$ctl" set-backends sentiment6 --canary "$canary6"
	out=$(topo_node "$ctl" set-backends sentiment6 --canary "$(topo_backend_ip canary 1):$TOPO_BACKEND_PORT" 2>&1)
	tap_check "an IPv4 backend for the IPv6 service is refused, naming the field" \
		bash -c 'grep -q "canary\[0\]" <<<"$1" && grep -q "is IPv4 but the service.s VIP is IPv6" <<<"$1"' _ "$out"
	topo_api PUT /api/v1/services/sentiment6/backends \
		"{\"stable\": [\"[$(topo_backend_ip6 stable 1)]:$TOPO_BACKEND_PORT\", \"$(topo_backend_ip stable 2):$TOPO_BACKEND_PORT\"]}" >"$TOPO_TMP/mixed.json"
	tap_is "the API refuses a mixed pool with a 400" "$TOPO_HTTP_STATUS" 400
	tap_check "naming the entry (stable[1])" grep -q '"field":"stable\[1\]"' "$TOPO_TMP/mixed.json"
}

MODEL=()
write_config
for mode in xdp tc; do
	rm -f "$TOPO_STATE_FILE"
	run_checks "$mode"
	topo_kanaryd_stop
done

# ---- a whole rollout on the IPv6 service --------------------------------
status6() { # EXPRESSION over the IPv6 service's status s
	topo_api GET /api/v1/services/sentiment6 | "$PYTHON" -c \
		"import json, sys; s = json.load(sys.stdin); print($1)" 2>/dev/null
}
rm -f "$TOPO_STATE_FILE"
write_config '"warmup": {"method": "POST", "path": "/predict", "body": "{\"text\": \"warming up\"}"},
	    "rollout": {"steps": [10, 50, 100], "interval": "3s", "min_requests": 30, "max_failures": 2}'

# The API on the node's IPv6 address, as the rollout's API: off loopback it
# needs a token, and without one kanaryd refuses to start, naming it.
API6_LISTEN="[$TOPO_NODE_CLIENT_IP6]:$TOPO_API_PORT"
timeout 30 nsenter --net=/run/netns/"$(topo_ns node)" "$KANARY_BIN/kanaryd" --iface nc0 --pin-dir "$TOPO_PIN_DIR" \
	--state-file "$TOPO_TMP/refused-state.json" --config "$CONFIG" \
	--listen "$API6_LISTEN" >"$TOPO_TMP/refused.log" 2>&1
rc=$?
tap_check "kanaryd refuses an IPv6 API address off loopback without a token" \
	test "$rc" -ne 0 -a "$rc" -ne 124
if grep -qF "refusing to serve the API on [$TOPO_NODE_CLIENT_IP6] without a token" "$TOPO_TMP/refused.log" &&
	grep -qF -- "--token-file" "$TOPO_TMP/refused.log"; then
	tap_ok "... naming the address in brackets and what to do"
else
	tap_fail "... naming the address in brackets and what to do; kanaryd said:"
	sed 's/^/#   /' "$TOPO_TMP/refused.log" >&2
fi
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TOPO_TMP/token"
TOPO_TOKEN_FILE=$TOPO_TMP/token
TOPO_API="http://$API6_LISTEN"
topo_kanaryd --mode tc --config "$CONFIG" --listen "$API6_LISTEN" --token-file "$TOPO_TOKEN_FILE" ||
	tap_bail "kanaryd with the rollout and the API on $API6_LISTEN starts"
tap_check "kanaryd says where its API listens, in brackets" \
	grep -qF "API listening on $TOPO_API/" "$TOPO_TMP/kanaryd.log"
tap_check "the API answers a client on its IPv6 address" \
	topo_client curl -fsS -m 3 -o /dev/null "$TOPO_API/healthz"
out=$(topo_client "$KANARY_BIN/kanaryctl" --server "$TOPO_API" status sentiment6 2>&1)
tap_check "kanaryctl --server with an IPv6 URL reads the status from the client" \
	grep -qF "[$TOPO_VIP6]:$TOPO_VIP_PORT" <<<"$out"
for bad in "http://[$TOPO_NODE_CLIENT_IP6:$TOPO_API_PORT|has no closing ']'" \
	"http://[$TOPO_NODE_CLIENT_IP6]$TOPO_API_PORT|after ']' comes ':PORT' or the path"; do
	out=$("$KANARY_BIN/kanaryctl" --server "${bad%%|*}" status 2>&1)
	rc=$?
	tap_check "kanaryctl --server ${bad%%|*}: a bad command line (exit 2), saying what is wrong" \
		bash -c '[ "$1" = 2 ] && grep -qF "$2" <<<"$3"' _ "$rc" "${bad#*|}" "$out"
done
ip netns exec "$(topo_ns client)" "$LOAD" --target "$VIP6_TARGET" --sources "$(topo_sources6 "$SOURCES6")" \
	--close --connections 32 --rate 300 --duration 60 \
	--method POST --path /predict --body '{"text": "great product, works well"}' \
	--json >"$TOPO_TMP/load.json" 2>"$TOPO_TMP/load.err" &
load_pid=$!
topo_api POST /api/v1/services/sentiment6/rollout '{"warmup_requests": 20}' >/dev/null
tap_is "IPv6 rollout accepted" "$TOPO_HTTP_STATUS" 200
deadline=$((SECONDS + PHASE_WAIT_S))
while ((SECONDS < deadline)); do
	phase=$(status6 "s['phase']")
	case $phase in promoted | rolled_back | aborted) break ;; esac
	sleep 0.2
done
tap_is "a good IPv6 canary is promoted" "$phase" promoted
tap_is "the IPv6 canary pool became the stable pool" \
	"$(status6 "sorted((b['address'], b['pool']) for b in s['backends'])")" \
	"[('[$(topo_backend_ip6 canary 1)]:$TOPO_BACKEND_PORT', 'stable')]"
tap_is "the status names the IPv6 VIP in brackets" "$(status6 "s['vip']")" "$VIP6_TARGET"
tap_check "the warm-up reached the IPv6 canary" \
	grep -q "warming up each canary backend with 20 requests" "$TOPO_TMP/kanaryd.log"
kill "$load_pid" 2>/dev/null
wait "$load_pid" 2>/dev/null
tap_is "no IPv6 client request failed during the promotion" \
	"$("$PYTHON" -c "import json; print(json.load(open('$TOPO_TMP/load.json'))['errors'])" 2>/dev/null)" 0
topo_kanaryd_stop

tap_done
