"""Programmes over HTTP: everyone signed in reads them, managers write them, and a bad
write leaves the programme and its rules as they were."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import CaseState, Programme, SupportRule, SupportType
from tests.factories import ProgrammeFactory
from tests.problems import assert_field_errors, assert_problem

LIST_URL = "/api/v1/programmes/"
PROBLEM = "application/problem+json"
MILLION = 1_000_000


def detail_url(code: str) -> str:
    return f"/api/v1/programmes/{code}/"


def rule(support_type: str = SupportType.TRADEMARK, percent: Any = 50, cap_amount: int = 15 * MILLION) -> dict:
    return {"support_type": support_type, "percent": percent, "cap_amount": cap_amount}


def payload(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "shtt-2027",
        "name": "Chương trình hỗ trợ phát triển tài sản trí tuệ 2027",
        "year": 2027,
        "opens_on": "2027-01-01",
        "closes_on": "2027-12-31",
        "budget_total": 2_000 * MILLION,
        "legal_basis": "Nghị quyết HĐND tỉnh",
        "rules": [rule(SupportType.TRADEMARK, 50, 15 * MILLION), rule(SupportType.PATENT, "70.5", 30 * MILLION)],
    }
    data.update(overrides)
    return data


def counts() -> tuple[int, int]:
    return Programme.objects.count(), SupportRule.objects.count()


def state_of(programme: Programme) -> tuple[dict[str, Any], list[tuple[str, Any, int]]]:
    """The programme row and its rules, as stored."""
    row = Programme.objects.filter(pk=programme.pk).values().get()
    rules = list(
        SupportRule.objects.filter(programme=programme)
        .order_by("support_type")
        .values_list("support_type", "percent", "cap_amount")
    )
    return row, rules


def rule_types(programme: Programme) -> set[str]:
    return set(SupportRule.objects.filter(programme=programme).values_list("support_type", flat=True))


# --- GET -------------------------------------------------------------------------------------


def test_listing_programmes_without_a_token_is_401(client_for, programme):
    response = client_for(None).get(LIST_URL)

    assert_problem(response, 401)
    assert response.has_header("WWW-Authenticate")


@pytest.mark.parametrize("persona", ["applicant", "other_applicant", "officer", "manager", "partner"])
def test_every_signed_in_user_lists_programmes(request, client_for, programme, persona):
    response = client_for(request.getfixturevalue(persona)).get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"results", "next", "previous"}
    assert [row["code"] for row in body["results"]] == ["shtt-test"]


def test_programme_representation_has_the_contract_fields_and_its_rules(client_for, applicant):
    ProgrammeFactory(code="shtt-rules", rules=[rule(SupportType.COPYRIGHT, "33.33", 5 * MILLION)])

    body = client_for(applicant).get(detail_url("shtt-rules")).json()

    assert set(body) >= {"code", "name", "year", "opens_on", "closes_on", "budget_total", "rules"}
    assert body["code"] == "shtt-rules"
    assert body["budget_total"] == 1_000 * MILLION
    [only] = body["rules"]
    assert only.pop("updated_at")
    assert only == {
        "support_type": "copyright",
        "percent": 33.33,
        "cap_amount": 5 * MILLION,
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
    }


@pytest.mark.parametrize("persona", ["applicant", "officer", "manager"])
def test_every_signed_in_user_reads_a_programme(request, client_for, programme, persona):
    response = client_for(request.getfixturevalue(persona)).get(detail_url("shtt-test"))

    assert response.status_code == 200
    assert response.json()["code"] == "shtt-test"
    assert {r["support_type"] for r in response.json()["rules"]} == set(SupportType.values)


def test_reading_a_programme_without_a_token_is_401(client_for, programme):
    assert_problem(client_for(None).get(detail_url("shtt-test")), 401)


def test_reading_an_unknown_programme_is_404(client_for, applicant, programme):
    assert_problem(client_for(applicant).get(detail_url("no-such-programme")), 404)


def test_programme_list_costs_the_same_queries_for_1_and_5_programmes(
    client_for, officer, programme, django_assert_max_num_queries
):
    client = client_for(officer)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(LIST_URL).json()["results"]) == 1

    ProgrammeFactory.create_batch(4)
    client = client_for(officer)
    with CaptureQueriesContext(connection) as five:
        results = client.get(LIST_URL).json()["results"]
    assert len(results) == 5
    assert all(len(row["rules"]) == len(SupportType.values) for row in results)

    assert len(five) == len(one)
    client = client_for(officer)
    with django_assert_max_num_queries(len(one)):
        client.get(LIST_URL)


# --- POST ------------------------------------------------------------------------------------


def test_creating_a_programme_without_a_token_is_401(client_for, db):
    assert_problem(client_for(None).post(LIST_URL, payload()), 401)
    assert counts() == (0, 0)


@pytest.mark.parametrize("persona", ["officer", "applicant", "partner"])
def test_only_managers_create_programmes(request, client_for, persona):
    user = request.getfixturevalue(persona)
    before = counts()

    response = client_for(user).post(LIST_URL, payload())

    assert_problem(response, 403)
    assert counts() == before
    assert not Programme.objects.filter(code="shtt-2027").exists()


def test_manager_creates_a_programme_with_its_rules(client_for, manager):
    response = client_for(manager).post(LIST_URL, payload())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "shtt-2027"
    assert body["year"] == 2027
    assert body["opens_on"] == "2027-01-01"
    assert body["closes_on"] == "2027-12-31"
    assert body["budget_total"] == 2_000 * MILLION
    assert sorted((r["support_type"], r["percent"], r["cap_amount"]) for r in body["rules"]) == [
        ("patent", 70.5, 30 * MILLION),
        ("trademark", 50, 15 * MILLION),
    ]
    created = Programme.objects.get(code="shtt-2027")
    assert rule_types(created) == {"trademark", "patent"}


def test_created_programme_is_readable_by_applicants(client_for, manager, applicant):
    assert client_for(manager).post(LIST_URL, payload()).status_code == 201

    response = client_for(applicant).get(detail_url("shtt-2027"))

    assert response.status_code == 200
    assert len(response.json()["rules"]) == 2


def test_a_rule_may_pay_exactly_100_percent(client_for, manager):
    response = client_for(manager).post(LIST_URL, payload(rules=[rule(SupportType.IP_CONSULTING, 100, 30 * MILLION)]))

    assert response.status_code == 201, response.content
    assert response.json()["rules"][0]["percent"] == 100


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"rules": [rule(percent=0)]}, {"rules[0].percent"}),
        ({"rules": [rule(percent="100.01")]}, {"rules[0].percent"}),
        ({"rules": [rule(percent=150)]}, {"rules[0].percent"}),
        ({"rules": [rule(percent=-10)]}, {"rules[0].percent"}),
        ({"rules": [rule(cap_amount=-1)]}, {"rules[0].cap_amount"}),
        ({"rules": [rule(cap_amount=0)]}, {"rules[0].cap_amount"}),
        ({"rules": [rule(support_type="tattoo")]}, {"rules[0].support_type"}),
        ({"rules": [rule(SupportType.PATENT), rule(SupportType.PATENT, 30)]}, {"rules[1].support_type"}),
        ({"opens_on": "2027-06-01", "closes_on": "2027-05-31"}, {"closes_on"}),
        ({"budget_total": -1}, {"budget_total"}),
        ({"year": 1999}, {"year"}),
        ({"code": "not a slug!"}, {"code"}),
        ({"reference_prefix": "shtt"}, {"reference_prefix"}),
        ({"opens_on": "31/01/2027"}, {"opens_on"}),
    ],
    ids=[
        "percent-zero",
        "percent-just-over-100",
        "percent-150",
        "percent-negative",
        "cap-negative",
        "cap-zero",
        "unknown-support-type",
        "duplicate-support-type",
        "closes-before-opens",
        "negative-budget",
        "year-out-of-range",
        "code-not-a-slug",
        "lowercase-reference-prefix",
        "date-not-iso",
    ],
)
def test_bad_programme_is_a_400_naming_the_field_and_writes_nothing(client_for, manager, overrides, fields):
    before = counts()

    response = client_for(manager).post(LIST_URL, payload(**overrides))

    assert_field_errors(response, *fields)
    assert counts() == before


def test_missing_required_fields_are_each_named(client_for, manager):
    response = client_for(manager).post(LIST_URL, {"name": "Chương trình"})

    assert_field_errors(response, "code", "year", "opens_on", "closes_on", "budget_total", "rules")
    assert counts() == (0, 0)


def test_duplicate_programme_code_is_a_400_on_code(client_for, manager, programme):
    before = counts()
    original = state_of(programme)

    response = client_for(manager).post(LIST_URL, payload(code="shtt-test"))

    body = assert_field_errors(response, "code")
    assert body["errors"][0]["code"] == "duplicate"
    assert counts() == before
    assert state_of(programme) == original


# --- PATCH -----------------------------------------------------------------------------------


def test_changing_a_programme_without_a_token_is_401(client_for, programme):
    original = state_of(programme)

    assert_problem(client_for(None).patch(detail_url("shtt-test"), {"name": "Hijacked"}), 401)
    assert state_of(programme) == original


@pytest.mark.parametrize("persona", ["officer", "applicant"])
def test_only_managers_change_programmes(request, client_for, programme, persona):
    user = request.getfixturevalue(persona)
    original = state_of(programme)

    response = client_for(user).patch(detail_url("shtt-test"), {"budget_total": 5, "rules": [rule()]})

    assert_problem(response, 403)
    assert state_of(programme) == original


def test_changing_an_unknown_programme_is_404(client_for, manager, programme):
    assert_problem(client_for(manager).patch(detail_url("no-such-programme"), {"name": "x"}), 404)


def test_manager_changes_a_programme(client_for, manager, programme):
    response = client_for(manager).patch(
        detail_url("shtt-test"), {"name": "Chương trình đã đổi tên", "budget_total": 3_000 * MILLION}
    )

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Chương trình đã đổi tên"
    programme.refresh_from_db()
    assert programme.name == "Chương trình đã đổi tên"
    assert programme.budget_total == 3_000 * MILLION


def test_changing_other_fields_keeps_the_rules(client_for, manager, programme):
    _row, rules_before = state_of(programme)

    response = client_for(manager).patch(detail_url("shtt-test"), {"legal_basis": "Quyết định 1/QĐ-UBND"})

    assert response.status_code == 200
    assert state_of(programme)[1] == rules_before
    assert len(response.json()["rules"]) == len(SupportType.values)


def test_programme_code_cannot_be_changed(client_for, manager, programme):
    response = client_for(manager).patch(detail_url("shtt-test"), {"code": "renamed"})

    assert response.status_code == 400
    assert response.json()["errors"][0] == {"field": "code", "code": "unknown_field", "message": "Unknown field."}
    programme.refresh_from_db()
    assert programme.code == "shtt-test"
    assert not Programme.objects.filter(code="renamed").exists()


def test_patching_rules_replaces_the_whole_rule_set(client_for, manager, programme):
    assert len(rule_types(programme)) == len(SupportType.values)

    response = client_for(manager).patch(
        detail_url("shtt-test"),
        {"rules": [rule(SupportType.TRADEMARK, 80, 10 * MILLION), rule(SupportType.COPYRIGHT, 100, 2 * MILLION)]},
    )

    assert response.status_code == 200, response.content
    assert sorted((r["support_type"], r["percent"], r["cap_amount"]) for r in response.json()["rules"]) == [
        ("copyright", 100, 2 * MILLION),
        ("trademark", 80, 10 * MILLION),
    ]
    assert state_of(programme)[1] == [("copyright", 100, 2 * MILLION), ("trademark", 80, 10 * MILLION)]


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"closes_on": "2000-01-01"}, {"closes_on"}),
        ({"budget_total": -1}, {"budget_total"}),
        ({"rules": [rule(percent=0)]}, {"rules[0].percent"}),
        ({"rules": [rule(percent=101)]}, {"rules[0].percent"}),
        ({"rules": [rule(cap_amount=-5)]}, {"rules[0].cap_amount"}),
        ({"rules": [rule(SupportType.PATENT), rule(SupportType.PATENT, 30)]}, {"rules[1].support_type"}),
    ],
    ids=[
        "closes-before-opens",
        "negative-budget",
        "percent-zero",
        "percent-over-100",
        "cap-negative",
        "duplicate-support-type",
    ],
)
def test_bad_change_is_a_400_naming_the_field_and_changes_nothing(client_for, manager, programme, change, fields):
    original = state_of(programme)

    response = client_for(manager).patch(detail_url("shtt-test"), change)

    assert_field_errors(response, *fields)
    assert state_of(programme) == original


def test_cannot_remove_a_rule_whose_support_type_has_cases(client_for, manager, programme, case_in):
    case_in(CaseState.DRAFT)  # a trademark draft
    original = state_of(programme)

    response = client_for(manager).patch(detail_url("shtt-test"), {"rules": [rule(SupportType.PATENT)]})

    body = assert_field_errors(response, "rules")
    assert body["errors"][0]["code"] == "rule_in_use"
    assert "trademark" in body["errors"][0]["message"]
    assert state_of(programme) == original


def test_rules_without_cases_may_be_removed_while_used_ones_stay(client_for, manager, programme, case_in):
    case_in(CaseState.SUBMITTED)  # a trademark case

    response = client_for(manager).patch(detail_url("shtt-test"), {"rules": [rule(SupportType.TRADEMARK, 60)]})

    assert response.status_code == 200, response.content
    assert rule_types(programme) == {"trademark"}


@pytest.mark.parametrize("state", [CaseState.APPROVED, CaseState.DISBURSED])
def test_budget_cannot_go_below_what_is_committed(client_for, manager, programme, case_in, state):
    case = case_in(state)
    committed = case.approved_amount if state == CaseState.APPROVED else case.disbursed_amount
    assert committed == 10 * MILLION
    original = state_of(programme)

    response = client_for(manager).patch(detail_url("shtt-test"), {"budget_total": committed - 1})

    body = assert_field_errors(response, "budget_total")
    assert body["errors"][0]["code"] == "below_committed"
    assert state_of(programme) == original


def test_budget_may_go_down_to_exactly_what_is_committed(client_for, manager, programme, case_in):
    case_in(CaseState.APPROVED)

    response = client_for(manager).patch(detail_url("shtt-test"), {"budget_total": 10 * MILLION})

    assert response.status_code == 200, response.content
    programme.refresh_from_db()
    assert programme.budget_total == 10 * MILLION


def test_budget_ignores_cases_that_hold_no_money(client_for, manager, programme, case_in):
    case_in(CaseState.RECOMMENDED)
    case_in(CaseState.CANCELLED)

    response = client_for(manager).patch(detail_url("shtt-test"), {"budget_total": 0})

    assert response.status_code == 200, response.content
    programme.refresh_from_db()
    assert programme.budget_total == 0
