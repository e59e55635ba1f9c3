#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/ipv6.sh - HTTP through an IPv6 VIP against direct, with the IPv4
# twins in the same rounds (BENCHMARKS.md, section 2b). The topology of
# bench/lib.sh in both families (BENCH_IPV6): each nginx backend listens on
# its IPv4 and its IPv6 address, the client has BENCH_SOURCES addresses in
# each family, and one kanaryd serves two services at the same split, the
# IPv4 VIP 198.18.32.1:80 and the IPv6 VIP [2001:2:32::1]:80, with the same
# backends in their own family.
#
#   systems  direct (the client talks to the stable backend itself),
#            kanary-xdp, kanary-tc
#   families ipv4, ipv6: each system runs both back to back, the order
#            alternating from one repetition to the next
#   modes    keepalive: wrk, BENCH_LOAD_CONNECTIONS connections from one
#            address; close: kn-load, a new connection per request from
#            BENCH_SOURCES addresses
#
# Repetitions are interleaved (direct, kanary-xdp, kanary-tc, then again),
# so that a drift of the machine hits every system and family alike.
#
# Usage: ipv6.sh OUT.csv   (REPS, SECS, WARMUP_SECS from the environment;
# the defaults keep the part under three minutes). Writes one row per run;
# the trap cleans up.
set -u
source "$(dirname "$0")/lib.sh"

OUT=$1
REPS=${REPS:-3}
SECS=${SECS:-3}
WARMUP_SECS=${WARMUP_SECS:-1}
SYSTEMS="direct kanary-xdp kanary-tc"
FAMILIES="ipv4 ipv6"
MODES="keepalive close"
SERVICE6=bench6

trap bench_destroy EXIT
trap 'exit 130' INT TERM
export BENCH_IPV6=1
bench_topology || bench_die "cannot build the topology in both families"

# One kanaryd, both services: the same program and maps serve both
# families in each run.
config=$BENCH_TMP/dual.json
cat >"$config" <<EOF
{
  "services": [{
    "name": "bench",
    "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
    "stable": ["$BENCH_STABLE_IP:$BENCH_PORT"],
    "canary": ["$BENCH_CANARY_IP:$BENCH_PORT"],
    "canary_percent": $BENCH_CANARY_PCT
  }, {
    "name": "$SERVICE6",
    "vip": "[$TOPO_VIP6]:$TOPO_VIP_PORT",
    "stable": ["[$BENCH_STABLE_IP6]:$BENCH_PORT"],
    "canary": ["[$BENCH_CANARY_IP6]:$BENCH_PORT"],
    "canary_percent": $BENCH_CANARY_PCT
  }]
}
EOF
BENCH_KANARYD_ARGS=(--config "$config")

# Where the client sends a family's requests for a system.
target_of() { # SYSTEM FAMILY
	case $1-$2 in
	direct-ipv4) echo "$BENCH_STABLE_IP:$BENCH_PORT" ;;
	direct-ipv6) echo "[$BENCH_STABLE_IP6]:$BENCH_PORT" ;;
	*-ipv4) echo "$TOPO_VIP:$TOPO_VIP_PORT" ;;
	*-ipv6) echo "[$TOPO_VIP6]:$TOPO_VIP_PORT" ;;
	esac
}

run_one() { # SYSTEM FAMILY MODE SECONDS
	local target sources=""
	target=$(target_of "$1" "$2")
	[ "$2" = ipv6 ] && sources=$(topo_sources6 "$BENCH_SOURCES")
	case $3 in
	keepalive) load_wrk "$target" "$4" ;;
	close) BENCH_LOAD_SOURCES=$sources load_kn "$target" "$4" --close ;;
	esac
}

echo "rep,system,family,mode,tool,$BENCH_LOAD_CSV_HEADER" >"$OUT"
for ((rep = 1; rep <= REPS; rep++)); do
	families=$FAMILIES
	((rep % 2 == 0)) && families=$(echo "$FAMILIES" | tr ' ' '\n' | tac | tr '\n' ' ')
	for system in $SYSTEMS; do
		split_up "$system" || bench_die "cannot set up $system"
		for mode in $MODES; do
			tool=wrk
			[ "$mode" = close ] && tool=kn-load
			for family in $families; do
				what="ipv6 repetition $rep, $system, $family, $mode"
				[ "$WARMUP_SECS" -gt 0 ] && BENCH_FINDINGS_WHAT="$what, warm-up" \
					run_one "$system" "$family" "$mode" "$WARMUP_SECS" >/dev/null
				row=$(BENCH_FINDINGS_WHAT="$what" run_one "$system" "$family" "$mode" "$SECS")
				bench_check_row "$what" "$row"
				echo "$rep,$system,$family,$mode,$tool,$row" >>"$OUT"
				bench_log "$what: $row"
			done
		done
		BENCH_FINDINGS_WHAT="ipv6 repetition $rep" split_down "$system"
	done
done
