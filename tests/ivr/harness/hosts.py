"""What the web-host fault tests share: `huifang serve` (gunicorn) set up for the harness, Twilio's media API on
loopback, the processes and TCP connections of a gunicorn master read from /proc, bounded waits, and a load
balancer in front of several web hosts.

The harness plays Twilio over real HTTP against servers in processes of their own (the database is the test's,
the clock frozen where the harness's virtual clock starts: HUIFANG_NOW). Their prompts are the test run's
prompt cache, keyed with the test secret; their recordings come from `LoopbackMedia` (twilio.api_base_url on
loopback is allowed for a harness)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator
from urllib3.exceptions import NewConnectionError
from werkzeug.serving import make_server

from ivr.harness.media import MediaHost, Stored
from ivr.harness.sids import RECORDING, mint
from kit.clock import isoformat_local
from kit.vocab import RecordingStatus
from speech.cache import PromptCache
from storage.models import Recording
from tests.conftest import NOW, PROMPT_SECRET
from tests.huifang.serving.helpers import ServeProcess
from tests.ivr.conftest import ACCOUNT

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

AGENT = "+861088880000"  # build_ivr's agent line


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = 20.0) -> None:
    """A bounded poll of process or socket state (no other way to be told): fails naming what never came."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.01)


def recordings_settled(engine: Engine) -> None:
    """Wait until the servers' download pools have stored every recording announced to them: the recording
    callback is answered before its download (recordings.background), so a test reading the outcome right
    after a call must wait for the pool, not for the response."""

    def none_pending() -> bool:
        with engine.connect() as connection:
            return not connection.scalar(select(func.count()).select_from(Recording)
                                         .where(Recording.status == RecordingStatus.PENDING))

    wait_until(none_pending, "the web hosts' recording downloads")


class LoopbackMedia(MediaHost):
    """Twilio's media API over HTTP on loopback, for servers in other processes: the recordings the simulated
    calls leave (MediaHost), under this server's URL (the servers' twilio.api_base_url)."""

    def __init__(self, account_sid: str = ACCOUNT) -> None:
        super().__init__(account_sid)
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, body: bytes, not_ready: int = 0) -> tuple[str, str]:
        sid = mint(RECORDING)
        url = f"{self.url}/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"
        with self._lock:
            self._media[url + ".wav"] = Stored(body, not_ready)
        return sid, url

    def wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        asked = requests.Request("GET", self.url + environ.get("PATH_INFO", ""),
                                 headers={"Authorization": environ.get("HTTP_AUTHORIZATION", "")}).prepare()
        reply = self.send(asked)
        body = reply.raw.read() if reply.status_code == 200 else b""
        start_response(f"{reply.status_code} {reply.reason or 'Media'}", [
            ("Content-Type", reply.headers.get("Content-Type", "text/plain")), ("Content-Length", str(len(body)))])
        return [body]

    def stop(self) -> None:
        self.server.shutdown()


def serve(db_url: str, tmp_path: Path, prompt_cache: PromptCache, media: LoopbackMedia, fallback_base_url: str,
          workers: int = 2) -> ServeProcess:
    """`huifang serve` (gunicorn, gthread) for the harness, started (not yet ready: `wait_ready`)."""
    return ServeProcess(db_url, tmp_path, now=isoformat_local(NOW), web__workers=workers, web__threads=4,
                        ivr__fallback_base_url=fallback_base_url, ivr__agent_target=AGENT,
                        twilio__api_base_url=media.url, speech__prompt_cache_dir=str(prompt_cache.root),
                        speech__prompt_url_secret=PROMPT_SECRET.decode(),
                        recordings__root=str(tmp_path / "recordings"),  # build_ivr's, shared by every host
                        channels__sequence=["phone"])  # build_ivr's: the phone channel alone


# -- processes and connections, from /proc ----------------------------------------------------------------


def children(pid: int) -> set[int]:
    """The live (not zombie) child processes of `pid`: a gunicorn master's workers."""
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _sockets(pid: int) -> set[int]:
    inodes: set[int] = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for name in names:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    return inodes


def _established() -> list[tuple[int, int, int]]:
    """(local port, remote port, inode) of every established TCP connection in this network namespace."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01":  # TCP_ESTABLISHED
                rows.append((int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16),
                             int(fields[9])))
    return rows


def workers_holding_our_connections(master: int, port: int) -> set[int]:
    """The workers of `master` holding the server's end of a connection this process made to `port`: the ones
    answering the requests this test has in flight there."""
    table = _established()
    ours = _sockets(os.getpid())
    client_ports = {local for local, remote, inode in table if remote == port and inode in ours}
    server_ends = {inode for local, remote, inode in table if local == port and remote in client_ports}
    return {pid for pid in children(master) if _sockets(pid) & server_ends}


# -- a load balancer in front of the web hosts ---------------------------------------------------------------


class RoundRobin:
    """nginx in front of the web hosts, as Twilio meets it: one public base URL (requests are signed for it, as
    Twilio requested it), each request sent to the next host in turn (`upstream { server a; server b; }`, no
    keep-alive to the hosts). A host that refuses the connection never saw the request: it is taken out
    (`max_fails=1`) and the request goes to the next host (`proxy_next_upstream error`). A request sent whose
    answer never came is not sent again (nginx does not repeat a POST): Twilio gets a 502 and its fallback.
    `before(n, url)` runs before the nth POST (1-based): a test stops a host there."""

    def __init__(self, hosts: list[str], auth_token: str, public_base_urls: tuple[str, ...]) -> None:
        self.hosts = [h.rstrip("/") for h in hosts]
        self.validator = RequestValidator(auth_token)
        self.public_base_urls = public_base_urls
        self.down: list[str] = []
        self.posts = 0
        self.served: dict[str, int] = dict.fromkeys(self.hosts, 0)
        self.refused: dict[str, int] = dict.fromkeys(self.hosts, 0)
        self.lost: list[str] = []  # requests sent whose answer never came, with the error
        self.before: Callable[[int, str], None] = lambda n, url: None
        self._next = 0

    def _path(self, url: str) -> str:
        for base in self.public_base_urls:
            if url.startswith(base):
                return url[len(base):]
        raise ValueError(f"{url} is not under the public URLs {self.public_base_urls}")

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response | None:
        path = self._path(url)
        headers = {"Connection": "close", **kwargs.pop("headers", {})}
        for _ in range(len(self.hosts)):
            host = self.hosts[self._next % len(self.hosts)]
            self._next += 1
            if host in self.down:
                continue
            try:
                reply = requests.request(method, host + path, headers=headers, timeout=15, **kwargs)
            except requests.ConnectionError as exc:
                if _refused(exc):
                    self.refused[host] += 1
                    self.down.append(host)
                    continue
                self.lost.append(f"{method} {host}{path}: {type(exc).__name__}: {exc}")  # why a test saw a 502
                return None  # sent, and the host went away before answering
            self.served[host] += 1
            return reply
        return None

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        self.posts += 1
        self.before(self.posts, url)
        signature = self.validator.compute_signature(url, form)
        reply = self._send("POST", url, data=form, headers={"X-Twilio-Signature": signature})
        if reply is None:
            return 502, f"bad gateway: {self.lost[-1] if self.lost else 'no host left'}\n"
        return reply.status_code, reply.text

    def get(self, url: str) -> tuple[int, bytes]:
        reply = self._send("GET", url)
        return (502, b"") if reply is None else (reply.status_code, reply.content)


def _refused(exc: BaseException) -> bool:
    """The connection was refused (the request never left): somewhere in the chain requests and urllib3 wrap."""
    todo, seen = [exc], set()
    while todo:
        one = todo.pop()
        if id(one) in seen:
            continue
        seen.add(id(one))
        if isinstance(one, NewConnectionError | ConnectionRefusedError):
            return True
        linked = [one.__cause__, one.__context__, getattr(one, "reason", None), *getattr(one, "args", ())]
        todo.extend(e for e in linked if isinstance(e, BaseException))
    return False
