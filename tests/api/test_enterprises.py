"""Enterprises over HTTP: who sees, creates, changes and verifies which firm, and what a
bad request leaves behind (nothing)."""

from __future__ import annotations

import datetime as dt
import json
import types
import uuid
import zoneinfo
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import applicants.services
from accounts.roles import Role
from applicants.models import Enterprise, LegalForm, Membership, MembershipRole, SectorGroup, SizeClass
from tests.factories import EnterpriseFactory, UserFactory
from tests.problems import assert_field_errors, assert_problem

LIST_URL = "/api/v1/enterprises/"
PROBLEM = "application/problem+json"
BN = 1_000_000_000
LOCAL = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")

BAD_CHECK_DIGIT = "0100047517"
VALID_TAX_CODE = "0100233488"
BRANCH_TAX_CODE = "0314409058-002"
PERSONAL_ID = "001203004567"


def detail_url(enterprise: Enterprise | uuid.UUID) -> str:
    pk = enterprise.pk if isinstance(enterprise, Enterprise) else enterprise
    return f"/api/v1/enterprises/{pk}/"


def verify_url(enterprise: Enterprise) -> str:
    return f"/api/v1/enterprises/{enterprise.pk}/verify/"


def payload(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Công ty TNHH Chè Cầu Đất",
        "tax_code": VALID_TAX_CODE,
        "legal_form": LegalForm.ENTERPRISE,
        "province_code": "68",
        "ward_code": "24781",
        "address": "12 Bùi Thị Xuân",
        "founded_on": "2023-05-10",
        "sector_group": SectorGroup.TRADE_SERVICES,
        "employees": 8,
        "annual_revenue": 2 * BN,
        "capital": 1 * BN,
        "is_startup": False,
    }
    data.update(overrides)
    return data


def counts() -> tuple[int, int]:
    return Enterprise.objects.count(), Membership.objects.count()


def snapshot(enterprise: Enterprise) -> dict[str, Any]:
    return Enterprise.objects.filter(pk=enterprise.pk).values().get()


def listed_ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def freeze_services_clock(monkeypatch: pytest.MonkeyPatch, local: dt.datetime) -> None:
    """Make `applicants.services` see `local` (Asia/Ho_Chi_Minh wall time) as now."""
    aware = local.replace(tzinfo=LOCAL)
    clock = types.SimpleNamespace(now=lambda: aware.astimezone(dt.UTC), localdate=lambda: aware.date())
    monkeypatch.setattr(applicants.services, "timezone", clock)


# --- GET /enterprises/ -----------------------------------------------------------------------


def test_listing_enterprises_without_a_token_is_401(client_for, enterprise):
    response = client_for(None).get(LIST_URL)

    assert_problem(response, 401)
    assert response.has_header("WWW-Authenticate")


def test_applicant_lists_only_their_own_enterprise(client_for, applicant, enterprise, other_enterprise):
    assert listed_ids(client_for(applicant).get(LIST_URL)) == {str(enterprise.pk)}


def test_other_applicant_lists_only_their_own_enterprise(client_for, other_applicant, enterprise, other_enterprise):
    assert listed_ids(client_for(other_applicant).get(LIST_URL)) == {str(other_enterprise.pk)}


@pytest.mark.parametrize("persona", ["officer", "officer2", "manager", "manager2"])
def test_staff_list_every_enterprise(request, client_for, enterprise, other_enterprise, persona):
    user = request.getfixturevalue(persona)

    assert listed_ids(client_for(user).get(LIST_URL)) == {str(enterprise.pk), str(other_enterprise.pk)}


def test_user_without_role_or_enterprise_lists_nothing(client_for, enterprise, other_enterprise):
    assert listed_ids(client_for(UserFactory()).get(LIST_URL)) == set()


def test_enterprise_list_is_paginated(client_for, officer, enterprise):
    body = client_for(officer).get(LIST_URL).json()

    assert set(body) >= {"results", "next", "previous"}
    assert body["next"] is None
    assert body["previous"] is None


def test_enterprise_representation_has_the_contract_fields(client_for, applicant, enterprise):
    row = client_for(applicant).get(LIST_URL).json()["results"][0]

    assert set(row) >= {
        "id",
        "name",
        "tax_code",
        "legal_form",
        "province_code",
        "ward_code",
        "address",
        "founded_on",
        "size_class",
        "is_startup",
        "verified_at",
    }
    assert row["id"] == str(enterprise.pk)
    assert row["tax_code"] == enterprise.tax_code
    assert row["founded_on"] == "2021-01-01"


def test_enterprise_list_costs_the_same_queries_for_2_and_20_enterprises(
    client_for, officer, django_assert_max_num_queries
):
    EnterpriseFactory.create_batch(2)
    client = client_for(officer)
    with CaptureQueriesContext(connection) as two:
        assert len(client.get(LIST_URL).json()["results"]) == 2

    EnterpriseFactory.create_batch(18)
    client = client_for(officer)
    with CaptureQueriesContext(connection) as twenty:
        assert len(client.get(LIST_URL).json()["results"]) == 20

    assert len(twenty) == len(two)
    client = client_for(officer)
    with django_assert_max_num_queries(len(two)):
        client.get(LIST_URL)


# --- GET /enterprises/{id}/ ------------------------------------------------------------------


def test_reading_an_enterprise_without_a_token_is_401(client_for, enterprise):
    assert_problem(client_for(None).get(detail_url(enterprise)), 401)


def test_applicant_reads_their_own_enterprise(client_for, applicant, enterprise):
    response = client_for(applicant).get(detail_url(enterprise))

    assert response.status_code == 200
    assert response.json()["id"] == str(enterprise.pk)


def test_applicant_cannot_see_other_enterprise(client_for, applicant, other_enterprise):
    response = client_for(applicant).get(detail_url(other_enterprise))

    body = assert_problem(response, 404)
    assert other_enterprise.name not in json.dumps(body, ensure_ascii=False)


def test_invisible_and_missing_enterprises_get_the_same_404(client_for, applicant, other_enterprise):
    invisible = assert_problem(client_for(applicant).get(detail_url(other_enterprise)), 404)
    missing = assert_problem(client_for(applicant).get(detail_url(uuid.uuid4())), 404)

    assert (invisible["type"], invisible["detail"]) == (missing["type"], missing["detail"])


@pytest.mark.parametrize("persona", ["officer", "manager"])
def test_staff_read_any_enterprise(request, client_for, other_enterprise, persona):
    response = client_for(request.getfixturevalue(persona)).get(detail_url(other_enterprise))

    assert response.status_code == 200
    assert response.json()["tax_code"] == other_enterprise.tax_code


def test_reading_a_missing_enterprise_is_404(client_for, officer):
    assert_problem(client_for(officer).get(detail_url(uuid.uuid4())), 404)


# --- POST /enterprises/ ----------------------------------------------------------------------


def test_creating_an_enterprise_without_a_token_is_401(client_for, db):
    assert_problem(client_for(None).post(LIST_URL, payload()), 401)
    assert counts() == (0, 0)


@pytest.mark.parametrize("persona", ["officer", "manager"])
def test_staff_cannot_create_an_enterprise(request, client_for, persona):
    user = request.getfixturevalue(persona)
    before = counts()

    response = client_for(user).post(LIST_URL, payload())

    assert_problem(response, 403)
    assert counts() == before


def test_user_without_any_role_cannot_create_an_enterprise(client_for, db):
    response = client_for(UserFactory()).post(LIST_URL, payload())

    assert_problem(response, 403)
    assert counts() == (0, 0)


def test_applicant_who_creates_an_enterprise_becomes_its_owner(client_for, applicant, enterprise):
    client = client_for(applicant)

    response = client.post(LIST_URL, payload())

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["tax_code"] == VALID_TAX_CODE
    assert created["verified_at"] is None
    me = client.get("/api/v1/me/").json()
    assert {"id": created["id"], "name": "Công ty TNHH Chè Cầu Đất", "role": MembershipRole.OWNER} in me["enterprises"]
    assert len(me["enterprises"]) == 2
    assert str(created["id"]) in listed_ids(client.get(LIST_URL))


def test_firm_user_without_an_enterprise_yet_can_register_one(client_for, db):
    newcomer = UserFactory(roles=[Role.APPLICANT])
    client = client_for(newcomer)

    response = client.post(LIST_URL, payload())

    assert response.status_code == 201, response.content
    me = client.get("/api/v1/me/").json()
    assert me["roles"] == [Role.APPLICANT]
    assert me["enterprises"] == [{"id": response.json()["id"], "name": payload()["name"], "role": "owner"}]


def test_created_enterprise_records_the_division_names_of_its_codes(client_for, applicant):
    response = client_for(applicant).post(LIST_URL, payload(province_code="68", ward_code="24781"))

    assert response.status_code == 201
    body = response.json()
    assert body["province_name"] == "Lâm Đồng"
    assert "Xuân Hương" in body["ward_name"]


def test_branch_tax_code_is_accepted(client_for, applicant):
    response = client_for(applicant).post(LIST_URL, payload(tax_code=BRANCH_TAX_CODE))

    assert response.status_code == 201, response.content
    assert response.json()["tax_code"] == BRANCH_TAX_CODE
    assert Enterprise.objects.filter(tax_code=BRANCH_TAX_CODE).exists()


def test_household_business_may_use_a_12_digit_personal_id_as_tax_code(client_for, applicant):
    response = client_for(applicant).post(
        LIST_URL, payload(tax_code=PERSONAL_ID, legal_form=LegalForm.HOUSEHOLD_BUSINESS)
    )

    assert response.status_code == 201, response.content
    assert response.json()["tax_code"] == PERSONAL_ID
    assert response.json()["legal_form"] == LegalForm.HOUSEHOLD_BUSINESS


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tax_code": BAD_CHECK_DIGIT}, "tax_code"),
        ({"tax_code": "01002334"}, "tax_code"),
        ({"tax_code": "0314409058-0021"}, "tax_code"),
        ({"tax_code": PERSONAL_ID, "legal_form": LegalForm.ENTERPRISE}, "tax_code"),
        ({"tax_code": PERSONAL_ID, "legal_form": LegalForm.COOPERATIVE}, "tax_code"),
        ({"legal_form": "corporation"}, "legal_form"),
        ({"province_code": "99"}, "province_code"),
        ({"ward_code": "99999"}, "ward_code"),
        ({"province_code": "01", "ward_code": "24781"}, "ward_code"),
        ({"province_code": "68", "ward_code": "00070"}, "ward_code"),
        ({"founded_on": (timezone.localdate() + dt.timedelta(days=1)).isoformat()}, "founded_on"),
        ({"employees": -1}, "employees"),
        ({"annual_revenue": -1}, "annual_revenue"),
        ({"capital": -1}, "capital"),
        ({"name": "   "}, "name"),
        ({"sector_group": "mining"}, "sector_group"),
    ],
    ids=[
        "bad-check-digit",
        "too-short",
        "branch-too-long",
        "personal-id-for-enterprise",
        "personal-id-for-cooperative",
        "unknown-legal-form",
        "unknown-province",
        "unknown-ward",
        "ward-of-another-province",
        "ward-not-in-province",
        "founded-in-future",
        "negative-employees",
        "negative-revenue",
        "negative-capital",
        "blank-name",
        "unknown-sector",
    ],
)
def test_bad_enterprise_is_a_400_naming_the_field_and_writes_nothing(client_for, applicant, overrides, field):
    before = counts()

    response = client_for(applicant).post(LIST_URL, payload(**overrides))

    assert_field_errors(response, field)
    assert counts() == before


def test_tax_code_with_a_bad_check_digit_is_a_400_on_tax_code(client_for, applicant):
    response = client_for(applicant).post(LIST_URL, payload(tax_code=BAD_CHECK_DIGIT))

    body = assert_field_errors(response, "tax_code")
    assert body["errors"][0]["code"] == "invalid_tax_code"
    assert not Enterprise.objects.filter(tax_code=BAD_CHECK_DIGIT).exists()


def test_already_registered_tax_code_is_a_400_on_tax_code(client_for, applicant, other_enterprise):
    before = counts()

    response = client_for(applicant).post(LIST_URL, payload(tax_code=other_enterprise.tax_code))

    body = assert_field_errors(response, "tax_code")
    assert body["errors"][0]["code"] == "duplicate_tax_code"
    assert counts() == before


def test_already_registered_tax_code_written_differently_is_still_a_duplicate(client_for, applicant, other_enterprise):
    spaced = f"{other_enterprise.tax_code[:4]} {other_enterprise.tax_code[4:]}"
    before = counts()

    response = client_for(applicant).post(LIST_URL, payload(tax_code=spaced))

    assert_field_errors(response, "tax_code")
    assert counts() == before


def test_missing_required_fields_are_each_named(client_for, applicant):
    before = counts()

    response = client_for(applicant).post(LIST_URL, {"name": "Only a name"})

    assert_field_errors(response, "tax_code", "legal_form", "province_code", "ward_code", "address")
    assert counts() == before


def test_several_business_rule_errors_are_reported_together(client_for, applicant):
    before = counts()
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()

    response = client_for(applicant).post(LIST_URL, payload(province_code="99", founded_on=tomorrow))

    assert_field_errors(response, "province_code", "founded_on")
    assert counts() == before


@pytest.mark.parametrize(
    ("figures", "size"),
    [
        ({"employees": 10, "annual_revenue": 10 * BN, "capital": 3 * BN}, SizeClass.MICRO),
        ({"employees": 11, "annual_revenue": 1 * BN, "capital": 1 * BN}, SizeClass.SMALL),
        ({"employees": 50, "annual_revenue": 200 * BN, "capital": 50 * BN}, SizeClass.SMALL),
        ({"employees": 50, "annual_revenue": 200 * BN, "capital": 60 * BN}, SizeClass.MEDIUM),
        ({"employees": 101, "annual_revenue": 1 * BN, "capital": 1 * BN}, SizeClass.LARGE),
        (
            {"employees": 100, "annual_revenue": 1 * BN, "capital": 1 * BN, "sector_group": SectorGroup.TRADE_SERVICES},
            SizeClass.MEDIUM,
        ),
        (
            {
                "employees": 100,
                "annual_revenue": 1 * BN,
                "capital": 1 * BN,
                "sector_group": SectorGroup.AGRICULTURE_INDUSTRY_CONSTRUCTION,
            },
            SizeClass.SMALL,
        ),
    ],
    ids=[
        "micro-at-limits",
        "small-by-employees",
        "small-by-capital",
        "medium",
        "large",
        "trade-100-medium",
        "industry-100-small",
    ],
)
def test_size_class_is_computed_from_the_declared_figures(client_for, applicant, figures, size):
    response = client_for(applicant).post(LIST_URL, payload(**figures))

    assert response.status_code == 201, response.content
    assert response.json()["size_class"] == size
    assert Enterprise.objects.get(pk=response.json()["id"]).size_class == size


@pytest.mark.parametrize(
    "extra", [{"size_class": SizeClass.MICRO}, {"verified_at": "2025-01-01T00:00:00+07:00"}, {"nmae": "typo"}]
)
def test_fields_the_client_may_not_set_are_refused_not_ignored(client_for, applicant, extra):
    count = Enterprise.objects.count()
    response = client_for(applicant).post(LIST_URL, payload(**extra))

    assert_field_errors(response, *extra)
    assert Enterprise.objects.count() == count


# --- PATCH /enterprises/{id}/ ----------------------------------------------------------------


def test_changing_an_enterprise_without_a_token_is_401(client_for, enterprise):
    before = snapshot(enterprise)

    assert_problem(client_for(None).patch(detail_url(enterprise), {"name": "Hijacked"}), 401)
    assert snapshot(enterprise) == before


def test_applicant_changes_their_own_enterprise(client_for, applicant, enterprise):
    response = client_for(applicant).patch(detail_url(enterprise), {"name": "Công ty TNHH Cà phê Cầu Đất"})

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Công ty TNHH Cà phê Cầu Đất"
    enterprise.refresh_from_db()
    assert enterprise.name == "Công ty TNHH Cà phê Cầu Đất"


def test_applicant_cannot_change_other_enterprise(client_for, applicant, other_enterprise):
    before = snapshot(other_enterprise)

    response = client_for(applicant).patch(detail_url(other_enterprise), {"name": "Hijacked"})

    assert_problem(response, 404)
    assert snapshot(other_enterprise) == before


@pytest.mark.parametrize("persona", ["officer", "manager"])
def test_staff_may_correct_any_enterprise(request, client_for, other_enterprise, persona):
    response = client_for(request.getfixturevalue(persona)).patch(
        detail_url(other_enterprise), {"address": "5 Nguyễn Du"}
    )

    assert response.status_code == 200, response.content
    other_enterprise.refresh_from_db()
    assert other_enterprise.address == "5 Nguyễn Du"


def test_partial_change_leaves_the_other_fields_alone(client_for, applicant, enterprise):
    Enterprise.objects.filter(pk=enterprise.pk).update(
        is_startup=True, women_owned=True, employees=42, sector_group=SectorGroup.AGRICULTURE_INDUSTRY_CONSTRUCTION
    )
    before = snapshot(enterprise)

    response = client_for(applicant).patch(detail_url(enterprise), {"address": "99 Phan Đình Phùng"})

    assert response.status_code == 200, response.content
    after = snapshot(enterprise)
    changed = {key for key in before if before[key] != after[key]}
    assert changed <= {"address", "updated_at", "size_class", "version"}
    assert after["address"] == "99 Phan Đình Phùng"
    assert after["is_startup"] is True
    assert after["women_owned"] is True
    assert after["employees"] == 42
    assert after["sector_group"] == SectorGroup.AGRICULTURE_INDUSTRY_CONSTRUCTION


def test_changing_the_workforce_recomputes_the_size_class(client_for, applicant, enterprise):
    assert enterprise.size_class == SizeClass.MICRO

    response = client_for(applicant).patch(detail_url(enterprise), {"employees": 120})

    assert response.status_code == 200
    assert response.json()["size_class"] == SizeClass.LARGE
    enterprise.refresh_from_db()
    assert enterprise.size_class == SizeClass.LARGE


def test_changing_the_tax_code_clears_the_verification(client_for, applicant, officer, enterprise):
    assert client_for(officer).post(verify_url(enterprise), {}).status_code == 200
    enterprise.refresh_from_db()
    assert enterprise.verified_at is not None

    response = client_for(applicant).patch(detail_url(enterprise), {"tax_code": VALID_TAX_CODE})

    assert response.status_code == 200, response.content
    assert response.json()["verified_at"] is None
    enterprise.refresh_from_db()
    assert enterprise.tax_code == VALID_TAX_CODE
    assert enterprise.verified_at is None
    assert enterprise.verified_by is None


def test_changing_an_unverified_declaration_keeps_the_verification(client_for, applicant, officer, enterprise):
    assert client_for(officer).post(verify_url(enterprise), {}).status_code == 200

    # Any verified fact clears it (tests/security/test_verification.py); a priority flag is not one.
    response = client_for(applicant).patch(detail_url(enterprise), {"women_owned": True})

    assert response.status_code == 200
    assert response.json()["verified_at"] is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tax_code": BAD_CHECK_DIGIT}, "tax_code"),
        ({"tax_code": PERSONAL_ID}, "tax_code"),
        ({"province_code": "01"}, "ward_code"),
        ({"ward_code": "99999"}, "ward_code"),
        ({"province_code": "99"}, "province_code"),
        ({"founded_on": (timezone.localdate() + dt.timedelta(days=1)).isoformat()}, "founded_on"),
        ({"employees": -5}, "employees"),
        ({"capital": -5}, "capital"),
        ({"legal_form": "corporation"}, "legal_form"),
    ],
    ids=[
        "bad-check-digit",
        "personal-id-for-enterprise",
        "province-without-its-ward",
        "unknown-ward",
        "unknown-province",
        "founded-in-future",
        "negative-employees",
        "negative-capital",
        "unknown-legal-form",
    ],
)
def test_bad_change_is_a_400_naming_the_field_and_changes_nothing(client_for, applicant, enterprise, change, field):
    before = snapshot(enterprise)

    response = client_for(applicant).patch(detail_url(enterprise), change)

    assert_field_errors(response, field)
    assert snapshot(enterprise) == before


def test_changing_to_an_already_registered_tax_code_is_a_400_on_tax_code(
    client_for, applicant, enterprise, other_enterprise
):
    before = snapshot(enterprise)

    response = client_for(applicant).patch(detail_url(enterprise), {"tax_code": other_enterprise.tax_code})

    assert_field_errors(response, "tax_code")
    assert snapshot(enterprise) == before


def test_household_business_cannot_become_an_enterprise_while_using_a_personal_id(client_for, applicant):
    created = client_for(applicant).post(
        LIST_URL, payload(tax_code=PERSONAL_ID, legal_form=LegalForm.HOUSEHOLD_BUSINESS)
    )
    assert created.status_code == 201
    household = Enterprise.objects.get(pk=created.json()["id"])
    before = snapshot(household)

    response = client_for(applicant).patch(detail_url(household), {"legal_form": LegalForm.ENTERPRISE})

    assert_field_errors(response, "tax_code")
    assert snapshot(household) == before


# --- POST /enterprises/{id}/verify/ -----------------------------------------------------------


def test_verifying_without_a_token_is_401(client_for, enterprise):
    assert_problem(client_for(None).post(verify_url(enterprise), {}), 401)
    enterprise.refresh_from_db()
    assert enterprise.verified_at is None


def test_officer_verifies_an_enterprise(client_for, officer, enterprise):
    response = client_for(officer).post(verify_url(enterprise), {})

    assert response.status_code == 200, response.content
    assert response.json()["verified_at"] is not None
    assert response.json()["startup_verified_at"] is None
    enterprise.refresh_from_db()
    assert enterprise.verified_at is not None
    assert enterprise.verified_by == officer


def test_manager_cannot_verify_an_enterprise(client_for, manager, enterprise):
    response = client_for(manager).post(verify_url(enterprise), {})

    assert_problem(response, 403)
    enterprise.refresh_from_db()
    assert enterprise.verified_at is None


def test_applicant_cannot_verify_their_own_enterprise(client_for, applicant, enterprise):
    response = client_for(applicant).post(verify_url(enterprise), {})

    assert_problem(response, 403)
    enterprise.refresh_from_db()
    assert enterprise.verified_at is None


def test_applicant_cannot_verify_other_enterprise(client_for, applicant, other_enterprise):
    response = client_for(applicant).post(verify_url(other_enterprise), {})

    assert_problem(response, 404)
    other_enterprise.refresh_from_db()
    assert other_enterprise.verified_at is None


def test_verifying_a_missing_enterprise_is_404(client_for, officer):
    assert_problem(client_for(officer).post(f"/api/v1/enterprises/{uuid.uuid4()}/verify/", {}), 404)


def test_verification_body_must_be_well_typed(client_for, officer, enterprise):
    response = client_for(officer).post(verify_url(enterprise), {"startup": "perhaps"})

    assert_field_errors(response, "startup")
    enterprise.refresh_from_db()
    assert enterprise.verified_at is None


def test_officer_verifies_a_young_declared_startup(client_for, officer, enterprise):
    three_years_ago = timezone.localdate() - dt.timedelta(days=3 * 365)
    Enterprise.objects.filter(pk=enterprise.pk).update(is_startup=True, founded_on=three_years_ago)

    response = client_for(officer).post(verify_url(enterprise), {"startup": True})

    assert response.status_code == 200, response.content
    assert response.json()["startup_verified_at"] is not None
    enterprise.refresh_from_db()
    assert enterprise.startup_verified_at is not None
    assert enterprise.startup_verified_by == officer


def test_startup_verification_refuses_an_enterprise_that_did_not_declare_startup(client_for, officer, enterprise):
    Enterprise.objects.filter(pk=enterprise.pk).update(is_startup=False, founded_on=timezone.localdate())
    before = snapshot(enterprise)

    response = client_for(officer).post(verify_url(enterprise), {"startup": True})

    body = assert_field_errors(response, "startup")
    assert body["errors"][0]["code"] == "not_declared"
    assert snapshot(enterprise) == before


@pytest.mark.parametrize("founded_on", [dt.date(2015, 6, 1), None], ids=["founded-2015", "founding-date-unknown"])
def test_startup_verification_refuses_an_enterprise_older_than_five_years(client_for, officer, enterprise, founded_on):
    Enterprise.objects.filter(pk=enterprise.pk).update(is_startup=True, founded_on=founded_on)
    before = snapshot(enterprise)

    response = client_for(officer).post(verify_url(enterprise), {"startup": True})

    body = assert_field_errors(response, "startup")
    assert body["errors"][0]["code"] == "too_old"
    assert snapshot(enterprise) == before, "a refused verification records nothing, not even verified_at"


@pytest.mark.parametrize(
    ("today", "founded_on", "accepted"),
    [
        (dt.datetime(2026, 6, 15, 12, 0), dt.date(2021, 6, 15), True),
        (dt.datetime(2026, 6, 15, 12, 0), dt.date(2021, 6, 14), False),
        # Late in the month: five years and one day is still too old.
        (dt.datetime(2026, 3, 31, 12, 0), dt.date(2021, 3, 31), True),
        (dt.datetime(2026, 3, 31, 12, 0), dt.date(2021, 3, 30), False),
        # Early morning in Viet Nam is still the previous day in UTC; the local date counts.
        (dt.datetime(2026, 6, 15, 6, 0), dt.date(2021, 6, 15), True),
        (dt.datetime(2026, 6, 15, 6, 0), dt.date(2021, 6, 14), False),
    ],
    ids=[
        "exactly-five-years",
        "five-years-and-a-day",
        "exactly-five-years-on-the-31st",
        "five-years-and-a-day-on-the-31st",
        "exactly-five-years-at-6am-local",
        "five-years-and-a-day-at-6am-local",
    ],
)
def test_startup_age_limit_is_five_years_to_the_day_in_local_time(
    client_for, officer, enterprise, monkeypatch, today, founded_on, accepted
):
    Enterprise.objects.filter(pk=enterprise.pk).update(is_startup=True, founded_on=founded_on)
    client = client_for(officer)
    freeze_services_clock(monkeypatch, today)

    response = client.post(verify_url(enterprise), {"startup": True})

    if accepted:
        assert response.status_code == 200, response.content
        assert response.json()["startup_verified_at"] is not None
    else:
        assert_field_errors(response, "startup")
        enterprise.refresh_from_db()
        assert enterprise.startup_verified_at is None
