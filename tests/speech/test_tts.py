"""TTS through pyttsx3 and the real espeak-ng (installed by scripts/setup.sh)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from speech.audio import TELEPHONE_RATE, Audio, write_wav
from speech.tts import ENGINE_RECORD, OUTPUT_FORMAT, EspeakTts, TtsUnavailable, VoiceSettings, worker_pid


@pytest.fixture(scope="module")
def tts() -> EspeakTts:
    return EspeakTts()


def _peak_dbfs(audio: Audio) -> float:
    return float(20 * np.log10(np.max(np.abs(audio.samples.astype(np.int32))) / 32767))


def test_renders_mandarin_as_normalised_telephone_audio(tts: EspeakTts) -> None:
    audio = tts.render("您好，这里是汇方人寿。", "zh-CN")
    assert audio.rate == TELEPHONE_RATE
    assert audio.samples.dtype == np.int16
    assert 1.0 < audio.seconds < 10.0
    assert _peak_dbfs(audio) == pytest.approx(-3.0, abs=0.1)
    wav = write_wav(audio)
    assert wav[20:24] == b"\x01\x00\x01\x00"  # PCM, mono
    assert int.from_bytes(wav[24:28], "little") == 8000
    assert int.from_bytes(wav[34:36], "little") == 16


def test_longer_text_longer_audio_and_rate_changes_length(tts: EspeakTts) -> None:
    short = tts.render("好的", "zh-CN")
    long = tts.render("好的，请您仔细阅读保险合同条款。", "zh-CN")
    assert long.seconds > short.seconds * 2
    slow = tts.render("请您仔细阅读保险合同条款", "zh-CN", rate=120)
    fast = tts.render("请您仔细阅读保险合同条款", "zh-CN", rate=260)
    assert slow.seconds > fast.seconds * 1.5


def test_first_render_of_a_long_text_in_a_fresh_process_is_complete() -> None:
    """pyttsx3 2.99 loses the first long render of a process without the warm-up in EspeakTts._load."""
    script = textwrap.dedent("""
        from speech.tts import EspeakTts
        text = "为了保障您的权益，需要先核实您的身份。请"
        print(round(EspeakTts().render(text, "zh-CN").seconds, 2))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert float(out.stdout.strip()) > 3.0


def test_each_render_uses_its_languages_voice(tts: EspeakTts) -> None:
    mandarin = tts.render("123", "zh-CN")
    korean = tts.render("123", "ko-KR")
    again = tts.render("123", "zh-CN")
    assert abs(len(mandarin.samples) - len(again.samples)) < 400
    assert abs(mandarin.seconds - korean.seconds) > 0.1  # 一二三 and 일이삼 are not the same sounds


def test_identity_changes_with_voice_rate_and_pitch() -> None:
    base = EspeakTts(VoiceSettings(rate=200, pitch=50))
    assert base.identity("zh-CN") != EspeakTts(VoiceSettings(rate=180, pitch=50)).identity("zh-CN")
    assert base.identity("zh-CN") != EspeakTts(VoiceSettings(rate=200, pitch=60)).identity("zh-CN")
    assert base.identity("zh-CN") != base.identity("ko-KR")
    assert "espeak-ng" in base.identity("zh-CN")


def test_missing_voice_names_the_package() -> None:
    tts = EspeakTts(VoiceSettings(voices={"zh-CN": "no/such-voice"}))
    with pytest.raises(TtsUnavailable, match=r"no voice 'no/such-voice' for zh-CN.*apt-get install espeak-ng"):
        tts.render("您好", "zh-CN")


def test_unconfigured_language_names_the_key(tts: EspeakTts) -> None:
    with pytest.raises(TtsUnavailable, match=r"no voice configured for language 'fr-FR' \(speech.voices"):
        tts.render("bonjour", "fr-FR")


def test_empty_text_is_refused(tts: EspeakTts) -> None:
    with pytest.raises(ValueError, match="empty"):
        tts.render("  ", "zh-CN")


def test_missing_espeak_library_names_the_apt_package(tmp_path: Path) -> None:
    """A machine without libespeak-ng: the worker's loader fails the way ctypes does, and the error says what to
    install. The failure is planted with a sitecustomize module, which every Python process of the test loads."""
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent("""
        import ctypes
        real = ctypes.cdll.LoadLibrary
        def no_espeak(name):
            if "espeak" in str(name):
                raise OSError(f"{name}: cannot open shared object file")
            return real(name)
        ctypes.cdll.LoadLibrary = no_espeak
    """))
    script = textwrap.dedent("""
        from speech.tts import EspeakTts, TtsUnavailable
        try:
            EspeakTts().render("您好", "zh-CN")
        except TtsUnavailable as exc:
            print(exc)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert "cannot start espeak-ng through pyttsx3" in out.stdout
    assert "apt-get install espeak-ng" in out.stdout


def test_a_crashed_worker_is_replaced_and_the_render_still_succeeds(tts: EspeakTts) -> None:
    """espeak-ng can die inside espeak_Synth (SIGSEGV): that kills the worker, never the caller."""
    before = tts.render("请按一确认", "zh-CN")
    crashed = worker_pid()
    assert crashed is not None
    os.kill(crashed, signal.SIGSEGV)
    after = tts.render("请按一确认", "zh-CN")
    assert worker_pid() not in (None, crashed)
    assert abs(len(after.samples) - len(before.samples)) < 400


def test_concurrent_renders_equal_serial_renders(tts: EspeakTts) -> None:
    texts = ["好", "您好", "请按一确认", "犹豫期为十五天", "请问您是投保人本人吗", "谢谢您的接听，祝您生活愉快，再见"]
    serial = {text: len(tts.render(text, "zh-CN").samples) for text in texts}
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def work(text: str) -> None:
        try:
            results[text] = len(tts.render(text, "zh-CN").samples)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(text,)) for text in texts * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    # pyttsx3 drops espeak-ng's last callback chunk (up to ~20 ms of trailing pause, varying per run);
    # a render mixed up with another text would be hundreds of ms off
    assert all(abs(results[text] - serial[text]) < 400 for text in texts), (results, serial)


def test_identity_does_not_wait_for_a_render(tts: EspeakTts) -> None:
    """Every webhook hashes its prompts with identity(): a render in progress must not hold it up."""
    from speech import tts as tts_module

    before = tts.identity("zh-CN")  # a worker has greeted: the version is known
    with tts_module._LOCK:  # as if another thread were rendering right now
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(tts.identity("zh-CN")))
        reader.start()
        reader.join(timeout=5)
        assert result == [before]


def refuse_workers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """This process as one where no TTS worker has greeted and none can start (each attempt counted)."""
    from speech import tts as tts_module

    starts: list[str] = []

    class RefusedWorker:
        def __init__(self) -> None:
            starts.append("start")
            raise TtsUnavailable("test: no espeak-ng here")

    monkeypatch.setattr(tts_module, "_Worker", RefusedWorker)
    monkeypatch.setattr(tts_module, "_worker", None)
    monkeypatch.setattr(tts_module, "_version", None)
    return starts


@pytest.fixture
def no_worker(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return refuse_workers(monkeypatch)


def test_the_engine_record_gives_the_workers_identity_without_a_worker(
        tts: EspeakTts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded when a worker greets; read by a process that has none (a web host without espeak-ng)."""
    from speech import tts as tts_module

    record = tmp_path / "prompts" / ENGINE_RECORD
    tts.render("好", "zh-CN")  # a worker has greeted in this process
    greeted = tts_module._version
    live = EspeakTts(engine_record=record).identity("zh-CN")
    # the key material is what it was before the record existed: caches rendered earlier keep their keys
    assert live == f"{greeted}; voice=sit/cmn; rate=200; pitch=50; out={OUTPUT_FORMAT}"
    assert json.loads(record.read_text(encoding="utf-8")) == {"engine": greeted}
    starts = refuse_workers(monkeypatch)
    assert EspeakTts(engine_record=record).identity("zh-CN") == live
    assert starts == []


@pytest.mark.parametrize("content", ["", "not json", '{"engine": ""}', '["pyttsx3 2.99, espeak-ng 1.51"]'])
def test_an_unreadable_engine_record_is_not_trusted(tmp_path: Path, no_worker: list[str], content: str) -> None:
    record = tmp_path / ENGINE_RECORD
    record.write_text(content, encoding="utf-8")
    with pytest.raises(TtsUnavailable, match="no espeak-ng here"):
        EspeakTts(engine_record=record).identity("zh-CN")
    assert no_worker == ["start"]


def test_without_a_record_the_identity_starts_a_worker(tmp_path: Path, no_worker: list[str]) -> None:
    with pytest.raises(TtsUnavailable, match="no espeak-ng here"):
        EspeakTts(engine_record=tmp_path / ENGINE_RECORD).identity("zh-CN")
    with pytest.raises(TtsUnavailable, match="no espeak-ng here"):
        EspeakTts().identity("zh-CN")
    assert no_worker == ["start", "start"]
