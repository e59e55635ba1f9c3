#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/mapstat.sh - kn-mapstat, the soak's reader of the pinned maps
# (tests/soak/), against a real data path: kanaryd with one service (two
# stable backends, one canary), N new connections through it; kn-mapstat
# must count what bpftool counts, see the flows as live, and count one
# backend counter slot per backend, before and after the pools change.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
trap topo_destroy EXIT

CONNECTIONS=60
MAPSTAT=$KANARY_TOOLS/kn-mapstat
LOAD=$KANARY_TOOLS/kn-load
for tool in "$MAPSTAT" "$LOAD"; do
	[ -x "$tool" ] || tap_bail "$tool is not built (make test-build)"
done

topo_create 2 1 "$CONNECTIONS" || tap_bail "cannot build the topology"
topo_backends || tap_bail "cannot start the model servers"
topo_kanaryd --name sentiment --service "$TOPO_VIP:$TOPO_VIP_PORT" --stable "$(topo_pool stable)" \
	--canary "$(topo_pool canary)" --weight 50 || tap_bail "kanaryd does not start"

mapstat() { # EXPRESSION over kn-mapstat's answer m
	"$MAPSTAT" --pin-dir "$TOPO_PIN_DIR" | "$PYTHON" -c "import json, sys; m = json.load(sys.stdin); print($1)"
}
bpftool_entries() { # MAP
	bpftool -j map dump pinned "$TOPO_PIN_DIR/$1" | "$PYTHON" -c "import json, sys; print(len(json.load(sys.stdin)))"
}

tap_is "an empty table: no flows, one service, three slots in use" \
	"$(mapstat "m['kn_flows']['entries'], m['kn_services']['entries'], m['backend_slots_in_use']")" \
	"0 1 3"

ip netns exec "$(topo_ns client)" "$LOAD" --target "$TOPO_VIP:$TOPO_VIP_PORT" --sources "$(topo_sources)" \
	--close --connections 4 --requests "$CONNECTIONS" --method POST --path /predict \
	--body '{"text": "fine"}' --json >"$TOPO_TMP/load.json" 2>&1
tap_is "$CONNECTIONS answers through the VIP" \
	"$("$PYTHON" -c "import json; print(json.load(open('$TOPO_TMP/load.json'))['responses'])")" "$CONNECTIONS"

flows=$(mapstat "m['kn_flows']['entries']")
tap_is "kn_flows: one entry per connection" "$flows" "$CONNECTIONS"
tap_is "kn_flows: as many as bpftool counts" "$flows" "$(bpftool_entries kn_flows)"
tap_is "kn_replies: as many as bpftool counts" "$(mapstat "m['kn_replies']['entries']")" \
	"$(bpftool_entries kn_replies)"
tap_is "every closed flow is live for its closing time yet" "$(mapstat "m['kn_flows']['live']")" "$CONNECTIONS"
tap_is "all of them closing, none established or idle" \
	"$(mapstat "m['kn_flows']['live_closing'], m['kn_flows']['live_established'], m['kn_flows']['live_established_idle_60s']")" \
	"$CONNECTIONS 0 0"
tap_is "max_entries is the table's size" "$(mapstat "m['kn_flows']['max_entries']")" \
	"$(bpftool -j map show pinned "$TOPO_PIN_DIR/kn_flows" | "$PYTHON" -c "import json, sys; print(json.load(sys.stdin)['max_entries'])")"

topo_api PUT /api/v1/services/sentiment/backends \
	"{\"stable\": [\"$(topo_backend_ip stable 1):$TOPO_BACKEND_PORT\"], \"canary\": []}" >/dev/null ||
	tap_fail "the pools can be changed ($TOPO_HTTP_STATUS)"
tap_is "one backend left: one slot in use" "$(mapstat "m['backend_slots_in_use']")" 1

out=$("$MAPSTAT" 2>&1)
tap_is "without --pin-dir: exit 2" "$?" 2
tap_check "and says what is missing" grep -q 'missing --pin-dir' <<<"$out"
out=$("$MAPSTAT" --pin-dir "$TOPO_TMP/nothing" 2>&1)
tap_is "a folder with no pins: exit 1" "$?" 1
tap_check "naming the map it looked for" grep -q 'nothing/kn_services' <<<"$out"

tap_done
