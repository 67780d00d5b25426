"""/healthz (the process answers) and /readyz (it can take traffic): for load balancers and systemd.

Both are open (no personal data in them), GET only, outside the console and its CSRF checks. /readyz runs its
checks on every request, each bounded in time, and answers 200 when none failed, else 503; its JSON names
each check: "ok", "off" (ASR not configured: answers by keypad) or why it failed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, text

OK = "ok"
OFF = "off"


def migration_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


@dataclass
class Readiness:
    engine: Engine
    prompt_cache_dir: Path
    asr_configured: bool
    asr_loaded: Callable[[], bool]
    timeout_s: float = 2.0
    heads: set[str] = field(default_factory=migration_heads)
    _executor: ThreadPoolExecutor | None = None

    def report(self) -> tuple[dict[str, str], bool]:
        database, migrations = self._bounded(self._database)
        checks = {"database": database, "migrations": migrations, "prompt_cache": self._prompt_cache(),
                  "asr": self._asr()}
        return checks, all(value in (OK, OFF) for value in checks.values())

    def _bounded(self, probe: Callable[[], tuple[str, str]]) -> tuple[str, str]:
        if self._executor is None:  # made on first use: after gunicorn's fork, one per worker
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz")
        try:
            return self._executor.submit(probe).result(timeout=self.timeout_s)
        except FutureTimeout:
            return f"no answer within {self.timeout_s:g} s", "unknown"

    def _database(self) -> tuple[str, str]:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                try:
                    current = {str(v) for v in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()}
                except Exception:
                    return OK, "no schema: run huifang db upgrade"
                conn.rollback()
        except Exception as exc:
            return f"unreachable ({type(exc).__name__})", "unknown"
        if current != self.heads:
            return OK, f"at {','.join(sorted(current)) or 'nothing'}, not at the head {','.join(sorted(self.heads))}: " \
                       "run huifang db upgrade"
        return OK, OK

    def _prompt_cache(self) -> str:
        try:
            self.prompt_cache_dir.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=".ready-", dir=self.prompt_cache_dir)
            os.close(handle)
            os.unlink(name)
        except OSError as exc:
            return f"not writable ({exc.strerror})"
        return OK

    def _asr(self) -> str:
        if not self.asr_configured:
            return OFF
        return OK if self.asr_loaded() else "model not loaded"
