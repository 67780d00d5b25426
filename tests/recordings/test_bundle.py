"""Export bundles: written entry by entry with Chinese as Chinese, checked against their manifest by
`huifang recordings verify-bundle` (a tampered, missing or extra file is named), and the audit trail names the
bundle and its SHA-256 (`huifang audit list`)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from huifang.cli import cli
from ivr.harness.local import LocalHarness
from recordings import bundle, compliance
from tests.recordings.test_compliance import WHO, _policy_no, recorded  # noqa: F401  (the fixture)


def _export(harness: LocalHarness, out: Path) -> dict[str, object]:
    with harness.services.sessions() as session, session.begin():
        return compliance.export(session, harness.services.files, _policy_no(harness), out, actor=WHO,
                                 reason="客户投诉 2026-0042", now=harness.services.clock.now())


def _rewrite(source: Path, target: Path, change: dict[str, bytes | None]) -> None:
    """A copy of the bundle with entries replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            if name not in change:
                new.writestr(name, old.read(name))
        for name, data in change.items():
            if data is not None:
                new.writestr(name, data)


def _verify(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["recordings", "verify-bundle", str(path), "--json"])
    return result.exit_code, result.stdout


def test_the_bundles_json_is_readable_chinese_and_its_manifest_matches(recorded: LocalHarness,  # noqa: F811
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    result = _export(recorded, out)
    assert result["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(out) as z:
        policy = z.read("policy.json")
        call = z.read(next(n for n in z.namelist() if n.startswith("calls/")))
        manifest = z.read("manifest.sha256").decode()
    assert b"\\u" not in policy
    assert b"\\u" not in call
    assert json.loads(policy)["applicant_name"].encode() in policy  # the name as UTF-8 text
    assert "您好".encode() in call  # the robot's prompt in the transcript
    assert f"{hashlib.sha256(policy).hexdigest()}  policy.json" in manifest.splitlines()
    assert _verify(out) == (0, json.dumps({"ok": True, "files": 3}, indent=2) + "\n")


@pytest.mark.parametrize(("change", "kind"), [
    ({"policy.json": b'{"applicant_name": "someone else"}'}, "altered"),
    ({"policy.json": None}, "missing"),
    ({"notes.txt": b"added later"}, "extra"),
])
def test_verify_bundle_names_each_file_that_does_not_match(recorded: LocalHarness, tmp_path: Path,  # noqa: F811
                                                           change: dict[str, bytes | None], kind: str) -> None:
    out = tmp_path / "bundle.zip"
    _export(recorded, out)
    tampered = tmp_path / "tampered.zip"
    _rewrite(out, tampered, change)
    [name] = change
    code, stdout = _verify(tampered)
    assert code == 1
    assert json.loads(stdout)[kind] == [name]
    assert json.loads(stdout)["ok"] is False
    plain = CliRunner().invoke(cli, ["recordings", "verify-bundle", str(tampered)])
    assert (plain.exit_code, plain.stdout) == (1, f"{kind}: {name}\n")
    assert "does NOT match its manifest" in plain.stderr


def test_verify_bundle_refuses_what_is_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    result = CliRunner().invoke(cli, ["recordings", "verify-bundle", str(junk)])
    assert result.exit_code == 1
    assert "not a zip file" in result.stderr
    bare = tmp_path / "bare.zip"
    with zipfile.ZipFile(bare, "w") as z:
        z.writestr("policy.json", b"{}")
    assert "the bundle has no manifest.sha256" in CliRunner().invoke(
        cli, ["recordings", "verify-bundle", str(bare)]).stderr


def test_a_bundle_whose_audio_does_not_match_its_checksum_is_not_left_behind(recorded: LocalHarness,  # noqa: F811
                                                                            tmp_path: Path) -> None:
    from sqlalchemy import select

    from storage.models import Recording

    with recorded.services.sessions() as session:
        path = session.scalars(select(Recording.path)).one()
    assert path is not None
    stored = Path(recorded.services.settings.recordings.root) / path
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes() + b"\x00")
    out = tmp_path / "bundle.zip"
    with pytest.raises(compliance.ComplianceError, match="does not match its checksum"):
        _export(recorded, out)
    assert not out.exists()


def test_audit_list_shows_the_bundles_name_and_sha256(recorded: LocalHarness, db_url: str,  # noqa: F811
                                                      tmp_path: Path) -> None:
    out = tmp_path / "证据包.zip"
    digest = _export(recorded, out)["sha256"]
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_OPERATOR": WHO.user}
    table = CliRunner().invoke(cli, ["audit", "list", "--action", "export"], env=env)
    assert table.exit_code == 0, table.output
    assert f"bundle {out} sha256 {digest}" in table.stdout
    listed = json.loads(CliRunner().invoke(cli, ["audit", "list", "--json", "--user", WHO.user, "--target",
                                                 _policy_no(recorded)], env=env).stdout)
    assert [a["action"] for a in listed] == ["export"]
    assert listed[0]["detail"].startswith(f"bundle {out} sha256 {digest}; 4 files; recordings RE")
    assert bundle.sha256_of(out) == digest
    nobody = json.loads(CliRunner().invoke(cli, ["audit", "list", "--json", "--user", "someone"], env=env).stdout)
    assert nobody == []
