"""A webhook receiver on 127.0.0.1 for tests: verifies every delivery with the standardwebhooks package.

    with Receiver() as rx:                 # rx.url; then rx.webhook = Webhook(secret)
        rx.answers = [500, 500, 500]        # then 200 for ever
        rx.hold = threading.Event()         # the next request waits until set (a worker killed mid-request)
        rx.received                         # [(msg_id, type, email or None, status answered)]
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        rx: Receiver = self.server.receiver  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        rx.webhook.verify(body, headers)  # raises (and so fails the test's expectations) on a bad signature
        event = json.loads(body)
        member = (event["data"].get("member") or {}).get("email")
        with rx.lock:
            status = rx.answers.pop(0) if rx.answers else 200
            rx.arrived.set()
        if rx.hold is not None:
            hold, rx.hold = rx.hold, None
            hold.wait(30)
        with rx.lock:
            rx.received.append((headers["webhook-id"], event["type"], member, status))
            rx.events.append(event)
        if status in (301, 302, 307):
            self.send_response(status)
            self.send_header("Location", "http://10.0.0.1/internal")
        else:
            self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


class Receiver:
    def __init__(self):
        self.webhook: Webhook | None = None  # set with the secret `digest webhooks add` printed
        self.answers: list[int] = []
        self.hold: threading.Event | None = None
        self.arrived = threading.Event()
        self.received: list[tuple[str, str, str | None, int]] = []
        self.events: list[dict] = []  # each event's JSON as it arrived, in order
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.receiver = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/digest"

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
