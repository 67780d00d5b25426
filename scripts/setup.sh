#!/usr/bin/env bash
# Prepares this machine for huifang: system packages, a running PostgreSQL, and the virtualenv (.venv)
# with the package and its test extras. Safe to run again; used by scripts/demo.sh, scripts/test.sh and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: need root to run: $*" >&2; return 1; fi
}

# 1. System packages this project needs.
missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
# espeak-ng: the offline TTS engine pyttsx3 drives (prompts, and spoken answers in tests).
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
# chromium: the real headless browser of the console's browser tests (Playwright drives /usr/bin/chromium;
# no browser download is reachable). fonts-noto-cjk: Chinese glyphs in its pages and screenshots.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -q "Noto Sans CJK" || missing+=(fonts-noto-cjk)
# WeasyPrint (the callback letters' PDF, `huifang letters render`) lays out text with pango; the letters embed
# the Noto CJK fonts above. poppler-utils: pdftotext/pdftoppm, to read and look at a rendered letter.
ldconfig -p 2>/dev/null | grep -q "libpangoft2-1.0.so.0" || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # A fresh cluster asks for passwords on TCP; the test suite connects as postgres over 127.0.0.1 with trust.
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n 1)
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
fi

# 2. PostgreSQL running on 127.0.0.1:5432.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "setup: starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "setup: PostgreSQL did not start" >&2; exit 1; }
fi

# 3. The virtualenv.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
echo "setup: ready"
