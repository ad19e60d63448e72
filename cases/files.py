"""What an uploaded file really is, judged by its bytes, and whether its name is safe.

Allowed: PDF, PNG, JPEG, DOCX, XLSX and ODT. The declared content type and the extension
are never trusted: the first bytes decide (the `filetype` library), and the office formats,
which are ZIP archives, must also open as one with the part their format requires.
"""

from __future__ import annotations

import hashlib
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import IO

import filetype

MAX_NAME_LENGTH = 255

# media type -> (extension, the ZIP member the format requires, or None)
ALLOWED: dict[str, tuple[str, str | None]] = {
    "application/pdf": (".pdf", None),
    "image/png": (".png", None),
    "image/jpeg": (".jpg", None),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx", "[Content_Types].xml"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx", "[Content_Types].xml"),
    "application/vnd.oasis.opendocument.text": (".odt", "mimetype"),
}


@dataclass(frozen=True)
class Inspected:
    media_type: str
    extension: str
    size: int
    sha256: str


def name_problem(name: str) -> str | None:
    """Why a client's file name is refused, or None. A name is kept only to be shown and
    offered back on download; one that tries to be a path, or hides characters, is refused
    rather than silently changed."""
    if not name or not name.strip():
        return "blank"
    if len(name) > MAX_NAME_LENGTH:
        return "too_long"
    if "/" in name or "\\" in name or name in (".", ".."):
        return "path"
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in name):
        return "control_character"
    return None


def inspect(stream: IO[bytes]) -> Inspected | None:
    """The file's detected type, size and SHA-256; None when its bytes are not an allowed
    type (an empty file included). Reads the stream once and leaves it at its start."""
    stream.seek(0)
    head = stream.read(8192)
    digest = hashlib.sha256(head)
    size = len(head)
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    if size == 0:
        return None
    guessed = filetype.guess_mime(head)
    if guessed not in ALLOWED:
        return None
    extension, required_member = ALLOWED[guessed]
    if required_member is not None and not _zip_has(stream, required_member):
        return None
    return Inspected(media_type=guessed, extension=extension, size=size, sha256=digest.hexdigest())


def _zip_has(stream: IO[bytes], member: str) -> bool:
    try:
        with zipfile.ZipFile(stream) as archive:
            return member in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        stream.seek(0)
