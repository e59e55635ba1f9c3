#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/scale.sh - throughput of one service while N services are
# configured: kanary (a config file of N services), iptables and nftables
# (generated rule sets in kube-proxy's shape). The measured service is the
# last of the N: iptables walks its services chain in order, so this is its
# worst case; kanary and nftables look services up in a hash.
#
# New connections only (kn-load --close from BENCH_SOURCES addresses): an
# established connection never meets the rule sets again (conntrack or
# kanary's connection table), a new one does.
#
# Usage: scale.sh OUT.csv  (SIZES, REPS, SECS, WARMUP_SECS, SYSTEMS,
#   KANARYD_MAXSVC: a kanaryd built for more services than the default cap,
#   used for the sizes above it)
# Columns: rep,services,system,setup_s,rps,p50_ms,p99_ms,errors,canary_share,
#   kernel_bytes (kanary: every map of the data path), agent_rss_kib and
#   agent_cpu_pct (kanaryd, during the measured run)
set -u
source "$(dirname "$0")/lib.sh"

OUT=$1
SIZES=${SIZES:-"1 100 1000 10000"}
REPS=${REPS:-5}
SECS=${SECS:-5}
WARMUP_SECS=${WARMUP_SECS:-1}
SYSTEMS=${SYSTEMS:-"kanary-xdp iptables nftables"}
KANARYD_MAXSVC=${KANARYD_MAXSVC:-}
DEFAULT_MAX_SERVICES=1024 # KN_MAX_SERVICES of a default build
SCALE_VIP_BASE=$((198 << 24 | 18 << 16 | 64 << 8)) # 198.18.64.0: the others
SCALE_READY_TIMEOUT_S=600 # kanaryd places every service before its API answers

trap bench_destroy EXIT
trap 'exit 130' INT TERM
bench_topology || bench_die "cannot build the topology"
TOPO_READY_TIMEOUT_S=$SCALE_READY_TIMEOUT_S

# The generators are awk programs: a shell loop of 10,000 services would
# time the shell, not the tools.
SCALE_AWK_IP='function ip(n) { return int(n / 16777216) % 256 "." int(n / 65536) % 256 "." int(n / 256) % 256 "." n % 256 }'

scale_gen() { # WHAT N
	awk -v what="$1" -v n="$2" -v base="$SCALE_VIP_BASE" -v vip="$TOPO_VIP" \
		-v vport="$TOPO_VIP_PORT" -v st="$BENCH_STABLE_IP:$BENCH_PORT" \
		-v ca="$BENCH_CANARY_IP:$BENCH_PORT" -v pct="$BENCH_CANARY_PCT" \
		-v maxdef="$DEFAULT_MAX_SERVICES" "$SCALE_AWK_IP"'
	BEGIN {
		prob = sprintf("0.%02d", pct)
		if (what == "kanary") {
			# N-1 other services, then the measured one.
			max = n > maxdef ? n : maxdef
			printf "{\"max_services\": %d, \"max_backends\": %d, \"services\": [\n", max, 2 * max + 2
			for (i = 0; i < n - 1; i++)
				printf "{\"name\": \"svc%d\", \"vip\": \"%s:80\", \"stable\": [\"%s\"], \"canary\": [\"%s\"], \"canary_percent\": %d},\n", i, ip(base + i), st, ca, pct
			printf "{\"name\": \"bench\", \"vip\": \"%s:%d\", \"stable\": [\"%s\"], \"canary\": [\"%s\"], \"canary_percent\": %d}\n]}\n", vip, vport, st, ca, pct
		} else if (what == "iptables") {
			# The other services chains, ahead of the measured one.
			for (i = 0; i < n - 1; i++)
				printf ":KN-SVC-%d - [0:0]\n:KN-SEP-%d-S - [0:0]\n:KN-SEP-%d-C - [0:0]\n", i, i, i
			for (i = 0; i < n - 1; i++) {
				printf "-A KN-SERVICES -d %s/32 -p tcp -m tcp --dport 80 -j KN-SVC-%d\n", ip(base + i), i
				printf "-A KN-SVC-%d -m statistic --mode random --probability %s -j KN-SEP-%d-C\n", i, prob, i
				printf "-A KN-SVC-%d -j KN-SEP-%d-S\n", i, i
				printf "-A KN-SEP-%d-C -p tcp -j DNAT --to-destination %s\n", i, ca
				printf "-A KN-SEP-%d-S -p tcp -j DNAT --to-destination %s\n", i, st
			}
		} else if (what == "nft-elements") {
			for (i = 0; i < n - 1; i++)
				printf ", %s . tcp . 80 : goto svc_%d", ip(base + i), i
		} else if (what == "nft-chains") {
			for (i = 0; i < n - 1; i++) {
				printf "chain svc_%d {\nnumgen random mod 100 vmap { 0-%d : goto sep_%d_c, %d-99 : goto sep_%d_s }\n}\n", i, pct - 1, i, pct, i
				printf "chain sep_%d_c {\nmeta l4proto tcp dnat to %s\n}\n", i, ca
				printf "chain sep_%d_s {\nmeta l4proto tcp dnat to %s\n}\n", i, st
			}
		}
	}'
}

scale_up() { # SYSTEM N
	local sys=$1 n=$2
	case $sys in
	kanary-*)
		BENCH_KANARYD_ARGS=(--config "$BENCH_TMP/scale.json")
		local bin=$KANARY_BIN
		if [ "$n" -gt "$DEFAULT_MAX_SERVICES" ]; then
			[ -n "$KANARYD_MAXSVC" ] || { bench_log "no kanaryd for $n services"; return 1; }
			KANARY_BIN=$KANARYD_MAXSVC
		fi
		split_up "$sys"
		local ret=$?
		KANARY_BIN=$bin
		BENCH_KANARYD_ARGS=()
		return $ret
		;;
	iptables) bench_iptables_rules <"$BENCH_TMP/iptables-$n" ;;
	nftables) bench_nft_rules "$(<"$BENCH_TMP/nft-elements-$n")" "$(<"$BENCH_TMP/nft-chains-$n")" ;;
	esac
}

echo "rep,services,system,setup_s,$BENCH_LOAD_CSV_HEADER,kernel_bytes,agent_rss_kib,agent_cpu_pct" >"$OUT"
target=$TOPO_VIP:$TOPO_VIP_PORT
for n in $SIZES; do
	# Generated before anything is timed: setup_s is the tool's own time.
	scale_gen kanary "$n" >"$BENCH_TMP/scale.json"
	scale_gen iptables "$n" >"$BENCH_TMP/iptables-$n"
	scale_gen nft-elements "$n" >"$BENCH_TMP/nft-elements-$n"
	scale_gen nft-chains "$n" >"$BENCH_TMP/nft-chains-$n"
	for ((rep = 1; rep <= REPS; rep++)); do
		for sys in $SYSTEMS; do
			t0=$(date +%s%N)
			scale_up "$sys" "$n" || bench_die "cannot configure $n services on $sys"
			setup=$(printf '%.2f' "$((($(date +%s%N) - t0) / 1000000))e-3")
			what="scale $n services, repetition $rep, $sys"
			[ "$WARMUP_SECS" -gt 0 ] &&
				BENCH_FINDINGS_WHAT="$what, warm-up" load_kn "$target" "$WARMUP_SECS" --close >/dev/null
			pid="" ticks0=0
			if [[ $sys == kanary-* ]]; then
				pid=$(bench_kanaryd_pid)
				ticks0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)
			fi
			t0=$(date +%s%N)
			row=$(BENCH_FINDINGS_WHAT=$what load_kn "$target" "$SECS" --close)
			mem=",,"
			if [ -n "$pid" ]; then
				ticks=$(($(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) - ticks0))
				cpu=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v ns=$(($(date +%s%N) - t0)) \
					'BEGIN { printf "%.1f", 100 * t / hz / (ns / 1e9) }')
				mem="$(bench_kanary_map_bytes),$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null),$cpu"
			fi
			bench_check_row "scale repetition $rep, $n services, $sys" "$row"
			echo "$rep,$n,$sys,$setup,$row,$mem" >>"$OUT"
			bench_log "scale $n services, rep $rep, $sys (set up in ${setup}s): $row"
			BENCH_FINDINGS_WHAT="scale, $n services" split_down "$sys"
		done
	done
done
