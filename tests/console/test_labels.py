"""Staff read Chinese: every value of the vocabulary a page shows has a Chinese label, and the console's date,
money and phone formats."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

import pytest

from cases.actions import Action
from console import formatting, labels
from flows.vocab import CaseType, ReasonCode, ResultClass, Topic
from kit.vocab import CallbackChannel, CallOutcome, CaseStatus, Channel, ProductType, SlaStatus, TaskStatus


@pytest.mark.parametrize(("vocabulary", "table"), [
    (CaseType, labels.CASE_TYPE_ZH), (SlaStatus, labels.SLA_ZH), (CaseStatus, labels.CASE_STATUS_ZH),
    (TaskStatus, labels.TASK_STATUS_ZH), (ResultClass, labels.RESULT_ZH), (CallOutcome, labels.OUTCOME_ZH),
    (ReasonCode, labels.REASON_ZH), (Topic, labels.TOPIC_ZH), (Action, labels.ACTION_ZH), (Channel, labels.CHANNEL_ZH),
    (ProductType, labels.PRODUCT_TYPE_ZH), (CallbackChannel, labels.CALLBACK_CHANNEL_ZH)])
def test_every_value_has_a_chinese_label(vocabulary: type[StrEnum], table: dict[str, str]) -> None:
    assert {v.value for v in vocabulary} - set(table) == set()
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in table.values())


def test_every_case_event_a_service_writes_has_a_label() -> None:
    for action in ("opened", "assigned", "sla_normal", "sla_warning", "sla_overdue", "reclassified",
                   *(a.value for a in Action)):
        assert action in labels.EVENT_ZH


def test_times_are_beijing_time_and_money_and_phones_read_as_staff_expect() -> None:
    assert formatting.local_time(datetime(2026, 11, 29, 6, 5, tzinfo=UTC)) == "2026-11-29 14:05"
    assert formatting.local_time(None) == ""
    assert formatting.day(datetime(2026, 11, 29, 17, 0, tzinfo=UTC)) == "2026-11-30"
    assert formatting.day(date(2026, 12, 1)) == "2026-12-01"
    assert formatting.money(Decimal("5000")) == "¥5,000.00"
    assert formatting.money(1234567.5) == "¥1,234,567.50"
    assert formatting.phone("+8613912345678") == "139 1234 5678"
    assert formatting.phone("+85291234567") == "+85291234567"


def test_channel_and_product_labels_are_words_the_policy_file_accepts() -> None:
    from intake.columns import CHANNELS, PRODUCT_TYPES

    assert all(CHANNELS[label].value == value for value, label in labels.CHANNEL_ZH.items())
    assert all(PRODUCT_TYPES[label].value == value for value, label in labels.PRODUCT_TYPE_ZH.items())


def test_the_zh_filter_names_a_value_and_leaves_an_unknown_one_as_it_is() -> None:
    assert labels.zh("problem", "result") == "问题件"
    assert labels.zh("something_new", "result") == "something_new"
    assert labels.zh(None, "result") == ""
    assert labels.zh_list(["wrong_number", "refused"], "reason") == "电话有误、拒访"
    assert formatting.mask_id("370102199001011234") == "370102********1234"
