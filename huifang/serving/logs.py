"""Logging for the server and the dialer: text or JSON lines on stderr, personal data masked in every line.

The mask is a `logging.Filter` on the root handler, so it covers every logger that reaches it (ours,
gunicorn's, SQLAlchemy's, a library's warning), message, arguments, extra fields and tracebacks alike:
- 18-digit resident ID numbers (身份证号) keep their first 3 and last 4 characters: `110***********123X`;
- mobile numbers keep their first 3 and last 4 digits: `+86138****5678`, `138****5678`;
- other +86 numbers (landlines) keep the area code's first digits and the last 4: `+86108****1234`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{3})\d{11}(\d{3}[\dXx])(?![0-9A-Za-z])")
PLUS86 = re.compile(r"\+86[\s-]?(\d{3})[\d\s-]{3,9}?(\d{4})(?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z+])(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])")
URL_ENCODED_PLUS86 = re.compile(r"%2B86(\d{3})\d{3,9}?(\d{4})(?![0-9A-Za-z])", re.I)

# LogRecord attributes that are not `extra` fields
STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def mask(text: str) -> str:
    """The text with ID numbers and the middle digits of phone numbers starred."""
    text = ID_NUMBER.sub(lambda m: m.group(1) + "*" * 11 + m.group(2), text)
    text = PLUS86.sub(lambda m: f"+86{m.group(1)}****{m.group(2)}", text)
    text = URL_ENCODED_PLUS86.sub(lambda m: f"%2B86{m.group(1)}****{m.group(2)}", text)
    return MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_masked(v) for v in value)
    return value


class MaskPersonalData(logging.Filter):
    """Rewrites each record in place: the formatted message, the extra fields and the traceback, masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is rather than lose the line
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask(message), None
        for name, value in list(vars(record).items()):
            if name not in STANDARD:
                setattr(record, name, _masked(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the record's extra fields, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in STANDARD and not k.startswith("_")})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def handler(log_format: str, stream: Any = None) -> logging.Handler:
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    out.addFilter(MaskPersonalData())
    return out


def configure(log_format: str = "text", level: int = logging.INFO, stream: Any = None) -> logging.Handler:
    """Replace the root logger's handlers with one masked handler (idempotent: a second call replaces it)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    out = handler(log_format, stream)
    root.addHandler(out)
    root.setLevel(level)
    logging.captureWarnings(True)
    return out
