#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/pmtu.sh - path-MTU discovery through kanary, in XDP and tc mode,
# for an IPv4 and an IPv6 service: a link with a smaller MTU behind the
# node, and transfers larger than it.
#
#   far (198.18.48.2+ / 2001:2:48::2+, MTU 1500) --- r0 [client ns, routing] eth0 --- nc0 [node] br0 --- backend
#                  r0 has MTU 1280: the router cannot forward a full reply
#
# Response: the far client downloads from the VIP. The backend's full-size
# segments leave the node with the VIP as source; the router answers
# "fragmentation needed" (ICMPv6: "packet too big") to the VIP, about a
# reply (quoted VIP -> far). kanary must hand it to the backend (ingress
# translation), or the backend never lowers its segment size and the
# download hangs.
#
# Request: with the node's br0 at MTU 1280, a client's large upload is too
# big for the node to forward to the backend: the node answers the client
# about client -> backend. kanary must make that about client -> VIP
# (egress translation), or the client's stack finds no socket for it and
# the upload hangs.
#
# 1280 bytes is IPv6's minimum MTU: both families use it for the narrow
# links, 1500 elsewhere.
#
# Every transfer is bounded by curl's --max-time: a hang is a failure.
# PMTU_MODES="tc" runs one mode only (default: xdp tc); PMTU_FAMILIES="6"
# one family only (default: 4 6).
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT

FULL_MTU=1500
NARROW_MTU=1280
FAR_NET=198.18.48
FAR_ROUTER_IP=$FAR_NET.1
FAR_HOST_BASE=2 # far client addresses $FAR_NET.2 onwards, one per mode
FAR_NET6=2001:2:48:
FAR_ROUTER_IP6=${FAR_NET6}:1
BULK_BYTES=${BULK_BYTES:-200000}
TRANSFER_TIMEOUT_S=20
BULK_PORT=$TOPO_BACKEND_PORT

topo_create 1 1 0 || tap_bail "cannot build the topology"
topo_add_ipv6 || tap_bail "cannot add IPv6 to the topology"
BULK_SERVER=$TOPO_TMP/bulk_server.py

# A plain HTTP server: GET answers BULK_BYTES known bytes, POST answers the
# length and SHA-256 of the body it read.
cat >"$BULK_SERVER" <<'EOF'
import hashlib, http.server, socket, sys

BODY = bytes((i * 7 + 3) % 251 for i in range(int(sys.argv[3])))


class Bulk(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(BODY)

    def do_POST(self):
        got = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer(("%d %s" % (len(got), hashlib.sha256(got).hexdigest())).encode())

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET


Server((sys.argv[1], int(sys.argv[2])), Bulk).serve_forever()
EOF

# Starts the bulk servers on both backends, on their addresses of FAMILY
# (4 or 6); BULK_PIDS holds their pids. Each mode gets fresh ones: a
# transfer that hung in one mode must not leave a connection behind that
# changes what the next mode sees.
start_bulk_servers() { # FAMILY
	local role ip
	BULK_PIDS=()
	for role in stable canary; do
		ip=$(topo_backend_ip "$role" 1)
		[ "$1" = 6 ] && ip=$(topo_backend_ip6 "$role" 1)
		ip netns exec "$(topo_ns "${role}1")" "$PYTHON" "$BULK_SERVER" "$ip" "$BULK_PORT" \
			"$BULK_BYTES" >"$TOPO_TMP/$role.log" 2>&1 &
		TOPO_PIDS+=($!)
		BULK_PIDS+=($!)
		topo_wait_port "${role}1" "$ip" "$BULK_PORT" || return 1
	done
}

stop_bulk_servers() {
	local pid
	for pid in "${BULK_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	BULK_PIDS=()
}

# The far client behind the client namespace, which routes for it.
topo_add_ns far || tap_bail "cannot add the far namespace"
ip link add eth0 netns "$(topo_ns far)" type veth peer name r0 netns "$(topo_ns client)" ||
	tap_bail "cannot link the far client"
topo_exec far ip addr add "$FAR_NET.$FAR_HOST_BASE/24" dev eth0
topo_exec far ip addr add "$FAR_NET.$((FAR_HOST_BASE + 1))/24" dev eth0
topo_exec far ip link set eth0 up
topo_exec far ip route add default via "$FAR_ROUTER_IP"
topo_exec client ip addr add "$FAR_ROUTER_IP/24" dev r0
topo_exec client ip link set r0 mtu "$NARROW_MTU" up
topo_exec client sysctl -qw net.ipv4.ip_forward=1
topo_exec node ip route add "$FAR_NET.0/24" via "$TOPO_CLIENT_IP"
# The same in IPv6: the client namespace forwards, as the node does.
topo_exec far ip addr add "${FAR_NET6}:$FAR_HOST_BASE/64" dev eth0 nodad
topo_exec far ip addr add "${FAR_NET6}:$((FAR_HOST_BASE + 1))/64" dev eth0 nodad
topo_exec far ip -6 route add default via "$FAR_ROUTER_IP6"
topo_exec client ip addr add "$FAR_ROUTER_IP6/64" dev r0 nodad
topo_exec client sysctl -qw net.ipv6.conf.all.forwarding=1
topo_exec node ip -6 route add "${FAR_NET6}:/64" via "$TOPO_CLIENT_IP6"

# The data path's count of one outcome on one hook, from /metrics.
outcome_count() { # HOOK OUTCOME
	topo_node curl -sS -m 5 "$TOPO_API/metrics" |
		sed -n "s/^kanary_datapath_packets_total{hook=\"$1\",outcome=\"$2\"} \([0-9]*\)$/\1/p"
}

# Forgets every learnt path MTU, so that each run must discover it again.
forget_pmtu() {
	local ns
	for ns in client far stable1 canary1 node; do
		topo_exec "$ns" ip route flush cache
		topo_exec "$ns" ip -6 route flush cache
	done
}

expected_sha() {
	"$PYTHON" -c "
import hashlib, sys
n = int(sys.argv[1])
print(hashlib.sha256(bytes((i * 7 + 3) % 251 for i in range(n))).hexdigest())" "$BULK_BYTES"
}
WANT_SHA=$(expected_sha)

# run_mode MODE FAMILY FAR_IP: FAR_IP is the far client's address in this
# mode and family. A transfer that hangs leaves its connection
# retransmitting after kanaryd stops, and the router's errors about it, no
# longer translated, can teach the backend the path MTU to that address:
# each mode downloads to its own.
run_mode() {
	local mode=$1 family=$2 far_ip=$3 ingress_hook=xdp_ingress got before
	local what="$mode, IPv$family" vip=$TOPO_VIP url=$TOPO_VIP
	local stable canary error="fragmentation needed"
	stable=$(topo_pool stable) canary=$(topo_pool canary)
	if [ "$family" = 6 ]; then
		vip="[$TOPO_VIP6]" url="[$TOPO_VIP6]" error="packet too big"
		stable=$(topo_pool6 stable) canary=$(topo_pool6 canary)
	fi
	[ "$mode" = tc ] && ingress_hook=tc_ingress
	start_bulk_servers "$family" || { tap_fail "$what: the bulk servers start"; return; }
	topo_kanaryd --mode "$mode" --name bulk --service "$vip:$TOPO_VIP_PORT" \
		--stable "$stable" --canary "$canary" --weight 50 ||
		{ tap_fail "$what: kanaryd starts"; return; }

	# Response larger than the router's MTU, towards the far client.
	forget_pmtu
	topo_exec node ip link set br0 mtu "$FULL_MTU"
	before=$(outcome_count "$ingress_hook" icmp_translated)
	got=$(topo_exec far curl -sS -g -m "$TRANSFER_TIMEOUT_S" --interface "$far_ip" "http://$url/bulk" 2>"$TOPO_TMP/far.err" |
		sha256sum | cut -d' ' -f1)
	tap_is "$what: a ${BULK_BYTES}-byte response crosses the ${NARROW_MTU}-byte link to the far client" \
		"$got" "$WANT_SHA"
	if [ "$(outcome_count "$ingress_hook" icmp_translated)" -gt "${before:-0}" ] 2>/dev/null; then
		tap_ok "$what: the router's '$error' was translated to the backend"
	else
		tap_fail "$what: no ICMP error translated on $ingress_hook"
	fi

	# Request larger than the node's MTU towards the backends.
	forget_pmtu
	topo_exec node ip link set br0 mtu "$NARROW_MTU"
	before=$(outcome_count tc_egress icmp_translated)
	head -c "$BULK_BYTES" /dev/urandom >"$TOPO_TMP/upload"
	got=$(topo_client curl -sS -g -m "$TRANSFER_TIMEOUT_S" --data-binary @"$TOPO_TMP/upload" \
		"http://$url/upload" 2>"$TOPO_TMP/client.err")
	tap_is "$what: a ${BULK_BYTES}-byte upload crosses the node's ${NARROW_MTU}-byte link" \
		"$got" "$BULK_BYTES $(sha256sum <"$TOPO_TMP/upload" | cut -d' ' -f1)"
	if [ "$(outcome_count tc_egress icmp_translated)" -gt "${before:-0}" ] 2>/dev/null; then
		tap_ok "$what: the node's '$error' was translated back to the VIP"
	else
		tap_fail "$what: no ICMP error translated on tc_egress"
	fi
	topo_exec node ip link set br0 mtu "$FULL_MTU"
	topo_kanaryd_stop
	stop_bulk_servers
}

far_host=$FAR_HOST_BASE
for mode in ${PMTU_MODES:-xdp tc}; do
	for family in ${PMTU_FAMILIES:-4 6}; do
		if [ "$family" = 6 ]; then
			run_mode "$mode" 6 "${FAR_NET6}:$far_host"
		else
			run_mode "$mode" 4 "$FAR_NET.$far_host"
		fi
	done
	far_host=$((far_host + 1))
done
tap_done
