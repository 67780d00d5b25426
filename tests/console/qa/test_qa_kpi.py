"""The KPI page's 质检 section: the month's measures from the reviews (qa.measures, the numbers of
`huifang report qa --period P --json`), by topic, and case handling scores by branch; supervisors only."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy.orm import Session

from console.formatting import percent
from kit.actor import operator_actor
from qa.measures import measures
from tests.console.qa.conftest import QaWorld, all_right, answer_topics, post_review, sample_version

pytestmark = pytest.mark.db


def _section(page: str) -> str:
    found = re.search(r'<section class="panel" id="qa".*?</section>', page, flags=re.S)
    assert found is not None, "no 质检 section"
    return found.group(0)


def test_the_kpi_page_shows_the_months_quality_measures(qa_world: QaWorld) -> None:
    question = next(seq for seq, topic in answer_topics(qa_world).items() if topic == "knows_is_insurance")
    reviewer = qa_world.client("质检周")
    assert post_review(reviewer, qa_world, qa_world.call_sample, all_right(
        qa_world, **{f"mark-{question}": "wrong", f"actual-{question}": "no", "result_correct": "no",
                     "remarks": "听错"}))[0] == 302
    assert post_review(reviewer, qa_world, qa_world.case_sample, {
        "followed_rules": "yes", "score": "88", "remarks": "",
        "version": str(sample_version(qa_world, qa_world.case_sample))})[0] == 302
    with Session(qa_world.engine) as s:
        expected = measures(s, operator_actor("test"), "2026-11").to_json()
    assert expected["false_yes"] == 1
    page = qa_world.client("张总").get("/console/reports/kpi?month=2026-11")
    assert page.status_code == 200
    section = _section(page.get_data(as_text=True))
    tile = {m: html.unescape(re.sub(r"<[^>]+>", " ", t)) for m, t in
            re.findall(r'data-measure="(\w+)">(.*?)</div>', section)}
    assert percent(expected["answer_accuracy"]) in tile["answer_accuracy"]
    assert f"复核回答 {expected['reviewed_answers']} 个" in tile["answer_accuracy"]
    assert f"<strong>{expected['false_yes']}</strong>" in section
    assert percent(expected["classification_accuracy"]) in tile["classification_accuracy"]
    topic = re.search(r'<tr data-topic="knows_is_insurance">(.*?)</tr>', section)
    assert topic is not None
    cells = re.findall(r"<td>(.*?)</td>", topic.group(1))
    row = next(r for r in expected["by_topic"] if r["key"] == "knows_is_insurance")
    assert cells[1:] == [str(row["marked"]), str(row["right"]), percent(row["accuracy"]), str(row["false_yes"]),
                         str(row["false_no"])]
    branch = re.search(r'<tr data-branch="120100">(.*?)</tr>', section)
    assert branch is not None
    assert re.findall(r"<td>(.*?)</td>", branch.group(1)) == ["120100 天津分公司", "1", "1", "88.0"]


def test_the_section_is_empty_but_there_before_any_review(qa_world: QaWorld) -> None:
    section = _section(qa_world.client("张总").get("/console/reports/kpi?month=2026-11").get_data(as_text=True))
    assert "本月尚无复核的通话" in section
    assert "本月尚无复核的问题件" in section
