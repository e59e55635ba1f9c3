#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/datapath.sh - the data path for real, in both modes: kanaryd on
# a node interface in a network namespace, kanary-modelserver backends
# (stable = model v1, canary = v2), curl and kn-load as clients from many
# source addresses. Checks the observed split against the weight, stickiness,
# checksums on the wire (offloaded and full), replies from the VIP, traffic
# that is not for a service, long-lived connections across weight flips,
# detach, keep-attached adoption and kanaryd's refusals.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
source "$(dirname "$0")/../lib/flips.sh"
trap topo_destroy EXIT

SOURCES=${SOURCES:-400}
WEIGHT_PCT=25
FLIPS=${FLIPS:-100}
LONG_LIVED=200
SIGMAS=4
CURL_SAMPLE=20

command -v tcpdump >/dev/null || tap_bail "tcpdump is missing (make deps)"
topo_create 2 1 "$SOURCES" || tap_bail "cannot build the topology"
topo_backends || tap_bail "cannot start the model servers"
LOAD=$KANARY_TOOLS/kn-load
CSUM=$KANARY_TOOLS/kn-csumcheck
STABLE=$(topo_pool stable)
CANARY=$(topo_pool canary)

# The model that answered a POST /predict from source address $1.
predict_from() {
	topo_client curl -sS -m 3 --interface "$1" -H 'Content-Type: application/json' \
		-d '{"text": "the service was fast and friendly"}' \
		"http://$TOPO_VIP/predict" 2>/dev/null |
		sed -n 's/.*"model" *: *"\([^"]*\)".*/\1/p'
}

# Splits $SOURCES clients, one new connection each, with kn-load; sets
# CANARY_SEEN, FAILED_REQUESTS and the array MODEL (version per client).
observe_split() {
	local out=$TOPO_TMP/split.json i
	ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" \
		--sources "$(topo_sources)" --close --connections 16 --requests "$SOURCES" \
		--method POST --path /predict --body '{"text": "fast and friendly"}' \
		--per-source-report --json >"$out" 2>"$TOPO_TMP/split.err"
	mapfile -t MODEL < <("$PYTHON" -c "
import json, sys
d = json.load(open(sys.argv[1]))
tags = {p['addr']: ','.join(p['tag_set']) for p in d['per_source']}
for i in range(int(sys.argv[2])):
    print(tags.get('198.18.%d.%d' % (1 + i // 256, i % 256), 'none'))
" "$out" "$SOURCES")
	CANARY_SEEN=0
	FAILED_REQUESTS=0
	for ((i = 0; i < SOURCES; i++)); do
		case ${MODEL[$i]} in
		v2) CANARY_SEEN=$((CANARY_SEEN + 1)) ;;
		v1) ;;
		*) FAILED_REQUESTS=$((FAILED_REQUESTS + 1)) ;;
		esac
	done
}

# A few clients with curl: what a person would type.
curl_agrees() {
	local i bad=0
	for ((i = 0; i < CURL_SAMPLE; i++)); do
		[ "$(predict_from "$(topo_source_ip "$i")")" = "${MODEL[$i]}" ] || bad=$((bad + 1))
	done
	echo "$bad"
}

within_sigmas() { # OBSERVED N PERCENT
	awk -v o="$1" -v n="$2" -v p="$3" -v k="$SIGMAS" 'BEGIN {
		p /= 100; e = n * p; s = sqrt(n * p * (1 - p));
		exit !((o - e) <= k * s && (e - o) <= k * s) }'
}

# kn-csumcheck on IFACE in namespace ROLE while curl runs; prints its JSON.
wire_check() { # ROLE IFACE FILTER...
	local role=$1 iface=$2 pid
	shift 2
	topo_exec "$role" "$CSUM" --iface "$iface" --count 12 --timeout-ms 6000 --json "$@" \
		>"$TOPO_TMP/csum.json" 2>"$TOPO_TMP/csum.err" &
	pid=$!
	sleep 0.5
	for i in $(seq 0 15); do predict_from "$(topo_source_ip "$i")" >/dev/null; done
	wait "$pid"
}

# Requests arrive at a backend rewritten to it, with right checksums on
# the wire: 0, or kn-csumcheck's status (3: none seen at either backend).
requests_checked_at_backend() {
	local status
	wire_check stable1 eth0 --proto tcp --filter-dst "$(topo_backend_ip stable 1)"
	status=$?
	[ "$status" -eq 3 ] && wire_check canary1 eth0 --proto tcp --filter-dst "$(topo_backend_ip canary 1)" && status=0
	return "$status"
}

# tc, full checksums: with tcpdump on the node's interface, the packets
# kanary rewrites in place share their data with the tap's copies (cloned
# skbs), which the program's unclone prologue makes private first.
under_packet_tap() {
	local pid status
	topo_exec node timeout 8 tcpdump -i nc0 -nn -c 12 \
		"tcp and dst host $TOPO_VIP and dst port $TOPO_VIP_PORT" >"$TOPO_TMP/tap.txt" 2>/dev/null &
	pid=$!
	sleep 1
	requests_checked_at_backend
	status=$?
	wait "$pid"
	tap_is "tc, under a packet tap on the node's interface: request checksums correct at the backend" "$status" 0
	tap_is "and the tap's copies kept the VIP as their destination" \
		"$(grep -c " > $TOPO_VIP.$TOPO_VIP_PORT: " "$TOPO_TMP/tap.txt")" 12
}

run_checks() {
	local mode=$1 offload
	topo_kanaryd --mode "$mode" --name sentiment --service "$TOPO_VIP:$TOPO_VIP_PORT" \
		--stable "$STABLE" --canary "$CANARY" --weight "$WEIGHT_PCT" ||
		{ tap_fail "$mode: kanaryd starts"; return; }
	tap_check "$mode: kanaryd attached in $mode mode" \
		grep -q "attached to nc0 in $mode mode" "$TOPO_TMP/kanaryd.log"
	tap_check "$mode: maps pinned with BTF (bpftool shows named fields)" \
		bash -c "bpftool map dump pinned $TOPO_PIN_DIR/kn_services | grep -q '\"name\": \"sentiment\"'"

	for offload in on off; do
		topo_client ethtool -K eth0 tx "$offload" >/dev/null 2>&1
		declare -a PREV=("${MODEL[@]:-}")
		observe_split
		tap_is "$mode, tx offload $offload: every request answered" "$FAILED_REQUESTS" 0
		tap_is "$mode, tx offload $offload: curl from $CURL_SAMPLE clients gets the same versions" \
			"$(curl_agrees)" 0
		if within_sigmas "$CANARY_SEEN" "$SOURCES" "$WEIGHT_PCT"; then
			tap_ok "$mode, tx offload $offload: canary share $CANARY_SEEN/$SOURCES within ${SIGMAS} sigma of $WEIGHT_PCT %"
		else
			tap_fail "$mode, tx offload $offload: canary share $CANARY_SEEN/$SOURCES not within ${SIGMAS} sigma of $WEIGHT_PCT %"
		fi
		if [ "$offload" = off ]; then
			local moved=0 i
			for ((i = 0; i < SOURCES; i++)); do
				[ "${PREV[$i]:-}" = "${MODEL[$i]}" ] || moved=$((moved + 1))
			done
			tap_is "$mode: every client kept its version across connections" "$moved" 0
		fi
		# Requests arrive at a backend rewritten to it; replies reach the
		# client from the VIP: checksums must be right on the wire.
		requests_checked_at_backend
		tap_is "$mode, tx offload $offload: request checksums correct at the backend" "$?" 0
		wire_check client eth0 --proto tcp --filter-src "$TOPO_VIP:$TOPO_VIP_PORT"
		tap_is "$mode, tx offload $offload: replies from the VIP with correct checksums" "$?" 0
		[ "$mode" = tc ] && [ "$offload" = off ] && under_packet_tap
	done
	topo_client ethtool -K eth0 tx on >/dev/null 2>&1

	# Not for a service: straight to a backend, and ICMP to the node.
	tap_check "$mode: a backend reached directly, untouched" \
		topo_client curl -fsS -m 3 -o /dev/null "http://$(topo_backend_ip stable 1):$TOPO_BACKEND_PORT/healthz"
	tap_check "$mode: ICMP passes" topo_client ping -c 1 -W 2 "$TOPO_NODE_CLIENT_IP"

	"$LOAD" --help >/dev/null 2>&1 || { tap_fail "$mode: kn-load is built"; return; }
	flips_keep_connections "$mode" "$TOPO_VIP:$TOPO_VIP_PORT" "$(topo_sources "$LONG_LIVED")" sentiment long-lived
}

run_mode() {
	local mode=$1

	# Each mode is a fresh deployment: no rollout state from the last one.
	rm -f "$TOPO_STATE_FILE"
	run_checks "$mode"
	# Stopping detaches and unpins.
	topo_kanaryd_stop
	tap_is "$mode: SIGTERM removes the tc programs" \
		"$(topo_node tc filter show dev nc0 ingress; topo_node tc filter show dev nc0 egress)" ""
	tap_check "$mode: SIGTERM removes the XDP program" \
		bash -c "! nsenter --net=/run/netns/$(topo_ns node) ip link show nc0 | grep -q xdp"
	tap_check "$mode: SIGTERM removes the pins" test ! -e "$TOPO_PIN_DIR/kn_flows"
}

MODEL=()
run_mode xdp
run_mode tc

# --keep-attached: the data path outlives kanaryd and is adopted later.
topo_kanaryd --mode tc --keep-attached --name sentiment --service "$TOPO_VIP:$TOPO_VIP_PORT" \
	--stable "$STABLE" --canary "$CANARY" --weight "$WEIGHT_PCT" || tap_fail "keep-attached kanaryd starts"
topo_kanaryd_stop
m=$(predict_from 198.18.1.7)
tap_check "keep-attached: traffic still flows with kanaryd gone" test -n "$m"
tap_check "keep-attached: pins kept" test -e "$TOPO_PIN_DIR/kn_flows"
topo_kanaryd --mode tc --name sentiment --service "$TOPO_VIP:$TOPO_VIP_PORT" \
	--stable "$STABLE" --canary "$CANARY" --weight "$WEIGHT_PCT" || tap_fail "adopting kanaryd starts"
tap_check "a new kanaryd adopts the running data path" \
	grep -q "adopted service 'sentiment'" "$TOPO_TMP/kanaryd.log"
tap_is "the same client keeps its version after adoption" "$(predict_from 198.18.1.7)" "$m"

# What a running kanaryd holds: only the capabilities it needs, and files
# only root can read.
caps=$(awk '/^CapEff/ {print $2}' /proc/"$TOPO_KANARYD_PID"/status)
tap_is "once attached, kanaryd keeps only CAP_BPF and CAP_NET_ADMIN" "$caps" 0000008000001000
tap_is "its pin directory is root's only" "$(stat -c %a "$TOPO_PIN_DIR")" 700
tap_is "its pinned maps too" "$(stat -c %a "$TOPO_PIN_DIR/kn_flows")" 600
tap_is "its state file too" "$(stat -c %a "$TOPO_STATE_FILE")" 600

# bpffs missing: kanaryd mounts it and says so (in a private mount
# namespace, so the host's bpffs is not touched).
out=$(unshare --mount --propagation private bash -c "umount /sys/fs/bpf 2>/dev/null;
	nsenter --net=/run/netns/$(topo_ns node) $KANARY_BIN/kanaryd --iface nc0 \
		--pin-dir /sys/fs/bpf/kanary-mount-test --service $TOPO_VIP:81 \
		--stable $STABLE --listen 127.0.0.1:9098 --state-file $TOPO_TMP/m.json &
	pid=\$!; sleep 2; kill -TERM \$pid; wait \$pid" 2>&1)
tap_check "without bpffs, kanaryd mounts it and says so" \
	grep -q "bpffs was not mounted: mounted it at /sys/fs/bpf" <<<"$out"

# Refusals: each names the problem and the fix.
refusal() { # DESCRIPTION EXPECTED-STATUS PATTERN -- ARGS...
	local what=$1 want=$2 pattern=$3 out status
	shift 4
	out=$(topo_node ${AS_USER:-} "$KANARY_BIN/kanaryd" "$@" 2>&1)
	status=$?
	if [ "$status" -eq "$want" ] && grep -q -- "$pattern" <<<"$out"; then
		tap_ok "refuses $what"
	else
		tap_fail "refuses $what (status $status, said: $out)"
	fi
}
refusal "a second kanaryd on the same pins" 1 "another kanaryd (pid $TOPO_KANARYD_PID)" -- \
	--iface nc0 --pin-dir "$TOPO_PIN_DIR" --service "$TOPO_VIP:80" --stable "$STABLE" --listen 127.0.0.1:9099
refusal "a missing interface" 1 "interface 'nope0' not found" -- \
	--iface nope0 --pin-dir "$TOPO_PIN_DIR-x" --service "$TOPO_VIP:80" --stable "$STABLE"
refusal "a bad weight" 2 "'12.345' is not a weight" -- \
	--iface nc0 --service "$TOPO_VIP:80" --stable "$STABLE" --canary "$CANARY" --weight 12.345
refusal "a bad backend" 2 "'198.18.16.300' is not an IPv4 address" -- \
	--iface nc0 --service "$TOPO_VIP:80" --stable 198.18.16.300:8000
refusal "a bad port" 2 "not a port" -- --iface nc0 --service "$TOPO_VIP:0" --stable "$STABLE"
echo '{"services": [{"name": "x", "vip": "198.18.32.9:80", "stable": ["198.18.16.10:8000"],' \
	'"canary_percent": "ten"}]}' >"$TOPO_TMP/bad.json"
refusal "a config error with file, line and field" 1 "bad.json:1:.*services\[0\].canary_percent" -- \
	--iface nc0 --config "$TOPO_TMP/bad.json"
AS_USER="setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all" \
	refusal "an unprivileged user" 1 "needs root" -- \
	--iface nc0 --pin-dir "$TOPO_PIN_DIR-y" --service "$TOPO_VIP:80" --stable "$STABLE"
topo_kanaryd_stop
topo_node "$KANARY_BIN/kanaryd" --iface nc0 --pin-dir "$TOPO_PIN_DIR" --remove >/dev/null 2>&1
tap_check "--remove takes a kept data path down" test ! -e "$TOPO_PIN_DIR/kn_flows"

tap_done
