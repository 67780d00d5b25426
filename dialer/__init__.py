"""Intake of policies and, later, the calling rules, the scheduler loop and the telephony providers."""
