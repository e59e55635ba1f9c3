# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/lib/json.sh - reading JSON answers in the shell tests.
#
#   jget EXPR <<<"$JSON"   evaluates the Python expression EXPR with d bound
#                          to the parsed document; prints a string as is,
#                          anything else as JSON, and <ErrorType> when the
#                          document or the expression fails (a check then
#                          fails on the value, never on the helper).

# The system's interpreter: a python3 earlier on PATH may be a slow shim.
: "${PYTHON:=$(command -v /usr/bin/python3 || command -v python3)}"

jget() {
	"$PYTHON" -c '
import json, sys
try:
    d = json.loads(sys.stdin.read())
    r = eval(sys.argv[1])
except Exception as e:
    print("<%s>" % type(e).__name__)
    sys.exit(0)
print(r if isinstance(r, str) else json.dumps(r))' "$1"
}
