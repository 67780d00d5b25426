"""`huifang apikeys add | revoke | list` (docs/interfaces.md: `{"name", "key", "scopes"}`), against a real database."""

from __future__ import annotations

import hashlib
import json

from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from huifang.cli import cli
from storage.models import ApiKey, AuditEvent

NOW = "2026-11-25T10:00:00+08:00"


def run(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": NOW,
                                                    "HUIFANG_OPERATOR": "ops.li"})


def test_a_key_is_shown_once_kept_hashed_listed_and_revoked(db_url: str, engine: Engine) -> None:
    made = run(db_url, "apikeys", "add", "core-system", "--scope", "policies:write,results:read")
    assert made.exit_code == 0, made.output
    body = json.loads(made.output)
    assert set(body) == {"name", "key", "scopes"}
    assert body["name"] == "core-system"
    assert body["scopes"] == ["policies:write", "results:read"]
    assert body["key"].startswith("hf_")
    assert len(body["key"]) >= 40
    with Session(engine) as session:
        row = session.scalars(select(ApiKey)).one()
        assert row.key_sha256 == hashlib.sha256(body["key"].encode()).hexdigest()
        assert body["key"] not in (row.prefix, row.key_sha256)
        assert row.created_by == "ops.li"
    listed = json.loads(run(db_url, "apikeys", "list", "--json").output)
    assert [(k["name"], k["revoked"]) for k in listed] == [("core-system", False)]
    assert body["key"] not in run(db_url, "apikeys", "list").output
    revoked = run(db_url, "apikeys", "revoke", "core-system")
    assert revoked.exit_code == 0
    assert json.loads(revoked.output)["revoked"] is True
    assert json.loads(run(db_url, "apikeys", "list", "--json").output)[0]["revoked"] is True
    with Session(engine) as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.target == "core-system")).all()
        assert sorted(actions) == ["api_key_add", "api_key_revoke"]


def test_bad_scopes_names_and_a_taken_name_are_refused(db_url: str, engine: Engine) -> None:
    for args in (["x", "--scope", "policies:delete"], ["x", "--scope", ","], ["bad name", "--scope", "results:read"]):
        result = run(db_url, "apikeys", "add", *args)
        assert result.exit_code == 1, result.output
        assert result.output.strip()
    assert run(db_url, "apikeys", "add", "core", "--scope", "results:read").exit_code == 0
    again = run(db_url, "apikeys", "add", "core", "--scope", "results:read")
    assert again.exit_code == 1
    assert "exists" in again.output
    assert run(db_url, "apikeys", "revoke", "nobody").exit_code == 1
    with Session(engine) as session:
        assert len(session.scalars(select(ApiKey)).all()) == 1
