"""The workflow table and the function that applies it, below the HTTP layer."""

from __future__ import annotations

import logging

import pytest

from cases import services
from cases.exceptions import ConcurrentChange, NotAllowed, TransitionNotAllowed
from cases.models import Case, CaseEvent, CaseState
from cases.workflow import TRANSITIONS, Effect, apply_transition

pytestmark = pytest.mark.django_db


def test_every_state_but_the_final_ones_has_a_way_out():
    final = {CaseState.DISBURSED, CaseState.REJECTED, CaseState.WITHDRAWN, CaseState.CANCELLED}
    leaving = {state for t in TRANSITIONS.values() if t.target is not None for state in t.sources}
    assert leaving == set(CaseState) - final


def test_services_check_roles_without_the_api(case_in, applicant, other_applicant):
    case = case_in("submitted")
    with pytest.raises(NotAllowed):
        services.case_receive(case=case, actor=applicant)
    with pytest.raises(NotAllowed):
        services.case_approve(case=case, actor=applicant)
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED


def test_stale_copy_cannot_overwrite_a_newer_state(case_in, officer, applicant):
    case = case_in("in_review")
    stale = Case.objects.get(pk=case.pk)
    services.case_withdraw(case=case, actor=applicant)
    with pytest.raises(ConcurrentChange):
        apply_transition(case=stale, action="request-supplement", actor=officer, effect=Effect(data={"items": ["x"]}))
    case.refresh_from_db()
    assert case.state == CaseState.WITHDRAWN
    assert not CaseEvent.objects.filter(case=case, action="request-supplement").exists()


def test_wrong_state_raises_before_anything_is_written(case_in, officer):
    case = case_in("approved")
    with pytest.raises(TransitionNotAllowed):
        services.case_receive(case=case, actor=officer)
    assert case.version == Case.objects.get(pk=case.pk).version


def test_side_effects_run_only_after_commit(case_in, officer, django_capture_on_commit_callbacks, caplog):
    case = case_in("submitted")
    ran: list[str] = []
    with caplog.at_level(logging.INFO, logger="cases.workflow"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            apply_transition(
                case=case, action="receive", actor=officer, effect=Effect(on_commit=[lambda: ran.append("x")])
            )
        assert ran == []
        assert not [r for r in caplog.records if r.name == "cases.workflow"]
        for callback in callbacks:
            callback()
    assert ran == ["x"]
    assert any("receive" in r.getMessage() and str(case.pk) in r.getMessage() for r in caplog.records)


def test_a_failed_transaction_runs_no_side_effects(case_in, officer, django_capture_on_commit_callbacks):
    case = case_in("submitted")
    ran: list[str] = []
    stale = Case.objects.get(pk=case.pk)
    services.case_receive(case=case, actor=officer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ConcurrentChange):
        apply_transition(
            case=stale, action="receive", actor=officer, effect=Effect(on_commit=[lambda: ran.append("x")])
        )
    assert ran == []
    assert callbacks == []
