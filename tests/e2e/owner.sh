#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/owner.sh - one owner per interface. kanaryd A runs on nc0; a
# second kanaryd B with another pin directory is refused, naming A's program
# (id, name, pin dir); a start refused for a later reason (an API address
# without a token) leaves A's program attached, even with --takeover;
# --remove with a pin directory that holds no data path removes nothing;
# B with --takeover replaces A, and A sees it (status, /healthz, /metrics,
# log), does not fight B, and attaches again once B is gone or the hooks are
# emptied by hand; with --no-reattach A stays detached and says so. In XDP
# and tc mode.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/topology.sh"
source "$(dirname "$0")/../lib/json.sh"
trap topo_destroy EXIT

# A change of owner is seen within a few ticks; bounded waits.
SEEN_TIMEOUT_S=5
# How long A must leave B's program alone to count as not fighting.
HANDS_OFF_S=2
B_PORT=9091
B_API="http://127.0.0.1:$B_PORT"

topo_create 1 1 || tap_bail "cannot build the topology"
topo_backends || tap_bail "cannot start the model servers"
STABLE=$(topo_pool stable)
CANARY=$(topo_pool canary)
PIN_B=$TOPO_PIN_DIR-b
TOPO_PIN_DIRS+=("$PIN_B")
LOG_A=$TOPO_TMP/kanaryd.log
LOG_B=$TOPO_TMP/kanaryd-b.log
SERVICE=(--name owned --service "$TOPO_VIP:$TOPO_VIP_PORT" --stable "$STABLE"
	--canary "$CANARY" --weight 10)

# The program id on a hook of nc0 (xdp, ingress, egress); "" when none.
hook_id() {
	topo_node bpftool -j net show dev nc0 | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)[0]
hook = sys.argv[1]
if hook == "xdp":
    ids = [p["id"] for p in d.get("xdp", [])]
else:
    ids = [p["id"] for p in d.get("tc", []) if p["kind"] == "clsact/" + hook
           and p.get("name", "").startswith("kanary_")]
print(ids[0] if ids else "")' "$1"
}

# Polls COMMAND until it succeeds, at most SEEN_TIMEOUT_S.
eventually() {
	local deadline=$((SECONDS + SEEN_TIMEOUT_S))
	while ((SECONDS < deadline)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

hook_is() { [ "$(hook_id "$1")" = "$2" ]; }
a_datapath() { topo_api GET /api/v1/services/owned | jget 'd["datapath"]'; }
a_is() { [ "$(a_datapath)" = "$1" ]; }
a_healthz() { topo_node curl -s -o /dev/null -w '%{http_code}' -m 2 "$TOPO_API/healthz"; }
# The status page's banner as a browser renders it: "hidden" or its text.
CHROMIUM=$(command -v chromium || command -v chromium-browser)
PAGE_BUDGET_MS=5000
page_banner() {
	topo_node timeout 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
		--disable-dev-shm-usage --no-first-run --user-data-dir="$TOPO_TMP/chrome" \
		--virtual-time-budget="$PAGE_BUDGET_MS" --dump-dom "$TOPO_API/" 2>/dev/null |
		"$PYTHON" -c '
import re, sys
m = re.search(r"<div id=\"datapath-detached\"([^>]*)>(.*?)</div>", sys.stdin.read(), re.S)
print("<no banner>" if not m else "hidden" if "hidden" in m.group(1) else m.group(2))'
}
a_gauge() {
	topo_node curl -s -m 2 "$TOPO_API/metrics" |
		sed -n 's/^kanary_datapath_attached{interface="nc0"} //p'
}

# B: the second kanaryd, its own pin directory, state file and API port.
start_b() {
	local i
	: >"$LOG_B"
	# nsenter itself in the background (not a function): $! is kanaryd.
	nsenter --net=/run/netns/"$(topo_ns node)" "$KANARY_BIN/kanaryd" --iface nc0 \
		--pin-dir "$PIN_B" --state-file "$TOPO_TMP/state-b.json" \
		--listen "127.0.0.1:$B_PORT" "$@" >>"$LOG_B" 2>&1 &
	B_PID=$!
	TOPO_PIDS+=("$B_PID")
	for ((i = 0; i < TOPO_READY_TIMEOUT_S * 10; i++)); do
		kill -0 "$B_PID" 2>/dev/null || return 1
		topo_node curl -fsS -m 1 "$B_API/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# A kanaryd that must not start: prints its output, returns its status.
refused_start() {
	topo_node "$KANARY_BIN/kanaryd" --iface nc0 --pin-dir "$PIN_B" \
		--state-file "$TOPO_TMP/state-b.json" "$@" 2>&1
}

run_mode() { # xdp | tc
	local mode=$1 hook id_a out status name
	if [ "$mode" = xdp ]; then
		hook=xdp name=kanary_xdp_ingr
	else
		hook=ingress name=kanary_tc_ingre
	fi
	topo_kanaryd --mode "$mode" "${SERVICE[@]}" || tap_bail "$mode: kanaryd A starts"
	id_a=$(hook_id "$hook")
	tap_check "$mode: A's program is attached" test -n "$id_a"
	tap_is "$mode: A's status says attached" "$(a_datapath)" attached
	tap_is "$mode: A's gauge says attached" "$(a_gauge)" 1
	[ "$mode" = xdp ] && [ -n "$CHROMIUM" ] &&
		tap_is "$mode: the status page shows no detached banner" "$(page_banner)" hidden

	# A second kanaryd, another pin directory: refused, naming A.
	out=$(refused_start --mode "$mode" "${SERVICE[@]}" --listen 127.0.0.1:$B_PORT)
	status=$?
	tap_is "$mode: a second kanaryd on nc0 is refused" "$status" 1
	tap_check "$mode: the refusal names A's program: id, name, pin dir" \
		grep -q "'$name' (id $id_a) of the kanary data path pinned in $TOPO_PIN_DIR" <<<"$out"
	tap_check "$mode: and says how to take over" grep -q -- "--takeover" <<<"$out"
	tap_is "$mode: A's program is still the one attached" "$(hook_id "$hook")" "$id_a"
	tap_check "$mode: the refused kanaryd leaves no pins" test ! -e "$PIN_B"

	# Refused for a reason found after the owner check would have let it
	# through (--takeover): the API address without a token.
	out=$(refused_start --mode "$mode" --takeover "${SERVICE[@]}" \
		--listen "$TOPO_NODE_CLIENT_IP:$B_PORT")
	status=$?
	tap_is "$mode: an API address without a token is refused" "$status" 1
	tap_check "$mode: with the usual message" \
		grep -q "refusing to serve the API on $TOPO_NODE_CLIENT_IP without a token" <<<"$out"
	tap_check "$mode: before anything was attached" bash -c "! grep -q 'attached to nc0' <<<\"\$1\"" _ "$out"
	tap_is "$mode: A's program is still attached after the refused start" \
		"$(hook_id "$hook")" "$id_a"
	tap_is "$mode: and A still says attached" "$(a_datapath)" attached

	# --remove with a pin directory that holds no data path.
	out=$(topo_node "$KANARY_BIN/kanaryd" --iface nc0 --remove --pin-dir "$TOPO_PIN_DIR-none" 2>&1)
	status=$?
	tap_is "$mode: --remove with a pin dir that does not exist fails" "$status" 1
	tap_check "$mode: says it removed nothing, and whose program nc0 runs" \
		grep -q "nothing removed: no kanary data path is pinned in $TOPO_PIN_DIR-none.*(id $id_a) of the kanary data path pinned in $TOPO_PIN_DIR" <<<"$out"
	tap_check "$mode: and does not create it" test ! -e "$TOPO_PIN_DIR-none"
	mkdir "$TOPO_PIN_DIR-other"
	out=$(topo_node "$KANARY_BIN/kanaryd" --iface nc0 --remove --pin-dir "$TOPO_PIN_DIR-other" 2>&1)
	status=$?
	rmdir "$TOPO_PIN_DIR-other"
	tap_check "$mode: --remove with a pin dir that is not a data path's removes nothing" \
		test "$status" = 1 -a -n "$(grep "nothing removed" <<<"$out")"
	tap_is "$mode: A's program survives both" "$(hook_id "$hook")" "$id_a"

	# --takeover: B replaces A; A sees it and does not fight.
	start_b --mode "$mode" --takeover "${SERVICE[@]}" || tap_fail "$mode: B with --takeover starts"
	id_b=$(hook_id "$hook")
	tap_check "$mode: --takeover replaces A's program" test -n "$id_b" -a "$id_b" != "$id_a"
	tap_check "$mode: B says what it replaced" \
		grep -q -- "--takeover: replacing on nc0 .*(id $id_a) of the kanary data path pinned in $TOPO_PIN_DIR" "$LOG_B"
	tap_check "$mode: A's status turns detached" eventually a_is detached
	tap_is "$mode: A's /healthz fails" "$(a_healthz)" 503
	tap_is "$mode: A's gauge is 0" "$(a_gauge)" 0
	tap_check "$mode: A logs what is attached instead" \
		grep -q "the data path is detached from nc0: .*'$name' (id $id_b) of the kanary data path pinned in $PIN_B" "$LOG_A"
	tap_check "$mode: A says why it does not attach again" \
		grep -q "not re-attaching to nc0" "$LOG_A"
	sleep "$HANDS_OFF_S"
	tap_is "$mode: A leaves B's program alone" "$(hook_id "$hook")" "$id_b"

	# B goes away (detaching its own): A attaches again.
	topo_kanaryd_stop "$B_PID"
	tap_check "$mode: once B is gone, A attaches again" eventually a_is attached
	tap_is "$mode: with its own program" "$(hook_id "$hook")" "$id_a"
	tap_is "$mode: A's /healthz is ok again" "$(a_healthz)" 200
	tap_is "$mode: A's gauge is 1 again" "$(a_gauge)" 1
	tap_check "$mode: A logs it" grep -q "attached the data path to nc0 again" "$LOG_A"
	tap_check "$mode: B did not remove A's pins" test -e "$TOPO_PIN_DIR/kn_flows"

	# The hooks emptied by hand: A attaches again.
	: >"$LOG_A"
	if [ "$mode" = xdp ]; then
		topo_node ip link set dev nc0 xdp off
	else
		topo_node tc filter del dev nc0 ingress
	fi
	tap_check "$mode: hooks emptied by hand: A attaches again" \
		eventually hook_is "$hook" "$id_a"
	tap_check "$mode: and logs what it found" grep -q "detached from nc0: .*nothing attached" "$LOG_A"

	# --no-reattach: A reports and stays detached.
	topo_kanaryd --mode "$mode" --no-reattach "${SERVICE[@]}" || tap_fail "$mode: A with --no-reattach starts"
	if [ "$mode" = xdp ]; then
		topo_node ip link set dev nc0 xdp off
	else
		topo_node tc filter del dev nc0 ingress
	fi
	tap_check "$mode: --no-reattach: A's status turns detached" eventually a_is detached
	tap_is "$mode: --no-reattach: /healthz fails" "$(a_healthz)" 503
	tap_is "$mode: --no-reattach: the gauge is 0" "$(a_gauge)" 0
	tap_check "$mode: --no-reattach: A says it will not attach again" \
		grep -q "not attaching it again (--no-reattach)" "$LOG_A"
	sleep "$HANDS_OFF_S"
	tap_is "$mode: --no-reattach: the hook stays empty" "$(hook_id "$hook")" ""
	tap_is "$mode: --no-reattach: and A still says detached" "$(a_datapath)" detached
	if [ "$mode" = xdp ]; then
		if [ -n "$CHROMIUM" ]; then
			tap_check "$mode: the status page shows the data path detached" \
				grep -q "^Data path detached from nc0" <<<"$(page_banner)"
		else
			tap_ok "$mode: the status page # SKIP chromium is not installed"
		fi
	fi
	topo_kanaryd_stop
	tap_check "$mode: A's stop leaves nothing of kanary on nc0" \
		test -z "$(hook_id xdp)$(hook_id ingress)$(hook_id egress)"
	: >"$LOG_A"
}

run_mode xdp
run_mode tc

# Two refusals across modes: A in tc, B asks for XDP; A in XDP, B for tc.
topo_kanaryd --mode tc "${SERVICE[@]}" || tap_bail "tc kanaryd A starts"
out=$(refused_start --mode xdp "${SERVICE[@]}" --listen 127.0.0.1:$B_PORT)
tap_check "A in tc mode: B in XDP mode is refused, naming A's tc program" \
	grep -q "tc ingress: program 'kanary_tc_ingre' (id $(hook_id ingress)) of the kanary data path pinned in $TOPO_PIN_DIR" <<<"$out"
topo_kanaryd --mode xdp "${SERVICE[@]}" || tap_bail "xdp kanaryd A starts"
out=$(refused_start --mode tc "${SERVICE[@]}" --listen 127.0.0.1:$B_PORT)
tap_check "A in XDP mode: B in tc mode is refused, naming A's XDP program" \
	grep -q "XDP: program 'kanary_xdp_ingr' (id $(hook_id xdp)) of the kanary data path pinned in $TOPO_PIN_DIR" <<<"$out"

# --remove of A's own pin directory, A gone with --keep-attached: only A's.
topo_kanaryd_stop
topo_kanaryd --mode xdp --keep-attached "${SERVICE[@]}" || tap_bail "kept kanaryd A starts"
topo_kanaryd_stop
tap_check "kept: A's program stays after A stops" test -n "$(hook_id xdp)"
out=$(topo_node "$KANARY_BIN/kanaryd" --iface nc0 --remove --pin-dir "$TOPO_PIN_DIR" 2>&1)
tap_check "--remove with A's pin dir removes A's data path" \
	grep -q "removed the data path from nc0 and its pins from $TOPO_PIN_DIR" <<<"$out"
tap_is "and nothing of kanary is left on nc0" "$(hook_id xdp)$(hook_id ingress)$(hook_id egress)" ""
tap_check "nor its pins" test ! -e "$TOPO_PIN_DIR"

tap_done
