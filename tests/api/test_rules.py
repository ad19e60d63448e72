"""Support rules as data: every limit and condition round-trips through the programme
endpoints and the one-rule endpoint, a bad value writes nothing, and a decision keeps the
rule it was made under while open cases are measured against the current one.

Rules belong to public programmes, so there is no "other enterprise" 404 for them; the
case a rule decides is scoped as usual and tested in test_cases.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from cases.models import CaseEvent, CaseState, PaymentTrigger, Programme, SupportRule, SupportType
from cases.services import RULE_FIELDS
from tests.factories import ProgrammeFactory
from tests.problems import assert_field_errors, assert_problem

MILLION = 1_000_000
PROGRAMMES_URL = "/api/v1/programmes/"

# The default test programme: every support type at 50% of cost, capped at 30M VND per item.
DEFAULT_RULE = {
    "support_type": "trademark",
    "percent": "50.00",
    "cap_amount": 30 * MILLION,
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

# A rule that sets every field away from its default.
FULL_RULE: dict[str, Any] = {
    "support_type": "patent",
    "percent": "70.50",
    "cap_amount": 150 * MILLION,
    "enterprise_year_cap": 300 * MILLION,
    "max_items_per_enterprise": 3,
    "legal_forms": ["enterprise", "cooperative"],
    "size_classes": ["micro", "small"],
    "province_codes": ["68", "01"],
    "startup_required": True,
    "payment_trigger": "certificate_granted",
    "legal_basis": "Nghị quyết 12/2025/NQ-HĐND, Điều 5",
    "documents_at_submission": ["application_form", "business_registration"],
    "documents_before_payment": ["protection_certificate", "invoice"],
    "processing_days": 45,
}


def rule_url(support_type: str = SupportType.TRADEMARK, code: str = "shtt-test") -> str:
    return f"/api/v1/programmes/{code}/rules/{support_type}/"


def programme_url(code: str = "shtt-test") -> str:
    return f"{PROGRAMMES_URL}{code}/"


def stored(programme: Programme, support_type: str = SupportType.TRADEMARK) -> dict[str, Any]:
    """The rule as the database holds it, id and last change included."""
    return (
        SupportRule.objects.filter(programme=programme, support_type=support_type)
        .values("id", "updated_at", *RULE_FIELDS)
        .get()
    )


def all_rules(programme: Programme) -> list[dict[str, Any]]:
    return list(SupportRule.objects.filter(programme=programme).order_by("support_type").values())


def as_output(rule: dict[str, Any]) -> dict[str, Any]:
    """What the API renders for a rule sent as `rule` (percent as a JSON number)."""
    return {**rule, "percent": float(rule["percent"])}


def programme_payload(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "code": "shtt-2027",
        "name": "Chương trình hỗ trợ phát triển tài sản trí tuệ 2027",
        "year": 2027,
        "opens_on": "2027-01-01",
        "closes_on": "2027-12-31",
        "budget_total": 2_000 * MILLION,
        "rules": rules,
    }


def without_updated_at(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for rule in rules:
        assert rule.pop("updated_at")
    return sorted(rules, key=lambda rule: rule["support_type"])


# --- Programmes carry full rules --------------------------------------------------------------


def test_manager_creates_a_programme_whose_rules_round_trip_every_field(client_for, manager, applicant):
    trademark = {"support_type": "trademark", "percent": 50, "cap_amount": 15 * MILLION}

    response = client_for(manager).post(PROGRAMMES_URL, programme_payload([FULL_RULE, trademark]), format="json")

    assert response.status_code == 201, response.content
    defaults = {key: value for key, value in DEFAULT_RULE.items() if key not in trademark}
    expected = [as_output(FULL_RULE), as_output({**defaults, **trademark})]
    assert without_updated_at(response.json()["rules"]) == expected
    # stored as sent, and read back the same by anyone signed in
    created = Programme.objects.get(code="shtt-2027")
    row = stored(created, SupportType.PATENT)
    assert {name: row[name] for name in RULE_FIELDS} == {
        **{name: FULL_RULE[name] for name in RULE_FIELDS},
        "percent": Decimal("70.5"),
    }
    read = client_for(applicant).get(rule_url(SupportType.PATENT, "shtt-2027"))
    assert read.status_code == 200
    assert without_updated_at([read.json()]) == [as_output(FULL_RULE)]


def test_patching_rules_updates_a_support_types_rule_in_place(client_for, manager, programme):
    trademark_id = stored(programme)["id"]
    patent_id = stored(programme, SupportType.PATENT)["id"]
    new_trademark = {**FULL_RULE, "support_type": "trademark", "percent": "65.25"}

    response = client_for(manager).patch(
        programme_url(), {"rules": [new_trademark, {**FULL_RULE, "cap_amount": 99 * MILLION}]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert without_updated_at(response.json()["rules"]) == [
        as_output({**FULL_RULE, "cap_amount": 99 * MILLION}),
        as_output(new_trademark),
    ]
    assert set(SupportRule.objects.filter(programme=programme).values_list("id", flat=True)) == {
        trademark_id,
        patent_id,
    }
    assert stored(programme)["payment_trigger"] == PaymentTrigger.CERTIFICATE_GRANTED
    assert stored(programme, SupportType.PATENT)["cap_amount"] == 99 * MILLION


def test_a_replaced_rule_keeps_the_fields_it_omits(client_for, manager, programme):
    client = client_for(manager)
    assert client.patch(rule_url(), {"province_codes": ["68"], "max_items_per_enterprise": 2}).status_code == 200

    response = client.patch(
        programme_url(),
        {"rules": [{"support_type": "trademark", "percent": 40, "cap_amount": 20 * MILLION}]},
        format="json",
    )

    assert response.status_code == 200, response.content
    row = stored(programme)
    assert (row["percent"], row["cap_amount"]) == (40, 20 * MILLION)
    # a client that knows only percent and cap does not wipe what another set
    assert (row["province_codes"], row["max_items_per_enterprise"]) == (["68"], 2)
    assert [r["support_type"] for r in response.json()["rules"]] == ["trademark"]


def test_patching_rules_adds_a_support_type_the_programme_did_not_have(client_for, manager):
    programme = ProgrammeFactory(code="shtt-one", rules=[{"support_type": "trademark", "percent": 50, "cap_amount": 1}])
    trademark_id = stored(programme)["id"]

    response = client_for(manager).patch(
        programme_url("shtt-one"),
        {"rules": [{"support_type": "trademark", "percent": 50, "cap_amount": 1}, FULL_RULE]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert stored(programme)["id"] == trademark_id
    assert stored(programme, SupportType.PATENT)["legal_forms"] == ["enterprise", "cooperative"]


def test_a_rule_whose_support_type_has_cases_cannot_be_removed_and_nothing_changes(
    client_for, manager, programme, case_in
):
    case_in(CaseState.IN_REVIEW)  # a trademark case
    before = all_rules(programme)

    response = client_for(manager).patch(programme_url(), {"rules": [FULL_RULE]}, format="json")

    body = assert_field_errors(response, "rules")
    assert body["errors"][0]["code"] == "rule_in_use"
    assert "trademark" in body["errors"][0]["message"]
    assert all_rules(programme) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"percent": 0}, "rules[1].percent"),
        ({"cap_amount": 0}, "rules[1].cap_amount"),
        ({"enterprise_year_cap": -1}, "rules[1].enterprise_year_cap"),
        ({"max_items_per_enterprise": 0}, "rules[1].max_items_per_enterprise"),
        ({"legal_forms": ["partnership"]}, "rules[1].legal_forms[0]"),
        ({"legal_forms": ["enterprise", "enterprise"]}, "rules[1].legal_forms"),
        ({"size_classes": ["huge"]}, "rules[1].size_classes[0]"),
        ({"province_codes": ["99"]}, "rules[1].province_codes"),
        ({"payment_trigger": "on_signature"}, "rules[1].payment_trigger"),
        ({"percentage": 50}, "rules[1].percentage"),
    ],
    ids=[
        "percent-zero",
        "cap-zero",
        "year-cap-negative",
        "max-items-zero",
        "unknown-legal-form",
        "duplicate-legal-form",
        "unknown-size-class",
        "not-a-province",
        "unknown-payment-trigger",
        "unknown-field",
    ],
)
def test_a_bad_rule_in_a_programme_is_a_400_naming_it_and_writes_nothing(client_for, manager, programme, change, field):
    before_programmes, before_rules = Programme.objects.count(), all_rules(programme)
    rules = [DEFAULT_RULE, {**FULL_RULE, **change}]
    client = client_for(manager)

    created = client.post(PROGRAMMES_URL, programme_payload(rules), format="json")
    patched = client.patch(programme_url(), {"rules": rules}, format="json")

    assert_field_errors(created, field)
    assert_field_errors(patched, field)
    assert Programme.objects.count() == before_programmes
    assert all_rules(programme) == before_rules


@pytest.mark.parametrize("missing", ["support_type", "percent", "cap_amount"])
def test_a_replacement_rule_missing_a_required_field_is_a_400(client_for, manager, programme, missing):
    before = all_rules(programme)
    rule = {key: value for key, value in FULL_RULE.items() if key != missing}

    response = client_for(manager).patch(programme_url(), {"rules": [rule]}, format="json")

    assert_field_errors(response, f"rules[0].{missing}")
    assert all_rules(programme) == before


# --- GET one rule -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["applicant", "other_applicant", "officer", "manager", "partner"])
def test_every_signed_in_user_reads_a_rule(request, client_for, programme, persona):
    response = client_for(request.getfixturevalue(persona)).get(rule_url(SupportType.COPYRIGHT))

    assert response.status_code == 200, response.content
    assert without_updated_at([response.json()]) == [as_output({**DEFAULT_RULE, "support_type": "copyright"})]


def test_reading_a_rule_without_a_token_is_401(client_for, programme):
    response = client_for(None).get(rule_url())

    assert_problem(response, 401)
    assert response.has_header("WWW-Authenticate")


@pytest.mark.parametrize(
    "url",
    [
        rule_url(code="no-such-programme"),
        rule_url(SupportType.PATENT, code="shtt-one"),
        rule_url("tattoo", code="shtt-one"),
    ],
    ids=["unknown-programme", "type-without-rule", "unknown-support-type"],
)
def test_reading_a_rule_that_does_not_exist_is_404(client_for, applicant, url):
    ProgrammeFactory(code="shtt-one", rules=[{"support_type": "trademark", "percent": 50, "cap_amount": 1}])

    assert_problem(client_for(applicant).get(url), 404)


# --- PATCH one rule ---------------------------------------------------------------------------


def test_manager_changes_some_of_a_rules_fields(client_for, manager, programme):
    before = stored(programme)

    response = client_for(manager).patch(
        rule_url(),
        {"percent": "80.5", "province_codes": ["68", "01"], "payment_trigger": "certificate_granted"},
        format="json",
    )

    assert response.status_code == 200, response.content
    expected = {
        **DEFAULT_RULE,
        "percent": 80.5,
        "province_codes": ["68", "01"],
        "payment_trigger": "certificate_granted",
    }
    assert without_updated_at([response.json()]) == [expected]
    after = stored(programme)
    assert after["id"] == before["id"]
    assert after["updated_at"] > before["updated_at"]
    assert {name: after[name] for name in RULE_FIELDS} == {
        **{name: before[name] for name in RULE_FIELDS},
        "percent": Decimal("80.5"),
        "province_codes": ["68", "01"],
        "payment_trigger": "certificate_granted",
    }


def test_manager_sets_every_field_of_a_rule_and_clears_the_optional_caps_again(client_for, manager, programme):
    client = client_for(manager)
    full = {key: value for key, value in FULL_RULE.items() if key != "support_type"}

    assert client.patch(rule_url(), full, format="json").status_code == 200
    assert without_updated_at([client.get(rule_url()).json()]) == [
        as_output({**FULL_RULE, "support_type": "trademark"})
    ]

    response = client.patch(rule_url(), {"enterprise_year_cap": None, "max_items_per_enterprise": None}, format="json")

    assert response.status_code == 200, response.content
    row = stored(programme)
    assert (row["enterprise_year_cap"], row["max_items_per_enterprise"]) == (None, None)
    assert row["cap_amount"] == 150 * MILLION


def test_changing_a_rule_leaves_the_same_type_in_other_programmes_alone(client_for, manager, programme):
    other = ProgrammeFactory(code="shtt-other")
    before = stored(other)

    assert client_for(manager).patch(rule_url(), {"cap_amount": 7 * MILLION}).status_code == 200

    assert stored(programme)["cap_amount"] == 7 * MILLION
    assert stored(other) == before


def test_an_empty_patch_changes_nothing(client_for, manager, programme):
    before = stored(programme)

    response = client_for(manager).patch(rule_url(), {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["cap_amount"] == 30 * MILLION
    assert stored(programme) == before


def test_changing_a_rule_without_a_token_is_401(client_for, programme):
    before = stored(programme)

    assert_problem(client_for(None).patch(rule_url(), {"percent": 90}), 401)
    assert stored(programme) == before


@pytest.mark.parametrize("persona", ["applicant", "officer", "partner"])
def test_only_managers_change_a_rule(request, client_for, programme, persona):
    before = stored(programme)

    response = client_for(request.getfixturevalue(persona)).patch(
        rule_url(), {"percent": 90, "cap_amount": 90 * MILLION}, format="json"
    )

    assert_problem(response, 403)
    assert stored(programme) == before


@pytest.mark.parametrize(
    "url",
    [
        rule_url(code="no-such-programme"),
        rule_url(SupportType.PATENT, code="shtt-one"),
        rule_url("tattoo", code="shtt-one"),
    ],
    ids=["unknown-programme", "type-without-rule", "unknown-support-type"],
)
def test_changing_a_rule_that_does_not_exist_is_404_and_creates_none(client_for, manager, url):
    ProgrammeFactory(code="shtt-one", rules=[{"support_type": "trademark", "percent": 50, "cap_amount": 1}])

    assert_problem(client_for(manager).patch(url, {"percent": 60}), 404)
    assert SupportRule.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"percent": 0}, "percent", "min_value"),
        ({"percent": -1}, "percent", "min_value"),
        ({"percent": "100.01"}, "percent", "max_value"),
        ({"percent": 101}, "percent", "max_value"),
        ({"percent": "50.555"}, "percent", "max_decimal_places"),
        ({"percent": None}, "percent", "null"),
        ({"cap_amount": 0}, "cap_amount", "min_value"),
        ({"cap_amount": -30 * MILLION}, "cap_amount", "min_value"),
        ({"cap_amount": None}, "cap_amount", "null"),
        ({"enterprise_year_cap": 0}, "enterprise_year_cap", "min_value"),
        ({"enterprise_year_cap": -1}, "enterprise_year_cap", "min_value"),
        ({"max_items_per_enterprise": 0}, "max_items_per_enterprise", "min_value"),
        ({"legal_forms": ["partnership"]}, "legal_forms[0]", "invalid_choice"),
        ({"legal_forms": ["enterprise", "cooperative", "enterprise"]}, "legal_forms", "invalid_choice"),
        ({"size_classes": ["huge"]}, "size_classes[0]", "invalid_choice"),
        ({"size_classes": ["micro", "micro"]}, "size_classes", "invalid_choice"),
        ({"province_codes": ["99"]}, "province_codes", "invalid_province"),
        ({"province_codes": ["35"]}, "province_codes", "invalid_province"),
        ({"province_codes": ["68", "68"]}, "province_codes", "invalid_province"),
        ({"province_codes": "68"}, "province_codes", "not_a_list"),
        ({"payment_trigger": "on_signature"}, "payment_trigger", "invalid_choice"),
        ({"percentage": 60}, "percentage", "unknown_field"),
        ({"support_type": "patent"}, "support_type", "unknown_field"),
    ],
    ids=[
        "percent-zero",
        "percent-negative",
        "percent-just-over-100",
        "percent-101",
        "percent-three-decimals",
        "percent-null",
        "cap-zero",
        "cap-negative",
        "cap-null",
        "year-cap-zero",
        "year-cap-negative",
        "max-items-zero",
        "unknown-legal-form",
        "duplicate-legal-form",
        "unknown-size-class",
        "duplicate-size-class",
        "not-a-province",
        "former-province",
        "duplicate-province",
        "provinces-not-a-list",
        "unknown-payment-trigger",
        "misspelt-field",
        "support-type-is-not-editable",
    ],
)
def test_bad_rule_change_is_a_400_naming_the_field_and_changes_nothing(
    client_for, manager, programme, body, field, code
):
    before = stored(programme)

    response = client_for(manager).patch(rule_url(), {**body, "legal_basis": "changed"}, format="json")

    errors = assert_field_errors(response, field)["errors"]
    assert [error["code"] for error in errors] == [code]
    assert stored(programme) == before


def test_every_bad_field_of_a_rule_change_is_named(client_for, manager, programme):
    before = stored(programme)

    response = client_for(manager).patch(rule_url(), {"percent": 0, "cap_amount": 0}, format="json")

    assert_field_errors(response, "percent", "cap_amount")
    assert stored(programme) == before


def test_a_rule_may_pay_exactly_100_percent_and_as_little_as_one_hundredth(client_for, manager, programme):
    client = client_for(manager)

    assert client.patch(rule_url(), {"percent": 100}).json()["percent"] == 100
    assert client.patch(rule_url(SupportType.PATENT), {"percent": "0.01"}).json()["percent"] == 0.01
    assert float(stored(programme)["percent"]) == 100
    assert float(stored(programme, SupportType.PATENT)["percent"]) == 0.01


@pytest.mark.parametrize(
    "body",
    [
        {"percent": 0},
        {"percentage": 60},
        {"province_codes": ["99"]},
        {"legal_forms": ["enterprise", "enterprise"]},
    ],
    ids=["percent-zero", "unknown-field", "not-a-province", "duplicate-legal-form"],
)
def test_a_bad_rule_change_is_explained_in_the_users_language(client_for, manager, programme, body):
    english = client_for(manager, "en").patch(rule_url(), body, format="json")
    vietnamese = client_for(manager, "vi").patch(rule_url(), body, format="json")

    [english_error] = assert_problem(english, 400)["errors"]
    [vietnamese_error] = assert_problem(vietnamese, 400)["errors"]
    assert vietnamese_error["field"] == english_error["field"]
    assert vietnamese_error["code"] == english_error["code"]
    assert vietnamese_error["message"] != english_error["message"]


# --- Decisions keep their rule; open cases follow the current one -------------------------------


def test_an_approved_case_keeps_the_rule_it_was_decided_under(client_for, case_in, manager, applicant, officer):
    case = case_in(CaseState.APPROVED)  # 40M invoiced, 20M requested, 10M approved

    response = client_for(manager).patch(
        rule_url(), {"percent": 80, "cap_amount": 12 * MILLION, "province_codes": ["01"]}, format="json"
    )
    assert response.status_code == 200, response.content

    # what the trail keeps (plain data) and what the API shows of it
    recorded = {
        **DEFAULT_RULE,
        "supportable": {
            "max_supportable_amount": 20 * MILLION,
            "eligible_cost": 40 * MILLION,
            "percent": "50.00",
            "binding_limit": "percent_of_cost",
            "limits": [
                {"code": "percent_of_cost", "amount": 20 * MILLION, "params": {"percent": "50", "cost": 40 * MILLION}},
                {"code": "item_cap", "amount": 30 * MILLION, "params": {}},
                {"code": "requested_amount", "amount": 20 * MILLION, "params": {}},
            ],
        },
    }
    shown = {
        **DEFAULT_RULE,
        "percent": 50.0,
        "supportable": {
            "amount": 20 * MILLION,
            "eligible_cost": 40 * MILLION,
            "percent": 50.0,
            "binding_limit": "percent_of_cost",
            "limits": [
                {
                    "code": "percent_of_cost",
                    "amount": 20 * MILLION,
                    "reason": "50% of the eligible cost of 40,000,000 VND is 20,000,000 VND",
                },
                {"code": "item_cap", "amount": 30 * MILLION, "reason": "the rule pays at most 30,000,000 VND per item"},
                {
                    "code": "requested_amount",
                    "amount": 20 * MILLION,
                    "reason": "the enterprise asked for 20,000,000 VND",
                },
            ],
        },
    }
    for user in (applicant, officer):
        detail = client_for(user).get(f"/api/v1/cases/{case.pk}/").json()
        assert detail["decided_rule"] == shown
        assert detail["approved_amount"] == 10 * MILLION
        # the breakdown shown is the recorded one, not the new rule's (12M cap would bite)
        assert (detail["max_supportable_amount"], detail["supportable"]["binding_limit"]) == (
            20 * MILLION,
            "percent_of_cost",
        )
        assert detail["supportable"]["limits"][1] == {
            "code": "item_cap",
            "amount": 30 * MILLION,
            "reason": "the rule pays at most 30,000,000 VND per item",
        }
    events = client_for(applicant).get(f"/api/v1/cases/{case.pk}/events/").json()["results"]
    [approve] = [event for event in events if event["action"] == "approve"]
    assert approve["data"]["rule"] == recorded
    assert approve["data"]["amount"] == 10 * MILLION


def test_the_decision_records_every_condition_of_the_rule(client_for, case_in, manager):
    conditions = {
        "enterprise_year_cap": 25 * MILLION,
        "max_items_per_enterprise": 2,
        "legal_forms": ["enterprise"],
        "size_classes": ["micro", "small"],
        "province_codes": ["68"],
        "payment_trigger": "certificate_granted",
        "legal_basis": "Nghị quyết 12/2025/NQ-HĐND",
    }
    assert client_for(manager).patch(rule_url(), conditions, format="json").status_code == 200
    case = case_in(CaseState.APPROVED)

    assert client_for(manager).patch(rule_url(), {"legal_forms": [], "province_codes": []}).status_code == 200

    decided = client_for(manager).get(f"/api/v1/cases/{case.pk}/").json()["decided_rule"]
    assert {key: decided[key] for key in conditions} == conditions
    assert decided["supportable"]["limits"][-1] == {
        "code": "enterprise_year_cap",
        "amount": 25 * MILLION,
        "reason": "25,000,000 VND is left of the enterprise's yearly cap of 25,000,000 VND",
    }
    trail = CaseEvent.objects.get(case=case, action="approve").data["rule"]
    assert {key: trail[key] for key in conditions} == conditions
    assert trail["supportable"]["limits"][-1]["params"] == {"cap": 25 * MILLION}


def test_an_approved_case_is_still_paid_its_approved_amount_after_the_cap_drops_below_it(
    client_for, case_in, manager, officer
):
    case = case_in(CaseState.APPROVED)
    assert client_for(manager).patch(rule_url(), {"cap_amount": 5 * MILLION}).status_code == 200

    response = client_for(officer).post(
        f"/api/v1/cases/{case.pk}/disburse/",
        {"amount": 10 * MILLION, "paid_on": timezone.localdate().isoformat(), "payment_reference": "UNC-7"},
        format="json",
    )

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert (case.state, case.disbursed_amount) == (CaseState.DISBURSED, 10 * MILLION)


def test_a_case_in_review_is_measured_against_the_new_cap(client_for, case_in, manager, officer):
    case = case_in(CaseState.IN_REVIEW)
    assert client_for(manager).patch(rule_url(), {"cap_amount": 5 * MILLION}).status_code == 200

    detail = client_for(officer).get(f"/api/v1/cases/{case.pk}/").json()
    assert detail["max_supportable_amount"] == 5 * MILLION
    assert detail["supportable"]["binding_limit"] == "item_cap"

    url = f"/api/v1/cases/{case.pk}/recommend/"
    refused = client_for(officer).post(
        url, {"outcome": "approve", "amount": 10 * MILLION, "comment": "Đạt."}, format="json"
    )

    body = assert_field_errors(refused, "amount")
    assert body["errors"][0]["code"] == "above_supportable"
    assert body["limit"] == "item_cap"
    assert body["max_supportable_amount"] == 5 * MILLION
    case.refresh_from_db()
    assert (case.state, case.recommended_amount) == (CaseState.IN_REVIEW, None)

    accepted = client_for(officer).post(
        url, {"outcome": "approve", "amount": 5 * MILLION, "comment": "Đạt."}, format="json"
    )
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["recommended_amount"] == 5 * MILLION


def test_a_recommended_case_cannot_be_approved_above_a_cap_lowered_since(client_for, case_in, manager, manager2):
    case = case_in(CaseState.RECOMMENDED)  # recommended 10M
    assert client_for(manager).patch(rule_url(), {"cap_amount": 8 * MILLION}).status_code == 200

    response = client_for(manager2).post(f"/api/v1/cases/{case.pk}/approve/", {}, format="json")

    body = assert_field_errors(response, "amount")
    assert (body["limit"], body["max_supportable_amount"]) == ("item_cap", 8 * MILLION)
    case.refresh_from_db()
    assert (case.state, case.approved_amount, case.decided_rule) == (CaseState.RECOMMENDED, None, None)
    assert not case.ledger.exists()


def test_a_draft_is_refused_on_submit_once_the_rule_excludes_its_province(client_for, case_in, manager, applicant):
    case = case_in(CaseState.DRAFT)  # the enterprise is registered in Lâm Đồng (68)
    assert client_for(manager).patch(rule_url(), {"province_codes": ["01"]}, format="json").status_code == 200

    response = client_for(applicant).post(f"/api/v1/cases/{case.pk}/submit/", {}, format="json")

    body = assert_problem(response, 409)
    assert body["code"] == "ineligible"
    assert [check["code"] for check in body["checks"] if not check["passed"]] == ["province"]
    case.refresh_from_db()
    assert (case.state, case.reference) == (CaseState.DRAFT, None)


# --- The rules' history ------------------------------------------------------------------


def changes_url(code: str = "shtt-test") -> str:
    return f"{PROGRAMMES_URL}{code}/rule-changes/"


def history(client: Any, code: str = "shtt-test") -> list[dict[str, Any]]:
    response = client.get(changes_url(code))
    assert response.status_code == 200, response.content
    return [{k: row[k] for k in ("support_type", "kind", "before", "after")} for row in response.json()["results"]]


def test_creating_a_programme_records_each_rule_as_created_by_the_manager(client_for, manager, applicant):
    client = client_for(manager)
    assert client.post(PROGRAMMES_URL, programme_payload([FULL_RULE]), format="json").status_code == 201

    [row] = client_for(applicant).get(changes_url("shtt-2027")).json()["results"]

    assert (row["support_type"], row["kind"], row["before"]) == ("patent", "created", {})
    assert row["after"] == {k: v for k, v in FULL_RULE.items() if k != "support_type"}
    assert row["actor"] == {"id": str(manager.pk), "username": "manager"}


def test_a_rule_change_records_only_the_fields_that_changed(client_for, manager, programme):
    client = client_for(manager)
    assert client.patch(rule_url(), {"percent": 40, "legal_basis": "NQ 5/2026"}, format="json").status_code == 200
    assert client.patch(rule_url(), {"percent": "40.00"}, format="json").status_code == 200  # no change, no row

    assert history(client) == [
        {
            "support_type": "trademark",
            "kind": "changed",
            "before": {"percent": "50.00", "legal_basis": ""},
            "after": {"percent": "40.00", "legal_basis": "NQ 5/2026"},
        }
    ]


def test_replacing_the_rule_set_records_removed_and_created_rules(client_for, manager):
    ProgrammeFactory(code="shtt-two", rules=[{"support_type": "trademark", "percent": 50, "cap_amount": 5 * MILLION}])
    client = client_for(manager)
    body = {"rules": [{"support_type": "copyright", "percent": 30, "cap_amount": MILLION}]}

    assert client.patch(programme_url("shtt-two"), body, format="json").status_code == 200

    rows = history(client, "shtt-two")
    assert [(r["support_type"], r["kind"]) for r in rows] == [("trademark", "removed"), ("copyright", "created")]
    assert rows[0]["before"]["cap_amount"] == 5 * MILLION
    assert rows[1]["after"]["percent"] == "30.00"


def test_a_refused_rule_change_records_nothing(client_for, manager, applicant, programme):
    assert client_for(applicant).patch(rule_url(), {"percent": 10}, format="json").status_code == 403
    assert client_for(manager).patch(rule_url(), {"percent": 101}, format="json").status_code == 400

    assert history(client_for(manager)) == []


@pytest.mark.parametrize("persona", ["applicant", "officer", "manager", "partner"])
def test_every_signed_in_user_reads_the_rules_history(request, client_for, programme, persona):
    assert client_for(request.getfixturevalue(persona)).get(changes_url()).status_code == 200


def test_the_rules_history_needs_a_token_and_a_real_programme(client_for, applicant):
    assert_problem(client_for(None).get(changes_url()), 401)
    assert_problem(client_for(applicant).get(changes_url("no-such-programme")), 404)


def test_rule_history_rows_are_append_only(client_for, manager, programme):
    from cases.models import SupportRuleChange

    client_for(manager).patch(rule_url(), {"percent": 40}, format="json")
    row = SupportRuleChange.objects.get()
    row.after = {"percent": "99.00"}
    with pytest.raises(RuntimeError):
        row.save()
    with pytest.raises(RuntimeError):
        row.delete()
