"""What the web app needs, built once per process: the call context (the rules), how answers are captured,
the prompt index, recording downloads; and the TwiML responder the call operations render turns with.

HTTP concerns only: the call, task and case rules live in `calls/`, `tasks/`, `dialer/` and `cases/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from sqlalchemy.orm import Session, sessionmaker

from calls.context import CallContext, EngineCache
from calls.streamed import STREAM
from flows.engine import Turn
from flows.library import FlowLibrary
from ivr.agent_links import AgentTokens, Purpose, secret_for
from ivr.capture import AnswerCapture
from ivr.prompts import PromptIndex
from ivr.stream_services import StreamServices
from ivr.twiml import TurnUrls, hangup, render_turn
from kit.calendar import BusinessCalendar
from kit.clock import Clock
from kit.settings import Settings
from recordings.background import BackgroundDownloads, InlineDownloads, RecordingDownloads
from recordings.downloader import Downloader, Outcome
from recordings.media import MediaClient
from recordings.store import RecordingStore
from storage.models import Call


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

    def turn(self, turn: Turn, language: str, seq: int, call: Call) -> str:
        svc = self.services
        urls = [svc.prompts.url(p.text, language, p.personal) for p in turn.prompts]
        streamed = call.capture == STREAM and svc.streams is not None
        capture = svc.streams.capture if streamed and svc.streams is not None else svc.capture
        token = svc.streams.tokens.mint(call.call_sid) if streamed and seq == 1 and svc.streams is not None else None
        return render_turn(turn, urls, self.urls(seq), capture, svc.settings.ivr, stream_token=token)

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
    streams: StreamServices | None = None  # ivr.capture = "stream" with a recogniser: answers from Media Streams

    @property
    def capture_mode(self) -> str:
        """How a new call takes spoken answers: stream | record | keypad."""
        return STREAM if self.streams is not None else self.capture.name

    @cached_property
    def calls(self) -> CallContext:
        """The call rules' context, rendering turns as TwiML."""
        return CallContext(settings=self.settings, clock=self.clock, calendar=self.calendar, library=self.library,
                           responder=TwimlResponder(self), prompts=self.prompts, engines=EngineCache(),
                           capture=self.capture_mode)

    @property
    def downloader(self) -> Downloader:
        """Recording downloads: claim, download with no transaction open, finish."""
        return Downloader(sessions=self.sessions, media=self.media, files=self.files, clock=self.clock,
                          settings=self.settings.recordings)

    @cached_property
    def recording_downloads(self) -> RecordingDownloads:
        """Where a recording callback's download runs: a small pool per process, after the callback is answered
        (recordings.background), or inside it when recordings.download_threads is 0."""
        rec = self.settings.recordings

        def fetch(recording_sid: str) -> Outcome:
            return self.downloader.fetch(recording_sid)

        if rec.download_threads == 0:
            return InlineDownloads(fetch)
        return BackgroundDownloads(fetch, rec.download_threads, rec.download_queue_limit)

    @cached_property
    def agent_tokens(self) -> AgentTokens:
        """The capabilities of agents' links and page sessions (ivr.agent_links)."""
        ivr = self.settings.ivr
        return AgentTokens(secret_for(ivr.agent_page_secret, self.settings.twilio.auth_token),
                           link_ttl=timedelta(minutes=ivr.agent_link_minutes),
                           session_ttl=timedelta(minutes=ivr.agent_session_minutes))

    def agent_link(self, call_sid: str, agent_line: str) -> str:
        """The link to a handed-off call's context page for the agent on `agent_line` (the call's
        handoff_target); it expires after ivr.agent_link_minutes."""
        token = self.agent_tokens.mint(Purpose.LINK, call_sid, agent_line, self.clock.now())
        return f"{self.settings.ivr.public_base_url}/agent/calls/{call_sid}?token={token}"
