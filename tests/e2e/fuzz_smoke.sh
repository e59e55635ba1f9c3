#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/e2e/fuzz_smoke.sh - the libFuzzer targets (tests/fuzz) as a
# regression check: builds them when needed (make fuzz-build, clang with
# ASan + UBSan), then runs each for FUZZ_SMOKE_S seconds (default 20) over
# its seed corpus, which holds every input that once found new code. A
# crash, leak, timeout or broken invariant fails the target's check and
# leaves its reproducer under $OUTPUT/fuzz/run/TARGET/artifacts/.
# Longer runs: make fuzz FUZZ_TIME=600.
# Needs: clang 14 and libclang-rt-14-dev (both in make deps); root and bpffs
# for fuzz_api and fuzz_http, like kanaryd.
set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/tap.sh

FUZZ_SMOKE_S=${FUZZ_SMOKE_S:-20}
# tests/run names the build (KANARY_OUTPUT: .output, .output/sanitize).
OUTPUT=${KANARY_OUTPUT:-${OUTPUT:-.output}}
FUZZ_OUT=$OUTPUT/fuzz
BUILD_LOG=$(mktemp /tmp/kanary-fuzz-build.XXXXXX)
trap 'rm -f "$BUILD_LOG"' EXIT

if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
	echo "# clang is missing: the fuzz targets are built with clang 14"
	echo "# and libFuzzer (packages clang and libclang-rt-14-dev;"
	echo "# 'make deps' installs them)"
	tap_fail "clang is installed (needed to build the fuzz targets)"
	tap_done
	exit 1
fi

if make --no-print-directory OUTPUT="$OUTPUT" fuzz-build \
	>"$BUILD_LOG" 2>&1; then
	tap_ok "fuzz targets built ($FUZZ_OUT)"
else
	sed 's/^/# /' "$BUILD_LOG" | tail -n 30
	grep -q 'libclang_rt.fuzzer\|fsanitize=fuzzer' "$BUILD_LOG" &&
		echo "# the libFuzzer runtime is missing: install" \
			"libclang-rt-14-dev (make deps)"
	tap_bail "make fuzz-build failed"
fi

targets=()
for src in tests/fuzz/fuzz_*.c; do
	targets+=("$(basename "$src" .c)")
done
summary=$(FUZZ_OUT=$FUZZ_OUT tests/fuzz/run.sh --smoke \
	--time "$FUZZ_SMOKE_S" "${targets[@]}")
echo "$summary" | sed 's/^/# /'
for t in "${targets[@]}"; do
	line=$(echo "$summary" | grep "^$t ")
	if [[ "$line" == *"findings 0  (exit 0)"* ]]; then
		tap_ok "$t: ${FUZZ_SMOKE_S}s over its corpus, nothing found"
	else
		grep -E 'ERROR|SUMMARY|invariant|^    #[0-9]' \
			"$FUZZ_OUT/run/$t/log" | head -n 30 | sed 's/^/# /'
		tap_fail "$t: a finding (log: $FUZZ_OUT/run/$t/log)"
	fi
done
tap_done
