#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/static/bench_report.sh - bench/report.py's cluster mode section
# (section 6) from a bench/cluster.sh results file: the figures against
# the goals, the costs per node, "Not measured" without the file, and a
# row of an unknown kind refused with its line named.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/tap.sh

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
report() { # RESULTS_DIR: the report's section 6 (the command's errors too)
	python3 bench/report.py --results "$1" --report "$TMP/B.md" --plots "$TMP/plots" \
		--template bench/BENCHMARKS.md.in 2>&1 &&
		sed -n '/^## 6\. Cluster mode/,/^## What kanary did wrong/p' "$TMP/B.md"
}

mkdir "$TMP/none" "$TMP/met" "$TMP/missed" "$TMP/bad"
tap_check "without cluster.csv the section says it was not measured" \
	grep -q '^\*Not measured in this run\.\*$' <(report "$TMP/none")

cat >"$TMP/met/cluster.csv" <<-CSV
kind,trial,ms
propagation,0,6.10
propagation,1,7.20
propagation,2,13.20
failover,0,2800.0
failover,1,3100.0
etcd_writes_per_s,0,2.90
etcd_bytes_per_s,0,3200
cpu_pct_cluster_node1,0,1.95
rss_kb_cluster_node1,0,28800
cpu_pct_single_node1,0,0.70
rss_kb_single_node1,0,27648
CSV
out=$(report "$TMP/met")
tap_check "propagation: median, p99 and max against the 100 ms goal, met" \
	grep -qF '| 3 changes | 7.2 ms | p99 13.2 ms, max 13.2 ms | p99 ≤ 100 ms | **met** |' <<<"$out"
tap_check "failover: median and worst against the goals, met" \
	grep -qF '| 2 kills | 2.95 s | worst 3.10 s | worst ≤ 5 s, median ≤ 3.5 s | **met** |' <<<"$out"
tap_check "etcd's traffic per second" grep -qF '2.9 writes/s, 3,200 bytes/s' <<<"$out"
tap_check "each node's CPU and RSS, cluster mode beside single-node mode" \
	grep -qF '| node1 | 1.95 % / 28.1 MiB | 0.70 % / 27.0 MiB |' <<<"$out"

printf 'kind,trial,ms\nfailover,0,6000\nfailover,1,3000\n' >"$TMP/missed/cluster.csv"
out=$(report "$TMP/missed")
tap_check "a failover worse than 5 s is missed" \
	grep -qF '| 2 kills | 4.50 s | worst 6.00 s | worst ≤ 5 s, median ≤ 3.5 s | **missed** |' <<<"$out"
tap_check "a figure absent from the file is named as not measured" \
	grep -qF 'Not measured in this run: propagation.' <<<"$out"

printf 'kind,trial,ms\npropagation,0,5\nlatency,0,5\n' >"$TMP/bad/cluster.csv"
tap_check "a row of an unknown kind stops the report, its line named" \
	grep -qF "cluster.csv, line 3: kind 'latency' is none of" <(report "$TMP/bad")
tap_done
