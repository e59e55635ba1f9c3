# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/parse_load.py - reads what a load generator printed (wrk's text
report or kn-load's --json object) and prints one CSV fragment:

    rps,p50_ms,p99_ms,errors,canary_share

errors counts every request that did not end in a 2xx answer (socket
errors, timeouts, non-2xx); canary_share is the share of answers tagged
"v2" (the canary backend's static answer), empty when the tool cannot
tell. A run that produced nothing prints zeros and exits 1.

Usage: parse_load.py wrk FILE | parse_load.py kn-load FILE
"""
import json
import re
import sys

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * UNITS_MS[m.group(2)] if m else float("nan")


def parse_wrk(text):
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not rps:
        return None
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    errors = 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                     r"timeout (\d+)", text)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx:
        errors += int(non2xx.group(1))
    return (float(rps.group(1)), wrk_ms(p50.group(1)) if p50 else float("nan"),
            wrk_ms(p99.group(1)) if p99 else float("nan"), errors, "")


def parse_kn(text):
    d = json.loads(text)
    tags = d.get("tags", {})
    tagged = sum(tags.values())
    share = "%.4f" % (tags.get("v2", 0) / tagged) if tagged else ""
    errors = d.get("errors", 0) + sum(
        v for k, v in d.get("status", {}).items() if not k.startswith("2"))
    lat = d.get("latency_ms", {})
    return (d.get("rps", 0.0), lat.get("p50", float("nan")),
            lat.get("p99", float("nan")), errors, share)


def main():
    tool, path = sys.argv[1], sys.argv[2]
    try:
        text = open(path).read()
        row = parse_wrk(text) if tool == "wrk" else parse_kn(text)
    except (OSError, ValueError, KeyError):
        row = None
    if not row:
        print("0,nan,nan,0,")
        return 1
    print("%.1f,%.3f,%.3f,%d,%s" % row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
