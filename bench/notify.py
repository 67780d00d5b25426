"""Result-notification delivery benchmark: events recorded in the outbox, then POSTed, signed, to a local
receiver (a threaded HTTP server that checks each signature) by the real sender, on PostgreSQL.

    .venv/bin/python bench/notify.py [--events 5000] [--batch-size 200] [--pg-admin-url URL]

Prints one JSON object: events, record_per_s (outbox rows written in one transaction through
integration.events.record), deliver_s and delivered_per_s (claim → POST with no transaction open → finish,
as the dialer's job runs it), and the receiver's count of events and bad signatures. Target (issue 20): ≥ 500
events/s delivered.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import hmac
import json
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from integration.events import record  # noqa: E402
from kit.clock import FrozenClock  # noqa: E402
from kit.settings import NotificationSettings  # noqa: E402
from notifications.sender import Sender  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import make_engine, make_session_factory, unit_of_work  # noqa: E402

SECRET = "bench-notification-secret-0123456789"


def receiver() -> tuple[ThreadingHTTPServer, dict[str, Any]]:
    seen: dict[str, Any] = {"ids": set(), "bad": 0, "posts": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            stamp = self.headers["X-Huifang-Timestamp"]
            good = hmac.compare_digest("sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body,
                                                            hashlib.sha256).hexdigest(),
                                       self.headers["X-Huifang-Signature"])
            with lock:
                seen["posts"] += 1
                seen["ids"].add(self.headers["X-Huifang-Event-Id"])
                seen["bad"] += 0 if good else 1
            self.send_response(204 if good else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"huifang_bench_notify_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(args.pg_admin_url.rsplit("/", 1)[0] + f"/{name}")
    server, seen = receiver()
    try:
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        clock = FrozenClock(datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
        started = time.perf_counter()
        with unit_of_work(sessions) as session:
            for i in range(args.events):
                record(session, "task.result", f"P{i:08d}", {"result_class": "standard", "reason_codes": [],
                                                             "task_status": "completed"}, now=clock.now())
            session.commit()
        record_s = time.perf_counter() - started
        settings = dataclasses.replace(NotificationSettings(), endpoint=f"http://127.0.0.1:{server.server_address[1]}/",
                                       secret=SECRET, batch_size=args.batch_size)
        sender = Sender(sessions, clock, settings)
        started = time.perf_counter()
        counts = sender.send_due()
        deliver_s = time.perf_counter() - started
        print(json.dumps({
            "backend": "postgresql", "events": args.events, "batch_size": args.batch_size,
            "record_s": round(record_s, 3), "record_per_s": round(args.events / record_s),
            "deliver_s": round(deliver_s, 3), "delivered_per_s": round(counts["delivered"] / deliver_s),
            "sender": counts, "receiver": {"events": len(seen["ids"]), "posts": seen["posts"],
                                           "bad_signatures": seen["bad"]},
            "target_per_s": 500, "ok": counts["delivered"] == args.events and counts["delivered"] / deliver_s >= 500,
        }, indent=2))
    finally:
        server.shutdown()
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
