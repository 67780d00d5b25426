"""Labelled answer audio made with espeak-ng: for measuring a model (bench/asr.py, the tests) and for
simulated callers who speak their answers.

Every in-grammar phrase is spoken at several speeds and pitches, clean and with line noise; silence and
phrases outside the grammar are added with the label they must never get (yes or no).

Out-of-grammar speech comes in three sets. OUT_OF_GRAMMAR is the design set: the lexicons' non-answer
fillers were chosen looking at it. HELD_OUT was written before the fillers were tuned and never fed them (a
test checks that no held-out phrase is a filler), but its failures were looked at when the yes/no rejection
rules were designed. FRESH was written after that and before those rules were measured; UNSEEN after FRESH's
failures had been looked at. The newest set is the honest measure of speech nobody planned for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from speech.audio import Audio, add_noise, concatenate, silence
from speech.lexicon import Intent, Lexicon
from speech.tts import EspeakTts

RATES = (130, 170, 210)
PITCHES = (35, 65)
NOISE_SNR_DB = (None, 15.0)

# Things a caller may say that answer nothing: greetings, questions, unrelated words, numbers.
OUT_OF_GRAMMAR: dict[str, tuple[str, ...]] = {
    "ko-KR": (
        "안녕하세요", "누구세요", "잠깐만요", "감사합니다", "여보세요", "괜찮아요", "지금 바빠요",
        "무슨 말씀이세요", "오늘 날씨가 좋네요", "삼십만 원", "보험 회사", "이천이십육년",
    ),
    "zh-CN": ("你好", "你是谁", "等一下", "谢谢", "喂", "我现在很忙", "今天天气不错", "三十万元"),
}

# Held out from filler design: questions, greetings, names, numbers, complaints, hesitations. Never add these
# (or pieces of them) to a lexicon's `non_answers`.
HELD_OUT: dict[str, tuple[str, ...]] = {
    "ko-KR": (
        "어디서 전화하셨어요", "몇 시예요", "반갑습니다", "좋은 아침입니다", "김민수입니다",
        "이영희 씨 바꿔 드릴게요", "칠십오", "일 이 삼 사", "전화 그만하세요", "왜 자꾸 전화해요",
        "너무 시끄러워요", "이따가 다시 걸어 주세요", "운전 중이에요", "내일 오후 세 시", "배고파요",
        "왜요", "글쎄요",
    ),
    "zh-CN": ("早上好", "你们是哪个公司", "我姓王", "一二三四", "别再打了", "我在开车", "信号不好", "晚点再打"),
}

# Written after the held-out set had been looked at while designing the yes/no rejection rules (speech/asr.py),
# and before those rules were measured on it: the one set no design decision has seen. Not answers either
# way (nothing here means yes, no, "I don't know", a person or "say it again").
FRESH: dict[str, tuple[str, ...]] = {
    "ko-KR": (
        "배터리가 없어요", "저는 학생이에요", "사과 세 개", "오늘은 월요일", "지하철 안이에요", "커피 한 잔",
        "우리 집 강아지", "삼월 십일", "비가 와요", "회의 중입니다", "문자로 보내 주세요", "엄마 바꿔 줄게요",
        "여기는 부산이에요", "밥 먹고 있어요", "팔십칠",
    ),
    "zh-CN": ("我的手机快没电了", "我是学生", "三个苹果", "今天星期一", "我在地铁上", "下雨了", "我在开会", "八十七"),
}

# Written after FRESH's three failures (three-syllable phrases heard as 아니야/아니요) had been looked at, and
# before the check designed against them was measured: again a set no design decision has seen.
UNSEEN: dict[str, tuple[str, ...]] = {
    "ko-KR": (
        "고양이", "토요일", "병원이에요", "택시 안이에요", "라디오 소리", "오백 원", "내 동생", "도서관",
        "아이들이 자요", "바다가 보여요", "구십구", "편의점", "누나가 받았어요", "마트에 있어요", "노래방",
    ),
    "zh-CN": ("小猫", "星期六", "我在医院", "出租车上", "五百块", "图书馆", "九十九", "便利店"),
}

ANSWER, SILENCE, DESIGN, HELD, FRESH_SET, UNSEEN_SET = (  # Sample.group
    "answer", "silence", "design", "held_out", "fresh", "unseen")


@dataclass(frozen=True)
class Sample:
    label: Intent  # what the recogniser should say; for out-of-grammar speech: UNKNOWN
    text: str
    rate: int
    pitch: int
    snr_db: float | None
    audio: Audio
    group: str = ANSWER  # answer | silence | design | held_out | fresh | unseen (the sets above)

    @property
    def name(self) -> str:
        noise = "clean" if self.snr_db is None else f"snr{self.snr_db:g}"
        return f"{self.label}:{self.text}@{self.rate}wpm/p{self.pitch}/{noise}"


def speak(
    tts: EspeakTts, text: str, language: str, rate: int, pitch: int, snr_db: float | None, seed: int,
    lead_seconds: float = 0.3, tail_seconds: float = 0.4,
) -> Audio:
    """`text` as a caller's answer recording: a little line silence, the words, silence, optional noise."""
    words = tts.render(text, language, rate=rate, pitch=pitch)
    clip = concatenate(silence(lead_seconds, words.rate), words, silence(tail_seconds, words.rate))
    return clip if snr_db is None else add_noise(clip, snr_db, seed)


def labelled_set(
    tts: EspeakTts,
    lexicon: Lexicon,
    rates: Sequence[int] = RATES,
    pitches: Sequence[int] = PITCHES,
    snrs: Sequence[float | None] = NOISE_SNR_DB,
    out_of_grammar: Iterable[str] | None = None,
    held_out: Iterable[str] | None = None,
    fresh: Iterable[str] | None = None,
    unseen: Iterable[str] | None = None,
) -> Iterator[Sample]:
    """Every lexicon phrase and out-of-grammar phrase (design, held-out and fresh sets) at each rate × pitch ×
    noise, plus silences."""
    phrases = [(intent, phrase, ANSWER) for intent, items in lexicon.phrases.items() for phrase in items]
    design = OUT_OF_GRAMMAR.get(lexicon.language, ()) if out_of_grammar is None else tuple(out_of_grammar)
    held = HELD_OUT.get(lexicon.language, ()) if held_out is None else tuple(held_out)
    phrases += [(Intent.UNKNOWN, phrase, DESIGN) for phrase in design]
    phrases += [(Intent.UNKNOWN, phrase, HELD) for phrase in held]
    later = FRESH.get(lexicon.language, ()) if fresh is None else tuple(fresh)
    phrases += [(Intent.UNKNOWN, phrase, FRESH_SET) for phrase in later]
    last = UNSEEN.get(lexicon.language, ()) if unseen is None else tuple(unseen)
    phrases += [(Intent.UNKNOWN, phrase, UNSEEN_SET) for phrase in last]
    seed = 0
    for intent, phrase, group in phrases:
        for rate in rates:
            for pitch in pitches:
                for snr in snrs:
                    seed += 1
                    audio = speak(tts, phrase, lexicon.language, rate, pitch, snr, seed)
                    yield Sample(intent, phrase, rate, pitch, snr, audio, group)
    for index, (seconds, floor) in enumerate(((1.5, None), (2.0, -60.0), (2.0, -45.0), (3.0, -50.0))):
        yield Sample(Intent.SILENCE, "", 0, 0, None, silence(seconds, noise_dbfs=floor, seed=index), SILENCE)
