# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/lib/demo.sh - the service "demo" that the API-facing end-to-end
# tests (inputs, kanaryctl, golden, statuspage) run kanaryd with: its token
# file, its config file and the kanaryd that serves them on the topology.
# Brings tests/lib/{tap,topology,json}.sh; call these after topo_create.

source "$(dirname "${BASH_SOURCE[0]}")/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/topology.sh"
source "$(dirname "${BASH_SOURCE[0]}")/json.sh"

# demo_token TOKEN: WORK is the run's folder; $WORK/token holds TOKEN (mode
# 600, as kanaryd asks) and AUTH is the header that presents it.
demo_token() {
	WORK=$TOPO_TMP
	printf '%s\n' "$1" >"$WORK/token"
	chmod 600 "$WORK/token"
	AUTH="Authorization: Bearer $1"
}

# demo_topology TOKEN: one node, a stable and a canary model server, and
# the token (demo_token); the test cannot go on without them.
demo_topology() {
	topo_create 1 1 0 || tap_bail "cannot build the topology"
	topo_backends || tap_bail "cannot start the model servers"
	demo_token "$1"
}

# demo_config ROLLOUT [SERVICE...]: $WORK/config.json with demo (the VIP,
# both pools, the rollout object ROLLOUT) and each SERVICE (a JSON object)
# after it.
demo_config() {
	local rollout=$1 service
	shift
	{
		printf '{\n  "services": [\n'
		printf '    {"name": "demo", "vip": "%s",\n' "$TOPO_VIP:$TOPO_VIP_PORT"
		printf '     "stable": ["%s"], "canary": ["%s"],\n' "$(topo_pool stable)" "$(topo_pool canary)"
		printf '     "rollout": %s}' "$rollout"
		for service in "$@"; do
			printf ',\n    %s' "$service"
		done
		printf '\n  ]\n}\n'
	} >"$WORK/config.json"
}

# demo_solo: a second TCP service with the stable pool and no canary (its
# VIP, on port 81, is a loop for demo).
demo_solo() {
	printf '{"name": "solo", "vip": "%s", "stable": ["%s"]}' "$TOPO_VIP:81" "$(topo_pool stable)"
}

# demo_kanaryd: kanaryd with the config and the token; the test cannot go
# on without it.
demo_kanaryd() {
	topo_kanaryd --config "$WORK/config.json" --token-file "$WORK/token" ||
		tap_bail "kanaryd did not start"
}
