#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/tools/bad_metrics_server.py - a backend whose /metrics misbehaves on
# purpose, for kanary's fault tests:
#   hang     accepts, reads the request, never answers
#   reset    accepts and resets the connection (RST)
#   garbage  answers 200 with a body that is not the Prometheus format
#   huge     answers 200 with 100 MB of valid-looking samples
# Usage: bad_metrics_server.py MODE ADDR PORT [LIFETIME_S]
# Exits by itself after LIFETIME_S (default 600): every test server is bounded.
import socket
import struct
import sys
import threading
import time

HUGE_BYTES = 100 * 1024 * 1024
CHUNK = b"# a comment line that pads the page out to a hundred megabytes..\n" * 1024


def serve(conn, mode):
    try:
        conn.settimeout(30)
        if mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            part = conn.recv(4096)
            if not part:
                return
            data += part
        if mode == "hang":
            time.sleep(30)
            return
        if mode == "garbage":
            body = b"<html>this is not a metrics page</html>\n"
        else:
            body = None
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
        if body is not None:
            conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            return
        conn.sendall(head + b"Content-Length: %d\r\n\r\n" % HUGE_BYTES)
        sent = 0
        while sent < HUGE_BYTES:
            piece = CHUNK[: HUGE_BYTES - sent]
            conn.sendall(piece)
            sent += len(piece)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("hang", "reset", "garbage", "huge"):
        sys.stderr.write("usage: bad_metrics_server.py hang|reset|garbage|huge ADDR PORT [LIFETIME_S]\n")
        sys.exit(2)
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lifetime = float(sys.argv[4]) if len(sys.argv) > 4 else 600.0
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(64)
    srv.settimeout(1.0)
    deadline = time.time() + lifetime
    while time.time() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
