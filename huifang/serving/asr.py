"""The recogniser as the webhooks use it, timed and counted for /metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

from speech.asr import AnswerRecognizer, Recognition
from speech.audio import Audio


@dataclass
class MeteredRecognizer:
    inner: AnswerRecognizer

    @property
    def model_loaded(self) -> bool:
        return self.inner.model.loaded

    def recognize(self, audio: Audio) -> Recognition:
        from huifang.serving.metrics import process_metrics

        started = time.perf_counter()
        result = self.inner.recognize(audio)
        metrics = process_metrics()
        metrics.asr_seconds.observe(time.perf_counter() - started)
        metrics.asr_intents.labels(intent=str(result.intent)).inc()
        return result
