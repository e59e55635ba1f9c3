# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/lib.sh - what every benchmark of kanary shares: the namespace
# topology (tests/lib/topology.sh) with fast static backends, each splitter
# that kanary is compared with, set up on the node and torn down again, and
# the load generators with their results read into one CSV shape.
#
#   client (1,000 source addresses) -- nc0 [node: the splitter] br0 --
#       stable1 198.18.16.10:8000, canary1 198.18.16.20:8000 (nginx, static)
#
# Splitters (split_up NAME / split_down NAME), all at a 10 % canary share:
#   direct      no splitter: the client talks to stable1 itself (the limit)
#   floor-xdp   direct, with a do-nothing native XDP program on nc0
#   floor-tc    direct, with a do-nothing tc ingress program on nc0
#               (what the hook itself costs on veth, kanary's floor)
#   kanary-xdp  kanaryd, native XDP on nc0 (+ tc egress for replies)
#   kanary-tc   kanaryd, tc ingress + egress on nc0
#   kanary-xdp-redirect, kanary-tc-redirect
#               the same with --forward redirect: steered packets leave
#               by bpf_fib_lookup + redirect (docs/forwarding.md)
#   iptables    DNAT chains with -m statistic --mode random (kube-proxy)
#   nftables    DNAT through a verdict map and numgen random mod 100
#               (kube-proxy's nftables mode)
#   nginx       reverse proxy on the node with split_clients
#   haproxy     reverse proxy on the node, weighted round robin 90/10
# Everything lives in this run's namespaces; split_down and topo_destroy
# (trap in the caller) remove it, also after a failure.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The system interpreter when there is one: a version manager's shim costs
# a shell start per call.
BENCH_PYTHON=$(command -v /usr/bin/python3 || command -v python3)
: "${KANARY_ROOT:=$(cd "$BENCH_DIR/.." && pwd)}"
source "$KANARY_ROOT/tests/lib/topology.sh"
: "${BENCH_PKTCOST:=$(dirname "$KANARY_TOOLS")/bench/pktcost}"

BENCH_SOURCES=1000    # client addresses: kanary splits by client
BENCH_CANARY_PCT=10   # every splitter's canary share
BENCH_STABLE_IP=198.18.16.10
BENCH_CANARY_IP=198.18.16.20
# Their IPv6 addresses (topo_add_ipv6), served by the same nginx when
# BENCH_IPV6 is set: the IPv6 figure compares the families on one server.
BENCH_STABLE_IP6=2001:2:16::10
BENCH_CANARY_IP6=2001:2:16::20
BENCH_PORT=8000
BENCH_SPLITTERS="direct floor-xdp kanary-xdp floor-tc kanary-tc iptables nftables nginx haproxy"
BENCH_PROXY_WORKERS=2     # nginx workers / HAProxy threads: both cores
BENCH_BACKEND_WORKERS=2   # per backend namespace: never the bottleneck
BENCH_LOAD_CONNECTIONS=64 # concurrent connections of every load run
BENCH_LOAD_THREADS=2      # wrk threads: both cores
BENCH_KANARYD_ARGS=()     # extra kanaryd flags (scale runs add a config)

bench_log() { echo "# $(date +%T) $*" >&2; }
bench_die() {
	bench_log "FAILED: $*"
	exit 1
}

# Leftover pin directories of pktcost runs whose process is gone.
bench_reap() {
	local pin pid
	for pin in /sys/fs/bpf/kanary-pktcost-*; do
		[ -e "$pin" ] || continue
		pid=${pin##*-}
		kill -0 "$pid" 2>/dev/null || rm -rf "$pin"
	done
}

# ---- the topology and its backends ----------------------------------------

BENCH_TMP=""

# The trap of every benchmark script: the topology and this run's files.
bench_destroy() {
	# The BPF statistics of a run cut short: off now, not at their timeout.
	[ -n "${BENCH_STATS_PID:-}" ] && kill "$BENCH_STATS_PID" 2>/dev/null
	topo_destroy
	[ -n "$BENCH_TMP" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$BENCH_TMP"
	BENCH_TMP=""
}

# The start of every nginx.conf here, up to the open http block: root
# workers in the foreground, files in DIR, no access log, long keep-alive.
bench_nginx_conf_head() { # DIR WORKERS
	cat <<-EOF
	user root;
	worker_processes $2;
	daemon off;
	pid $1/nginx.pid;
	error_log $1/error.log warn;
	events { worker_connections 16384; }
	http {
	    access_log off;
	    keepalive_requests 10000000;
	    keepalive_timeout 120s;
	EOF
}

# nginx serving one small static JSON answer, the one kn-load counts by its
# "model" member: v1 on stable, v2 on canary. A static answer keeps the
# backends far from being the bottleneck of what is measured. With IP6, the
# same server listens on that IPv6 address too.
bench_backend_nginx() { # ROLE IP MODEL [IP6]
	local role=$1 ip=$2 model=$3 ip6=${4:-} dir=$BENCH_TMP/nginx-$1
	mkdir -p "$dir/www"
	printf '{"model": "%s", "label": "positive", "score": 0.97}\n' \
		"$model" >"$dir/www/index.json"
	{
		bench_nginx_conf_head "$dir" "$BENCH_BACKEND_WORKERS"
		cat <<-EOF
	    default_type application/json;
	    server {
	        listen $ip:$BENCH_PORT reuseport backlog=8192;
	        ${ip6:+listen [$ip6]:$BENCH_PORT reuseport backlog=8192;}
	        root $dir/www;
	        location / { try_files /index.json =404; }
	    }
	}
	EOF
	} >"$dir/nginx.conf"
	topo_exec "$role" nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/out.log" 2>&1 &
	TOPO_PIDS+=($!)
	topo_wait_port "$role" "$ip" "$BENCH_PORT" || return 1
	[ -z "$ip6" ] || topo_wait_port "$role" "$ip6" "$BENCH_PORT"
}

# The topology of every end-to-end figure: 1 stable and 1 canary backend
# (static nginx, or kanary-modelserver v1 / v2 with BENCH_BACKEND=modelserver
# where the model server's own behaviour is what is measured), BENCH_SOURCES
# client addresses. The client computes its TCP checksums
# (tx checksum offload off), as a sender behind a real NIC does: otherwise
# veth hands XDP partial checksums, which XDP leaves to tc, and "XDP mode"
# would measure the tc path.
bench_topology() {
	bench_reap
	mount | grep -q ' /sys/fs/bpf type bpf' || mount -t bpf bpf /sys/fs/bpf
	topo_create 1 1 "$BENCH_SOURCES" || return 1
	# This run's files (kanaryd's log and state too) live in a directory
	# of the benchmark's own name, which nothing else cleans up.
	BENCH_TMP=$(mktemp -d /tmp/kanary-bench.XXXXXX) || return 1
	rmdir "$TOPO_TMP" 2>/dev/null
	TOPO_TMP=$BENCH_TMP
	TOPO_STATE_FILE=$TOPO_TMP/state.json
	topo_client ethtool -K eth0 tx off >/dev/null 2>&1 || return 1
	# Many short connections from few ports: let TIME-WAIT ports be reused
	# and keep backlogs deep enough for the connection bursts.
	topo_client sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
	local ns k
	for ns in client node stable1 canary1; do
		topo_exec "$ns" sysctl -qw net.core.somaxconn=8192 \
			net.ipv4.tcp_max_syn_backlog=8192
	done
	# The backends close first (Connection: close), so they hold the
	# TIME-WAIT sockets: 60 s of them at 14,000 connections a second is
	# 840,000, beyond the namespace's default cap (tcp_max_tw_buckets,
	# 131,072 here). Past the cap the kernel drops the socket at once and
	# answers the client's late FIN or ACK with a reset, which a client
	# still reading counts as a failed request, whatever the splitter.
	for ns in stable1 canary1; do
		topo_exec "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=1048576 || return 1
	done
	# conntrack (iptables, nftables) keeps a closed connection 120 s in
	# TIME_WAIT; at 10,000 new connections a second that fills the
	# kernel's table (nf_conntrack_max, 262,144 here, a host-wide limit
	# that only the host may raise) and new connections are dropped. The
	# node forgets them after 2 s instead, which a node at such rates
	# needs as much as a larger table.
	topo_node sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=2 || return 1
	# The node reaches the client's 1,000 addresses through its main
	# address: one neighbour entry instead of 1,000. The kernel's neighbour
	# table is shared by every namespace and starts dropping at 1,024
	# entries (gc_thresh3), a host setting that a benchmark must not touch.
	for ((k = 1; k <= (BENCH_SOURCES - 1) / 256 + 1; k++)); do
		topo_node ip route add "198.18.$k.0/24" via "$TOPO_CLIENT_IP" dev nc0 || return 1
	done
	# BENCH_IPV6: the same hosts in IPv6 too, BENCH_SOURCES client
	# addresses in each family (topo_add_ipv6 routes them as in IPv4).
	if [ -n "${BENCH_IPV6:-}" ]; then
		topo_add_ipv6 "$BENCH_SOURCES" || return 1
	fi
	if [ "${BENCH_BACKEND:-nginx}" = modelserver ]; then
		topo_backends || return 1
		[ -z "${BENCH_IPV6:-}" ] || topo_backends6 || return 1
	else
		bench_backend_nginx stable1 "$BENCH_STABLE_IP" v1 ${BENCH_IPV6:+"$BENCH_STABLE_IP6"} || return 1
		bench_backend_nginx canary1 "$BENCH_CANARY_IP" v2 ${BENCH_IPV6:+"$BENCH_CANARY_IP6"} || return 1
	fi
}

# ---- the splitters ----------------------------------------------------------

# Where the client sends its requests for a splitter.
split_target() {
	case $1 in
	direct | floor-*) echo "$BENCH_STABLE_IP:$BENCH_PORT" ;;
	*) echo "$TOPO_VIP:$TOPO_VIP_PORT" ;;
	esac
}

# The proxies terminate connections on the node: it owns the VIP then.
bench_vip_local() { topo_node ip addr add "$TOPO_VIP/32" dev lo; }
bench_vip_unlocal() { topo_node ip addr del "$TOPO_VIP/32" dev lo 2>/dev/null; }

bench_iptables_rules() { # extra rules on stdin are added before COMMIT
	local extra
	extra=$(cat)
	# kube-proxy's iptables mode: a services chain, one chain per service
	# picking an endpoint at random, one DNAT chain per endpoint.
	topo_node iptables-restore <<-EOF
	*nat
	:PREROUTING ACCEPT [0:0]
	:KN-SERVICES - [0:0]
	:KN-SVC-BENCH - [0:0]
	:KN-SEP-STABLE - [0:0]
	:KN-SEP-CANARY - [0:0]
	-A PREROUTING -j KN-SERVICES
	$extra
	-A KN-SERVICES -d $TOPO_VIP/32 -p tcp -m tcp --dport $TOPO_VIP_PORT -j KN-SVC-BENCH
	-A KN-SVC-BENCH -m statistic --mode random --probability 0.$(printf '%02d' "$BENCH_CANARY_PCT") -j KN-SEP-CANARY
	-A KN-SVC-BENCH -j KN-SEP-STABLE
	-A KN-SEP-CANARY -p tcp -j DNAT --to-destination $BENCH_CANARY_IP:$BENCH_PORT
	-A KN-SEP-STABLE -p tcp -j DNAT --to-destination $BENCH_STABLE_IP:$BENCH_PORT
	COMMIT
	EOF
}

bench_iptables_down() {
	topo_node iptables -t nat -F 2>/dev/null
	topo_node iptables -t nat -X 2>/dev/null
	# iptables-nft leaves an empty "ip nat" table with its hooks: remove it
	# so that later splitters run without netfilter NAT.
	topo_node nft delete table ip nat 2>/dev/null
	return 0
}

bench_nft_rules() { # [EXTRA-MAP-ELEMENTS [EXTRA-CHAINS]]
	local elements=${1:-} chains=${2:-}
	topo_node nft -f - <<-EOF
	table ip kn_bench {
	    map service_ips {
	        type ipv4_addr . inet_proto . inet_service : verdict
	        elements = { $TOPO_VIP . tcp . $TOPO_VIP_PORT : goto svc_bench $elements }
	    }
	    chain prerouting {
	        type nat hook prerouting priority dstnat; policy accept;
	        ip daddr . meta l4proto . th dport vmap @service_ips
	    }
	    chain svc_bench {
	        numgen random mod 100 vmap { 0-$((BENCH_CANARY_PCT - 1)) : goto sep_canary, $BENCH_CANARY_PCT-99 : goto sep_stable }
	    }
	    chain sep_canary {
	        meta l4proto tcp dnat to $BENCH_CANARY_IP:$BENCH_PORT
	    }
	    chain sep_stable {
	        meta l4proto tcp dnat to $BENCH_STABLE_IP:$BENCH_PORT
	    }
	    $chains
	}
	EOF
}

bench_nft_down() { topo_node nft delete table ip kn_bench 2>/dev/null; return 0; }

bench_nginx_proxy() {
	local dir=$BENCH_TMP/nginx-proxy
	mkdir -p "$dir"
	{
		bench_nginx_conf_head "$dir" "$BENCH_PROXY_WORKERS"
		cat <<-EOF
	    # The canary share by client address, like kanary's split.
	    split_clients "\${remote_addr}" \$pool {
	        $BENCH_CANARY_PCT% canary;
	        * stable;
	    }
	    upstream stable { server $BENCH_STABLE_IP:$BENCH_PORT; keepalive 256; }
	    upstream canary { server $BENCH_CANARY_IP:$BENCH_PORT; keepalive 256; }
	    server {
	        listen $TOPO_VIP:$TOPO_VIP_PORT reuseport backlog=8192;
	        location / {
	            proxy_pass http://\$pool;
	            proxy_http_version 1.1;
	            proxy_set_header Connection "";
	        }
	    }
	}
	EOF
	} >"$dir/nginx.conf"
	topo_node nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/out.log" 2>&1 &
	BENCH_PROXY_PID=$!
	TOPO_PIDS+=($!)
}

bench_haproxy() {
	local dir=$BENCH_TMP/haproxy
	mkdir -p "$dir"
	cat >"$dir/haproxy.cfg" <<-EOF
	global
	    nbthread $BENCH_PROXY_WORKERS
	    maxconn 40000
	defaults
	    mode http
	    option http-keep-alive
	    timeout connect 5s
	    timeout client 60s
	    timeout server 60s
	frontend vip
	    bind $TOPO_VIP:$TOPO_VIP_PORT
	    default_backend model
	backend model
	    balance roundrobin
	    http-reuse always
	    server stable $BENCH_STABLE_IP:$BENCH_PORT weight $((100 - BENCH_CANARY_PCT))
	    server canary $BENCH_CANARY_IP:$BENCH_PORT weight $BENCH_CANARY_PCT
	EOF
	topo_node haproxy -db -f "$dir/haproxy.cfg" >"$dir/out.log" 2>&1 &
	BENCH_PROXY_PID=$!
	TOPO_PIDS+=($!)
}

bench_proxy_stop() {
	[ -n "${BENCH_PROXY_PID:-}" ] || return 0
	kill -TERM "$BENCH_PROXY_PID" 2>/dev/null
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$BENCH_PROXY_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$BENCH_PROXY_PID" 2>/dev/null
	wait "$BENCH_PROXY_PID" 2>/dev/null
	BENCH_PROXY_PID=
	return 0
}

# kanaryd with one service at the benchmark's split (or BENCH_KANARYD_ARGS).
bench_kanaryd() { # MODE [KANARYD FLAGS...]
	local args=("${BENCH_KANARYD_ARGS[@]}")
	if [ ${#args[@]} -eq 0 ]; then
		args=(--service "$TOPO_VIP:$TOPO_VIP_PORT" --name bench
			--stable "$BENCH_STABLE_IP:$BENCH_PORT"
			--canary "$BENCH_CANARY_IP:$BENCH_PORT" --weight "$BENCH_CANARY_PCT")
	fi
	topo_kanaryd --mode "$1" "${args[@]}" "${@:2}"
}

# The kanaryd process itself (TOPO_KANARYD_PID may be the shell that
# started it); empty when there is none.
bench_kanaryd_pid() {
	local pid=${TOPO_KANARYD_PID:-} child
	[ -n "$pid" ] || return 1
	if [[ $(readlink "/proc/$pid/exe") != */kanaryd ]]; then
		for child in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
			[[ $(readlink "/proc/$child/exe") == */kanaryd ]] && pid=$child
		done
	fi
	[[ $(readlink "/proc/$pid/exe") == */kanaryd ]] && echo "$pid"
}

# Bytes the kernel charges for every map of this run's data path.
bench_kanary_map_bytes() {
	local map total=0 bytes
	for map in "$TOPO_PIN_DIR"/*; do
		bytes=$(bpftool map show pinned "$map" -j 2>/dev/null |
			"$BENCH_PYTHON" -c 'import json, sys; print(json.load(sys.stdin).get("bytes_memlock", 0))' 2>/dev/null)
		total=$((total + ${bytes:-0}))
	done
	echo "$total"
}

# Packets kanary translated, per hook: "XDP TC-INGRESS TC-EGRESS", summed
# over CPUs from the pinned kn_global_ctr (struct kn_global_stats: packets,
# then reason[], KN_R_TRANSLATED first).
bench_kanary_translated() {
	local hook
	for hook in 0 1 2; do
		bpftool map lookup pinned "$TOPO_PIN_DIR/kn_global_ctr" key "$hook" 0 0 0 -j 2>/dev/null
		echo
	done | "$BENCH_PYTHON" -c '
import json, sys
U64 = 8
out = []
for line in sys.stdin:
    if not line.strip():
        continue
    total = 0
    for v in json.loads(line).get("values", []):
        raw = v["value"]
        if isinstance(raw, dict):  # bpftool with BTF: named fields
            total += raw["reason"][0]
        else:  # raw bytes: reason[0] follows the packets counter
            total += int.from_bytes(bytes(int(b, 16) for b in raw[U64:2 * U64]), "little")
    out.append(str(total))
print(" ".join(out) if len(out) == 3 else "0 0 0")'
}

split_up() { # NAME
	case $1 in
	direct) ;;
	floor-xdp) topo_node "$BENCH_PKTCOST" attach nc0 xdp ;;
	floor-tc) topo_node "$BENCH_PKTCOST" attach nc0 tc ;;
	kanary-xdp) bench_kanaryd xdp ;;
	kanary-tc) bench_kanaryd tc ;;
	kanary-xdp-redirect) bench_kanaryd xdp --forward redirect ;;
	kanary-tc-redirect) bench_kanaryd tc --forward redirect ;;
	iptables) bench_iptables_rules </dev/null ;;
	nftables) bench_nft_rules ;;
	nginx) bench_vip_local && bench_nginx_proxy && topo_wait_port node "$TOPO_VIP" "$TOPO_VIP_PORT" ;;
	haproxy) bench_vip_local && bench_haproxy && topo_wait_port node "$TOPO_VIP" "$TOPO_VIP_PORT" ;;
	*) bench_log "unknown splitter $1"; return 1 ;;
	esac
}

# Anything kanaryd logged as an error or a warning while it ran, and
# whether it was still running: a benchmark's findings, kept with the
# results (BENCH_FINDINGS) rather than lost with the run's files.
bench_kanaryd_findings() { # WHAT
	local log=$TOPO_TMP/kanaryd.log lines
	[ -n "${BENCH_FINDINGS:-}" ] || return 0
	if ! kill -0 "${TOPO_KANARYD_PID:-0}" 2>/dev/null; then
		echo "$1: kanaryd was not running any more at the end" >>"$BENCH_FINDINGS"
	fi
	lines=$(grep -E ': (error|warning):' "$log" 2>/dev/null | sort | uniq -c | head -20)
	[ -n "$lines" ] && printf '%s: kanaryd logged:\n%s\n' "$1" "$lines" >>"$BENCH_FINDINGS"
	: >"$log"
	return 0
}

split_down() { # NAME
	case $1 in
	floor-*) topo_node "$BENCH_PKTCOST" detach nc0 ;;
	kanary-*)
		bench_kanaryd_findings "$1${BENCH_FINDINGS_WHAT:+ ($BENCH_FINDINGS_WHAT)}"
		topo_kanaryd_stop
		TOPO_KANARYD_PID=
		;;
	iptables) bench_iptables_down ;;
	nftables) bench_nft_down ;;
	nginx | haproxy) bench_proxy_stop; bench_vip_unlocal ;;
	esac
	return 0
}

# The programs on nc0 and their run-time counters, "xdp tc-ingress
# tc-egress", each as TOTAL_NS:RUNS (0:0 where no program is attached).
bench_prog_counters() {
	topo_node bpftool net show dev nc0 -j 2>/dev/null | "$BENCH_PYTHON" -c '
import json, subprocess, sys
net = json.load(sys.stdin)
ids = {"xdp": None, "ingress": None, "egress": None}
for entry in net:
    for x in entry.get("xdp", []):
        ids["xdp"] = x.get("id")
    for t in entry.get("tc", []):
        kind = t.get("kind", "")
        for side in ("ingress", "egress"):
            if kind.endswith(side):
                ids[side] = t.get("id")
out = []
for side in ("xdp", "ingress", "egress"):
    if ids[side] is None:
        out.append("0:0")
        continue
    info = json.loads(subprocess.run(["bpftool", "prog", "show", "id", str(ids[side]), "-j"],
                                     capture_output=True, text=True).stdout or "{}")
    out.append("%d:%d" % (info.get("run_time_ns", 0), info.get("run_cnt", 0)))
print(" ".join(out))' 2>/dev/null || echo "0:0 0:0 0:0"
}

# ns per run of each program between two bench_prog_counters readings:
# "xdp,tc_ingress,tc_egress" (empty where nothing ran).
bench_prog_ns() { # BEFORE AFTER
	"$BENCH_PYTHON" -c '
import sys
a, b = sys.argv[1].split(), sys.argv[2].split()
out = []
for x, y in zip(a, b):
    t0, c0 = map(int, x.split(":"))
    t1, c1 = map(int, y.split(":"))
    out.append("%.1f" % ((t1 - t0) / (c1 - c0)) if c1 > c0 else "")
print(",".join(out))' "$1" "$2"
}

# A run that got no answer at all is a broken run, not a slow one: say so
# next to kanary's findings (the row stays, with its zeros).
bench_check_row() { # WHAT ROW
	case $2 in
	0,* | 0.0,*) [ -n "${BENCH_FINDINGS:-}" ] && echo "$1: no answer at all (the run is void)" >>"$BENCH_FINDINGS" ;;
	esac
	return 0
}

# ---- load --------------------------------------------------------------------

# Every load function prints one CSV fragment:
#   requests_per_s,p50_ms,p99_ms,errors,canary_share
# (canary_share empty when the tool cannot tell).
BENCH_LOAD_CSV_HEADER="rps,p50_ms,p99_ms,errors,canary_share"

# wrk, keep-alive: BENCH_LOAD_CONNECTIONS connections from one address.
load_wrk() { # TARGET SECONDS [extra wrk args...]
	local target=$1 secs=$2 out=$BENCH_TMP/wrk.out
	shift 2
	timeout $((secs + 30)) ip netns exec "$(topo_ns client)" wrk -t "$BENCH_LOAD_THREADS" \
		-c "$BENCH_LOAD_CONNECTIONS" -d "${secs}s" --timeout 5s --latency "$@" \
		"http://$target/" >"$out" 2>&1
	"$BENCH_PYTHON" "$BENCH_DIR/parse_load.py" wrk "$out"
}

# kn-load from BENCH_SOURCES addresses (IPv4, or BENCH_LOAD_SOURCES, a
# kn-load --sources range: the IPv6 ones); MODE is --close or --keepalive.
load_kn() { # TARGET SECONDS MODE [extra kn-load args...]
	local target=$1 secs=$2 mode=$3 out=$BENCH_TMP/kn-load.json
	shift 3
	timeout $((secs + 30)) ip netns exec "$(topo_ns client)" "$KANARY_TOOLS/kn-load" \
		--target "$target" --sources "${BENCH_LOAD_SOURCES:-$(topo_sources "$BENCH_SOURCES")}" "$mode" \
		--connections "$BENCH_LOAD_CONNECTIONS" --duration "$secs" --json "$@" \
		>"$out" 2>"$out.err"
	bench_note_load_errors "$out"
	"$BENCH_PYTHON" "$BENCH_DIR/parse_load.py" kn-load "$out"
}

# A request that failed through kanary is a finding: keep what kind of
# failure it was (kn-load's breakdown) next to kanaryd's own errors.
bench_note_load_errors() { # KN-LOAD.json
	[ -n "${BENCH_FINDINGS:-}" ] || return 0
	"$BENCH_PYTHON" - "$1" "${BENCH_FINDINGS_WHAT:-}" >>"$BENCH_FINDINGS" <<-'EOF'
		import json, sys
		try:
		    d = json.load(open(sys.argv[1]))
		except (OSError, ValueError):
		    sys.exit(0)
		if not d.get("errors"):
		    sys.exit(0)
		cf = d.get("connect_failures", {})
		parts = ["connect %s %d" % (k, v) for k, v in cf.items() if v]
		kinds = ("resets", "premature_closes", "timeouts", "protocol_errors",
		         "io_errors")
		parts += ["%s %d" % (k, d[k]) for k in kinds if d.get(k)]
		for k in ("connect_error", "io_error"):
		    if d.get(k):
		        parts.append("%s: %s" % (k, d[k]))
		print("kn-load%s: %d of %d requests failed (%s)" % (
		    " (" + sys.argv[2] + ")" if sys.argv[2] else "", d["errors"],
		    d.get("requests", 0), ", ".join(parts)))
	EOF
}
