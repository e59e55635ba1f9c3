#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/static/format.sh - every C file of the tree is formatted as the
# committed .clang-format says (the same list `make check-format` reads);
# one TAP line per file that is not, naming it.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib/tap.sh

if ! command -v clang-format >/dev/null; then
	tap_fail "clang-format is missing: run 'make deps'"
	tap_done
	exit 1
fi
mapfile -t files < <(make -s --no-print-directory print-format-files)
[ "${#files[@]}" -gt 0 ] || tap_bail "make print-format-files listed nothing"
bad=0
for f in "${files[@]}"; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		tap_fail "$f is formatted as .clang-format says (run 'make format')"
		bad=$((bad + 1))
	fi
done
[ "$bad" -eq 0 ] && tap_ok "all ${#files[@]} C files are formatted as .clang-format says"
tap_done
