#!/usr/bin/env python3
"""A minimal cronix alert receiver: verifies X-Cron-Signature exactly as an app verifies a trigger
(payload "<t>.<METHOD>.<path and query>.<body>", HMAC-SHA256, 300 s skew), then prints the event.

    ALERT_SECRET=... python3 receiver.py 8080
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["ALERT_SECRET"].encode()
MAX_SKEW = 300


def verify(header, method, path, body):
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    t = int(parts["t"])
    if abs(time.time() - t) > MAX_SKEW:
        return False
    payload = b"%d.%s.%s." % (t, method.upper().encode(), path.encode()) + body
    expected = hmac.new(SECRET, payload, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not verify(self.headers.get("X-Cron-Signature", ""), "POST", self.path, body):
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(body)
        print(json.dumps(event, sort_keys=True), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
