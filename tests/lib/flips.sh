# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/lib/flips.sh - the promise that established connections never move:
# long-lived keep-alive connections carry requests while the canary weight
# flips between 0 and 100 % FLIPS times, and none may break, fail or change
# version. Used by the data-path tests of each address family.
#
#   flips_keep_connections MODE TARGET SOURCES SERVICE WHAT
#     MODE     xdp or tc (names the checks)
#     TARGET   the VIP as kn-load takes it (ADDR:PORT or [ADDR6]:PORT)
#     SOURCES  the client addresses (topo_sources / topo_sources6)
#     SERVICE  the service whose weight flips
#     WHAT     how the checks name the connections ("long-lived IPv6")
#   Needs LOAD (kn-load), FLIPS, LONG_LIVED, TOPO_TMP, TOPO_PIN_DIR.

flips_json_field() { # FILE FIELD -> number
	sed -n "s/.*\"$2\" *: *\([0-9.]*\).*/\1/p" "$1" | head -1
}

flips_keep_connections() {
	local mode=$1 target=$2 sources=$3 service=$4 what=$5
	local hold=$TOPO_TMP/hold.json load_pid flip flips_ok=0 races

	ip netns exec "$(topo_ns client)" "$LOAD" --target "$target" --sources "$sources" \
		--keepalive --connections "$LONG_LIVED" --interval-ms 100 --duration 14 \
		--method POST --path /predict --body '{"text": "fine"}' --per-source-report \
		--json >"$hold" 2>"$TOPO_TMP/hold.err" &
	load_pid=$!
	sleep 2
	for ((flip = 0; flip < FLIPS; flip++)); do
		if topo_api PUT "/api/v1/services/$service/weight" \
			"{\"canary_percent\": $(((flip % 2) * 100))}" >/dev/null; then
			flips_ok=$((flips_ok + 1))
		fi
		sleep 0.08
	done
	wait "$load_pid"
	tap_is "$mode: $FLIPS weight flips applied" "$flips_ok" "$FLIPS"
	tap_is "$mode: $LONG_LIVED $what connections: zero resets" \
		"$(flips_json_field "$hold" resets)" 0
	tap_is "$mode: no request failed across the flips" \
		"$(flips_json_field "$hold" errors)" 0
	tap_is "$mode: no connection changed version" \
		"$(flips_json_field "$hold" sources_with_multiple_tags)" 0
	tap_check "$mode: the connections did carry requests" \
		test "$(flips_json_field "$hold" responses)" -gt $((LONG_LIVED * 20))
	races=$(bpftool map dump pinned "$TOPO_PIN_DIR/kn_service_ctr" |
		awk '/config_races/ {s += $2} END {print s + 0}')
	tap_is "$mode: no weight/pool race seen by the data path" "$races" 0
}
