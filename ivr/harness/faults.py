"""Test-only WSGI middleware that breaks chosen requests the way deployments break, to prove Twilio's fallback
(docs/twilio-facts.md §2.10) keeps the call: a request the app never sees (a proxy's 502, a worker that died
before reading it), or one the app handles and commits whose answer is then lost (a worker killed after the
commit, an exception on the way out), or an answer that is not TwiML.

    app.wsgi_app = FailingRequests(app.wsgi_app, Fault("/twilio/voice/turn", nth=3, when="after"))

Never installed by `huifang serve`; the simulator meets the failures as Twilio would (SimulationError unless
`Simulator.strict` is off).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@dataclass
class Fault:
    path: str  # requests whose path starts with this, e.g. /twilio/voice/turn
    nth: int = 1  # the nth of them (1-based) fails; the others pass
    when: Literal["before", "after"] = "before"  # before the app sees it, or after it answered (and committed)
    status: int = 500
    body: str = "internal error\n"
    content_type: str = "text/plain"
    seen: int = field(default=0, init=False)

    def fires(self, path: str) -> bool:
        if not path.startswith(self.path):
            return False
        self.seen += 1
        return self.seen == self.nth


class FailingRequests:
    def __init__(self, app: WSGIApplication, *faults: Fault) -> None:
        self.app = app
        self.faults = list(faults)
        self.fired: list[str] = []  # path?query of each request failed, in order

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        fault = next((f for f in self.faults if f.fires(path)), None)
        if fault is None:
            return self.app(environ, start_response)
        query = environ.get("QUERY_STRING", "")
        self.fired.append(path + (f"?{query}" if query else ""))
        if fault.when == "after":  # the app handles the request to the end (its commit included)...
            answer = self.app(environ, lambda status, headers, exc_info=None: lambda data: None)
            try:
                for _ in answer:
                    pass
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
        body = fault.body.encode()  # ...and Twilio gets this instead
        start_response(f"{fault.status} Fault", [("Content-Type", fault.content_type),
                                                 ("Content-Length", str(len(body)))])
        return [body]
