"""A firm's storage is bounded: how many drafts it keeps, how many bytes its documents take
in all, and how much work one ZIP-based upload (DOCX, XLSX, ODT) may cost to inspect. Each
refusal says the figures and leaves nothing behind."""

from __future__ import annotations

import io
import threading
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from knox.models import AuthToken

from cases import files
from cases.models import Case, CaseState, Document
from tests.api.test_documents import stored_files, upload, what_is_stored
from tests.cases.test_files import CONTENT_TYPES, RELS, docx_bytes, pdf_bytes, zip_bytes
from tests.factories import make_case
from tests.problems import assert_field_errors, assert_problem

pytestmark = pytest.mark.django_db


def _open_draft(client: Any, enterprise: Any, programme: Any) -> Any:
    body = {
        "enterprise": str(enterprise.pk),
        "programme": programme.code,
        "support_type": "trademark",
        "title": "Nhãn hiệu",
        "requested_amount": 1_000_000,
    }
    return client.post("/api/v1/cases/", body, format="json")


# --- Drafts ---------------------------------------------------------------------------------


def test_a_firm_keeps_at_most_the_configured_number_of_drafts(client_for, applicant, enterprise, programme, settings):
    settings.CASES_MAX_DRAFTS_PER_ENTERPRISE = 2
    client = client_for(applicant)
    assert _open_draft(client, enterprise, programme).status_code == 201
    assert _open_draft(client, enterprise, programme).status_code == 201

    problem = assert_problem(_open_draft(client, enterprise, programme), 409)

    assert problem["code"] == "too_many_drafts"
    assert (problem["limit"], problem["drafts"]) == (2, 2)
    assert Case.objects.filter(enterprise=enterprise).count() == 2


def test_deleted_and_submitted_cases_are_not_drafts(client_for, applicant, enterprise, programme, case_in, settings):
    settings.CASES_MAX_DRAFTS_PER_ENTERPRISE = 1
    case_in("submitted")
    client = client_for(applicant)
    first = _open_draft(client, enterprise, programme)
    assert first.status_code == 201, first.content
    assert assert_problem(_open_draft(client, enterprise, programme), 409)["code"] == "too_many_drafts"

    assert client.delete(f"/api/v1/cases/{first.json()['id']}/").status_code == 204

    assert _open_draft(client, enterprise, programme).status_code == 201


def test_the_draft_limit_is_per_firm(
    client_for, applicant, other_applicant, enterprise, other_enterprise, programme, settings
):
    settings.CASES_MAX_DRAFTS_PER_ENTERPRISE = 1
    assert _open_draft(client_for(applicant), enterprise, programme).status_code == 201

    assert _open_draft(client_for(other_applicant), other_enterprise, programme).status_code == 201


# --- Stored bytes ---------------------------------------------------------------------------


def test_a_firms_documents_take_at_most_the_configured_bytes(
    client_for, applicant, enterprise, programme, case_in, documents_dir, settings
):
    size = len(pdf_bytes())
    settings.DOCUMENTS_MAX_BYTES_PER_ENTERPRISE = 2 * size + 20
    client = client_for(applicant)
    first, second = case_in("draft"), case_in("draft")
    assert upload(client, first, pdf_bytes()).status_code == 201
    assert upload(client, second, pdf_bytes()).status_code == 201  # another case of the same firm
    before = what_is_stored(second, documents_dir)

    problem = assert_problem(upload(client, second, pdf_bytes() + b"%%\n"), 409)

    assert problem["code"] == "storage_quota_exceeded"
    assert (problem["limit"], problem["used"], problem["size"]) == (2 * size + 20, 2 * size, size + 3)
    assert what_is_stored(second, documents_dir) == before
    # a file that still fits is taken
    assert upload(client, second, b"%PDF-1.4\n%%EOF\n", name="nho.pdf").status_code == 201


def test_a_file_of_exactly_the_remaining_bytes_is_taken(client_for, applicant, case_in, settings):
    settings.DOCUMENTS_MAX_BYTES_PER_ENTERPRISE = 2 * len(pdf_bytes())
    client = client_for(applicant)
    draft = case_in("draft")
    assert upload(client, draft, pdf_bytes()).status_code == 201

    assert upload(client, draft, pdf_bytes()).status_code == 201


def test_the_documents_of_a_deleted_draft_still_count(client_for, applicant, case_in, settings):
    settings.DOCUMENTS_MAX_BYTES_PER_ENTERPRISE = len(pdf_bytes())
    client = client_for(applicant)
    deleted = case_in("draft")
    assert upload(client, deleted, pdf_bytes()).status_code == 201
    assert client.delete(f"/api/v1/cases/{deleted.pk}/").status_code == 204

    assert assert_problem(upload(client, case_in("draft"), pdf_bytes()), 409)["code"] == "storage_quota_exceeded"


def test_the_byte_quota_is_per_firm(
    client_for, applicant, other_applicant, other_enterprise, programme, case_in, settings
):
    settings.DOCUMENTS_MAX_BYTES_PER_ENTERPRISE = len(pdf_bytes())
    assert upload(client_for(applicant), case_in("draft"), pdf_bytes()).status_code == 201
    theirs = make_case(state=CaseState.DRAFT, member=other_applicant, enterprise=other_enterprise, programme=programme)

    assert upload(client_for(other_applicant), theirs, pdf_bytes()).status_code == 201


def test_the_offices_slips_are_issued_whatever_the_firm_stores(client_for, applicant, officer, case_in, settings):
    case = case_in("submitted")
    settings.DOCUMENTS_MAX_BYTES_PER_ENTERPRISE = sum(Document.objects.values_list("size", flat=True)) or 1

    response = client_for(officer).post(f"/api/v1/cases/{case.pk}/receive/", {}, format="json")

    assert response.status_code == 200, response.content
    assert Document.objects.filter(case=case, kind="receipt_slip").exists()


def test_a_milestones_evidence_counts_against_the_quota(client_for, applicant, case_in, settings):
    case = case_in("approved")
    settings.DOCUMENTS_MAX_BYTES_PER_ENTERPRISE = sum(
        Document.objects.exclude(kind__in=["receipt_slip", "apology_slip"]).values_list("size", flat=True)
    )
    before = Document.objects.filter(case=case).count()

    response = client_for(applicant).post(
        f"/api/v1/cases/{case.pk}/milestones/",
        {
            "kind": "formality_accepted",
            "occurred_on": str(timezone.localdate()),
            "evidence": SimpleUploadedFile("tb.pdf", pdf_bytes()),
        },
        format="multipart",
    )

    assert assert_problem(response, 409)["code"] == "storage_quota_exceeded"
    assert Document.objects.filter(case=case).count() == before


# --- The work a ZIP-based upload may cost ---------------------------------------------------


def _docx_with_parts(count: int) -> bytes:
    members = [("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS), ("word/document.xml", b"<w:document/>")]
    return zip_bytes(members + [(f"word/media/p{n}.xml", b"") for n in range(count)])


def _docx_expanding_to(size: int) -> bytes:
    return zip_bytes(
        [
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS),
            ("word/document.xml", b"<w:document>" + b" " * size + b"</w:document>"),
        ]
    )


def test_an_office_file_with_too_many_parts_is_refused(client_for, applicant, case_in, documents_dir, settings):
    settings.DOCUMENTS_ZIP_MAX_ENTRIES = 50
    draft = case_in("draft")
    before = what_is_stored(draft, documents_dir)

    response = upload(client_for(applicant), draft, _docx_with_parts(60), name="to-khai.docx")

    assert assert_field_errors(response, "file")["errors"][0]["code"] == "archive_too_large"
    assert what_is_stored(draft, documents_dir) == before
    assert upload(client_for(applicant), draft, _docx_with_parts(40), name="to-khai.docx").status_code == 201


def test_an_office_file_expanding_past_the_limit_is_refused(client_for, applicant, case_in, documents_dir, settings):
    settings.DOCUMENTS_ZIP_MAX_EXPANDED_BYTES = 100_000
    draft = case_in("draft")

    response = upload(client_for(applicant), draft, _docx_expanding_to(200_000), name="to-khai.docx")

    assert assert_field_errors(response, "file")["errors"][0]["code"] == "archive_too_large"
    assert stored_files(documents_dir) == []
    assert upload(client_for(applicant), draft, _docx_expanding_to(50_000), name="to-khai.docx").status_code == 201


def test_the_default_limits_take_an_ordinary_office_file():
    inspected = files.inspect(io.BytesIO(docx_bytes()))

    assert inspected is not None
    assert inspected.media_type == files.DOCX


def test_a_directory_too_big_is_refused_before_the_archive_is_parsed(monkeypatch):
    content = _docx_with_parts(30)

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the archive was parsed")

    monkeypatch.setattr(zipfile, "ZipFile", never)
    with pytest.raises(files.ArchiveTooLarge):
        files.inspect(io.BytesIO(content), zip_limits=files.ZipLimits(entries=20))


def test_an_archive_whose_end_record_understates_its_parts_is_still_counted():
    content = bytearray(_docx_with_parts(30))
    end = content.rfind(b"PK\x05\x06")
    content[end + 8 : end + 12] = (5).to_bytes(2, "little") * 2  # "5 parts" on this disk and in all

    with pytest.raises(files.ArchiveTooLarge):
        files.inspect(io.BytesIO(bytes(content)), zip_limits=files.ZipLimits(entries=20))


def test_the_quota_refusals_are_explained_in_vietnamese(
    client_for, applicant, enterprise, programme, case_in, settings
):
    settings.CASES_MAX_DRAFTS_PER_ENTERPRISE = 1
    settings.DOCUMENTS_MAX_BYTES_PER_ENTERPRISE = 10
    settings.DOCUMENTS_ZIP_MAX_ENTRIES = 5
    draft = case_in("draft")
    details = {}
    for language in ("en", "vi"):
        client = client_for(applicant, language)
        drafts = assert_problem(_open_draft(client, enterprise, programme), 409)["detail"]
        stored = assert_problem(upload(client, draft, pdf_bytes()), 409)["detail"]
        archive = assert_field_errors(upload(client, draft, _docx_with_parts(10), name="a.docx"), "file")
        details[language] = (drafts, stored, archive["errors"][0]["message"])

    assert details["en"][0].startswith("An enterprise may keep at most 1 drafts")
    assert details["vi"][0].startswith("Mỗi doanh nghiệp chỉ được giữ tối đa 1 hồ sơ nháp")
    assert "dung lượng" in details["vi"][1]
    assert "giải nén" in details["vi"][2]


# --- Simultaneous requests ------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_simultaneous_drafts_and_uploads_never_pass_the_quotas(
    live_server, applicant, enterprise, programme, case_in, settings
):
    settings.CASES_MAX_DRAFTS_PER_ENTERPRISE = 3
    settings.DOCUMENTS_MAX_BYTES_PER_ENTERPRISE = 3 * len(pdf_bytes())
    drafts = [case_in("draft") for _ in range(2)]  # each upload goes to a case of its own
    _instance, token = AuthToken.objects.create(user=applicant)
    barrier = threading.Barrier(8)

    def call(n: int) -> requests.Response:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            if n % 2:
                return session.post(
                    f"{live_server.url}/api/v1/cases/",
                    json={
                        "enterprise": str(enterprise.pk),
                        "programme": programme.code,
                        "support_type": "trademark",
                        "title": f"Nhãn hiệu {n}",
                        "requested_amount": 1_000_000,
                    },
                    timeout=60,
                )
            return session.post(
                f"{live_server.url}/api/v1/cases/{drafts[n // 4].pk}/documents/",
                data={"kind": "invoice"},
                files={"file": (f"hoa-don-{n}.pdf", pdf_bytes(), "application/pdf")},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(call, range(8)))

    codes = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert codes == {(201, None): 4, (409, "too_many_drafts"): 3, (409, "storage_quota_exceeded"): 1}, codes
    assert Case.objects.filter(enterprise=enterprise, state=CaseState.DRAFT).count() == 3
    assert Document.objects.filter(case__enterprise=enterprise).count() == 3
