"""Multipart uploads: the size limit enforced while the bytes stream in, and file names
checked before Django would quietly rewrite them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser

from cases import services
from common.exceptions import TooLarge

# Room for the form's other fields and the multipart boundaries around the file.
FORM_OVERHEAD = 64 * 1024


def _too_large() -> TooLarge:
    limit = settings.DOCUMENTS_MAX_UPLOAD_BYTES
    return TooLarge(_("A file may have at most %(size)s.") % {"size": filesizeformat(limit)}, limit=limit)


class SizeLimitUploadHandler(FileUploadHandler):
    """Refuses an upload as soon as it passes the limit: a declared length that is too big
    before a byte is read, otherwise the first chunk past it. Nothing is kept."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = settings.DOCUMENTS_MAX_UPLOAD_BYTES

    def handle_raw_input(
        self, input_data: Any, META: dict[str, Any], content_length: int, boundary: str, encoding: str | None = None
    ) -> None:
        if content_length > self.limit + FORM_OVERHEAD:
            raise _too_large()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            raise _too_large()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class _NameCheckingParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name: str) -> str | None:
        # Django would unescape HTML character references, strip a path, drop control
        # characters and carry on; the name is checked as sent and refused instead, so
        # what the user sent is never silently changed (nor a control character smuggled
        # in as &#7;).
        services.check_document_name(file_name)
        return file_name


class DocumentUploadParser(MultiPartParser):
    """DRF's multipart parser with the name check above."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> DataAndFiles[Any, Any]:
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            parser = _NameCheckingParser(meta, stream, request.upload_handlers, encoding)
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(_("The multipart body could not be read: %(error)s") % {"error": exc}) from exc
        return DataAndFiles(data, files)
