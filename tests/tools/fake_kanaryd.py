#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/tools/fake_kanaryd.py - an HTTP server on kanaryd's API port that
# answers kanaryctl the way kanaryd never would, for kanaryctl's tests:
#   escape    kanaryd's shapes, with terminal escape sequences (ESC [2J,
#             the C1 CSI) in every string: names, phases, reasons, errors
#   empty     200 with {} to everything
#   nonsense  200 with a text page to everything
#   redirect  301 to elsewhere with an HTML page, as a web server does
#   counted   kanaryd's shapes for three services whose status carries its
#             pools' signals; GET /_requests says how many API requests came
# Usage: fake_kanaryd.py MODE ADDR PORT [LIFETIME_S]
# Exits by itself after LIFETIME_S (default 300): every test server is bounded.
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ESC = "\x1b[2J\x1b]0;owned\x07\u009b31m"
SERVICES = ("alpha", "beta", "gamma")
POOLS = {
    "stable": {"requests": 200, "error_rate_pct": 1.5, "p99_ms": 12.3},
    "canary": {"requests": 20, "error_rate_pct": 7.25, "p99_ms": 45.6},
}
requests = 0
lock = threading.Lock()


def service(name, mode):
    tag = ESC if mode == "escape" else ""
    return {"name": name + tag, "vip": "198.18.0.1:80" + tag,
            "phase": "progressing" + tag, "canary_percent": 10.0, "step": 1,
            "steps": 3, "reason": "step 1" + tag, "pools": POOLS,
            "backends": [{"address": "198.18.1.1:80" + tag, "pool": "stable",
                          "health": {"healthy": False, "reason": "down" + tag}}]}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def answer(self):
        global requests
        mode = self.server.mode
        if self.path == "/_requests":
            with lock:
                return self.send(200, json.dumps({"requests": requests}))
        with lock:
            requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if mode == "empty":
            return self.send(200, "{}")
        if mode == "nonsense":
            return self.send(200, "it works!\n", "text/plain")
        if mode == "redirect":
            return self.send(301, "<html>moved</html>\n", "text/html",
                             [("Location", "http://198.18.0.1/")])
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:3] != ["api", "v1", "services"]:
            return self.send(404, json.dumps({"error": "no route" + ESC}))
        if len(parts) == 3:
            return self.send(200, json.dumps(
                {"services": [service(n, mode) for n in SERVICES]}))
        if mode == "escape" and self.command == "POST":
            return self.send(409, json.dumps(
                {"error": "nothing to abort" + ESC, "field": "phase" + ESC}))
        if len(parts) == 5 and parts[4] == "history":
            return self.send(200, json.dumps({"name": parts[3], "points": []}))
        if len(parts) == 5 and parts[4] == "decisions":
            return self.send(200, json.dumps({"name": parts[3], "decisions": [
                {"time": "2026-01-01T00:00:00Z", "event": "paused" + ESC,
                 "phase": "paused", "step": 1, "canary_percent": 10.0,
                 "reason": "operator" + ESC}]}))
        return self.send(200, json.dumps(service(parts[3], mode)))

    do_GET = do_POST = do_PUT = answer


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lifetime = float(sys.argv[4]) if len(sys.argv) > 4 else 300
    if mode not in ("escape", "empty", "nonsense", "redirect", "counted"):
        sys.exit("fake_kanaryd.py: unknown mode '%s'" % mode)
    server = ThreadingHTTPServer((addr, port), Handler)
    server.mode = mode
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    time.sleep(lifetime)


if __name__ == "__main__":
    main()
