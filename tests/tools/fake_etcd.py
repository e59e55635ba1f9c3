#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/tools/fake_etcd.py - an HTTP server on an etcd client port that
# answers the v3 JSON gateway's paths the way etcd never would, for the
# etcd client's and the cluster's tests: each path has its own broken
# answer (not JSON, a JSON array, a malformed revision, a lease without a
# TTL, a watch stream that turns to garbage).
# Usage: fake_etcd.py ADDR PORT [LIFETIME_S]
# Exits by itself after LIFETIME_S (default 300): every test server is bounded.
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWERS = {
    "/v3/kv/range": b"this is not json{",
    "/v3/kv/put": b"[1, 2, 3]",
    "/v3/kv/txn": b'{"header": {"revision": "12x"}, "succeeded": true}',
    "/v3/kv/deleterange": b'{"header": {"revision": "3"}, "deleted": {}}',
    "/v3/lease/grant": b'{"header": {"revision": "3"}, "ID": "77"}',
    "/v3/lease/keepalive": b'{"result": {"TTL": "soon"}}',
    "/v3/lease/revoke": b'{"error": "no", "code": 13, "message": "internal failure"}',
}
WATCH = (b'{"result": {"header": {"revision": "5"}, "created": true}}\n'
         b'{"result": {"header": {"revision": "6"}, "events": [{"kv": {"key": "!!!"}}]}}\n')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = WATCH if self.path == "/v3/watch" else ANSWERS.get(self.path, b"<html>404</html>")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 300
    server = ThreadingHTTPServer((addr, port), Handler)
    threading.Timer(lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
