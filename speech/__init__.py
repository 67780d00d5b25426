"""Speech: TTS prompt rendering and its cache, offline Vosk recognition, intent mapping (issue 4).

Imports nothing of huifang's own packages.
"""
