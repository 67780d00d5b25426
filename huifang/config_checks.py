"""Checking settings once they are built: the rules between keys and the legal floors, each failure naming the
key (huifang.config loads the settings and calls `validate`)."""

from __future__ import annotations

from datetime import time
from urllib.parse import urlsplit

from flows.vocab import CaseType
from kit.settings import Settings
from kit.vocab import ProductType


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key and why."""


CASE_TYPES = tuple(t.value for t in CaseType)


def _validate_templates(settings: Settings) -> None:
    try:
        settings.reports.agent_warning_sms.format(company="", agent_name="", month="", rate="", threshold="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"reports.agent_warning_sms: unknown placeholder or bad braces ({exc}); use {{company}}, "
                          "{agent_name}, {month}, {rate}, {threshold}") from None


def _validate_channels(settings: Settings) -> None:
    sequence = settings.channels.sequence
    if not sequence:
        raise ConfigError("channels.sequence: must name at least one channel (phone, ecallback, letter, visit)")
    twice = sorted({str(c) for c in sequence if sequence.count(c) > 1})
    if twice:
        raise ConfigError(f"channels.sequence: {twice[0]} is listed more than once")
    if settings.channels.ecallback_wait_days < 1:
        raise ConfigError("channels.ecallback_wait_days: must be at least 1 working day")


def _validate_ecallback(settings: Settings) -> None:
    if settings.sms.provider not in ("twilio", "outbox"):
        raise ConfigError(f"sms.provider: twilio or outbox, got {settings.sms.provider!r}")
    for section, values in (("ecallback", settings.ecallback), ("sms", settings.sms)):
        for key, value in vars(values).items():
            if isinstance(value, int) and not isinstance(value, bool) and value < 1:
                raise ConfigError(f"{section}.{key}: must be a positive number, got {value}")


def _validate_notifications(settings: Settings) -> None:
    n = settings.notifications
    for key in ("max_age_hours", "backoff_base_seconds", "backoff_max_seconds", "batch_size", "claim_seconds",
                "keep_days", "prune_batch_size"):
        if getattr(n, key) < 1:
            raise ConfigError(f"notifications.{key}: must be at least 1, got {getattr(n, key)}")
    if n.timeout_s <= 0:
        raise ConfigError(f"notifications.timeout_s: must be more than 0, got {n.timeout_s}")
    if n.backoff_max_seconds < n.backoff_base_seconds:
        raise ConfigError("notifications.backoff_max_seconds: must be at least backoff_base_seconds")
    if n.claim_seconds <= n.timeout_s:
        raise ConfigError("notifications.claim_seconds: must be more than timeout_s (a claim outlives one POST)")
    if n.endpoint:
        if not n.endpoint.startswith(("https://", "http://")):
            raise ConfigError(f"notifications.endpoint: must be an http(s) URL, got {n.endpoint!r}")
        if not n.secret:
            raise ConfigError("notifications.endpoint is set but no secret: set HUIFANG_NOTIFICATIONS_SECRET "
                              "(or HUIFANG_NOTIFICATIONS_SECRET_FILE)")
        if len(n.secret) < 16:
            raise ConfigError("notifications.secret: at least 16 characters")


def validate(settings: Settings) -> None:
    """Cross-field rules; each failure names the key."""
    co = settings.cooling_off
    for product_type, days in co.default_days.items():
        if days < 1:
            raise ConfigError(f"cooling_off.default_days.{product_type}: must be at least 1 day, got {days}")
    if co.health_minimum_days < 1:
        raise ConfigError("cooling_off.health_minimum_days: must be at least 1 day")
    health_days = co.default_days.get(ProductType.HEALTH, co.health_minimum_days)
    if health_days < co.health_minimum_days:
        raise ConfigError(
            f"cooling_off.default_days.health: {health_days} is below the statutory minimum of "
            f"{co.health_minimum_days} days for long-term health (健康保险管理办法 Art.15)"
        )
    if settings.callback.first_dial_delay_days < 0:
        raise ConfigError("callback.first_dial_delay_days: must not be negative")
    if settings.callback.legacy_variant_days < 1:
        raise ConfigError("callback.legacy_variant_days: must be at least 1")
    if settings.phone.duplicate_applicants_threshold < 2:
        raise ConfigError("phone.duplicate_applicants_threshold: must be at least 2 (one applicant always shares with itself)")
    if not settings.database.url:
        raise ConfigError("database.url: must not be empty")
    q = settings.questionnaire
    for key in ("max_reprompts", "identity_attempts", "max_turns"):
        if getattr(q, key) < (0 if key == "max_reprompts" else 1):
            raise ConfigError(f"questionnaire.{key}: must be a positive number, got {getattr(q, key)}")
    if settings.dual_recording.elderly_age < 1:
        raise ConfigError("dual_recording.elderly_age: must be a positive age")
    _validate_channels(settings)
    _validate_templates(settings)
    _validate_ecallback(settings)
    for case_type, rule in settings.cases.sla.items():
        if case_type not in CASE_TYPES:
            raise ConfigError(f"cases.sla.{case_type}: not a case type (one of {', '.join(CASE_TYPES)})")
        if rule.days < 1:
            raise ConfigError(f"cases.sla.{case_type}.days: must be at least 1, got {rule.days}")
    if settings.cases.warning_days_before_due < 0:
        raise ConfigError("cases.warning_days_before_due: must not be negative")
    if not 0 < settings.cases.warning_elapsed_fraction <= 1:
        raise ConfigError("cases.warning_elapsed_fraction: must be in (0, 1]")
    if settings.speech.prompt_url_secret and len(settings.speech.prompt_url_secret) < 32:
        raise ConfigError("speech.prompt_url_secret: must be at least 32 characters (or empty: a random key kept in "
                          "the prompt cache)")
    _validate_ivr(settings)
    _validate_dialer(settings)
    _validate_web(settings)
    c = settings.console
    for key in ("max_failed_logins", "lockout_minutes", "min_password_length", "upload_max_mb",
                "import_stale_minutes"):
        if getattr(c, key) < 1:
            raise ConfigError(f"console.{key}: must be at least 1, got {getattr(c, key)}")
    if not 0 <= settings.reports.agent_warning_success_rate <= 1:
        raise ConfigError("reports.agent_warning_success_rate: must be between 0 and 1")
    if settings.reports.agent_warning_min_due < 1:
        raise ConfigError("reports.agent_warning_min_due: must be at least 1")
    qa = settings.qa
    for key in ("call_rate", "case_rate"):
        if not 0 <= getattr(qa, key) <= 1:
            raise ConfigError(f"qa.{key}: must be between 0 and 1, got {getattr(qa, key)}")
    for key in ("call_min", "case_min"):
        if getattr(qa, key) < 0:
            raise ConfigError(f"qa.{key}: must not be negative, got {getattr(qa, key)}")
    if not 1 <= qa.sample_day <= 28:
        raise ConfigError(f"qa.sample_day: must be a day of the month from 1 to 28, got {qa.sample_day}")
    for key in ("interval_seconds", "settle_seconds", "stale_minutes"):
        if getattr(settings.drop, key) < 1:
            raise ConfigError(f"drop.{key}: must be at least 1, got {getattr(settings.drop, key)}")


RETRY_OUTCOMES = ("busy", "no_answer", "machine", "hangup", "failed", "canceled", "applicant_absent")


def _clock_time(value: str, key: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{key}: {value!r} is not a time of day like 09:00") from None


def _validate_dialer(settings: Settings) -> None:
    d = settings.dialer
    start = _clock_time(d.calling_hours_start, "dialer.calling_hours_start")
    end = _clock_time(d.calling_hours_end, "dialer.calling_hours_end")
    night_start = _clock_time(d.night_start, "dialer.night_start")
    night_end = _clock_time(d.night_end, "dialer.night_end")
    if not start < end:
        raise ConfigError("dialer.calling_hours_end: must be after calling_hours_start")
    if not night_end <= start or not end <= night_start:
        raise ConfigError("dialer.night_start/night_end: the night must lie outside the calling hours")
    parts = [_clock_time(p, "dialer.dayparts") for p in d.dayparts]
    if not parts or parts != sorted(parts) or parts[0] != start or parts[-1] >= end:
        raise ConfigError("dialer.dayparts: ascending starts, the first equal to calling_hours_start, all before "
                          "calling_hours_end")
    unknown = sorted(set(d.retry_wait_minutes) - set(RETRY_OUTCOMES))
    if unknown:
        raise ConfigError(f"dialer.retry_wait_minutes.{unknown[0]}: not an attempt outcome "
                          f"({', '.join(RETRY_OUTCOMES)})")
    missing = [o for o in RETRY_OUTCOMES if o not in d.retry_wait_minutes]
    if missing:
        raise ConfigError(f"dialer.retry_wait_minutes: missing {missing[0]}")
    for key in ("max_attempts", "min_attempt_days", "tick_seconds", "batch_size", "lease_seconds",
                "max_concurrent_calls", "ring_timeout_s", "backoff_seconds", "stale_after_ticks"):
        if getattr(d, key) < 1:
            raise ConfigError(f"dialer.{key}: must be at least 1, got {getattr(d, key)}")
    if d.min_attempt_days > d.max_attempts:
        raise ConfigError("dialer.min_attempt_days: cannot exceed max_attempts")
    if d.calls_per_second < 0:
        raise ConfigError("dialer.calls_per_second: must be 0 (unlimited) or more")


def _validate_ivr(settings: Settings) -> None:
    ivr = settings.ivr
    if not ivr.public_base_url.startswith(("http://", "https://")) or ivr.public_base_url.endswith("/"):
        raise ConfigError(f"ivr.public_base_url: must be an http(s) URL without a trailing slash, got "
                          f"{ivr.public_base_url!r}")
    if ivr.fallback_base_url and (not ivr.fallback_base_url.startswith(("http://", "https://"))
                                  or ivr.fallback_base_url.endswith("/")):
        raise ConfigError(f"ivr.fallback_base_url: must be empty (public_base_url) or an http(s) URL without a "
                          f"trailing slash, got {ivr.fallback_base_url!r}")
    if ivr.human_first_min_age < 0:
        raise ConfigError("ivr.human_first_min_age: must be 0 (off) or an age")
    if ivr.agent_kind not in ("number", "sip", "client"):
        raise ConfigError(f"ivr.agent_kind: {ivr.agent_kind!r} is not one of number, sip, client")
    if ivr.stream_decode_slots < 0:
        raise ConfigError(f"ivr.stream_decode_slots: must be 0 (one per CPU core) or more, got {ivr.stream_decode_slots}")
    if ivr.capture not in ("record", "stream"):
        raise ConfigError(f"ivr.capture: {ivr.capture!r} is not one of record, stream")
    if not 100 <= ivr.stream_end_silence_ms < ivr.stream_max_answer_ms:
        raise ConfigError(f"ivr.stream_end_silence_ms: must be at least 100 and less than ivr.stream_max_answer_ms "
                          f"({ivr.stream_max_answer_ms}), got {ivr.stream_end_silence_ms}")
    for key in ("record_timeout_s", "record_max_length_s", "gather_timeout_s", "max_call_seconds",
                "answer_fetch_attempts", "dial_timeout_s", "agent_link_minutes", "agent_session_minutes",
                "stream_start_timeout_ms", "stream_gather_timeout_s", "stream_max_lag_ms"):
        if getattr(ivr, key) < 1:
            raise ConfigError(f"ivr.{key}: must be at least 1, got {getattr(ivr, key)}")
    rec = settings.recordings
    for key in ("download_attempts", "claim_lease_seconds", "fetch_batch_size", "max_download_mb",
                "download_queue_limit"):
        if getattr(rec, key) < 1:
            raise ConfigError(f"recordings.{key}: must be at least 1, got {getattr(rec, key)}")
    if rec.download_threads < 0:
        raise ConfigError(f"recordings.download_threads: must be 0 (inside the callback) or more, "
                          f"got {rec.download_threads}")
    for key, least in RETENTION_MINIMUM_YEARS.items():
        if getattr(rec, key) < least:
            raise ConfigError(f"recordings.{key}: the regulatory minimum is {least} years (docs/domain.md §7), "
                              f"got {getattr(rec, key)}")
    _validate_media_origins(settings)
    _validate_notifications(settings)


LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Recordings must be kept at least this long (保险销售行为可回溯管理暂行办法 Art.13; docs/domain.md §7): a
# setting below is refused at start-up rather than purging what the regulator requires.
RETENTION_MINIMUM_YEARS = {"retention_years_short_term": 5, "retention_years_long_term": 10,
                           "retention_years_after_dispute": 2}


def _validate_media_origins(settings: Settings) -> None:
    """Recordings are fetched with the account's credentials: only over https, except from a loopback harness."""
    api = urlsplit(settings.twilio.api_base_url)
    if api.scheme not in ("http", "https") or not api.hostname or "@" in api.netloc or api.query:
        raise ConfigError(f"twilio.api_base_url: must be an http(s) URL, got {settings.twilio.api_base_url!r}")
    if api.scheme == "http" and api.hostname not in LOOPBACK:
        raise ConfigError("twilio.api_base_url: must be https (the account's credentials go there); plain http only "
                          "for a harness on a loopback address")
    for host in settings.twilio.media_hosts:
        if not host or any(ch in host for ch in "/@:?# ") or host != host.strip():
            raise ConfigError(f"twilio.media_hosts: {host!r} is not a host name (https is implied; no scheme, port "
                              "or path)")


def _validate_web(settings: Settings) -> None:
    from huifang.serving.binding import parse_bind

    web = settings.web
    for key in ("workers", "threads", "timeout"):
        if getattr(web, key) < 1:
            raise ConfigError(f"web.{key}: must be at least 1, got {getattr(web, key)}")
    for key in ("graceful_timeout", "keepalive"):
        if getattr(web, key) < 0:
            raise ConfigError(f"web.{key}: must not be negative, got {getattr(web, key)}")
    if web.log_format not in ("text", "json"):
        raise ConfigError(f"web.log_format: {web.log_format!r} is not one of text, json")
    if web.max_content_length < 1024:
        raise ConfigError(f"web.max_content_length: must be at least 1024 bytes, got {web.max_content_length}")
    try:
        parse_bind(web.bind)
        if settings.metrics.dialer_bind:
            parse_bind(settings.metrics.dialer_bind, "metrics.dialer_bind")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if settings.metrics.db_timeout_s <= 0:
        raise ConfigError("metrics.db_timeout_s: must be more than 0")
    api = settings.api
    for key in ("rate_per_minute", "max_batch", "idempotency_keep_hours"):
        if getattr(api, key) < 1:
            raise ConfigError(f"api.{key}: must be at least 1, got {getattr(api, key)}")
    if api.max_body_bytes < 1024:
        raise ConfigError(f"api.max_body_bytes: must be at least 1024 bytes, got {api.max_body_bytes}")
