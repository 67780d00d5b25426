"""A signed questionnaire's scan as uploaded: its type read from its content (the file's name and the browser's
claimed type are not trusted), PDF, JPEG or PNG only, and no larger than `[letters] max_scan_mb`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ScanProblem(StrEnum):
    MISSING = "scan_missing"
    TYPE = "scan_type"
    TOO_LARGE = "scan_too_large"


class ScanRefused(ValueError):
    def __init__(self, message: str, problem: ScanProblem, limit_mb: int = 0) -> None:
        super().__init__(message)
        self.problem = problem
        self.limit_mb = limit_mb


@dataclass(frozen=True)
class Scan:
    data: bytes
    extension: str  # pdf | jpg | png: as stored
    media_type: str


def _is_pdf(data: bytes) -> bool:
    """A PDF header within the first KiB (as readers accept it) and an end-of-file marker near the end."""
    return b"%PDF-" in data[:1024] and b"%%EOF" in data[-1024:]


def _is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff" and data.rstrip(b"\x00\r\n")[-2:] == b"\xff\xd9"


def _is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and b"IEND" in data[-16:]


SNIFFERS = (("pdf", "application/pdf", _is_pdf), ("jpg", "image/jpeg", _is_jpeg), ("png", "image/png", _is_png))


def sniff(data: bytes, max_mb: int) -> Scan:
    """The scan, typed by its content; ScanRefused when it is empty, too large or none of PDF, JPEG, PNG."""
    if not data:
        raise ScanRefused("the signed questionnaire's scan is required", ScanProblem.MISSING)
    if len(data) > max_mb * 1024 * 1024:
        raise ScanRefused(f"the scan is larger than {max_mb} MB (letters.max_scan_mb)", ScanProblem.TOO_LARGE,
                          max_mb)
    for extension, media_type, looks_like in SNIFFERS:
        if looks_like(data):
            return Scan(data, extension, media_type)
    raise ScanRefused("the scan is not a PDF, JPEG or PNG file (its content was checked, not its name)",
                      ScanProblem.TYPE)
