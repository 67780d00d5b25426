"""Checking a production Vosk model before go-live (`huifang speech check-model DIR`): is it complete, does it
have the runtime (lookahead) graph that per-question grammars need, what sample rate it wants, can it spell
every phrase of the language's lexicon, does it have an [unk] word."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speech.asr import VoskModel, check_model_dir
from speech.lexicon import UNK_WORD, Lexicon, LexiconError, build_grammar

TELEPHONE_RATES = (8000, 16000)  # a call's audio is 8 kHz; a 16 kHz model gets it resampled


@dataclass(frozen=True)
class ModelReport:
    path: str
    language: str
    sample_rate: int
    runtime_graph: bool
    missing_words: tuple[str, ...]  # lexicon phrases the model cannot spell, even from shorter words
    unk: bool
    problems: tuple[str, ...]  # each one stops go-live
    warnings: tuple[str, ...] = ()  # worth knowing, not stopping
    load_seconds: float = 0.0
    bench: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": self.path, "language": self.language, "sample_rate": self.sample_rate,
                "runtime_graph": self.runtime_graph, "missing_words": list(self.missing_words), "unk": self.unk,
                "problems": list(self.problems), "warnings": list(self.warnings),
                "load_seconds": round(self.load_seconds, 2), "bench": self.bench}


def check_model(path: Path, lexicon: Lexicon) -> ModelReport:
    """The model at `path` against `lexicon`. An incomplete directory raises ModelError (nothing to load)."""
    check_model_dir(path)
    model = VoskModel(path)
    model.load()
    graph = path / "graph"
    runtime = (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()
    problems: list[str] = []
    warnings: list[str] = []
    if not runtime:
        problems.append("graph/HCLr.fst and graph/Gr.fst are missing: a static graph (HCLG.fst) ignores the "
                        "per-question grammar, so every answer would be decoded against the whole language")
    rate = model.sample_rate
    if rate not in TELEPHONE_RATES:
        problems.append(f"conf/mfcc.conf asks for {rate} Hz audio: telephone audio is 8000 Hz "
                        f"(a model for {' or '.join(str(r) for r in TELEPHONE_RATES)} Hz is needed)")
    try:
        missing = build_grammar(lexicon, model.knows_word).missing
    except LexiconError as exc:
        missing = tuple(p for phrases in lexicon.phrases.values() for p in phrases)
        problems.append(str(exc))
    if missing:
        problems.append(f"{len(missing)} {lexicon.language} lexicon phrase(s) are not in the model's vocabulary: "
                        f"{'、'.join(missing)}")
    unk = model.knows_word(UNK_WORD)
    if not unk:
        warnings.append(f"the model has no {UNK_WORD} word: out-of-grammar speech is forced onto the nearest "
                        "phrase, and only the recogniser's rejection rules (speech.max_unexplained_ms, "
                        "max_syllable_ms, the check pass) keep it from being a yes or a no; measure with the bench")
    return ModelReport(str(path), lexicon.language, rate, runtime, tuple(missing), unk, tuple(problems),
                       tuple(warnings), model.load_seconds)
