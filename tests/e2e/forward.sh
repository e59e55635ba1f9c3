#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/forward.sh - the forwarding fast path ("forward": "redirect",
# docs/forwarding.md) for real, in XDP and tc mode, IPv4 and IPv6: HTTP
# through the VIP works; a DROP rule in the node's FORWARD chain for
# traffic to the backends stops requests in stack mode but not steered
# flows in redirect mode (the bypass is real); kanary_forward_total counts
# the redirected packets (and those whose neighbour had to be resolved
# first), and a fallback provoked on purpose (an unreachable
# route to a backend: the FIB answers "unreachable") is counted with its
# reason, as are a TTL expiring on the node and a packet larger than the
# output device's MTU (served all the same, through the stack's "fragmentation
# needed"); kanaryctl status shows the counts; long-lived connections survive
# a change of mode (a kanaryd restart with the other --forward).
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT

REQUESTS=${REQUESTS:-10}
HOLD_CONNECTIONS=20
HOLD_S=12
VIP6_TARGET="[$TOPO_VIP6]:$TOPO_VIP_PORT"

topo_create 1 0 0 || tap_bail "cannot build the topology"
topo_add_ipv6 0 || tap_bail "cannot add IPv6 to the topology"
topo_backends || tap_bail "cannot start the IPv4 model server"
topo_backends6 || tap_bail "cannot start the IPv6 model server"
LOAD=$KANARY_TOOLS/kn-load
[ -x "$LOAD" ] || tap_bail "kn-load is not built (make test-build)"
command -v iptables >/dev/null && command -v ip6tables >/dev/null ||
	tap_bail "iptables is missing (make deps)"
CONFIG=$TOPO_TMP/forward.json
BACKEND=$(topo_backend_ip stable 1)
BACKEND6=$(topo_backend_ip6 stable 1)

cat >"$CONFIG" <<EOF
{
  "tick": "100ms",
  "services": [
    {"name": "sentiment", "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
     "stable": ["$BACKEND:$TOPO_BACKEND_PORT"]},
    {"name": "sentiment6", "vip": "$VIP6_TARGET",
     "stable": ["[$BACKEND6]:$TOPO_BACKEND_PORT"]}
  ]
}
EOF

# The same with "forward": "redirect" in the file instead of the flag.
"$PYTHON" -c "
import json, sys
d = json.load(open(sys.argv[1])); d['forward'] = 'redirect'
json.dump(d, open(sys.argv[2], 'w'))" "$CONFIG" "$TOPO_TMP/forward-redirect.json"

# How many of N requests (one new connection each) to the VIP of FAMILY
# were answered by the model server.
answered() { # ipv4|ipv6 N
	local url="http://$TOPO_VIP" ok=0 i
	[ "$1" = ipv6 ] && url="http://[$TOPO_VIP6]"
	for ((i = 0; i < $2; i++)); do
		topo_client curl -sS -m 2 -H 'Content-Type: application/json' \
			-d '{"text": "fast"}' "$url/predict" 2>/dev/null | grep -q '"model"' &&
			ok=$((ok + 1))
	done
	echo "$ok"
}

# The sum of kanary_forward_total's samples whose labels match REGEX.
forward_total() { # REGEX
	topo_node curl -fsS -m 3 "$TOPO_API/metrics" 2>/dev/null |
		awk -v re="$1" '/^kanary_forward_total\{/ && $0 ~ re { s += $2 } END { print s + 0 }'
}

block_forward() { # -I|-D: the node's FORWARD chain drops traffic to the backends
	topo_exec node iptables "$1" FORWARD -d "$BACKEND" -j DROP
	topo_exec node ip6tables "$1" FORWARD -d "$BACKEND6" -j DROP
}

run_redirect() { # MODE
	local mode=$1 before after family
	# xdp: the flag; tc: the config file's "forward".
	if [ "$mode" = xdp ]; then
		topo_kanaryd --mode "$mode" --forward redirect --config "$CONFIG"
	else
		topo_kanaryd --mode "$mode" --config "$TOPO_TMP/forward-redirect.json"
	fi || { tap_fail "$mode: kanaryd starts in forward redirect mode"; return; }
	tap_check "$mode: kanaryd says it forwards by redirect" \
		grep -q "attached to nc0 in $mode mode.*forward: redirect" "$TOPO_TMP/kanaryd.log"
	# With the client's checksum offload on, XDP leaves the packets to tc
	# (partial checksums); off, XDP rewrites them and hands them to tc.
	for offload in on off; do
		topo_client ethtool -K eth0 tx "$offload" >/dev/null 2>&1
		for family in ipv4 ipv6; do
			before=$(forward_total 'result="redirected"')
			tap_is "$mode, tx offload $offload, $family: every request through the VIP answered" \
				"$(answered "$family" "$REQUESTS")" "$REQUESTS"
			after=$(forward_total 'result="redirected"')
			tap_check "$mode, tx offload $offload, $family: redirected packets counted ($before -> $after)" \
				test "$after" -ge $((before + 3 * REQUESTS))
		done
	done
	topo_client ethtool -K eth0 tx on >/dev/null 2>&1
	if [ "$mode" = xdp ]; then
		tap_check "xdp: the XDP program handed the packets it rewrote to tc ingress" \
			test "$(forward_total 'hook="xdp_ingress",result="fallback",reason="xdp_to_tc"')" -gt 0
	fi

	# The bypass: FORWARD drops traffic to the backend, steered flows go on.
	block_forward -I
	for family in ipv4 ipv6; do
		tap_is "$mode, $family: a FORWARD DROP rule does not stop steered flows" \
			"$(answered "$family" 3)" 3
	done
	tap_check "$mode: the FORWARD rule saw none of them" \
		bash -c "[ \"\$(nsenter --net=/run/netns/$(topo_ns node) iptables -L FORWARD -v -n -x |
			awk '/DROP/ { print \$1; exit }')\" = 0 ]"
	block_forward -D

	# The backend's neighbour unknown: bpf_redirect_neigh() resolves it.
	# kanaryd's health probes resolve it too, once a second: a probe
	# between the flush and the request leaves nothing to resolve, so
	# this tries a few times.
	local try served=""
	before=$(forward_total 'reason="neigh"')
	for try in 1 2 3 4 5; do
		topo_exec node ip neigh flush dev br0
		served+=$(answered ipv4 1)
		topo_exec node ip -6 neigh flush dev br0
		served+=$(answered ipv6 1)
		after=$(forward_total 'reason="neigh"')
		[ "$after" -ge $((before + 2)) ] && break
	done
	tap_check "$mode: served every time with the node's neighbour entries flushed ($served)" \
		bash -c "[[ '$served' =~ ^(11)+$ ]]"
	tap_check "$mode: packets to unresolved neighbours went by bpf_redirect_neigh ($before -> $after)" \
		test "$after" -ge $((before + 2))

	# A fallback on purpose: the FIB answers unreachable for the backend.
	before=$(forward_total 'reason="unreachable"')
	topo_exec node ip route add unreachable "$BACKEND/32"
	topo_exec node ip -6 route add unreachable "$BACKEND6/128"
	answered ipv4 1 >/dev/null
	answered ipv6 1 >/dev/null
	topo_exec node ip route del unreachable "$BACKEND/32"
	topo_exec node ip -6 route del unreachable "$BACKEND6/128"
	after=$(forward_total 'reason="unreachable"')
	tap_check "$mode: an unreachable route is a counted fallback ($before -> $after)" \
		test "$after" -ge $((before + 2))
	tap_is "$mode: served again once the route is back" "$(answered ipv4 2)" 2

	# TTL 1 on arrival: the stack forwards nothing and answers ICMP.
	before=$(forward_total 'reason="ttl"')
	topo_exec client sysctl -qw net.ipv4.ip_default_ttl=1
	answered ipv4 1 >/dev/null
	topo_exec client sysctl -qw net.ipv4.ip_default_ttl=64
	after=$(forward_total 'reason="ttl"')
	tap_check "$mode: a packet whose TTL expires here is a counted fallback ($before -> $after)" \
		test "$after" -gt "$before"

	# Larger than the output device's MTU: the stack answers "fragmentation
	# needed" (translated back to the VIP), the client sends smaller.
	before=$(forward_total 'reason="frag_needed"')
	topo_exec client ip route flush cache # forget the last run's path MTU
	topo_exec client ip -6 route flush cache
	topo_exec node ip link set br0 mtu 1400
	tap_is "$mode: a large request is served past a smaller MTU" \
		"$(topo_client curl -sS -m 5 -H 'Content-Type: application/json' \
			-d "{\"text\": \"$(printf 'x%.0s' $(seq 1 4000))\"}" \
			"http://$TOPO_VIP/predict" 2>/dev/null | grep -c '"model"')" 1
	topo_exec node ip link set br0 mtu 1500
	after=$(forward_total 'reason="frag_needed"')
	tap_check "$mode: too large for the MTU is a counted fallback ($before -> $after)" \
		test "$after" -gt "$before"

	topo_node "$KANARY_BIN/kanaryctl" --server "$TOPO_API" status sentiment \
		>"$TOPO_TMP/status.txt" 2>&1
	tap_check "$mode: kanaryctl status shows the redirected and fallback counts" \
		grep -Eq "^forward: redirect, [1-9][0-9]* packets redirected, [1-9][0-9]* left to the stack.*unreachable=" \
		"$TOPO_TMP/status.txt"
	topo_kanaryd_stop
}

run_stack() { # MODE
	local mode=$1 family
	topo_kanaryd --mode "$mode" --config "$CONFIG" ||
		{ tap_fail "$mode: kanaryd starts in stack mode"; return; }
	tap_check "$mode: stack mode is the default" \
		grep -q "attached to nc0 in $mode mode.*forward: stack" "$TOPO_TMP/kanaryd.log"
	tap_is "$mode: served in stack mode" "$(answered ipv4 2)" 2
	tap_check "$mode: no kanary_forward_total in stack mode" \
		bash -c "! nsenter --net=/run/netns/$(topo_ns node) curl -fsS -m 3 $TOPO_API/metrics | grep -q kanary_forward_total"
	block_forward -I
	for family in ipv4 ipv6; do
		tap_is "$mode, $family: the FORWARD DROP rule stops requests in stack mode" \
			"$(answered "$family" 2)" 0
	done
	block_forward -D
	topo_kanaryd_stop
}

json_of() { # FILE EXPRESSION over d
	"$PYTHON" -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}

# Long-lived connections while kanaryd restarts with the other mode: the
# new programs replace the old ones, the flows stay in the pinned maps.
run_mode_change() { # MODE
	local mode=$1 pid
	topo_kanaryd --mode "$mode" --config "$CONFIG" ||
		{ tap_fail "$mode: kanaryd starts"; return; }
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
		--keepalive --connections "$HOLD_CONNECTIONS" --interval-ms 100 \
		--duration "$HOLD_S" --method POST --path /predict --body '{"text": "fine"}' \
		--timeout-ms 3000 --json >"$TOPO_TMP/hold.json" 2>&1 &
	pid=$!
	sleep 2
	kill -KILL "$TOPO_KANARYD_PID"
	wait "$TOPO_KANARYD_PID" 2>/dev/null
	topo_kanaryd --mode "$mode" --forward redirect --config "$CONFIG" ||
		tap_fail "$mode: kanaryd restarts with --forward redirect"
	sleep 3
	kill -KILL "$TOPO_KANARYD_PID"
	wait "$TOPO_KANARYD_PID" 2>/dev/null
	topo_kanaryd --mode "$mode" --forward stack --config "$CONFIG" ||
		tap_fail "$mode: kanaryd restarts with --forward stack"
	wait "$pid"
	echo "# $mode mode change: $(json_of "$TOPO_TMP/hold.json" "d['attempts']") requests on" \
		"$HOLD_CONNECTIONS long-lived connections"
	tap_is "$mode: no request on a long-lived connection failed across stack -> redirect -> stack" \
		"$(json_of "$TOPO_TMP/hold.json" "d['errors']")" 0
	tap_is "$mode: no long-lived connection was reset" \
		"$(json_of "$TOPO_TMP/hold.json" "d['resets']")" 0
	topo_kanaryd_stop
}

for mode in xdp tc; do
	run_redirect "$mode"
	run_stack "$mode"
done
run_mode_change xdp
run_mode_change tc

topo_kanaryd --forward sideways --config "$CONFIG" 2>/dev/null
tap_check "--forward with a bad value is refused, naming the flag" \
	grep -q -- "--forward 'sideways': expected stack or redirect" "$TOPO_TMP/kanaryd.log"
tap_done
