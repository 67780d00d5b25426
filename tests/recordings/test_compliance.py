"""Compliance access: find, export bundles re-hashed, verify, retention and purge, disputes, the audit trail."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from flows.vocab import ResultClass
from ivr.harness.local import LocalHarness
from ivr.harness.persona import persona_from
from kit.actor import Actor, NotAllowed, Role
from kit.clock import BUSINESS_TZ
from recordings import compliance
from speech.cache import PromptCache
from storage.models import AuditEvent, Policy, Recording
from tests.factories import policy_row
from tests.ivr.conftest import build_ivr, text_mode_harness

WHO = Actor.of("合规专员王", [Role.COMPLIANCE])


@pytest.fixture
def recorded(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> LocalHarness:
    """One policy (a 1-year health term, guaranteed renewal), called back once: its recording is stored."""
    ivr = build_ivr(engine, tmp_path, prompt_cache, row=policy_row(product_type="health", guaranteed_renewal="Y",
                                                                   policy_term_years="1"))
    harness = text_mode_harness(ivr)
    harness.call(ivr.policy_no, persona_from({"answers": {"default": "yes", "understand_coverage": "no-then-yes"}}, "p"))
    return harness


def _policy_no(harness: LocalHarness) -> str:
    with harness.services.sessions() as session:
        return session.scalars(select(Policy.policy_no)).one()


def _audit(harness: LocalHarness) -> list[tuple[str, str]]:
    with harness.services.sessions() as session:
        return [(a.action, a.operator) for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_find_by_every_filter_and_it_is_audited(recorded: LocalHarness) -> None:
    now = recorded.services.clock.now()
    policy_no = _policy_no(recorded)
    with recorded.services.sessions() as session, session.begin():
        by_policy = compliance.find(session, compliance.Filters(policy_no=policy_no), actor=WHO, now=now)
        assert [f["policy_no"] for f in by_policy] == [policy_no]
        assert by_policy[0]["status"] == "stored"
        assert by_policy[0]["retain_until"] == "2032-11-12"  # 1-year term from 2026-11-12, then 5 years
        day = now.astimezone(BUSINESS_TZ).date()
        for filters, expected in [
            (compliance.Filters(phone="139 9999 9999"), 0),
            (compliance.Filters(since=day, until=day), 1),
            (compliance.Filters(since=date(2027, 1, 1)), 0),
            (compliance.Filters(branch_code="110100"), 1),
            (compliance.Filters(branch_code="999999"), 0),
            (compliance.Filters(result_class=ResultClass.SUB_STANDARD), 1),
            (compliance.Filters(result_class=ResultClass.PROBLEM), 0),
        ]:
            assert len(compliance.find(session, filters, actor=WHO, now=now)) == expected, filters
        phone = session.scalars(select(Policy.applicant_phone)).one()
        assert len(compliance.find(session, compliance.Filters(phone=phone[-11:]), actor=WHO, now=now)) == 1
    assert _audit(recorded) == [("find", WHO.user)] * 9


def test_an_export_bundle_holds_everything_and_its_manifest_checks(recorded: LocalHarness, tmp_path: Path) -> None:
    now = recorded.services.clock.now()
    out = tmp_path / "bundle.zip"
    with recorded.services.sessions() as session, session.begin():
        with pytest.raises(compliance.ComplianceError, match="--reason"):
            compliance.export(session, recorded.services.files, _policy_no(recorded), out, actor=WHO, reason=" ",
                              now=now)
        result = compliance.export(session, recorded.services.files, _policy_no(recorded), out, actor=WHO,
                                   reason="客户投诉 2026-0042", now=now)
    assert result["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    with zipfile.ZipFile(out) as bundle:
        names = sorted(bundle.namelist())
        assert [n.split("/")[0] for n in names] == ["audio", "calls", "manifest.sha256", "policy.json"]
        manifest = dict(reversed(line.split("  ")) for line in bundle.read("manifest.sha256").decode().splitlines())
        assert set(manifest) == set(names) - {"manifest.sha256"}
        for name, digest in manifest.items():
            assert hashlib.sha256(bundle.read(name)).hexdigest() == digest, name
        call = json.loads(bundle.read(next(n for n in names if n.startswith("calls/"))))
        assert call["result_class"] == "sub_standard"
        kinds = {e["kind"] for e in call["transcript"]}
        assert {"prompt", "answer"} <= kinds
        assert any(e["detail"].get("intent") == "no" for e in call["transcript"] if e["kind"] == "answer")
    assert _audit(recorded) == [("export", WHO.user)]


def test_verify_reports_a_missing_and_an_altered_file(recorded: LocalHarness) -> None:
    files = recorded.services.files
    now = recorded.services.clock.now()
    with recorded.services.sessions() as session, session.begin():
        assert compliance.verify(session, files, actor=WHO, now=now) == {"checked": 1, "missing": [], "altered": []}
        recording = session.scalars(select(Recording)).one()
        assert recording.path is not None
        path = Path(recorded.services.settings.recordings.root) / recording.path
        path.chmod(0o644)
        path.write_bytes(path.read_bytes() + b"\x00")
        assert compliance.verify(session, files, actor=WHO, now=now)["altered"] == [recording.recording_sid]
        path.unlink()
        assert compliance.verify(session, files, actor=WHO, now=now)["missing"] == [recording.recording_sid]


def test_purge_only_after_retention_and_never_during_a_dispute(recorded: LocalHarness) -> None:
    files = recorded.services.files
    settings = recorded.services.settings.recordings
    early = datetime(2032, 11, 11, 12, tzinfo=BUSINESS_TZ)
    late = datetime(2032, 11, 12, 12, tzinfo=BUSINESS_TZ)
    with recorded.services.sessions() as session, session.begin():
        recording = session.scalars(select(Recording)).one()
        with pytest.raises(compliance.ComplianceError, match=r"may not be deleted: kept until 2032-11-12"):
            compliance.purge(session, files, actor=WHO, now=early, reason="r", recording_sid=recording.recording_sid)
        policy = session.scalars(select(Policy)).one()
        compliance.set_dispute(session, policy, date(2031, 5, 1), None, actor=WHO, reason="诉讼", now=early,
                               settings=settings)
        with pytest.raises(compliance.ComplianceError, match="a dispute open since 2031-05-01 keeps it"):
            compliance.purge(session, files, actor=WHO, now=late, reason="r", recording_sid=recording.recording_sid)
        compliance.set_dispute(session, policy, date(2031, 5, 1), date(2031, 12, 31), actor=WHO, reason="结案",
                               now=early, settings=settings)
        assert recording.retain_until == date(2033, 12, 31)  # two years after the dispute ended
        assert compliance.purge(session, files, actor=WHO, now=late, reason="r")["purged"] == []
        result = compliance.purge(session, files, actor=WHO, now=datetime(2034, 1, 1, tzinfo=BUSINESS_TZ),
                                  reason="保存期满")
        assert result["purged"] == [recording.recording_sid]
        assert recording.status.value == "purged"
        assert recording.path is not None
        assert not files.exists(recording.path)
    assert [a for a, _ in _audit(recorded)] == ["dispute", "dispute", "purge"]


def test_the_audit_trail_cannot_be_changed(recorded: LocalHarness) -> None:
    with recorded.services.sessions() as session, session.begin():
        compliance.find(session, compliance.Filters(), actor=WHO, now=recorded.services.clock.now())
    for statement in ("UPDATE audit_events SET operator = 'x'", "DELETE FROM audit_events"):
        with recorded.services.sessions() as session, pytest.raises(DBAPIError, match="cannot be"):
            with session.begin():
                session.execute(text(statement))
    assert _audit(recorded) == [("find", WHO.user)]


def test_recordings_and_audit_cli(recorded: LocalHarness, db_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from huifang.cli import cli

    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_OPERATOR": WHO.user, "HUIFANG_NOW": "2026-11-26T10:00:00+08:00",
           "HUIFANG__RECORDINGS__ROOT": json.dumps(recorded.services.settings.recordings.root)}
    policy_no = _policy_no(recorded)
    found = CliRunner().invoke(cli, ["recordings", "find", "--policy", policy_no, "--json"], env=env)
    assert [r["policy_no"] for r in json.loads(found.stdout)] == [policy_no]
    bundle = CliRunner().invoke(cli, ["recordings", "export", "--policy", policy_no, "--out", str(tmp_path / "b.zip"),
                                      "--reason", "监管检查", "--json"], env=env)
    assert json.loads(bundle.stdout)["files"] == 4
    ok = CliRunner().invoke(cli, ["recordings", "verify", "--json"], env=env)
    assert (ok.exit_code, json.loads(ok.stdout)["checked"]) == (0, 1)
    sid = json.loads(found.stdout)[0]["recording_sid"]
    refused = CliRunner().invoke(cli, ["recordings", "purge", "--recording", sid], env=env)
    assert refused.exit_code == 1
    assert f"{sid} may not be deleted: kept until 2032-11-12" in refused.stderr
    played = CliRunner().invoke(cli, ["recordings", "play", sid, "--out", str(tmp_path / "a.wav"), "--reason", "复核"],
                                env=env)
    assert played.exit_code == 0
    assert (tmp_path / "a.wav").read_bytes()[:4] == b"RIFF"
    dispute = CliRunner().invoke(cli, ["policies", "dispute", policy_no, "--start", "2026-11-20", "--reason", "投诉"],
                                 env=env)
    assert "retention updated on 1 recordings" in dispute.stdout
    log = json.loads(CliRunner().invoke(cli, ["audit", "list", "--json"], env=env).stdout)
    assert [(a["action"], a["operator"]) for a in log][:5] == [
        ("dispute", WHO.user), ("playback", WHO.user), ("verify", WHO.user), ("export", WHO.user), ("find", WHO.user)]
    assert log[3]["reason"] == "监管检查"
    Path(recorded.services.settings.recordings.root, json.loads(found.stdout)[0]["path"]).unlink()
    broken = CliRunner().invoke(cli, ["recordings", "verify", "--json"], env=env)
    assert (broken.exit_code, json.loads(broken.stdout)["missing"]) == (1, [sid])


def test_a_whole_life_contracts_recording_is_kept_while_it_runs(recorded: LocalHarness) -> None:
    with recorded.services.sessions() as session, session.begin():
        policy = session.scalars(select(Policy)).one()
        recording = session.scalars(select(Recording)).one()
        policy.policy_term_years, recording.retain_until = None, None  # whole life: no contract end yet
        with pytest.raises(compliance.ComplianceError, match="whole life"):
            compliance.purge(session, recorded.services.files, actor=WHO, reason="r",
                             now=datetime(2090, 1, 1, tzinfo=BUSINESS_TZ), recording_sid=recording.recording_sid)


def test_a_complaint_from_the_dialled_number_finds_the_call_after_a_phone_correction(recorded: LocalHarness) -> None:
    """Reproduced: the bundle showed the policy's current phone, tying the call to a number never dialled."""

    from sqlalchemy import update

    now = recorded.services.clock.now()
    policy_no = _policy_no(recorded)
    with recorded.services.sessions() as session, session.begin():
        dialled = session.scalars(select(Policy.applicant_phone)).one()
        session.execute(update(Policy).values(applicant_phone="+8613912345678"))
    with recorded.services.sessions() as session, session.begin():
        found = compliance.find(session, compliance.Filters(phone=dialled[-11:]), actor=WHO, now=now)
        assert len(found) == 1
        out = recorded.services.files.root.parent / "bundle.zip"  # type: ignore[attr-defined]
        compliance.export(session, recorded.services.files, policy_no, out, actor=WHO, reason="投诉", now=now)
    with zipfile.ZipFile(out) as bundle:
        name = next(n for n in bundle.namelist() if n.startswith("calls/"))
        call = json.loads(bundle.read(name))
    assert call["dialled_number"] == dialled


def test_only_compliance_roles_reach_recordings_and_the_audit_trail(recorded: LocalHarness) -> None:
    now = recorded.services.clock.now()
    handler = Actor.of("王芳", [Role.BRANCH], ["110100"])
    with recorded.services.sessions() as session, session.begin():
        with pytest.raises(NotAllowed, match="王芳 may not search recordings"):
            compliance.find(session, compliance.Filters(), actor=handler, now=now)
        with pytest.raises(NotAllowed, match="王芳 may not read the audit trail"):
            compliance.audit_log(session, handler)
    assert _audit(recorded) == []  # a refused access leaves no trace of data it did not get
