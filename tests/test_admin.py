"""The admin shows the data but cannot write it: writes go through the services. Support
rules are the one exception: managers who are staff edit them through the same validation
and service as the API."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.roles import Role
from cases import services
from cases.models import Programme, SupportRule, SupportRuleChange, SupportType
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client):  # type: ignore[no-untyped-def]
    User.objects.create_superuser("root", "root@example.vn", "x-Strong-pass-1")
    client.login(username="root", password="x-Strong-pass-1")
    return client


def test_admin_can_view_a_case_but_not_change_it(admin_client_logged_in, case_in):
    case = case_in("in_review")
    url = reverse("admin:cases_case_change", args=[case.pk])
    assert admin_client_logged_in.get(url).status_code == 200
    assert admin_client_logged_in.post(url, {"title": "rewritten"}).status_code == 403
    case.refresh_from_db()
    assert (case.title, case.version) == ("Nhãn hiệu thử nghiệm", 4)  # create, submit, receive, receipt slip


@pytest.mark.parametrize("name", ["cases_case", "cases_programme", "applicants_enterprise"])
def test_admin_cannot_add_or_delete(admin_client_logged_in, case_in, name):
    case = case_in("submitted")
    obj = {"cases_case": case, "cases_programme": case.programme, "applicants_enterprise": case.enterprise}[name]
    assert admin_client_logged_in.get(reverse(f"admin:{name}_add")).status_code == 403
    assert (
        admin_client_logged_in.post(reverse(f"admin:{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    )


# --- Support rules: managers edit them, through the service -----------------------------------


def _staff(username: str, roles: list[str]) -> User:
    user = UserFactory(username=username, roles=roles)
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def manager_in_admin(client):  # type: ignore[no-untyped-def]
    _staff("staff_manager", [Role.MANAGER])
    assert client.login(username="staff_manager", password=PASSWORD)
    return client


@pytest.fixture
def trademark_rule(programme: Programme) -> SupportRule:
    return SupportRule.objects.get(programme=programme, support_type=SupportType.TRADEMARK)


@pytest.fixture
def rule_update_calls(monkeypatch) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every call the admin makes to services.rule_update, passed through to the real one."""
    calls: list[dict[str, Any]] = []
    real = services.rule_update

    def spy(**kwargs: Any) -> SupportRule:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, "rule_update", spy)
    return calls


def _rule_change_url(rule: SupportRule) -> str:
    return reverse("admin:cases_supportrule_change", args=[rule.pk])


def _rule_form(rule: SupportRule, **changes: str) -> dict[str, str]:
    """The whole change form as the browser posts it, with `changes` applied."""
    data = {
        "percent": str(rule.percent),
        "cap_amount": str(rule.cap_amount),
        "enterprise_year_cap": "" if rule.enterprise_year_cap is None else str(rule.enterprise_year_cap),
        "max_items_per_enterprise": "" if rule.max_items_per_enterprise is None else str(rule.max_items_per_enterprise),
        "payment_trigger": rule.payment_trigger,
        "legal_basis": rule.legal_basis,
        "processing_days": str(rule.processing_days),
        "_save": "Save",
    }
    for name in (
        "legal_forms",
        "size_classes",
        "province_codes",
        "documents_at_submission",
        "documents_before_payment",
    ):
        # the JSON fields come with a hidden copy of their initial value, as rendered
        data[name] = data[f"initial-{name}"] = json.dumps(getattr(rule, name))
    if rule.startup_required:
        data["startup_required"] = "on"
    data.update(changes)
    return data


def _stored_rule(rule: SupportRule) -> dict[str, Any]:
    return SupportRule.objects.filter(pk=rule.pk).values().get()


def test_manager_opens_a_rule_with_every_editable_field(manager_in_admin, trademark_rule):
    response = manager_in_admin.get(_rule_change_url(trademark_rule))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields) == list(services.RULE_FIELDS)
    assert form["percent"].value() == Decimal("50.00")


def test_manager_changes_a_rules_percent_through_the_service(manager_in_admin, trademark_rule, rule_update_calls):
    before = _stored_rule(trademark_rule)

    response = manager_in_admin.post(_rule_change_url(trademark_rule), _rule_form(trademark_rule, percent="65.5"))

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    after = _stored_rule(trademark_rule)
    assert after["percent"] == Decimal("65.50")
    assert after["updated_at"] > before["updated_at"]
    assert {k: v for k, v in after.items() if k not in ("percent", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("percent", "updated_at")
    }
    [call] = rule_update_calls
    assert call["actor"].username == "staff_manager"
    assert call["rule"].pk == trademark_rule.pk
    assert call["data"] == {"percent": Decimal("65.5")}
    [change] = SupportRuleChange.objects.filter(programme=trademark_rule.programme)
    assert (change.kind, change.before, change.after, change.actor.username) == (
        "changed",
        {"percent": "50.00"},
        {"percent": "65.50"},
        "staff_manager",
    )


def test_manager_sets_a_rules_conditions_in_the_admin(manager_in_admin, trademark_rule, rule_update_calls):
    form = _rule_form(
        trademark_rule,
        province_codes='["68", "01"]',
        legal_forms='["cooperative"]',
        enterprise_year_cap="50000000",
        payment_trigger="certificate_granted",
        startup_required="on",
    )

    response = manager_in_admin.post(_rule_change_url(trademark_rule), form)

    assert response.status_code == 302
    after = _stored_rule(trademark_rule)
    assert (after["province_codes"], after["legal_forms"]) == (["68", "01"], ["cooperative"])
    assert (after["enterprise_year_cap"], after["payment_trigger"]) == (50_000_000, "certificate_granted")
    assert after["startup_required"] is True
    assert len(rule_update_calls) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"percent": "150"}, "percent"),
        ({"percent": "0"}, "percent"),
        ({"cap_amount": "0"}, "cap_amount"),
        ({"enterprise_year_cap": "-1"}, "enterprise_year_cap"),
        ({"max_items_per_enterprise": "0"}, "max_items_per_enterprise"),
        ({"legal_forms": '["partnership"]'}, "legal_forms"),
        ({"size_classes": '["micro", "micro"]'}, "size_classes"),
        ({"province_codes": '["99"]'}, "province_codes"),
        ({"payment_trigger": "on_signature"}, "payment_trigger"),
    ],
    ids=[
        "percent-150",
        "percent-zero",
        "cap-zero",
        "year-cap-negative",
        "max-items-zero",
        "unknown-legal-form",
        "duplicate-size-class",
        "not-a-province",
        "unknown-payment-trigger",
    ],
)
def test_bad_rule_in_the_admin_shows_the_form_again_with_the_error_and_changes_nothing(
    manager_in_admin, trademark_rule, rule_update_calls, change, field
):
    before = _stored_rule(trademark_rule)

    response = manager_in_admin.post(_rule_change_url(trademark_rule), _rule_form(trademark_rule, **change))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert _stored_rule(trademark_rule) == before
    assert rule_update_calls == []


@pytest.mark.parametrize(
    ("change", "field"),
    [({"legal_forms": "5"}, "legal_forms"), ({"province_codes": '[["68"]]'}, "province_codes")],
    ids=["legal-forms-not-a-list", "province-not-a-string"],
)
def test_rule_conditions_that_are_not_lists_of_codes_are_a_form_error(manager_in_admin, trademark_rule, change, field):
    before = _stored_rule(trademark_rule)

    response = manager_in_admin.post(_rule_change_url(trademark_rule), _rule_form(trademark_rule, **change))

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert _stored_rule(trademark_rule) == before


@pytest.mark.parametrize(("roles", "superuser"), [([Role.OFFICER], False), ([], True)], ids=["officer", "superuser"])
def test_staff_who_is_not_a_manager_may_view_a_rule_but_not_change_it(
    client, trademark_rule, rule_update_calls, roles, superuser
):
    user = _staff("staff_other", roles)
    user.is_superuser = superuser
    user.save()
    assert client.login(username="staff_other", password=PASSWORD)
    before = _stored_rule(trademark_rule)

    assert client.get(_rule_change_url(trademark_rule)).status_code == 200
    response = client.post(_rule_change_url(trademark_rule), _rule_form(trademark_rule, percent="90"))

    assert response.status_code == 403
    assert _stored_rule(trademark_rule) == before
    assert rule_update_calls == []


def test_rules_cannot_be_added_or_deleted_in_the_admin(manager_in_admin, trademark_rule):
    count = SupportRule.objects.count()
    add_url = reverse("admin:cases_supportrule_add")
    delete_url = reverse("admin:cases_supportrule_delete", args=[trademark_rule.pk])

    assert manager_in_admin.get(add_url).status_code == 403
    assert manager_in_admin.post(add_url, _rule_form(trademark_rule)).status_code == 403
    assert manager_in_admin.post(delete_url, {"post": "yes"}).status_code == 403
    assert SupportRule.objects.count() == count
    assert SupportRule.objects.filter(pk=trademark_rule.pk).exists()


def test_a_staff_manager_adds_a_calendar_day_off_in_the_admin(manager_in_admin):
    from cases.models import CalendarOverride

    response = manager_in_admin.post(
        reverse("admin:cases_calendaroverride_add"),
        {"date": "2026-06-02", "working": "", "note": "Quyết định của UBND tỉnh", "_save": "Save"},
    )

    assert response.status_code == 302, response.content
    override = CalendarOverride.objects.get()
    assert (override.date.isoformat(), override.working, override.created_by.username) == (
        "2026-06-02",
        False,
        "staff_manager",
    )


def test_an_override_keeps_its_date_in_the_admin(manager_in_admin, manager):
    from cases import services as case_services
    from cases.models import CalendarOverride

    override = case_services.calendar_override_set(actor=manager, date=dt.date(2026, 6, 2), working=False, note="Nghỉ")
    url = reverse("admin:cases_calendaroverride_change", args=[override.pk])
    response = manager_in_admin.post(url, {"date": "2026-06-03", "working": "on", "note": "Làm bù", "_save": "Save"})

    assert response.status_code == 302
    assert list(CalendarOverride.objects.values_list("date", "working", "note")) == [
        (dt.date(2026, 6, 2), True, "Làm bù")
    ]


def test_an_enterprises_verification_trail_is_shown_in_the_admin(admin_client_logged_in, enterprise, officer):
    from applicants import services as applicant_services

    applicant_services.enterprise_verify(actor=officer, enterprise=enterprise)
    enterprise.refresh_from_db()
    applicant_services.enterprise_update(actor=officer, enterprise=enterprise, data={"address": "5 Đường Mới"})

    page = admin_client_logged_in.get(reverse("admin:applicants_enterprise_change", args=[enterprise.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "verification_cleared" in html
    assert "5 Đường Mới" in html
