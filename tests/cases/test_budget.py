"""The programme budget ledger: approvals hold money, payments spend it, cancels release it."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases import services
from cases.models import BudgetEntry, LedgerKind
from cases.selectors import programme_budget

pytestmark = pytest.mark.django_db


def _budget(client, programme):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/programmes/{programme.code}/budget/")
    assert response.status_code == 200
    return response.json()


def test_budget_follows_approve_partial_payment_and_cancel(client_for, case_in, officer, manager, programme):
    client = client_for(officer)
    assert _budget(client, programme) == {
        "programme": "shtt-test", "total": 1_000_000_000, "committed": 0, "disbursed": 0,
        "available": 1_000_000_000, "by_support_type": [],
    }  # fmt: skip
    approved = case_in("approved")  # 10M held
    paid = case_in("approved", support_type="patent")
    services.case_disburse(
        case=paid, actor=officer, amount=7_000_000, paid_on=timezone.localdate(), payment_reference="UNC-2"
    )  # 7M paid, 3M released
    body = _budget(client, programme)
    assert (body["committed"], body["disbursed"], body["available"]) == (10_000_000, 7_000_000, 983_000_000)
    assert body["by_support_type"] == [
        {"support_type": "patent", "committed": 0, "disbursed": 7_000_000},
        {"support_type": "trademark", "committed": 10_000_000, "disbursed": 0},
    ]
    services.case_cancel(case=approved, actor=manager, comment="Huỷ")
    body = _budget(client, programme)
    assert (body["committed"], body["disbursed"], body["available"]) == (0, 7_000_000, 993_000_000)
    kinds = list(BudgetEntry.objects.filter(case=paid).order_by("at").values_list("kind", "amount"))
    assert kinds == [(LedgerKind.COMMIT, 10_000_000), (LedgerKind.SPEND, 7_000_000), (LedgerKind.RELEASE, 3_000_000)]


def test_budget_of_unknown_programme_is_404_and_anonymous_401(client_for, officer):
    assert client_for(officer).get("/api/v1/programmes/nope/budget/").status_code == 404
    assert client_for(None).get("/api/v1/programmes/nope/budget/").status_code == 401


def test_approval_is_refused_when_the_ledger_leaves_too_little(client_for, case_in, manager, programme):
    case_in("approved")  # holds 10M
    programme.budget_total = 15_000_000
    programme.save()
    second = case_in("recommended")  # recommended 10M, 5M available
    response = client_for(manager).post(f"/api/v1/cases/{second.pk}/approve/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "budget_exceeded"
    assert response.json()["available"] == 5_000_000
    assert programme_budget(programme=programme).committed == 10_000_000


def test_ledger_entries_are_append_only(case_in):
    entry = BudgetEntry.objects.get(case=case_in("approved"))
    with pytest.raises(RuntimeError):
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()


def test_check_budget_passes_when_the_ledger_agrees_and_fails_when_it_does_not(case_in, manager, capsys):
    case = case_in("disbursed")
    case_in("cancelled")
    call_command("check_budget")
    assert "agrees" in capsys.readouterr().out
    BudgetEntry.objects.create(
        programme_id=case.programme_id, case=case, support_type=case.support_type,
        kind=LedgerKind.COMMIT, amount=1, at=timezone.now(), actor=manager,
    )  # fmt: skip
    with pytest.raises(CommandError):
        call_command("check_budget")
    assert case.reference in capsys.readouterr().err
