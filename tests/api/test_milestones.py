"""The IP office: the filing, dated milestones with evidence, the payment trigger and
numbers that may be claimed by one case only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases import services
from cases.models import Case, CaseEvent, Document, Milestone, SupportRule
from tests.factories import PDF, make_case
from tests.problems import assert_field_errors, assert_problem

TODAY = timezone.localdate


def _filing(client: Any, case: Case, **overrides: Any) -> Any:
    body = {
        "office": "noip",
        "application_number": "4-2026-00042",
        "filed_on": TODAY().isoformat(),
        "nice_classes": [30, 43],
        **overrides,
    }
    return client.put(f"/api/v1/cases/{case.pk}/filing/", body, format="json")


def _milestone(client: Any, case: Case, kind: str = "formality_accepted", **overrides: Any) -> Any:
    body = {
        "kind": kind,
        "occurred_on": TODAY().isoformat(),
        "evidence": SimpleUploadedFile("bang-chung.pdf", PDF, "application/pdf"),
        **overrides,
    }
    return client.post(f"/api/v1/cases/{case.pk}/milestones/", body, format="multipart")


def _approved_with_filing_only(client_for: Any, case_in: Any, applicant: Any, manager: Any) -> Case:
    """Approved on its NOIP filing, before the office has said anything."""
    case = case_in("recommended")
    assert _filing(client_for(applicant), case).status_code == 200
    return services.case_approve(case=Case.objects.get(pk=case.pk), actor=manager)


def _pay(client: Any, case: Case) -> Any:
    body = {"amount": 10_000_000, "paid_on": TODAY().isoformat(), "payment_reference": "UNC-42"}
    return client.post(f"/api/v1/cases/{case.pk}/disburse/", body, format="json")


# --- The filing ---------------------------------------------------------------------------


def test_member_records_the_filing_and_it_is_an_event(client_for, case_in, applicant):
    case = case_in("submitted")

    response = _filing(client_for(applicant), case)

    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in ("office", "application_number", "nice_classes")} == {
        "office": "noip",
        "application_number": "4-2026-00042",
        "nice_classes": [30, 43],
    }
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert (event.action, event.data["application_number"]) == ("filing", "4-2026-00042")
    assert client_for(applicant).get(f"/api/v1/cases/{case.pk}/filing/").json()["filed_on"] == TODAY().isoformat()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"application_number": "4202600042"}, "application_number"),
        ({"application_number": "4-26-00042"}, "application_number"),
        ({"application_number": "1-2026-00042"}, "application_number"),  # a trademark is 4-
        ({"filed_on": (dt.date.today() + dt.timedelta(days=3)).isoformat()}, "filed_on"),
        ({"nice_classes": []}, "nice_classes"),
        ({"nice_classes": [46]}, "nice_classes"),
        ({"nice_classes": [30, 30]}, "nice_classes"),
        ({"office": "copyright_office", "application_number": "QTG-1"}, "office"),
        ({"office": "mars"}, "office"),
    ],
)
def test_a_bad_filing_is_400_and_records_nothing(client_for, case_in, applicant, overrides, field):
    case = case_in("submitted")
    version = case.version

    response = _filing(client_for(applicant), case, **overrides)

    assert field in {e["field"].split("[")[0] for e in assert_problem(response, 400)["errors"]}
    case.refresh_from_db()
    assert case.version == version
    assert_problem(client_for(applicant).get(f"/api/v1/cases/{case.pk}/filing/"), 404)


def test_a_patent_takes_a_noip_number_of_another_object_type(client_for, case_in, applicant):
    case = case_in("submitted", support_type="patent")
    response = _filing(client_for(applicant), case, application_number="1-2026-00007", nice_classes=[])
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("persona", "state", "status"),
    [
        ("other_applicant", "submitted", 404),
        ("partner", "submitted", 404),  # a partner the enterprise has not authorised
        ("manager", "submitted", 403),
        ("applicant", "withdrawn", 409),
        ("officer", "in_review", 200),
    ],
)
def test_who_records_a_filing_and_when(request, client_for, case_in, persona, state, status):
    case = case_in(state)
    response = _filing(client_for(request.getfixturevalue(persona)), case)
    assert response.status_code == status, response.content


def test_support_without_an_ip_office_has_no_filing(client_for, case_in, applicant):
    case = case_in("submitted", support_type="conformity_assessment")
    assert assert_problem(_filing(client_for(applicant), case), 409)["code"] == "not_an_ip_case"


# --- Milestones -----------------------------------------------------------------------------


def test_a_milestone_needs_the_filing_first(client_for, case_in, applicant):
    case = case_in("submitted")
    assert assert_problem(_milestone(client_for(applicant), case), 409)["code"] == "no_filing"
    assert not Document.objects.filter(case=case).exists()


def test_a_milestone_stores_its_evidence_and_leaves_two_events(client_for, case_in, applicant):
    case = case_in("submitted")
    client = client_for(applicant)
    _filing(client, case)

    response = _milestone(client, case, note="Thông báo số 123")

    assert response.status_code == 201, response.content
    body = response.json()
    evidence = Document.objects.get(pk=body["evidence"])
    assert (evidence.kind, evidence.case_id) == ("valid_application_notice", case.pk)
    actions = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("action", flat=True))
    assert actions[-3:] == ["filing", "document_upload", "milestone"]
    listed = client.get(f"/api/v1/cases/{case.pk}/milestones/").json()["results"]
    assert [(m["kind"], m["note"]) for m in listed] == [("formality_accepted", "Thông báo số 123")]


@pytest.mark.parametrize(
    ("kind", "overrides", "field"),
    [
        ("granted", {}, "certificate_number"),
        ("granted", {"certificate_number": "12a", "certificate_date": "2026-01-01"}, "certificate_number"),
        ("published", {"certificate_number": "123"}, "certificate_number"),
        ("published", {"occurred_on": "2001-01-01"}, "occurred_on"),
    ],
)
def test_a_bad_milestone_is_400_and_stores_nothing(client_for, case_in, applicant, kind, overrides, field):
    case = case_in("submitted")
    client = client_for(applicant)
    _filing(client, case)
    documents = Document.objects.filter(case=case).count()

    response = _milestone(client, case, kind=kind, **overrides)

    assert field in {e["field"] for e in assert_problem(response, 400)["errors"]}
    assert Document.objects.filter(case=case).count() == documents
    assert not Milestone.objects.filter(case=case).exists()


def test_a_milestone_with_evidence_that_is_not_a_document_is_415(client_for, case_in, applicant):
    case = case_in("submitted")
    client = client_for(applicant)
    _filing(client, case)
    fake = SimpleUploadedFile("giay.pdf", b"MZ\x90\x00" + b"\x00" * 64, "application/pdf")

    assert assert_problem(_milestone(client, case, evidence=fake), 415)["code"] == "unsupported_media_type"
    assert not Milestone.objects.filter(case=case).exists()


# --- Payment waits for the rule's trigger ---------------------------------------------------------


def test_an_approved_case_is_not_paid_before_the_application_is_accepted_as_valid(
    client_for, case_in, applicant, officer, manager
):
    case = _approved_with_filing_only(client_for, case_in, applicant, manager)
    refused = _pay(client_for(officer), case)
    body = assert_problem(refused, 409)
    assert (body["code"], body["missing"], body["payment_trigger"]) == (
        "milestone_missing",
        "formality_accepted",
        "valid_application",
    )
    assert assert_problem(_filing(client_for(applicant), case, filed_on="2026-01-02"), 409)["code"] == "invalid_state"
    assert _milestone(client_for(applicant), case).status_code == 201
    assert _pay(client_for(officer), case).status_code == 200


def test_a_rule_paid_on_the_certificate_waits_for_the_grant(
    client_for, case_in, applicant, officer, manager, programme
):
    SupportRule.objects.filter(programme=programme, support_type="trademark").update(
        payment_trigger="certificate_granted"
    )
    case = _approved_with_filing_only(client_for, case_in, applicant, manager)
    client = client_for(applicant)
    _milestone(client, case)
    assert assert_problem(_pay(client_for(officer), case), 409)["missing"] == "granted"

    granted = _milestone(
        client, case, kind="granted", certificate_number="512345", certificate_date=TODAY().isoformat()
    )
    assert granted.status_code == 201, granted.content
    assert _pay(client_for(officer), case).status_code == 200


def test_support_without_an_ip_office_is_paid_without_milestones(client_for, case_in, officer, manager):
    case = case_in("recommended", support_type="ip_consulting")
    services.case_approve(case=Case.objects.get(pk=case.pk), actor=manager)
    assert _pay(client_for(officer), case).status_code == 200


# --- One number, one case ----------------------------------------------------------------


def test_an_application_number_claimed_by_another_case_is_409_until_a_manager_allows_it(
    client_for, case_in, applicant, manager, other_applicant, other_enterprise, programme
):
    first = case_in("submitted")
    assert _filing(client_for(applicant), first).status_code == 200
    second = make_case(state="submitted", member=other_applicant, enterprise=other_enterprise, programme=programme)

    refused = _filing(client_for(other_applicant), second)
    body = assert_problem(refused, 409)
    assert (body["code"], body["number"]) == ("duplicate_claim", "4-2026-00042")
    assert str(first.pk) not in refused.content.decode()  # another firm's case is not revealed

    assert_problem(
        client_for(other_applicant).post(
            f"/api/v1/cases/{second.pk}/claim-allowances/",
            {"kind": "application_number", "number": "4-2026-00042", "reason": "Tự cho phép"},
            format="json",
        ),
        403,
    )
    assert_field_errors(
        client_for(manager).post(
            f"/api/v1/cases/{second.pk}/claim-allowances/",
            {"kind": "application_number", "number": "4-2026-00042", "reason": "  "},
            format="json",
        ),
        "reason",
    )
    allowed = client_for(manager).post(
        f"/api/v1/cases/{second.pk}/claim-allowances/",
        {"kind": "application_number", "number": "4-2026-00042", "reason": "Đơn chung của hai doanh nghiệp"},
        format="json",
    )
    assert allowed.status_code == 201, allowed.content
    assert _filing(client_for(other_applicant), second).status_code == 200
    assert CaseEvent.objects.filter(case=second, action="claim_allowed").count() == 1


def test_a_number_of_a_withdrawn_case_is_free_again(client_for, case_in, applicant):
    first = case_in("submitted")
    _filing(client_for(applicant), first)
    services.case_withdraw(case=Case.objects.get(pk=first.pk), actor=applicant)
    second = case_in("submitted")
    assert _filing(client_for(applicant), second).status_code == 200


def test_a_certificate_number_claimed_by_another_case_is_409(client_for, case_in, applicant):
    client = client_for(applicant)
    first, second = case_in("submitted"), case_in("submitted")
    _filing(client, first)
    _filing(client, second, application_number="4-2026-00043")
    grant = {"certificate_number": "512345", "certificate_date": TODAY().isoformat()}
    assert _milestone(client, first, kind="granted", **grant).status_code == 201

    refused = _milestone(client, second, kind="granted", **grant)

    assert assert_problem(refused, 409)["code"] == "duplicate_claim"
    assert not Milestone.objects.filter(case=second).exists()


# --- Review fixes: what counts as a claim, and what ends an application ---------------------


def test_a_draft_does_not_hold_a_number_but_its_submission_is_checked(
    client_for, case_in, applicant, other_applicant, other_enterprise, programme
):
    draft = case_in("draft")
    assert _filing(client_for(applicant), draft).status_code == 200  # a draft claims nothing yet
    other = make_case(state="submitted", member=other_applicant, enterprise=other_enterprise, programme=programme)
    assert _filing(client_for(other_applicant), other).status_code == 200

    refused = client_for(applicant).post(f"/api/v1/cases/{draft.pk}/submit/", {}, format="json")

    assert assert_problem(refused, 409)["code"] == "duplicate_claim"
    draft.refresh_from_db()
    assert (draft.state, draft.reference) == ("draft", None)


def test_a_case_keeps_its_own_number_after_a_second_claim_is_allowed(
    client_for, case_in, applicant, manager, other_applicant, other_enterprise, programme
):
    first = case_in("submitted")
    _filing(client_for(applicant), first)
    second = make_case(state="submitted", member=other_applicant, enterprise=other_enterprise, programme=programme)
    client_for(manager).post(
        f"/api/v1/cases/{second.pk}/claim-allowances/",
        {"kind": "application_number", "number": "4-2026-00042", "reason": "Đơn chung"},
        format="json",
    )
    assert _filing(client_for(other_applicant), second).status_code == 200

    assert _filing(client_for(applicant), first, nice_classes=[30]).status_code == 200


def test_numbers_compare_without_letter_case(client_for, case_in, applicant):
    client = client_for(applicant)
    first = case_in("submitted", support_type="copyright")
    second = case_in("submitted", support_type="copyright")
    body = {"office": "copyright_office", "nice_classes": []}
    assert _filing(client, first, application_number="QTG-7", **body).status_code == 200
    assert assert_problem(_filing(client, second, application_number="qtg-7", **body), 409)["code"] == (
        "duplicate_claim"
    )


def test_a_certificate_number_is_written_without_leading_zeros(client_for, case_in, applicant):
    case = case_in("submitted")
    client = client_for(applicant)
    _filing(client, case)
    grant = {"certificate_number": "0512345", "certificate_date": TODAY().isoformat()}
    assert_field_errors(_milestone(client, case, kind="granted", **grant), "certificate_number")


def test_an_application_the_office_refused_is_not_paid(client_for, case_in, applicant, officer, manager):
    case = _approved_with_filing_only(client_for, case_in, applicant, manager)
    client = client_for(applicant)
    _milestone(client, case)
    assert _milestone(client, case, kind="refused").status_code == 201

    refused = _pay(client_for(officer), case)

    body = assert_problem(refused, 409)
    assert (body["code"], body["milestone"]) == ("application_ended", "refused")


def test_an_officer_cannot_record_a_filing_on_a_draft_even_through_the_service(case_in, officer):
    from cases.exceptions import CaseNotFound

    draft = case_in("draft")
    with pytest.raises(CaseNotFound):
        services.filing_set(
            case=draft,
            actor=officer,
            office="noip",
            application_number="4-2026-00099",
            filed_on=TODAY(),
            nice_classes=[3],
        )


def test_a_first_filing_has_no_previous_value_and_a_correction_keeps_the_old_one(client_for, case_in, applicant):
    case = case_in("submitted")
    client = client_for(applicant)
    _filing(client, case)
    _filing(client, case, application_number="4-2026-00043")

    first, second = CaseEvent.objects.filter(case=case, action="filing").order_by("seq")
    assert first.data["before"] is None
    assert second.data["before"] == {"office": "noip", "application_number": "4-2026-00042"}


def test_steps_of_the_same_day_are_listed_in_the_order_they_were_recorded(client_for, case_in, applicant):
    case = case_in("submitted")
    client = client_for(applicant)
    _filing(client, case)
    for kind in ("filed", "formality_accepted", "published"):
        assert _milestone(client, case, kind=kind).status_code == 201

    listed = client.get(f"/api/v1/cases/{case.pk}/milestones/?page_size=2").json()
    rest = client.get(listed["next"]).json()["results"]

    assert [m["kind"] for m in listed["results"] + rest] == ["filed", "formality_accepted", "published"]
