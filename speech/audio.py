"""Telephone audio: WAV in and out (PCM 8/16-bit, G.711 μ-law/A-law), resampling, normalising, speech energy.

Samples are kept as mono int16 numpy arrays. Twilio plays 8 kHz mono 16-bit PCM WAV (docs/twilio-facts.md)
and serves recordings as PCM WAV; media streams carry raw 8 kHz μ-law.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
import soxr

TELEPHONE_RATE = 8000

_PCM = 1
_ALAW = 6
_MULAW = 7
_EXTENSIBLE = 0xFFFE


class AudioError(ValueError):
    """Audio that cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # mono int16
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    def pcm16(self) -> bytes:
        return self.samples.astype("<i2").tobytes()


def read_wav(data: bytes) -> Audio:
    """Parse a RIFF/WAVE file: PCM 8/16-bit, μ-law or A-law, any rate, channels mixed to mono."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError("not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    payload: bytes | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise AudioError("WAV fmt chunk is too short")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            payload = body
        offset += 8 + size + (size & 1)
    if fmt is None or payload is None:
        raise AudioError("WAV file has no fmt or no data chunk")
    tag, channels, rate, bits = fmt
    if channels < 1 or rate <= 0:
        raise AudioError(f"WAV file has {channels} channels at {rate} Hz")
    samples = _decode(tag, bits, payload)
    if channels > 1:
        usable = len(samples) - len(samples) % channels
        samples = samples[:usable].reshape(-1, channels).astype(np.int32).mean(axis=1).astype(np.int16)
    return Audio(samples, rate)


def _decode(tag: int, bits: int, payload: bytes) -> np.ndarray:
    if tag == _PCM and bits == 16:
        return np.frombuffer(payload[: len(payload) // 2 * 2], dtype="<i2").astype(np.int16)
    if tag == _PCM and bits == 8:
        return ((np.frombuffer(payload, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if tag == _MULAW and bits == 8:
        return mulaw_decode(payload)
    if tag == _ALAW and bits == 8:
        return alaw_decode(payload)
    raise AudioError(f"unsupported WAV encoding (format tag {tag}, {bits} bits): use PCM, μ-law or A-law")


def write_wav(audio: Audio) -> bytes:
    """16-bit PCM mono WAV bytes."""
    pcm = audio.pcm16()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, _PCM, 1, audio.rate, audio.rate * 2, 2, 16,
        b"data", len(pcm),
    )
    buffer = io.BytesIO()
    buffer.write(header)
    buffer.write(pcm)
    return buffer.getvalue()


def _mulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1))
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


_MULAW_DECODE = _mulaw_table()
_ALAW_DECODE = _alaw_table()


def mulaw_decode(data: bytes) -> np.ndarray:
    return _MULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes) -> np.ndarray:
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def mulaw_encode(samples: np.ndarray) -> bytes:
    """G.711 μ-law (the encoding of Twilio media streams)."""
    value = samples.astype(np.int32)
    sign = np.where(value < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(value), 32635) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def resample(audio: Audio, rate: int) -> Audio:
    if audio.rate == rate:
        return audio
    converted = soxr.resample(audio.samples.astype(np.float32), audio.rate, rate, quality="HQ")
    return Audio(np.clip(np.round(converted), -32768, 32767).astype(np.int16), rate)


def normalise(audio: Audio, peak_dbfs: float = -3.0) -> Audio:
    """Scale so the loudest sample sits at `peak_dbfs` (silence stays silence)."""
    peak = int(np.max(np.abs(audio.samples.astype(np.int32)))) if len(audio.samples) else 0
    if peak == 0:
        return audio
    gain = (32767 * 10 ** (peak_dbfs / 20)) / peak
    scaled = np.clip(np.round(audio.samples.astype(np.float64) * gain), -32768, 32767)
    return Audio(scaled.astype(np.int16), audio.rate)


def frame_levels_dbfs(audio: Audio, frame_ms: int = 20) -> np.ndarray:
    """RMS level of each frame in dBFS (−inf-safe: digital silence reads as −120)."""
    size = max(1, audio.rate * frame_ms // 1000)
    count = len(audio.samples) // size
    if count == 0:
        return np.zeros(0)
    frames = audio.samples[: count * size].astype(np.float64).reshape(count, size)
    frames -= frames.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return np.asarray(20 * np.log10(np.maximum(rms, 1e-6) / 32768.0))


def speech_ms(audio: Audio, threshold_dbfs: float, frame_ms: int = 20) -> int:
    """Milliseconds of frames louder than `threshold_dbfs`."""
    return int(np.count_nonzero(frame_levels_dbfs(audio, frame_ms) > threshold_dbfs)) * frame_ms


def speech_outside(audio: Audio, spans: list[tuple[float, float]], margin_ms: int, below_peak_db: float = 25.0,
                   frame_ms: int = 20) -> int:
    """Milliseconds of speech outside `spans` (seconds, widened by `margin_ms` each side). Speech is a frame
    within `below_peak_db` of the loudest frame: relative, so it follows the caller's level, not the line's."""
    levels = frame_levels_dbfs(audio, frame_ms)
    if len(levels) == 0:
        return 0
    loud = levels > levels.max() - below_peak_db
    centres = (np.arange(len(levels)) + 0.5) * frame_ms / 1000
    margin = margin_ms / 1000
    covered = np.zeros(len(levels), dtype=bool)
    for start, end in spans:
        covered |= (centres >= start - margin) & (centres <= end + margin)
    return int(np.count_nonzero(loud & ~covered)) * frame_ms


def trim(audio: Audio, threshold_dbfs: float, pad_ms: int, frame_ms: int = 20) -> Audio:
    """Cut quiet before the first and after the last frame louder than `threshold_dbfs`, keeping `pad_ms`."""
    loud = np.flatnonzero(frame_levels_dbfs(audio, frame_ms) > threshold_dbfs)
    if len(loud) == 0:
        return audio
    size = audio.rate * frame_ms // 1000
    pad = audio.rate * pad_ms // 1000
    start = max(0, int(loud[0]) * size - pad)
    end = min(len(audio.samples), (int(loud[-1]) + 1) * size + pad)
    return Audio(audio.samples[start:end], audio.rate)


def denoise(audio: Audio, over_subtraction: float = 2.0, floor: float = 0.05, frame_ms: int = 32) -> Audio:
    """Spectral subtraction of stationary line noise (hiss, hum), for the recogniser's input.

    The noise spectrum is the mean of the quietest tenth of the frames (a recorded answer always has some
    quiet around the words); each frame keeps max(|X| - over_subtraction·N, floor·|X|) with its own phase.
    Audio without a quiet part loses little: its quietest frames are speech, subtracted only down to `floor`.
    """
    size = 1 << max(4, int(audio.rate * frame_ms / 1000 - 1).bit_length())  # a power of two ≈ frame_ms
    hop = size // 4
    signal = audio.samples.astype(np.float64)
    if len(signal) < size:
        return audio
    window = np.hanning(size)
    padded = np.concatenate([np.zeros(size), signal, np.zeros(size)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, size)[::hop] * window
    spectrum = np.fft.rfft(frames, axis=1)
    magnitude = np.abs(spectrum)
    quietest = np.argsort(magnitude.sum(axis=1))[: max(3, len(frames) // 10)]
    noise = magnitude[quietest].mean(axis=0)
    kept = np.maximum(magnitude - over_subtraction * noise, floor * magnitude)
    cleaned = np.fft.irfft(spectrum * (kept / np.maximum(magnitude, 1e-9)), n=size, axis=1) * window
    out = np.zeros(len(padded))
    weight = np.zeros(len(padded))
    for index, frame in enumerate(cleaned):  # overlap-add, normalised by the summed squared window
        out[index * hop : index * hop + size] += frame
        weight[index * hop : index * hop + size] += window * window
    restored = out / np.maximum(weight, 1e-9)
    return Audio(np.clip(np.round(restored[size : size + len(signal)]), -32768, 32767).astype(np.int16), audio.rate)


def add_noise(audio: Audio, snr_db: float, seed: int) -> Audio:
    """White noise at `snr_db` below the signal's active level (for labelled test sets and simulations)."""
    signal = audio.samples.astype(np.float64)
    active = signal[np.abs(signal) > 0.05 * (np.max(np.abs(signal)) or 1)]
    power = float(np.mean(active * active)) if len(active) else 1.0
    noise = np.random.default_rng(seed).normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(signal))
    return Audio(np.clip(np.round(signal + noise), -32768, 32767).astype(np.int16), audio.rate)


def silence(seconds: float, rate: int = TELEPHONE_RATE, noise_dbfs: float | None = None, seed: int = 0) -> Audio:
    """Digital silence, or a line-noise floor at `noise_dbfs`."""
    count = int(seconds * rate)
    if noise_dbfs is None:
        return Audio(np.zeros(count, dtype=np.int16), rate)
    sigma = 32768.0 * 10 ** (noise_dbfs / 20)
    noise = np.random.default_rng(seed).normal(0.0, sigma, count)
    return Audio(np.clip(np.round(noise), -32768, 32767).astype(np.int16), rate)


def concatenate(*parts: Audio) -> Audio:
    rates = {part.rate for part in parts}
    if len(rates) != 1:
        raise AudioError(f"cannot join audio at different rates {sorted(rates)}")
    return Audio(np.concatenate([part.samples for part in parts]).astype(np.int16), rates.pop())
