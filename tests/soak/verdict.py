#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""tests/soak/verdict.py - the soak's verdict, from its output folder
(tests/soak/soak.sh): does anything grow, did any request fail that the
injected faults do not explain, did every rollout end as its scenario says.

- Growth: each series' least-squares slope over the samples after warm-up,
  against a bound stated per series (SERIES below, with the reason). The
  agent's own figures (memory, descriptors, threads, CPU) restart with each
  kanaryd: their slope is fitted within each life (one intercept per
  kanaryd, one common slope), so a restart neither hides nor fakes growth.
  Series with a cap by design (the LRU connection table, the decision log,
  the history) are checked against that cap.
- Failures: every kn-load per-second line with a failure (a 5xx answer, or
  no answer: reset, timeout, refused, closed) is given a cause from the
  run's events: a canary's injected error rate (5xx only, on that service,
  while the fault was on), or a kanaryd restart window (which must explain
  nothing: the data path forwards without its agent), or none.
- Rollouts: each one's phase against its scenario's.

Prints the verdict (and writes verdict.txt); with --report writes SOAK.md
and its plots (gnuplot, through bench/report.py's Plotter). Exit status 0
when everything passed, 1 when something did not, 2 (INCONCLUSIVE) when
only growth failed and the run ended before kanaryd's decision logs and
histories reached their caps (their filling cannot be told from a leak).

Usage: verdict.py OUT_DIR [--report SOAK.md --plots DIR --results DIR]

--results copies what the report is made from there, the load logs
gzipped, so that the committed tests/soak/results/ remakes SOAK.md by itself:
verdict.py tests/soak/results --report SOAK.md --plots tests/soak/plots
--notes tests/soak/results/notes.md
"""
import argparse
import csv
import gzip
import importlib.util
import json
import os
import shutil
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KANARY_ROOT") or os.path.abspath(os.path.join(HERE, "..", ".."))
_spec = importlib.util.spec_from_file_location(
    "bench_report", os.path.join(ROOT, "bench", "report.py"))
bench_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_report)
sys.path.insert(0, HERE)
import sample  # noqa: E402  (tests/soak/sample.py: how a load's line reads)
fmt, table, Plotter = bench_report.fmt, bench_report.table, bench_report.Plotter

S_PER_H = 3600.0
# What the report keeps of a run, and the kn-load logs (loads/, gzipped):
# enough to make the report again.
RESULT_FILES = ["run.txt", "samples.csv", "events.csv", "rollouts.csv", "failures.csv",
                "max_entries.json", "kanary.json", "verdict.txt"]
LOAD_LOG, LOAD_SUMMARY = ".log", ".summary"
# Warm-up: the first WARMUP_SHARE of the run (at least WARMUP_MIN_S): the
# state file fills to its 200 decisions per service, the connection table
# to its steady number of live flows.
WARMUP_SHARE = 0.15
WARMUP_MIN_S = 60
# Each kanaryd's first seconds: it loads, adopts, reads every backend.
LIFE_WARMUP_S = 30
# A failure line this close after a fault was switched off still belongs
# to it (kn-load reports once a second; an answer in flight finishes).
FAULT_SLACK_S = 3.0
# A kanaryd restart window: from the kill to this long after the new one
# serves its API.
RESTART_SLACK_S = 3.0
ROLLOUT_SERVICES = 3  # soak0..2, with three backends each
HOLD_SERVICES = 1  # soakhold: one backend, the keep-alive clients
SERVICES_CONFIGURED = ROLLOUT_SERVICES + HOLD_SERVICES
BACKENDS = ROLLOUT_SERVICES * 3 + HOLD_SERVICES
DECISIONS_CAP = 1000  # per service, kanaryd/agent_internal.h
HISTORY_CAP = 900  # per service, one point a second for 15 minutes
DECISION_LOG_KIB = 1024  # per service, DECISION_LOG_BYTES in kanaryd/decision_log.h

# column, label, unit, fit, bound kind and value, why that bound. Fits:
#   "run": over the run after warm-up (what outlives kanaryd: the maps, the
#          state file, the clients);
#   "steady": kanaryd's own figures, over its steady stretch: the last
#          kanaryd's life (the quiet tail, no kill) from when every decision
#          log and every service's history is at its cap (its memory, and
#          the cost of serving them, grow until then by design: the history
#          starts empty with each kanaryd and fills in 15 minutes), or after
#          that life's warm-up when they never got there. The slope within
#          each life (one intercept per kanaryd) over the whole run is shown
#          beside it.
#   "abs": |slope| per hour at most the value (in the unit)
#   "rel": |slope| per hour at most the value x the post-warm-up mean
#   "cap": every sample at most the value (growth until a cap is the design)
#   "shown": fitted and shown, not judged (its parts are)
SERIES = [
    ("rss_kib", "kanaryd RSS, all of it", "KiB", "steady", "shown", None,
     "shown, not judged: its two parts are, below"),
    ("rss_outside_logs_kib", "kanaryd RSS outside the decision logs", "KiB", "steady", "abs", 1024,
     "1 MiB/h (24 MiB a day): a leak of 2 KiB per rollout (~500 an hour) would pass it, 5 KiB "
     "would not (in a run sampled before RSS was by kind, all of RSS)"),
    ("rss_shmem_kib", "kanaryd decision logs' texts (RssShmem)", "KiB", "run", "cap",
     SERVICES_CONFIGURED * DECISION_LOG_KIB,
     "at most 1 MiB of text per service (kanaryd/decision_log.h), each page resident from when "
     "a text first reaches it: it grows after the 1000-record cap until the texts wrap"),
    ("heap_in_use_kib", "kanaryd heap in use (malloc)", "KiB", "steady", "abs", 512,
     "512 KiB/h: what kanaryd holds allocated; a leak grows it whatever the allocator "
     "does with the pages (RSS also counts freed memory the allocator keeps)"),
    ("fds", "kanaryd open descriptors", "fds", "steady", "abs", 5,
     "5/h: one leaked descriptor per rollout or per restart would be ~500/h or ~15/h; "
     "API and scrape sockets come and go (±3 per sample)"),
    ("threads", "kanaryd threads", "threads", "steady", "abs", 1,
     "1/h: the thread count is fixed by design"),
    ("cpu_pct", "kanaryd CPU", "% of a core", "steady", "abs", 2.0,
     "2 points/h (48 a day): kanaryd uses 1-4 % of a core; a sample's CPU varies by about "
     "±0.5 point, so a 12-minute stretch fits a slope to about ±1 point/h"),
    ("flows_live", "live connection-table entries", "entries", "run", "rel", 0.10,
     "10 % of the mean per hour: the live flows follow the steady load (closing ones expire in 10 s)"),
    ("replies_live", "live reply-table entries", "entries", "run", "rel", 0.10,
     "as for the connection table"),
    ("flows_idle_established", "live established entries idle over a minute", "entries", "run",
     "abs", 30, "30/h (720 a day): the keep-alive clients are never idle a minute, so these are "
     "connections whose end the programs missed, each live for 24 h"),
    ("flows", "connection-table entries (LRU)", "entries", "run", "cap", None,
     "at most max_entries: expired entries stay until the LRU reclaims them (docs/design.md), "
     "in memory allocated up front"),
    ("replies", "reply-table entries (LRU)", "entries", "run", "cap", None, "as for the connection table"),
    ("bpf_programs", "BPF programs holding the pinned maps", "programs", "run", "cap", 3,
     "the three attached (XDP ingress, tc ingress, tc egress): one a restart or the upgrade "
     "left loaded would be one more"),
    ("services_entries", "kn_services entries", "entries", "run", "cap", SERVICES_CONFIGURED,
     "exactly the configured services"),
    ("backend_slots", "backend counter slots in use", "slots", "run", "cap",
     BACKENDS, "at most the backends that exist: a slot not freed would be one more"),
    ("decisions", "decision-log records (all services)", "records", "run", "cap",
     SERVICES_CONFIGURED * DECISIONS_CAP, "the log keeps the last 1000 per service"),
    ("history_points", "history points (all services)", "points", "run", "cap",
     SERVICES_CONFIGURED * HISTORY_CAP, "one a second for the last 15 minutes"),
    ("state_file_bytes", "state-file size", "bytes", "run", "rel", 0.10,
     "10 % of the mean per hour: it keeps the last 200 decisions per service"),
    ("api_ms", "API answer time (status, decisions, history)", "ms", "steady", "abs", 20,
     "20 ms/h: an answer that grows with the run's age would be a log not trimmed"),
    ("responses_per_s", "client answers per second", "1/s", "run", "rel", 0.05,
     "5 % of the mean per hour: the load is fixed, its answers must not fall off"),
]


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def pooled_fit(groups):
    """Least squares over several groups of [(t, y)], each with its own
    intercept and one common slope: (slope, its standard error), or
    (None, None) with too few points."""
    sxy = sxx = 0.0
    fitted = []
    for pts in groups:
        if len(pts) < 3:
            continue
        mt = sum(t for t, _ in pts) / len(pts)
        my = sum(y for _, y in pts) / len(pts)
        sxx += sum((t - mt) ** 2 for t, _ in pts)
        sxy += sum((t - mt) * (y - my) for t, y in pts)
        fitted.append((pts, mt, my))
    n = sum(len(p) for p, _, _ in fitted)
    if not sxx or n <= len(fitted) + 1:
        return None, None
    b = sxy / sxx
    rss = sum((y - my - b * (t - mt)) ** 2 for pts, mt, my in fitted for t, y in pts)
    return b, (rss / (n - len(fitted) - 1) / sxx) ** 0.5


def slope(points):
    """Least-squares slope of [(t, y)] and its standard error."""
    return pooled_fit([points])


def pooled_slope(groups):
    """One slope over several groups, each with its own intercept."""
    return pooled_fit(groups)[0]


def load_files(folder, kind):
    """The load logs of one kind in folder, by load name: NAME.kind, or
    NAME.kind.gz as --results keeps them."""
    found = {}
    for name in sorted(os.listdir(folder)):
        for suffix in (kind, kind + ".gz"):
            if name.endswith(suffix):
                found[name[:-len(suffix)]] = os.path.join(folder, name)
    return found


def open_text(path):
    return gzip.open(path, "rt") if path.endswith(".gz") else open(path)


def keep_loads(folder, results):
    """Copies the load logs into results/loads, gzipped."""
    dest = os.path.join(results, "loads")
    os.makedirs(dest, exist_ok=True)
    for kind in (LOAD_LOG, LOAD_SUMMARY):
        for name, path in load_files(folder, kind).items():
            with open_text(path) as src, gzip.open(
                    os.path.join(dest, name + kind + ".gz"), "wt") as dst:
                shutil.copyfileobj(src, dst)


def load_lines(folder):
    """Every kn-load per-second line as [load name, end time, interval,
    line, stamped]: the end time is the wall-clock stamp the line was
    written with, or (logs without stamps) its chunk's start plus its t_s,
    on kn-load's monotonic clock (align_unstamped() corrects it)."""
    out = []
    for name, path in load_files(folder, LOAD_LOG).items():
        start = None
        with open_text(path) as f:
            for line in f:
                d, wall = sample.load_line(line)
                if not isinstance(d, dict):
                    continue
                if "chunk_start" in d:
                    start = d["chunk_start"]
                elif "t_s" in d and wall is not None:
                    out.append([name, wall, d["interval_s"], d, True])
                elif "t_s" in d and start is not None:
                    out.append([name, start + d["t_s"], d["interval_s"], d, False])
    return out


def align_unstamped(lines, samples):
    """Lines without a wall-clock stamp: a chunk's start plus t_s drifts
    from the wall clock (the VM's wall clock is slewed and stepped: seconds
    within a 10-minute chunk). The sampler read the logs as they grew, at
    known wall-clock times, with the requests counted so far: the wall time
    of the first sample that counted a line, minus the computed time of the
    last line it counted, is the offset (plus that line's wait to be read,
    0 to 1 s); the line is moved by it."""
    todo = sorted((ln for ln in lines if not ln[4]), key=lambda ln: ln[1])
    marks = [(num(r["time"]), num(r["requests"])) for r in samples]
    marks = [m for m in marks if None not in m]
    k, counted = 0, 0
    for wall, seen in marks:
        first = k
        while k < len(todo) and counted + todo[k][3].get("requests", 0) <= seen:
            counted += todo[k][3].get("requests", 0)
            k += 1
        if k > first:
            shift = max(wall - todo[k - 1][1], 0.0)
            for ln in todo[first:k]:
                ln[1] += shift


def windows(events, on, off, match):
    """[(service, start, end, what)] from pairs of events."""
    opened, out = {}, []
    for e in events:
        key = (e["service"], e["detail"].split()[0] if e["detail"] else "")
        if e["event"] == on and match(e):
            opened[key] = float(e["time"])
        elif e["event"] == off and key in opened:
            out.append((key[0], opened.pop(key), float(e["time"]), key[1]))
    # one the run ended before switching off (a driver stopped) lasts to the end
    out += [(k[0], t, float("inf"), k[1]) for k, t in opened.items()]
    return out


def restart_windows(events):
    out, kill_t = [], None
    for e in events:
        if e["event"] == "kill":
            kill_t = float(e["time"])
        elif e["event"] == "started" and kill_t is not None:
            out.append((kill_t, float(e["time"]) + RESTART_SLACK_S))
            kill_t = None
    return out


def failures_by_cause(lines, events):
    """Counts per cause, and one row per load line with a failure."""
    errors_on = windows(events, "fault_on", "fault_off", lambda e: e["detail"] == "errors")
    restarts = restart_windows(events)
    causes, rows = Counter(), []
    for name, t_end, span, d, _ in lines:
        svc = "soak" + name[-1] if name.startswith("new") else "soakhold"
        t0 = t_end - span
        fivexx = d.get("5xx", 0)
        lost = d.get("errors", 0)
        if fivexx:
            injected = any(s == svc and a <= t_end and t0 <= b + FAULT_SLACK_S
                           for s, a, b, _ in errors_on)
            cause = ("HTTP 5xx while the canary's error rate was injected" if injected
                     else "HTTP 5xx with no fault injected (finding)")
            causes[cause] += fivexx
            rows.append(["%.3f" % t_end, name, fivexx, "5xx", cause])
        if lost:
            in_restart = any(a <= t_end and t0 <= b for a, b in restarts)
            cause = ("no answer during a kanaryd restart (finding: the data path must forward)"
                     if in_restart else "no answer, no fault to explain it (finding)")
            causes[cause] += lost
            rows.append(["%.3f" % t_end, name, lost, "no answer", cause])
    return causes, rows


def series_values(samples):
    """Adds responses_per_s (from the cumulative responses) and
    rss_outside_logs_kib (RSS less the decision logs' shared memory; all of
    RSS where the run did not sample it by kind) to each sample."""
    prev = None
    for r in samples:
        rss, logs = num(r.get("rss_kib")), num(r.get("rss_shmem_kib"))
        r["rss_outside_logs_kib"] = "" if rss is None else rss - (logs or 0)
        r["responses_per_s"] = ""
        t, resp = num(r["time"]), num(r["responses"])
        if prev and t and resp is not None and t > prev[0]:
            r["responses_per_s"] = (resp - prev[1]) / (t - prev[0])
        if t and resp is not None:
            prev = (t, resp)
    return samples


def steady_start(samples):
    """Elapsed seconds where the last kanaryd's steady stretch begins, and
    whether its decision logs and histories reached their caps."""
    pid = samples[-1]["kanaryd_pid"]
    life = [r for r in samples if r["kanaryd_pid"] == pid and num(r["elapsed_s"]) is not None]
    start = num(life[0]["elapsed_s"]) + LIFE_WARMUP_S if life else 0.0
    caps = [("decisions", ROLLOUT_SERVICES * DECISIONS_CAP),  # soakhold logs next to nothing
            ("history_points", SERVICES_CONFIGURED * HISTORY_CAP)]
    full = [num(r["elapsed_s"]) for r in life
            if all((num(r.get(c)) or 0) >= cap for c, cap in caps)]
    return (max(start, full[0]), True) if full else (start, False)


def judge_series(samples, warmup_end_s, max_entries):
    results = []
    steady_from, _ = steady_start(samples)
    for col, label, unit, fit, kind, bound, why in SERIES:
        if col not in samples[0]:
            # a column the sampler gained after this run: not measured, not passed
            results.append(dict(col=col, label=label, ok=True, why=why,
                                note="not measured in this run"))
            continue
        pts = [(num(r["elapsed_s"]), num(r.get(col)), r["kanaryd_pid"]) for r in samples]
        pts = [p for p in pts if p[0] is not None and p[1] is not None]
        if not pts:
            results.append(dict(col=col, label=label, ok=False, why=why, note="no samples"))
            continue
        after = [p for p in pts if p[0] >= warmup_end_s]
        lives_slope = None
        if fit == "steady":
            lives = defaultdict(list)
            for t, y, pid in pts:
                lives[pid].append((t, y))
            groups = []
            for life in lives.values():
                t_first = life[0][0]
                groups.append([(t / S_PER_H, y) for t, y in life if t - t_first >= LIFE_WARMUP_S])
            lives_slope = pooled_slope(groups)
            steady = [(t / S_PER_H, y) for t, y, pid in pts if pid == pts[-1][2] and t >= steady_from]
            s, se = slope(steady)
            fitted = len(steady)
            after = [p for p in pts if p[2] == pts[-1][2] and p[0] >= steady_from]
        else:
            s, se = slope([(t / S_PER_H, y) for t, y, _ in after])
            fitted = len(after)
        mean = sum(y for _, y, _ in after) / len(after) if after else None
        top = max(y for _, y, _ in pts)
        if kind == "shown":
            ok, rule = True, "–"
        elif kind == "cap":
            cap = bound if bound is not None else max_entries.get(col)
            ok = cap is not None and top <= cap
            rule = "max %s ≤ %s" % (fmt(top), fmt(cap))
        elif kind == "rel":
            limit = bound * abs(mean) if mean else None
            ok = s is not None and limit is not None and abs(s) <= limit
            rule = "slope within ±%s/h (%.0f %% of the mean %s)" % (
                fmt(limit, 2) if limit is not None else "–", bound * 100, fmt(mean, 1))
        else:
            ok = s is not None and abs(s) <= bound
            rule = "slope within ±%s %s/h" % (fmt(bound, 2), unit)
        results.append(dict(col=col, label=label, unit=unit, ok=ok, kind=kind, slope=s, rule=rule,
                            why=why,
                            first=pts[0][1], last=pts[-1][1], top=top, fitted=fitted,
                            fit=fit, lives_slope=lives_slope, se=se))
    return results


def verdict_word(r, passed, failed, shown):
    if r.get("kind") == "shown":
        return shown
    return passed if r["ok"] else failed


def slope_text(r, digits):
    if r["slope"] is None:
        return "–"
    return "%s ± %s %s/h" % (fmt(r["slope"], digits), fmt(r["se"], digits), r["unit"])


def rss_per_record(samples):
    """KiB of kanaryd's RSS per decision-log record: RSS against the log's
    length within each life (one intercept per kanaryd), after each life's
    warm-up. What the capped log costs, not a leak."""
    lives = defaultdict(list)
    for r in samples:
        t, rss, n = num(r["elapsed_s"]), num(r["rss_kib"]), num(r["decisions"])
        if None not in (t, rss, n):
            lives[r["kanaryd_pid"]].append((t, n, rss))
    groups = [[(n, rss) for t, n, rss in life if t - life[0][0] >= LIFE_WARMUP_S]
              for life in lives.values()]
    return pooled_slope(groups)


RSS_PARTS = [
    ("rss_anon_kib", "anonymous memory (/proc/PID/status RssAnon: the heap, stacks)"),
    ("heap_in_use_kib", "of it, the heap in use (kanaryd's /metrics)"),
    ("heap_free_kib", "of it, the heap held free (not all resident)"),
    ("rss_shmem_kib", "the decision logs' texts (RssShmem: a memfd each)"),
    ("rss_file_kib", "files (RssFile: the program, its libraries)"),
]


def rss_parts_text(samples, steady_from):
    """Where kanaryd's RSS is at the start of its steady stretch and at the
    end; nothing for runs sampled before the parts were."""
    life = [r for r in samples if r["kanaryd_pid"] == samples[-1]["kanaryd_pid"]
            and (num(r["elapsed_s"]) or 0) >= steady_from]
    if not life or any(num(life[i].get(c)) is None for c, _ in RSS_PARTS for i in (0, -1)):
        return []
    rows = [[label, fmt(num(life[0][c]), 1), fmt(num(life[-1][c]), 1),
             fmt(num(life[-1][c]) - num(life[0][c]), 1)] for c, label in RSS_PARTS]
    return ["", "Where kanaryd's RSS is (KiB), from the start of its steady stretch to the end:",
            "", table(["part", "at %s s" % fmt(num(life[0]["elapsed_s"])), "at the end", "change"],
                      rows)]


def rollout_summary(rollouts):
    by = Counter((r["scenario"], r["expected"], r["actual"]) for r in rollouts)
    wrong = [r for r in rollouts if r["expected"] != r["actual"]]
    return by, wrong


def run_figures(out, samples, lines, events):
    run = dict(kv.split("=") for kv in open(os.path.join(out, "run.txt")).read().split())
    last = samples[-1]
    summaries = defaultdict(int)
    for path in load_files(os.path.join(out, "loads"), LOAD_SUMMARY).values():
        with open_text(path) as f:
            text = f.read()
        # one JSON object per chunk, one after the other
        dec, i = json.JSONDecoder(), 0
        while i < len(text):
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            d, i = dec.raw_decode(text, i)
            summaries["connections"] += d.get("connections_opened", 0)
            summaries["attempts"] += d.get("attempts", 0)
            summaries["responses"] += d.get("responses", 0)
            summaries["unfinished"] += d.get("unfinished", 0)
    kills = Counter(e["detail"].split()[0] for e in events if e["event"] == "kill")
    return dict(duration_s=int(run["end"]) - int(run["start"]), sample_s=run["sample_s"],
                samples=len(samples), kills=kills, load=summaries,
                requests=int(num(last["requests"]) or 0),
                responses=int(num(last["responses"]) or 0),
                findings=[e for e in events if e["event"] == "finding"])


def report_text(out, samples, figures, results, causes, by, wrong, plots, warmup_s):
    d = figures
    L = ["# SOAK: a month of rollouts in an hour", "",
         "Generated by `tests/soak/verdict.py` from the run in `%s` (`make soak SOAK_REPORT=1`); "
         "do not edit by hand. What the soak does and how it judges is in "
         "`tests/soak/soak.sh` and `tests/soak/verdict.py`." % os.path.relpath(out, ROOT),
         "", "## What it does", "",
         "Namespaces as in the end-to-end tests (`tests/lib/topology.sh`), kanaryd on the node, "
         "kanary-modelserver backends. Three HTTP services (`soak0`-`soak2`) with three "
         "backends each (A, B, a spare), and `soakhold` with one backend and no canary.",
         "",
         "- **Load, the whole run**: per rollout service 25 requests/s, a new connection each, "
         "from 80 client addresses; 24 keep-alive connections to `soakhold` from 24 more "
         "addresses, a request every 0.5 s on each (on their own service because a keep-alive "
         "connection stays on the pool it opened on, and would make the stable pool look faster "
         "than the canary). kn-load, in chunks of at most 10 minutes, answers within 3 s or it is "
         "a failure.",
         "- **Rollouts, back to back on each service**, by scenario in turn: a good canary "
         "(promoted); 30 % errors injected after 3 s (rolled back); 150 ms of latency (rolled "
         "back); predictions skewed to one label (rolled back); paused after 2 s, resumed 4 s "
         "later (promoted); aborted after 3 s. Steps 25/50/100 % every 5 s, 20 warm-up requests "
         "per canary backend. After a promotion the old stable backend is the next canary.",
         "- **Between rollouts**: the spare backend joins the stable pool and leaves it, the "
         "canary pool is emptied and set again, and the weight is set by hand twelve times.",
         "- **kanaryd** is killed with SIGKILL every 3 minutes in the first 25 minutes and "
         "started again; once, half way, the build with another flow-table layout is started "
         "instead (maps migrated, programs replaced in place: docs/design.md, Upgrades) and runs "
         "from then on. The last 35 minutes are one kanaryd's life, long enough for the decision "
         "logs to reach their cap.",
         "- **Sampled every 5 s** (`tests/soak/sample.py`): kanaryd's RSS, descriptors, threads "
         "and CPU from /proc; the pinned maps' entries, live connection-table entries and backend "
         "counter slots in use (`kn-mapstat`); decision-log and history sizes and the answer time "
         "from the API; the state file's size; the clients' requests, answers and failures.",
         "", "## The run", ""]
    rollouts = sum(by.values())
    L.append(table(["figure", "value"], [
        ["duration", "%s s (%.1f h)" % (fmt(d["duration_s"]), d["duration_s"] / S_PER_H)],
        ["samples", "%s, every %s s" % (fmt(d["samples"]), d["sample_s"])],
        ["rollouts", fmt(rollouts)],
        ["kanaryd SIGKILLs + restarts", fmt(d["kills"].get("sigkill", 0))],
        ["kanaryd upgrades (SIGKILL, then the other build over the running data path)",
         fmt(d["kills"].get("upgrade", 0))],
        ["client connections opened", fmt(d["load"]["connections"])],
        ["client requests", fmt(d["load"]["attempts"])],
        ["answers", fmt(d["load"]["responses"])],
        ["requests in flight when a load chunk ended (not failures)", fmt(d["load"]["unfinished"])],
    ]))
    L += ["", "## Rollouts", ""]
    L.append(table(["scenario", "expected", "ended", "count"],
                   [[s, e, a, fmt(n)] for (s, e, a), n in sorted(by.items())]))
    L.append("")
    L.append("**Every rollout ended in its scenario's phase.**" if not wrong else
             "**%d rollouts did not end as their scenario expects.**" % len(wrong))
    L += ["", "## Failed requests, by cause", ""]
    L.append(table(["cause", "requests"], [[c, fmt(n)] for c, n in sorted(causes.items())])
             if causes else "No request failed.")
    steady_from, full = steady_start(samples)
    L += ["", "## Does anything grow?", "",
          "Slopes are least squares. What outlives kanaryd (maps, state file, clients) is fitted "
          "over the run after a warm-up of %s s. kanaryd's own figures (memory, descriptors, "
          "threads, CPU, API answer time) are fitted over its steady stretch: the last kanaryd, "
          "from %s s into the run (%s) to the end." % (
              fmt(warmup_s), fmt(steady_from),
              "every decision log at its cap of 1000 records and every history at its 900 points"
              if full else
              "%d s after it started; the decision logs or histories never reached their caps"
              % LIFE_WARMUP_S),
          ""]
    rows = []
    for r in results:
        if "slope" not in r:
            rows.append([r["label"], "–", "–", "–", r.get("note", ""),
                         "not measured" if r["ok"] else "**fail**", r["why"]])
            continue
        rows.append([r["label"], "%s → %s" % (fmt(r["first"], 1), fmt(r["last"], 1)),
                     fmt(r["top"], 1), slope_text(r, 2), r["rule"],
                     verdict_word(r, "pass", "**fail**", "shown"), r["why"]])
    L.append(table(["series", "start → end", "max", "fitted slope ± standard error", "bound",
                    "verdict", "why this bound"], rows))
    per_record = rss_per_record(samples)
    if per_record is not None:
        L += ["", "kanaryd's memory per decision-log record (RSS against the log's length within "
              "each life): **%s KiB**; at the cap (1000 records per service) that is about %s MiB "
              "per service." % (fmt(per_record, 1), fmt(per_record * DECISIONS_CAP / 1024, 1))]
    L += rss_parts_text(samples, steady_from)
    if d["findings"]:
        L += ["", "## Findings the drivers logged", ""]
        L += ["- %s: %s" % (e["service"], e["detail"]) for e in d["findings"]]
    L += ["", "## Plots", ""] + plots
    return "\n".join(L) + "\n"


def draw(plot, samples, kills_at, steady_from_s, warmup_s):
    def data(name, cols, scale=1.0):
        rows = []
        for r in samples:
            t = num(r["elapsed_s"])
            vals = [num(r.get(c)) for c in cols]
            rows.append([t / 60.0] + [("%g" % (v / scale)) if v is not None else "NaN" for v in vals])
        return plot.data(name, rows)

    marks = "".join("set arrow from %g, graph 0 to %g, graph 1 nohead dt 3 lc rgb '#999999'\n"
                    % (k / 60.0, k / 60.0) for k in kills_at)
    # where the fits start: the run's warm-up (grey), kanaryd's steady stretch (green)
    marks += "set arrow from %g, graph 0 to %g, graph 1 nohead lw 2 lc rgb '#bbbbbb'\n" % (
        warmup_s / 60.0, warmup_s / 60.0)
    marks += "set arrow from %g, graph 0 to %g, graph 1 nohead lw 2 lc rgb '#2ca02c'\n" % (
        steady_from_s / 60.0, steady_from_s / 60.0)
    end_min = max(num(r["elapsed_s"]) or 0 for r in samples) / 60.0
    panels = [
        ("agent", "kanaryd (dotted: a SIGKILL or the upgrade; green: its steady stretch begins)", [
            ("rss_kib", "RSS (MiB)", 1024.0), ("heap_in_use_kib", "heap in use (MiB)", 1024.0),
            ("fds", "open descriptors", 1.0),
            ("threads", "threads", 1.0), ("cpu_pct", "CPU (% of a core)", 1.0),
            ("api_ms", "API answer time (ms)", 1.0)]),
        ("maps", "pinned maps", [
            ("flows", "kn_flows entries", 1.0), ("flows_live", "kn_flows live", 1.0),
            ("replies_live", "kn_replies live", 1.0),
            ("backend_slots", "backend counter slots in use", 1.0),
            ("bpf_programs", "BPF programs holding the maps", 1.0)]),
        ("logs", "decision log, history, state file", [
            ("decisions", "decisions", 1.0), ("history_points", "history points", 1.0),
            ("state_file_bytes", "state file (KiB)", 1024.0)]),
        ("traffic", "clients", [
            ("responses_per_s", "answers/s", 1.0), ("http_5xx", "5xx (cumulative)", 1.0),
            ("errors", "no answer (cumulative)", 1.0)]),
    ]
    out = []
    for name, title, cols in panels:
        subplots = []
        for i, (c, label, scale) in enumerate(cols):
            f = data("%s_%d" % (name, i), [c], scale)
            subplots.append("set title '%s'\n%splot '%s' using 1:2 with lines lw 2 notitle" % (
                label, marks, f))
        script = ("set multiplot layout %d,1 title '%s'\nset xlabel 'minutes'\nset grid\n"
                  "set xrange [0:%g]\nset yrange [0:*]\n%s\nunset multiplot" % (
                      len(cols), title, end_min, "\n".join(subplots)))
        out.append(plot.plot("soak_" + name, script, height=230 * len(cols)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--report")
    p.add_argument("--plots")
    p.add_argument("--results", help="where the run's CSVs are copied for the report")
    p.add_argument("--notes", help="a Markdown file: what was found and done, for the report")
    a = p.parse_args()
    out = a.out
    samples = series_values(read_csv(os.path.join(out, "samples.csv")))
    events = read_csv(os.path.join(out, "events.csv"))
    rollouts = read_csv(os.path.join(out, "rollouts.csv"))
    lines = load_lines(os.path.join(out, "loads"))
    align_unstamped(lines, samples)
    figures = run_figures(out, samples, lines, events)
    warmup_s = max(WARMUP_MIN_S, WARMUP_SHARE * figures["duration_s"])
    mapstat = os.path.join(out, "max_entries.json")
    max_entries = json.load(open(mapstat)) if os.path.exists(mapstat) else {}
    results = judge_series(samples, warmup_s, max_entries)
    causes, failure_rows = failures_by_cause(lines, events)
    with open(os.path.join(out, "failures.csv"), "w") as f:
        w = csv.writer(f)
        w.writerow(["time", "load", "requests", "kind", "cause"])
        w.writerows(failure_rows)
    by, wrong = rollout_summary(rollouts)
    unexplained = sum(n for c, n in causes.items() if "finding" in c)
    grew = [r for r in results if not r["ok"]]

    v = ["soak verdict for %s" % out,
         "  rollouts: %d, %d not in their scenario's phase" % (len(rollouts), len(wrong))]
    v += ["    %s ended %s, expected %s (started %s)" % (r["service"], r["actual"], r["expected"],
                                                        r["time"]) for r in wrong]
    v.append("  failed requests by cause:" + ("" if causes else " none"))
    v += ["    %8d  %s" % (n, c) for c, n in sorted(causes.items())]
    v.append("  series (slope per hour after warm-up; bound):")
    for r in results:
        if "slope" not in r:
            v.append("    %s %-45s %s" % ("--  " if r["ok"] else "FAIL", r["label"],
                                          r.get("note", "")))
            continue
        v.append("    %s %-45s %12s -> %-12s slope %s  [%s]" % (
            verdict_word(r, "ok  ", "FAIL", "--  "), r["label"], fmt(r["first"], 1), fmt(r["last"], 1),
            slope_text(r, 3), r["rule"]))
    v += ["  finding: %s %s" % (e["service"], e["detail"]) for e in figures["findings"]]
    broken = wrong or unexplained or figures["findings"]
    passed = not broken and not grew
    # Before the logs and histories are full, kanaryd's figures grow as
    # they fill: a run that ended first cannot tell that from a leak.
    inconclusive = not broken and grew and not steady_start(samples)[1]
    if inconclusive:
        v.append("  kanaryd's decision logs and histories never reached their caps: "
                 "what grew may be their filling, not a leak (the hour, make soak, gets there)")
    v.append("VERDICT: %s" % ("PASS" if passed else "INCONCLUSIVE" if inconclusive else "FAIL"))
    text = "\n".join(v) + "\n"
    print(text, end="")
    with open(os.path.join(out, "verdict.txt"), "w") as f:
        f.write(text)

    if a.report:
        os.makedirs(a.plots, exist_ok=True)
        if a.results and os.path.abspath(a.results) != os.path.abspath(out):
            os.makedirs(a.results, exist_ok=True)
            for name in RESULT_FILES:
                if os.path.exists(os.path.join(out, name)):
                    shutil.copy(os.path.join(out, name), a.results)
            keep_loads(os.path.join(out, "loads"), a.results)
            out = a.results
        plot = Plotter(a.plots, os.path.dirname(os.path.abspath(a.report)))
        start = float(samples[0]["time"])
        kills_at = [float(e["time"]) - start for e in events if e["event"] == "kill"]
        plots = draw(plot, samples, kills_at, steady_start(samples)[0], warmup_s)
        body = report_text(out, samples, figures, results, causes, by, wrong, plots, warmup_s)
        body += "\n## Verdict\n\n```\n%s```\n" % text
        if a.notes:
            body += "\n## Findings, and what was done\n\n" + open(a.notes).read()
        with open(a.report, "w") as f:
            f.write(body)
    return 0 if passed else 2 if inconclusive else 1


if __name__ == "__main__":
    sys.exit(main())
