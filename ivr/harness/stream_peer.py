"""Twilio's side of a one-way Media Stream (`<Start><Stream>`), over a real WebSocket (docs/streaming.md §2.2, §5).

The peer opens the stream URL Twilio would open — the public wss URL, signed with X-Twilio-Signature over that
URL and no parameters — on the address the app is really served at (ws://127.0.0.1:PORT, as HttpTransport maps
http URLs), then sends what Twilio sends: `connected`, `start` (accountSid, callSid, tracks ["inbound"], the
<Parameter>s as customParameters, mediaFormat audio/x-mulaw 8000 Hz mono), `media` frames (20 ms, 160 μ-law
bytes, base64; sequenceNumber, chunk and timestamp as strings, timestamp in ms since the stream started) and
`stop`, or drops the connection without a `stop` (a fault). It never expects anything back: a one-way stream's
server must send nothing (Twilio would fail the stream with 31951), and `received` lets a test check that.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simple_websocket import Client, ConnectionClosed
from simple_websocket import ConnectionError as HandshakeFailed
from twilio.request_validator import RequestValidator

from ivr.harness.sids import mint

STREAM = "MZ"
FRAME_MS = 20
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law


class PeerRefused(ConnectionError):
    """The server refused the WebSocket handshake (the HTTP status Twilio would log with 31920)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the stream's WebSocket handshake was refused (HTTP {status})")
        self.status = status


def local_address(public_url: str, public_base_url: str, server_url: str) -> str:
    """The address to connect to for a public stream URL: the server's (http → ws) with the URL's path."""
    public_ws = public_base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    if not public_url.startswith(public_ws):
        raise ValueError(f"{public_url} is not under the app's public URL {public_ws}")
    local = server_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return local + public_url[len(public_ws):]


@dataclass
class StreamPeer:
    """One Media Stream of one call. `url` is the stream's public URL from the TwiML, `address` where to
    connect; `auth_token` signs the handshake (a wrong one forges it)."""

    url: str
    address: str
    auth_token: str
    account_sid: str
    call_sid: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    stream_sid: str = field(default_factory=lambda: mint(STREAM))
    sequence: int = 0
    chunk: int = 0
    sent_ms: int = 0  # stream time covered by the frames sent so far
    closed: bool = False
    _ws: Client | None = None

    def connect(self) -> None:
        """The handshake, signed as Twilio signs it; PeerRefused when the server refuses it."""
        signature = RequestValidator(self.auth_token).compute_signature(self.url, {})
        try:
            self._ws = Client.connect(self.address, headers={"X-Twilio-Signature": signature})
        except HandshakeFailed as exc:
            raise PeerRefused(exc.status_code if isinstance(exc.status_code, int) else 0) from None

    def _send(self, message: dict[str, Any]) -> bool:
        """False when the server has closed the stream (Twilio stops sending then)."""
        if self._ws is None or self.closed:
            return False
        try:
            self._ws.send(json.dumps(message))
        except (ConnectionClosed, OSError):
            self.closed = True
            return False
        return True

    def _next(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    def start(self) -> bool:
        """`connected`, then `start` (sequenceNumber 1)."""
        if not self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"}):
            return False
        return self._send({
            "event": "start", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
            "start": {"accountSid": self.account_sid, "streamSid": self.stream_sid, "callSid": self.call_sid,
                      "tracks": ["inbound"], "customParameters": dict(self.parameters),
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})

    def media(self, frame: bytes) -> bool:
        """One 20 ms frame of the inbound track, stamped with the stream time it starts at."""
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"a media frame is {FRAME_BYTES} μ-law bytes (20 ms), not {len(frame)}")
        self.chunk += 1
        sent = self._send({"event": "media", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                           "media": {"track": "inbound", "chunk": str(self.chunk), "timestamp": str(self.sent_ms),
                                     "payload": base64.b64encode(frame).decode("ascii")}})
        self.sent_ms += FRAME_MS
        return sent

    def stop(self) -> None:
        """The call ended (or the stream was stopped): `stop`, then the connection closes."""
        self._send({"event": "stop", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                    "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}})
        self.close()

    def close(self) -> None:
        if self._ws is not None and not self.closed:
            self.closed = True
            try:
                self._ws.close()
            except (ConnectionClosed, OSError):
                pass

    def abort(self) -> None:
        """Fault: the TCP connection drops with no `stop` and no close frame."""
        if self._ws is not None and not self.closed:
            self.closed = True
            try:
                self._ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._ws.sock.close()

    def received(self) -> list[Any]:
        """Whatever the server sent on the stream (it must be nothing)."""
        return [] if self._ws is None else list(self._ws.input_buffer)
