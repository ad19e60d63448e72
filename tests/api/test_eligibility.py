"""Eligibility over the API: each condition of the rule with its reason, submission
refused while one fails, and the officers' queue ordered by Decree 80/2021 priority.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from applicants.models import Enterprise
from cases.models import Case, CaseEvent, Programme, SupportRule
from tests.factories import EnterpriseFactory, add_member, cost_line, make_case
from tests.problems import assert_field_errors, assert_problem

pytestmark = pytest.mark.django_db

CODES = [
    "programme_open",
    "legal_form",
    "size_class",
    "province",
    "startup_age",
    "startup_verified",
    "item_count",
    "enterprise_year_cap",
    "cost_lines",
]


LEGAL_FORM_REFUSED = "The rule supports only these legal forms: Cooperative; the applicant's legal form is Enterprise."
PROVINCE_01_REFUSED = (
    "The rule covers only enterprises registered in the provinces with codes 01;"
    " the enterprise is registered in Lâm Đồng."
)


def _rule(programme: Programme, **values: Any) -> None:
    assert SupportRule.objects.filter(programme=programme, support_type="trademark").update(**values) == 1


def _firm(enterprise: Enterprise, **values: Any) -> None:
    assert Enterprise.objects.filter(pk=enterprise.pk).update(**values) == 1


def _eligibility(client: Any, case: Case) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case.pk}/eligibility/")
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def _failed(body: dict[str, Any]) -> list[str]:
    return [check["code"] for check in body["checks"] if not check["passed"]]


def _reason(body: dict[str, Any], code: str) -> str:
    return next(check["reason"] for check in body["checks"] if check["code"] == code)  # type: ignore[no-any-return]


def _snapshot(case: Case) -> tuple[str, int, int, str | None]:
    case.refresh_from_db()
    return case.state, case.version, CaseEvent.objects.filter(case=case).count(), case.reference


def _years_ago(years: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=366 * years)


# --- Reading eligibility -------------------------------------------------------------------


def test_member_reads_the_eligibility_of_a_draft_with_every_check_passed(client_for, case_in, applicant, programme):
    case = case_in("draft")

    body = _eligibility(client_for(applicant), case)

    assert body["eligible"] is True
    assert [check["code"] for check in body["checks"]] == CODES
    assert all(check["passed"] is True for check in body["checks"])
    assert {check["code"]: check["reason"] for check in body["checks"]} == {
        "programme_open": (
            f"The programme accepts applications from {programme.opens_on.isoformat()} "
            f"to {programme.closes_on.isoformat()}."
        ),
        "legal_form": "The rule accepts every legal form.",
        "size_class": "Size class under Decree 80/2021: Micro; the rule accepts every size.",
        "province": "The rule accepts enterprises from every province.",
        "startup_age": "The rule does not require an innovative startup.",
        "startup_verified": "The rule does not require an innovative startup.",
        "item_count": "The rule does not limit the number of items per enterprise.",
        "enterprise_year_cap": "The rule sets no yearly cap per enterprise.",
        "cost_lines": "Invoiced cost lines declared: 1.",
    }


@pytest.mark.parametrize("persona", ["applicant", "officer", "officer2", "manager"])
@pytest.mark.parametrize("state", ["submitted", "in_review", "approved", "rejected"])
def test_members_officers_and_managers_read_eligibility_after_submission(request, client_for, case_in, persona, state):
    case = case_in(state)

    body = _eligibility(client_for(request.getfixturevalue(persona)), case)

    assert (body["eligible"], [check["code"] for check in body["checks"]]) == (True, CODES)


@pytest.mark.parametrize(
    ("state", "persona"),
    [
        ("draft", "other_applicant"),
        ("submitted", "other_applicant"),
        ("draft", "officer"),
        ("draft", "manager"),
        ("submitted", "partner"),  # a partner the enterprise has not authorised
    ],
)
def test_who_cannot_see_the_case_gets_404_on_eligibility(request, client_for, case_in, state, persona):
    case = case_in(state)

    response = client_for(request.getfixturevalue(persona)).get(f"/api/v1/cases/{case.pk}/eligibility/")

    assert assert_problem(response, 404)["code"] == "case_not_found"


def test_eligibility_without_a_token_is_401(client_for, case_in):
    case = case_in("draft")

    response = client_for(None).get(f"/api/v1/cases/{case.pk}/eligibility/")

    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_eligibility_of_an_unknown_case_is_404(client_for, applicant):
    assert_problem(client_for(applicant).get("/api/v1/cases/00000000-0000-0000-0000-000000000000/eligibility/"), 404)


def test_eligibility_is_read_only(client_for, case_in, applicant):
    case = case_in("draft")
    before = _snapshot(case)

    assert_problem(client_for(applicant).post(f"/api/v1/cases/{case.pk}/eligibility/", {}, format="json"), 405)
    _eligibility(client_for(applicant), case)
    assert _snapshot(case) == before


# --- Each check fails for its reason --------------------------------------------------------

# Each arrangement changes the rule, the enterprise or the programme, and returns the
# arguments of the draft to check; exactly the named checks must fail, with that reason.
Arrange = Callable[[Programme, Enterprise, Callable[..., Case]], dict[str, Any]]


def _legal_form(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, legal_forms=["cooperative"])
    return {}


def _size_small(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, size_classes=["micro"])
    _firm(enterprise, size_class="small")
    return {}


def _size_large(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, size_classes=["micro", "small", "medium"])
    _firm(enterprise, size_class="large")
    return {}


def _province(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, province_codes=["01"])
    return {}


def _startup_not_declared(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, startup_required=True)
    _firm(enterprise, is_startup=False, founded_on=_years_ago(1), startup_verified_at=timezone.now())
    return {}


def _startup_too_old(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, startup_required=True)
    _firm(enterprise, is_startup=True, founded_on=_years_ago(6), startup_verified_at=timezone.now())
    return {}


def _startup_without_founding_date(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, startup_required=True)
    _firm(enterprise, is_startup=True, founded_on=None, startup_verified_at=timezone.now())
    return {}


def _startup_unverified(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, startup_required=True)
    _firm(enterprise, is_startup=True, founded_on=_years_ago(1), startup_verified_at=None)
    return {}


def _startup_nothing(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, startup_required=True)
    _firm(enterprise, is_startup=False, startup_verified_at=None)
    return {}


def _item_count(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    case_in("in_review")
    _rule(programme, max_items_per_enterprise=1)
    return {}


def _year_cap(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    case_in("approved")  # 10M
    _rule(programme, enterprise_year_cap=10_000_000)
    return {}


def _no_cost_lines(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    return {"cost_lines": []}


def _programme_closed(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    Programme.objects.filter(pk=programme.pk).update(closes_on=timezone.localdate() - dt.timedelta(days=1))
    return {}


def _programme_not_yet_open(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    Programme.objects.filter(pk=programme.pk).update(opens_on=timezone.localdate() + dt.timedelta(days=1))
    return {}


# placeholders in expected reasons, filled in when the test runs
FOUNDED_1, FOUNDED_6, OPENS, CLOSES = "{founded_1}", "{founded_6}", "{opens}", "{closes}"


def _fill(reason: str, programme: Programme) -> str:
    programme.refresh_from_db()
    return (
        reason.replace(FOUNDED_1, _years_ago(1).isoformat())
        .replace(FOUNDED_6, _years_ago(6).isoformat())
        .replace(OPENS, programme.opens_on.isoformat())
        .replace(CLOSES, programme.closes_on.isoformat())
    )


FAILING: list[tuple[str, Arrange, dict[str, str]]] = [
    (
        "legal-form",
        _legal_form,
        {"legal_form": LEGAL_FORM_REFUSED},
    ),
    (
        "size-small",
        _size_small,
        {"size_class": "Size class under Decree 80/2021: Small; the rule supports only: Micro."},
    ),
    (
        "size-large",
        _size_large,
        {"size_class": "Size class under Decree 80/2021: Large; the rule supports only: Micro, Small, Medium."},
    ),
    (
        "province",
        _province,
        {"province": PROVINCE_01_REFUSED},
    ),
    (
        "startup-not-declared",
        _startup_not_declared,
        {"startup_age": "The rule is for innovative startups; the enterprise has not declared itself one."},
    ),
    (
        "startup-too-old",
        _startup_too_old,
        {"startup_age": f"Founded on {FOUNDED_6}: an innovative startup must be at most 5 years old."},
    ),
    (
        "startup-without-founding-date",
        _startup_without_founding_date,
        {"startup_age": "The founding date is not on file; an innovative startup must be at most 5 years old."},
    ),
    (
        "startup-unverified",
        _startup_unverified,
        {"startup_verified": "An officer has not yet verified the innovative-startup status."},
    ),
    (
        "startup-nothing",
        _startup_nothing,
        {
            "startup_age": "The rule is for innovative startups; the enterprise has not declared itself one.",
            "startup_verified": "An officer has not yet verified the innovative-startup status.",
        },
    ),
    (
        "item-count",
        _item_count,
        {"item_count": "The enterprise already has 1 live applications under this rule, the most it may have (1)."},
    ),
    (
        "year-cap",
        _year_cap,
        {"enterprise_year_cap": "The enterprise has used all of its yearly cap of 10,000,000 VND under this rule."},
    ),
    (
        "no-cost-lines",
        _no_cost_lines,
        {"cost_lines": "Declare at least one invoiced cost: support is a share of eligible costs."},
    ),
    (
        "programme-closed",
        _programme_closed,
        {"programme_open": f"The programme accepts applications only from {OPENS} to {CLOSES}."},
    ),
    (
        "programme-not-open",
        _programme_not_yet_open,
        {"programme_open": f"The programme accepts applications only from {OPENS} to {CLOSES}."},
    ),
]


@pytest.mark.parametrize(("arrange", "expected"), [row[1:] for row in FAILING], ids=[row[0] for row in FAILING])
def test_each_check_fails_for_its_reason(client_for, case_in, applicant, programme, enterprise, arrange, expected):
    kwargs = arrange(programme, enterprise, case_in)
    case = case_in("draft", **kwargs)

    body = _eligibility(client_for(applicant), case)

    assert body["eligible"] is False
    assert [check["code"] for check in body["checks"]] == CODES
    assert _failed(body) == list(expected)
    assert {code: _reason(body, code) for code in expected} == {
        code: _fill(reason, programme) for code, reason in expected.items()
    }


def _legal_form_listed(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, legal_forms=["enterprise", "cooperative"])
    return {}


def _size_listed(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, size_classes=["micro", "small"])
    return {}


def _province_listed(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, province_codes=["01", "68"])
    return {}


def _verified_young_startup(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    _rule(programme, startup_required=True)
    _firm(enterprise, is_startup=True, founded_on=_years_ago(1), startup_verified_at=timezone.now())
    return {}


def _one_item_of_two(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    case_in("submitted")
    _rule(programme, max_items_per_enterprise=2)
    return {}


def _year_cap_partly_used(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    case_in("approved")  # 10M
    _rule(programme, enterprise_year_cap=25_000_000)
    return {}


def _three_cost_lines(programme: Programme, enterprise: Enterprise, case_in: Any) -> dict[str, Any]:
    return {"cost_lines": [cost_line(1_000), cost_line(2_000), cost_line(3_000)]}


PASSING: list[tuple[str, Arrange, dict[str, str]]] = [
    (
        "legal-form",
        _legal_form_listed,
        {"legal_form": "Enterprise is among the legal forms the rule supports: Enterprise, Cooperative."},
    ),
    (
        "size",
        _size_listed,
        {"size_class": "Size class under Decree 80/2021: Micro, which the rule supports (Micro, Small)."},
    ),
    (
        "province",
        _province_listed,
        {"province": "The enterprise is registered in Lâm Đồng, which the rule covers."},
    ),
    (
        "startup",
        _verified_young_startup,
        {
            "startup_age": f"Founded on {FOUNDED_1}: within 5 years, as an innovative startup must be.",
            "startup_verified": "An officer has verified the innovative-startup status.",
        },
    ),
    (
        "item-count",
        _one_item_of_two,
        {"item_count": "Other live applications of the enterprise under this rule: 1; it may have 2."},
    ),
    (
        "year-cap",
        _year_cap_partly_used,
        {"enterprise_year_cap": "15,000,000 VND is left of the enterprise's yearly cap of 25,000,000 VND."},
    ),
    ("cost-lines", _three_cost_lines, {"cost_lines": "Invoiced cost lines declared: 3."}),
]


@pytest.mark.parametrize(("arrange", "expected"), [row[1:] for row in PASSING], ids=[row[0] for row in PASSING])
def test_each_check_passes_with_its_reason(client_for, case_in, applicant, programme, enterprise, arrange, expected):
    kwargs = arrange(programme, enterprise, case_in)
    case = case_in("draft", **kwargs)

    body = _eligibility(client_for(applicant), case)

    assert (body["eligible"], _failed(body)) == (True, [])
    assert {code: _reason(body, code) for code in expected} == {
        code: _fill(reason, programme) for code, reason in expected.items()
    }


@pytest.mark.parametrize(
    "state", ["submitted", "in_review", "awaiting_supplement", "recommended", "approved", "disbursed"]
)
def test_live_cases_use_up_the_enterprise_items(client_for, case_in, applicant, programme, state):
    case_in(state)
    _rule(programme, max_items_per_enterprise=1)
    case = case_in("draft")

    assert _failed(_eligibility(client_for(applicant), case)) == ["item_count"]


@pytest.mark.parametrize("state", ["draft", "rejected", "withdrawn", "cancelled"])
def test_drafts_and_refused_withdrawn_or_cancelled_cases_do_not_count_as_items(
    client_for, case_in, applicant, programme, state
):
    case_in(state)
    _rule(programme, max_items_per_enterprise=1)
    case = case_in("draft")

    body = _eligibility(client_for(applicant), case)

    assert (body["eligible"], _reason(body, "item_count")) == (
        True,
        "Other live applications of the enterprise under this rule: 0; it may have 1.",
    )


def test_a_deleted_draft_does_not_count_as_an_item(client_for, case_in, applicant, programme):
    gone = case_in("draft")
    assert client_for(applicant).delete(f"/api/v1/cases/{gone.pk}/").status_code == 204
    _rule(programme, max_items_per_enterprise=1)
    case = case_in("draft")

    assert _eligibility(client_for(applicant), case)["eligible"] is True


def test_cases_of_other_enterprises_programmes_or_support_types_do_not_count(
    client_for, case_in, applicant, other_applicant, other_enterprise, programme, officer, manager
):
    from tests.factories import ProgrammeFactory

    make_case(
        state="approved", member=other_applicant, enterprise=other_enterprise, programme=programme,
        officer=officer, manager=manager,
    )  # fmt: skip
    case_in("approved", support_type="patent")
    case_in("approved", programme=ProgrammeFactory(code="shtt-khac"))
    _rule(programme, max_items_per_enterprise=1, enterprise_year_cap=10_000_000)
    case = case_in("draft")

    body = _eligibility(client_for(applicant), case)

    assert body["eligible"] is True
    assert (
        _reason(body, "enterprise_year_cap")
        == "10,000,000 VND is left of the enterprise's yearly cap of 10,000,000 VND."
    )


def test_a_submitted_case_is_judged_as_of_its_submission_date(client_for, case_in, applicant, officer, programme):
    case = case_in("submitted")
    today = timezone.localdate()
    Case.objects.filter(pk=case.pk).update(submitted_at=timezone.now() - dt.timedelta(days=20))
    Programme.objects.filter(pk=programme.pk).update(
        opens_on=today - dt.timedelta(days=60), closes_on=today - dt.timedelta(days=10)
    )
    draft = case_in("draft")

    assert _failed(_eligibility(client_for(officer), case)) == []
    assert _reason(_eligibility(client_for(officer), case), "programme_open") == (
        f"The programme accepts applications from {(today - dt.timedelta(days=60)).isoformat()} "
        f"to {(today - dt.timedelta(days=10)).isoformat()}."
    )
    assert _failed(_eligibility(client_for(applicant), draft)) == ["programme_open"]


def test_a_case_does_not_count_against_its_own_items(client_for, case_in, officer, programme):
    case = case_in("in_review")
    _rule(programme, max_items_per_enterprise=1)

    body = _eligibility(client_for(officer), case)

    assert (body["eligible"], _reason(body, "item_count")) == (
        True,
        "Other live applications of the enterprise under this rule: 0; it may have 1.",
    )


# --- Reasons in the request's language -------------------------------------------------------


def test_reasons_are_in_english_when_asked(client_for, case_in, applicant, programme):
    _rule(programme, legal_forms=["cooperative"])
    case = case_in("draft")

    body = _eligibility(client_for(applicant, "en"), case)

    assert _reason(body, "legal_form") == LEGAL_FORM_REFUSED


def test_reasons_are_in_vietnamese_when_asked(client_for, case_in, applicant, programme, enterprise):
    case_in("approved")  # 10M held and one live item, before the rule tightens
    _rule(
        programme,
        legal_forms=["cooperative"],
        size_classes=["micro"],
        province_codes=["01"],
        startup_required=True,
        max_items_per_enterprise=1,
        enterprise_year_cap=10_000_000,
    )
    _firm(enterprise, size_class="small", is_startup=False)
    case = case_in("draft", cost_lines=[])

    english = _eligibility(client_for(applicant, "en"), case)
    vietnamese = _eligibility(client_for(applicant, "vi"), case)

    assert _failed(english) == _failed(vietnamese) == CODES[1:]
    for en, vi in zip(english["checks"], vietnamese["checks"], strict=True):
        assert en["code"] == vi["code"]
        assert vi["reason"] != en["reason"], en["code"]
    assert _reason(vietnamese, "legal_form") == (
        "Mức hỗ trợ chỉ áp dụng cho các loại hình tổ chức: Hợp tác xã;"
        " loại hình tổ chức của doanh nghiệp là Doanh nghiệp."
    )
    assert _reason(vietnamese, "size_class") == (
        "Quy mô doanh nghiệp theo Nghị định 80/2021/NĐ-CP: Nhỏ; mức hỗ trợ chỉ áp dụng cho các quy mô: Siêu nhỏ."
    )


def test_a_refused_submission_speaks_the_request_language(client_for, case_in, applicant, programme):
    _rule(programme, legal_forms=["cooperative"])
    case = case_in("draft")

    body = assert_problem(client_for(applicant, "vi").post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json"), 409)

    assert body["code"] == "ineligible"  # codes are never translated
    assert body["detail"].startswith("Hồ sơ chưa đáp ứng điều kiện của mức hỗ trợ: ")
    assert body["checks"] == _eligibility(client_for(applicant, "vi"), case)["checks"]


# --- Submission ------------------------------------------------------------------------------


def test_submitting_an_ineligible_case_is_409_with_every_check_and_changes_nothing(
    client_for, case_in, applicant, programme
):
    _rule(programme, legal_forms=["cooperative"])
    case = case_in("draft")
    before = _snapshot(case)
    client = client_for(applicant)

    response = client.post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json")

    body = assert_problem(response, 409)
    assert body["code"] == "ineligible"
    assert body["checks"] == _eligibility(client, case)["checks"]
    assert _failed(body) == ["legal_form"]
    assert body["detail"] == f"The application does not meet the rule: {LEGAL_FORM_REFUSED}"
    assert _snapshot(case) == before
    assert before[0] == "draft"
    assert before[3] is None


def test_every_failed_reason_is_in_the_refusal(client_for, case_in, applicant, programme):
    _rule(programme, province_codes=["01"])
    case = case_in("draft", cost_lines=[])

    body = assert_problem(client_for(applicant).post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json"), 409)

    assert _failed(body) == ["province", "cost_lines"]
    assert body["detail"] == (
        f"The application does not meet the rule: {PROVINCE_01_REFUSED} "
        "Declare at least one invoiced cost: support is a share of eligible costs."
    )


def test_once_the_cause_is_fixed_the_case_is_submitted(client_for, case_in, applicant):
    case = case_in("draft", cost_lines=[])
    client = client_for(applicant)
    assert client.post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json").status_code == 409

    put = client.put(f"/api/v1/cases/{case.pk}/cost-lines/", {"cost_lines": [{
        **cost_line(), "invoice_date": timezone.localdate().isoformat()}]}, format="json")  # fmt: skip
    assert put.status_code == 200, put.content
    response = client.post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json")

    assert response.status_code == 200, response.content
    year = timezone.localdate().year
    # the refusal issued no receipt code: the first one goes to this submission
    assert (response.json()["state"], response.json()["reference"]) == ("submitted", f"SHTT-{year}-00001")


def test_submission_takes_the_last_item_and_withdrawal_gives_it_back(client_for, case_in, applicant, programme):
    first, second = case_in("draft"), case_in("draft")
    _rule(programme, max_items_per_enterprise=1)
    client = client_for(applicant)

    assert client.post(f"/api/v1/cases/{first.pk}/submit/", {}, format="json").status_code == 200
    refused = assert_problem(client.post(f"/api/v1/cases/{second.pk}/submit/", {}, format="json"), 409)
    assert (refused["code"], _failed(refused)) == ("ineligible", ["item_count"])

    assert client.post(f"/api/v1/cases/{first.pk}/withdraw/", {}, format="json").status_code == 200
    assert client.post(f"/api/v1/cases/{second.pk}/submit/", {}, format="json").status_code == 200


def test_submitting_to_a_closed_programme_is_409_programme_closed(client_for, case_in, applicant, programme):
    case = case_in("draft", cost_lines=[])  # also ineligible: the closed programme is reported first
    Programme.objects.filter(pk=programme.pk).update(closes_on=timezone.localdate() - dt.timedelta(days=1))
    before = _snapshot(case)

    body = assert_problem(client_for(applicant).post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json"), 409)

    assert body["code"] == "programme_closed"
    assert "checks" not in body
    assert _snapshot(case) == before


def test_only_members_submit_and_others_learn_nothing_from_eligibility(client_for, case_in, other_applicant, programme):
    _rule(programme, legal_forms=["cooperative"])
    case = case_in("draft")
    before = _snapshot(case)

    body = assert_problem(client_for(other_applicant).post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json"), 404)

    assert "checks" not in body
    assert _snapshot(case) == before


def test_a_bad_submit_body_is_400(client_for, case_in, applicant):
    case = case_in("draft")
    before = _snapshot(case)

    response = client_for(applicant).post(f"/api/v1/cases/{case.pk}/submit/", {"priority": 3}, format="json")

    assert assert_field_errors(response, "priority")["errors"][0]["code"] == "unknown_field"
    assert _snapshot(case) == before


# --- Priority --------------------------------------------------------------------------------

FLAGS = ("women_owned", "many_female_employees", "social_enterprise")


def _flags(enterprise: Enterprise, count: int) -> None:
    _firm(enterprise, **{flag: index < count for index, flag in enumerate(FLAGS)})


@pytest.mark.parametrize(
    "flags",
    [(), ("women_owned",), ("many_female_employees",), ("social_enterprise", "women_owned"), FLAGS],
    ids=["none", "women-owned", "many-female-employees", "two", "all-three"],
)
def test_submission_records_the_number_of_priority_flags(client_for, case_in, applicant, enterprise, flags):
    _firm(enterprise, **{flag: flag in flags for flag in FLAGS})
    case = case_in("draft")

    body = client_for(applicant).post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json").json()

    assert body["priority"] == len(flags)
    event = CaseEvent.objects.get(case=case, action="submit")
    assert event.data == {"reference": body["reference"], "priority": len(flags)}


def test_priority_is_fixed_at_submission(client_for, case_in, applicant, officer, enterprise):
    _flags(enterprise, 2)
    case = case_in("submitted")
    _flags(enterprise, 0)

    assert client_for(officer).get(f"/api/v1/cases/{case.pk}/").json()["priority"] == 2


def test_a_draft_has_no_priority_yet(client_for, case_in, applicant, enterprise):
    _flags(enterprise, 3)
    case = case_in("draft")

    assert client_for(applicant).get(f"/api/v1/cases/{case.pk}/").json()["priority"] == 0


@pytest.fixture
def queue(case_in, enterprise, other_applicant, other_enterprise, programme, officer, manager) -> dict[str, Case]:
    """Cases submitted in this order with these flags; the applicant's drafts around them."""
    made: dict[str, Case] = {"draft-first": case_in("draft")}
    for name, count, state in (
        ("A0", 0, "submitted"),
        ("B2", 2, "in_review"),
        ("C3", 3, "submitted"),
        ("D0", 0, "approved"),
        ("E1", 1, "submitted"),
        ("F2", 2, "submitted"),
    ):
        _flags(enterprise, count)
        made[name] = case_in(state)
    _firm(other_enterprise, women_owned=True)
    made["G1-other"] = make_case(
        state="submitted", member=other_applicant, enterprise=other_enterprise, programme=programme
    )
    made["draft-last"] = case_in("draft")
    return made


def _pages(client: Any, url: str) -> list[str]:
    ids: list[str] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        assert len(response.json()["results"]) <= 2
        ids += [row["id"] for row in response.json()["results"]]
        url = response.json()["next"]
    return ids


def test_officers_queue_lists_more_flags_first_then_first_come(client_for, officer, queue):
    body = client_for(officer).get("/api/v1/cases/?ordering=queue").json()

    names = {str(case.pk): name for name, case in queue.items()}
    assert [names[row["id"]] for row in body["results"]] == ["C3", "B2", "F2", "E1", "G1-other", "A0", "D0"]
    assert [row["priority"] for row in body["results"]] == [3, 2, 2, 1, 1, 0, 0]


def test_members_see_their_drafts_after_every_submitted_case(client_for, applicant, queue):
    body = client_for(applicant).get("/api/v1/cases/?ordering=queue").json()

    names = {str(case.pk): name for name, case in queue.items()}
    assert [names[row["id"]] for row in body["results"]] == [
        "C3",
        "B2",
        "F2",
        "E1",
        "A0",
        "D0",
        "draft-first",
        "draft-last",
    ]


def test_descending_priority_reverses_the_queue(client_for, applicant, queue):
    body = client_for(applicant).get("/api/v1/cases/?ordering=-queue").json()

    names = {str(case.pk): name for name, case in queue.items()}
    assert [names[row["id"]] for row in body["results"]] == [
        "draft-last",
        "draft-first",
        "D0",
        "A0",
        "E1",
        "F2",
        "B2",
        "C3",
    ]


@pytest.mark.parametrize("ordering", ["queue", "-queue"])
@pytest.mark.parametrize("persona", ["applicant", "officer"])
def test_pages_of_the_queue_list_every_case_once_in_order(request, client_for, queue, persona, ordering):
    client = client_for(request.getfixturevalue(persona))
    whole = [row["id"] for row in client.get(f"/api/v1/cases/?ordering={ordering}").json()["results"]]

    paged = _pages(client, f"/api/v1/cases/?ordering={ordering}&page_size=2")

    assert paged == whole
    assert len(set(paged)) == len(paged) == (8 if persona == "applicant" else 7)


@pytest.mark.parametrize(
    "ordering", ["urgency", "queue_key", "-queue_key", "priority", "queue,bogus", "reference"], ids=lambda o: o
)
def test_unknown_ordering_is_400(client_for, officer, ordering):
    response = client_for(officer).get(f"/api/v1/cases/?ordering={ordering}")

    body = assert_field_errors(response, "ordering")
    assert body["errors"][0]["code"] == "invalid_ordering"


def test_queue_ordering_needs_a_token(client_for):
    assert_problem(client_for(None).get("/api/v1/cases/?ordering=queue"), 401)


def test_priority_ordering_is_scoped_to_the_reader(client_for, queue, other_applicant):
    body = client_for(other_applicant).get("/api/v1/cases/?ordering=queue").json()

    assert [row["id"] for row in body["results"]] == [str(queue["G1-other"].pk)]


def test_a_second_member_of_the_enterprise_may_read_eligibility(client_for, case_in, enterprise):
    from tests.factories import UserFactory

    colleague = UserFactory(username="colleague")
    add_member(colleague, enterprise, role="member")
    case = case_in("draft")

    assert _eligibility(client_for(colleague), case)["eligible"] is True


def test_an_enterprise_of_another_province_fails_only_the_province_check(client_for, applicant, programme):
    hanoi = EnterpriseFactory(province_code="01", province_name="Hà Nội", ward_code="00004", ward_name="Ba Đình")
    add_member(applicant, hanoi)
    _rule(programme, province_codes=["68"])
    case = make_case(member=applicant, enterprise=hanoi, programme=programme)

    body = _eligibility(client_for(applicant), case)

    assert _failed(body) == ["province"]
    assert (
        _reason(body, "province") == "The rule covers only enterprises registered in the provinces with codes 68;"
        " the enterprise is registered in Hà Nội."
    )
