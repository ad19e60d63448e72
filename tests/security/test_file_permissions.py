"""Stored files are private to the server's user: 0600 files in 0700 directories, whether
a member uploaded them, came as a milestone's evidence or were issued by the office (slips)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases.models import Document
from tests.cases.test_files import pdf_bytes

pytestmark = pytest.mark.django_db


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_private(document: Document, root: Path) -> None:
    path = Path(document.file.path)
    assert _mode(path) == 0o600, oct(_mode(path))
    directory = path.parent
    while True:
        assert _mode(directory) == 0o700, (directory, oct(_mode(directory)))
        if directory == root:
            break
        directory = directory.parent


def test_an_uploaded_document_is_private_to_the_server(client_for, applicant, case_in, documents_dir):
    case = case_in("draft")
    response = client_for(applicant).post(
        f"/api/v1/cases/{case.pk}/documents/",
        {"kind": "invoice", "file": SimpleUploadedFile("hoa-don.pdf", pdf_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.content

    _assert_private(Document.objects.get(pk=response.json()["id"]), documents_dir)


def test_the_receipt_slip_is_private_to_the_server(client_for, officer, case_in, documents_dir):
    case = case_in("submitted")
    response = client_for(officer).post(f"/api/v1/cases/{case.pk}/receive/", {}, format="json")
    assert response.status_code == 200, response.content

    _assert_private(Document.objects.get(case=case, kind="receipt_slip"), documents_dir)


def test_a_milestones_evidence_is_private_to_the_server(client_for, applicant, case_in, documents_dir):
    case = case_in("approved")  # filed and approved: its owner records the office's answer
    today = timezone.localdate()
    client = client_for(applicant)
    response = client.post(
        f"/api/v1/cases/{case.pk}/milestones/",
        {
            "kind": "formality_accepted",
            "occurred_on": str(today),
            "evidence": SimpleUploadedFile("thong-bao.pdf", pdf_bytes()),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content

    _assert_private(Document.objects.get(pk=response.json()["evidence"]), documents_dir)
