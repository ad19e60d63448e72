"""Every workflow action over HTTP: who may, from which state, with which body.

Each refusal is checked to change nothing: same state, same version, no new event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from cases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db

TODAY = "today"  # placeholder replaced by the local date at run time


def _body(body: dict[str, Any]) -> dict[str, Any]:
    return {k: (timezone.localdate().isoformat() if v == TODAY else v) for k, v in body.items()}


# action, state to start from, a valid body, personas who succeed, expected status for the others
MATRIX: list[tuple[str, str, dict[str, Any], set[str], dict[str, int]]] = [
    ("submit", "draft", {}, {"applicant"}, {"other_applicant": 404, "officer": 404, "manager": 404}),
    ("receive", "submitted", {}, {"officer", "officer2"}, {"applicant": 403, "other_applicant": 404, "manager": 403}),
    (
        "request-supplement",
        "in_review",
        {"items": ["Bản sao giấy phép"]},
        {"officer"},
        {"officer2": 403, "manager": 403, "applicant": 403, "other_applicant": 404},
    ),
    ("resubmit", "awaiting_supplement", {}, {"applicant"}, {"officer": 403, "manager": 403, "other_applicant": 404}),
    (
        "recommend",
        "in_review",
        {"outcome": "approve", "amount": 5_000_000, "comment": "Đạt"},
        {"officer"},
        {"officer2": 403, "manager": 403, "applicant": 403, "other_applicant": 404},
    ),
    ("approve", "recommended", {}, {"manager"}, {"officer": 403, "applicant": 403, "other_applicant": 404}),
    ("reject", "recommended", {"comment": "Không đạt"}, {"manager"}, {"officer": 403, "applicant": 403}),
    ("return", "recommended", {"comment": "Xem lại"}, {"manager"}, {"officer": 403, "applicant": 403}),
    ("withdraw", "in_review", {}, {"applicant"}, {"officer": 403, "manager": 403, "other_applicant": 404}),
    (
        "disburse",
        "approved",
        {"amount": 10_000_000, "paid_on": TODAY, "payment_reference": "UNC-9"},
        {"officer", "officer2", "manager"},
        {"applicant": 403, "other_applicant": 404},
    ),
    ("cancel", "approved", {"comment": "Huỷ"}, {"manager"}, {"officer": 403, "applicant": 403}),
]

STATE_AFTER = {
    "submit": "submitted",
    "receive": "in_review",
    "request-supplement": "awaiting_supplement",
    "resubmit": "in_review",
    "recommend": "recommended",
    "approve": "approved",
    "reject": "rejected",
    "return": "in_review",
    "withdraw": "withdrawn",
    "disburse": "disbursed",
    "cancel": "cancelled",
}


def _snapshot(case: Case) -> tuple[str, int, int]:
    case.refresh_from_db()
    return case.state, case.version, CaseEvent.objects.filter(case=case).count()


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


@pytest.mark.parametrize(("action", "state", "body", "allowed", "refused"), MATRIX, ids=[row[0] for row in MATRIX])
def test_action_permission_matrix(request, client_for, case_in, action, state, body, allowed, refused):
    for persona in sorted(allowed):
        case = case_in(state)
        user = request.getfixturevalue(persona)
        response = client_for(user).post(f"/api/v1/cases/{case.pk}/{action}/", _body(body), format="json")
        assert response.status_code == 200, (persona, response.content)
        assert response.json()["state"] == STATE_AFTER[action]
        # the action's own event (receive is followed by its receipt slip's upload)
        last = CaseEvent.objects.filter(case=case).exclude(action="document_upload").order_by("-seq").first()
        assert last is not None
        assert (last.action, last.from_state, last.to_state, last.actor_id) == (
            action,
            state,
            STATE_AFTER[action],
            user.pk,
        )
    case = case_in(state)
    before = _snapshot(case)
    for persona, status in refused.items():
        user = request.getfixturevalue(persona)
        response = client_for(user).post(f"/api/v1/cases/{case.pk}/{action}/", _body(body), format="json")
        _assert_problem(response, status)
        assert _snapshot(case) == before, persona
    response = client_for(None).post(f"/api/v1/cases/{case.pk}/{action}/", _body(body), format="json")
    _assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert _snapshot(case) == before


# action, persona allowed by role, a state the action does not leave from
WRONG_STATE = [
    ("submit", "applicant", "submitted"),
    ("receive", "officer", "in_review"),
    ("request-supplement", "officer", "awaiting_supplement"),
    ("resubmit", "applicant", "in_review"),
    ("recommend", "officer", "recommended"),
    ("approve", "manager", "in_review"),
    ("reject", "manager", "approved"),
    ("return", "manager", "approved"),
    ("withdraw", "applicant", "approved"),
    ("disburse", "officer", "recommended"),
    ("cancel", "manager", "disbursed"),
    ("assign", "manager", "approved"),
]


@pytest.mark.parametrize(("action", "persona", "state"), WRONG_STATE, ids=[r[0] for r in WRONG_STATE])
def test_action_from_wrong_state_is_409_and_changes_nothing(request, client_for, case_in, action, persona, state):
    case = case_in(state)
    before = _snapshot(case)
    body = next((row[2] for row in MATRIX if row[0] == action), {"officer": str(request.getfixturevalue("officer").pk)})
    response = client_for(request.getfixturevalue(persona)).post(
        f"/api/v1/cases/{case.pk}/{action}/", _body(body), format="json"
    )
    problem = _assert_problem(response, 409)
    assert problem["code"] == "transition_not_allowed"
    assert _snapshot(case) == before


# action, state, persona, bad body, the field the error must name
BAD_BODIES = [
    ("request-supplement", "in_review", "officer", {"items": []}, "items"),
    ("request-supplement", "in_review", "officer", {"items": ["   "]}, "items"),
    ("request-supplement", "in_review", "officer", {}, "items"),
    ("recommend", "in_review", "officer", {"outcome": "approve", "comment": "ok"}, "amount"),
    ("recommend", "in_review", "officer", {"outcome": "maybe", "amount": 1, "comment": "ok"}, "outcome"),
    ("recommend", "in_review", "officer", {"outcome": "approve", "amount": 5_000_000}, "comment"),
    ("recommend", "in_review", "officer", {"outcome": "approve", "amount": -5, "comment": "x"}, "amount"),
    ("recommend", "in_review", "officer", {"outcome": "approve", "amount": 25_000_000, "comment": "x"}, "amount"),
    ("recommend", "in_review", "officer", {"outcome": "approve", "amount": 31_000_000, "comment": "x"}, "amount"),
    ("approve", "recommended", "manager", {"amount": 0}, "amount"),
    ("approve", "recommended", "manager", {"amount": "lots"}, "amount"),
    ("approve", "recommended", "manager", {"amount": 40_000_000}, "amount"),
    ("reject", "recommended", "manager", {}, "comment"),
    ("reject", "recommended", "manager", {"comment": "   "}, "comment"),
    ("return", "recommended", "manager", {"comment": ""}, "comment"),
    ("cancel", "approved", "manager", {}, "comment"),
    ("disburse", "approved", "officer", {"amount": 10_000_001, "paid_on": TODAY, "payment_reference": "U"}, "amount"),
    ("disburse", "approved", "officer", {"amount": 1, "paid_on": "2999-01-01", "payment_reference": "U"}, "paid_on"),
    ("disburse", "approved", "officer", {"amount": 1, "paid_on": "not-a-date", "payment_reference": "U"}, "paid_on"),
    ("disburse", "approved", "officer", {"amount": 1, "paid_on": TODAY, "payment_reference": " "}, "payment_reference"),
    ("disburse", "approved", "officer", {"amount": 1, "paid_on": "2000-01-01", "payment_reference": "U"}, "paid_on"),
    ("assign", "in_review", "manager", {"officer": "not-a-uuid"}, "officer"),
    ("assign", "in_review", "manager", {}, "officer"),
]


@pytest.mark.parametrize(
    ("action", "state", "persona", "body", "field"),
    BAD_BODIES,
    ids=[f"{r[0]}-{r[4]}-{i}" for i, r in enumerate(BAD_BODIES)],
)
def test_bad_action_body_is_400_with_field_error_and_changes_nothing(
    request, client_for, case_in, action, state, persona, body, field
):
    case = case_in(state)  # requested 20M, rule cap 30M, recommended 10M
    before = _snapshot(case)
    response = client_for(request.getfixturevalue(persona)).post(
        f"/api/v1/cases/{case.pk}/{action}/", _body(body), format="json"
    )
    problem = _assert_problem(response, 400)
    fields = {error["field"].split("[")[0] for error in problem["errors"]}
    assert field in fields, problem
    assert all({"field", "code", "message"} <= set(error) for error in problem["errors"])
    assert _snapshot(case) == before


def test_assign_to_non_officer_is_400(client_for, case_in, manager, applicant):
    case = case_in("in_review")
    response = client_for(manager).post(
        f"/api/v1/cases/{case.pk}/assign/", {"officer": str(applicant.pk)}, format="json"
    )
    assert _assert_problem(response, 400)["errors"][0]["field"] == "officer"


def test_manager_assigns_officer_who_then_may_act(client_for, case_in, manager, officer, officer2):
    case = case_in("in_review")
    response = client_for(manager).post(
        f"/api/v1/cases/{case.pk}/assign/", {"officer": str(officer2.pk)}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["assigned_officer"]["id"] == str(officer2.pk)
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert event is not None
    assert event.action == "assign"
    assert event.data == {"officer": str(officer2.pk), "previous": str(officer.pk)}
    refused = client_for(officer).post(f"/api/v1/cases/{case.pk}/request-supplement/", {"items": ["x"]}, format="json")
    assert refused.status_code == 403
    ok = client_for(officer2).post(f"/api/v1/cases/{case.pk}/request-supplement/", {"items": ["x"]}, format="json")
    assert ok.status_code == 200


def test_receive_makes_the_officer_assigned_only_if_none(client_for, case_in, officer, officer2):
    case = case_in("submitted")
    response = client_for(officer2).post(f"/api/v1/cases/{case.pk}/receive/", {}, format="json")
    assert response.json()["assigned_officer"]["username"] == "officer2"
    assert response.json()["received_at"] is not None


def test_recommender_cannot_approve_or_reject_four_eyes(client_for, case_in, officer, manager):
    officer.groups.add(manager.groups.get())  # an officer who is also a manager
    from accounts.roles import forget_principal

    forget_principal(officer)
    case = case_in("recommended")  # recommended by `officer`
    before = _snapshot(case)
    for action, body in (("approve", {}), ("reject", {"comment": "no"})):
        response = client_for(officer).post(f"/api/v1/cases/{case.pk}/{action}/", body, format="json")
        problem = _assert_problem(response, 403)
        assert "four eyes" in problem["detail"].lower()
    assert _snapshot(case) == before
    assert "approve" not in client_for(officer).get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"]


def test_approve_defaults_to_recommended_amount(client_for, case_in, manager):
    case = case_in("recommended")
    response = client_for(manager).post(f"/api/v1/cases/{case.pk}/approve/", {}, format="json")
    assert response.json()["approved_amount"] == 10_000_000
    assert response.json()["decided_at"] is not None


def test_approve_beyond_available_budget_is_409_budget_exceeded(client_for, case_in, manager, programme):
    case = case_in("recommended")
    programme.budget_total = 9_999_999
    programme.save()
    before = _snapshot(case)
    response = client_for(manager).post(f"/api/v1/cases/{case.pk}/approve/", {}, format="json")
    assert _assert_problem(response, 409)["code"] == "budget_exceeded"
    assert _snapshot(case) == before


def test_return_clears_the_recommendation_and_keeps_it_in_the_trail(client_for, case_in, manager):
    case = case_in("recommended")
    body = client_for(manager).post(f"/api/v1/cases/{case.pk}/return/", {"comment": "Thiếu"}, format="json").json()
    assert (body["state"], body["recommended_amount"], body["recommendation"]) == ("in_review", None, "")
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert event is not None
    assert event.data == {"recommendation": "approve", "recommended_amount": 10_000_000}


def test_submit_assigns_unique_sequential_references(client_for, case_in, applicant):
    year = timezone.localdate().year
    refs = []
    for _ in range(3):
        case = case_in("draft")
        refs.append(
            client_for(applicant).post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json").json()["reference"]
        )
    assert refs == [f"SHTT-{year}-{n:05d}" for n in (1, 2, 3)]


def test_submit_outside_programme_period_is_409(client_for, case_in, applicant, programme):
    case = case_in("draft")
    programme.opens_on = timezone.localdate() + dt.timedelta(days=1)
    programme.closes_on = timezone.localdate() + dt.timedelta(days=10)
    programme.save()
    before = _snapshot(case)
    response = client_for(applicant).post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json")
    assert _assert_problem(response, 409)["code"] == "programme_closed"
    assert _snapshot(case) == before
    assert Case.objects.get(pk=case.pk).reference is None


def test_request_supplement_records_every_item(client_for, case_in, officer):
    case = case_in("in_review")
    items = ["Giấy chứng nhận đăng ký doanh nghiệp", "Hoá đơn phí nộp đơn", "Giấy uỷ quyền"]
    client_for(officer).post(
        f"/api/v1/cases/{case.pk}/request-supplement/", {"items": items, "comment": "Bổ sung"}, format="json"
    )
    events = client_for(officer).get(f"/api/v1/cases/{case.pk}/events/").json()["results"]
    assert events[-1]["action"] == "request-supplement"
    assert events[-1]["data"] == {"items": items, "document_kinds": []}
    assert events[-1]["comment"] == "Bổ sung"


def test_unknown_case_is_404_for_every_action(client_for, officer):
    for action in STATE_AFTER:
        response = client_for(officer).post(
            "/api/v1/cases/00000000-0000-0000-0000-000000000000/" + action + "/", {}, format="json"
        )
        _assert_problem(response, 404)


def test_get_on_action_is_405(client_for, case_in, officer):
    case = case_in("submitted")
    _assert_problem(client_for(officer).get(f"/api/v1/cases/{case.pk}/receive/"), 405)


def test_allowed_actions_follow_the_table(client_for, case_in, applicant, officer, officer2, manager):
    case = case_in("in_review")
    assert client_for(applicant).get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"] == ["withdraw"]
    assert client_for(officer).get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"] == [
        "request-supplement",
        "recommend",
    ]
    assert client_for(officer2).get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"] == []
    assert client_for(manager).get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"] == ["assign"]


def test_events_are_oldest_first_with_actor(client_for, case_in, officer):
    case = case_in("disbursed")
    events = client_for(officer).get(f"/api/v1/cases/{case.pk}/events/").json()["results"]
    assert [e["action"] for e in events] == [
        "create",
        "submit",
        "receive",
        "document_upload",  # the receipt slip
        "recommend",
        "filing",
        "document_upload",
        "milestone",
        "approve",
        "disburse",
    ]
    assert events[0]["from_state"] is None, "the creation has no state before it"
    assert events[0]["to_state"] == "draft"
    assert events[-1]["to_state"] == "disbursed"
    assert events[2]["actor"] == {"id": str(officer.pk), "username": "officer"}
    assert [e["seq"] for e in events] == list(range(1, 11))


def test_a_closed_programme_still_serves_reads_and_pays_approved_cases(
    client_for, case_in, applicant, officer, programme
):
    approved = case_in("approved")
    supplement = case_in("awaiting_supplement")
    programme.opens_on = timezone.localdate() - dt.timedelta(days=60)
    programme.closes_on = timezone.localdate() - dt.timedelta(days=1)
    programme.save()
    client = client_for(officer)

    assert client.get(f"/api/v1/programmes/{programme.code}/").status_code == 200
    assert client.get(f"/api/v1/programmes/{programme.code}/budget/").status_code == 200
    assert client.get(f"/api/v1/cases/{approved.pk}/").status_code == 200
    paid = client.post(
        f"/api/v1/cases/{approved.pk}/disburse/",
        {"amount": 10_000_000, "paid_on": timezone.localdate().isoformat(), "payment_reference": "UNC-9"},
        format="json",
    )
    assert (paid.status_code, paid.json()["state"]) == (200, "disbursed")
    # a dossier submitted in time is finished after the programme closes
    back = client_for(applicant).post(f"/api/v1/cases/{supplement.pk}/resubmit/", {}, format="json")
    assert (back.status_code, back.json()["state"]) == (200, "in_review")
