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
#   a node cut from etcd mid-rollout (its control link down) keeps its
#     weight, the others promote, the decisions name it as left out; it
#     rejoins and applies the state (etcd's history compacted meanwhile);
#   a hostile state in etcd: said in the log, the weight kept;
#   200 clients moved from node 1 to node 2 keep their pool;
#   a node cut from etcd lowers its canary at once, raises it only once
#     etcd holds the raise (its kernel's weight read with bpftool);
#   a warm-up whose node died is run by the leader, the rollout goes on;
#   a node whose config names no service serves the one etcd holds, and
#     drops it when it goes from etcd.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
source "$(dirname "$0")/../lib/etcd.sh"
source "$(dirname "$0")/../lib/cluster.sh"
trap topo_destroy EXIT

etcd_available || { echo "1..0 # SKIP etcd is not installed (make deps)"; exit 0; }
WAIT_S=30
CLUSTER_LEASE=2s
CLUSTER_SOURCES_CLIENT1=200 # the 200 clients moved from node 1 to node 2
# Three clients, two cores: a load the backends answer without a backlog.
CLUSTER_LOAD_RPS=40

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

# load_all SECONDS NAME: every client's load through its node, into
# $TOPO_TMP/NAME<K>.json; wait_loads waits for them all.
load_all() {
	local k
	LOADS=()
	for k in 1 2 3; do
		cluster_load "$k" "$1" "$TOPO_TMP/$2$k.json"
		LOADS+=("$CLUSTER_LOAD_PID")
	done
}
wait_loads() {
	local pid
	for pid in "${LOADS[@]}"; do wait "$pid"; done
}

# ---- one definition, three nodes --------------------------------------------
tap_check "the three nodes register in etcd" wait_nodes 10 3
cluster_node 2 "$KANARY_BIN/kanaryctl" nodes >"$TOPO_TMP/ctl-nodes.txt"
tap_is "kanaryctl nodes through node 2: three nodes, one leader" \
	"$(grep -c '^node[123] ' "$TOPO_TMP/ctl-nodes.txt") $(grep -c ' yes ' "$TOPO_TMP/ctl-nodes.txt")" "3 1"
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
# The first connections of 200 new client addresses wait for the nodes'
# neighbour entries: a short load first, so that what follows measures the
# rollout, not address resolution.
warm_up() { # NODE SOURCES
	CLUSTER_LOAD_RPS=100 cluster_load "$1" 3 "$TOPO_TMP/warmup$1.json" "$2"
	wait "$CLUSTER_LOAD_PID"
}
for k in 1 2 3; do warm_up "$k" "$(cluster_client_sources "$k")"; done
load_all 25 load
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
tap_is "each step was judged on the three nodes' traffic summed" \
	"$(cluster_api 1 GET "/api/v1/services/$CLUSTER_SERVICE/decisions" | "$PYTHON" -c "import json, sys
print(sorted(set(tuple(sorted(d['nodes']['summed'])) for d in json.load(sys.stdin)['decisions'] if d.get('verdict') == 'pass')))")" \
	"[('node1', 'node2', 'node3')]"
wait_loads
for k in 1 2 3; do
	tap_is "no request through node $k failed" "$("$PYTHON" -c "import json; d = json.load(open('$TOPO_TMP/load$k.json')); print(d['errors'])" 2>&1)" 0
done

# The canary back in its pool (through node 2: any node takes changes).
restore_pools() {
	cluster_api 2 PUT "/api/v1/services/$CLUSTER_SERVICE/backends" \
		"{\"stable\": [\"$CLUSTER_STABLE_IP:$TOPO_BACKEND_PORT\"], \"canary\": [\"$CLUSTER_CANARY_IP:$TOPO_BACKEND_PORT\"]}" >/dev/null
	for k in 1 2 3; do
		cluster_wait 10 "$k" "[b['pool'] for b in s['backends'] if b['address'].startswith('$CLUSTER_CANARY_IP')]" "['canary']" || return 1
	done
}
all_weights() { for k in 1 2 3; do cluster_status "$k" "s['canary_percent']"; done | tr '\n' ' '; }

# ---- 200 clients moved from node 1 to node 2 keep their pool -------------------
tap_check "pools set through node 2 reach every node" restore_pools
cluster_api 3 PUT "/api/v1/services/$CLUSTER_SERVICE/weight" '{"canary_percent": 50}' >/dev/null
for k in 1 2 3; do cluster_wait 10 "$k" "s['canary_percent']" 50.0; done
tap_is "a weight set through node 3 is every node's" "$(all_weights)" "50.0 50.0 50.0 "
MOVED=$(cluster_client_sources 1 200)
CLUSTER_LOAD_RPS=100 cluster_load 1 4 "$TOPO_TMP/via1.json" "$MOVED"
wait "$CLUSTER_LOAD_PID"
# The same addresses now reach the VIP through node 2 (as after an ECMP
# rehash): client 2 holds them, node 2 and the backends route them.
for ((i = 10; i < 210; i++)); do echo "addr add 198.18.1.$i/32 dev eth0"; done |
	ip -n "$(topo_ns client2)" -batch -
ip -n "$(cluster_node_ns 2)" route add 198.18.1.0/24 via 198.18.2.2
for role in stable1 canary1; do ip -n "$(topo_ns "$role")" route replace 198.18.1.0/24 via 198.18.16.2; done
warm_up 2 "$MOVED"
CLUSTER_LOAD_RPS=100 cluster_load 2 4 "$TOPO_TMP/via2.json" "$MOVED"
wait "$CLUSTER_LOAD_PID"
pools_of() { # LOAD_JSON: "address tag" per source that got answers
	"$PYTHON" -c "import json; d = json.load(open('$1'))
for s in d['per_source']:
    if s['answered']: print(s['addr'], ','.join(s['tag_set']))" | sort
}
pools_of "$TOPO_TMP/via1.json" >"$TOPO_TMP/pools1.txt"
pools_of "$TOPO_TMP/via2.json" >"$TOPO_TMP/pools2.txt"
tap_is "200 clients were answered through node 1, both pools among them" \
	"$(wc -l <"$TOPO_TMP/pools1.txt") $(awk '{print $2}' "$TOPO_TMP/pools1.txt" | sort -u | tr '\n' ' ')" "200 v1 v2 "
tap_check "moved to node 2, every one of them keeps its pool" \
	bash -c "test -s '$TOPO_TMP/pools1.txt' && cmp '$TOPO_TMP/pools1.txt' '$TOPO_TMP/pools2.txt'"
cluster_api 1 PUT "/api/v1/services/$CLUSTER_SERVICE/weight" '{"canary_percent": 0}' >/dev/null
# Client 1's addresses back to node 1.
for ((i = 10; i < 210; i++)); do echo "addr del 198.18.1.$i/32 dev eth0"; done |
	ip -n "$(topo_ns client2)" -batch -
ip -n "$(cluster_node_ns 2)" route del 198.18.1.0/24
for role in stable1 canary1; do ip -n "$(topo_ns "$role")" route replace 198.18.1.0/24 via 198.18.16.1; done

# ---- a hostile state in etcd ----------------------------------------------------
cluster_etcdctl put "/kanary/services/$CLUSTER_SERVICE/state" \
	'{"generation": 99, "rollout": {"phase": "idle", "step": 0, "weight_bp": 50000, "spec": {}}, "stable": [], "canary": []}' >/dev/null
sleep 1
for k in 1 2 3; do
	tap_check "node $k says etcd's state is unusable" grep -q "service chat: etcd's state (/kanary/services/chat/state, revision [0-9]*) is unusable" "$TOPO_TMP/kanaryd$k.log"
done
tap_is "and every node keeps the weight it applied" "$(all_weights)" "0.0 0.0 0.0 "
cluster_etcdctl put "/kanary/services/$CLUSTER_SERVICE/state" 'this is not JSON' >/dev/null
cluster_api 2 PUT "/api/v1/services/$CLUSTER_SERVICE/weight" '{"canary_percent": 5}' >/dev/null
for k in 1 2 3; do cluster_wait 10 "$k" "s['canary_percent']" 5.0; done
tap_is "a change made on a node writes a good state over a broken one" "$(all_weights)" "5.0 5.0 5.0 "
tap_check "the nodes are all alive" kill -0 "${CLUSTER_PID[1]}" "${CLUSTER_PID[2]}" "${CLUSTER_PID[3]}"
cluster_api 2 PUT "/api/v1/services/$CLUSTER_SERVICE/weight" '{"canary_percent": 0}' >/dev/null

# ---- the leader SIGKILLed mid-rollout ------------------------------------------
leader=$(cluster_leader 1)
lk=${leader#node}
others=()
for k in 1 2 3; do [ "$k" != "$lk" ] && others+=("$k"); done
load_all 30 kill
cluster_api "${others[0]}" POST "/api/v1/services/$CLUSTER_SERVICE/rollout" \
	'{"steps": [10, 30, 60, 100], "interval": "3s"}' >/dev/null
cluster_wait "$WAIT_S" "$lk" "s['step']" 2 || tap_fail "the rollout reaches step 2"
cluster_kill "$lk"
killed_at=$SECONDS
new_leader=""
while ((SECONDS < killed_at + WAIT_S)); do
	new_leader=$(cluster_leader "${others[0]}")
	[ -n "$new_leader" ] && [ "$new_leader" != None ] && [ "$new_leader" != "$leader" ] && break
	sleep 0.1
done
tap_check "another node leads after $leader was killed ($new_leader)" test "$new_leader" != "$leader" -a "$new_leader" != None
step_now=$(cluster_status "${others[0]}" "s['step']")
tap_check "it goes on from the step the dead leader was at (step $step_now)" test "$step_now" -ge 2
cluster_wait "$WAIT_S" "${others[0]}" "s['phase']" promoted
tap_is "the rollout is promoted without it" "$(cluster_status "${others[1]}" "s['phase']")" promoted
tap_is "no step was passed twice" "$(cluster_api "${others[0]}" GET "/api/v1/services/$CLUSTER_SERVICE/decisions" |
	"$PYTHON" -c "import json, sys
log = json.load(sys.stdin)['decisions']
start = max(i for i, d in enumerate(log) if d.get('event') == 'rollout started')
steps = [d['step'] for d in log[start:] if d.get('verdict') == 'pass']
print(sorted(steps))")" "[1, 2, 3, 4]"
cluster_kanaryd "$lk" --config "$TOPO_TMP/node$lk.json" || tap_fail "node $lk restarts"
cluster_wait 10 "$lk" "s['phase']" promoted
tap_is "the restarted node applies the cluster's state" \
	"$(cluster_status "$lk" "s['phase'], [b['pool'] for b in s['backends']]")" "promoted ['stable']"
wait_loads

# ---- a canary failing for one node's traffic only -----------------------------
restore_pools || tap_fail "the canary is back in its pool"
load_all 20 fail
cluster_api 1 POST "/api/v1/services/$CLUSTER_SERVICE/rollout" '{"steps": [20, 50, 100], "interval": "30s"}' >/dev/null
cluster_wait 10 1 "s['phase']" progressing
# Node 3's path to the canary refuses connections; nodes 1 and 2 see none.
ip netns exec "$(cluster_node_ns 3)" iptables -I FORWARD -d "$CLUSTER_CANARY_IP" -p tcp \
	--syn -j REJECT --reject-with tcp-reset
for k in 1 2 3; do cluster_wait 10 "$k" "s['phase']" rolled_back; done
tap_is "every node rolled back" "$(for k in 1 2 3; do cluster_status "$k" "s['phase']"; done | tr '\n' ' ')" \
	"rolled_back rolled_back rolled_back "
tap_is "every node at 0 %" "$(all_weights)" "0.0 0.0 0.0 "
tap_check "node 3 decided it, on its own traffic" grep -q "service chat: rolled_back, canary 0.00 %: .*refused" "$TOPO_TMP/kanaryd3.log"
ip netns exec "$(cluster_node_ns 3)" iptables -D FORWARD -d "$CLUSTER_CANARY_IP" -p tcp \
	--syn -j REJECT --reject-with tcp-reset
wait_loads

# ---- etcd SIGKILLed under load --------------------------------------------------
load_all 20 etcd
cluster_api 1 POST "/api/v1/services/$CLUSTER_SERVICE/rollout" '{"steps": [10, 50, 100], "interval": "2s"}' >/dev/null
cluster_wait 10 1 "s['phase']" progressing
etcd_kill
sleep 1
held=$(all_weights)
sleep 5
tap_is "while etcd is down, no step advances" "$(all_weights)" "$held"
tap_check "the nodes say etcd does not answer" grep -q "cluster: etcd does not answer" "$TOPO_TMP/kanaryd2.log"
tap_is "node 2's status says so" "$(cluster_status 2 "s['cluster']['etcd_connected']")" False
cluster_etcd_start || tap_fail "etcd restarts on its data"
for k in 1 2 3; do cluster_wait "$WAIT_S" "$k" "s['phase']" promoted; done
tap_is "when it is back, the rollout goes on to promotion on every node" \
	"$(for k in 1 2 3; do cluster_status "$k" "s['phase']"; done | tr '\n' ' ')" "promoted promoted promoted "
wait_loads
for k in 1 2 3; do
	tap_is "no request through node $k failed while etcd was down" \
		"$("$PYTHON" -c "import json; print(json.load(open('$TOPO_TMP/etcd$k.json'))['errors'])" 2>&1)" 0
done

# ---- a node cut from etcd mid-rollout, then back --------------------------------
restore_pools || tap_fail "the canary is back in its pool"
load_all 25 cut
cluster_api 1 POST "/api/v1/services/$CLUSTER_SERVICE/rollout" '{"steps": [10, 50, 100], "interval": "3s"}' >/dev/null
cluster_wait 10 2 "s['phase'], s['step']" "progressing 1"
cluster_partition 2
tap_check "the others see node 2 leave (its lease expires)" wait_nodes "$WAIT_S" 2
up=1
[ "$(cluster_leader 1)" = node1 ] || up=3
cluster_wait "$WAIT_S" "$up" "s['phase']" promoted
tap_is "the rollout goes on without the cut node" "$(cluster_status "$up" "s['phase']")" promoted
tap_is "the cut node keeps forwarding with what it applied" "$(cluster_status 2 "s['phase'], s['canary_percent']")" "progressing 10.0"
tap_is "a step judged meanwhile names it as left out" \
	"$(cluster_api "$up" GET "/api/v1/services/$CLUSTER_SERVICE/decisions" | "$PYTHON" -c "import json, sys
log = json.load(sys.stdin)['decisions']
start = max(i for i, d in enumerate(log) if d.get('event') == 'rollout started')
print(sorted(set(o['node'] for d in log[start:] if d.get('verdict') == 'pass' for o in d['nodes']['left_out'])))")" \
	"['node2']"
# What node 2 missed is compacted away: it must read the state whole.
rev=$(cluster_etcdctl get /kanary/leader -w json | "$PYTHON" -c "import json, sys
print(json.load(sys.stdin)['header']['revision'])")
tap_check "etcd compacts its history up to revision $rev, past what node 2 saw" \
	cluster_etcdctl compact "$rev"
cluster_heal 2
tap_check "node 2 rejoins" wait_nodes "$WAIT_S" 3
cluster_wait 10 2 "s['phase']" promoted
tap_is "and applies the state it missed" \
	"$(cluster_status 2 "s['phase'], s['canary_percent'], [b['pool'] for b in s['backends']]")" "promoted 0.0 ['stable']"
wait_loads

# ---- a node cut from etcd lowers its canary alone, never raises it -------------
restore_pools || tap_fail "the canary is back in its pool"
cluster_api 1 PUT "/api/v1/services/$CLUSTER_SERVICE/weight" '{"canary_percent": 20}' >/dev/null
for k in 1 2 3; do cluster_wait 10 "$k" "s['canary_percent']" 20.0; done
cluster_partition 2
cluster_wait "$WAIT_S" 2 "s['cluster']['etcd_connected']" False
cluster_api 2 PUT "/api/v1/services/$CLUSTER_SERVICE/weight" '{"canary_percent": 60}' >/dev/null
tap_is "a raise made on a node cut from etcd does not reach its kernel" "$(cluster_kernel_percent 2)" 20.0
tap_is "its status says the raise waits for etcd" \
	"$(cluster_status 2 "s['canary_percent'], s['cluster']['raise_waits_for_etcd']")" "60.0 True"
tap_is "nor the other nodes" "$(cluster_status 1 "s['canary_percent']") $(cluster_status 3 "s['canary_percent']")" "20.0 20.0"
cluster_api 2 PUT "/api/v1/services/$CLUSTER_SERVICE/weight" '{"canary_percent": 5}' >/dev/null
tap_is "a lowering made there reaches its kernel at once" "$(cluster_kernel_percent 2)" 5.0
cluster_heal 2
for k in 1 2 3; do cluster_wait "$WAIT_S" "$k" "s['canary_percent']" 5.0; done
tap_is "back, it writes the lowering and every node applies it" \
	"$(for k in 1 2 3; do cluster_kernel_percent "$k"; done | tr '\n' ' ')" "5.0 5.0 5.0 "
# Cut again with a raise waiting, restarted: its state file has the raise.
cluster_partition 2
cluster_wait "$WAIT_S" 2 "s['cluster']['etcd_connected']" False
cluster_api 2 PUT "/api/v1/services/$CLUSTER_SERVICE/weight" '{"canary_percent": 60}' >/dev/null
sleep 0.5
cluster_kill 2
cluster_kanaryd 2 --config "$TOPO_TMP/node2.json" || tap_fail "node 2 restarts"
tap_is "restarted still cut from etcd, its state file's raise does not reach its kernel" \
	"$(cluster_status 2 "s['canary_percent'], s['cluster']['raise_waits_for_etcd']") $(cluster_kernel_percent 2)" "60.0 True 5.0"
cluster_heal 2
cluster_wait "$WAIT_S" 2 "s['canary_percent'], s['cluster']['raise_waits_for_etcd']" "5.0 False"
tap_is "back, it takes etcd's state and drops the raise" \
	"$(for k in 1 2 3; do cluster_kernel_percent "$k"; done | tr '\n' ' ')" "5.0 5.0 5.0 "
cluster_api 2 PUT "/api/v1/services/$CLUSTER_SERVICE/weight" '{"canary_percent": 30}' >/dev/null
for k in 1 2 3; do cluster_wait 10 "$k" "s['canary_percent'], s['cluster']['raise_waits_for_etcd']" "30.0 False"; done
tap_is "a raise made with etcd there reaches every kernel once etcd holds it" \
	"$(for k in 1 2 3; do cluster_kernel_percent "$k"; done | tr '\n' ' ')" "30.0 30.0 30.0 "

# ---- a warm-up whose node died: the leader runs it ------------------------------
leader=$(cluster_leader 1)
lk=${leader#node}
wk=1
[ "$wk" = "$lk" ] && wk=2
# Node wk's warm-up requests to the canary go nowhere: it stays warming
# until it is killed (clients' traffic is forwarded, not sent from it).
ip netns exec "$(cluster_node_ns "$wk")" iptables -I OUTPUT -d "$CLUSTER_CANARY_IP" -p tcp -j DROP
cluster_api "$wk" POST "/api/v1/services/$CLUSTER_SERVICE/rollout" \
	'{"steps": [10, 100], "interval": "30s", "warmup_requests": 5}' >/dev/null
cluster_wait 10 "$wk" "s['phase']" warming
cluster_kill "$wk"
ip netns exec "$(cluster_node_ns "$wk")" iptables -D OUTPUT -d "$CLUSTER_CANARY_IP" -p tcp -j DROP
cluster_wait "$WAIT_S" "$lk" "s['phase'], s['step']" "progressing 1"
tap_is "node $wk killed while warming up, the leader ($leader) warms up and goes on to the first step" \
	"$(cluster_status "$lk" "s['phase'], s['step'], s['canary_percent']")" "progressing 1 10.0"
tap_check "the leader says it took the warm-up over" \
	grep -q "service chat: the leader takes the warm-up over" "$TOPO_TMP/kanaryd$lk.log"
cluster_api "$lk" POST "/api/v1/services/$CLUSTER_SERVICE/abort" >/dev/null
cluster_kanaryd "$wk" --config "$TOPO_TMP/node$wk.json" || tap_fail "node $wk restarts"
for k in 1 2 3; do cluster_wait 10 "$k" "s['phase'], s['canary_percent']" "aborted 0.0"; done

# ---- a node whose config names no service serves the cluster's -----------------
kill -TERM "${CLUSTER_PID[3]}"
wait "${CLUSTER_PID[3]}"
"$PYTHON" -c "import json; c = json.load(open('$TOPO_TMP/node3.json')); c['services'] = []
json.dump(c, open('$TOPO_TMP/bare3.json', 'w'))"
cluster_kanaryd 3 --config "$TOPO_TMP/bare3.json" || tap_fail "node 3 restarts without services"
cluster_wait 10 3 "s['canary_percent'], s['cluster']['shared']" "0.0 True"
tap_check "node 3, its config naming no service, creates the one etcd holds" \
	grep -q "service chat: created from etcd's definition" "$TOPO_TMP/kanaryd3.log"
tap_is "and applies the cluster's state in its kernel" "$(cluster_status 3 "s['phase']") $(cluster_kernel_percent 3)" "aborted 0.0"
cluster_load 3 2 "$TOPO_TMP/bare3-load.json"
wait "$CLUSTER_LOAD_PID"
tap_is "clients through node 3 are answered" "$("$PYTHON" -c "import json; d = json.load(open('$TOPO_TMP/bare3-load.json'))
print(d['errors'], sum(s['answered'] for s in d['per_source']) > 0)" 2>&1)" "0 True"
cluster_etcdctl del --prefix "/kanary/services/$CLUSTER_SERVICE/" >/dev/null
services_of() { cluster_api "$1" GET /api/v1/services | "$PYTHON" -c "import json, sys
print(len(json.load(sys.stdin)['services']))" 2>/dev/null; }
for ((i = 0; i < 100; i++)); do
	[ "$(services_of 3)" = 0 ] && break
	sleep 0.1
done
tap_is "deleted from etcd, the service goes from node 3 (its config never named it)" "$(services_of 3)" 0
tap_is "nodes 1 and 2 keep theirs (their configs name it)" "$(services_of 1) $(services_of 2)" "1 1"
tap_done
