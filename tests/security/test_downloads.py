"""A download is offered under the extension of the type its bytes were judged to be, never
the uploader's: a PDF named "hoso.html", ".hta", ".bat" or ".pdf.exe" is saved as a PDF. Names
ending in an extension that runs or renders as a program are refused at upload."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases import files
from cases.models import Case, Document
from tests.api.test_documents import multipart_body, nothing_stored, post_raw, what_is_stored
from tests.cases.test_files import JPEG, docx_bytes, pdf_bytes, png_bytes
from tests.problems import assert_field_errors

pytestmark = pytest.mark.django_db

PDF = "application/pdf"


@pytest.fixture
def draft(case_in: Any) -> Case:
    return case_in("draft")  # type: ignore[no-any-return]


def _download(client: Any, document: Document) -> Any:
    response = client.get(f"/api/v1/cases/{document.case_id}/documents/{document.pk}/download/")
    assert response.status_code == 200, response.content
    return response


def _stored_as(client: Any, draft: Case, content: bytes, name: str) -> Document:
    """A document stored under `name` as if the upload had not checked it (as before the
    check existed): uploaded under a safe name, then renamed in the database."""
    inspected = files.inspect(SimpleUploadedFile("x", content))
    assert inspected is not None
    response = post_raw(client, draft, multipart_body(filename="safe" + inspected.extension, content=content))
    assert response.status_code == 201, response.content
    Document.objects.filter(pk=response.json()["id"]).update(original_name=name)
    return Document.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize(
    ("stored_name", "offered"),
    [
        ("hoso.html", "hoso.pdf"),
        ("hoso.hta", "hoso.pdf"),
        ("hoso.bat", "hoso.pdf"),
        ("hoso.pdf.exe", "hoso.pdf"),
        ("hoso.exe. ", "hoso.pdf"),
        ("hoso", "hoso.pdf"),
        ("HOSO.PDF", "HOSO.PDF"),
    ],
)
def test_a_pdf_stored_under_an_active_name_downloads_as_a_pdf(client_for, applicant, draft, stored_name, offered):
    client = client_for(applicant)
    document = _stored_as(client, draft, pdf_bytes(), stored_name)

    response = _download(client, document)

    assert response["Content-Disposition"] == f'attachment; filename="{offered}"'
    assert response["Content-Type"] == PDF
    assert Document.objects.get(pk=document.pk).original_name == stored_name  # shown as it was sent


def test_the_uploaders_base_name_is_kept_with_the_detected_extension(client_for, applicant, draft):
    body = multipart_body(filename="Giấy phép.png", content=pdf_bytes(), content_type="image/png")
    response = post_raw(client_for(applicant), draft, body)
    assert response.status_code == 201, response.content
    assert response.json()["original_name"] == "Giấy phép.png"

    download = _download(client_for(applicant), Document.objects.get(pk=response.json()["id"]))

    assert download["Content-Disposition"] == "attachment; filename*=utf-8''Gi%E1%BA%A5y%20ph%C3%A9p.pdf"


@pytest.mark.parametrize(
    ("name", "content", "media_type", "offered"),
    [
        ("scan.jpeg", JPEG, "image/jpeg", "scan.jpeg"),
        ("scan.JPG", JPEG, "image/jpeg", "scan.JPG"),
        ("scan.png", JPEG, "image/jpeg", "scan.jpg"),
        ("Hợp đồng số 12.2025.pdf", pdf_bytes(), PDF, "Hợp đồng số 12.2025.pdf"),
        ("Báo cáo v1.2 final", pdf_bytes(), PDF, "Báo cáo v1.2 final.pdf"),
        ("anh.pdf", png_bytes(), "image/png", "anh.png"),
        ("to-khai.doc", docx_bytes(), files.DOCX, "to-khai.docx"),
        (".pdf", pdf_bytes(), PDF, ".pdf"),
        ("...", pdf_bytes(), PDF, "document.pdf"),
    ],
)
def test_the_download_name_fits_the_detected_type(name, content, media_type, offered):
    assert files.inspect(SimpleUploadedFile("x", content)).media_type == media_type  # type: ignore[union-attr]
    assert files.download_name(name, media_type) == offered


EXECUTABLE_NAMES = [
    "hoso.exe",
    "hoso.pdf.exe",
    "hoso.pdf.EXE",
    "hoso.bat",
    "hoso.cmd",
    "hoso.com",
    "hoso.scr",
    "hoso.js",
    "hoso.vbs",
    "hoso.hta",
    "hoso.html",
    "hoso.htm",
    "hoso.svg",
    "hoso.ps1",
    "hoso.msi",
    "hoso.jar",
    "hoso.lnk",
    "hoso.pdf.exe.",
    "hoso.pdf.exe  ",
    ".html",
]


@pytest.mark.parametrize("filename", EXECUTABLE_NAMES)
def test_a_name_ending_in_an_executable_extension_is_refused_at_upload(
    client_for, applicant, draft, documents_dir, filename
):
    before = nothing_stored(draft, documents_dir)

    response = post_raw(client_for(applicant), draft, multipart_body(filename=filename, content=pdf_bytes()))

    problem = assert_field_errors(response, "file")
    assert problem["errors"][0]["code"] == "name_executable"
    assert what_is_stored(draft, documents_dir) == before


@pytest.mark.parametrize("filename", ["hoso.exe.pdf", "bao-cao.js.docx.pdf", "hoso.pdf", "exe", "hoso.exe-ban-sao.pdf"])
def test_a_name_that_does_not_end_in_an_executable_extension_is_accepted(client_for, applicant, draft, filename):
    response = post_raw(client_for(applicant), draft, multipart_body(filename=filename, content=pdf_bytes()))

    assert response.status_code == 201, response.content


def test_a_milestones_evidence_with_an_executable_name_is_refused(client_for, applicant, case_in):
    case = case_in("approved")
    before = Document.objects.filter(case=case).count()
    response = client_for(applicant).post(
        f"/api/v1/cases/{case.pk}/milestones/",
        {
            "kind": "formality_accepted",
            "occurred_on": str(timezone.localdate()),
            "evidence": SimpleUploadedFile("thong-bao.pdf.exe", pdf_bytes()),
        },
        format="multipart",
    )

    problem = assert_field_errors(response, "file")
    assert problem["errors"][0]["code"] == "name_executable"
    assert Document.objects.filter(case=case).count() == before


def test_the_refusal_is_explained_in_vietnamese(client_for, applicant, draft):
    messages = {}
    for language in ("en", "vi"):
        body = multipart_body(filename="hoso.pdf.exe", content=pdf_bytes())
        response = post_raw(client_for(applicant, language), draft, body)
        messages[language] = assert_field_errors(response, "file")["errors"][0]["message"]

    assert ".exe" in messages["en"]
    assert messages["vi"] != messages["en"]
    assert "tên tệp" in messages["vi"].lower()
