#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/cluster.sh - cluster mode's figures, on three nodes and a real etcd
# (tests/lib/cluster.sh's topology):
#   propagation  a change written by the leader (its generation in etcd) ->
#                every node applied it (each node's registry entry says so),
#                over CHANGES weight changes made through the leader's API;
#   failover     the leader SIGKILLed -> another node holds the leader key,
#                over KILLS kills (the killed node restarts between them);
#   cost         SERVICES idle services on the three nodes for COST_S
#                seconds: etcd writes and bytes per second (off the watch),
#                each kanaryd's CPU and RSS, against one kanaryd with the
#                same services in single-node mode.
# Both are read off one etcd watch with the watcher's clock, the kill time
# off the same clock: no API polling in the measured path.
#
# Usage: cluster.sh OUT.csv  (CHANGES, KILLS, LEASE, SERVICES, COST_S from
# the environment)
# Prints the medians and p99 / worst; OUT.csv has kind,trial,ms.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export KANARY_ROOT=$ROOT KANARY_BIN=${KANARY_BIN:-$ROOT/bin} KANARY_TOOLS=${KANARY_TOOLS:-$ROOT/.output/tests}
source "$ROOT/tests/lib/tap.sh"
source "$ROOT/tests/lib/topology.sh"
source "$ROOT/tests/lib/etcd.sh"
source "$ROOT/tests/lib/cluster.sh"
trap topo_destroy EXIT
trap 'exit 130' INT TERM

OUT=${1:?usage: cluster.sh OUT.csv}
CHANGES=${CHANGES:-100}
KILLS=${KILLS:-10}
CLUSTER_LEASE=${LEASE:-3s}
CLUSTER_SOURCES_PER_CLIENT=4
SERVICES=${SERVICES:-100}
COST_S=${COST_S:-10}
SETTLE_S=3           # after a start, before the cost is measured
CHANGE_PAUSE_S=0.3   # between weight changes: each is measured on its own
LEADER_WAIT_S=20     # bound of one failover
EVENTS=""

die() { echo "bench/cluster: $*" >&2; exit 1; }
now() { date +%s.%N; }

cluster_create || die "cannot build the topology"
cluster_etcd_start || die "etcd does not start"
cluster_backends || die "the backends do not start"
for k in 1 2 3; do
	cluster_kanaryd "$k" --config "$(cluster_config "$k")" || die "node$k's kanaryd does not start"
done
EVENTS=$TOPO_TMP/events.tsv
# The watcher: every change under the prefix, stamped on arrival. It runs
# etcdctl itself, which dies with it (PR_SET_PDEATHSIG), so the topology's
# cleanup ends both.
"$PYTHON" -u -c '
import base64, ctypes, json, signal, subprocess, sys, time
PR_SET_PDEATHSIG = 1
def die_with_parent():
    ctypes.CDLL("libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
watch = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True,
                         preexec_fn=die_with_parent)
for line in watch.stdout:
    t = time.time()
    try:
        batch = json.loads(line)
    except ValueError:
        continue
    for ev in batch.get("Events") or []:
        kv = ev.get("kv", {})
        key = base64.b64decode(kv.get("key", "")).decode()
        value = base64.b64decode(kv.get("value", "") or "").decode(errors="replace")
        kind = "DELETE" if ev.get("type") == 1 else "PUT"
        print("%.6f\t%s\t%s\t%s" % (t, kind, key, value.replace("\t", " ")), flush=True)
' ip netns exec "$(topo_ns fab)" env ETCDCTL_API=3 etcdctl \
	--endpoints "$(etcd_url "$CLUSTER_ETCD_IP")" watch --prefix /kanary/ -w json >"$EVENTS" &
TOPO_PIDS+=($!)
sleep 1

leader_node() { # the leader's number as node K sees it (empty: none)
	local l
	l=$(cluster_leader "$1")
	[[ "$l" == node* ]] && echo "${l#node}"
}

lk=$(leader_node 1)
[ -n "$lk" ] || die "no leader"
echo "# propagation: $CHANGES weight changes through node$lk (the leader)" >&2
for ((i = 0; i < CHANGES; i++)); do
	cluster_api "$lk" PUT "/api/v1/services/$CLUSTER_SERVICE/weight" \
		"{\"canary_percent\": $((10 + i % 2 * 10))}" >/dev/null
	sleep "$CHANGE_PAUSE_S"
done

echo "# failover: $KILLS leader kills" >&2
: >"$TOPO_TMP/kills.tsv"
for ((i = 0; i < KILLS; i++)); do
	lk=""
	for k in 1 2 3; do lk=$(leader_node "$k") && [ -n "$lk" ] && break; done
	[ -n "$lk" ] || die "no leader before kill $i"
	printf '%s\tnode%s\n' "$(now)" "$lk" >>"$TOPO_TMP/kills.tsv"
	cluster_kill "$lk"
	survivor=$((lk % 3 + 1))
	deadline=$((SECONDS + LEADER_WAIT_S))
	while ((SECONDS < deadline)); do
		l=$(leader_node "$survivor")
		[ -n "$l" ] && [ "$l" != "$lk" ] && break
		sleep 0.2
	done
	cluster_kanaryd "$lk" --config "$TOPO_TMP/node$lk.json" || die "node$lk does not restart"
	sleep 1
done
sleep 1

# ---- cost: SERVICES idle services, cluster mode against single-node mode ----
# many_config K CLUSTER(0|1): node K's config with SERVICES services.
many_config() {
	"$PYTHON" - "$1" "$2" "$SERVICES" "$(etcd_url "$CLUSTER_ETCD_IP")" "$CLUSTER_STABLE_IP" \
		"$CLUSTER_CANARY_IP" "$TOPO_BACKEND_PORT" >"$TOPO_TMP/many$1.json" <<'PY'
import json, sys
k, cluster, n, etcd, stable, canary, port = sys.argv[1:8]
cfg = {"tick": "50ms", "services": [
    {"name": "svc%d" % i, "vip": "198.18.33.%d:%d" % (i % 250 + 1, 80 + i // 250),
     "stable": ["%s:%s" % (stable, port)], "canary": ["%s:%s" % (canary, port)]}
    for i in range(int(n))]}
if cluster == "1":
    cfg["cluster"] = {"etcd": [etcd], "node": "node" + k, "prefix": "/kanary/cost/"}
print(json.dumps(cfg))
PY
	echo "$TOPO_TMP/many$1.json"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# measure_nodes LABEL K...: CPU % of a core and RSS of each node's kanaryd.
measure_nodes() {
	local label=$1 k hz before=() i=0
	shift
	hz=$(getconf CLK_TCK)
	for k in "$@"; do before+=("$(cpu_ticks "${CLUSTER_PID[$k]}")"); done
	COST_T0=$(now)
	sleep "$COST_S"
	COST_T1=$(now)
	for k in "$@"; do
		# label, node, CPU ticks used, ticks per second, RSS (KiB)
		printf '%s\tnode%s\t%s\t%s\t%s\n' "$label" "$k" \
			"$(($(cpu_ticks "${CLUSTER_PID[$k]}") - ${before[$i]}))" "$hz" \
			"$(rss_kb "${CLUSTER_PID[$k]}")" >>"$TOPO_TMP/cost.tsv"
		i=$((i + 1))
	done
}
echo "# cost: $SERVICES services, ${COST_S}s each way" >&2
: >"$TOPO_TMP/cost.tsv"
for k in 1 2 3; do topo_kanaryd_stop "${CLUSTER_PID[$k]}"; done
for k in 1 2 3; do
	cluster_kanaryd "$k" --config "$(many_config "$k" 1)" || die "node$k with $SERVICES services"
done
sleep "$SETTLE_S"
measure_nodes cluster 1 2 3
printf 'window\t%s\t%s\n' "$COST_T0" "$COST_T1" >>"$TOPO_TMP/cost.tsv"
for k in 1 2 3; do topo_kanaryd_stop "${CLUSTER_PID[$k]}"; done
cluster_kanaryd 1 --config "$(many_config 1 0)" || die "node1 alone with $SERVICES services"
sleep "$SETTLE_S"
measure_nodes single 1

"$PYTHON" - "$EVENTS" "$TOPO_TMP/kills.tsv" "$OUT" "$CLUSTER_SERVICE" "$TOPO_TMP/cost.tsv" <<'PY'
import json, statistics, sys
events, kills, out, service, cost = sys.argv[1:6]
decided = {}   # generation -> time the leader's state landed
applied = {}   # generation -> {node: first time it said so}
leader_puts = []
nodes = set()
for line in open(events):
    t, kind, key, value = line.rstrip("\n").split("\t", 3)
    t = float(t)
    if key.endswith("/services/%s/state" % service) and kind == "PUT":
        try:
            g = json.loads(value)["generation"]
        except (ValueError, KeyError):
            continue
        decided.setdefault(g, t)
    elif "/nodes/" in key and kind == "PUT":
        try:
            n = json.loads(value)
        except ValueError:
            continue
        nodes.add(n["name"])
        g = n.get("applied", {}).get(service, 0)
        for gen in decided:
            if gen <= g:
                applied.setdefault(gen, {}).setdefault(n["name"], t)
    elif key.endswith("/leader") and kind == "PUT":
        leader_puts.append((t, value))
rows = []
prop = []
for g, t0 in sorted(decided.items()):
    seen = applied.get(g, {})
    if len(seen) >= 3:
        prop.append((max(seen.values()) - t0) * 1000)
fail = []
for line in open(kills):
    t, killed = line.split()
    t = float(t)
    after = [tp for tp, who in leader_puts if tp > t and who != killed]
    if after:
        fail.append((min(after) - t) * 1000)
cost_rows = [l.rstrip("\n").split("\t") for l in open(cost)]
window = [r for r in cost_rows if r[0] == "window"][0]
t0, t1 = float(window[1]), float(window[2])
writes = bytes_ = 0
for line in open(events):
    t, kind, key, value = line.rstrip("\n").split("\t", 3)
    if t0 <= float(t) <= t1 and key.startswith("/kanary/cost/"):
        writes += 1
        bytes_ += len(key) + len(value)
secs = t1 - t0
for r in cost_rows:
    if r[0] != "window":
        r[2:5] = ["%.2f" % (100.0 * int(r[2]) / int(r[3]) / secs), r[4]]
with open(out, "w") as f:
    f.write("kind,trial,ms\n")
    for i, v in enumerate(prop):
        f.write("propagation,%d,%.2f\n" % (i, v))
    for i, v in enumerate(fail):
        f.write("failover,%d,%.1f\n" % (i, v))
    f.write("etcd_writes_per_s,0,%.2f\n" % (writes / secs))
    f.write("etcd_bytes_per_s,0,%.0f\n" % (bytes_ / secs))
    for r in cost_rows:
        if r[0] != "window":
            f.write("cpu_pct_%s_%s,0,%s\n" % (r[0], r[1], r[2]))
            f.write("rss_kb_%s_%s,0,%s\n" % (r[0], r[1], r[3]))
def p99(v):
    s = sorted(v)
    return s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]
if prop:
    print("propagation: %d changes, median %.1f ms, p99 %.1f ms, max %.1f ms"
          % (len(prop), statistics.median(prop), p99(prop), max(prop)))
if fail:
    print("failover: %d kills, median %.0f ms, worst %.0f ms"
          % (len(fail), statistics.median(fail), max(fail)))
print("cost: %.1f etcd writes/s, %.0f bytes/s (watch events under the prefix)"
      % (writes / secs, bytes_ / secs))
for r in cost_rows:
    if r[0] != "window":
        print("cost: %s %s: %s %% of a core, RSS %s KiB" % (r[0], r[1], r[2], r[3]))
if not prop or not fail:
    sys.exit("bench/cluster: nothing measured")
PY
