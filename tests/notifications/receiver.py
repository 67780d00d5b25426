"""A core system's receiving end for the tests: a threaded HTTP server that checks each notification's signature
with its own HMAC code (not huifang's) and counts deliveries by event id."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "test-notification-secret-0123456789"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver writes from the README: HMAC-SHA256 over timestamp + "." + body, hex, prefixed sha256=."""
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@dataclass
class Receiver:
    url: str = ""
    status: int = 200  # what it answers
    counts: Counter[str] = field(default_factory=Counter)  # deliveries by event id
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    bad_signatures: list[str] = field(default_factory=list)
    hold_first: bool = False  # the first request waits for `release` (the sender is killed meanwhile)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: Any, body: bytes) -> int:
        event_id = headers.get("X-Huifang-Event-Id", "")
        ok = verify(SECRET, headers.get("X-Huifang-Timestamp", ""), body, headers.get("X-Huifang-Signature", ""))
        with self.lock:
            first = not self.arrived.is_set()
            if not ok:
                self.bad_signatures.append(event_id)
            self.counts[event_id] += 1
            self.bodies[event_id] = json.loads(body)
            self.arrived.set()
        if first and self.hold_first:
            self.release.wait(60)
        return self.status if ok else 401


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.handle(self.headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/huifang"
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
