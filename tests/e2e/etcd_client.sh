#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/etcd_client.sh - kanaryd's etcd client (kanaryd/etcd.c) against
# a real etcd started for the test in a namespace, a fake etcd that answers
# what etcd never would, and an address where nothing listens: the checks
# themselves are kn-etcd-check's (tests/tools/kn-etcd-check.c).
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
source "$(dirname "$0")/../lib/etcd.sh"
trap topo_destroy EXIT

ETCD_IP=198.18.40.1
FAKE_PORT=2399
DEAD_PORT=2398
FAKE_LIFETIME_S=120

etcd_available || { echo "1..0 # SKIP etcd is not installed (make deps)"; exit 0; }
[ -x "$KANARY_TOOLS/kn-etcd-check" ] || tap_bail "kn-etcd-check is not built (make test-build)"
topo_reap
TOPO_SFX="${BASHPID}x${RANDOM}"
mkdir -p "$KANARY_ROOT/tests/out"
TOPO_TMP=$(mktemp -d "$KANARY_ROOT/tests/out/run-$TOPO_SFX.XXXX")
topo_add_ns ctl || tap_bail "cannot add a namespace"
ns=$(topo_ns ctl)
ip -n "$ns" addr add "$ETCD_IP/32" dev lo
etcd_start "$ns" "$ETCD_IP" "$TOPO_TMP/etcd" || tap_bail "etcd starts"
ip netns exec "$ns" "$PYTHON" "$KANARY_ROOT/tests/tools/fake_etcd.py" \
	"$ETCD_IP" "$FAKE_PORT" "$FAKE_LIFETIME_S" &
TOPO_PIDS+=($!)
topo_wait_port ctl "$ETCD_IP" "$FAKE_PORT" || tap_bail "the fake etcd starts"
ip netns exec "$ns" "$KANARY_TOOLS/kn-etcd-check" "$(etcd_url "$ETCD_IP")" \
	"http://$ETCD_IP:$FAKE_PORT" "http://$ETCD_IP:$DEAD_PORT"
