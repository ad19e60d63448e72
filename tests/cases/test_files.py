"""What an uploaded file really is, judged by its bytes, and which names are safe to keep.

The sample builders here make real, minimal files of each allowed type; the API tests
upload the same ones.
"""

from __future__ import annotations

import hashlib
import io
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from cases import files

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"


# --- Real minimal files ---------------------------------------------------------------------


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n"
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def png_bytes() -> bytes:
    """A 1x1 grey PNG: signature, IHDR, IDAT and IEND with their CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # width, height, depth 8, greyscale
    pixels = zlib.compress(b"\x00\x80")  # filter byte 0, one grey pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# A 1x1 JPEG: SOI, DQT, SOF9 (one component), DAC, SOS, three bytes of scan, EOI.
JPEG = bytes.fromhex(
    "FFD8"
    "FFDB004300030202020202030202020303030304060404040404080606050609080A0A090809090A0C0F0C0A0B0E"
    "0B09090D110D0E0F101011100A0C12131210130F101010"
    "FFC9000B080001000101011100"
    "FFCC000600101005"
    "FFDA0008010100003F00D2CF20"
    "FFD9"
)


def jpeg_bytes() -> bytes:
    return JPEG


def zip_bytes(members: list[tuple[str, bytes]], *, stored: frozenset[str] = frozenset()) -> bytes:
    """A ZIP archive with `members` in this order; those named in `stored` uncompressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=method)
    return buffer.getvalue()


CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="xml" ContentType="application/xml"/></Types>'
)
RELS = b'<?xml version="1.0" encoding="UTF-8"?><Relationships/>'


def docx_bytes() -> bytes:
    return zip_bytes(
        [
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS),
            ("word/document.xml", b"<w:document><w:body><w:p/></w:body></w:document>"),
        ]
    )


def xlsx_bytes() -> bytes:
    return zip_bytes(
        [
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS),
            ("xl/workbook.xml", b"<workbook><sheets/></workbook>"),
        ]
    )


def odt_bytes() -> bytes:
    return zip_bytes(
        [
            ("mimetype", ODT.encode()),
            ("content.xml", b"<office:document-content/>"),
            ("META-INF/manifest.xml", b"<manifest:manifest/>"),
        ],
        stored=frozenset({"mimetype"}),
    )


@dataclass(frozen=True)
class Sample:
    """One allowed type: how to make a file of it, what it is detected as, its stored extension."""

    build: Callable[[], bytes]
    media_type: str
    extension: str
    name: str

    def content(self) -> bytes:
        return self.build()


SAMPLES: dict[str, Sample] = {
    "pdf": Sample(pdf_bytes, "application/pdf", ".pdf", "Giấy chứng nhận đăng ký.pdf"),
    "png": Sample(png_bytes, "image/png", ".png", "Ảnh chụp biên lai.png"),
    "jpeg": Sample(jpeg_bytes, "image/jpeg", ".jpg", "Biên lai nộp phí.jpeg"),
    "docx": Sample(docx_bytes, DOCX, ".docx", "Hợp đồng dịch vụ.docx"),
    "xlsx": Sample(xlsx_bytes, XLSX, ".xlsx", "Bảng kê chi phí.xlsx"),
    "odt": Sample(odt_bytes, ODT, ".odt", "Tờ khai đăng ký nhãn hiệu.odt"),
}

# Bytes that are none of the allowed types, whatever they are called.
EXECUTABLE_PE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 64
)
EXECUTABLE_ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 40
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
TEXT = "Đơn đề nghị hỗ trợ kinh phí.\n".encode()
PLAIN_ZIP = zip_bytes([("readme.txt", b"not an office document")])
# Named like a Word document's part, so `filetype` calls it DOCX, but without the
# [Content_Types].xml every OOXML package has.
FAKE_DOCX = zip_bytes([("word/document.xml", b"<w:document/>"), ("readme.txt", b"x")])
# An OOXML package that is neither a document nor a workbook (a presentation).
PPTX = zip_bytes([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS), ("ppt/presentation.xml", b"<p/>")])
# An ODT whose `mimetype` member is not first: the OpenDocument signature is missing.
ODT_MIMETYPE_NOT_FIRST = zip_bytes(
    [("content.xml", b"<office:document-content/>"), ("mimetype", ODT.encode())], stored=frozenset({"mimetype"})
)
# A PDF signature on what is not a ZIP at all is a PDF; a ZIP signature on garbage is not an office file.
TRUNCATED_DOCX = docx_bytes()[:60]

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)

DISALLOWED: dict[str, bytes] = {
    "empty": b"",
    "pe-executable": EXECUTABLE_PE,
    "elf-executable": EXECUTABLE_ELF,
    "html": HTML,
    "svg": SVG,
    "plain-text": TEXT,
    "plain-zip": PLAIN_ZIP,
    "zip-claiming-docx": FAKE_DOCX,
    "pptx": PPTX,
    "odt-mimetype-not-first": ODT_MIMETYPE_NOT_FIRST,
    "truncated-docx": TRUNCATED_DOCX,
    "gif": GIF,
}


# --- inspect --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_each_allowed_type_is_detected_with_its_size_and_digest(kind):
    sample = SAMPLES[kind]
    content = sample.content()
    stream = io.BytesIO(content)

    inspected = files.inspect(stream)

    assert inspected == files.Inspected(
        media_type=sample.media_type,
        extension=sample.extension,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    assert stream.tell() == 0
    assert stream.read() == content


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_inspect_reads_from_the_start_even_when_the_stream_was_left_elsewhere(kind):
    content = SAMPLES[kind].content()
    stream = io.BytesIO(content)
    stream.seek(len(content) // 2)

    inspected = files.inspect(stream)

    assert inspected is not None
    assert inspected.size == len(content)
    assert inspected.sha256 == hashlib.sha256(content).hexdigest()
    assert stream.tell() == 0


def test_a_large_file_is_measured_and_hashed_whole_not_just_its_head():
    content = pdf_bytes() + b"%" + b"x" * (3 * 1024 * 1024)  # past the 8 KB head and several 1 MB reads
    stream = io.BytesIO(content)

    inspected = files.inspect(stream)

    assert inspected is not None
    assert inspected.size == len(content)
    assert inspected.sha256 == hashlib.sha256(content).hexdigest()
    assert stream.tell() == 0


@pytest.mark.parametrize("content", list(DISALLOWED.values()), ids=list(DISALLOWED))
def test_bytes_that_are_not_an_allowed_type_are_refused(content):
    stream = io.BytesIO(content)

    assert files.inspect(stream) is None
    assert stream.tell() == 0


def test_a_pdf_signature_decides_whatever_follows_it():
    # The bytes decide: a file that starts like a PDF is judged a PDF, not by what it is named.
    content = b"%PDF-1.7\n" + HTML

    inspected = files.inspect(io.BytesIO(content))

    assert inspected is not None
    assert inspected.media_type == "application/pdf"
    assert inspected.extension == ".pdf"


def test_the_jpeg_sample_is_a_well_formed_sequence_of_segments():
    # Guards the hand-written sample: every segment's length leads to the next marker.
    data = JPEG
    assert data[:2] == b"\xff\xd8"
    position, markers = 2, []
    while data[position + 1] != 0xDA:
        assert data[position] == 0xFF
        markers.append(data[position + 1])
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    assert markers == [0xDB, 0xC9, 0xCC]
    assert data.endswith(b"\xff\xd9")


def test_the_png_sample_has_valid_chunk_checksums():
    data = png_bytes()
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        position += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">II", chunks[b"IHDR"][:8]) == (1, 1)
    assert zlib.decompress(chunks[b"IDAT"]) == b"\x00\x80"


# --- name_problem ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Giấy chứng nhận đăng ký.pdf",
        "Hóa đơn số 1.pdf",
        unicodedata.normalize("NFD", "Giấy chứng nhận đăng ký.pdf"),  # combining marks, as macOS sends
        "Biên bản nghiệm thu (bản sao) - 2024.docx",
        "a" * 251 + ".pdf",  # exactly 255 characters
        "R&D report #2 [final].xlsx",
        "no extension",
        "..pdf",
        "ảnh.PNG",
    ],
)
def test_ordinary_names_are_accepted(name):
    assert files.name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("\t", "blank"),
        ("a" * 252 + ".pdf", "too_long"),
        ("a" * 296 + ".pdf", "too_long"),
        ("../../etc/passwd.pdf", "path"),
        ("/etc/passwd", "path"),
        ("a\\b.pdf", "path"),
        ("C:\\Windows\\system32\\a.pdf", "path"),
        (".", "path"),
        ("..", "path"),
        ("a\x00b.pdf", "control_character"),
        ("a\x07b.pdf", "control_character"),
        ("a\x1b[31mb.pdf", "control_character"),
        ("a\nb.pdf", "control_character"),
        ("a\x7fb.pdf", "control_character"),
        ("invoice\u202efdp.exe", "control_character"),  # right-to-left override: shows as "invoiceexe.pdf"
        ("a\u200bb.pdf", "control_character"),  # zero-width space
        ("a\ufeffb.pdf", "control_character"),  # byte-order mark
        ("a\ue000b.pdf", "control_character"),  # private use
    ],
)
def test_unsafe_names_are_refused_with_a_reason(name, problem):
    assert files.name_problem(name) == problem


def test_a_name_too_long_is_refused_before_its_other_problems_are_looked_at():
    assert files.name_problem("a/" * 200) == "too_long"


def test_an_office_file_is_known_by_its_parts_wherever_they_sit_in_the_archive():
    import io
    import zipfile

    from cases import files

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(12):  # many parts before the one that says "Word"
            archive.writestr(f"customXml/item{n}.xml", "<x/>")
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    buffer.seek(0)

    inspected = files.inspect(buffer)

    assert inspected is not None
    assert (inspected.media_type, inspected.extension) == (files.DOCX, ".docx")


def test_a_compressed_odt_mimetype_is_refused_without_being_inflated():
    import io
    import zipfile

    from cases import files

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", b"\0" * 50_000_000)  # 50 MB of zeros, a few KB compressed
    buffer.seek(0)

    assert files.inspect(buffer) is None


def test_a_macro_enabled_document_named_docx_is_refused():
    import io
    import zipfile

    from cases import files

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("word/vbaProject.bin", b"\0" * 10)
    buffer.seek(0)

    assert files.inspect(buffer) is None
