"""Every log line masks ID numbers and the middle digits of phone numbers, whoever logged it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from huifang.serving.logs import configure, mask

ID = "11010519491231002X"


@pytest.mark.parametrize(("raw", "masked"), [
    ("+8613812345678", "+86138****5678"),
    ("tel +86 13812345678.", "tel +86138****5678."),
    ("13812345678", "138****5678"),
    ("call 13812345678, please", "call 138****5678, please"),
    ("landline +861085551234", "landline +86108****1234"),
    ("To=%2B8613812345678&x", "To=%2B86138****5678&x"),
    (ID, "110***********002X"),
    (f"id:{ID.lower()}", "id:110***********002x"),
    ("110105194912310021", "110***********0021"),
])
def test_mask_stars_the_middle(raw: str, masked: str) -> None:
    assert mask(raw) == masked


@pytest.mark.parametrize("kept", [
    "CA0123456789abcdef0123456789abcdef",  # a call SID with a long run of digits
    "RE00000000000000000000000000000001",
    "T00000012 policy, task 13, 2026-11-25T10:00:00+08:00",
    "12345678901234567890",  # 20 digits: neither an ID number nor a phone
    "duration 138 ms",
])
def test_mask_leaves_other_numbers_alone(kept: str) -> None:
    assert mask(kept) == kept


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def test_the_root_handler_masks_messages_arguments_extras_and_tracebacks(captured: io.StringIO) -> None:
    configure("text", stream=captured)
    log = logging.getLogger("anything.at.all")
    log.info("applicant %s called from %s", ID, "+8613812345678", extra={"phone": "13987654321"})
    try:
        raise ValueError(f"bad row: {ID} 13812345678")
    except ValueError:
        log.exception("import failed")
    logging.getLogger("gunicorn.error").warning("a library's line with 13812345678")
    text = captured.getvalue()
    for secret in (ID, "13812345678", "13987654321", "12345678"):
        assert secret not in text
    assert "applicant 110***********002X called from +86138****5678" in text
    assert "ValueError: bad row: 110***********002X 138****5678" in text
    assert "a library's line with 138****5678" in text


def test_json_lines_carry_the_fields_masked(captured: io.StringIO) -> None:
    configure("json", stream=captured)
    logging.getLogger("huifang.web").info("POST %s 200", "/twilio/voice/status",
                                          extra={"call_sid": "CA" + "1" * 32, "task": "12", "to": "+8613812345678"})
    [line] = [json.loads(raw) for raw in captured.getvalue().splitlines()]
    assert line["message"] == "POST /twilio/voice/status 200"
    assert line["call_sid"] == "CA" + "1" * 32
    assert line["task"] == "12"
    assert line["to"] == "+86138****5678"
    assert line["level"] == "info"
    assert line["logger"] == "huifang.web"


def test_metrics_are_made_once_when_a_workers_threads_race() -> None:
    """gthread workers answer their first requests on several threads at once: registering the process's
    metrics twice raised DuplicateTimeseries and answered 500 (found by bench/load.py)."""
    import threading

    from huifang.serving.metrics import once

    ran: list[int] = []
    inside, release = threading.Event(), threading.Event()

    def make() -> object:
        ran.append(1)
        inside.set()
        release.wait(5)
        return object()

    made = once(make)
    first = threading.Thread(target=made)
    first.start()
    assert inside.wait(5)
    got: list[object] = []
    second = threading.Thread(target=lambda: got.append(made()))
    second.start()
    second.join(timeout=0.2)  # without the lock the second thread would be making them again by now
    assert ran == [1]
    release.set()
    first.join()
    second.join()
    assert ran == [1]
    assert got == [made()]
