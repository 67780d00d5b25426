"""The compliance desk in the test client: the search (scoped, audited like the CLI's), the reason asked once per
session and written with every playback, the export bundle (the CLI's zip, streamed, audited with its name and
SHA-256, and it verifies), disputes, the retention view and purge with refusals, and the audit trail page."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from html import unescape
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kit.clock import FrozenClock
from recordings import bundle
from storage.models import AuditEvent, Policy, Recording
from tests.console.conftest import csrf, login
from tests.console.recordings.conftest import AUDIO, Recorded, audit_lines

SEARCH = "/console/recordings"


def _post(recorded: Recorded, path: str, data: dict[str, str], page: str = SEARCH) -> object:
    return recorded.client.post(path, data={**data, "csrf_token": csrf(recorded.client, page)})


def test_compliance_sees_every_branch_and_each_search_is_audited(recorded: Recorded, engine: Engine) -> None:
    recorded.sign_in("合规李")
    page = recorded.client.get(SEARCH).get_data(as_text=True)
    assert "赵敏" in page
    assert "钱进" in page
    assert re.search(r"<td>1\d{2}\*{4}\d{4}</td>", page)  # phones masked
    assert "+86" not in page
    assert "请先填写调阅事由，再收听" in page
    assert "<audio" not in page
    only = recorded.client.get(f"{SEARCH}?branch=120100&result=&since=2026-11-25&until=2026-11-25")
    assert only.status_code == 200
    text = only.get_data(as_text=True)
    assert "钱进" in text
    assert "赵敏" not in text
    lines = audit_lines(engine)
    assert [(u, a) for u, a, *_ in lines] == [("合规李", "find")] * 2
    assert lines[1][2] == "since=2026-11-25, until=2026-11-25, branch_code=120100"
    assert lines[1][4] == recorded.sids["TJ1"]  # what it found, as the CLI's line names it


def test_bad_search_input_is_named_in_chinese(recorded: Recorded, engine: Engine) -> None:
    recorded.sign_in("合规李")
    reply = recorded.client.get(f"{SEARCH}?since=25/11/2026&result=great&phone=12")
    text = reply.get_data(as_text=True)
    assert "开始日期：请按 YYYY-MM-DD 填写日期" in text
    assert "回访结果：没有“great”这一类" in text
    assert "手机号：请至少输入 7 位数字" in text
    assert audit_lines(engine) == []  # nothing was searched


def test_branch_users_and_admins_do_not_have_the_desk(recorded: Recorded) -> None:
    recorded.sign_in("王芳")
    assert recorded.client.get(SEARCH).status_code == 403
    assert recorded.client.get("/console/audit").status_code == 403
    # a branch user listens from their case pages, not with the compliance desk's origin
    assert recorded.client.get(recorded.url("BJ1", "recordings")).status_code == 404


def test_the_reason_is_asked_once_per_session_and_written_with_every_playback(recorded: Recorded,
                                                                             engine: Engine) -> None:
    recorded.sign_in("合规李")
    url = recorded.url("TJ1", "recordings")
    assert recorded.client.get(url).status_code == 400  # no reason yet
    refused = _post(recorded, "/console/recordings/reason", {"reason": "  ", "back": SEARCH})
    assert refused.status_code == 302
    assert "调阅事由：请填写" in recorded.client.get(SEARCH).get_data(as_text=True)
    done = _post(recorded, "/console/recordings/reason", {"reason": "客户投诉 2026-0042 复核",
                                                          "back": f"{SEARCH}?policy=TJ1"})
    assert done.headers["Location"] == f"{SEARCH}?policy=TJ1"
    page = recorded.client.get(f"{SEARCH}?policy=TJ1").get_data(as_text=True)
    [src] = re.findall(r'<audio controls controlslist="nodownload" preload="none" src="([^"]+)"', page)
    assert unescape(src) == url
    for _ in range(2):
        audio = recorded.client.get(url, headers={"Range": "bytes=0-"})
        assert (audio.status_code, audio.data) == (206, AUDIO)
    plays = [line for line in audit_lines(engine) if line[1] == "playback"]
    assert [(u, t, why) for u, _, t, why, _ in plays] == [("合规李", recorded.sids["TJ1"], "客户投诉 2026-0042 复核")] * 2
    login(recorded.client, "合规李")  # signed in again: a new session asks again
    assert recorded.client.get(url).status_code == 400


def test_the_bundle_is_the_clis_zip_streamed_audited_with_its_name_and_sha256(recorded: Recorded, engine: Engine,
                                                                             tmp_path: Path) -> None:
    recorded.sign_in("合规李")
    missing = _post(recorded, "/console/recordings/bundle", {"policy": "BJ1", "reason": ""}, f"{SEARCH}?policy=BJ1")
    assert missing.status_code == 422
    assert "导出事由：请填写" in missing.get_data(as_text=True)
    assert _post(recorded, "/console/recordings/bundle", {"policy": "NOPE", "reason": "x"}).status_code == 404
    reply = _post(recorded, "/console/recordings/bundle", {"policy": "BJ1", "reason": "客户投诉 2026-0042"},
                  f"{SEARCH}?policy=BJ1")
    assert reply.status_code == 200  # type: ignore[attr-defined]
    assert reply.mimetype == "application/zip"  # type: ignore[attr-defined]
    assert reply.is_streamed or reply.direct_passthrough  # type: ignore[attr-defined]
    disposition = reply.headers["Content-Disposition"]  # type: ignore[attr-defined]
    assert "filename*=UTF-8''%E5%9B%9E%E8%AE%BF%E8%AF%81%E6%8D%AE%E5%8C%85-BJ1-" in disposition
    out = tmp_path / "b.zip"
    out.write_bytes(reply.data)  # type: ignore[attr-defined]
    assert bundle.verify(out).to_json() == {"ok": True, "files": 3}
    with zipfile.ZipFile(out) as z:
        assert z.read(f"audio/{recorded.sids['BJ1']}.wav") == AUDIO
        assert "赵敏".encode() in z.read("policy.json")  # Chinese as Chinese, not \\u escapes
    [(user, action, target, why, detail)] = [line for line in audit_lines(engine) if line[1] == "export"]
    assert (user, action, target, why) == ("合规李", "export", "policy BJ1", "客户投诉 2026-0042")
    assert re.match(r"bundle 回访证据包-BJ1-\d{8}-\d{6}\.zip sha256 ([0-9a-f]{64}); 4 files; recordings RE", detail)
    assert bundle.sha256_of(out) in detail
    assert not list(Path(tmp_path).glob("huifang-bundle-*"))


def test_disputes_open_and_close_with_a_reason_and_a_stale_form_is_refused(recorded: Recorded, engine: Engine,
                                                                           clock: FrozenClock) -> None:
    recorded.sign_in("合规李")
    page = f"{SEARCH}?policy=BJ1"
    assert "登记争议（投诉或诉讼）" in recorded.client.get(page).get_data(as_text=True)
    no_reason = _post(recorded, "/console/recordings/dispute",
                      {"policy": "BJ1", "action": "open", "start": "2026-11-20", "reason": "", "was": "/"}, page)
    assert no_reason.status_code == 422
    assert "事由：请填写" in no_reason.get_data(as_text=True)
    opened = _post(recorded, "/console/recordings/dispute",
                   {"policy": "BJ1", "action": "open", "start": "2026-11-20", "reason": "客户投诉", "was": "/"}, page)
    assert opened.headers["Location"] == page
    with Session(engine) as s:
        policy = s.scalars(select(Policy).where(Policy.policy_no == "BJ1")).one()
        assert (policy.dispute_started_on, policy.dispute_ended_on) == (date(2026, 11, 20), None)
    stale = _post(recorded, "/console/recordings/dispute",
                  {"policy": "BJ1", "action": "open", "start": "2026-11-21", "reason": "又一次", "was": "/"}, page)
    assert stale.status_code == 422
    assert "已被他人修改" in stale.get_data(as_text=True)
    text = recorded.client.get(page).get_data(as_text=True)
    assert "争议处理中" in text
    assert "结束争议" in text
    early = _post(recorded, "/console/recordings/dispute", {"policy": "BJ1", "action": "close", "end": "2026-11-01",
                                                           "reason": "结案", "was": "2026-11-20/"}, page)
    assert "争议结束日期：不能早于争议开始日期 2026-11-20" in early.get_data(as_text=True)
    closed = _post(recorded, "/console/recordings/dispute", {"policy": "BJ1", "action": "close",
                                                            "end": "2026-11-24", "reason": "结案", "was": "2026-11-20/"},
                   page)
    assert closed.status_code == 302
    assert [(a, why) for _, a, _, why, _ in audit_lines(engine) if a == "dispute"] == [("dispute", "客户投诉"),
                                                                                      ("dispute", "结案")]
    recorded.sign_in("张总")  # a supervisor reads recordings but does not keep them
    assert "登记争议" not in recorded.client.get(page).get_data(as_text=True)
    assert _post(recorded, "/console/recordings/dispute", {"policy": "BJ1", "action": "close", "end": "2026-11-24",
                                                           "reason": "x", "was": "2026-11-20/2026-11-24"},
                 page).status_code == 403


def test_retention_lists_what_is_due_purges_it_and_shows_refusals(recorded: Recorded, engine: Engine,
                                                                  clock: FrozenClock) -> None:
    recorded.sign_in("合规李")
    with Session(engine) as s, s.begin():
        bj, tj = (s.scalars(select(Recording).where(Recording.recording_sid == recorded.sids[no])).one()
                  for no in ("BJ1", "TJ1"))
        bj.retain_until, tj.retain_until = date(2026, 11, 1), date(2030, 1, 1)
    retention = "/console/recordings/retention"
    page = recorded.client.get(retention).get_data(as_text=True)
    assert recorded.sids["BJ1"] in page
    assert recorded.sids["TJ1"] not in page
    assert "已到期可删除 <strong>1</strong> 条" in page
    kept = _post(recorded, "/console/recordings/purge", {"recording": recorded.sids["TJ1"], "reason": "保存期满"},
                 retention)
    assert kept.status_code == 422
    assert f"录音 {recorded.sids['TJ1']} 不可删除：保存期限至 2030-01-01" in kept.get_data(as_text=True)
    assert "删除事由：请填写" in _post(recorded, "/console/recordings/purge", {"reason": ""}, retention) \
        .get_data(as_text=True)
    done = _post(recorded, "/console/recordings/purge", {"recording": "", "reason": "保存期满，按制度销毁"}, retention)
    assert done.headers["Location"] == retention
    assert "已删除 1 条到期录音" in recorded.client.get(retention).get_data(as_text=True)
    assert [(a, t, why) for _, a, t, why, _ in audit_lines(engine)] == [
        ("purge", recorded.sids["BJ1"], "保存期满，按制度销毁")]
    with Session(engine) as s:
        gone = s.scalars(select(Recording).where(Recording.recording_sid == recorded.sids["BJ1"])).one()
        assert gone.status.value == "purged"
        assert gone.path is not None
        assert not recorded.files.exists(gone.path)
    assert recorded.client.get(recorded.url("BJ1", "policy:BJ1")).status_code == 404  # gone


def test_the_audit_page_filters_pages_and_exports_exactly_the_filtered_rows(recorded: Recorded, engine: Engine,
                                                                           clock: FrozenClock) -> None:
    recorded.sign_in("合规李")
    recorded.client.get(f"{SEARCH}?policy=BJ1")
    recorded.client.get(f"{SEARCH}?policy=TJ1")
    page = recorded.client.get("/console/audit?action=find&target=TJ1").get_data(as_text=True)
    assert "policy_no=TJ1" in page
    assert "policy_no=BJ1" not in page
    assert "查询录音" in page
    assert recorded.client.get("/console/audit?since=2026-13-01").status_code == 422
    csv_reply = recorded.client.get("/console/audit?action=find&target=TJ1&format=csv")
    assert csv_reply.status_code == 200
    rows = list(csv.reader(io.StringIO(csv_reply.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["时间", "用户", "操作"]
    assert [(r[1], r[3], r[4]) for r in rows[1:]] == [("合规李", "find", "policy_no=TJ1")]
    with Session(engine) as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert last is not None
        assert (last.action, last.target, last.detail) == ("audit_export", "audit: action=find, target=TJ1",
                                                            "csv, 1 rows")


def test_nothing_in_the_console_changes_or_deletes_an_audit_line(recorded: Recorded, engine: Engine) -> None:
    """The desk is GET only: no route takes a POST, PUT, PATCH or DELETE under /console/audit."""
    recorded.sign_in("合规李")
    recorded.client.get(SEARCH)
    with Session(engine) as s:
        before = s.execute(select(AuditEvent.id, AuditEvent.operator, AuditEvent.detail)).all()
    token = csrf(recorded.client, "/console/audit")
    for method in ("post", "put", "patch", "delete"):
        reply = getattr(recorded.client, method)("/console/audit", data={"csrf_token": token, "operator": "x"})
        assert reply.status_code == 405, method
    app = recorded.client.application
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/console/audit"):
            assert (rule.methods or set()) <= {"GET", "HEAD", "OPTIONS"}, rule
    with Session(engine) as s:
        assert s.execute(select(AuditEvent.id, AuditEvent.operator, AuditEvent.detail)).all() == before
