"""Questionnaire flows as data, the pure flow engine and result classification. Imports nothing of ours."""
