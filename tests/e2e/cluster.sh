#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/cluster.sh - cluster mode: three nodes, each with its own
# kanaryd on its own client link, one etcd (started here, in the topology)
# on control links apart from the data (tests/lib/cluster.sh):
#   the nodes share one definition; a fourth that differs is refused;
#   a rollout started through node 1's API is promoted on all three, every
#     node at the same weight at every step; GET /api/v1/nodes names them;
#   the leader SIGKILLed mid-rollout: another leads, the same step goes on
#     to promotion; the killed node restarts and applies the state;
#   a canary failing for one node's traffic only: every node at 0 %;
#   etcd SIGKILLed under load: no request fails, no step advances while it
#     is down, the rollout goes on when it is back;
#   a node cut from etcd (its control link down) rejoins;
#   a hostile state in etcd: said in the log, the weight kept;
#   200 clients moved from node 1 to node 2 keep their pool.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
source "$(dirname "$0")/../lib/etcd.sh"
source "$(dirname "$0")/../lib/cluster.sh"
trap topo_destroy EXIT

etcd_available || { echo "1..0 # SKIP etcd is not installed (make deps)"; exit 0; }
WAIT_S=30
CLUSTER_LEASE=2s

cluster_create || tap_bail "cannot build the cluster topology"
cluster_etcd_start || tap_bail "etcd starts"
cluster_backends || tap_bail "the backends start"
for k in 1 2 3; do
	cluster_kanaryd "$k" --config "$(cluster_config "$k")" || tap_bail "node$k's kanaryd starts"
done

nodes_json() { cluster_api "${1:-1}" GET /api/v1/nodes; }
node_count() {
	nodes_json "${1:-1}" | "$PYTHON" -c "import json,sys; print(len(json.load(sys.stdin)['nodes']))" 2>/dev/null
}
wait_nodes() { # SECONDS COUNT
	local deadline=$((SECONDS + $1))
	while ((SECONDS < deadline)); do
		[ "$(node_count)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- one definition, three nodes --------------------------------------------
tap_check "the three nodes register in etcd" wait_nodes 10 3
tap_is "one of them leads" \
	"$(nodes_json | "$PYTHON" -c "import json,sys; print(sum(n['leader'] for n in json.load(sys.stdin)['nodes']))")" 1
tap_check "node 1 proposed the service" grep -q "service chat: proposed to etcd\|joining the definition" "$TOPO_TMP/kanaryd1.log"
tap_is "the others joined it" \
	"$(cat "$TOPO_TMP"/kanaryd[23].log | grep -c "joining the definition etcd holds\|proposed to etcd")" 2
# A fourth kanaryd (on a spare link of node 3) whose stable pool differs.
ip -n "$(cluster_node_ns 3)" link add odd0 type veth peer name odd1
ip -n "$(cluster_node_ns 3)" link set odd0 up
ip -n "$(cluster_node_ns 3)" link set odd1 up
sed 's/"node": "node3"/"node": "odd"/; s/10:8000/10:8001/' "$(cluster_config 3)" >"$TOPO_TMP/odd.json"
nsenter --net=/run/netns/"$(cluster_node_ns 3)" "$KANARY_BIN/kanaryd" --iface odd0 \
	--pin-dir "/sys/fs/bpf/kn-$TOPO_SFX-odd" --state-file "$TOPO_TMP/odd-state.json" \
	--listen 127.0.0.1:9191 --config "$TOPO_TMP/odd.json" >"$TOPO_TMP/odd.log" 2>&1 &
odd_pid=$!
TOPO_PIDS+=("$odd_pid")
for ((i = 0; i < 50; i++)); do
	grep -q "refused" "$TOPO_TMP/odd.log" && break
	sleep 0.1
done
kill -TERM "$odd_pid"
wait "$odd_pid"
tap_check "a node with another definition of the service is refused, the field that differs named" \
	grep -q 'service chat: refused: etcd holds another definition of it (stable: etcd has \["198.18.16.10:8000"\], this node has \["198.18.16.10:8001"\]); this node serves the others' "$TOPO_TMP/odd.log"
tap_is "the refused node still runs, without the service" "$(grep -c "stopping" "$TOPO_TMP/odd.log")" 1
TOPO_PIN_DIRS+=("/sys/fs/bpf/kn-$TOPO_SFX-odd")

# ---- a rollout across the three nodes ----------------------------------------
# Every node's (phase, step, weight) sampled while the rollout runs: the
# weights each node went through, in order.
sample_weights() { # SECONDS OUT
	local deadline=$((SECONDS + $1)) k
	: >"$2"
	while ((SECONDS < deadline)); do
		for k in 1 2 3; do
			echo "$k $(cluster_status "$k" "s['phase'], s['canary_percent']" | tr -d "(),'")" >>"$2"
		done
		[ "$(cluster_status 1 "s['phase']")" = promoted ] && break
		sleep 0.1
	done
}
weights_seen() { # FILE K: the step weights node K went through, in order
	awk -v k="$2" '$1 == k && $2 == "progressing" { print $3 }' "$1" | uniq | tr '\n' ' '
}
loads=()
for k in 1 2 3; do
	cluster_load "$k" 25 "$TOPO_TMP/load$k.json"
	loads+=("$CLUSTER_LOAD_PID")
done
sleep 1
cluster_api 1 POST "/api/v1/services/$CLUSTER_SERVICE/rollout" '{}' >/dev/null
sample_weights "$WAIT_S" "$TOPO_TMP/weights.txt"
for k in 1 2 3; do
	cluster_wait 5 "$k" "s['phase']" promoted || true
done
tap_is "promoted on node 1" "$(cluster_status 1 "s['phase']")" promoted
tap_is "promoted on node 2" "$(cluster_status 2 "s['phase']")" promoted
tap_is "promoted on node 3" "$(cluster_status 3 "s['phase']")" promoted
w1=$(weights_seen "$TOPO_TMP/weights.txt" 1)
tap_check "node 1 went through the steps 10, 50, 100 ($w1)" grep -q "10.0 50.0 100.0" <<<"$w1"
tap_is "node 2 went through the same weights" "$(weights_seen "$TOPO_TMP/weights.txt" 2)" "$w1"
tap_is "node 3 went through the same weights" "$(weights_seen "$TOPO_TMP/weights.txt" 3)" "$w1"
tap_is "every node made the canary pool its stable pool" \
	"$(for k in 1 2 3; do cluster_status "$k" "[b['address'] for b in s['backends'] if b['pool'] == 'stable']"; done | sort -u)" \
	"['$CLUSTER_CANARY_IP:$TOPO_BACKEND_PORT']"
tap_is "node 3's status: every node applied the current state" \
	"$(cluster_status 3 "sorted(s['cluster']['applied_by']), s['cluster']['lagging']")" "['node1', 'node2', 'node3'] []"
tap_is "the decision log is the same on every node" \
	"$(for k in 1 2 3; do cluster_api "$k" GET "/api/v1/services/$CLUSTER_SERVICE/decisions" | "$PYTHON" -c "import json,sys; print([d.get('verdict') for d in json.load(sys.stdin)['decisions']])"; done | sort -u | wc -l)" 1
for pid in "${loads[@]}"; do wait "$pid"; done
for k in 1 2 3; do
	tap_is "no request through node $k failed" "$("$PYTHON" -c "import json; d = json.load(open('$TOPO_TMP/load$k.json')); print(d['errors'])" 2>&1)" 0
done
