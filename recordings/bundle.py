"""Export bundles on disk: a zip written entry by entry (audio copied from the store in chunks, never the whole
bundle in memory) with a SHA-256 manifest of every other file in it, and the check of a bundle against its
manifest (`huifang recordings verify-bundle`).

The manifest is `manifest.sha256`, one line per file as `sha256sum` writes it (`<hex>  <name>`), so a bundle can
also be checked by hand: `unzip -d b bundle.zip && cd b && sha256sum -c manifest.sha256`.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from recordings.store import PRIVATE_MODE

MANIFEST = "manifest.sha256"
CHUNK = 1 << 16


class BundleError(ValueError):
    """The bundle could not be written or read; the message says why."""


def to_json(data: Any) -> bytes:
    """JSON as people read it: Chinese as Chinese (not `\\uXXXX` escapes), indented, UTF-8."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")


@dataclass(frozen=True)
class Audio:
    """An audio file to copy into the bundle from `source`, which must hash to `sha256` (the stored checksum)."""

    name: str
    source: Path
    sha256: str
    label: str  # what to name in an error (the RecordingSid)


def write(out: Path, documents: dict[str, bytes], audio: Iterable[Audio]) -> tuple[int, str]:
    """Write the bundle to `out` (0600, replacing a file there): the small `documents` (JSON), each audio file
    streamed from the store while it is hashed, then the manifest. Returns (files in the bundle, the
    bundle's SHA-256). An audio file that does not match its stored checksum stops the export
    (BundleError) and nothing is left at `out`."""
    digests: dict[str, str] = {}
    handle = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        with os.fdopen(handle, "wb") as raw:
            os.fchmod(raw.fileno(), PRIVATE_MODE)
            with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as bundle:
                for name, data in sorted(documents.items()):
                    bundle.writestr(name, data)
                    digests[name] = hashlib.sha256(data).hexdigest()
                for item in sorted(audio, key=lambda a: a.name):
                    digests[item.name] = _copy_in(bundle, item)
                manifest = "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items()))
                bundle.writestr(MANIFEST, manifest.encode())
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return len(digests) + 1, sha256_of(out)


def _copy_in(bundle: zipfile.ZipFile, item: Audio) -> str:
    digest = hashlib.sha256()
    with item.source.open("rb") as source, bundle.open(item.name, "w", force_zip64=True) as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            target.write(chunk)
    if digest.hexdigest() != item.sha256:
        raise BundleError(f"{item.label}: the stored file does not match its checksum: run huifang recordings verify")
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Check:
    """A bundle checked against its manifest: `files` the files it lists; what is missing from the zip, in
    the zip but not listed (extra), or different from its listed SHA-256 (altered)."""

    files: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.altered)

    def to_json(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "files": self.files}
        return {"ok": False, "files": self.files, "missing": self.missing, "extra": self.extra,
                "altered": self.altered}


def verify(path: Path) -> Check:
    """Re-hash every file of the bundle at `path` against its manifest. BundleError when it is not a zip or
    has no readable manifest."""
    try:
        with zipfile.ZipFile(path) as bundle:
            listed = _manifest(bundle)
            present = {info.filename for info in bundle.infolist() if not info.is_dir()} - {MANIFEST}
            check = Check(files=len(listed), missing=sorted(set(listed) - present),
                          extra=sorted(present - set(listed)))
            for name in sorted(set(listed) & present):
                with bundle.open(name) as member:
                    if _digest(member) != listed[name]:
                        check.altered.append(name)
    except zipfile.BadZipFile as exc:
        raise BundleError(f"{path}: not a zip file ({exc})") from None
    except OSError as exc:
        raise BundleError(f"{path}: {exc.strerror or exc}") from None
    return check


def _manifest(bundle: zipfile.ZipFile) -> dict[str, str]:
    try:
        text = bundle.read(MANIFEST).decode("utf-8")
    except KeyError:
        raise BundleError(f"the bundle has no {MANIFEST}") from None
    except UnicodeDecodeError:
        raise BundleError(f"{MANIFEST} is not UTF-8 text") from None
    listed: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise BundleError(f"{MANIFEST} line {number}: expected '<sha256>  <file name>'")
        listed[name] = digest.lower()
    return listed


def _digest(member: BinaryIO | Any) -> str:
    digest = hashlib.sha256()
    while chunk := member.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()
