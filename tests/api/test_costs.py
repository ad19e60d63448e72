"""Cost lines and the supportable amount over the API.

A case declares its invoiced costs; the rule turns them into the largest amount the case
can receive, limit by limit. Officers and managers cannot go above it, and every set of
cost lines an applicant replaces stays in the case's trail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services
from cases.models import BudgetEntry, Case, CaseEvent, CostLine, SupportRule
from tests.factories import cost_line, make_case
from tests.problems import assert_field_errors, assert_problem

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def _line(amount: int = 40_000_000, **overrides: Any) -> dict[str, Any]:
    """One cost line as a JSON body carries it (the date as ISO text)."""
    line = cost_line(amount, **overrides)
    if isinstance(line["invoice_date"], dt.date):
        line["invoice_date"] = line["invoice_date"].isoformat()
    return line


def _create_body(enterprise: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "enterprise": str(enterprise.pk),
        "programme": "shtt-test",
        "support_type": "trademark",
        "title": "Nhãn hiệu Cà phê Langbiang",
        "requested_amount": 20_000_000,
        "cost_lines": [_line(25_000_000, invoice_number="HD-1"), _line(15_000_000, invoice_number="HD-2")],
    }
    body.update(overrides)
    return body


def _trademark_rule(programme: Any, **values: Any) -> None:
    assert SupportRule.objects.filter(programme=programme, support_type="trademark").update(**values) == 1


def _lines_of(case: Case) -> list[tuple[int, str, int]]:
    return list(
        CostLine.objects.filter(case=case).order_by("position").values_list("position", "invoice_number", "amount")
    )


def _snapshot(case: Case) -> tuple[str, int, int, list[tuple[int, str, int]], int]:
    """Everything a refused request must leave alone."""
    case.refresh_from_db()
    return (
        case.state,
        case.version,
        CaseEvent.objects.filter(case=case).count(),
        _lines_of(case),
        BudgetEntry.objects.filter(case=case).count(),
    )


def _url(case: Case, suffix: str = "") -> str:
    return f"/api/v1/cases/{case.pk}/{suffix}"


# --- Creating a draft with its costs ------------------------------------------------------


def test_applicant_creates_a_draft_with_cost_lines_and_sees_the_breakdown(client_for, applicant, enterprise, programme):
    response = client_for(applicant).post("/api/v1/cases/", _create_body(enterprise), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    today = TODAY().isoformat()
    assert body["cost_lines"] == [
        {
            "position": 1,
            "description": "Phí dịch vụ đại diện sở hữu công nghiệp",
            "amount": 25_000_000,
            "invoice_number": "HD-1",
            "invoice_date": today,
            "payee": "Công ty Luật TNHH Đại diện SHTT",
        },
        {
            "position": 2,
            "description": "Phí dịch vụ đại diện sở hữu công nghiệp",
            "amount": 15_000_000,
            "invoice_number": "HD-2",
            "invoice_date": today,
            "payee": "Công ty Luật TNHH Đại diện SHTT",
        },
    ]
    assert body["eligible_cost"] == 40_000_000
    assert body["max_supportable_amount"] == 20_000_000
    assert body["decided_rule"] is None
    supportable = body["supportable"]
    assert (supportable["amount"], supportable["eligible_cost"], supportable["percent"]) == (
        20_000_000,
        40_000_000,
        50,
    )
    # percent of cost and requested amount are equal: the first listed is the binding one
    assert supportable["binding_limit"] == "percent_of_cost"
    assert supportable["limits"] == [
        {
            "code": "percent_of_cost",
            "amount": 20_000_000,
            "reason": "50% of the eligible cost of 40,000,000 VND is 20,000,000 VND",
        },
        {"code": "item_cap", "amount": 30_000_000, "reason": "the rule pays at most 30,000,000 VND per item"},
        {"code": "requested_amount", "amount": 20_000_000, "reason": "the enterprise asked for 20,000,000 VND"},
    ]


def test_create_event_keeps_the_declared_cost_lines(client_for, applicant, enterprise, programme):
    case_id = client_for(applicant).post("/api/v1/cases/", _create_body(enterprise), format="json").json()["id"]

    event = CaseEvent.objects.get(case_id=case_id, action="create")
    assert event.data["eligible_cost"] == 40_000_000
    assert [(line["invoice_number"], line["amount"]) for line in event.data["cost_lines"]] == [
        ("HD-1", 25_000_000),
        ("HD-2", 15_000_000),
    ]
    assert event.data["cost_lines"][0]["invoice_date"] == TODAY().isoformat()


def test_draft_without_cost_lines_can_receive_nothing(client_for, applicant, enterprise, programme):
    body = client_for(applicant).post("/api/v1/cases/", _create_body(enterprise, cost_lines=[]), format="json").json()

    assert (body["cost_lines"], body["eligible_cost"], body["max_supportable_amount"]) == ([], 0, 0)
    assert body["supportable"]["binding_limit"] == "percent_of_cost"


def test_cost_lines_may_be_omitted_when_creating(client_for, applicant, enterprise, programme):
    body = _create_body(enterprise)
    del body["cost_lines"]
    response = client_for(applicant).post("/api/v1/cases/", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["cost_lines"] == []
    assert CostLine.objects.count() == 0


# field errors the create endpoint and the replace endpoint both give for a bad set of lines
BAD_LINES: list[tuple[str, Any, str, str]] = [
    ("negative-amount", [_line(-1)], "cost_lines[0].amount", "min_value"),
    ("zero-amount", [_line(0)], "cost_lines[0].amount", "min_value"),
    ("amount-too-large", [_line(100_000_000_001)], "cost_lines[0].amount", "max_value"),
    ("amount-not-a-number", [_line(amount="lots")], "cost_lines[0].amount", "invalid"),  # type: ignore[arg-type]
    ("blank-description", [_line(description="")], "cost_lines[0].description", "blank"),
    ("whitespace-description", [_line(description="   ")], "cost_lines[0].description", "blank"),
    ("blank-payee", [_line(payee="")], "cost_lines[0].payee", "blank"),
    ("blank-invoice-number", [_line(), _line(invoice_number=" ")], "cost_lines[1].invoice_number", "blank"),
    ("missing-payee", [{k: v for k, v in _line().items() if k != "payee"}], "cost_lines[0].payee", "required"),
    ("bad-date", [_line(invoice_date="31/12/2025")], "cost_lines[0].invoice_date", "invalid"),
    ("date-before-programme", [_line(invoice_date="2001-01-01")], "cost_lines[0].invoice_date", "out_of_period"),
    ("unknown-field-in-line", [_line(vat_rate=10)], "cost_lines[0].vat_rate", "unknown_field"),
    ("total-above-100bn", [_line(60_000_000_000), _line(60_000_000_000)], "cost_lines", "total_too_large"),
]


def _future_line() -> list[dict[str, Any]]:
    return [_line(invoice_date=(TODAY() + dt.timedelta(days=1)).isoformat())]


@pytest.mark.parametrize(("lines", "field", "code"), [row[1:] for row in BAD_LINES], ids=[r[0] for r in BAD_LINES])
def test_bad_cost_lines_on_create_are_400_and_create_nothing(
    client_for, applicant, enterprise, programme, lines, field, code
):
    response = client_for(applicant).post("/api/v1/cases/", _create_body(enterprise, cost_lines=lines), format="json")

    body = assert_field_errors(response, field)
    assert body["errors"][0]["code"] == code
    assert Case.objects.count() == 0
    assert CostLine.objects.count() == 0


def test_invoice_dated_tomorrow_is_refused_on_create(client_for, applicant, enterprise, programme):
    response = client_for(applicant).post(
        "/api/v1/cases/", _create_body(enterprise, cost_lines=_future_line()), format="json"
    )

    assert assert_field_errors(response, "cost_lines[0].invoice_date")["errors"][0]["code"] == "out_of_period"
    assert Case.objects.count() == 0


# --- Replacing the cost lines ---------------------------------------------------------------


def test_member_replaces_the_cost_lines_of_a_draft(client_for, case_in, applicant):
    case = case_in("draft")  # one 40M line
    version = case.version
    new = [_line(6_000_000, invoice_number="HD-10"), _line(4_000_000, invoice_number="HD-11")]

    response = client_for(applicant).put(_url(case, "cost-lines/"), {"cost_lines": new}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [(line["position"], line["invoice_number"], line["amount"]) for line in body["cost_lines"]] == [
        (1, "HD-10", 6_000_000),
        (2, "HD-11", 4_000_000),
    ]
    assert (body["eligible_cost"], body["max_supportable_amount"]) == (10_000_000, 5_000_000)
    assert body["version"] == version + 1
    assert _lines_of(case) == [(1, "HD-10", 6_000_000), (2, "HD-11", 4_000_000)]
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert event is not None
    assert (event.action, event.from_state, event.to_state, event.actor_id, event.seq) == (
        "cost_lines",
        "draft",
        "draft",
        applicant.pk,
        version + 1,
    )
    assert event.data == {"cost_lines": new, "eligible_cost": 10_000_000}


def test_every_replaced_set_of_cost_lines_stays_in_the_trail(client_for, case_in, applicant):
    case = case_in("draft")
    client = client_for(applicant)
    first = [_line(1_000_000, invoice_number="A")]
    second = [_line(2_000_000, invoice_number="B"), _line(3_000_000, invoice_number="C")]

    for lines in (first, second, []):
        assert client.put(_url(case, "cost-lines/"), {"cost_lines": lines}, format="json").status_code == 200

    events = client.get(_url(case, "events/")).json()["results"]
    assert [e["action"] for e in events] == ["create", "cost_lines", "cost_lines", "cost_lines"]
    assert [[line["invoice_number"] for line in e["data"]["cost_lines"]] for e in events] == [
        ["HD-0001"],
        ["A"],
        ["B", "C"],
        [],
    ]
    assert [e["data"]["eligible_cost"] for e in events] == [40_000_000, 1_000_000, 5_000_000, 0]
    assert _lines_of(case) == []
    case.refresh_from_db()
    assert case.version == 4


def test_member_replaces_cost_lines_while_a_supplement_is_requested(client_for, case_in, applicant):
    case = case_in("awaiting_supplement")
    version = case.version

    response = client_for(applicant).put(
        _url(case, "cost-lines/"), {"cost_lines": [_line(50_000_000, invoice_number="HD-BS")]}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["version"], body["eligible_cost"]) == ("awaiting_supplement", version + 1, 50_000_000)
    assert _lines_of(case) == [(1, "HD-BS", 50_000_000)]
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert event is not None
    assert (event.action, event.from_state, event.to_state) == (
        "cost_lines",
        "awaiting_supplement",
        "awaiting_supplement",
    )


def test_a_dossier_emptied_of_costs_during_a_supplement_cannot_be_resubmitted(client_for, case_in, applicant):
    case = case_in("awaiting_supplement")
    client = client_for(applicant)
    assert client.put(_url(case, "cost-lines/"), {"cost_lines": []}, format="json").status_code == 200
    version = Case.objects.get(pk=case.pk).version

    refused = client.post(_url(case, "resubmit/"), {}, format="json")

    assert assert_problem(refused, 409)["code"] == "ineligible"
    assert [c["code"] for c in refused.json()["checks"] if not c["passed"]] == ["cost_lines"]
    case.refresh_from_db()
    assert (case.state, case.version) == ("awaiting_supplement", version)

    assert client.put(_url(case, "cost-lines/"), {"cost_lines": [_line()]}, format="json").status_code == 200
    resubmitted = client.post(_url(case, "resubmit/"), {}, format="json")
    assert resubmitted.status_code == 200, resubmitted.content
    assert resubmitted.json()["state"] == "in_review"


@pytest.mark.parametrize(
    "state", ["submitted", "in_review", "recommended", "approved", "disbursed", "rejected", "withdrawn", "cancelled"]
)
def test_member_cannot_replace_cost_lines_outside_draft_or_supplement(client_for, case_in, applicant, state):
    case = case_in(state)
    before = _snapshot(case)

    response = client_for(applicant).put(_url(case, "cost-lines/"), {"cost_lines": [_line(1_000)]}, format="json")

    assert assert_problem(response, 409)["code"] == "invalid_state"
    assert _snapshot(case) == before


@pytest.mark.parametrize(
    ("state", "persona", "status", "code"),
    [
        ("submitted", "manager", 403, "permission_denied"),
        ("in_review", "manager", 403, "permission_denied"),
        ("awaiting_supplement", "manager", 403, "permission_denied"),
        ("in_review", "officer2", 403, "permission_denied"),  # not the assigned officer
        ("submitted", "officer", 409, "invalid_state"),
        ("awaiting_supplement", "officer", 409, "invalid_state"),
        ("recommended", "officer", 409, "invalid_state"),
    ],
)
def test_reviewers_change_cost_lines_only_as_the_assigned_officer_during_review(
    request, client_for, case_in, state, persona, status, code
):
    case = case_in(state)
    before = _snapshot(case)

    response = client_for(request.getfixturevalue(persona)).put(
        _url(case, "cost-lines/"), {"cost_lines": [_line(1_000)]}, format="json"
    )

    assert assert_problem(response, status)["code"] == code
    assert _snapshot(case) == before


def test_the_assigned_officer_corrects_the_cost_lines_during_review(client_for, case_in, officer):
    case = case_in("in_review")
    version = case.version

    response = client_for(officer).put(
        _url(case, "cost-lines/"), {"cost_lines": [_line(30_000_000, invoice_number="HD-KT")]}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["version"], body["eligible_cost"], body["max_supportable_amount"]) == (
        "in_review",
        version + 1,
        30_000_000,
        15_000_000,
    )
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert event is not None
    assert (event.action, event.actor_id, event.data["eligible_cost"]) == ("cost_lines", officer.pk, 30_000_000)


@pytest.mark.parametrize(
    ("state", "persona"),
    [
        ("draft", "other_applicant"),
        ("awaiting_supplement", "other_applicant"),
        ("draft", "officer"),  # drafts are visible to members only
        ("draft", "manager"),
        ("awaiting_supplement", "partner"),  # a partner the enterprise has not authorised
    ],
)
def test_who_cannot_see_the_case_gets_404_on_cost_lines(request, client_for, case_in, state, persona):
    case = case_in(state)
    before = _snapshot(case)
    client = client_for(request.getfixturevalue(persona))

    assert_problem(client.put(_url(case, "cost-lines/"), {"cost_lines": [_line(1_000)]}, format="json"), 404)
    assert_problem(client.get(_url(case, "cost-lines/")), 404)
    assert _snapshot(case) == before


def test_cost_lines_without_a_token_are_401(client_for, case_in):
    case = case_in("draft")
    before = _snapshot(case)
    client = client_for(None)

    for response in (
        client.get(_url(case, "cost-lines/")),
        client.put(_url(case, "cost-lines/"), {"cost_lines": [_line(1_000)]}, format="json"),
    ):
        assert_problem(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert _snapshot(case) == before


def test_replacing_cost_lines_of_an_unknown_case_is_404(client_for, applicant):
    response = client_for(applicant).put(
        "/api/v1/cases/00000000-0000-0000-0000-000000000000/cost-lines/", {"cost_lines": []}, format="json"
    )
    assert_problem(response, 404)


def test_members_and_reviewers_read_the_cost_lines(client_for, case_in, applicant, officer, manager):
    lines = [cost_line(7_000_000, invoice_number="HD-7"), cost_line(3_000_000, invoice_number="HD-3")]
    draft = case_in("draft", cost_lines=lines)
    submitted = case_in("submitted", cost_lines=lines)
    expected = [
        {**_line(7_000_000, invoice_number="HD-7"), "position": 1},
        {**_line(3_000_000, invoice_number="HD-3"), "position": 2},
    ]

    assert client_for(applicant).get(_url(draft, "cost-lines/")).json() == {"cost_lines": expected}
    for user in (applicant, officer, manager):
        response = client_for(user).get(_url(submitted, "cost-lines/"))
        assert response.status_code == 200
        assert response.json() == {"cost_lines": expected}


@pytest.mark.parametrize(("lines", "field", "code"), [row[1:] for row in BAD_LINES], ids=[r[0] for r in BAD_LINES])
def test_bad_cost_lines_are_400_and_change_nothing(client_for, case_in, applicant, lines, field, code):
    case = case_in("draft")
    before = _snapshot(case)

    response = client_for(applicant).put(_url(case, "cost-lines/"), {"cost_lines": lines}, format="json")

    body = assert_field_errors(response, field)
    assert body["errors"][0]["code"] == code
    assert _snapshot(case) == before


MALFORMED: list[tuple[str, dict[str, Any], str, str]] = [
    ("51-lines", {"cost_lines": [_line()] * 51}, "cost_lines", "max_length"),
    ("object", {"cost_lines": {"description": "x"}}, "cost_lines", "not_a_list"),
    ("string", {"cost_lines": "40000000"}, "cost_lines", "not_a_list"),
    ("missing", {}, "cost_lines", "required"),
    ("unknown-field", {"cost_lines": [], "lines": []}, "lines", "unknown_field"),
    ("line-not-an-object", {"cost_lines": ["not an object"]}, "cost_lines[0]", "invalid"),
]


def _field_root(field: str) -> str:
    """DRF reports errors of a whole nested list as `<field>.non_field_errors`."""
    return field.removesuffix(".non_field_errors")


@pytest.mark.parametrize(("body", "field", "code"), [r[1:] for r in MALFORMED], ids=[r[0] for r in MALFORMED])
def test_malformed_cost_line_bodies_are_400_and_change_nothing(client_for, case_in, applicant, body, field, code):
    case = case_in("draft")
    before = _snapshot(case)

    response = client_for(applicant).put(_url(case, "cost-lines/"), body, format="json")

    problem = assert_problem(response, 400)
    assert [(_field_root(e["field"]), e["code"]) for e in problem["errors"]] == [(field, code)]
    assert _snapshot(case) == before


@pytest.mark.parametrize(
    "body", [{"cost_lines": [_line()] * 51}, {"cost_lines": "40000000"}], ids=["51-lines", "not-a-list"]
)
def test_errors_about_the_whole_list_name_the_cost_lines_field(client_for, case_in, applicant, body):
    case = case_in("draft")

    response = client_for(applicant).put(_url(case, "cost-lines/"), body, format="json")

    assert_field_errors(response, "cost_lines")


def test_invoice_dated_in_the_future_is_400_and_changes_nothing(client_for, case_in, applicant):
    case = case_in("draft")
    before = _snapshot(case)

    response = client_for(applicant).put(_url(case, "cost-lines/"), {"cost_lines": _future_line()}, format="json")

    body = assert_field_errors(response, "cost_lines[0].invoice_date")
    assert body["errors"][0]["code"] == "out_of_period"
    assert f"to {TODAY().isoformat()}" in body["errors"][0]["message"]  # the latest date allowed is today
    assert _snapshot(case) == before


def test_invoices_may_be_dated_from_the_start_of_the_programme_year(client_for, case_in, applicant, programme):
    case = case_in("draft")
    earliest = min(dt.date(programme.year, 1, 1), programme.opens_on)
    client = client_for(applicant)

    too_early = [_line(invoice_date=(earliest - dt.timedelta(days=1)).isoformat())]
    refused = client.put(_url(case, "cost-lines/"), {"cost_lines": too_early}, format="json")
    assert assert_field_errors(refused, "cost_lines[0].invoice_date")["errors"][0]["code"] == "out_of_period"

    edges = [_line(invoice_date=earliest.isoformat()), _line(invoice_date=TODAY().isoformat())]
    accepted = client.put(_url(case, "cost-lines/"), {"cost_lines": edges}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert [line["invoice_date"] for line in accepted.json()["cost_lines"]] == [
        earliest.isoformat(),
        TODAY().isoformat(),
    ]


def test_fifty_cost_lines_are_accepted(client_for, case_in, applicant):
    case = case_in("draft")
    lines = [_line(1_000_000, invoice_number=f"HD-{n}") for n in range(1, 51)]

    response = client_for(applicant).put(_url(case, "cost-lines/"), {"cost_lines": lines}, format="json")

    assert response.status_code == 200, response.content
    assert [line["position"] for line in response.json()["cost_lines"]] == list(range(1, 51))
    assert response.json()["eligible_cost"] == 50_000_000


def test_lines_adding_up_to_exactly_100bn_are_accepted(client_for, case_in, applicant):
    case = case_in("draft")
    lines = [_line(60_000_000_000), _line(40_000_000_000)]

    response = client_for(applicant).put(_url(case, "cost-lines/"), {"cost_lines": lines}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["eligible_cost"] == 100_000_000_000


def test_bad_body_on_a_submitted_case_is_409_before_400(client_for, case_in, applicant):
    case = case_in("submitted")

    response = client_for(applicant).put(_url(case, "cost-lines/"), {"cost_lines": [_line(-1)]}, format="json")

    assert assert_problem(response, 409)["code"] == "invalid_state"


def test_bad_body_from_a_manager_is_403_before_400(client_for, case_in, manager, officer):
    case = case_in("awaiting_supplement")

    response = client_for(manager).put(_url(case, "cost-lines/"), {"cost_lines": "x"}, format="json")
    assert assert_problem(response, 403)["code"] == "permission_denied"

    response = client_for(officer).put(_url(case, "cost-lines/"), {"cost_lines": "x"}, format="json")
    assert assert_problem(response, 409)["code"] == "invalid_state"


# --- The supportable amount, limit by limit ------------------------------------------------


def _supportable(client: Any, case: Case) -> dict[str, Any]:
    body = client.get(_url(case)).json()
    assert body["max_supportable_amount"] == body["supportable"]["amount"]
    return body["supportable"]  # type: ignore[no-any-return]


def _limits(supportable: dict[str, Any]) -> dict[str, int]:
    return {limit["code"]: limit["amount"] for limit in supportable["limits"]}


@pytest.mark.parametrize(
    ("cost", "requested", "amount", "binding"),
    [
        (40_000_000, 20_000_000, 20_000_000, "percent_of_cost"),  # ties with requested: first listed wins
        (10_000_000, 20_000_000, 5_000_000, "percent_of_cost"),
        (100_000_000, 80_000_000, 30_000_000, "item_cap"),
        (60_000_000, 30_000_000, 30_000_000, "percent_of_cost"),  # three-way tie
        (100_000_000, 30_000_000, 30_000_000, "item_cap"),  # ties with requested: item cap is listed first
        (40_000_000, 3_000_000, 3_000_000, "requested_amount"),
    ],
    ids=["tie-percent-requested", "percent", "item-cap", "three-way-tie", "tie-cap-requested", "requested"],
)
def test_the_smallest_limit_binds(client_for, case_in, applicant, cost, requested, amount, binding):
    case = case_in("draft", cost_lines=[cost_line(cost)], requested_amount=requested)

    supportable = _supportable(client_for(applicant), case)

    assert (supportable["amount"], supportable["binding_limit"]) == (amount, binding)
    assert _limits(supportable) == {
        "percent_of_cost": cost // 2,
        "item_cap": 30_000_000,
        "requested_amount": requested,
    }


def test_what_is_left_of_the_enterprise_yearly_cap_binds(client_for, case_in, applicant, programme):
    case_in("approved")  # 10M approved to the same enterprise under the same rule
    _trademark_rule(programme, enterprise_year_cap=25_000_000)
    case = case_in("draft")  # 40M cost, 20M requested

    supportable = _supportable(client_for(applicant), case)

    assert (supportable["amount"], supportable["binding_limit"]) == (15_000_000, "enterprise_year_cap")
    assert supportable["limits"][-1] == {
        "code": "enterprise_year_cap",
        "amount": 15_000_000,
        "reason": "15,000,000 VND is left of the enterprise's yearly cap of 25,000,000 VND",
    }


def test_a_partly_paid_case_holds_only_what_was_paid(client_for, case_in, applicant, officer, programme):
    paid = case_in("approved")  # 10M approved
    services.case_disburse(case=paid, actor=officer, amount=6_000_000, paid_on=TODAY(), payment_reference="UNC-6")
    _trademark_rule(programme, enterprise_year_cap=25_000_000)
    case = case_in("draft")

    assert _limits(_supportable(client_for(applicant), case))["enterprise_year_cap"] == 19_000_000


def test_an_exhausted_yearly_cap_leaves_zero_not_a_negative_amount(client_for, case_in, applicant, programme):
    case_in("approved")
    case_in("approved")  # 20M held
    _trademark_rule(programme, enterprise_year_cap=15_000_000)
    case = case_in("draft")

    supportable = _supportable(client_for(applicant), case)

    assert (supportable["amount"], supportable["binding_limit"]) == (0, "enterprise_year_cap")


@pytest.mark.parametrize("state", ["submitted", "in_review", "recommended", "rejected", "withdrawn", "cancelled"])
def test_only_approved_or_paid_cases_use_the_yearly_cap(client_for, case_in, applicant, programme, state):
    case_in(state)  # recommended and cancelled cases carry 10M that is not (or no longer) held
    _trademark_rule(programme, enterprise_year_cap=25_000_000)
    case = case_in("draft")

    assert _limits(_supportable(client_for(applicant), case))["enterprise_year_cap"] == 25_000_000


def test_other_enterprises_programmes_and_support_types_do_not_use_the_yearly_cap(
    client_for, case_in, applicant, other_applicant, other_enterprise, programme, officer, manager
):
    from tests.factories import ProgrammeFactory

    make_case(
        state="approved", member=other_applicant, enterprise=other_enterprise, programme=programme,
        officer=officer, manager=manager,
    )  # fmt: skip
    case_in("approved", support_type="patent")
    case_in("approved", programme=ProgrammeFactory(code="shtt-khac"))
    _trademark_rule(programme, enterprise_year_cap=25_000_000)
    case = case_in("draft")

    assert _limits(_supportable(client_for(applicant), case))["enterprise_year_cap"] == 25_000_000


def test_a_full_count_of_approved_items_leaves_nothing(client_for, case_in, applicant, programme):
    case_in("approved")  # the enterprise's one item under the rule
    _trademark_rule(programme, max_items_per_enterprise=1)
    case = case_in("draft")

    supportable = _supportable(client_for(applicant), case)

    assert (supportable["amount"], supportable["binding_limit"]) == (0, "item_count")
    assert supportable["limits"][-1]["code"] == "item_count"
    assert supportable["limits"][-1]["amount"] == 0


def test_items_still_under_review_do_not_lower_the_amount(client_for, case_in, applicant, programme):
    # Submission counts live applications against the maximum; the amount counts only
    # items actually granted (cases/limits.py `supportable`).
    case_in("in_review")
    _trademark_rule(programme, max_items_per_enterprise=1)
    case = case_in("draft")

    supportable = _supportable(client_for(applicant), case)

    assert (supportable["amount"], supportable["binding_limit"]) == (20_000_000, "percent_of_cost")
    assert "item_count" not in _limits(supportable)


def test_percent_of_cost_rounds_down_to_whole_vnd(client_for, case_in, applicant, programme):
    _trademark_rule(programme, percent="33.33")
    case = case_in("draft", cost_lines=[cost_line(10_000_001)])

    supportable = _supportable(client_for(applicant), case)

    assert (supportable["amount"], supportable["binding_limit"]) == (3_333_000, "percent_of_cost")
    assert supportable["percent"] == pytest.approx(33.33)
    assert supportable["limits"][0]["reason"] == "33.33% of the eligible cost of 10,000,001 VND is 3,333,000 VND"


def test_changing_the_rule_changes_the_amount_of_an_undecided_case(client_for, case_in, officer, programme):
    case = case_in("in_review")
    _trademark_rule(programme, percent=25, cap_amount=8_000_000)

    supportable = _supportable(client_for(officer), case)

    assert (supportable["amount"], supportable["binding_limit"]) == (8_000_000, "item_cap")
    assert _limits(supportable)["percent_of_cost"] == 10_000_000


def test_approval_records_the_rule_and_breakdown_and_a_later_rule_change_keeps_them(
    client_for, case_in, manager, programme
):
    case = case_in("recommended")  # 10M recommended, 20M supportable

    body = client_for(manager).post(_url(case, "approve/"), {}, format="json").json()

    expected = {
        "support_type": "trademark",
        "percent": 50.0,
        "cap_amount": 30_000_000,
        "enterprise_year_cap": None,
        "max_items_per_enterprise": None,
        "legal_forms": [],
        "size_classes": [],
        "province_codes": [],
        "startup_required": False,
        "payment_trigger": "valid_application",
        "legal_basis": "",
        "documents_at_submission": [],
        "documents_before_payment": [],
        "processing_days": 20,
        "supportable": {
            "amount": 20_000_000,
            "eligible_cost": 40_000_000,
            "percent": 50.0,
            "binding_limit": "percent_of_cost",
            "limits": [
                {"code": "percent_of_cost", "amount": 20_000_000},
                {"code": "item_cap", "amount": 30_000_000},
                {"code": "requested_amount", "amount": 20_000_000},
            ],
        },
    }
    assert _without_params(body["decided_rule"]) == expected
    _trademark_rule(programme, percent=10, cap_amount=1_000_000)
    assert _without_params(client_for(manager).get(_url(case)).json()["decided_rule"]) == expected


def _without_params(decided_rule: dict[str, Any]) -> dict[str, Any]:
    """The recorded rule with each limit as code and amount (its worded reason aside)."""
    supportable = decided_rule["supportable"]
    limits = [{"code": limit["code"], "amount": limit["amount"]} for limit in supportable["limits"]]
    return {**decided_rule, "supportable": {**supportable, "limits": limits}}


# --- Recommend and approve stay within the supportable amount -------------------------------


def test_recommending_above_the_supportable_amount_is_400_naming_the_limit(client_for, case_in, officer):
    case = case_in("in_review")  # 20M supportable (50% of 40M)
    before = _snapshot(case)

    response = client_for(officer).post(
        _url(case, "recommend/"), {"outcome": "approve", "amount": 20_000_001, "comment": "Đạt"}, format="json"
    )

    body = assert_field_errors(response, "amount")
    assert body["errors"][0]["code"] == "above_supportable"
    assert (body["limit"], body["max_supportable_amount"]) == ("percent_of_cost", 20_000_000)
    assert body["detail"] == (
        "20,000,001 VND is above the 20,000,000 VND this case can receive: "
        "50% of the eligible cost of 40,000,000 VND is 20,000,000 VND."
    )
    assert _snapshot(case) == before


def test_recommending_exactly_the_supportable_amount_succeeds(client_for, case_in, officer):
    case = case_in("in_review")

    response = client_for(officer).post(
        _url(case, "recommend/"), {"outcome": "approve", "amount": 20_000_000, "comment": "Đạt"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["recommended_amount"]) == ("recommended", 20_000_000)
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert event is not None
    assert event.data["supportable"]["max_supportable_amount"] == 20_000_000
    assert event.data["supportable"]["binding_limit"] == "percent_of_cost"


def test_recommendation_is_capped_by_the_item_cap(client_for, case_in, officer):
    case = case_in("in_review", cost_lines=[cost_line(100_000_000)], requested_amount=80_000_000)
    before = _snapshot(case)

    response = client_for(officer).post(
        _url(case, "recommend/"), {"outcome": "approve", "amount": 30_000_001, "comment": "Đạt"}, format="json"
    )

    body = assert_field_errors(response, "amount")
    assert (body["errors"][0]["code"], body["limit"], body["max_supportable_amount"]) == (
        "above_supportable",
        "item_cap",
        30_000_000,
    )
    assert "the rule pays at most 30,000,000 VND per item" in body["detail"]
    assert _snapshot(case) == before


def test_costs_lowered_during_a_supplement_lower_what_may_be_recommended(client_for, case_in, applicant, officer):
    case = case_in("awaiting_supplement")
    client_for(applicant).put(_url(case, "cost-lines/"), {"cost_lines": [_line(8_000_000)]}, format="json")
    assert client_for(applicant).post(_url(case, "resubmit/"), {}, format="json").status_code == 200
    case.refresh_from_db()
    before = _snapshot(case)

    response = client_for(officer).post(
        _url(case, "recommend/"), {"outcome": "approve", "amount": 10_000_000, "comment": "Đạt"}, format="json"
    )

    body = assert_field_errors(response, "amount")
    assert (body["limit"], body["max_supportable_amount"]) == ("percent_of_cost", 4_000_000)
    assert _snapshot(case) == before


def test_approving_above_the_supportable_amount_is_400_and_commits_nothing(client_for, case_in, manager, programme):
    case = case_in("recommended")
    before = _snapshot(case)
    budget_entries = BudgetEntry.objects.count()

    response = client_for(manager).post(_url(case, "approve/"), {"amount": 20_000_001}, format="json")

    body = assert_field_errors(response, "amount")
    assert (body["errors"][0]["code"], body["limit"], body["max_supportable_amount"]) == (
        "above_supportable",
        "percent_of_cost",
        20_000_000,
    )
    assert "20,000,001 VND is above the 20,000,000 VND" in body["detail"]
    assert _snapshot(case) == before
    assert BudgetEntry.objects.count() == budget_entries
    assert Case.objects.get(pk=case.pk).approved_amount is None


def test_approving_the_recommended_amount_is_refused_once_the_yearly_cap_is_used(
    client_for, case_in, manager, programme
):
    case = case_in("recommended")  # 10M recommended
    case_in("approved")  # another 10M approved to the same enterprise
    _trademark_rule(programme, enterprise_year_cap=15_000_000)
    before = _snapshot(case)

    response = client_for(manager).post(_url(case, "approve/"), {}, format="json")

    body = assert_field_errors(response, "amount")
    assert (body["errors"][0]["code"], body["limit"], body["max_supportable_amount"]) == (
        "above_supportable",
        "enterprise_year_cap",
        5_000_000,
    )
    assert "5,000,000 VND is left of the enterprise's yearly cap of 15,000,000 VND" in body["detail"]
    assert _snapshot(case) == before


def test_approving_exactly_the_supportable_amount_succeeds_and_commits_it(client_for, case_in, manager):
    case = case_in("recommended")

    response = client_for(manager).post(_url(case, "approve/"), {"amount": 20_000_000}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["approved_amount"]) == ("approved", 20_000_000)
    assert list(BudgetEntry.objects.filter(case=case).values_list("kind", "amount")) == [("commit", 20_000_000)]


# --- Query counts ---------------------------------------------------------------------------


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_case_detail_costs_the_same_queries_for_1_and_40_cost_lines(client_for, case_in, applicant, officer):
    one = case_in("submitted")
    forty = case_in("submitted", cost_lines=[cost_line(1_000_000, invoice_number=f"HD-{n}") for n in range(40)])
    for user in (applicant, officer):
        client = client_for(user)
        assert len(client.get(_url(forty)).json()["cost_lines"]) == 40
        # token, principal, case; its cost lines, its rule, the enterprise's other cases
        assert _queries(client, _url(one)) == 6
        assert _queries(client, _url(forty)) == 6


def test_cost_line_list_costs_the_same_queries_for_1_and_40_lines(client_for, case_in, officer):
    one = case_in("submitted")
    forty = case_in("submitted", cost_lines=[cost_line(1_000_000, invoice_number=f"HD-{n}") for n in range(40)])
    client = client_for(officer)

    assert _queries(client, _url(one, "cost-lines/")) == _queries(client, _url(forty, "cost-lines/"))


def test_limit_reasons_and_refusals_are_in_the_request_language(client_for, case_in, officer):
    case = case_in("in_review")

    detail = client_for(officer, "vi").get(_url(case)).json()
    refusal = client_for(officer, "vi").post(
        _url(case, "recommend/"), {"outcome": "approve", "amount": 20_000_001, "comment": "Đạt"}, format="json"
    )

    assert detail["supportable"]["limits"][0]["reason"] == (
        "tỷ lệ hỗ trợ 50% trên chi phí hợp lệ 40.000.000 VND tương ứng 20.000.000 VND"
    )
    body = assert_field_errors(refusal, "amount")
    assert (body["errors"][0]["code"], body["limit"]) == ("above_supportable", "percent_of_cost")
    assert "tỷ lệ hỗ trợ 50% trên chi phí hợp lệ 40.000.000 VND" in body["detail"]
    assert "is above" not in body["detail"]


# --- Moving a draft to another programme ------------------------------------------------------


def test_moving_a_draft_to_a_programme_whose_period_excludes_its_invoices_is_400(client_for, case_in, applicant):
    from tests.factories import ProgrammeFactory

    last_year = TODAY().year - 1
    ProgrammeFactory(
        code="shtt-cu", year=last_year, opens_on=dt.date(last_year, 2, 1), closes_on=dt.date(last_year, 11, 30)
    )
    case = case_in("draft")  # its invoice is dated today
    before = _snapshot(case)

    response = client_for(applicant).patch(_url(case), {"programme": "shtt-cu"}, format="json")

    body = assert_field_errors(response, "cost_lines[0].invoice_date")
    assert body["errors"][0]["code"] == "out_of_period"
    assert _snapshot(case) == before
    assert Case.objects.get(pk=case.pk).programme.code == "shtt-test"


def test_moving_a_draft_to_a_programme_covering_its_invoices_keeps_them(client_for, case_in, applicant):
    from tests.factories import ProgrammeFactory

    ProgrammeFactory(code="shtt-moi")
    case = case_in("draft")

    response = client_for(applicant).patch(_url(case), {"programme": "shtt-moi"}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["programme"], response.json()["eligible_cost"]) == ("shtt-moi", 40_000_000)
    assert _lines_of(case) == [(1, "HD-0001", 40_000_000)]


def test_eligibility_costs_the_same_queries_for_1_and_40_cost_lines(client_for, case_in, officer):
    one = case_in("submitted")
    forty = case_in("submitted", cost_lines=[cost_line(1_000_000, invoice_number=f"HD-{n}") for n in range(40)])
    client = client_for(officer)

    assert _queries(client, _url(one, "eligibility/")) == _queries(client, _url(forty, "eligibility/"))


# --- Round trip ---------------------------------------------------------------------------


def test_cost_lines_read_can_be_sent_back_as_they_are(client_for, case_in, applicant):
    case = case_in("draft", cost_lines=[cost_line(7_000_000), cost_line(3_000_000, invoice_number="HD-2")])
    client = client_for(applicant)
    read = client.get(_url(case, "cost-lines/")).json()
    read["cost_lines"][1]["amount"] = 4_000_000

    response = client.put(_url(case, "cost-lines/"), read, format="json")

    assert response.status_code == 200, response.content
    assert _lines_of(case) == [(1, "HD-0001", 7_000_000), (2, "HD-2", 4_000_000)]


def test_a_position_that_disagrees_with_the_list_order_is_400_not_renumbered(client_for, case_in, applicant):
    case = case_in("draft", cost_lines=[cost_line(7_000_000), cost_line(3_000_000, invoice_number="HD-2")])
    before = _snapshot(case)
    swapped = [{**_line(3_000_000), "position": 2}, {**_line(7_000_000), "position": 1}]

    response = client_for(applicant).put(_url(case, "cost-lines/"), {"cost_lines": swapped}, format="json")

    body = assert_field_errors(response, "cost_lines[0].position", "cost_lines[1].position")
    assert {e["code"] for e in body["errors"]} == {"position_mismatch"}
    assert _snapshot(case) == before
