"""The documents checklist: what the rule and a supplement request require, what the
dossier holds, and the actions that refuse to go on without it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases import services
from cases.models import Case, CaseEvent, SupportRule
from tests.factories import record_valid_application
from tests.problems import assert_problem

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _rule(programme: Any, **values: Any) -> None:
    SupportRule.objects.filter(programme=programme, support_type="trademark").update(**values)


def _upload(client: Any, case: Case, kind: str, name: str = "giay-to.pdf") -> Any:
    file = SimpleUploadedFile(name, PDF, "application/pdf")
    return client.post(f"/api/v1/cases/{case.pk}/documents/", {"kind": kind, "file": file}, format="multipart")


def _checklist(client: Any, case: Case) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case.pk}/checklist/")
    assert response.status_code == 200, response.content
    return response.json()


def _items(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(item["kind"], item["stage"], item["status"]) for item in body["items"]]


def test_a_draft_shows_what_the_rule_requires_and_submit_waits_for_it(client_for, case_in, applicant, programme):
    _rule(programme, documents_at_submission=["application_form", "business_registration"])
    case = case_in("draft")
    client = client_for(applicant)

    assert _items(_checklist(client, case)) == [
        ("application_form", "submission", "missing"),
        ("business_registration", "submission", "missing"),
    ]
    refused = client.post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json")
    body = assert_problem(refused, 409)
    assert body["code"] == "documents_missing"
    assert [m["kind"] for m in body["missing"]] == ["application_form", "business_registration"]
    assert "Application form" in body["detail"]
    case.refresh_from_db()
    assert (case.state, case.reference) == ("draft", None)

    first = _upload(client, case, "application_form").json()["id"]
    _upload(client, case, "business_registration")
    shown = _checklist(client, case)
    assert shown["complete_for_submission"] is True
    assert shown["items"][0]["documents"] == [first]
    assert client.post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json").status_code == 200


def test_a_supplement_request_naming_a_document_kind_is_shown_as_requested(client_for, case_in, applicant, officer):
    case = case_in("in_review")
    client = client_for(applicant)
    asked = client_for(officer).post(
        f"/api/v1/cases/{case.pk}/request-supplement/",
        {"items": ["invoice", "Ghi rõ số đơn"], "comment": "Bổ sung"},
        format="json",
    )
    assert asked.status_code == 200, asked.content
    assert CaseEvent.objects.filter(case=case).order_by("-seq").first().data["document_kinds"] == ["invoice"]

    assert _items(_checklist(client, case)) == [("invoice", "supplement", "requested")]
    refused = client.post(f"/api/v1/cases/{case.pk}/resubmit/", {}, format="json")
    assert assert_problem(refused, 409)["code"] == "documents_missing"

    assert _upload(client, case, "invoice").status_code == 201
    assert _items(_checklist(client, case)) == [("invoice", "supplement", "satisfied")]
    assert client.post(f"/api/v1/cases/{case.pk}/resubmit/", {}, format="json").status_code == 200


def test_an_invoice_uploaded_before_the_supplement_request_does_not_answer_it(client_for, case_in, applicant, officer):
    case = case_in("draft")
    client = client_for(applicant)
    _upload(client, case, "invoice")
    services.case_submit(case=Case.objects.get(pk=case.pk), actor=applicant)
    services.case_receive(case=Case.objects.get(pk=case.pk), actor=officer)
    services.case_request_supplement(case=Case.objects.get(pk=case.pk), actor=officer, items=["invoice"])

    assert _items(_checklist(client, case)) == [("invoice", "supplement", "requested")]


def test_payment_waits_for_the_documents_the_decided_rule_requires(client_for, case_in, officer, programme):
    _rule(programme, documents_before_payment=["payment_receipt"])
    case = case_in("approved")
    body = {"amount": 10_000_000, "paid_on": timezone.localdate().isoformat(), "payment_reference": "UNC-7"}

    assert _items(_checklist(client_for(officer), case)) == [("payment_receipt", "payment", "missing")]
    refused = client_for(officer).post(f"/api/v1/cases/{case.pk}/disburse/", body, format="json")
    assert assert_problem(refused, 409)["code"] == "documents_missing"
    case.refresh_from_db()
    assert case.state == "approved"

    # the rule's list is the decided one: removing it from the rule now changes nothing
    _rule(programme, documents_before_payment=[])
    assert _items(_checklist(client_for(officer), case)) == [("payment_receipt", "payment", "missing")]


def test_payment_documents_held_since_the_draft_let_the_case_be_paid(
    client_for, case_in, applicant, officer, manager, programme
):
    _rule(programme, documents_before_payment=["service_contract"])
    draft = case_in("draft")
    _upload(client_for(applicant), draft, "service_contract")
    case = Case.objects.get(pk=draft.pk)
    services.case_submit(case=case, actor=applicant)
    services.case_receive(case=case, actor=officer)
    services.case_recommend(case=case, actor=officer, outcome="approve", amount=10_000_000, comment="Đạt")
    record_valid_application(case, applicant)
    services.case_approve(case=case, actor=manager)
    body = {"amount": 10_000_000, "paid_on": timezone.localdate().isoformat(), "payment_reference": "UNC-8"}

    paid = client_for(officer).post(f"/api/v1/cases/{case.pk}/disburse/", body, format="json")

    assert (paid.status_code, paid.json()["state"]) == (200, "disbursed")


@pytest.mark.parametrize("persona", ["other_applicant", "officer"])
def test_the_checklist_of_a_draft_is_hidden_from_outsiders(request, client_for, case_in, persona):
    case = case_in("draft")
    assert_problem(client_for(request.getfixturevalue(persona)).get(f"/api/v1/cases/{case.pk}/checklist/"), 404)


def test_the_checklist_needs_a_token(client_for, case_in):
    assert_problem(client_for(None).get(f"/api/v1/cases/{case_in('submitted').pk}/checklist/"), 401)


def test_a_supplement_may_name_document_kinds_explicitly(client_for, case_in, applicant, officer):
    case = case_in("in_review")
    asked = client_for(officer).post(
        f"/api/v1/cases/{case.pk}/request-supplement/",
        {"items": ["Hóa đơn phí đại diện"], "document_kinds": ["invoice"]},
        format="json",
    )
    assert asked.status_code == 200, asked.content
    assert _items(_checklist(client_for(applicant), case)) == [("invoice", "supplement", "requested")]


def test_an_approved_case_takes_the_documents_required_before_payment_and_nothing_else(
    client_for, case_in, applicant, programme
):
    _rule(programme, documents_before_payment=["acceptance_record"])
    case = case_in("approved")
    client = client_for(applicant)

    assert assert_problem(_upload(client, case, "invoice"), 409)["code"] == "invalid_state"
    added = _upload(client, case, "acceptance_record")
    assert added.status_code == 201, added.content
    again = client.post(
        f"/api/v1/cases/{case.pk}/documents/",
        {
            "kind": "acceptance_record",
            "file": SimpleUploadedFile("v2.pdf", PDF, "application/pdf"),
            "replaces": added.json()["id"],
        },
        format="multipart",
    )
    assert assert_problem(again, 409)["code"] == "invalid_state"
    assert _items(_checklist(client, case)) == [("acceptance_record", "payment", "satisfied")]


def test_an_approved_case_whose_rule_requires_nothing_before_payment_takes_no_upload(client_for, case_in, applicant):
    case = case_in("approved")
    refused = _upload(client_for(applicant), case, "invoice")
    assert assert_problem(refused, 409)["detail"] == (
        "Documents can be added only to a draft or while a supplement is requested."
    )
