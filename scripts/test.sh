#!/usr/bin/env bash
# Sets up the machine and runs the whole test suite on SQLite and PostgreSQL, plus the linter.
# Extra arguments go to pytest (e.g. scripts/test.sh -k intake).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy kit storage dialer intake calls tasks accounts cases huifang flows speech ivr recordings console channels messaging ecallback letters qa api integration notifications
exec .venv/bin/python -m pytest "$@"
