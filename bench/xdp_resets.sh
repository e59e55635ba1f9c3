#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/xdp_resets.sh - what the resets of the XDP rows are (BENCHMARKS.md,
# section 2). Runs the new-connection load through a splitter (default
# floor-xdp: a do-nothing XDP program, no kanary at all) with packet
# captures at the client's and at the backend's interface, until a run has
# failed requests or RUNS runs are done. Then, for every reset the backend
# sent, prints that connection's packets as each end saw them, the time
# between the handshake's ACK and the first data at the backend, and the
# backend's TCP counters over the runs (TcpOutRsts: resets sent;
# TcpAttemptFails: half-open connections that refused a segment).
#
# Usage: xdp_resets.sh [OUTDIR]  (SPLITTER, RUNS, SECS from the environment;
#   the captures stay in OUTDIR, default bench/out/xdp-resets)
# A diagnosis, not a figure: not part of `make bench`. Needs tcpdump
# (make deps).
set -u
source "$(dirname "$0")/lib.sh"

OUTDIR=${1:-$BENCH_DIR/out/xdp-resets}
SPLITTER=${SPLITTER:-floor-xdp}
RUNS=${RUNS:-20}
SECS=${SECS:-5}
SNAPLEN=80 # headers only

command -v tcpdump >/dev/null || bench_die "tcpdump is missing (make deps)"
trap bench_destroy EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUTDIR" || bench_die "cannot create $OUTDIR"
bench_topology || bench_die "cannot build the topology"
split_up "$SPLITTER" || bench_die "cannot set up $SPLITTER"
target=$(split_target "$SPLITTER")

backend_counter() { # NAME: its value in the backend's namespace
	topo_exec stable1 nstat -az "$1" | awk -v n="$1" '$1 == n { print $2 }'
}
out_rsts0=$(backend_counter TcpOutRsts)
attempt_fails0=$(backend_counter TcpAttemptFails)
failed=0 runs=0
for ((run = 1; run <= RUNS; run++)); do
	rm -f "$OUTDIR/client.pcap" "$OUTDIR/backend.pcap"
	# ip netns exec execs tcpdump: $! is tcpdump itself.
	ip netns exec "$(topo_ns client)" tcpdump -s "$SNAPLEN" -B 65536 -ni eth0 \
		-w "$OUTDIR/client.pcap" tcp 2>/dev/null &
	cap_client=$!
	ip netns exec "$(topo_ns stable1)" tcpdump -s "$SNAPLEN" -B 65536 -ni eth0 \
		-w "$OUTDIR/backend.pcap" tcp 2>/dev/null &
	cap_backend=$!
	sleep 1 # both captures listening
	row=$(load_kn "$target" "$SECS" --close)
	sleep 0.5
	kill -TERM "$cap_client" "$cap_backend"
	wait "$cap_client" "$cap_backend" 2>/dev/null
	runs=$run
	failed=$(echo "$row" | cut -d, -f4)
	bench_log "$SPLITTER run $run: $row (requests/s, p50, p99, failed, canary share)"
	[ "${failed:-0}" -gt 0 ] && break
done
out_rsts=$(($(backend_counter TcpOutRsts) - out_rsts0))
attempt_fails=$(($(backend_counter TcpAttemptFails) - attempt_fails0))
split_down "$SPLITTER"

echo "splitter: $SPLITTER; runs: $runs of ${SECS} s; failed requests in the last run: $failed"
echo "backend counters over the runs: TcpOutRsts +$out_rsts, TcpAttemptFails +$attempt_fails"
resets=$(tcpdump -nr "$OUTDIR/backend.pcap" \
	"tcp[tcpflags] & tcp-rst != 0 and src host $BENCH_STABLE_IP" 2>/dev/null)
if [ -z "$resets" ]; then
	echo "the backend sent no reset in the captured run"
	exit 0
fi
# "... IP 198.18.16.10.8000 > 198.18.1.43.20314: Flags [R], ..." -> the
# client's address and port.
echo "$resets" | awk '{ print $5 }' | sed 's/:$//' | sort -u | while read -r peer; do
	addr=${peer%.*} port=${peer##*.}
	filter="host $addr and port $port"
	echo
	echo "== connection $addr:$port, at the client:"
	tcpdump -tt -nr "$OUTDIR/client.pcap" "$filter" 2>/dev/null
	echo "== at the backend:"
	tcpdump -tt -nr "$OUTDIR/backend.pcap" "$filter" 2>/dev/null
	# The handshake's ACK (no payload) and the first data segment, as the
	# backend received them.
	tcpdump -tt -nr "$OUTDIR/backend.pcap" "src host $addr and src port $port" 2>/dev/null |
		awk '/Flags \[\.\],/ && / length 0/ && !ack { ack = $1 }
		     /Flags \[P\.\]/ && !data { data = $1 }
		     END { if (ack && data)
		               printf "handshake ACK to first data at the backend: %.0f us\n", (data - ack) * 1e6 }'
done
