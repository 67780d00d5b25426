#!/usr/bin/env bash
# Sets up the machine and runs the main job on a fresh SQLite database in ./var: import the sample
# policy file and list the callback tasks it created.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
export HUIFANG_DATABASE_URL=${HUIFANG_DATABASE_URL:-sqlite:///./var/demo.db}
rm -f var/demo.db var/demo.db-wal var/demo.db-shm
.venv/bin/huifang db upgrade
.venv/bin/huifang import samples/policies.csv
.venv/bin/huifang tasks list
