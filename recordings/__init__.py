"""Recordings: fetching, storing with checksums and retention, compliance retrieval and audit (issue 9)."""
