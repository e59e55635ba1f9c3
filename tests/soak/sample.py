#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""tests/soak/sample.py - the soak's sampler: every --interval seconds one
CSV row of what could grow (kanaryd's memory, descriptors and CPU; the
pinned maps' entries and backend counter slots, read by kn-mapstat; the
decision logs, history and state file; the clients' requests so far).

Runs in the node's network namespace (kanaryd's API is on its loopback)
with the host's bpffs, until --until (Unix time). A sample that cannot
read something leaves that cell empty and says why on stderr: a gap (while
kanaryd restarts) is data, not a reason to stop.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

COLUMNS = [
    "time", "elapsed_s", "kanaryd_pid", "rss_kib", "fds", "threads", "cpu_pct",
    "flows", "flows_live", "replies", "replies_live", "services_entries",
    "backend_slots", "decisions", "history_points", "state_file_bytes",
    "requests", "responses", "http_5xx", "errors", "resets", "timeouts",
    "connections_new", "api_ms", "bpf_programs", "flows_established",
    "flows_idle_established", "heap_in_use_kib", "heap_free_kib",
    "rss_anon_kib", "rss_shmem_kib", "rss_file_kib",
]
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
KIB = 1024
API_TIMEOUT_S = 3


def load_line(text):
    """A line of a load's log (tests/soak/soak.sh load_loop): its JSON and the
    wall-clock time it was written at (None in logs without stamps)."""
    wall, _, rest = text.partition(" ")
    try:
        return json.loads(rest), float(wall)
    except ValueError:
        pass
    try:
        return json.loads(text), None
    except ValueError:
        return None, None


def warn(msg):
    print(f"sample.py: {msg}", file=sys.stderr, flush=True)


def read_pid(path):
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def proc_figures(pid):
    """RSS (KiB), open descriptors, threads, CPU ticks (user + system)."""
    with open(f"/proc/{pid}/statm") as f:
        rss_pages = int(f.read().split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        # after the ")" that ends the command name: fields 3 onwards
        rest = f.read().rsplit(")", 1)[1].split()
    ticks = int(rest[11]) + int(rest[12])  # utime, stime
    threads = int(rest[17])
    return rss_pages * PAGE_BYTES // KIB, fds, threads, ticks


def rss_parts(pid):
    """kanaryd's RSS by kind (KiB), from /proc/PID/status: anonymous (the
    heap, stacks), shared memory (the decision logs' texts: a memfd each,
    kanaryd/decision_log.c) and files (the program, its libraries)."""
    parts = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssShmem", "RssFile"):
                parts[key] = int(value.split()[0])
    return parts["RssAnon"], parts["RssShmem"], parts["RssFile"]


def bpf_programs(pin_dir):
    """BPF programs that hold any of the pinned maps: the attached ones, and
    any a restart or an upgrade left loaded."""
    ids = set()
    for name in os.listdir(pin_dir):
        if name.startswith("kn_"):
            out = subprocess.run(["bpftool", "-j", "map", "show", "pinned",
                                  os.path.join(pin_dir, name)],
                                 capture_output=True, text=True, timeout=10, check=True).stdout
            ids.add(json.loads(out)["id"])
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    return sum(1 for p in json.loads(out) if ids & set(p.get("map_ids", [])))


def heap_kib(api):
    """kanaryd's heap in use and held free (KiB), from its /metrics."""
    with urllib.request.urlopen(api + "/metrics", timeout=API_TIMEOUT_S) as r:
        page = r.read().decode()
    heap = {}
    for line in page.splitlines():
        if line.startswith("kanary_process_heap_bytes{"):
            state = line.split('state="', 1)[1].split('"', 1)[0]
            heap[state] = int(float(line.rsplit(" ", 1)[1])) // KIB
    return heap["in_use"], heap["free"]


def get_json(api, path):
    with urllib.request.urlopen(api + path, timeout=API_TIMEOUT_S) as r:
        return json.load(r)


class Loads:
    """Sums the kn-load per-second lines of every file in a folder, reading
    each file from where the last sample stopped."""

    FIELDS = ["requests", "responses", "5xx", "errors", "resets", "timeouts"]

    def __init__(self, folder):
        self.folder = folder
        self.offsets = {}
        self.totals = dict.fromkeys(self.FIELDS, 0)
        self.totals["connections_new"] = 0

    def update(self):
        for name in sorted(os.listdir(self.folder)):
            if not name.endswith(".log"):
                continue
            path = os.path.join(self.folder, name)
            with open(path) as f:
                f.seek(self.offsets.get(path, 0))
                while True:
                    line = f.readline()
                    if not line.endswith("\n"):
                        break  # half a line: read it next time
                    self.offsets[path] = f.tell()
                    d, _ = load_line(line)
                    if not isinstance(d, dict) or "requests" not in d:
                        continue
                    for k in self.FIELDS:
                        self.totals[k] += d.get(k, 0)
                    if name.startswith("new"):
                        self.totals["connections_new"] += d.get("requests", 0)
        return self.totals


def sample(args, loads, started, last_cpu):
    row = dict.fromkeys(COLUMNS, "")
    now = time.time()
    row["time"] = f"{now:.3f}"
    row["elapsed_s"] = f"{now - started:.1f}"
    pid = read_pid(args.pid_file)
    if pid:
        try:
            rss, fds, threads, ticks = proc_figures(pid)
            row.update(kanaryd_pid=pid, rss_kib=rss, fds=fds, threads=threads)
            row["rss_anon_kib"], row["rss_shmem_kib"], row["rss_file_kib"] = rss_parts(pid)
            if last_cpu.get("pid") == pid:
                span = now - last_cpu["time"]
                row["cpu_pct"] = f"{100.0 * (ticks - last_cpu['ticks']) / TICKS_PER_S / span:.2f}"
            last_cpu.update(pid=pid, time=now, ticks=ticks)
        except OSError as e:
            warn(f"kanaryd {pid}: {e}")
    try:
        out = subprocess.run([args.mapstat, "--pin-dir", args.pin_dir], capture_output=True,
                             text=True, timeout=30, check=True).stdout
        m = json.loads(out)
        row.update(flows=m["kn_flows"]["entries"], flows_live=m["kn_flows"]["live"],
                   replies=m["kn_replies"]["entries"], replies_live=m["kn_replies"]["live"],
                   services_entries=m["kn_services"]["entries"],
                   backend_slots=m["backend_slots_in_use"],
                   flows_established=m["kn_flows"]["live_established"],
                   flows_idle_established=m["kn_flows"]["live_established_idle_60s"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
        warn(f"kn-mapstat: {e}")
    try:
        row["bpf_programs"] = bpf_programs(args.pin_dir)
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
        warn(f"bpftool: {e}")
    try:
        t0 = time.monotonic()
        services = get_json(args.api, "/api/v1/services")["services"]
        decisions = history = 0
        for s in services:
            decisions += len(get_json(args.api, f"/api/v1/services/{s['name']}/decisions")["decisions"])
            history += len(get_json(args.api, f"/api/v1/services/{s['name']}/history")["points"])
        row.update(decisions=decisions, history_points=history,
                   api_ms=f"{(time.monotonic() - t0) * 1000:.1f}")
    except (OSError, ValueError, KeyError) as e:
        warn(f"API: {e}")
    try:
        row["heap_in_use_kib"], row["heap_free_kib"] = heap_kib(args.api)
    except (OSError, ValueError, KeyError, IndexError) as e:
        warn(f"heap from /metrics: {e}")
    try:
        row["state_file_bytes"] = os.path.getsize(args.state_file)
    except OSError as e:
        warn(f"state file: {e}")
    t = loads.update()
    row.update(requests=t["requests"], responses=t["responses"], http_5xx=t["5xx"],
               errors=t["errors"], resets=t["resets"], timeouts=t["timeouts"],
               connections_new=t["connections_new"])
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--interval", type=float, required=True)
    p.add_argument("--until", type=float, required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--pin-dir", required=True)
    p.add_argument("--state-file", required=True)
    p.add_argument("--api", required=True)
    p.add_argument("--loads", required=True)
    p.add_argument("--mapstat", required=True)
    args = p.parse_args()
    loads = Loads(args.loads)
    started = time.time()
    last_cpu = {}
    with open(args.out, "w") as out:
        out.write(",".join(COLUMNS) + "\n")
        next_t = started
        while time.time() < args.until:
            row = sample(args, loads, started, last_cpu)
            out.write(",".join(str(row[c]) for c in COLUMNS) + "\n")
            out.flush()
            next_t += args.interval
            time.sleep(max(0.0, next_t - time.time()))


if __name__ == "__main__":
    main()
