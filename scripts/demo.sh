#!/usr/bin/env bash
# Sets up the machine and runs the main job: `huifang demo` — a fresh SQLite database under ./var/demo,
# synthetic policies, simulated callees and a 15-day campaign on the virtual clock, then a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
.venv/bin/huifang demo "$@"
