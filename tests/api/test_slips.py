"""The receipt slip at receive and the apology slip at reschedule: Vietnamese PDFs kept
among the case's documents, their text read back as written."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from pypdf import PdfReader

from cases.models import CaseEvent, Document, Programme, SupportRule
from tests.problems import assert_field_errors, assert_problem

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def at(*day: int) -> Any:
    return time_machine.travel(dt.datetime(*day, 9, tzinfo=HCM), tick=False)


def _open_2026(programme: Any, processing_days: int) -> None:
    Programme.objects.filter(pk=programme.pk).update(
        year=2026, opens_on=dt.date(2026, 1, 1), closes_on=dt.date(2026, 12, 31)
    )
    programme.refresh_from_db()
    SupportRule.objects.filter(programme=programme, support_type="trademark").update(processing_days=processing_days)


def _text(client: Any, document: Document) -> str:
    response = client.get(f"/api/v1/cases/{document.case_id}/documents/{document.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_receipt_gives_a_vietnamese_slip_with_the_reference_the_firm_and_the_appointment_date(
    client_for, case_in, officer, applicant, enterprise, programme
):
    with at(2026, 2, 12):
        _open_2026(programme, 5)
        case = case_in("submitted")
        client_for(officer).post(f"/api/v1/cases/{case.pk}/receive/", {}, format="json")

    slip = Document.objects.get(case=case, kind="receipt_slip")
    text = _text(client_for(applicant), slip)
    case.refresh_from_db()
    assert "PHIẾU TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert case.reference in text
    assert enterprise.name in text  # "Công ty TNHH Cà phê Langbiang", diacritics intact
    assert "Ngày hẹn trả kết quả: ngày 26 tháng 02 năm 2026" in text
    assert slip.original_name == f"phieu-tiep-nhan-{case.reference}.pdf"
    assert CaseEvent.objects.filter(case=case, action="document_upload", data__kind="receipt_slip").count() == 1


def test_an_overdue_case_is_rescheduled_with_an_apology_slip(client_for, case_in, officer, applicant, programme):
    with at(2026, 3, 2):
        _open_2026(programme, 3)
        case = case_in("in_review")  # due 5 March
    with at(2026, 3, 10):
        client = client_for(officer)
        assert "reschedule" in client.get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"]
        response = client.post(
            f"/api/v1/cases/{case.pk}/reschedule/",
            {"due_on": "2026-03-17", "reason": "Chờ ý kiến thẩm định của chuyên gia"},
            format="json",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["due_on"], body["overdue"]) == ("2026-03-17", False)

    event = CaseEvent.objects.filter(case=case, action="reschedule").get()
    assert event.data == {
        "previous_due_on": "2026-03-05",
        "due_on": "2026-03-17",
        "reason": "Chờ ý kiến thẩm định của chuyên gia",
    }
    text = _text(client_for(applicant), Document.objects.get(case=case, kind="apology_slip"))
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text
    assert "Chờ ý kiến thẩm định của chuyên gia" in text
    assert "ngày 17 tháng 03 năm 2026" in text


def test_reschedule_is_refused_before_the_date_has_passed_and_for_bad_dates(client_for, case_in, officer, programme):
    with at(2026, 3, 2):
        _open_2026(programme, 3)
        case = case_in("in_review")
        early = client_for(officer).post(
            f"/api/v1/cases/{case.pk}/reschedule/", {"due_on": "2026-03-17", "reason": "x"}, format="json"
        )
        assert assert_problem(early, 409)["code"] == "transition_not_allowed"
        assert "reschedule" not in client_for(officer).get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"]
    with at(2026, 3, 10):
        url = f"/api/v1/cases/{case.pk}/reschedule/"
        client = client_for(officer)
        assert_field_errors(client.post(url, {"due_on": "2026-03-09", "reason": "x"}, format="json"), "due_on")
        assert_field_errors(client.post(url, {"due_on": "2026-03-14", "reason": "x"}, format="json"), "due_on")  # Sat
        assert_field_errors(client.post(url, {"due_on": "2026-03-17", "reason": " "}, format="json"), "reason")
    case.refresh_from_db()
    assert (case.due_on, case.reschedules) == (dt.date(2026, 3, 5), 0)
    assert not Document.objects.filter(case=case, kind="apology_slip").exists()


def test_applicants_cannot_upload_or_replace_the_offices_slips(client_for, case_in, applicant):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import PDF

    case = case_in("awaiting_supplement")
    slip = Document.objects.get(case=case, kind="receipt_slip")
    url = f"/api/v1/cases/{case.pk}/documents/"
    client = client_for(applicant)

    forged = client.post(url, {"kind": "receipt_slip", "file": SimpleUploadedFile("p.pdf", PDF)}, format="multipart")
    assert_field_errors(forged, "kind")
    replaced = client.post(
        url,
        {"kind": "receipt_slip", "file": SimpleUploadedFile("p.pdf", PDF), "replaces": str(slip.pk)},
        format="multipart",
    )
    assert_field_errors(replaced, "kind")
    assert Document.objects.filter(case=case, kind="receipt_slip").count() == 1


def test_a_new_date_more_than_a_year_away_is_refused(client_for, case_in, officer, programme):
    with at(2026, 3, 2):
        _open_2026(programme, 3)
        case = case_in("in_review")
    with at(2026, 3, 10):
        response = client_for(officer).post(
            f"/api/v1/cases/{case.pk}/reschedule/", {"due_on": "9999-12-31", "reason": "x"}, format="json"
        )
        assert assert_field_errors(response, "due_on")["errors"][0]["code"] == "too_far"


def test_a_withdrawn_case_stops_its_clock(client_for, case_in, applicant, officer, programme):
    with at(2026, 3, 2):
        _open_2026(programme, 10)
        case = case_in("in_review")
    with at(2026, 3, 4):
        assert client_for(applicant).post(f"/api/v1/cases/{case.pk}/withdraw/", {}, format="json").status_code == 200
    with at(2026, 6, 1):
        body = client_for(officer).get(f"/api/v1/cases/{case.pk}/").json()
        assert (body["working_days_used"], body["working_days_left"], body["overdue"]) == (2, 8, False)


def test_an_officer_reading_english_still_issues_a_vietnamese_receipt_slip(client_for, case_in, officer, applicant):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import PDF

    officer.language = "en"
    officer.save(update_fields=["language"])
    case = case_in("draft")
    uploaded = client_for(applicant, "en").post(
        f"/api/v1/cases/{case.pk}/documents/",
        {"kind": "application_form", "file": SimpleUploadedFile("to-khai.pdf", PDF)},
        format="multipart",
    )
    assert uploaded.status_code == 201, uploaded.content
    assert client_for(applicant, "en").post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json").status_code == 200
    received = client_for(officer, "en").post(f"/api/v1/cases/{case.pk}/receive/", {}, format="json")
    assert received.status_code == 200, received.content
    assert received["Content-Language"] == "en"  # the answer is English, the slip is not

    text = _text(client_for(applicant, "en"), Document.objects.get(case=case, kind="receipt_slip"))
    assert "1. Tờ khai đề nghị hỗ trợ: to-khai.pdf" in text
    assert "Thành phần hồ sơ đã nhận:" in text
    assert "Application form" not in text
