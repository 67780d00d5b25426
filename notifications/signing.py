"""What a notification looks like on the wire: its JSON body and its headers, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from kit.clock import isoformat_local

EVENT_ID_HEADER = "X-Huifang-Event-Id"
TIMESTAMP_HEADER = "X-Huifang-Timestamp"
SIGNATURE_HEADER = "X-Huifang-Signature"


def body(event_id: str, type: str, occurred_at: datetime, policy_no: str, data: dict[str, Any]) -> bytes:
    """The POST body: the same object as one item of GET /api/v1/results, UTF-8 JSON."""
    return json.dumps({"event_id": event_id, "type": type, "occurred_at": isoformat_local(occurred_at),
                       "policy_no": policy_no, "data": data}, ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True).encode()


def signature(secret: str, timestamp: str, payload: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of `timestamp + "." + body` under the shared secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + payload, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def headers(secret: str, event_id: str, timestamp: int, payload: bytes) -> dict[str, str]:
    stamp = str(timestamp)
    return {"Content-Type": "application/json; charset=utf-8", EVENT_ID_HEADER: event_id,
            TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: signature(secret, stamp, payload),
            "User-Agent": "huifang-notifications/1"}
