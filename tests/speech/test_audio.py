"""Telephone audio: G.711 tables, WAV in and out, resampling and the level measurements the recogniser uses."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest

from speech.audio import (
    Audio,
    AudioError,
    add_noise,
    alaw_decode,
    concatenate,
    mulaw_decode,
    mulaw_encode,
    normalise,
    read_wav,
    resample,
    silence,
    speech_ms,
    speech_outside,
    trim,
    write_wav,
)

RATE = 8000


def tone(seconds: float, freq: float = 440.0, dbfs: float = -6.0, rate: int = RATE) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    amplitude = 32767 * 10 ** (dbfs / 20)
    return Audio(np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16), rate)


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    return struct.pack("<4sI", chunk_id, len(body)) + body + (b"\0" if len(body) % 2 else b"")


def fmt_body(tag: int, channels: int, rate: int, bits: int) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)


def wav(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


class TestG711:
    @pytest.mark.parametrize(("code", "value"), [(0xFF, 0), (0x7F, 0), (0x00, -32124), (0x80, 32124),
                                                 (0xFE, 8), (0x7E, -8), (0xEF, 132), (0x8F, 16764)])
    def test_mulaw_decode_known_values(self, code: int, value: int) -> None:
        assert int(mulaw_decode(bytes([code]))[0]) == value

    def test_mulaw_decode_is_odd_symmetric_and_monotonic(self) -> None:
        table = mulaw_decode(bytes(range(256))).astype(np.int32)
        codes = np.arange(256)
        assert np.array_equal(table[codes], -table[codes ^ 0x80])
        # 0xFF..0x80 climb from 0 to the largest positive value
        positive = table[0xFF:0x7F:-1]
        assert np.all(np.diff(positive) > 0)

    def test_mulaw_encode_of_zero_and_extremes(self) -> None:
        assert mulaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == bytes([0xFF, 0x80, 0x00])

    def test_mulaw_encode_inverts_decode_for_every_code(self) -> None:
        codes = [c for c in range(256) if c != 0x7F]  # 0x7F is "negative zero": 0 encodes as 0xFF
        assert list(mulaw_encode(mulaw_decode(bytes(codes)))) == codes

    def test_mulaw_round_trip_stays_within_half_a_quantisation_step(self) -> None:
        values = np.arange(-32768, 32768, 7, dtype=np.int32)
        decoded = mulaw_decode(mulaw_encode(values.astype(np.int16))).astype(np.int32)
        error = np.abs(decoded - values)
        # a segment's step is 2**(exp+3) and magnitude + 132 >= 2**(exp+7): half a step <= (|x| + 132) / 32
        bound = (np.minimum(np.abs(values), 32635) + 132) / 32 + np.maximum(np.abs(values) - 32635, 0)
        assert np.all(error <= bound), values[error > bound][:10]
        assert np.all(np.sign(decoded[np.abs(values) > 8]) == np.sign(values[np.abs(values) > 8]))

    @pytest.mark.parametrize(("code", "value"), [(0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256),
                                                 (0x80, 5504), (0x00, -5504)])
    def test_alaw_decode_known_values(self, code: int, value: int) -> None:
        assert int(alaw_decode(bytes([code]))[0]) == value

    def test_alaw_decode_is_symmetric_and_has_no_zero(self) -> None:
        table = alaw_decode(bytes(range(256))).astype(np.int32)
        codes = np.arange(256)
        assert np.array_equal(table[codes], -table[codes ^ 0x80])
        assert np.count_nonzero(table == 0) == 0
        assert int(np.max(table)) == 32256
        assert int(np.min(table)) == -32256
        assert len(set(table.tolist())) == 256

    def test_tables_match_the_standard_library_codec(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            audioop = pytest.importorskip("audioop")  # removed in Python 3.13
        codes = bytes(range(256))
        assert np.array_equal(mulaw_decode(codes), np.frombuffer(audioop.ulaw2lin(codes, 2), dtype="<i2"))
        assert np.array_equal(alaw_decode(codes), np.frombuffer(audioop.alaw2lin(codes, 2), dtype="<i2"))


class TestWav:
    def test_write_then_read_round_trips_samples_and_rate(self) -> None:
        samples = np.array([0, 1, -1, 32767, -32768, 1234, -4321], dtype=np.int16)
        data = write_wav(Audio(samples, 16000))
        assert data[:4] == b"RIFF"
        assert data[8:16] == b"WAVEfmt "
        assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
        back = read_wav(data)
        assert back.rate == 16000
        assert back.samples.dtype == np.int16
        assert np.array_equal(back.samples, samples)

    def test_mulaw_wav(self) -> None:
        payload = bytes([0xFF, 0x80, 0x00, 0x7E])
        audio = read_wav(wav(chunk(b"fmt ", fmt_body(7, 1, 8000, 8)), chunk(b"data", payload)))
        assert audio.rate == 8000
        assert audio.samples.tolist() == [0, 32124, -32124, -8]

    def test_alaw_wav(self) -> None:
        audio = read_wav(wav(chunk(b"fmt ", fmt_body(6, 1, 8000, 8)), chunk(b"data", bytes([0xD5, 0x2A]))))
        assert audio.samples.tolist() == [8, -32256]

    def test_stereo_pcm_is_mixed_to_the_mean(self) -> None:
        frames = np.array([[1000, 3000], [-200, -400], [32766, 32766], [-32768, -32768], [500, -500]],
                          dtype="<i2")
        audio = read_wav(wav(chunk(b"fmt ", fmt_body(1, 2, 22050, 16)), chunk(b"data", frames.tobytes())))
        assert audio.rate == 22050
        assert audio.samples.tolist() == [2000, -300, 32766, -32768, 0]

    def test_8_bit_pcm_is_unsigned_around_128(self) -> None:
        audio = read_wav(wav(chunk(b"fmt ", fmt_body(1, 1, 8000, 8)), chunk(b"data", bytes([128, 0, 255, 129]))))
        assert audio.samples.tolist() == [0, -32768, 32512, 256]

    def test_unknown_chunks_and_odd_padding_are_skipped(self) -> None:
        samples = np.array([5, -5, 7], dtype="<i2")
        data = wav(chunk(b"LIST", b"abc"), chunk(b"fmt ", fmt_body(1, 1, 8000, 16)), chunk(b"fact", b"\1\2\3\4"),
                   chunk(b"data", samples.tobytes()))
        assert read_wav(data).samples.tolist() == [5, -5, 7]

    def test_extensible_format_uses_the_subformat(self) -> None:
        body = fmt_body(0xFFFE, 1, 8000, 8) + struct.pack("<HHI", 22, 8, 4) + struct.pack("<H14s", 7, b"\0" * 14)
        audio = read_wav(wav(chunk(b"fmt ", body), chunk(b"data", bytes([0x80, 0x00]))))
        assert audio.samples.tolist() == [32124, -32124]

    @pytest.mark.parametrize("data", [b"", b"ID3\x04" + b"\0" * 40, b"RIFF\0\0\0\0AVI LIST"])
    def test_not_a_wav_file(self, data: bytes) -> None:
        with pytest.raises(AudioError, match="not a WAV file"):
            read_wav(data)

    def test_missing_data_chunk(self) -> None:
        with pytest.raises(AudioError, match="no data chunk"):
            read_wav(wav(chunk(b"fmt ", fmt_body(1, 1, 8000, 16))))

    def test_missing_fmt_chunk(self) -> None:
        with pytest.raises(AudioError, match="no fmt"):
            read_wav(wav(chunk(b"data", b"\0\0")))

    def test_short_fmt_chunk(self) -> None:
        with pytest.raises(AudioError, match="fmt chunk is too short"):
            read_wav(wav(chunk(b"fmt ", b"\1\0\1\0"), chunk(b"data", b"\0\0")))

    def test_float_wav_is_refused_with_the_tag_and_bits(self) -> None:
        data = wav(chunk(b"fmt ", fmt_body(3, 1, 8000, 32)), chunk(b"data", np.zeros(4, "<f4").tobytes()))
        with pytest.raises(AudioError) as caught:
            read_wav(data)
        message = str(caught.value)
        assert "format tag 3" in message
        assert "32 bits" in message
        assert "PCM" in message

    def test_24_bit_pcm_is_refused(self) -> None:
        data = wav(chunk(b"fmt ", fmt_body(1, 1, 8000, 24)), chunk(b"data", b"\0" * 6))
        with pytest.raises(AudioError, match="format tag 1, 24 bits"):
            read_wav(data)

    def test_zero_channels_is_refused(self) -> None:
        data = wav(chunk(b"fmt ", fmt_body(1, 0, 8000, 16)), chunk(b"data", b"\0\0"))
        with pytest.raises(AudioError, match="0 channels"):
            read_wav(data)


def peak_hz(audio: Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(audio.samples), 1 / audio.rate)
    return float(freqs[int(np.argmax(spectrum))])


class TestResample:
    def test_8k_to_16k_doubles_length_and_keeps_the_tone(self) -> None:
        source = tone(1.0, 440.0)
        result = resample(source, 16000)
        assert result.rate == 16000
        assert abs(len(result.samples) - 2 * len(source.samples)) <= 1
        assert result.samples.dtype == np.int16
        assert peak_hz(source) == pytest.approx(440.0, abs=1.0)
        assert peak_hz(result) == pytest.approx(440.0, abs=1.0)
        level_in = np.sqrt(np.mean(source.samples.astype(np.float64) ** 2))
        level_out = np.sqrt(np.mean(result.samples.astype(np.float64) ** 2))
        assert level_out == pytest.approx(level_in, rel=0.05)

    def test_16k_to_8k_halves_length(self) -> None:
        result = resample(tone(0.5, 1000.0, rate=16000), 8000)
        assert abs(len(result.samples) - 4000) <= 1
        assert peak_hz(result) == pytest.approx(1000.0, abs=2.0)

    def test_same_rate_is_unchanged(self) -> None:
        source = tone(0.1)
        assert np.array_equal(resample(source, RATE).samples, source.samples)


class TestLevels:
    def test_normalise_puts_the_peak_at_minus_3_dbfs(self) -> None:
        quiet = tone(0.2, dbfs=-30.0)
        result = normalise(quiet)
        peak = int(np.max(np.abs(result.samples.astype(np.int32))))
        assert 20 * np.log10(peak / 32767) == pytest.approx(-3.0, abs=0.01)
        assert result.rate == RATE

    def test_normalise_can_turn_down_as_well_as_up(self) -> None:
        loud = Audio(np.array([0, -32768, 16000], dtype=np.int16), RATE)
        result = normalise(loud, peak_dbfs=-6.0)
        peak = int(np.max(np.abs(result.samples.astype(np.int32))))
        assert 20 * np.log10(peak / 32767) == pytest.approx(-6.0, abs=0.01)
        assert int(result.samples[1]) < 0 < int(result.samples[2])

    def test_normalise_leaves_digital_silence_alone(self) -> None:
        quiet = silence(0.5)
        result = normalise(quiet)
        assert np.count_nonzero(result.samples) == 0
        assert len(result.samples) == 4000
        assert len(normalise(Audio(np.zeros(0, dtype=np.int16), RATE)).samples) == 0

    def test_no_speech_in_digital_silence_or_a_low_noise_floor(self) -> None:
        assert speech_ms(silence(2.0), -40.0) == 0
        floor = silence(2.0, noise_dbfs=-60.0, seed=3)
        rms = np.sqrt(np.mean(floor.samples.astype(np.float64) ** 2))
        assert 20 * np.log10(rms / 32768) == pytest.approx(-60.0, abs=1.0)
        assert speech_ms(floor, -40.0) == 0

    def test_speech_ms_counts_a_loud_tone_in_silence(self) -> None:
        clip = concatenate(silence(1.0), tone(0.8, dbfs=-10.0), silence(1.2))
        assert speech_ms(clip, -40.0) == pytest.approx(800, abs=40)

    def test_speech_ms_counts_a_tone_over_a_noise_floor(self) -> None:
        clip = concatenate(silence(0.5, noise_dbfs=-60.0, seed=1), tone(0.6, dbfs=-10.0),
                           silence(0.5, noise_dbfs=-60.0, seed=2))
        assert speech_ms(clip, -40.0) == pytest.approx(600, abs=40)

    def test_trim_cuts_silence_and_keeps_the_pad(self) -> None:
        # 0.5 s silence, 0.3 s tone, 0.5 s silence; frames of 160 samples line up with the tone's edges
        clip = concatenate(silence(0.5), tone(0.3, dbfs=-10.0), silence(0.5))
        result = trim(clip, -40.0, pad_ms=100)
        assert result.rate == RATE
        assert len(result.samples) == 800 + 2400 + 800
        assert np.array_equal(result.samples, clip.samples[3200:7200])
        assert np.count_nonzero(result.samples[:800]) == 0
        assert np.count_nonzero(result.samples[-800:]) == 0
        assert np.count_nonzero(result.samples[800:3200]) > 2000

    def test_trim_pad_never_reaches_past_the_clip(self) -> None:
        clip = concatenate(silence(0.04), tone(0.3, dbfs=-10.0), silence(0.04))
        assert len(trim(clip, -40.0, pad_ms=500).samples) == len(clip.samples)

    def test_trim_of_silence_keeps_everything(self) -> None:
        clip = silence(0.3)
        assert len(trim(clip, -40.0, pad_ms=100).samples) == len(clip.samples)

    @pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
    def test_add_noise_gives_the_requested_snr(self, snr_db: float) -> None:
        clean = tone(2.0, dbfs=-12.0)
        noisy = add_noise(clean, snr_db, seed=7)
        noise = noisy.samples.astype(np.float64) - clean.samples.astype(np.float64)
        signal_power = np.mean(clean.samples.astype(np.float64) ** 2)
        measured = 10 * np.log10(signal_power / np.mean(noise**2))
        assert measured == pytest.approx(snr_db, abs=0.5)
        assert noisy.rate == clean.rate
        assert len(noisy.samples) == len(clean.samples)

    def test_add_noise_measures_the_signal_where_it_is_active(self) -> None:
        clean = concatenate(silence(1.0), tone(1.0, dbfs=-12.0), silence(1.0))
        noisy = add_noise(clean, 10.0, seed=1)
        noise = noisy.samples.astype(np.float64) - clean.samples.astype(np.float64)
        tone_power = np.mean(clean.samples[8000:16000].astype(np.float64) ** 2)
        assert 10 * np.log10(tone_power / np.mean(noise**2)) == pytest.approx(10.0, abs=0.5)

    def test_add_noise_is_seeded(self) -> None:
        clean = tone(0.2)
        assert np.array_equal(add_noise(clean, 10.0, seed=5).samples, add_noise(clean, 10.0, seed=5).samples)
        assert not np.array_equal(add_noise(clean, 10.0, seed=5).samples, add_noise(clean, 10.0, seed=6).samples)

    def test_concatenate_joins_in_order(self) -> None:
        joined = concatenate(Audio(np.array([1, 2], np.int16), RATE), Audio(np.array([3], np.int16), RATE))
        assert joined.samples.tolist() == [1, 2, 3]
        assert joined.rate == RATE
        assert joined.seconds == pytest.approx(3 / RATE)

    def test_concatenate_refuses_different_rates(self) -> None:
        with pytest.raises(AudioError, match=r"different rates \[8000, 16000\]"):
            concatenate(silence(0.1, rate=8000), silence(0.1, rate=16000))


def test_denoise_lowers_stationary_noise_and_keeps_the_tone() -> None:
    import numpy as np

    from speech.audio import add_noise, denoise, frame_levels_dbfs

    rate = 16000
    t = np.arange(int(0.5 * rate)) / rate
    tone = Audio((8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16), rate)
    quiet = Audio(np.zeros(int(0.5 * rate), dtype=np.int16), rate)
    noisy = add_noise(concatenate(quiet, tone, quiet), 15.0, seed=1)
    cleaned = denoise(noisy)
    before, after = frame_levels_dbfs(noisy), frame_levels_dbfs(cleaned)
    gap = slice(2, 20)  # frames well inside the leading quiet part
    assert float(np.mean(after[gap])) < float(np.mean(before[gap])) - 10
    middle = slice(30, 45)
    assert abs(float(np.mean(after[middle])) - float(np.mean(before[middle]))) < 2
    assert len(cleaned.samples) == len(noisy.samples)
    assert denoise(Audio(np.zeros(10, dtype=np.int16), rate)).samples.tolist() == [0] * 10


class TestSpeechOutside:
    """Speech the recognised words do not account for (the yes/no rejection rule's measure)."""

    def clip(self) -> Audio:
        # 0.0–0.3 quiet, 0.3–0.6 a word, 0.6–0.9 quiet, 0.9–1.3 more speech, 1.3–1.6 quiet
        return concatenate(silence(0.3, RATE), tone(0.3), silence(0.3, RATE), tone(0.4, dbfs=-12.0),
                           silence(0.3, RATE))

    def test_speech_inside_the_spans_is_explained(self) -> None:
        assert speech_outside(self.clip(), [(0.3, 0.6), (0.9, 1.3)], margin_ms=0) == 0

    def test_speech_left_out_is_measured(self) -> None:
        assert speech_outside(self.clip(), [(0.3, 0.6)], margin_ms=0) == 400
        assert speech_outside(self.clip(), [(0.3, 0.6), (1.0, 1.3)], margin_ms=0) == 100
        assert speech_outside(self.clip(), [(0.3, 0.6), (1.0, 1.3)], margin_ms=100) == 0  # within the margin

    def test_speech_is_relative_to_the_loudest_frame(self) -> None:
        quiet = concatenate(tone(0.3), silence(0.2, RATE), tone(0.3, dbfs=-40.0))  # 34 dB below the word
        assert speech_outside(quiet, [(0.0, 0.3)], margin_ms=0) == 0
        assert speech_outside(quiet, [(0.0, 0.3)], margin_ms=0, below_peak_db=40.0) == 300

    def test_no_words_leave_all_speech_unexplained(self) -> None:
        assert speech_outside(self.clip(), [], margin_ms=80) == 700
        assert speech_outside(Audio(np.zeros(0, dtype=np.int16), RATE), [], margin_ms=80) == 0
