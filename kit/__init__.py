"""Shared value types every package may use: the vocabulary, the clock, the business calendar, settings."""
