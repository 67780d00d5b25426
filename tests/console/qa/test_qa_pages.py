"""The quality desk's pages (`/console/qa`, `/console/qa/<id>`, `POST /console/qa/<id>/review`): the reviewer's
list with its filters in the URL, the review page of a call (the whole-call recording, a seek button per answer at
its place, the transcript) and of a case, and the review form — a correction that re-classifies the call (the flash
says from which class to which; the task and its cases follow), a bad form shown again with the user's input and
the messages beside the fields, a stale form, the same reviewer twice. Roles other than qa and supervisor: 404."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.labels import zh
from storage.models import AuditEvent, Call, CallbackTask, CallEvent, Case, QaReview, QaSample
from tests.console.conftest import csrf
from tests.console.qa.conftest import (
    GAP,
    RECORDING_SID,
    QaWorld,
    all_right,
    answer_topics,
    post_review,
    sample_version,
)

pytestmark = pytest.mark.db


def _text(reply_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", reply_html))


def test_the_reviewer_lists_the_samples_with_the_filters_in_the_url(qa_world: QaWorld) -> None:
    client = qa_world.client("质检周")
    page = client.get("/console/qa")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert '<a href="/console/qa">质检复核</a>' in body  # the nav link
    rows = re.findall(r'<tr data-sample="(\d+)">', body)
    assert sorted(rows) == sorted([str(qa_world.call_sample), str(qa_world.case_sample)])
    text = _text(body)
    for words in ("回访通话", "问题件", "待复核", "标准件", "一次沟通解释件", "110100 北京", "BJ1", "TJ1"):
        assert words in text, words
    calls_only = client.get("/console/qa?kind=call&period=2026-11&status=pending&branch=110100").get_data(as_text=True)
    assert re.findall(r'<tr data-sample="(\d+)">', calls_only) == [str(qa_world.call_sample)]
    assert '<option value="call" selected>' in calls_only  # the filters stay as chosen
    assert re.findall(r'<tr data-sample="(\d+)">', client.get("/console/qa?status=reviewed").get_data(as_text=True)) == []
    other_month = client.get("/console/qa?period=2026-10").get_data(as_text=True)
    assert "没有符合条件的抽样" in other_month
    bad = client.get("/console/qa?period=11-2026&kind=robot").get_data(as_text=True)
    assert "抽样月份：“11-2026”无效" in _text(bad)
    assert "类型：请选择 通话 或 工单" in _text(bad)


def test_the_supervisor_reviews_too_and_other_roles_find_nothing(qa_world: QaWorld) -> None:
    boss = qa_world.client("张总")
    assert boss.get("/console/qa").status_code == 200
    assert boss.get(f"/console/qa/{qa_world.case_sample}").status_code == 200
    branch = qa_world.client("王芳")
    for path in ("/console/qa", f"/console/qa/{qa_world.call_sample}", f"/console/qa/{qa_world.case_sample}"):
        assert branch.get(path).status_code == 404, path
    assert "质检复核" not in branch.get("/console/cases").get_data(as_text=True)  # no nav link either
    token = csrf(branch, "/console/cases")
    refused = branch.post(f"/console/qa/{qa_world.call_sample}/review", data={**all_right(qa_world), "csrf_token": token})
    assert refused.status_code == 404
    with Session(qa_world.engine) as s:
        assert s.scalars(select(QaReview)).all() == []
    assert qa_world.client("质检周").get("/console/qa/999999").status_code == 404
    anonymous = qa_world.client().get(f"/console/qa/{qa_world.call_sample}")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/console/login")


def test_the_call_page_seeks_each_answer_in_the_whole_call_recording(qa_world: QaWorld) -> None:
    client = qa_world.client("质检周")
    body = client.get(f"/console/qa/{qa_world.call_sample}").get_data(as_text=True)
    src = re.search(r'<audio id="call-audio"[^>]*src="([^"]+)"', body)
    assert src is not None
    assert src.group(1) == f"/console/recordings/{RECORDING_SID}/audio?for=qa:{qa_world.call_sample}"
    seeks = [float(s) for s in re.findall(r'data-seek="([0-9.]+)"', body)]
    # the answers came GAP apart from the moment the call was answered: their places in the recording
    assert seeks == [GAP.total_seconds() * n for n in range(1, len(answer_topics(qa_world)) + 1)]
    assert "qa-seek.js" in body
    assert "<script>" not in body  # no inline script (the CSP)
    text = _text(body)
    with Session(qa_world.engine) as s:
        prompts = s.scalars(select(CallEvent.text).where(CallEvent.call_id == qa_world.call_id,
                                                         CallEvent.kind == "prompt").order_by(CallEvent.seq)).all()
    assert prompts
    assert all(f"机器人：{html.unescape(p).strip()[:12]}" in " ".join(text.split()) for p in prompts[:3])  # the transcript
    assert "赵*" in text  # the applicant's name masked
    audio = client.get(src.group(1), headers={"Range": "bytes=0-99"})
    assert audio.status_code == 206
    with Session(qa_world.engine) as s:
        line = s.scalars(select(AuditEvent).where(AuditEvent.action == "playback")).one()
    assert (line.operator, line.reason) == ("质检周", f"质检复核（抽样 {qa_world.call_sample}）收听")
    # the branch user may play BJ1's recordings from the case page, but not from a review page
    branch = qa_world.client("王芳")
    assert branch.get(src.group(1), headers={"Range": "bytes=0-99"}).status_code == 404


def test_a_review_that_hears_no_instead_of_yes_reclassifies_the_call(qa_world: QaWorld) -> None:
    answers = answer_topics(qa_world)
    question = next(seq for seq, topic in answers.items() if topic == "knows_is_insurance")
    client = qa_world.client("质检周")
    status, location, _ = post_review(client, qa_world, qa_world.call_sample, all_right(
        qa_world, **{f"mark-{question}": "wrong", f"actual-{question}": "no", "result_correct": "no",
                     "remarks": "客户说的是“不是”，机器人听成了“是”"}))
    assert (status, location) == (302, f"/console/qa/{qa_world.call_sample}")
    with Session(qa_world.engine) as s:
        review = s.scalars(select(QaReview)).one()
        call = s.get(Call, qa_world.call_id)
        task = s.get(CallbackTask, qa_world.task_id)
        opened = s.scalars(select(Case).where(Case.task_id == qa_world.task_id, Case.status == "open")).all()
    assert call is not None
    assert task is not None
    assert (review.opinion, review.result_before) == ("first", "standard")
    assert review.result_after not in (None, "standard")
    assert call.result_class == review.result_after
    assert task.result_class == review.result_after
    assert opened, "the new result's case is opened"
    page = client.get(location).get_data(as_text=True)
    flash = f"回访结果由“{zh('standard', 'result')}”改为“{zh(review.result_after, 'result')}”"
    assert flash in _text(page)
    assert "已复核" in _text(page)
    assert "您已复核此抽样" in _text(page)  # the form is not offered again
    assert f'action="/console/qa/{qa_world.call_sample}/review"' not in page
    listed = client.get("/console/qa?status=reviewed").get_data(as_text=True)
    assert re.findall(r'<tr data-sample="(\d+)">', listed) == [str(qa_world.call_sample)]


def test_a_bad_form_comes_back_with_the_input_and_the_messages(qa_world: QaWorld) -> None:
    answers = list(answer_topics(qa_world))
    first, second = answers[2], answers[3]
    form = all_right(qa_world, **{f"mark-{first}": "wrong", f"mark-{second}": "wrong", f"actual-{second}": "yes",
                                   "result_correct": "", "remarks": "第一题要再听一遍"})
    del form[f"mark-{answers[4]}"]
    status, _, body = post_review(qa_world.client("质检周"), qa_world, qa_world.call_sample, form)
    assert status == 422
    text = _text(body)
    assert "识别有误时，请选择客户实际的回答" in text  # first: wrong without what was said
    assert "实际回答与机器人的识别相同" in text  # second: "yes" again
    assert "请判定机器人对这一回答的识别是否正确" in text  # the one left unmarked
    assert "请判定回访结果是否正确" in text
    assert f'name="mark-{first}" value="wrong" checked' in body  # what the user chose is kept
    assert '<option value="yes" selected>' in body
    assert "第一题要再听一遍</textarea>" in body
    with Session(qa_world.engine) as s:
        assert s.scalars(select(QaReview)).all() == []
        assert s.scalars(select(QaSample.reviewed_at).where(QaSample.id == qa_world.call_sample)).one() is None


def test_a_stale_form_is_refused_and_a_second_reviewer_is_a_second_opinion(qa_world: QaWorld) -> None:
    zhou, wu = qa_world.client("质检周"), qa_world.client("质检吴")
    stale = all_right(qa_world)  # 质检周 opened the page ...
    assert post_review(wu, qa_world, qa_world.call_sample, all_right(qa_world))[0] == 302  # ... 质检吴 reviewed first
    status, _, body = post_review(zhou, qa_world, qa_world.call_sample, stale)
    assert status == 422
    assert "此抽样已被他人更新，请刷新" in _text(body)
    assert 'name="mark-' in body  # the form again, for the fresh version
    status, location, _ = post_review(zhou, qa_world, qa_world.call_sample, all_right(qa_world))
    assert status == 302
    assert "已记录为第二意见" in _text(zhou.get(location).get_data(as_text=True))
    again = post_review(wu, qa_world, qa_world.call_sample, all_right(qa_world))
    assert again[0] == 422
    assert "已复核" in _text(again[2])
    with Session(qa_world.engine) as s:
        opinions = [(r.reviewer, r.opinion) for r in s.scalars(select(QaReview).order_by(QaReview.id))]
    assert opinions == [("质检吴", "first"), ("质检周", "second")]


def test_a_case_review_scores_the_handling(qa_world: QaWorld) -> None:
    client = qa_world.client("质检周")
    page = client.get(f"/console/qa/{qa_world.case_sample}").get_data(as_text=True)
    text = _text(page)
    assert "一次沟通解释件" in text
    assert "已解释（客户签署解释单）" in text  # the history
    version = str(sample_version(qa_world, qa_world.case_sample))
    status, _, body = post_review(client, qa_world, qa_world.case_sample,
                            {"followed_rules": "no", "score": "120", "remarks": "", "version": version})
    assert status == 422
    assert "评分应为 0–100 的整数（填写的是“120”）" in _text(body)
    assert "处理不符合规定时，请在备注中说明" in _text(body)
    assert 'name="followed_rules" value="no" checked' in body
    status, location, _ = post_review(client, qa_world, qa_world.case_sample,
                                {"followed_rules": "no", "score": "55", "remarks": "未在时限内联系客户", "version": version})
    assert status == 302
    shown = _text(client.get(location).get_data(as_text=True))
    assert "已提交复核" in shown
    assert "不符合" in shown
    assert "未在时限内联系客户" in shown
    with Session(qa_world.engine) as s:
        review = s.scalars(select(QaReview)).one()
    assert (review.followed_rules, review.score, review.reviewer) == (False, 55, "质检周")
