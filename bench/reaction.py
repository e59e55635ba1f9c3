# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/reaction.py - how fast kanary reacts, timed from both sides.

  probe   (client namespace) new connections back to back from fixed
          source addresses, one thread each; every request is logged with
          its start and end (CLOCK_MONOTONIC, shared by all namespaces)
          and the model version that answered.
  weights (node namespace) PUT /api/v1/services/NAME/weight, alternately
          100 % and 0 % (every client changes version), at random moments;
          each change is logged with the time it was sent and answered.
  faults  (node namespace) for each trial: a rollout held at 10 %, good
          traffic, then the canary starts failing (PUT /admin/faults
          {"error_rate": R}); the status is polled until the weight is 0,
          and the decision record says when kanaryd decided.
  weight-delays PROBE.csv PUTS.csv: per change, the time from the PUT
          being sent to the start of the first connection answered by the
          new version (and how many connections started after the PUT had
          returned still reached the old one: must be 0).

Every loop is bounded in count and in time.
"""
import argparse
import csv
import http.client
import json
import random
import socket
import sys
import threading
import time
from datetime import datetime, timezone

REQUEST_TIMEOUT_S = 2.0
# Between fault trials: far shorter than kanaryd's trailing window for the
# immediate rule (AGENT_TRAIL_LOOKBACK_MS, 10 s), which a new rollout
# restarts: a trial rolled back before its fault would mean the previous
# trial's errors were held against it.
FAULT_REST_S = 2.0
POLL_INTERVAL_S = 0.01   # status polls while waiting for the rollback
API_TIMEOUT_S = 5.0
RESPONSE_MAX_BYTES = 65536


def mono():
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def api(host, port, method, path, body=None):
    conn = http.client.HTTPConnection(host, port, timeout=API_TIMEOUT_S)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None
                 else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, (json.loads(data) if data else None)


# ---- probe -------------------------------------------------------------------

def one_request(source, host, port, payload):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(REQUEST_TIMEOUT_S)
    try:
        s.bind((source, 0))
        s.connect((host, port))
        s.sendall(payload)
        chunks = []
        total = 0
        while total < RESPONSE_MAX_BYTES:
            b = s.recv(4096)
            if not b:
                break
            chunks.append(b)
            total += len(b)
    finally:
        s.close()
    text = b"".join(chunks).decode("latin-1")
    body = text.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in text else ""
    try:
        return json.loads(body).get("model", "?")
    except ValueError:
        return "?"


def cmd_probe(a):
    host, port = a.target.rsplit(":", 1)
    port = int(port)
    body = json.dumps({"text": "is this the new model"})
    payload = ("POST /predict HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
               % (host, len(body), body)).encode()
    end = mono() + a.duration
    rows = []
    lock = threading.Lock()

    def loop(source):
        local = []
        for _ in range(a.max_requests):
            if mono() >= end:
                break
            t0 = mono()
            try:
                tag = one_request(source, host, port, payload)
            except OSError:
                tag = "error"
            local.append((t0, mono(), source, tag))
        with lock:
            rows.extend(local)

    threads = [threading.Thread(target=loop, args=(s,))
               for s in a.sources.split(",")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(a.out, "w") as f:
        w = csv.writer(f)
        w.writerow(["start", "end", "source", "model"])
        for r in sorted(rows):
            w.writerow(["%.6f" % r[0], "%.6f" % r[1], r[2], r[3]])
    return 0


# ---- weight changes ------------------------------------------------------------

def cmd_weights(a):
    host, port = a.api.rsplit(":", 1)
    rows = []
    time.sleep(a.settle)
    for trial in range(1, a.trials + 1):
        weight = 100 if trial % 2 else 0
        time.sleep(random.uniform(a.pause_min, a.pause_max))
        t0 = mono()
        status, _ = api(host, int(port), "PUT",
                        "/api/v1/services/%s/weight" % a.service,
                        {"canary_percent": weight})
        t1 = mono()
        rows.append((trial, weight, t0, t1, status))
    with open(a.out, "w") as f:
        w = csv.writer(f)
        w.writerow(["trial", "canary_percent", "sent", "answered", "status"])
        for r in rows:
            w.writerow([r[0], r[1], "%.6f" % r[2], "%.6f" % r[3], r[4]])
    return 0


def cmd_weight_delays(a):
    probes = [(float(r["start"]), float(r["end"]), r["model"])
              for r in csv.DictReader(open(a.probe))]
    puts = list(csv.DictReader(open(a.puts)))
    w = csv.writer(sys.stdout)
    w.writerow(["trial", "canary_percent", "put_ms", "first_new_ms",
                "stale_after_put"])
    for i, p in enumerate(puts):
        sent, answered = float(p["sent"]), float(p["answered"])
        new = "v2" if int(p["canary_percent"]) == 100 else "v1"
        until = float(puts[i + 1]["sent"]) if i + 1 < len(puts) else 1e18
        first = next((s for s, e, m in probes
                      if sent <= s < until and m == new), None)
        stale = sum(1 for s, e, m in probes
                    if answered <= s < until and m not in (new, "error"))
        w.writerow([p["trial"], p["canary_percent"],
                    "%.3f" % ((answered - sent) * 1000),
                    "%.3f" % ((first - sent) * 1000) if first else "",
                    stale])
    return 0


# ---- a failing canary ------------------------------------------------------------

def iso_to_epoch(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def wait_status(host, port, service, pred, timeout_s):
    deadline = mono() + timeout_s
    while mono() < deadline:
        _, st = api(host, port, "GET", "/api/v1/services/%s" % service)
        if pred(st):
            return st
        time.sleep(POLL_INTERVAL_S)
    return None


def cmd_faults(a):
    host, port = a.api.rsplit(":", 1)
    port = int(port)
    chost, cport = a.canary.rsplit(":", 1)
    cport = int(cport)
    out = open(a.out, "w")
    w = csv.writer(out)
    w.writerow(["trial", "decided_ms", "weight_zero_seen_ms", "reason"])
    spec = {"steps": [10, 100], "interval": a.hold, "warmup_requests": 0}
    for trial in range(1, a.trials + 1):
        api(chost, cport, "PUT", "/admin/faults", {"error_rate": 0})
        status, body = api(host, port, "POST",
                           "/api/v1/services/%s/rollout" % a.service, spec)
        if status != 200:
            print("faults: trial %d: rollout refused: %s" % (trial, body),
                  file=sys.stderr)
            return 1
        st = wait_status(host, port, a.service,
                         lambda s: s["phase"] == "progressing"
                         and s["canary_percent"] > 0, a.timeout)
        if not st:
            print("faults: trial %d: the rollout did not reach its first "
                  "step" % trial, file=sys.stderr)
            return 1
        time.sleep(a.good)
        _, st = api(host, port, "GET", "/api/v1/services/%s" % a.service)
        if st["phase"] != "progressing":
            print("faults: trial %d: the rollout ended before the fault "
                  "(%s: %s)" % (trial, st["phase"], st["reason"]),
                  file=sys.stderr)
            return 1
        wall0 = time.time()
        t0 = mono()
        api(chost, cport, "PUT", "/admin/faults", {"error_rate": a.error_rate})
        st = wait_status(host, port, a.service,
                         lambda s: s["canary_percent"] == 0, a.timeout)
        seen = mono()
        if not st:
            print("faults: trial %d: no rollback within %ds" %
                  (trial, a.timeout), file=sys.stderr)
            return 1
        _, dec = api(host, port, "GET",
                     "/api/v1/services/%s/decisions" % a.service)
        fails = [d for d in dec.get("decisions", [])
                 if d.get("verdict") == "fail" and d.get("time")]
        decided = (iso_to_epoch(fails[-1]["time"]) - wall0) * 1000 \
            if fails else float("nan")
        w.writerow([trial, "%.1f" % decided, "%.1f" % ((seen - t0) * 1000),
                    st.get("reason", "")])
        out.flush()
        api(chost, cport, "PUT", "/admin/faults", {"error_rate": 0})
        time.sleep(a.rest)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("probe")
    s.add_argument("--target", required=True)
    s.add_argument("--sources", required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--max-requests", type=int, default=200000)
    s.add_argument("--out", required=True)
    s = sub.add_parser("weights")
    s.add_argument("--api", required=True)
    s.add_argument("--service", required=True)
    s.add_argument("--trials", type=int, default=20)
    s.add_argument("--settle", type=float, default=1.0)
    s.add_argument("--pause-min", type=float, default=0.2)
    s.add_argument("--pause-max", type=float, default=0.5)
    s.add_argument("--out", required=True)
    s = sub.add_parser("weight-delays")
    s.add_argument("probe")
    s.add_argument("puts")
    s = sub.add_parser("faults")
    s.add_argument("--api", required=True)
    s.add_argument("--service", required=True)
    s.add_argument("--canary", required=True)
    s.add_argument("--trials", type=int, default=20)
    s.add_argument("--error-rate", type=float, default=0.3)
    s.add_argument("--hold", default="10m")
    s.add_argument("--good", type=float, default=2.0)
    s.add_argument("--rest", type=float, default=FAULT_REST_S)
    s.add_argument("--timeout", type=int, default=30)
    s.add_argument("--out", required=True)
    a = p.parse_args()
    return {"probe": cmd_probe, "weights": cmd_weights,
            "weight-delays": cmd_weight_delays, "faults": cmd_faults}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
