#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/tools/hook_receiver.py - a real HTTP receiver for kanaryd's
# notifications and gates (tests/e2e/notify.sh). Every request is logged as
# one JSON line {"t", "path", "authorization", "body"} to LOG, then answered
# by the path's first segment:
#   /ok/...     200
#   /fail/...   500
#   /hang/...   reads the request, answers nothing for HANG_S seconds
#   /reset/...  resets the connection (RST) without answering
#   /gate/NAME  the next answer of NAME in the SCRIPT file, a JSON object
#               {"NAME": [[STATUS, BODY], ...]}: each asking takes the next
#               answer, the last one repeats
# Usage: hook_receiver.py ADDR PORT LOG [SCRIPT] [LIFETIME_S]
# Exits by itself after LIFETIME_S (default 600): every test server is bounded.
import http.server
import json
import socket
import socketserver
import struct
import sys
import threading
import time

HANG_S = 20

addr, port, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
script = {}
if len(sys.argv) > 4 and sys.argv[4]:
    with open(sys.argv[4]) as f:
        script = json.load(f)
lifetime = float(sys.argv[5]) if len(sys.argv) > 5 else 600
asked = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        kind = self.path.strip("/").split("/")[0]
        with lock:
            with open(log_path, "a") as f:
                f.write(json.dumps({"t": time.time(), "path": self.path,
                                    "authorization": self.headers.get("Authorization"),
                                    "body": body}) + "\n")
        if kind == "ok":
            self.answer(200)
        elif kind == "fail":
            self.answer(500)
        elif kind == "hang":
            time.sleep(HANG_S)
        elif kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
        elif kind == "gate":
            name = self.path.strip("/").split("/")[1]
            with lock:
                answers = script.get(name, [[404, ""]])
                i = asked.get(name, 0)
                asked[name] = i + 1
            status, text = answers[min(i, len(answers) - 1)]
            self.answer(status, text.encode())
        else:
            self.answer(404)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server((addr, port), Handler)
threading.Timer(lifetime, server.shutdown).start()
server.serve_forever()
