# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/report.py - turns the raw results of bench/run.sh (CSV and JSON in
one directory) into the tables and plots of BENCHMARKS.md.

The prose lives in bench/BENCHMARKS.md.in; every @@NAME@@ in it is replaced
by a table computed here, and every goal's verdict (met / missed) is
computed from the numbers, never written by hand. Plots are drawn with
gnuplot (PNG through pngcairo, SVG when that terminal is missing). A part
whose results are missing is reported as not measured, and so is a case or
a configuration missing from a part's results; a results file that is there
but malformed (see SCHEMAS), or a placeholder no section fills, stops the
report with an error naming it, and the previous report stays.

Usage: report.py --results DIR --report FILE --plots DIR --template FILE
"""
import argparse
import csv
import json
import math
import re
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

SPLITTERS = ["direct", "floor-xdp", "kanary-xdp", "kanary-xdp-redirect",
             "floor-tc", "kanary-tc", "kanary-tc-redirect",
             "iptables", "nftables", "nginx", "haproxy"]
# The -redirect rows: kanaryd --forward redirect (docs/forwarding.md).
KANARY = ["kanary-xdp", "kanary-tc", "kanary-xdp-redirect", "kanary-tc-redirect"]
REDIRECT_SUFFIX = "-redirect"
PEERS = ["iptables", "nftables", "nginx", "haproxy"]
MODES = [("keepalive", "keep-alive (wrk, 1 client address)"),
         ("close", "a new connection per request (kn-load, 1,000 addresses)")]
# The packets of bench/pktcost.c in the report's order (IPv4 names). A
# case of this list missing from the results is named as not measured; a
# case in the results that is not in it is shown after these.
CASES = ["floor", "not_for_service", "new_flow", "established", "reply",
         "stream_event", "body", "response", "icmp_error"]
# The cases pktcost also measures through an IPv6 service, as CASE_ipv6.
IPV6_CASES = ["not_for_service", "new_flow", "established", "reply",
              "icmp_error"]
IPV6_SUFFIX = "_ipv6"
PKT_METHODS = [("call", "call (one packet per call, cold caches)"),
               ("repeat", "repeat (N runs on one unchanging packet, warm caches)")]
# Section 1b: what a response's body costs on tc egress beyond a reply of
# a response the data path does not parse.
STREAM_BASE_CASE = "reply"
STREAM_BASE_LABEL = "reply (no response parsed)"
STREAM_CASES = [("body", "body (Content-Length)"),
                ("stream_event", "stream event"),
                ("response", "whole response (nginx headers, 40-byte body)")]
# The load the per-token cost is scaled to: a token every 20 ms (50 tokens
# a second) on each of a thousand concurrent streams.
STREAM_TOKEN_INTERVAL_MS = 20
STREAM_CONCURRENT = 1000
MS_PER_S = 1000
NS_PER_MS = 1e6
HOOKS = ["xdp", "tc_ingress", "tc_egress"]
# bench/run.sh's parts in the order a full run takes them (notify only when
# asked for).
PART_ORDER = ["pktcost", "e2e", "ipv6", "scale", "reaction", "notify",
              "agent", "cluster"]
# bench/ipv6.sh: the systems in the report's order and the two families.
IPV6_SYSTEMS = ["direct", "kanary-xdp", "kanary-tc"]
FAMILIES = ("ipv4", "ipv6")
# bench/notify.sh's two configurations.
NOTIFY_RECEIVERS = ("none", "bad")
NOTIFY_LABELS = {"none": "none",
                 "bad": "16 bad (8 hang, 4 reset, 4 answer 500)"}
# Goals of the figures, as ratios.
GOAL_ESTABLISHED_X_FLOOR = 2.0
GOAL_NEW_FLOW_X_FLOOR = 4.0
GOAL_REPLY_X_FLOOR = 2.5    # a reply through tc egress (issue 15)
GOAL_NOT_FOR_SERVICE_X_FLOOR = 1.5  # a packet for no service (issue 15)
GOAL_X_DIRECT = 1.00        # issue 15 (the first benchmarks asked 0.97)
GOAL_X_DIRECT_REDIRECT = 1.10  # the forwarding fast path's (issue 15)
GOAL_X_KERNEL_PEERS = 1.0   # iptables, nftables
GOAL_X_PROXIES = 2.0        # nginx, HAProxy
# Cluster mode's goals (issue: docs/cluster.md), on this machine.
GOAL_PROPAGATION_P99_MS = 100.0
GOAL_FAILOVER_WORST_MS = 5000.0
GOAL_FAILOVER_MEDIAN_MS = 3500.0
KIB_PER_MIB = 1024
# bench/cluster.sh's kinds of row: the figures, then the per-node costs
# ("cpu_pct_cluster_node1", "rss_kb_single_node1").
CLUSTER_KINDS = ("propagation", "failover", "etcd_writes_per_s",
                 "etcd_bytes_per_s")
CLUSTER_NODE_COSTS = ("cpu_pct", "rss_kb")
CLUSTER_MODES = ("cluster", "single")
FLAGGER_MIN_INTERVAL_S = 10
FLAGGER_DEFAULT_INTERVAL_S = 60


class ResultsError(Exception):
    """A results file that exists but cannot be read as its part writes it:
    the report stops and names the file, the line and the column."""


# What each part writes: the columns every results file must have, and how
# each is checked. "num" must be a number; "num?" may be empty or "nan" (a
# value that row does not have); "text" anything; a tuple, one of its words.
SCHEMAS = {
    "pktcost.csv": {"method": tuple(m for m, _ in PKT_METHODS),
                    "hook": tuple(HOOKS), "case": "text", "round": "num",
                    "ns_per_packet": "num"},
    "e2e.csv": {"rep": "num", "splitter": "text", "mode": "text",
                "tool": "text", "rps": "num", "p50_ms": "num",
                "p99_ms": "num", "errors": "num", "canary_share": "num?",
                "xdp_translated": "num?", "tc_translated": "num?",
                "xdp_ns": "num?", "tc_ingress_ns": "num?",
                "tc_egress_ns": "num?"},
    "scale.csv": {"rep": "num", "services": "num", "system": "text",
                  "setup_s": "num", "rps": "num", "p50_ms": "num",
                  "p99_ms": "num", "errors": "num", "canary_share": "num?",
                  "kernel_bytes": "num?", "agent_rss_kib": "num?",
                  "agent_cpu_pct": "num?"},
    "flows.csv": {"entries": "num", "hook": tuple(HOOKS), "round": "num",
                  "ns_per_packet": "num"},
    "memory.csv": {"map": "text", "max_entries": "num",
                   "memlock_bytes": "num", "bytes_per_entry": "num"},
    "weights.csv": {"trial": "num", "canary_percent": "num", "put_ms": "num",
                    "first_new_ms": "num?", "stale_after_put": "num"},
    "faults.csv": {"trial": "num", "decided_ms": "num?",
                   "weight_zero_seen_ms": "num", "reason": "text"},
    "agent.csv": {"phase": "text", "services": "num", "seconds": "num",
                  "cpu_pct": "num", "rss_kib_median": "num",
                  "rss_kib_max": "num", "scrapes_per_s": "num"},
    "ipv6_http.csv": {"rep": "num", "system": tuple(IPV6_SYSTEMS),
                      "family": FAMILIES,
                      "mode": tuple(m for m, _ in MODES), "tool": "text",
                      "rps": "num", "p50_ms": "num", "p99_ms": "num",
                      "errors": "num", "canary_share": "num?"},
    "notify.csv": {"receivers": NOTIFY_RECEIVERS, "trial": "num",
                   "decided_ms": "num?", "weight_zero_seen_ms": "num",
                   "reason": "text"},
    "cluster.csv": {"kind": "text", "trial": "num", "ms": "num"},
    "speed_changes.csv": {"change": "text", "packet": "text",
                          "hook": tuple(HOOKS), "family": FAMILIES,
                          "before_ns": "num", "after_ns": "num"},
}


def check_value(path, line, column, kind, value):
    if kind == "text":
        return
    if isinstance(kind, tuple):
        if value not in kind:
            raise ResultsError("%s, line %d: column %s is %r, not one of %s"
                               % (path, line, column, value, ", ".join(kind)))
        return
    if kind == "num?" and value in ("", "nan"):
        return
    try:
        v = float(value)
    except ValueError:
        v = float("nan")
    if math.isnan(v) or math.isinf(v):
        raise ResultsError("%s, line %d: column %s is %r, not a number"
                           % (path, line, column, value))


def read_csv(path):
    """The rows of a results file, checked against its part's columns
    (SCHEMAS); None when the file does not exist (the part was not run).
    Raises ResultsError when the file is there but not as its part writes
    it: no header, a column missing, a row with too few or too many fields,
    a value that is not what its column holds, or no row at all."""
    if not os.path.exists(path):
        return None
    schema = SCHEMAS[os.path.basename(path)]
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise ResultsError("%s: empty, no header line" % path)
        missing = [c for c in schema if c not in header]
        if missing:
            raise ResultsError("%s: the header lacks the column(s) %s"
                               % (path, ", ".join(missing)))
        rows = []
        for fields in reader:
            line = reader.line_num
            if not fields:
                continue  # a blank line
            if len(fields) != len(header):
                raise ResultsError("%s, line %d: %d fields where the header "
                                   "has %d" % (path, line, len(fields),
                                               len(header)))
            r = dict(zip(header, fields))
            for column, kind in schema.items():
                check_value(path, line, column, kind, r[column])
            rows.append(r)
    if not rows:
        raise ResultsError("%s: a header and no row (the part measured "
                           "nothing)" % path)
    return rows


def num(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


def med(values):
    v = [x for x in values if not math.isnan(x)]
    return statistics.median(v) if v else float("nan")


def fmt(v, digits=0):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return "{:,.{d}f}".format(v, d=digits)


def verdict(ok):
    return "**met**" if ok else "**missed**"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


class Plotter:
    """Writes data files and a gnuplot script per plot, runs gnuplot."""

    def __init__(self, plots_dir, report_dir):
        self.dir = plots_dir
        self.report_dir = report_dir
        self.tmp = tempfile.mkdtemp(prefix="kanary-plots.")
        terms = subprocess.run(["gnuplot", "-e", "set terminal"],
                               capture_output=True, text=True)
        listing = terms.stdout + terms.stderr
        self.ext = "png" if "pngcairo" in listing else "svg"
        self.term = ("pngcairo size 1000,{h} font 'sans,10'"
                     if self.ext == "png" else "svg size 1000,{h}")

    def data(self, name, rows):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            for r in rows:
                f.write(" ".join(str(c) for c in r) + "\n")
        return path

    def plot(self, name, script, height=450):
        out = os.path.join(self.dir, "%s.%s" % (name, self.ext))
        text = "set terminal %s\nset output '%s'\n%s\n" % (
            self.term.format(h=height), out, script)
        path = os.path.join(self.tmp, name + ".gp")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run(["gnuplot", path], capture_output=True, text=True)
        if r.returncode != 0:
            print("report: gnuplot failed for %s:\n%s" % (name, r.stderr),
                  file=sys.stderr)
            return "(plot %s could not be drawn)" % name
        rel = os.path.relpath(out, self.report_dir)
        return "![%s](%s)" % (name, rel)


# ---- 1. per-packet cost ------------------------------------------------------

NOT_MEASURED = "*Not measured in this run.*"


def case_label(case):
    if case.endswith(IPV6_SUFFIX):
        return case[:-len(IPV6_SUFFIX)].replace("_", " ") + " (IPv6)"
    return case.replace("_", " ")


def spread(s):
    """A measurement as the tables show it: median (min–max)."""
    return "%s (%s–%s)" % (fmt(s[0], 1), fmt(s[1], 1), fmt(s[2], 1))


def summary(values):
    """Median, min, max of the values that are numbers (a row may lack
    one: "nan"), or None when none is."""
    v = [x for x in values if not math.isnan(x)]
    return (med(v), min(v), max(v)) if v else None


def read_pktcost(res):
    """pktcost.csv as {(method, hook, case): (median, min, max, rounds,
    {round: ns})}, or None when pktcost was not run."""
    rows = read_csv(os.path.join(res, "pktcost.csv"))
    if not rows:
        return None
    vals = defaultdict(dict)
    for r in rows:
        key = (r["method"], r["hook"], r["case"])
        rnd = int(num(r["round"]))
        if rnd in vals[key]:
            raise ResultsError("%s: round %d of %s %s %s appears twice" % (
                os.path.join(res, "pktcost.csv"), rnd, *key))
        vals[key][rnd] = num(r["ns_per_packet"])
    return {k: (med(v.values()), min(v.values()), max(v.values()), len(v), v)
            for k, v in vals.items()}


def pktcost_order(stat):
    """The IPv4 cases to show, in the report's order: CASES first, then any
    case pktcost measured that the report does not know (a new case shows
    up without a change here). Also the known cases that are missing."""
    measured = {k[2] for k in stat}
    base = {c[:-len(IPV6_SUFFIX)] if c.endswith(IPV6_SUFFIX) else c
            for c in measured}
    order = [c for c in CASES if c in base] + \
        sorted(c for c in base if c not in CASES)
    missing = [c for c in CASES if c not in base]
    missing += [c + IPV6_SUFFIX for c in IPV6_CASES
                if c in base and c + IPV6_SUFFIX not in measured]
    return order, missing


def pktcost_section(res, plot):
    stat = read_pktcost(res)
    if not stat:
        return {"PKTCOST_TABLE": NOT_MEASURED, "PKTCOST_GOALS": "",
                "PKTCOST_PLOT": ""}

    def floor(method, hook):
        s = stat.get((method, hook, "floor"))
        return s[0] if s else float("nan")

    def x_floor(s, method, hook):
        return fmt(s[0] / floor(method, hook), 2) + "×"

    order, missing = pktcost_order(stat)
    tables = []
    for method, title in PKT_METHODS:
        out = []
        for case in order:
            for hook in HOOKS:
                v4 = stat.get((method, hook, case))
                v6 = stat.get((method, hook, case + IPV6_SUFFIX))
                if not v4 and not v6:
                    continue
                row = [case_label(case), hook.replace("_", " ")]
                row += [spread(v4), x_floor(v4, method, hook)] if v4 else ["–", "–"]
                if v6:
                    row += [spread(v6), x_floor(v6, method, hook),
                            fmt(v6[0] / v4[0], 2) if v4 else "–"]
                elif case in IPV6_CASES:
                    row += ["not measured", "–", "–"]
                else:
                    row += ["–", "–", "–"]
                out.append(row)
        if out:
            tables.append("**%s**\n\n" % title + table(
                ["packet", "hook", "IPv4: ns/packet, median (min–max)",
                 "× floor", "IPv6: ns/packet, median (min–max)", "× floor",
                 "IPv6 / IPv4"], out))
    rounds = max(s[3] for s in stat.values())
    tab = "\n\n".join(tables)
    tab += "\n\n%d rounds per cell; each cell of a round is the mean of one " \
           "batch of packets (call) or one run of N repetitions (repeat); " \
           "the IPv6 / IPv4 column is the ratio of the medians." % rounds
    if missing:
        tab += "\n\nNot measured in this run: %s." % ", ".join(
            case_label(c) for c in missing)

    goals = []
    for suffix in ["", IPV6_SUFFIX]:
        for hook in ["xdp", "tc_ingress"]:
            for case, limit in [("established", GOAL_ESTABLISHED_X_FLOOR),
                                ("new_flow", GOAL_NEW_FLOW_X_FLOOR)]:
                for method, _ in PKT_METHODS:
                    s = stat.get((method, hook, case + suffix))
                    if not s:
                        continue
                    ratio = s[0] / floor(method, hook)
                    goals.append([case_label(case + suffix),
                                  hook.replace("_", " "), method,
                                  "≤ %g×" % limit, fmt(ratio, 2) + "×",
                                  verdict(ratio <= limit)])
        for hook in HOOKS:
            s = stat.get(("call", hook, "not_for_service" + suffix))
            if s:
                ratio = s[0] / floor("call", hook)
                goals.append([case_label("not_for_service" + suffix),
                              hook.replace("_", " "), "call",
                              "≤ %g×" % GOAL_NOT_FOR_SERVICE_X_FLOOR,
                              fmt(ratio, 2) + "×",
                              verdict(ratio <= GOAL_NOT_FOR_SERVICE_X_FLOOR)])
        s = stat.get(("call", "tc_egress", "reply" + suffix))
        if s:
            ratio = s[0] / floor("call", "tc_egress")
            goals.append([case_label("reply" + suffix), "tc egress", "call",
                          "≤ %g×" % GOAL_REPLY_X_FLOOR,
                          fmt(ratio, 2) + "×",
                          verdict(ratio <= GOAL_REPLY_X_FLOOR)])
    goal_tab = table(["packet", "hook", "method", "goal", "measured", "verdict"],
                     goals)

    # Plot: ns/packet per case (each IPv6 case beside its IPv4 one), one
    # bar per hook, both methods.
    shown = [c for case in order for c in (case, case + IPV6_SUFFIX)
             if any(k[2] == c for k in stat)]
    panels = []
    for method, title in [("call", "repeat = 1 per call (kernel-timed)"),
                          ("repeat", "repeat = N on an unchanging packet")]:
        drows = []
        for i, case in enumerate(shown):
            row = [i, case.replace("_", "-")]
            for hook in HOOKS:
                s = stat.get((method, hook, case))
                row += [fmt(s[0], 1).replace(",", "") if s else "NaN",
                        fmt(s[1], 1).replace(",", "") if s else "NaN",
                        fmt(s[2], 1).replace(",", "") if s else "NaN"]
            drows.append(row)
        d = plot.data("pktcost-%s.dat" % method, drows)
        panels.append(
            "set title '%s'\n"
            "plot '%s' using ($1-0.27):3:4:5:(0.25):xtic(2) with boxerrorbars title 'XDP' lc rgb '#1f77b4', "
            "'' using 1:6:7:8:(0.25) with boxerrorbars title 'tc ingress' lc rgb '#ff7f0e', "
            "'' using ($1+0.27):9:10:11:(0.25) with boxerrorbars title 'tc egress' lc rgb '#2ca02c'"
            % (title, d))
    script = ("set multiplot layout 2,1\nset style fill solid 0.8 border -1\n"
              "set ylabel 'ns per packet (median, min-max)'\nset xtics rotate by -30\n"
              "set grid ytics\nset key top left\nset yrange [0:*]\n"
              "set xrange [-0.6:%g]\n" % (len(shown) - 0.4) + "\n".join(panels) + "\nunset multiplot")
    return {"PKTCOST_TABLE": tab, "PKTCOST_GOALS": goal_tab,
            "PKTCOST_PLOT": plot.plot("pktcost", script, height=800)}


# ---- 1b. event streams on tc egress ------------------------------------------

def paired(a, b):
    """Per-round differences a - b of two cases measured in the same rounds
    (interleaved, so a slow round slows both): median, min, max."""
    d = [a[4][r] - b[4][r] for r in a[4] if r in b[4]]
    return (med(d), min(d), max(d)) if d else None


def stream_section(res):
    stat = read_pktcost(res)
    hook = "tc_egress"
    cases = [c for c, _ in STREAM_CASES]
    if not stat or not any((m, hook, c) in stat for m, _ in PKT_METHODS
                           for c in cases):
        return {"STREAM_TABLE": NOT_MEASURED, "STREAM_COST": ""}
    rows = []
    for method, _ in PKT_METHODS:
        fl = stat.get((method, hook, "floor"))
        base = stat.get((method, hook, STREAM_BASE_CASE))
        for case, label in [("floor", "floor"),
                            (STREAM_BASE_CASE, STREAM_BASE_LABEL)] + STREAM_CASES:
            s = stat.get((method, hook, case))
            if not s:
                rows.append([label, method, "not measured", "–", "–", "–"])
                continue
            d = paired(s, base) if base and case not in ("floor", STREAM_BASE_CASE) \
                else None
            rows.append([label, method, spread(s),
                         fmt(s[0] / fl[0], 2) + "×" if fl else "–",
                         spread(d) if d else "–",
                         fmt(s[0] / base[0], 2) + "×" if d else "–"])
    tab = table(["packet (tc egress)", "method", "ns/packet, median (min–max)",
                 "× floor", "more than a %s: ns, median of the rounds' "
                 "differences (min–max)" % STREAM_BASE_CASE,
                 "× %s" % STREAM_BASE_CASE], rows)

    # What a token's packet adds, scaled to a load of many streams; the
    # call method's figure (cold caches) is the dearer one.
    cost = ""
    tok = stat.get(("call", hook, "stream_event"))
    base = stat.get(("call", hook, STREAM_BASE_CASE))
    d = paired(tok, base) if tok and base else None
    if d:
        pps = STREAM_CONCURRENT * MS_PER_S / STREAM_TOKEN_INTERVAL_MS
        cpu_ms = d[0] * pps / NS_PER_MS
        cost = ("At a token every %d ms per stream, %s concurrent streams are "
                "%s packets a second: at the call method's %s ns more per "
                "token, the response parse costs %s ms of CPU a second "
                "(%s %% of one core)." % (
                    STREAM_TOKEN_INTERVAL_MS, fmt(STREAM_CONCURRENT), fmt(pps),
                    fmt(d[0], 0), fmt(cpu_ms, 0), fmt(100 * cpu_ms / MS_PER_S, 1)))
    return {"STREAM_TABLE": tab, "STREAM_COST": cost}


# ---- 1c. what each change bought ----------------------------------------------

def read_commented_csv(path):
    """read_csv for a file whose lines starting with '#' are notes."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = [l for l in f if not l.startswith("#")]
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(path))
        with open(copy, "w") as f:
            f.writelines(lines)
        try:
            return read_csv(copy)
        except ResultsError as e:
            raise ResultsError(str(e).replace(copy, path))


def speed_changes_section(res):
    rows = read_commented_csv(os.path.join(res, "speed_changes.csv"))
    if not rows:
        return {"SPEED_CHANGES_TABLE": NOT_MEASURED}
    out = []
    for r in rows:
        before, after = num(r["before_ns"]), num(r["after_ns"])
        out.append([r["change"], case_label(r["packet"]), r["hook"],
                    r["family"].replace("ipv", "IPv"), fmt(before, 1),
                    fmt(after, 1), fmt(after - before, 1),
                    fmt(100 * (after - before) / before, 1) + " %"])
    return {"SPEED_CHANGES_TABLE": table(
        ["change", "packet", "hook", "family", "before, ns", "after, ns",
         "difference, ns", "difference"], out)}


# ---- 2. end to end ------------------------------------------------------------

def e2e_section(res, plot):
    rows = read_csv(os.path.join(res, "e2e.csv"))
    if not rows:
        return {"E2E_TABLES": "*Not measured in this run.*", "E2E_GOALS": "",
                "E2E_PLOT": "", "E2E_REPS": "–", "E2E_INSITU": "",
                "E2E_ERRORS": "not measured"}
    data = defaultdict(lambda: defaultdict(list))
    for r in rows:
        d = data[(r["mode"], r["splitter"])]
        for k in ["rps", "p50_ms", "p99_ms", "canary_share"]:
            d[k].append(num(r[k]))
        d["errors"].append(num(r["errors"]))
        d["xdp"].append(num(r.get("xdp_translated")))
        d["tc"].append(num(r.get("tc_translated")))
        for k in ["xdp_ns", "tc_ingress_ns", "tc_egress_ns"]:
            d[k].append(num(r.get(k)))
    reps = max(len(d["rps"]) for d in data.values())
    tables, goals = [], []
    for mode, title in MODES:
        present = [s for s in SPLITTERS if (mode, s) in data]
        if not present:
            continue
        direct = med(data[(mode, "direct")]["rps"]) if (mode, "direct") in data \
            else float("nan")
        out = []
        for s in present:
            d = data[(mode, s)]
            share = med(d["canary_share"])
            out.append([s, fmt(med(d["rps"])),
                        "%s–%s" % (fmt(min(d["rps"])), fmt(max(d["rps"]))),
                        fmt(med(d["rps"]) / direct, 3) + "×",
                        fmt(med(d["p50_ms"]), 2), fmt(med(d["p99_ms"]), 2),
                        fmt(sum(d["errors"])),
                        "–" if math.isnan(share) else "%.1f %%" % (100 * share)])
        tables.append("**%s**\n\n" % title + table(
            ["splitter", "requests/s (median)", "min–max", "× direct",
             "p50 ms", "p99 ms", "errors", "canary share"], out))

        splitters = [s for s in present if s in KANARY + PEERS]
        p99 = {s: med(data[(mode, s)]["p99_ms"]) for s in splitters}
        best_p99 = min(p99, key=lambda s: p99[s]) if p99 else None
        for k in [s for s in KANARY if s in present]:
            rps = med(data[(mode, k)]["rps"])
            need_direct = GOAL_X_DIRECT_REDIRECT if k.endswith(REDIRECT_SUFFIX) \
                else GOAL_X_DIRECT
            goals.append([title.split(" (")[0], k, "≥ %.2f× direct" % need_direct,
                          fmt(rps / direct, 3) + "×", verdict(rps >= need_direct * direct)])
            for peer, need in [("iptables", GOAL_X_KERNEL_PEERS),
                               ("nftables", GOAL_X_KERNEL_PEERS),
                               ("nginx", GOAL_X_PROXIES),
                               ("haproxy", GOAL_X_PROXIES)]:
                if (mode, peer) not in data:
                    continue
                prps = med(data[(mode, peer)]["rps"])
                goals.append([title.split(" (")[0], k, "≥ %g× %s" % (need, peer),
                              fmt(rps / prps, 2) + "×", verdict(rps >= need * prps)])
            goals.append([title.split(" (")[0], k, "lowest p99 of the splitters",
                          "%s ms (lowest: %s, %s ms)" % (fmt(p99[k], 2), best_p99,
                                                         fmt(p99[best_p99], 2)),
                          verdict(best_p99 == k)])
    goal_tab = table(["load", "kanary", "goal", "measured", "verdict"], goals)

    # The programs' own time per packet on nc0, from the kernel's BPF
    # run-time statistics during the same runs.
    insitu = []
    for mode, title in MODES:
        for k, floor, hooks in [("kanary-xdp", "floor-xdp", [("xdp_ns", "XDP ingress", "xdp_ns"),
                                                             ("tc_ingress_ns", "tc ingress (after XDP)", None),
                                                             ("tc_egress_ns", "tc egress", None)]),
                                ("kanary-tc", "floor-tc", [("tc_ingress_ns", "tc ingress", "tc_ingress_ns"),
                                                           ("tc_egress_ns", "tc egress", "tc_ingress_ns")]),
                                ("kanary-xdp-redirect", "floor-xdp",
                                 [("xdp_ns", "XDP ingress", "xdp_ns"),
                                  ("tc_ingress_ns", "tc ingress (after XDP, redirects)", None),
                                  ("tc_egress_ns", "tc egress", None)]),
                                ("kanary-tc-redirect", "floor-tc",
                                 [("tc_ingress_ns", "tc ingress (redirects)", "tc_ingress_ns"),
                                  ("tc_egress_ns", "tc egress", "tc_ingress_ns")])]:
            if (mode, k) not in data:
                continue
            for col, name, fcol in hooks:
                v = med(data[(mode, k)][col])
                f = med(data[(mode, floor)][fcol]) if fcol and (mode, floor) in data \
                    else float("nan")
                insitu.append([title.split(" (")[0], k, name, fmt(v, 1),
                               fmt(f, 1) if fcol else "–",
                               fmt(v / f, 2) + "×" if fcol and not math.isnan(f) else "–"])
    insitu_tab = table(["load", "mode", "program", "kanary ns/packet (median of runs)",
                        "do-nothing program on the same hook, ns/packet", "× floor"],
                       insitu) if insitu else "*Not measured in this run.*"

    # Failed requests, all modes together: which rows had any.
    failed = defaultdict(int)
    runs = defaultdict(int)
    for (mode, s), d in data.items():
        failed[s] += int(sum(x for x in d["errors"] if not math.isnan(x)))
        runs[s] += len(d["errors"])
    errors = ", ".join("%s %d in %d runs" % (s, failed[s], runs[s])
                       for s in SPLITTERS if s in runs)

    panels = []
    for mode, title in MODES:
        drows = []
        for i, s in enumerate([s for s in SPLITTERS if (mode, s) in data]):
            d = data[(mode, s)]
            drows.append([i, s, med(d["rps"]), min(d["rps"]), max(d["rps"]),
                          med(d["p50_ms"]), med(d["p99_ms"])])
        if not drows:
            continue
        f = plot.data("e2e-%s.dat" % mode, drows)
        panels.append((title, f))
    script = ("set multiplot layout 2,2\nset style fill solid 0.8 border -1\n"
              "set boxwidth 0.6\nset grid ytics\nset xtics rotate by -30\n"
              "set yrange [0:*]\nunset key\n")
    for title, f in panels:
        script += ("set title 'requests/s, %s'\nset ylabel 'requests/s (median, min-max)'\n"
                   "plot '%s' using 1:3:4:5:(0.6):xtic(2) with boxerrorbars lc rgb '#1f77b4'\n"
                   % (title.split(" (")[0], f))
    for title, f in panels:
        script += ("set title 'latency, %s'\nset ylabel 'ms (median of runs)'\nset key top left\n"
                   "plot '%s' using ($1-0.15):6:(0.3):xtic(2) with boxes title 'p50' lc rgb '#2ca02c', "
                   "'' using ($1+0.15):7:(0.3) with boxes title 'p99' lc rgb '#d62728'\nunset key\n"
                   % (title.split(" (")[0], f))
    script += "unset multiplot"
    return {"E2E_TABLES": "\n\n".join(tables), "E2E_GOALS": goal_tab,
            "E2E_PLOT": plot.plot("e2e", script, height=800), "E2E_REPS": str(reps),
            "E2E_INSITU": insitu_tab, "E2E_ERRORS": errors}


# ---- 2b. IPv6 against IPv4 -------------------------------------------------

def ipv6_http_section(res):
    """bench/ipv6.sh: the same systems through an IPv6 and an IPv4 VIP (and
    directly) in the same rounds: each family against its own direct run,
    and IPv6 against IPv4 system by system."""
    rows = read_csv(os.path.join(res, "ipv6_http.csv"))
    if not rows:
        return {"IPV6_HTTP_TABLES": NOT_MEASURED, "IPV6_HTTP_REPS": "–"}
    data = defaultdict(lambda: defaultdict(list))
    for r in rows:
        d = data[(r["mode"], r["system"], r["family"])]
        for k in ["rps", "p50_ms", "p99_ms", "errors", "canary_share"]:
            d[k].append(num(r[k]))
    reps = max(len(d["rps"]) for d in data.values())
    tables, missing = [], []
    for mode, title in MODES:
        out = []
        for system in IPV6_SYSTEMS:
            cells = {f: data.get((mode, system, f)) for f in FAMILIES}
            if not any(cells.values()):
                missing.append("%s %s" % (system, mode))
                continue
            row = [system]
            for f in FAMILIES:
                d, direct = cells[f], data.get((mode, "direct", f))
                if not d:
                    row += ["not measured", "–", "–"]
                    missing.append("%s %s %s" % (system, f, mode))
                    continue
                row += ["%s (%s–%s)" % (fmt(med(d["rps"])), fmt(min(d["rps"])),
                                        fmt(max(d["rps"]))),
                        fmt(med(d["rps"]) / med(direct["rps"]), 3) + "×"
                        if direct else "–",
                        fmt(med(d["p99_ms"]), 2)]
            v4, v6 = cells["ipv4"], cells["ipv6"]
            row.append(fmt(med(v6["rps"]) / med(v4["rps"]), 3) + "×"
                       if v4 and v6 else "–")
            shares = [med(cells[f]["canary_share"]) if cells[f] else
                      float("nan") for f in FAMILIES]
            row.append(" / ".join("–" if math.isnan(x) else
                                  "%.1f %%" % (100 * x) for x in shares))
            row.append(" / ".join(fmt(sum(cells[f]["errors"])) if cells[f]
                                  else "–" for f in FAMILIES))
            out.append(row)
        if out:
            tables.append("**%s**\n\n" % title + table(
                ["system", "IPv4 requests/s, median (min–max)", "× direct",
                 "IPv4 p99 ms", "IPv6 requests/s, median (min–max)",
                 "× direct", "IPv6 p99 ms", "IPv6 / IPv4",
                 "canary share IPv4 / IPv6", "errors IPv4 / IPv6"], out))
    text = "\n\n".join(tables) if tables else NOT_MEASURED
    if missing and tables:
        text += "\n\nNot measured in this run: %s." % ", ".join(missing)
    return {"IPV6_HTTP_TABLES": text, "IPV6_HTTP_REPS": str(reps)}


# ---- 3. scale -------------------------------------------------------------------

def scale_section(res, plot):
    out = {}
    rows = read_csv(os.path.join(res, "scale.csv"))
    if rows:
        data = defaultdict(lambda: defaultdict(list))
        for r in rows:
            d = data[(int(r["services"]), r["system"])]
            d["rps"].append(num(r["rps"]))
            d["p99"].append(num(r["p99_ms"]))
            d["setup"].append(num(r["setup_s"]))
            d["errors"].append(num(r["errors"]))
            d["kernel"].append(num(r.get("kernel_bytes")))
            d["rss"].append(num(r.get("agent_rss_kib")))
            d["cpu"].append(num(r.get("agent_cpu_pct")))
        sizes = sorted({k[0] for k in data})
        systems = [s for s in ["kanary-xdp", "kanary-tc", "iptables", "nftables"]
                   if any((n, s) in data for n in sizes)]
        trows = []
        for n in sizes:
            for s in systems:
                if (n, s) not in data:
                    continue
                d = data[(n, s)]
                first = data.get((sizes[0], s))
                trows.append([fmt(n), s, fmt(med(d["rps"])),
                              "%s–%s" % (fmt(min(d["rps"])), fmt(max(d["rps"]))),
                              fmt(med(d["rps"]) / med(first["rps"]), 2) + "×" if first else "–",
                              fmt(med(d["p99"]), 2), fmt(sum(d["errors"])),
                              fmt(med(d["setup"]), 1),
                              fmt(med(d["kernel"]) / 1048576, 0),
                              fmt(med(d["rss"]) / 1024, 1), fmt(med(d["cpu"]), 1)])
        out["SCALE_TABLE"] = table(
            ["services", "system", "requests/s (median)", "min–max",
             "× at %s service%s" % (fmt(sizes[0]), "" if sizes[0] == 1 else "s"),
             "p99 ms", "errors", "set-up s", "kanary maps MiB", "kanaryd RSS MiB",
             "kanaryd CPU %"],
            trows)
        drows = []
        for n in sizes:
            row = [n]
            for s in systems:
                d = data.get((n, s))
                row += [med(d["rps"]), min(d["rps"]), max(d["rps"])] if d else ["NaN"] * 3
            drows.append(row)
        f = plot.data("scale.dat", drows)
        colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
        curves = ", ".join(
            "'%s' using 1:%d:%d:%d with yerrorlines title '%s' lc rgb '%s'"
            % (f, 2 + 3 * i, 3 + 3 * i, 4 + 3 * i, s, colors[i])
            for i, s in enumerate(systems))
        out["SCALE_PLOT"] = plot.plot("scale", (
            "set logscale x\nset xlabel 'services configured'\n"
            "set ylabel 'requests/s of one service (new connections)'\n"
            "set yrange [0:*]\nset grid\nset key bottom left\nset xrange [0.7:15000]\n"
            "plot " + curves))
    else:
        out["SCALE_TABLE"] = "*Not measured in this run.*"
        out["SCALE_PLOT"] = ""

    frows = read_csv(os.path.join(res, "flows.csv"))
    if frows:
        data = defaultdict(list)
        for r in frows:
            data[(int(r["entries"]), r["hook"])].append(num(r["ns_per_packet"]))
        sizes = sorted({k[0] for k in data})
        trows, drows = [], []
        for n in sizes:
            row = [n]
            cells = [fmt(n)]
            for h in HOOKS:
                v = data.get((n, h))
                cells.append("%s (%s–%s)" % (fmt(med(v), 1), fmt(min(v), 1), fmt(max(v), 1))
                             if v else "–")
                row += [med(v), min(v), max(v)] if v else ["NaN"] * 3
            trows.append(cells)
            drows.append(row)
        out["FLOWS_TABLE"] = table(
            ["live connections", "XDP ingress ns/packet", "tc ingress ns/packet",
             "tc egress (reply) ns/packet"], trows)
        f = plot.data("flows.dat", drows)
        out["FLOWS_PLOT"] = plot.plot("flows", (
            "set logscale x\nset xlabel 'live connections in the table'\n"
            "set ylabel 'ns per packet of an established flow (median, min-max)'\n"
            "set yrange [0:*]\nset grid\nset key top left\nset xrange [%g:%g]\n"
            "plot '%s' using 1:2:3:4 with yerrorlines title 'XDP ingress', "
            "'' using 1:5:6:7 with yerrorlines title 'tc ingress', "
            "'' using 1:8:9:10 with yerrorlines title 'tc egress (reply)'"
            % (sizes[0] / 2, sizes[-1] * 2, f)))
    else:
        out["FLOWS_TABLE"] = "*Not measured in this run.*"
        out["FLOWS_PLOT"] = ""

    mrows = read_csv(os.path.join(res, "memory.csv"))
    if mrows:
        per = sum(num(r["bytes_per_entry"]) for r in mrows)
        total = sum(num(r["memlock_bytes"]) for r in mrows)
        entries = int(num(mrows[0]["max_entries"]))
        out["MEMORY"] = table(
            ["map", "entries (preallocated)", "memlock bytes", "bytes per entry"],
            [[r["map"], fmt(num(r["max_entries"])), fmt(num(r["memlock_bytes"])),
              fmt(num(r["bytes_per_entry"]), 1)] for r in mrows]) + \
            "\n\nOne connection holds an entry in each map: **%s bytes per " \
            "connection**, %s MiB for the default table of %s connections, " \
            "charged when kanaryd loads the data path (LRU maps are " \
            "preallocated), whatever the number of live connections." % (
                fmt(per, 0), fmt(total / 1048576, 0), fmt(entries))
    else:
        out["MEMORY"] = "*Not measured in this run.*"
    return out


# ---- 4. reaction ------------------------------------------------------------------

def reaction_section(res, plot):
    out = {}
    w = read_csv(os.path.join(res, "weights.csv"))
    f = read_csv(os.path.join(res, "faults.csv"))
    if w:
        first = [num(r["first_new_ms"]) for r in w]
        put = [num(r["put_ms"]) for r in w]
        stale = sum(int(num(r["stale_after_put"])) for r in w)
        seen = [x for x in first if not math.isnan(x)]
        out["WEIGHTS_TABLE"] = table(
            ["trials", "PUT answered, ms: median / worst",
             "first new connection steered by it, ms after the PUT was sent: median / worst",
             "connections started after the PUT's answer that still got the old version"],
            [[len(w), "%s / %s" % (fmt(med(put), 1), fmt(max(put), 1)),
              "%s / %s" % (fmt(med(seen), 1), fmt(max(seen), 1)) if seen else "–",
              fmt(stale)]])
        if len(seen) < len(first):
            out["WEIGHTS_TABLE"] += "\n\n%d change(s) saw no new connection " \
                "before the next change." % (len(first) - len(seen))
    else:
        out["WEIGHTS_TABLE"] = "*Not measured in this run.*"
    if f:
        dec = [num(r["decided_ms"]) for r in f]
        seen = [num(r["weight_zero_seen_ms"]) for r in f]
        out["FAULTS_TABLE"] = table(
            ["trials", "fault → rollback decided, ms: median / worst",
             "fault → weight 0 seen by a client of the API, ms: median / worst",
             "Flagger (documented, not measured)"],
            [[len(f), "%s / %s" % (fmt(med(dec), 0), fmt(max(dec), 0)),
              "%s / %s" % (fmt(med(seen), 0), fmt(max(seen), 0)),
              "≥ %d s (minimum interval), %d s by default, × threshold"
              % (FLAGGER_MIN_INTERVAL_S, FLAGGER_DEFAULT_INTERVAL_S)]])
        reasons = sorted({re.sub(r" [0-9.]+ %", "", r["reason"].split(" (")[0])
                          for r in f})
        out["FAULTS_TABLE"] += "\n\nWhy kanaryd rolled back: " + "; ".join(
            "“%s”" % r for r in reasons) + "."
    else:
        out["FAULTS_TABLE"] = "*Not measured in this run.*"
    if w or f:
        wd = plot.data("weights.dat", [[i + 1, r["first_new_ms"] or "NaN"]
                                       for i, r in enumerate(w or [])])
        fd = plot.data("faults.dat", [[i + 1, r["decided_ms"], r["weight_zero_seen_ms"]]
                                      for i, r in enumerate(f or [])])
        out["REACTION_PLOT"] = plot.plot("reaction", (
            "set logscale y\nset xlabel 'trial'\nset ylabel 'ms'\nset grid\n"
            "set key outside right\nset yrange [0.5:200000]\n"
            "plot '%s' using 1:2 with points pt 7 title 'weight PUT -> first steered connection', "
            "'%s' using 1:2 with points pt 5 title 'fault -> rollback decided', "
            "'' using 1:3 with points pt 4 title 'fault -> weight 0 seen', "
            "%d with lines dt 2 lc rgb 'black' title 'Flagger minimum interval (10 s)', "
            "%d with lines dt 3 lc rgb 'black' title 'Flagger default interval (60 s)'"
            % (wd, fd, FLAGGER_MIN_INTERVAL_S * 1000, FLAGGER_DEFAULT_INTERVAL_S * 1000)))
    else:
        out["REACTION_PLOT"] = ""
    return out


# ---- 4b. bad notification receivers -------------------------------------------

def notify_section(res):
    """bench/notify.sh (BENCH_PARTS=notify, not in the default run): the
    rollback reaction with no receivers and with bad ones, interleaved."""
    rows = read_csv(os.path.join(res, "notify.csv"))
    if not rows:
        return {"NOTIFY_TABLE": NOT_MEASURED}
    data = defaultdict(lambda: defaultdict(list))
    for r in rows:
        d = data[r["receivers"]]
        d["decided"].append(num(r["decided_ms"]))
        d["seen"].append(num(r["weight_zero_seen_ms"]))
        d["apply"].append(num(r["weight_zero_seen_ms"]) - num(r["decided_ms"]))
    kinds = [k for k in NOTIFY_RECEIVERS if k in data]
    none = data.get("none")
    out = []
    for kind in kinds:
        d = data[kind]
        out.append([NOTIFY_LABELS[kind], len(d["decided"])] +
                   [spread(s) if s else "–" for s in
                    (summary(d["decided"]), summary(d["seen"]), summary(d["apply"]))] +
                   [fmt(med(d["decided"]) / med(none["decided"]), 2) + "×"
                    if none else "–"])
    tab = table(["receivers", "trials",
                 "fault → rollback decided, ms: median (min–max)",
                 "fault → weight 0 seen, ms: median (min–max)",
                 "decided → weight 0 seen, ms: median (min–max)",
                 "decided, × no receivers"], out)
    if none and "bad" in data and summary(none["decided"]) and \
            summary(data["bad"]["decided"]):
        diff = med(data["bad"]["decided"]) - med(none["decided"])
        width = summary(none["decided"])[2] - summary(none["decided"])[1]
        tab += ("\n\nWith the bad receivers the median decision came %s ms "
                "%s than without; the trials without receivers alone spread "
                "over %s ms (min to max): the difference is %s than the "
                "spread between trials." % (
                    fmt(abs(diff), 0), "later" if diff > 0 else "earlier",
                    fmt(width, 0), "smaller" if abs(diff) < width else "larger"))
    missing = [NOTIFY_LABELS[k] for k in NOTIFY_RECEIVERS if k not in data]
    if missing:
        tab += "\n\nNot measured in this run: %s." % ", ".join(missing)
    return {"NOTIFY_TABLE": tab}


# ---- 6. cluster mode -------------------------------------------------------------

def p99(values):
    """The 99th percentile, nearest rank (bench/cluster.sh prints the same)."""
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]


def cluster_node_cost(path, line, kind):
    """("cpu_pct", "cluster", "node1") of a per-node cost row, or None."""
    for cost in CLUSTER_NODE_COSTS:
        for mode in CLUSTER_MODES:
            prefix = "%s_%s_" % (cost, mode)
            if kind.startswith(prefix) and len(kind) > len(prefix):
                return cost, mode, kind[len(prefix):]
    raise ResultsError("%s, line %d: kind %r is none of %s, nor "
                       "{%s}_{%s}_NODE" % (path, line, kind,
                                           ", ".join(CLUSTER_KINDS),
                                           ",".join(CLUSTER_NODE_COSTS),
                                           ",".join(CLUSTER_MODES)))


def cluster_section(res):
    """bench/cluster.sh (BENCH_PARTS=cluster, not in the default run):
    propagation and failover on three nodes and a real etcd, and what
    cluster mode costs against single-node mode. Its "ms" column holds
    each kind's own unit (the kind names it)."""
    path = os.path.join(res, "cluster.csv")
    rows = read_csv(path)
    if not rows:
        return {"CLUSTER_TABLE": NOT_MEASURED, "CLUSTER_COST": ""}
    figures = defaultdict(list)
    costs = defaultdict(dict)   # node -> {(cost, mode): value}
    for line, r in enumerate(rows, start=2):
        if r["kind"] in CLUSTER_KINDS:
            figures[r["kind"]].append(num(r["ms"]))
        else:
            cost, mode, node = cluster_node_cost(path, line, r["kind"])
            costs[node][(cost, mode)] = num(r["ms"])
    out = []
    prop, fail = figures.get("propagation"), figures.get("failover")
    if prop:
        out.append(["propagation: the leader's write of a new weight → every "
                    "node applied it", "%d changes" % len(prop),
                    "%s ms" % fmt(med(prop), 1),
                    "p99 %s ms, max %s ms" % (fmt(p99(prop), 1),
                                              fmt(max(prop), 1)),
                    "p99 ≤ %s ms" % fmt(GOAL_PROPAGATION_P99_MS),
                    verdict(p99(prop) <= GOAL_PROPAGATION_P99_MS)])
    if fail:
        out.append(["failover: SIGKILL of the leader → another node leads",
                    "%d kills" % len(fail),
                    "%s s" % fmt(med(fail) / MS_PER_S, 2),
                    "worst %s s" % fmt(max(fail) / MS_PER_S, 2),
                    "worst ≤ %s s, median ≤ %s s" % (
                        fmt(GOAL_FAILOVER_WORST_MS / MS_PER_S),
                        fmt(GOAL_FAILOVER_MEDIAN_MS / MS_PER_S, 1)),
                    verdict(max(fail) <= GOAL_FAILOVER_WORST_MS and
                            med(fail) <= GOAL_FAILOVER_MEDIAN_MS)])
    tab = table(["figure", "trials", "median", "tail", "goal", ""], out) \
        if out else NOT_MEASURED
    missing = [k for k in ("propagation", "failover") if not figures.get(k)]
    if out and missing:
        tab += "\n\nNot measured in this run: %s." % ", ".join(missing)
    cost = []
    if figures.get("etcd_writes_per_s") or figures.get("etcd_bytes_per_s"):
        cost.append("etcd traffic, the idle services on three nodes: "
                    "%s writes/s, %s bytes/s (the events of one watch on "
                    "the prefix)." % (
                        fmt(med(figures.get("etcd_writes_per_s", [])), 1),
                        fmt(med(figures.get("etcd_bytes_per_s", [])))))
    if costs:
        per_node = []
        for node in sorted(costs):
            c = costs[node]
            per_node.append([node] + [
                "%s %% / %s MiB" % (
                    fmt(c.get(("cpu_pct", mode), float("nan")), 2),
                    fmt(c.get(("rss_kb", mode), float("nan")) / KIB_PER_MIB,
                        1))
                if ("cpu_pct", mode) in c or ("rss_kb", mode) in c else "–"
                for mode in CLUSTER_MODES])
        cost.append(table(["kanaryd", "cluster mode: CPU (% of one core) / "
                           "RSS", "single-node mode: CPU / RSS"], per_node))
    return {"CLUSTER_TABLE": tab, "CLUSTER_COST": "\n\n".join(cost)}


# ---- 5. the agent ------------------------------------------------------------------

def agent_section(res, plot):
    rows = read_csv(os.path.join(res, "agent.csv"))
    if not rows:
        return {"AGENT_TABLE": "*Not measured in this run.*", "AGENT_PLOT": ""}
    tab = table(["phase", "services", "seconds", "CPU, % of one core",
                 "RSS MiB (median / max)", "scrapes/s"],
                [[r["phase"], r["services"], fmt(num(r["seconds"]), 1),
                  fmt(num(r["cpu_pct"]), 2),
                  "%s / %s" % (fmt(num(r["rss_kib_median"]) / 1024, 1),
                               fmt(num(r["rss_kib_max"]) / 1024, 1)),
                  fmt(num(r["scrapes_per_s"]), 1)] for r in rows])
    d = plot.data("agent.dat", [[i, r["phase"], r["cpu_pct"],
                                 num(r["rss_kib_median"]) / 1024]
                                for i, r in enumerate(rows)])
    img = plot.plot("agent", (
        "set multiplot layout 1,2\nset style fill solid 0.8 border -1\n"
        "set boxwidth 0.5\nset grid ytics\nunset key\nset yrange [0:*]\n"
        "set title 'kanaryd CPU'\nset ylabel '%% of one core'\n"
        "plot '%s' using 1:3:xtic(2) with boxes lc rgb '#1f77b4'\n"
        "set title 'kanaryd resident memory'\nset ylabel 'MiB'\n"
        "plot '%s' using 1:4:xtic(2) with boxes lc rgb '#ff7f0e'\n"
        "unset multiplot" % (d, d)), height=350)
    return {"AGENT_TABLE": tab, "AGENT_PLOT": img}


# ---- the machine ------------------------------------------------------------------

def machine_section(res):
    path = os.path.join(res, "meta.json")
    if not os.path.exists(path):
        return {"MACHINE": "*No run recorded.*", "COMMAND": "make bench"}
    try:
        m = json.load(open(path))
        return machine_table(res, m)
    except json.JSONDecodeError as e:
        raise ResultsError("%s: not JSON: %s" % (path, e))
    except (KeyError, TypeError, ValueError) as e:
        raise ResultsError("%s: not as bench/run.sh writes it (%s: %s)"
                           % (path, type(e).__name__, e))


def machine_table(res, m):
    parts = ", ".join("%s %d s%s" % (k, v["seconds"], "" if v["status"] == 0
                                      else " (FAILED)")
                      for k, v in m.get("parts", {}).items())
    rows = [["date (UTC)", m["date"]], ["command", "`%s`" % m["command"]],
            ["kernel", m["kernel"]],
            ["CPU", "%s, %d CPUs (`lscpu`: %s)" % (m["cpu"], m["cpus"],
                                                   os.path.relpath(os.path.join(res, "lscpu.txt")))],
            ["memory", "%d GiB" % m["memory_gib"]],
            ["commit", m.get("commit", "–")],
            ["duration", "%d s in all: %s" % (m["total_s"], parts)],
            ["load average (1, 5, 15 min)", "before %s, after %s"
             % (m["load_before"], m["load_after"])]]
    for r in m.get("reruns", []):
        rows.append(["re-run of %s" % ", ".join(r["parts"]),
                     "%s, `%s`, commit %s, %d s, load before %s, after %s"
                     % (r["date"], r["command"], r["commit"], r["total_s"],
                        r["load_before"], r["load_after"])])
    return {"MACHINE": table(["", ""], rows), "COMMAND": m["command"]}


def read_findings(res):
    """What went wrong during the runs: findings/PART.txt of every part
    (bench/run.sh), in the order the parts run."""
    folder = os.path.join(res, "findings")
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    parts = [n[:-len(".txt")] for n in names if n.endswith(".txt")]
    parts.sort(key=lambda p: (PART_ORDER.index(p) if p in PART_ORDER
                              else len(PART_ORDER), p))
    texts = [open(os.path.join(folder, p + ".txt")).read().strip() for p in parts]
    return "\n".join(t for t in texts if t)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--results", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--plots", required=True)
    p.add_argument("--template", required=True)
    a = p.parse_args()
    os.makedirs(a.plots, exist_ok=True)
    plot = Plotter(a.plots, os.path.dirname(os.path.abspath(a.report)))
    values = {}
    try:
        values.update(machine_section(a.results))
        values.update(pktcost_section(a.results, plot))
        values.update(stream_section(a.results))
        values.update(speed_changes_section(a.results))
        values.update(e2e_section(a.results, plot))
        values.update(ipv6_http_section(a.results))
        values.update(scale_section(a.results, plot))
        values.update(reaction_section(a.results, plot))
        values.update(notify_section(a.results))
        values.update(agent_section(a.results, plot))
        values.update(cluster_section(a.results))
    except ResultsError as e:
        print("report: %s; %s left as it was" % (e, a.report), file=sys.stderr)
        return 1
    text = read_findings(a.results)
    values["FINDINGS"] = ("```\n%s\n```" % text) if text else \
        "None: kanaryd logged no error or warning and never stopped during the runs."
    values["RESULTS_DIR"] = os.path.relpath(a.results, os.path.dirname(
        os.path.abspath(a.report)))
    text = open(a.template).read()
    for k, v in values.items():
        text = text.replace("@@%s@@" % k, v)
    if "@@" in text:
        left = sorted({t.split("@@")[0] for t in text.split("@@")[1::2]})
        print("report: %s has placeholders no section fills: %s; %s left as "
              "it was" % (a.template, ", ".join(left), a.report), file=sys.stderr)
        return 1
    with open(a.report, "w") as f:
        f.write(text)
    return 0

if __name__ == "__main__":
    sys.exit(main())
