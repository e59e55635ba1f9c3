#!/bin/sh
# scripts/deps.sh - installs the Debian packages that kanary's build, tests,
# demo and benchmarks need, skipping those already present.
# Runs as root, or through sudo when the user is not root.
set -eu

# Build: compilers, libbpf and the libraries the agent links.
BUILD="clang llvm make gcc pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev"
# Tests: unit test library, network tools, sanitizer runtime, fuzzer,
# promtool for /metrics, valgrind, headless Chromium for the status page,
# clang-format for the style check (tests/static/format.sh), packet
# captures (tests/e2e/ipv6.sh reads tcpdump's checksum verdicts on IPv6;
# tests/e2e/datapath.sh taps the node's interface; bench/xdp_resets.sh).
TEST="libcmocka-dev iproute2 iputils-ping ethtool curl iptables nftables procps psmisc
libclang-rt-14-dev valgrind prometheus chromium chromium-driver python3 clang-format
util-linux etcd-server etcd-client tcpdump"
# (etcd-server and etcd-client: cluster mode's tests start their own etcd.)
# Benchmarks: the peers kanary is measured against, the load generator, plots.
BENCH="wrk nginx haproxy gnuplot-nox"

missing=""
for pkg in $BUILD $TEST $BENCH; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = "installed" ] || missing="$missing $pkg"
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: missing packages:$missing" >&2
	echo "deps: run 'make deps' as root (this system has no sudo)" >&2
	exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
