"""What an uploaded file really is, judged by its bytes, and whether its name is safe.

Allowed: PDF, PNG, JPEG, DOCX, XLSX and ODT. The declared content type and the extension
are never trusted: the first bytes decide (the `filetype` library), and for a ZIP archive
the parts inside decide which office format it is, if any.
"""

from __future__ import annotations

import hashlib
import struct
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import IO

import filetype

MAX_NAME_LENGTH = 255

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
# media type -> (extension, what decides it)
ALLOWED: dict[str, tuple[str, str]] = {
    "application/pdf": (".pdf", "signature"),
    "image/png": (".png", "signature"),
    "image/jpeg": (".jpg", "signature"),
    DOCX: (".docx", "[Content_Types].xml and word/document.xml"),
    XLSX: (".xlsx", "[Content_Types].xml and xl/workbook.xml"),
    ODT: (".odt", "mimetype"),
}
# Other names a detected type goes by: a JPEG named .jpeg keeps its name on download.
EXTENSION_ALIASES: dict[str, frozenset[str]] = {"image/jpeg": frozenset({".jpeg", ".jpe"})}
# Extensions a desktop runs, or a browser renders as active content, when the file is opened:
# a name ending in one is refused whatever the bytes are ("hoso.pdf.exe", "hoso.html").
EXECUTABLE_EXTENSIONS = frozenset(
    {
        ".ade", ".adp", ".app", ".application", ".appref-ms", ".apk", ".asp", ".aspx", ".bat",
        ".chm", ".cmd", ".com", ".cpl", ".crt", ".dll", ".dmg", ".docm", ".dotm", ".exe",
        ".gadget", ".hta", ".htm", ".html", ".inf", ".ins", ".isp", ".jar", ".jnlp", ".js",
        ".jse", ".ksh", ".lnk", ".mht", ".mhtml", ".msc", ".msh", ".msi", ".msp", ".mst",
        ".php", ".pif", ".pl", ".potm", ".ppam", ".ppsm", ".pptm", ".ps1", ".ps1xml", ".ps2",
        ".psc1", ".psm1", ".py", ".pyw", ".reg", ".scf", ".scr", ".sct", ".settingcontent-ms",
        ".sh", ".shtml", ".svg", ".svgz", ".sys", ".url", ".vb", ".vbe", ".vbs", ".vhd",
        ".vhdx", ".ws", ".wsc", ".wsf", ".wsh", ".xbap", ".xht", ".xhtml", ".xlam", ".xll",
        ".xlsm", ".xltm", ".xml", ".xsl", ".xslt",
    }
)  # fmt: skip
# What filetype may call a ZIP-based file; the archive's parts decide which, if any.
ZIP_TYPES = frozenset(
    {
        "application/zip",
        DOCX,
        XLSX,
        ODT,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/epub+zip",
        "application/java-archive",
    }
)


@dataclass(frozen=True)
class ZipLimits:
    """The most work inspecting one ZIP-based upload may cost: parts in the archive, and
    the sum of the sizes its parts declare once expanded."""

    entries: int = 2000
    expanded: int = 200 * 1024 * 1024


class ArchiveTooLarge(Exception):
    """A ZIP-based upload with more parts, or more declared expanded bytes, than allowed."""

    def __init__(self, limits: ZipLimits) -> None:
        super().__init__(f"more than {limits.entries} parts or {limits.expanded} expanded bytes")
        self.limits = limits


# An end-of-central-directory record: signature, two disk numbers, entries on this disk,
# entries in all, directory size, directory offset, comment length (APPNOTE 4.3.16).
_END_OF_DIRECTORY = struct.Struct("<4s4H2LH")
# Bytes of central directory allowed per part: a 46-byte header, a name and extra fields.
_DIRECTORY_BYTES_PER_ENTRY = 1024


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
    if _last_extension(name) in EXECUTABLE_EXTENSIONS:
        return "executable"
    return None


def _visible(name: str) -> str:
    """The name as Windows saves it: trailing dots and spaces dropped ("a.exe. " is a.exe)."""
    return name.rstrip(". \t")


def _last_extension(name: str) -> str:
    """The last extension in lower case (".exe" for "hoso.pdf.exe"), or "" when there is none."""
    _stem, dot, extension = _visible(name).rpartition(".")
    if not dot or not extension or " " in extension:  # ".html" alone is an HTML file too
        return ""
    return "." + extension.lower()


def download_name(name: str, media_type: str) -> str:
    """The name a download is offered under: the uploader's base name with the extension of
    the type the bytes were judged to be, so a PDF named "hoso.html", "hoso.bat" or
    "hoso.pdf.exe" is saved as "hoso.pdf". Derived when downloading, so documents stored
    under such names before the upload check are offered safely too."""
    if media_type not in ALLOWED:
        return _visible(name) or "document"
    extension, _member = ALLOWED[media_type]
    fitting = {extension} | EXTENSION_ALIASES.get(media_type, frozenset())
    visible = _visible(name)
    if _last_extension(visible) in fitting:
        return visible
    base = visible[: -len(_last_extension(visible))] if _last_extension(visible) else visible
    base = _visible(base)
    if _last_extension(base) in fitting:  # "hoso.pdf.exe": drop the executable, keep ".pdf"
        return base
    return f"{base or 'document'}{extension}"


def inspect(stream: IO[bytes], *, zip_limits: ZipLimits | None = None) -> Inspected | None:
    """The file's detected type, size and SHA-256; None when its bytes are not an allowed
    type (an empty file included). Reads the stream once and leaves it at its start.
    Raises ArchiveTooLarge for a ZIP-based file beyond `zip_limits` (ZipLimits() if None)."""
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
    if guessed in ZIP_TYPES:
        guessed = _office_type(stream, zip_limits or ZipLimits())
    if guessed not in ALLOWED:
        return None
    extension, _member = ALLOWED[guessed]
    return Inspected(media_type=guessed, extension=extension, size=size, sha256=digest.hexdigest())


def _has_macros(archive: zipfile.ZipFile, names: set[str]) -> bool:
    """A macro-enabled Office file (.docm, .xlsm) under a .docx/.xlsx name: VBA parts, or a
    content type that says so. Only the first 64 KB of the content types are read."""
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        return True
    with archive.open("[Content_Types].xml") as types:
        return b"macroenabled" in types.read(64 * 1024).lower()


def _check_directory(stream: IO[bytes], limits: ZipLimits) -> None:
    """Refuse an archive whose central directory is too big before zipfile parses it (that
    parse costs memory and time per part): the end record says how many parts and bytes."""
    end = stream.seek(0, 2)
    tail_size = min(end, _END_OF_DIRECTORY.size + 0xFFFF)  # the record and its longest comment
    stream.seek(end - tail_size)
    tail = stream.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END_OF_DIRECTORY.size:
        return  # no end record: zipfile finds the archive broken
    _sig, _disk, _start, _here, entries, directory_size, _offset, _comment = _END_OF_DIRECTORY.unpack_from(tail, at)
    # A ZIP64 archive says 0xFFFF parts here: more than any limit, and no office file needs it.
    if entries > limits.entries or directory_size > limits.entries * _DIRECTORY_BYTES_PER_ENTRY:
        raise ArchiveTooLarge(limits)


def _office_type(stream: IO[bytes], limits: ZipLimits) -> str | None:
    """Which office format a ZIP archive is, from the parts each format requires (not from
    where they sit in the archive), or None for any other archive or a broken one. Raises
    ArchiveTooLarge beyond `limits`, whatever the archive would have been."""
    try:
        _check_directory(stream, limits)
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            if len(infos) > limits.entries or sum(info.file_size for info in infos) > limits.expanded:
                raise ArchiveTooLarge(limits)
            order = [info.filename for info in infos]
            names = set(order)
            # OpenDocument: `mimetype` is the first part, stored uncompressed (ODF 1.2,
            # part 3, 3.3); checking that first means a compressed "mimetype" (a zip bomb)
            # is never inflated.
            if order[:1] == ["mimetype"]:
                info = archive.getinfo("mimetype")
                stored = info.compress_type == zipfile.ZIP_STORED and info.file_size <= 64
                return ODT if stored and archive.open(info).read(64).strip() == ODT.encode() else None
            if "[Content_Types].xml" in names and not _has_macros(archive, names):
                if "word/document.xml" in names:
                    return DOCX
                if "xl/workbook.xml" in names:
                    return XLSX
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        return None
    finally:
        stream.seek(0)
    return None
