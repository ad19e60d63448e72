"""Documents over HTTP: members add files to a draft or to a dossier awaiting a supplement,
every reader downloads them only through the permission-checked endpoint, and every refusal
(role, state, size, type, name, count) leaves nothing behind: no file, no row, no event.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import FakePayload

from api.uploads import FORM_OVERHEAD, SizeLimitUploadHandler
from applicants.models import MembershipRole
from cases import services
from cases.models import Case, CaseEvent, Document
from common.exceptions import TooLarge
from tests.cases.test_files import (
    EXECUTABLE_ELF,
    EXECUTABLE_PE,
    FAKE_DOCX,
    HTML,
    PLAIN_ZIP,
    SAMPLES,
    SVG,
    TEXT,
    docx_bytes,
    pdf_bytes,
    png_bytes,
)
from tests.factories import UserFactory, add_member
from tests.problems import assert_field_errors, assert_problem

pytestmark = pytest.mark.django_db

BOUNDARY = "ipsupport-test-boundary-5f3a9c"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
UUID_FILE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[a-z]+$")


def documents_url(case: Case) -> str:
    return f"/api/v1/cases/{case.pk}/documents/"


def upload(
    client: Any,
    case: Case,
    content: bytes,
    *,
    name: str = "Hóa đơn số 1.pdf",
    kind: str = "invoice",
    content_type: str = "application/pdf",
    **fields: str,
) -> Any:
    """An ordinary browser-like upload through the test client's multipart encoder."""
    data = {"kind": kind, "file": SimpleUploadedFile(name, content, content_type=content_type), **fields}
    return client.post(documents_url(case), data, format="multipart")


def multipart_body(
    *,
    filename: str,
    content: bytes,
    content_type: str = "application/pdf",
    fields: tuple[tuple[str, str], ...] = (("kind", "invoice"),),
) -> bytes:
    """A multipart body written by hand: the test client would strip a path from the name."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


class CountingPayload(FakePayload):
    """A request body that remembers how many of its bytes the server read."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.total = len(content)
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def post_raw(client: Any, case: Case, body: bytes) -> Any:
    return client.generic("POST", documents_url(case), body, content_type=MULTIPART)


def post_counted(client: Any, case: Case, payload: CountingPayload) -> Any:
    """Post `payload` as the request's input stream, so the test sees how much was read."""
    return client.generic(
        "POST",
        documents_url(case),
        b"-",  # replaced by the payload below
        content_type=MULTIPART,
        CONTENT_LENGTH=str(payload.total),
        **{"wsgi.input": payload},
    )


def stored_files(documents_dir: Path) -> list[Path]:
    if not documents_dir.exists():
        return []
    return sorted(path for path in documents_dir.rglob("*") if path.is_file())


SLIPS = ("receipt_slip", "apology_slip")  # issued by the office at receipt or reschedule


def what_is_stored(case: Case, documents_dir: Path) -> dict[str, Any]:
    """Everything an upload could leave behind (the office's own slips aside)."""
    slip_files = {Path(name).name for name in Document.objects.filter(kind__in=SLIPS).values_list("file", flat=True)}
    return {
        "files": [f for f in stored_files(documents_dir) if Path(str(f)).name not in slip_files],
        "documents": sorted(str(pk) for pk in Document.objects.exclude(kind__in=SLIPS).values_list("pk", flat=True)),
        "events": list(CaseEvent.objects.filter(case=case).values_list("seq", flat=True)),
        "version": Case.objects.get(pk=case.pk).version,
    }


def nothing_stored(case: Case, documents_dir: Path) -> dict[str, Any]:
    stored = what_is_stored(case, documents_dir)
    assert stored["files"] == []
    assert stored["documents"] == []
    return stored


def events(client: Any, case: Case) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/cases/{case.pk}/events/")
    assert response.status_code == 200, response.content
    return response.json()["results"]  # type: ignore[no-any-return]


@pytest.fixture
def draft(case_in):  # type: ignore[no-untyped-def]
    return case_in("draft")


# --- Uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["draft", "awaiting_supplement"])
@pytest.mark.parametrize("sample", list(SAMPLES))
def test_member_uploads_each_allowed_type(client_for, applicant, case_in, documents_dir, state, sample):
    case = case_in(state)
    client = client_for(applicant)
    content = SAMPLES[sample].content()
    name = SAMPLES[sample].name
    events_before = len(events(client, case))

    response = upload(client, case, content, name=name, kind="business_registration", content_type="text/plain")

    assert response.status_code == 201, response.content
    body = response.json()
    document = Document.objects.exclude(kind__in=SLIPS).get()
    assert body == {
        "id": str(document.pk),
        "kind": "business_registration",
        "kind_label": "Business registration certificate",
        "note": "",
        "original_name": name,
        "media_type": SAMPLES[sample].media_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "version": 1,
        "replaces": None,
        "replaced_by": None,
        "uploaded_by": {"id": str(applicant.pk), "username": "applicant"},
        "uploaded_at": body["uploaded_at"],
        "download": f"/api/v1/cases/{case.pk}/documents/{document.pk}/download/",
    }
    assert body["uploaded_at"]

    # Stored under a name the server made, with the same bytes.
    [stored] = [f for f in stored_files(documents_dir) if f.name == Path(document.file.name).name]
    assert stored == documents_dir / "cases" / str(case.pk) / f"{document.pk}{SAMPLES[sample].extension}"
    assert UUID_FILE.match(stored.name)
    assert stored.read_bytes() == content
    assert document.file.name == f"cases/{case.pk}/{document.pk}{SAMPLES[sample].extension}"

    # And the upload is in the case's trail.
    trail = events(client, case)
    assert len(trail) == events_before + 1
    assert trail[-1]["action"] == "document_upload"
    assert trail[-1]["from_state"] == state
    assert trail[-1]["to_state"] == state
    assert trail[-1]["actor"] == {"id": str(applicant.pk), "username": "applicant"}
    assert trail[-1]["data"] == {
        "document": str(document.pk),
        "kind": "business_registration",
        "name": name,
        "media_type": SAMPLES[sample].media_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "version": 1,
        "replaces": None,
    }
    assert Case.objects.get(pk=case.pk).state == state


def test_a_note_is_kept_trimmed(client_for, applicant, draft):
    response = upload(client_for(applicant), draft, pdf_bytes(), note="  Bản sao có chứng thực  ")

    assert response.status_code == 201, response.content
    assert response.json()["note"] == "Bản sao có chứng thực"


def test_the_same_name_twice_is_stored_as_two_files(client_for, applicant, draft, documents_dir):
    client = client_for(applicant)
    first = upload(client, draft, pdf_bytes(), name="scan.pdf")
    second = upload(client, draft, pdf_bytes() + b"%2\n", name="scan.pdf")

    assert (first.status_code, second.status_code) == (201, 201)
    assert [path.name for path in stored_files(documents_dir)] == sorted(
        [f"{first.json()['id']}.pdf", f"{second.json()['id']}.pdf"]
    )


def test_list_and_detail_show_the_documents_to_members_and_officers(client_for, applicant, officer, case_in):
    case = case_in("awaiting_supplement")
    uploaded = upload(client_for(applicant), case, pdf_bytes()).json()

    for user in (applicant, officer):
        client = client_for(user)
        listed = client.get(documents_url(case))
        detail = client.get(f"{documents_url(case)}{uploaded['id']}/")
        assert listed.status_code == 200
        assert [d for d in listed.json()["results"] if d["kind"] not in SLIPS] == [uploaded]
        assert detail.status_code == 200
        assert detail.json() == uploaded


def test_documents_of_another_enterprise_are_not_found(client_for, applicant, other_applicant, draft):
    uploaded = upload(client_for(applicant), draft, pdf_bytes()).json()
    client = client_for(other_applicant)

    assert_problem(client.get(documents_url(draft)), 404)
    assert_problem(client.get(f"{documents_url(draft)}{uploaded['id']}/"), 404)


def test_listing_documents_needs_a_token(client_for, draft):
    assert_problem(client_for(None).get(documents_url(draft)), 401)


# --- Download -------------------------------------------------------------------------------


def _download_url(case: Case, document_id: str) -> str:
    return f"{documents_url(case)}{document_id}/download/"


def test_member_downloads_the_exact_bytes_as_an_attachment(client_for, applicant, draft):
    content = pdf_bytes()
    document = upload(client_for(applicant), draft, content, name="Hóa đơn số 1.pdf").json()

    response = client_for(applicant).get(_download_url(draft, document["id"]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(content))
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''" + quote("Hóa đơn số 1.pdf")
    assert (
        response["Content-Disposition"] == "attachment; filename*=utf-8''H%C3%B3a%20%C4%91%C6%A1n%20s%E1%BB%91%201.pdf"
    )
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_download_type_is_the_detected_one_not_the_declared_one(client_for, applicant, draft):
    content = png_bytes()
    document = upload(client_for(applicant), draft, content, name="scan.png", content_type="text/html").json()

    response = client_for(applicant).get(_download_url(draft, document["id"]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="scan.png"'
    assert b"".join(response.streaming_content) == content


def test_an_ascii_name_with_a_quote_is_escaped_in_the_header(client_for, applicant, draft):
    document = upload(client_for(applicant), draft, pdf_bytes(), name='bao "gia".pdf').json()

    response = client_for(applicant).get(_download_url(draft, document["id"]))

    assert response["Content-Disposition"] == 'attachment; filename="bao \\"gia\\".pdf"'


@pytest.mark.parametrize("reader", ["officer", "officer2", "manager"])
def test_reviewers_download_from_a_case_past_draft(client_for, applicant, case_in, reader, request):
    case = case_in("awaiting_supplement")
    content = docx_bytes()
    document = upload(client_for(applicant), case, content, name="Hợp đồng.docx", kind="service_contract").json()
    services.case_resubmit(case=Case.objects.get(pk=case.pk), actor=applicant)

    response = client_for(request.getfixturevalue(reader)).get(_download_url(case, document["id"]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == SAMPLES["docx"].media_type
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''" + quote("Hợp đồng.docx")


@pytest.mark.parametrize("reader", ["officer", "manager", "partner", "other_applicant"])
def test_a_draft_document_is_not_found_for_anyone_outside_the_enterprise(client_for, applicant, draft, reader, request):
    document = upload(client_for(applicant), draft, pdf_bytes()).json()

    response = client_for(request.getfixturevalue(reader)).get(_download_url(draft, document["id"]))

    assert_problem(response, 404)


def test_other_applicant_cannot_download_a_submitted_case_document(client_for, applicant, other_applicant, draft):
    document = upload(client_for(applicant), draft, pdf_bytes()).json()
    services.case_submit(case=Case.objects.get(pk=draft.pk), actor=applicant)

    assert_problem(client_for(other_applicant).get(_download_url(draft, document["id"])), 404)


def test_download_needs_a_token(client_for, applicant, draft):
    document = upload(client_for(applicant), draft, pdf_bytes()).json()

    assert_problem(client_for(None).get(_download_url(draft, document["id"])), 401)


def test_a_document_of_another_case_is_not_found_under_this_case(client_for, applicant, case_in, draft):
    client = client_for(applicant)
    other_case = case_in("draft", title="Kiểu dáng công nghiệp")
    document = upload(client, other_case, pdf_bytes()).json()

    assert_problem(client.get(_download_url(draft, document["id"])), 404)
    assert_problem(client.get(f"{documents_url(draft)}{document['id']}/"), 404)
    assert client.get(_download_url(other_case, document["id"])).status_code == 200


def test_an_unknown_document_id_is_not_found(client_for, applicant, draft):
    response = client_for(applicant).get(_download_url(draft, "00000000-0000-4000-8000-000000000000"))

    assert_problem(response, 404)


# --- Who may upload, and when ---------------------------------------------------------------


def test_upload_needs_a_token(client_for, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)

    assert_problem(upload(client_for(None), draft, pdf_bytes()), 401)

    assert what_is_stored(draft, documents_dir) == before


@pytest.mark.parametrize("persona", ["other_applicant", "officer", "manager", "partner"])
def test_only_members_can_upload_to_a_draft_the_others_do_not_see_it(
    client_for, draft, documents_dir, persona, request
):
    before = nothing_stored(draft, documents_dir)

    response = upload(client_for(request.getfixturevalue(persona)), draft, pdf_bytes())

    assert_problem(response, 404)
    assert what_is_stored(draft, documents_dir) == before


@pytest.mark.parametrize("persona", ["officer", "manager"])
def test_reviewers_cannot_upload_to_a_case_they_see(client_for, case_in, documents_dir, persona, request):
    case = case_in("submitted")
    before = nothing_stored(case, documents_dir)

    response = upload(client_for(request.getfixturevalue(persona)), case, pdf_bytes())

    assert assert_problem(response, 403)["code"] == "permission_denied"
    assert what_is_stored(case, documents_dir) == before


@pytest.mark.parametrize("persona", ["officer", "manager"])
def test_reviewers_cannot_upload_while_a_supplement_is_requested(client_for, case_in, documents_dir, persona, request):
    case = case_in("awaiting_supplement")
    before = nothing_stored(case, documents_dir)

    response = upload(client_for(request.getfixturevalue(persona)), case, pdf_bytes())

    assert_problem(response, 403)
    assert what_is_stored(case, documents_dir) == before


def test_other_applicant_cannot_upload_to_a_submitted_case(client_for, other_applicant, case_in, documents_dir):
    case = case_in("submitted")
    before = nothing_stored(case, documents_dir)

    assert_problem(upload(client_for(other_applicant), case, pdf_bytes()), 404)

    assert what_is_stored(case, documents_dir) == before


@pytest.mark.parametrize(
    "state", ["submitted", "in_review", "recommended", "approved", "disbursed", "rejected", "withdrawn", "cancelled"]
)
def test_member_cannot_add_documents_once_the_dossier_is_read_only(
    client_for, applicant, case_in, documents_dir, state
):
    case = case_in(state)
    before = what_is_stored(case, documents_dir)  # a paid case already holds its milestone's evidence

    response = upload(client_for(applicant), case, pdf_bytes())

    assert assert_problem(response, 409)["code"] == "invalid_state"
    assert what_is_stored(case, documents_dir) == before
    assert Case.objects.get(pk=case.pk).state == state


def test_an_unknown_case_is_not_found(client_for, applicant, documents_dir):
    response = client_for(applicant).post(
        "/api/v1/cases/00000000-0000-4000-8000-000000000000/documents/",
        {"kind": "invoice", "file": SimpleUploadedFile("a.pdf", pdf_bytes())},
        format="multipart",
    )

    assert_problem(response, 404)
    assert stored_files(documents_dir) == []


def test_a_role_refusal_comes_before_the_body_is_judged(client_for, officer, case_in, documents_dir):
    case = case_in("submitted")

    response = upload(client_for(officer), case, EXECUTABLE_PE, name="setup.pdf")  # would be 415

    assert_problem(response, 403)
    assert stored_files(documents_dir) == []


def test_a_state_refusal_comes_before_the_body_is_judged(client_for, applicant, case_in):
    case = case_in("in_review")

    response = upload(client_for(applicant), case, b"", name="../x.pdf", kind="nonsense")  # would be 400/415

    assert assert_problem(response, 409)["code"] == "invalid_state"


def test_a_refusal_reads_none_of_a_large_body(client_for, officer, case_in):
    case = case_in("submitted")
    payload = CountingPayload(multipart_body(filename="big.pdf", content=pdf_bytes() + b"x" * 200_000))

    response = post_counted(client_for(officer), case, payload)

    assert_problem(response, 403)
    assert payload.bytes_read == 0


# --- Versions -------------------------------------------------------------------------------


def test_a_new_version_replaces_the_current_one_and_both_stay(client_for, applicant, officer, case_in, documents_dir):
    case = case_in("draft")
    client = client_for(applicant)
    old_content, new_content = pdf_bytes(), pdf_bytes() + b"% signed copy\n"
    old = upload(client, case, old_content, name="Giấy phép.pdf", kind="business_registration").json()

    response = upload(
        client, case, new_content, name="Giấy phép (bản ký).pdf", kind="business_registration", replaces=old["id"]
    )

    assert response.status_code == 201, response.content
    new = response.json()
    assert new["version"] == 2
    assert new["replaces"] == old["id"]
    assert new["replaced_by"] is None
    assert new["sha256"] == hashlib.sha256(new_content).hexdigest()
    assert client.get(f"{documents_url(case)}{old['id']}/").json()["replaced_by"] == new["id"]
    assert events(client, case)[-1]["data"]["replaces"] == old["id"]
    assert events(client, case)[-1]["data"]["version"] == 2
    assert len(stored_files(documents_dir)) == 2

    # Old versions stay listed, oldest first, and downloadable by officers after submission.
    services.case_submit(case=Case.objects.get(pk=case.pk), actor=applicant)
    listed = client_for(officer).get(documents_url(case)).json()["results"]
    assert [(d["id"], d["version"], d["replaced_by"]) for d in listed] == [
        (old["id"], 1, new["id"]),
        (new["id"], 2, None),
    ]
    for document, content in ((old, old_content), (new, new_content)):
        download = client_for(officer).get(_download_url(case, document["id"]))
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == content


def test_a_third_version_replaces_the_second(client_for, applicant, draft):
    client = client_for(applicant)
    first = upload(client, draft, pdf_bytes()).json()
    second = upload(client, draft, pdf_bytes() + b"%2\n", replaces=first["id"]).json()

    third = upload(client, draft, pdf_bytes() + b"%3\n", replaces=second["id"])

    assert third.status_code == 201, third.content
    assert (third.json()["version"], third.json()["replaces"]) == (3, second["id"])


def test_an_old_version_cannot_be_replaced_again(client_for, applicant, draft, documents_dir):
    client = client_for(applicant)
    old = upload(client, draft, pdf_bytes()).json()
    upload(client, draft, pdf_bytes() + b"%2\n", replaces=old["id"])
    before = what_is_stored(draft, documents_dir)

    response = upload(client, draft, pdf_bytes() + b"%3\n", replaces=old["id"])

    assert assert_problem(response, 409)["code"] == "already_replaced"
    assert what_is_stored(draft, documents_dir) == before


def test_a_new_version_keeps_the_kind(client_for, applicant, draft, documents_dir):
    client = client_for(applicant)
    old = upload(client, draft, pdf_bytes(), kind="invoice").json()
    before = what_is_stored(draft, documents_dir)

    response = upload(client, draft, pdf_bytes() + b"%2\n", kind="payment_receipt", replaces=old["id"])

    body = assert_field_errors(response, "kind")
    assert body["errors"][0]["code"] == "kind_mismatch"
    assert what_is_stored(draft, documents_dir) == before


def test_a_document_of_another_case_cannot_be_replaced(client_for, applicant, case_in, draft, documents_dir):
    client = client_for(applicant)
    other_case = case_in("draft", title="Sáng chế")
    foreign = upload(client, other_case, pdf_bytes()).json()
    before = what_is_stored(draft, documents_dir)

    response = upload(client, draft, pdf_bytes() + b"%2\n", replaces=foreign["id"])

    body = assert_field_errors(response, "replaces")
    assert body["errors"][0]["code"] == "does_not_exist"
    assert what_is_stored(draft, documents_dir) == before
    assert client.get(f"{documents_url(other_case)}{foreign['id']}/").json()["replaced_by"] is None


@pytest.mark.parametrize(
    ("replaces", "code"),
    [("00000000-0000-4000-8000-000000000000", "does_not_exist"), ("not-a-uuid", "invalid")],
)
def test_replacing_an_unknown_document_is_a_bad_request(client_for, applicant, draft, documents_dir, replaces, code):
    before = nothing_stored(draft, documents_dir)

    response = upload(client_for(applicant), draft, pdf_bytes(), replaces=replaces)

    body = assert_field_errors(response, "replaces")
    assert body["errors"][0]["code"] == code
    assert what_is_stored(draft, documents_dir) == before


# --- Bad input: size ------------------------------------------------------------------------


def test_a_file_over_the_limit_is_too_large(client_for, applicant, draft, documents_dir, settings):
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 1000
    before = nothing_stored(draft, documents_dir)

    response = upload(client_for(applicant), draft, pdf_bytes() + b"x" * 5000)

    body = assert_problem(response, 413)
    assert body["code"] == "too_large"
    assert body["limit"] == 1000
    assert what_is_stored(draft, documents_dir) == before


def test_a_file_exactly_at_the_limit_is_accepted(client_for, applicant, draft, settings):
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 1000
    content = pdf_bytes() + b"%" + b"x" * (1000 - len(pdf_bytes()) - 1)
    assert len(content) == 1000

    response = upload(client_for(applicant), draft, content)

    assert response.status_code == 201, response.content
    assert response.json()["size"] == 1000


def test_a_body_declared_too_long_is_refused_before_a_byte_is_read(
    client_for, applicant, draft, documents_dir, settings
):
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 1000
    before = nothing_stored(draft, documents_dir)
    payload = CountingPayload(multipart_body(filename="big.pdf", content=pdf_bytes() + b"x" * (FORM_OVERHEAD + 1000)))
    assert payload.total > 1000 + FORM_OVERHEAD

    response = post_counted(client_for(applicant), draft, payload)

    assert assert_problem(response, 413)["code"] == "too_large"
    assert payload.bytes_read == 0
    assert what_is_stored(draft, documents_dir) == before


def test_a_file_too_large_is_refused_while_it_streams_in(client_for, applicant, draft, documents_dir, settings):
    # Under the declared-length margin, so the bytes must be counted as they arrive.
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 100_000
    payload = CountingPayload(multipart_body(filename="big.pdf", content=pdf_bytes() + b"x" * 160_000))
    assert payload.total < 100_000 + FORM_OVERHEAD
    before = nothing_stored(draft, documents_dir)

    response = post_counted(client_for(applicant), draft, payload)

    assert assert_problem(response, 413)["code"] == "too_large"
    assert 100_000 < payload.bytes_read < payload.total
    assert what_is_stored(draft, documents_dir) == before


def test_the_size_limit_handler_refuses_a_declared_length_without_reading(settings):
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 1000
    handler = SizeLimitUploadHandler()

    class Unreadable:
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the body was read")

    with pytest.raises(TooLarge) as refused:
        handler.handle_raw_input(Unreadable(), {}, 1000 + FORM_OVERHEAD + 1, BOUNDARY, "utf-8")
    assert refused.value.data == {"limit": 1000}
    assert refused.value.code == "too_large"
    # At the margin exactly the parser carries on (returns None: "not handled here").
    assert handler.handle_raw_input(Unreadable(), {}, 1000 + FORM_OVERHEAD, BOUNDARY, "utf-8") is None


def test_the_size_limit_handler_refuses_the_first_chunk_past_the_limit(settings):
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 1000
    handler = SizeLimitUploadHandler()
    chunks = iter([b"a" * 400, b"b" * 400, b"c" * 400, b"d" * 400, b"e" * 400])

    passed = [handler.receive_data_chunk(next(chunks), start) for start in (0, 400)]
    with pytest.raises(TooLarge):
        handler.receive_data_chunk(next(chunks), 800)  # 800 + 400 > 1000

    assert passed == [b"a" * 400, b"b" * 400]  # handed on unchanged to the next handler
    assert list(chunks) == [b"d" * 400, b"e" * 400]  # the rest was never needed


def test_the_size_limit_handler_lets_a_file_of_exactly_the_limit_through(settings):
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 1000
    handler = SizeLimitUploadHandler()

    assert handler.receive_data_chunk(b"x" * 600, 0) == b"x" * 600
    assert handler.receive_data_chunk(b"x" * 400, 600) == b"x" * 400
    with pytest.raises(TooLarge):
        handler.receive_data_chunk(b"x", 1000)


# --- Bad input: content ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "declared"),
    [
        (EXECUTABLE_PE, "Hóa đơn.pdf", "application/pdf"),
        (EXECUTABLE_ELF, "Hóa đơn.pdf", "application/pdf"),
        (HTML, "logo.png", "image/png"),
        (b"", "empty.pdf", "application/pdf"),
        (PLAIN_ZIP, "Hợp đồng.docx", SAMPLES["docx"].media_type),
        (FAKE_DOCX, "Hợp đồng.docx", SAMPLES["docx"].media_type),
        (TEXT, "ghi chú.txt", "text/plain"),
        (SVG, "logo.png", "image/svg+xml"),  # named .svg, the name alone is refused (400)
    ],
    ids=["pe-as-pdf", "elf-as-pdf", "html-as-png", "empty", "zip-as-docx", "zip-claiming-docx", "text", "svg"],
)
def test_content_that_is_not_an_allowed_type_is_unsupported(
    client_for, applicant, draft, documents_dir, content, name, declared
):
    before = nothing_stored(draft, documents_dir)

    response = upload(client_for(applicant), draft, content, name=name, content_type=declared)

    body = assert_problem(response, 415)
    assert body["code"] == "unsupported_media_type"
    assert body["allowed"] == sorted(sample.media_type for sample in SAMPLES.values())
    assert what_is_stored(draft, documents_dir) == before


# --- Bad input: names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "code"),
    [
        ("../../etc/passwd.pdf", "name_path"),
        ("/etc/passwd.pdf", "name_path"),
        ("a\\b.pdf", "name_path"),
        ("..\\..\\boot.ini.pdf", "name_path"),
        ("..", "name_path"),
        ("a\x00b.pdf", "name_control_character"),
        ("a\x07b.pdf", "name_control_character"),
        ("a\x1b[31mb.pdf", "name_control_character"),
        ("invoice\u202efdp.exe", "name_control_character"),
        ("a" * 296 + ".pdf", "name_too_long"),
    ],
    ids=[
        "dot-dot-slash",
        "absolute",
        "backslash",
        "dot-dot-backslash",
        "dot-dot",
        "nul",
        "bell",
        "escape",
        "rlo",
        "300",
    ],
)
def test_unsafe_file_names_are_refused_not_rewritten(client_for, applicant, draft, documents_dir, filename, code):
    before = nothing_stored(draft, documents_dir)
    body = multipart_body(filename=filename, content=pdf_bytes())

    response = post_raw(client_for(applicant), draft, body)

    problem = assert_field_errors(response, "file")
    assert problem["errors"][0]["code"] == code
    assert what_is_stored(draft, documents_dir) == before


def test_a_path_in_an_rfc2231_encoded_name_is_refused(client_for, applicant, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)
    body = multipart_body(filename="x.pdf", content=pdf_bytes()).replace(
        b'filename="x.pdf"', b"filename*=utf-8''..%2F..%2Fetc%2Fpasswd.pdf"
    )

    response = post_raw(client_for(applicant), draft, body)

    assert assert_field_errors(response, "file")["errors"][0]["code"] == "name_path"
    assert what_is_stored(draft, documents_dir) == before


@pytest.mark.parametrize("filename", ["a&#7;b.pdf", "a&#x1b;b.pdf", "a&#0;b.pdf"], ids=["bell", "escape", "nul"])
def test_a_character_reference_in_a_name_is_never_silently_rewritten(
    client_for, applicant, draft, documents_dir, filename
):
    # Refusing it (as the raw control character is) or keeping it exactly as sent are both
    # honest; storing "ab.pdf" for "a&#7;b.pdf" is neither.
    before = nothing_stored(draft, documents_dir)

    response = post_raw(client_for(applicant), draft, multipart_body(filename=filename, content=pdf_bytes()))

    if response.status_code == 201:
        assert response.json()["original_name"] == filename
    else:
        assert assert_field_errors(response, "file")["errors"][0]["code"] == "name_control_character"
        assert what_is_stored(draft, documents_dir) == before


def test_a_vietnamese_name_sent_by_hand_is_kept_as_it_was(client_for, applicant, draft):
    body = multipart_body(filename="Giấy chứng nhận đăng ký.pdf", content=pdf_bytes())

    response = post_raw(client_for(applicant), draft, body)

    assert response.status_code == 201, response.content
    assert response.json()["original_name"] == "Giấy chứng nhận đăng ký.pdf"


def test_a_name_of_255_characters_is_accepted(client_for, applicant, draft):
    name = "a" * 251 + ".pdf"

    response = post_raw(client_for(applicant), draft, multipart_body(filename=name, content=pdf_bytes()))

    assert response.status_code == 201, response.content
    assert response.json()["original_name"] == name


# --- Bad input: count and form --------------------------------------------------------------


def test_a_case_holds_at_most_the_configured_number_of_files(client_for, applicant, draft, documents_dir, settings):
    settings.DOCUMENTS_MAX_PER_CASE = 2
    client = client_for(applicant)
    assert upload(client, draft, pdf_bytes()).status_code == 201
    assert upload(client, draft, png_bytes(), name="a.png").status_code == 201
    before = what_is_stored(draft, documents_dir)

    response = upload(client, draft, pdf_bytes() + b"%3\n")

    assert assert_problem(response, 409)["code"] == "too_many_documents"
    assert what_is_stored(draft, documents_dir) == before
    assert len(before["files"]) == 2


def test_every_version_counts_towards_the_limit(client_for, applicant, draft, documents_dir, settings):
    settings.DOCUMENTS_MAX_PER_CASE = 2
    client = client_for(applicant)
    first = upload(client, draft, pdf_bytes()).json()
    assert upload(client, draft, pdf_bytes() + b"%2\n", replaces=first["id"]).status_code == 201
    before = what_is_stored(draft, documents_dir)
    current = before["documents"]

    response = upload(client, draft, pdf_bytes() + b"%3\n", replaces=next(d for d in current if d != first["id"]))

    assert assert_problem(response, 409)["code"] == "too_many_documents"
    assert what_is_stored(draft, documents_dir) == before


def test_the_limit_is_per_case(client_for, applicant, case_in, draft, settings):
    settings.DOCUMENTS_MAX_PER_CASE = 1
    client = client_for(applicant)
    assert upload(client, draft, pdf_bytes()).status_code == 201

    assert upload(client, case_in("draft", title="Khác"), pdf_bytes()).status_code == 201


def test_an_unknown_kind_is_a_bad_request(client_for, applicant, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)

    response = upload(client_for(applicant), draft, pdf_bytes(), kind="passport")

    assert assert_field_errors(response, "kind")["errors"][0]["code"] == "invalid_choice"
    assert what_is_stored(draft, documents_dir) == before


def test_a_missing_file_is_a_bad_request(client_for, applicant, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)

    response = client_for(applicant).post(documents_url(draft), {"kind": "invoice"}, format="multipart")

    assert assert_field_errors(response, "file")["errors"][0]["code"] == "required"
    assert what_is_stored(draft, documents_dir) == before


def test_a_text_field_named_file_is_not_a_file(client_for, applicant, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)

    response = client_for(applicant).post(
        documents_url(draft), {"kind": "invoice", "file": "%PDF-1.4"}, format="multipart"
    )

    assert assert_field_errors(response, "file")["errors"][0]["code"] == "invalid"
    assert what_is_stored(draft, documents_dir) == before


def test_an_unknown_form_field_is_a_bad_request(client_for, applicant, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)

    response = upload(client_for(applicant), draft, pdf_bytes(), title="Không có trường này")

    assert assert_field_errors(response, "title")["errors"][0]["code"] == "unknown_field"
    assert what_is_stored(draft, documents_dir) == before


def test_a_json_body_is_an_unsupported_media_type(client_for, applicant, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)

    response = client_for(applicant).post(
        documents_url(draft), {"kind": "invoice", "file": "JVBERi0xLjQK"}, format="json"
    )

    assert assert_problem(response, 415)["code"] == "unsupported_media_type"
    assert what_is_stored(draft, documents_dir) == before


def test_a_malformed_multipart_body_is_a_bad_request(client_for, applicant, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)

    response = client_for(applicant).generic(
        "POST", documents_url(draft), b"--x\r\nnot a part", content_type="multipart/form-data"
    )

    assert_problem(response, 400)
    assert what_is_stored(draft, documents_dir) == before


def test_a_note_too_long_is_a_bad_request(client_for, applicant, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)

    response = upload(client_for(applicant), draft, pdf_bytes(), note="x" * 501)

    assert assert_field_errors(response, "note")["errors"][0]["code"] == "max_length"
    assert what_is_stored(draft, documents_dir) == before


def test_a_note_with_a_nul_character_is_a_bad_request(client_for, applicant, draft, documents_dir):
    before = nothing_stored(draft, documents_dir)

    response = upload(client_for(applicant), draft, pdf_bytes(), note="a\x00b")

    assert assert_field_errors(response, "note")["errors"][0]["code"] == "null_characters_not_allowed"
    assert what_is_stored(draft, documents_dir) == before


def test_a_refused_upload_leaves_no_temporary_file(client_for, applicant, draft, settings, tmp_path, caplog):
    # Django's request log keeps the request (and so its upload handlers) alive in
    # pytest's log capture; outside tests nothing holds them.
    caplog.set_level(logging.ERROR, logger="django.request")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every file goes through a temporary file
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 100_000
    client = client_for(applicant)

    too_large = post_raw(client, draft, multipart_body(filename="big.pdf", content=pdf_bytes() + b"x" * 160_000))
    unsupported = post_raw(client, draft, multipart_body(filename="a.pdf", content=EXECUTABLE_PE))

    assert (too_large.status_code, unsupported.status_code) == (413, 415)
    del too_large, unsupported
    gc.collect()
    assert list(uploads.iterdir()) == []


# --- Immutability ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["delete", "put", "patch"])
def test_a_document_cannot_be_changed_or_deleted(client_for, applicant, draft, documents_dir, method):
    client = client_for(applicant)
    document = upload(client, draft, pdf_bytes()).json()
    before = what_is_stored(draft, documents_dir)

    for url in (f"{documents_url(draft)}{document['id']}/", _download_url(draft, document["id"])):
        response = getattr(client, method)(url, {"note": "x"}, format="json")
        assert assert_problem(response, 405)["code"] == "method_not_allowed"

    assert what_is_stored(draft, documents_dir) == before
    assert client.get(f"{documents_url(draft)}{document['id']}/").json() == document


def test_a_plain_member_of_the_enterprise_may_upload(client_for, enterprise, draft):
    colleague = UserFactory(username="colleague")
    add_member(colleague, enterprise, role=MembershipRole.MEMBER)

    response = upload(client_for(colleague), draft, pdf_bytes())

    assert response.status_code == 201, response.content
    assert response.json()["uploaded_by"] == {"id": str(colleague.pk), "username": "colleague"}


def test_a_deleted_draft_takes_no_documents(client_for, applicant, draft, documents_dir):
    client = client_for(applicant)
    assert client.delete(f"/api/v1/cases/{draft.pk}/").status_code == 204

    assert_problem(upload(client, draft, pdf_bytes()), 404)
    assert stored_files(documents_dir) == []


# --- Language -------------------------------------------------------------------------------


def test_upload_refusals_are_explained_in_vietnamese(client_for, applicant, draft, settings):
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 1000
    details = {}
    for language in ("en", "vi"):
        client = client_for(applicant, language)
        unsupported = assert_problem(upload(client, draft, HTML, name="a.png"), 415)
        too_large = assert_problem(upload(client, draft, pdf_bytes() + b"x" * 5000), 413)
        details[language] = (unsupported["detail"], too_large["detail"])

    assert details["en"][0].startswith("The file must be a PDF")
    assert details["en"][1].startswith("A file may have at most")
    assert details["vi"][0] != details["en"][0]
    assert details["vi"][1] != details["en"][1]
    assert "PDF" in details["vi"][0]
    assert "tệp" in details["vi"][0].lower()
    assert "tệp" in details["vi"][1].lower()


def test_a_document_whose_file_is_gone_is_a_404_not_a_500(client_for, case_in, applicant, documents_dir):
    from django.core.files.uploadedfile import SimpleUploadedFile as Upload

    from tests.factories import PDF as DEMO_PDF

    case = case_in("draft")
    client = client_for(applicant)
    posted = client.post(
        f"/api/v1/cases/{case.pk}/documents/",
        {"kind": "invoice", "file": Upload("a.pdf", DEMO_PDF, "application/pdf")},
        format="multipart",
    ).json()
    for path in documents_dir.rglob("*.pdf"):
        path.unlink()

    response = client.get(f"/api/v1/cases/{case.pk}/documents/{posted['id']}/download/")

    assert (response.status_code, response.json()["code"]) == (404, "document_not_found")
