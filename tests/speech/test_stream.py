"""The streaming endpointer: answers found in 20 ms μ-law media-stream frames, timed in stream time only."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pytest

from speech.asr import RecognizerSettings
from speech.audio import (
    Audio,
    add_noise,
    concatenate,
    frame_levels_dbfs,
    mulaw_decode,
    mulaw_encode,
    silence,
    speech_ms,
)
from speech.stream import Endpointer, EndpointSettings, Utterance, frame_levels, frames_of
from speech.tts import EspeakTts, TtsUnavailable
from tests.speech.clips import fresh_speak

RATE = 8000
T0 = 50_000  # stream time of the first frame: nothing may assume a stream starts at 0


def tone(ms: int, rms_dbfs: float = -16.0, freq: float = 440.0) -> Audio:
    t = np.arange(ms * RATE // 1000) / RATE
    amplitude = 32768 * 10 ** (rms_dbfs / 20) * np.sqrt(2)
    return Audio(np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16), RATE)


def quiet(ms: int, noise_dbfs: float | None = -70.0, seed: int = 0) -> Audio:
    return silence(ms / 1000, RATE, noise_dbfs, seed)


def syllables(ms: int, on_ms: int = 200, off_ms: int = 60) -> Audio:
    """Speech-like: 200 ms tones parted by 60 ms dips to the line (a steady tone would be learned as noise)."""
    parts: list[Audio] = []
    while sum(len(part.samples) for part in parts) < ms * RATE // 1000:
        parts += [tone(on_ms, -16.0 - 4 * (len(parts) % 3), 300.0 + 40 * (len(parts) % 5)), quiet(off_ms)]
    joined = concatenate(*parts)
    return Audio(joined.samples[: ms * RATE // 1000], RATE)


def run(endpointer: Endpointer, audio: Audio, t0: int = T0, lost: Collection[int] = ()) -> list[tuple[int, Utterance]]:
    """Play `audio` as a media stream (μ-law frames, decoded as the server does); frames at indexes in `lost`
    never arrive. Each utterance comes with the end of the frame whose feed returned it."""
    got: list[tuple[int, Utterance]] = []
    for index, payload in enumerate(frames_of(audio)):
        if index in lost:
            continue
        utterance = endpointer.feed(mulaw_decode(payload), t0 + 20 * index)
        if utterance is not None:
            got.append((t0 + 20 * index + 20, utterance))
    return got


def utterances(audio: Audio, settings: EndpointSettings | None = None, lost: Collection[int] = ()) -> list[Utterance]:
    return [utterance for _, utterance in run(Endpointer(settings), audio, lost=lost)]


# -- speech as the recogniser counts it --------------------------------------------------------------


def test_defaults_agree_with_the_recogniser() -> None:
    recogniser, endpointer = RecognizerSettings(), EndpointSettings()
    assert endpointer.silence_dbfs == recogniser.silence_dbfs
    assert endpointer.min_speech_ms == recogniser.min_speech_ms
    assert endpointer.pad_ms == recogniser.pad_ms


def test_frame_level_is_frame_levels_dbfs() -> None:
    audio = concatenate(quiet(200, None), tone(300), add_noise(tone(200, -30.0, 1000.0), 5, 3), quiet(100))
    frames = audio.samples.reshape(-1, 160)
    assert np.allclose(frame_levels(frames), frame_levels_dbfs(audio), atol=1e-9)


@pytest.mark.parametrize(("rms_dbfs", "heard"), [(-38.0, True), (-42.0, False)])
def test_the_silence_threshold_is_the_recognisers(rms_dbfs: float, heard: bool) -> None:
    endpointer = Endpointer()
    audio = concatenate(quiet(1000, None), tone(400, rms_dbfs), quiet(1000, None))
    got = [endpointer.feed(audio.samples[i : i + 160], T0 + i // 8) for i in range(0, len(audio.samples), 160)]
    assert (endpointer.heard_ms == 400) is heard
    assert len([utterance for utterance in got if utterance is not None]) == (1 if heard else 0)


# -- timing in stream time -----------------------------------------------------------------------


@pytest.mark.parametrize("end_silence_ms", [350, 300, 500])
def test_onset_and_end_in_stream_time(end_silence_ms: int) -> None:
    endpointer = Endpointer(EndpointSettings(end_silence_ms=end_silence_ms))
    [(returned_at, utterance)] = run(endpointer, concatenate(quiet(1000), tone(600), quiet(1500)))
    assert utterance.start_ms == T0 + 1000
    assert utterance.end_ms == T0 + 1600
    assert end_silence_ms <= utterance.decided_ms - utterance.end_ms < end_silence_ms + 20
    assert returned_at == utterance.decided_ms  # returned by the feed of the frame that completed the silence
    assert utterance.reason == "silence"
    assert utterance.speech_ms == 600
    assert len(utterance.audio.samples) == (200 + 600 + 200) * 8  # pad, speech, pad
    assert utterance.audio.rate == RATE
    assert not endpointer.speaking
    assert endpointer.heard_ms == 600


def test_speaking_starts_at_the_onset() -> None:
    endpointer = Endpointer()
    frames = [mulaw_decode(payload) for payload in frames_of(concatenate(quiet(400), tone(200)))]
    states = []
    for index, frame in enumerate(frames):
        endpointer.feed(frame, T0 + 20 * index)
        states.append(endpointer.speaking)
    assert states[:21] == [False] * 21  # 20 quiet frames, then the first speech frame (onset_ms is 40)
    assert all(states[21:])


@pytest.mark.parametrize(("burst_ms", "kept"), [(100, False), (120, True)])
def test_less_speech_than_min_speech_is_dropped(burst_ms: int, kept: bool) -> None:
    endpointer = Endpointer()
    got = run(endpointer, concatenate(quiet(500), tone(burst_ms), quiet(1000)))
    assert len(got) == (1 if kept else 0)
    assert endpointer.heard_ms == burst_ms  # a dropped burst was still heard
    assert not endpointer.speaking


def test_a_long_answer_is_cut_at_max_length_and_the_rest_follows() -> None:
    got = utterances(concatenate(quiet(500), syllables(8000), quiet(1000)))
    first, second = got
    assert first.reason == "max_length"
    assert first.start_ms == T0 + 500
    assert first.decided_ms - first.start_ms == 6000
    assert len(first.audio.samples) <= (200 + 6000) * 8
    assert second.reason == "silence"
    assert second.start_ms >= first.decided_ms
    assert second.end_ms == T0 + 500 + 8000 or second.end_ms == T0 + 500 + 8000 - 60  # ends on a tone or a dip


@pytest.mark.parametrize(("pause_ms", "count"), [(300, 1), (340, 1), (400, 2)])
def test_a_pause_shorter_than_end_silence_does_not_split_the_answer(pause_ms: int, count: int) -> None:
    got = utterances(concatenate(quiet(500), tone(400), quiet(pause_ms), tone(400, -20.0), quiet(1000)))
    assert len(got) == count
    assert got[0].start_ms == T0 + 500
    assert got[-1].end_ms == T0 + 500 + 400 + pause_ms + 400


# -- line noise ----------------------------------------------------------------------------------


def test_steady_noise_at_15_db_snr_still_ends_the_answer() -> None:
    clip = add_noise(concatenate(quiet(2000, None), syllables(800), quiet(1500, None)), 15.0, seed=4)
    noise_levels = frame_levels_dbfs(Audio(clip.samples[: 2000 * 8], RATE))
    assert noise_levels.min() > -40  # the noise alone passes the absolute threshold: the floor must do the work
    [utterance] = utterances(clip)
    assert abs(utterance.start_ms - (T0 + 2000)) <= 20
    assert abs(utterance.end_ms - (T0 + 2800)) <= 80  # the last 60 ms of the syllables are a dip
    assert 350 <= utterance.decided_ms - utterance.end_ms < 370
    assert speech_ms(utterance.audio, -40.0) >= 120


def test_noise_from_the_first_frame_is_not_an_answer() -> None:
    endpointer = Endpointer()
    noise = quiet(10_000, -30.0, seed=5)
    assert run(endpointer, noise) == []  # taken for speech until the floor caught up, then dropped
    assert not endpointer.speaking
    heard = endpointer.heard_ms
    run(endpointer, quiet(3000, -30.0, seed=6), t0=T0 + 10_000)
    assert endpointer.heard_ms == heard  # learned: no longer speech


def test_line_getting_quieter_then_noisy_again_gives_no_answer() -> None:
    line = concatenate(quiet(2000, -30.0, 1), quiet(1000, None), quiet(4000, -30.0, 2))
    endpointer = Endpointer()
    assert run(endpointer, line) == []
    assert not endpointer.speaking


# -- gaps and partial frames ---------------------------------------------------------------------


def test_lost_frames_after_the_answer_count_as_silence_but_add_no_audio() -> None:
    clip = concatenate(quiet(1000), tone(600), quiet(1500))
    [whole] = utterances(clip)
    [gapped] = utterances(clip, lost=range(80, 90))  # the 200 ms right after the speech
    assert gapped.decided_ms == whole.decided_ms == T0 + 1960
    assert len(gapped.audio.samples) == len(whole.audio.samples) - 200 * 8


def test_a_gap_longer_than_end_silence_ends_the_answer_when_the_stream_resumes() -> None:
    endpointer = Endpointer()
    [(returned_at, utterance)] = run(endpointer, concatenate(quiet(1000), tone(600), quiet(1500)), lost=range(80, 105))
    assert utterance.end_ms == T0 + 1600
    assert utterance.decided_ms == T0 + 2100  # the first frame after the gap starts there
    assert returned_at == T0 + 2120
    assert len(utterance.audio.samples) == (200 + 600) * 8


def test_a_gap_after_the_answer_then_speech_starts_a_new_answer() -> None:
    clip = concatenate(quiet(1000), tone(600), quiet(500), tone(400), quiet(1000))
    first, second = utterances(clip, lost=range(80, 105))  # the whole 500 ms pause is lost
    assert first.decided_ms == second.start_ms == T0 + 2100
    assert second.end_ms == T0 + 2500


def test_lost_frames_inside_the_answer_do_not_split_it() -> None:
    [utterance] = utterances(concatenate(quiet(1000), tone(600), quiet(1500)), lost={60, 61, 62})
    assert (utterance.start_ms, utterance.end_ms) == (T0 + 1000, T0 + 1600)
    assert utterance.speech_ms == 540
    assert len(utterance.audio.samples) == (1000 - 60) * 8


@pytest.mark.parametrize("chunk", [37, 100, 159, 161, 800, 160 * 7 + 3])
def test_partial_frames_give_the_same_answers_as_whole_frames(chunk: int) -> None:
    clip = add_noise(concatenate(quiet(1500, None), syllables(900), quiet(700, None), tone(300), quiet(900, None)),
                     15.0, seed=7)
    samples = np.concatenate([mulaw_decode(payload) for payload in frames_of(clip)])
    expected = utterances(clip)
    endpointer = Endpointer()
    got = []
    for offset in range(0, len(samples), chunk):
        utterance = endpointer.feed(samples[offset : offset + chunk], T0 + offset * 1000 // RATE)
        if utterance is not None:
            got.append(utterance)
    got += [u for u in [endpointer.feed(samples[:0], T0 + len(samples) // 8)] if u is not None]
    assert len(expected) == 2
    assert [(u.start_ms, u.end_ms, u.decided_ms, u.speech_ms, u.reason) for u in got] == [
        (u.start_ms, u.end_ms, u.decided_ms, u.speech_ms, u.reason) for u in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert np.array_equal(mine.audio.samples, theirs.audio.samples)


def test_two_answers_in_one_feed_come_one_feed_each() -> None:
    clip = concatenate(quiet(500), tone(300), quiet(600), tone(300), quiet(600))
    samples = np.concatenate([mulaw_decode(payload) for payload in frames_of(clip)])
    endpointer = Endpointer()
    first = endpointer.feed(samples, T0)
    second = endpointer.feed(samples[:0], T0 + len(samples) // 8)
    assert first is not None
    assert second is not None
    assert (first.start_ms, second.start_ms) == (T0 + 500, T0 + 1400)
    assert endpointer.feed(samples[:0], T0 + len(samples) // 8) is None


def test_feed_wants_int16() -> None:
    with pytest.raises(ValueError, match="int16"):
        Endpointer().feed(np.zeros(160), T0)


# -- questions -----------------------------------------------------------------------------------


def test_answers_follow_each_other_without_reset() -> None:
    got = utterances(concatenate(quiet(500), tone(300), quiet(1000), tone(500, -20.0), quiet(1000)))
    assert [(u.start_ms, u.end_ms) for u in got] == [(T0 + 500, T0 + 800), (T0 + 1800, T0 + 2300)]


def test_reset_forgets_the_answer_in_progress() -> None:
    endpointer = Endpointer()
    run(endpointer, concatenate(quiet(500), tone(300)))
    assert endpointer.speaking
    assert endpointer.heard_ms == 300
    endpointer.reset()
    assert not endpointer.speaking
    assert endpointer.heard_ms == 0
    assert run(endpointer, quiet(1000), t0=T0 + 800) == []
    [utterance] = [u for _, u in run(endpointer, concatenate(tone(400), quiet(800)), t0=T0 + 1800)]
    assert utterance.start_ms == T0 + 1800


def test_reset_keeps_the_noise_floor() -> None:
    first, then = quiet(3000, -30.0, seed=8), quiet(3000, -30.0, seed=9)
    endpointer = Endpointer()
    run(endpointer, first)
    endpointer.reset()
    assert run(endpointer, then, t0=T0 + 3000) == []
    assert endpointer.heard_ms == 0
    fresh = Endpointer()
    run(fresh, then)
    assert fresh.heard_ms > 0  # without the learned floor the same noise is heard as speech at first


# -- frames_of -----------------------------------------------------------------------------------


def test_frames_of_makes_160_byte_mulaw_frames() -> None:
    audio = concatenate(tone(1000), tone(5, -20.0))  # 8040 samples: 50 frames and 40 samples
    frames = frames_of(audio)
    assert len(frames) == 51
    assert all(len(frame) == 160 for frame in frames)
    joined = b"".join(frames)
    assert joined[:8040] == mulaw_encode(audio.samples)
    assert set(joined[8040:]) == {0xFF}
    assert np.array_equal(mulaw_decode(joined)[:8040], mulaw_decode(mulaw_encode(audio.samples)))
    assert not mulaw_decode(joined[8040:]).any()  # the padding is silence
    assert frames_of(Audio(np.zeros(0, dtype=np.int16), RATE)) == []


def test_frames_of_wants_8_khz() -> None:
    with pytest.raises(ValueError, match="8000"):
        frames_of(Audio(np.zeros(320, dtype=np.int16), 16000))


# -- real speech ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def said() -> Audio:
    try:
        return fresh_speak(EspeakTts(), "是的", "zh-CN", 170, 50, None, 1)
    except TtsUnavailable as exc:
        pytest.skip(f"espeak-ng is not available: {exc}")


@pytest.mark.parametrize("snr_db", [None, 15.0])
def test_a_spoken_answer_is_found(said: Audio, snr_db: float | None) -> None:
    clip = concatenate(quiet(1500, None), said, quiet(1000, None))
    if snr_db is not None:
        clip = add_noise(clip, snr_db, seed=2)
    clean = concatenate(quiet(1500, None), said, quiet(1000, None))
    loud = np.flatnonzero(frame_levels_dbfs(clean) > -40.0)  # where the words are
    [utterance] = utterances(clip)
    words_start, words_end = T0 + 20 * int(loud[0]), T0 + 20 * int(loud[-1]) + 20
    assert words_start <= utterance.start_ms <= words_start + 100
    assert words_end - 150 <= utterance.end_ms <= words_end
    assert utterance.start_ms - 200 <= words_start  # the audio holds all the words
    assert words_end <= utterance.end_ms + 200
    assert 350 <= utterance.decided_ms - utterance.end_ms < 370
    assert utterance.reason == "silence"
    assert speech_ms(utterance.audio, RecognizerSettings().silence_dbfs) >= RecognizerSettings().min_speech_ms


def test_reset_drops_answers_not_yet_delivered() -> None:
    clip = concatenate(quiet(500), tone(300), quiet(600), tone(300), quiet(600))
    samples = np.concatenate([mulaw_decode(payload) for payload in frames_of(clip)])
    endpointer = Endpointer()
    assert endpointer.feed(samples, T0) is not None
    endpointer.reset()
    assert endpointer.feed(samples[:0], T0 + len(samples) // 8) is None
