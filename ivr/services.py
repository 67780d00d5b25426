"""What the web app needs, built once per process: the call context (the rules), how answers are captured,
the prompt index, recording downloads; and the TwiML responder the call operations render turns with.

HTTP concerns only: the call, task and case rules live in `calls/`, `tasks/`, `dialer/` and `cases/`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import cached_property
from hashlib import sha256

from sqlalchemy.orm import Session, sessionmaker

from calls.context import CallContext, EngineCache
from flows.engine import Turn
from flows.library import FlowLibrary
from ivr.capture import AnswerCapture
from ivr.prompts import PromptIndex
from ivr.twiml import TurnUrls, hangup, render_turn
from kit.calendar import BusinessCalendar
from kit.clock import Clock
from kit.settings import Settings
from recordings.downloader import Downloader
from recordings.media import MediaClient
from recordings.store import RecordingStore


class IvrError(Exception):
    """A request the web layer refuses before any rule runs (a missing or malformed parameter): HTTP 400."""

    status = 400


@dataclass
class TwimlResponder:
    """Renders a call's turns as TwiML (`calls.context.Responder`), with the services' current capture."""

    services: IvrServices

    def urls(self, seq: int) -> TurnUrls:
        base = f"{self.services.settings.ivr.public_base_url}/twilio/voice"
        return TurnUrls(answer=f"{base}/turn?seq={seq}", no_input=f"{base}/turn?seq={seq}&no_input=1",
                        dial=f"{base}/dial?seq={seq}", message=f"{base}/message?seq={seq}")

    def turn(self, turn: Turn, language: str, seq: int) -> str:
        svc = self.services
        urls = [svc.prompts.url(p.text, language) for p in turn.prompts]
        return render_turn(turn, urls, self.urls(seq), svc.capture, svc.settings.ivr)

    def hangup(self) -> str:
        return hangup()


@dataclass
class IvrServices:
    settings: Settings
    clock: Clock
    calendar: BusinessCalendar
    sessions: sessionmaker[Session]
    library: FlowLibrary
    prompts: PromptIndex
    capture: AnswerCapture
    media: MediaClient
    files: RecordingStore

    @cached_property
    def calls(self) -> CallContext:
        """The call rules' context, rendering turns as TwiML."""
        return CallContext(settings=self.settings, clock=self.clock, calendar=self.calendar, library=self.library,
                           responder=TwimlResponder(self), prompts=self.prompts, engines=EngineCache())

    @property
    def downloader(self) -> Downloader:
        """Recording downloads: claim, download with no transaction open, finish."""
        return Downloader(sessions=self.sessions, media=self.media, files=self.files, clock=self.clock,
                          settings=self.settings.recordings)

    def agent_token(self, call_sid: str) -> str:
        """The capability in an agent's link to a call's context page."""
        secret = self.settings.ivr.agent_page_secret or sha256(
            ("agent-page:" + self.settings.twilio.auth_token).encode()).hexdigest()
        return hmac.new(secret.encode(), call_sid.encode(), sha256).hexdigest()[:32]
