"""An officer's verification confirms the facts on file, so it does not outlive them: a
change of any verified fact (name, tax code, legal form, address, size figures, founding
date) clears it, with an event saying who changed what. Unverified declarations keep it."""

from __future__ import annotations

from typing import Any

import pytest

from applicants import services
from applicants.models import Enterprise, EnterpriseEvent, LegalForm, SectorGroup

pytestmark = pytest.mark.django_db


def _verify(client_for: Any, officer: Any, enterprise: Enterprise, **body: Any) -> None:
    response = client_for(officer).post(f"/api/v1/enterprises/{enterprise.pk}/verify/", body, format="json")
    assert response.status_code == 200, response.content


def _patch(client: Any, enterprise: Enterprise, change: dict[str, Any]) -> Any:
    response = client.patch(f"/api/v1/enterprises/{enterprise.pk}/", change, format="json")
    assert response.status_code == 200, response.content
    return response.json()


VERIFIED_CHANGES = [
    {"name": "Công ty TNHH Chè Cầu Đất Mới"},
    {"legal_form": LegalForm.COOPERATIVE},
    {"address": "3 Hùng Vương"},
    {"ward_code": "24787"},
    {"employees": 250},
    {"annual_revenue": 900_000_000_000},
    {"capital": 300_000_000_000},
    {"sector_group": SectorGroup.AGRICULTURE_INDUSTRY_CONSTRUCTION},
    {"founded_on": "2020-01-02"},
]


@pytest.mark.parametrize("change", VERIFIED_CHANGES, ids=lambda change: next(iter(change)))
@pytest.mark.parametrize("who", ["applicant", "officer"])
def test_a_change_to_a_verified_fact_clears_the_verification(client_for, officer, enterprise, request, change, who):
    _verify(client_for, officer, enterprise)
    enterprise.refresh_from_db()
    verified_at = enterprise.verified_at
    actor = request.getfixturevalue(who)
    field = next(iter(change))
    before = getattr(enterprise, field)

    body = _patch(client_for(actor), enterprise, change)

    assert body["verified_at"] is None
    enterprise.refresh_from_db()
    assert (enterprise.verified_at, enterprise.verified_by) == (None, None)
    event = EnterpriseEvent.objects.get(enterprise=enterprise, action="verification_cleared")
    assert event.actor == actor
    assert event.data["verified_at"] == verified_at.isoformat()
    assert event.data["verified_by"] == str(officer.pk)
    assert event.data["changed"] == {
        field: {"from": before.isoformat() if field == "founded_on" else before, "to": change[field]}
    }


def test_verification_is_cleared_even_when_the_size_class_stays(client_for, applicant, officer, enterprise):
    _verify(client_for, officer, enterprise)
    size_class = Enterprise.objects.get(pk=enterprise.pk).size_class

    body = _patch(client_for(applicant), enterprise, {"employees": enterprise.employees + 1})

    assert body["size_class"] == size_class
    assert body["verified_at"] is None


def test_the_same_values_sent_again_keep_the_verification(client_for, applicant, officer, enterprise):
    _verify(client_for, officer, enterprise)
    enterprise.refresh_from_db()
    same = {
        "name": enterprise.name,
        "tax_code": enterprise.tax_code.replace("-", ""),  # normalised back to what is on file
        "legal_form": enterprise.legal_form,
        "province_code": enterprise.province_code,
        "ward_code": enterprise.ward_code,
        "address": enterprise.address,
        "employees": enterprise.employees,
        "capital": enterprise.capital,
    }

    body = _patch(client_for(applicant), enterprise, same)

    assert body["verified_at"] is not None
    assert not EnterpriseEvent.objects.filter(action="verification_cleared").exists()


@pytest.mark.parametrize("change", [{"women_owned": True}, {"social_enterprise": True}, {"is_startup": True}])
def test_an_unverified_declaration_keeps_the_verification(client_for, applicant, officer, enterprise, change):
    _verify(client_for, officer, enterprise)

    body = _patch(client_for(applicant), enterprise, change)

    assert body["verified_at"] is not None
    assert not EnterpriseEvent.objects.filter(action="verification_cleared").exists()


def test_an_unverified_enterprise_changes_without_an_event(client_for, applicant, enterprise):
    _patch(client_for(applicant), enterprise, {"name": "Tên mới"})

    assert not EnterpriseEvent.objects.exists()


def test_clearing_the_startup_verification_is_recorded_too(client_for, applicant, officer, enterprise):
    Enterprise.objects.filter(pk=enterprise.pk).update(is_startup=True, founded_on="2024-03-01")
    _verify(client_for, officer, enterprise, startup=True)

    body = _patch(client_for(applicant), enterprise, {"is_startup": False})

    assert body["startup_verified_at"] is None
    assert body["verified_at"] is not None  # the registration is what it was
    event = EnterpriseEvent.objects.get(action="startup_verification_cleared")
    assert event.data["changed"] == {"is_startup": {"from": True, "to": False}}


def test_verifying_is_recorded(client_for, officer, enterprise):
    _verify(client_for, officer, enterprise)

    event = EnterpriseEvent.objects.get(enterprise=enterprise)
    assert (event.action, event.actor, event.data) == ("verify", officer, {"startup": False})


def test_a_refused_change_clears_nothing(client_for, applicant, officer, enterprise):
    _verify(client_for, officer, enterprise)

    response = client_for(applicant).patch(
        f"/api/v1/enterprises/{enterprise.pk}/", {"name": "Mới", "employees": -1}, format="json"
    )

    assert response.status_code == 400
    enterprise.refresh_from_db()
    assert enterprise.verified_at is not None
    assert not EnterpriseEvent.objects.filter(action="verification_cleared").exists()


def test_enterprise_events_are_append_only(officer, enterprise):
    enterprise = services.enterprise_verify(actor=officer, enterprise=enterprise)
    event = EnterpriseEvent.objects.get(enterprise=enterprise)

    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()
