"""Races over real HTTP: a live server thread, real bearer tokens, simultaneous requests.

Runs on SQLite (WAL, IMMEDIATE transactions, busy timeout) and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from knox.models import AuthToken

from cases.models import Case, CaseEvent

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

N = 16


def _race(url: str, token: str, body: dict[str, object]) -> list[requests.Response]:
    barrier = threading.Barrier(N)

    def call(_: int) -> requests.Response:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            return session.post(url, json=body, timeout=60)

    with ThreadPoolExecutor(max_workers=N) as pool:
        return list(pool.map(call, range(N)))


def test_sixteen_simultaneous_receives_one_wins(live_server, case_in, officer):
    case = case_in("submitted")
    _instance, token = AuthToken.objects.create(user=officer)
    responses = _race(f"{live_server.url}/api/v1/cases/{case.pk}/receive/", token, {})
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: N - 1}, statuses
    for response in responses:
        if response.status_code == 409:
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert response.json()["code"] in {"concurrent_change", "transition_not_allowed"}
    assert CaseEvent.objects.filter(case=case, action="receive").count() == 1
    case.refresh_from_db()
    assert case.state == "in_review"
    assert case.version == 3  # create, submit, receive


def test_simultaneous_submits_get_unique_references(live_server, case_in, applicant):
    cases = [case_in("draft") for _ in range(N)]
    _instance, token = AuthToken.objects.create(user=applicant)
    barrier = threading.Barrier(N)

    def submit(case: Case) -> requests.Response:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            return session.post(f"{live_server.url}/api/v1/cases/{case.pk}/submit/", json={}, timeout=60)

    with ThreadPoolExecutor(max_workers=N) as pool:
        responses = list(pool.map(submit, cases))
    assert [r.status_code for r in responses] == [200] * N
    references = sorted(r.json()["reference"] for r in responses)
    assert len(set(references)) == N
    assert [int(ref.rsplit("-", 1)[1]) for ref in references] == list(range(1, N + 1))


def test_approve_and_reject_at_once_exactly_one_decides(live_server, case_in, manager, manager2):
    case = case_in("recommended")
    tokens = [AuthToken.objects.create(user=user)[1] for user in (manager, manager2)]
    barrier = threading.Barrier(2)

    def decide(args: tuple[str, str, dict[str, object]]) -> requests.Response:
        token, action, body = args
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            return session.post(f"{live_server.url}/api/v1/cases/{case.pk}/{action}/", json=body, timeout=60)

    calls = [(tokens[0], "approve", {}), (tokens[1], "reject", {"comment": "Không đạt"})]
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(decide, calls))
    assert sorted(r.status_code for r in responses) == [200, 409]
    case.refresh_from_db()
    winner = next(r for r in responses if r.status_code == 200).json()["state"]
    assert case.state == winner
    assert CaseEvent.objects.filter(case=case, action__in=["approve", "reject"]).count() == 1


def test_fifty_concurrent_approvals_never_overspend(live_server, case_in, manager, programme):
    from cases.selectors import programme_budget

    cases = [case_in("recommended") for _ in range(50)]  # each recommended at 10M
    programme.budget_total = 100_000_000  # fits exactly ten
    programme.save()
    _instance, token = AuthToken.objects.create(user=manager)
    barrier = threading.Barrier(len(cases))

    def approve(case: Case) -> requests.Response:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            return session.post(f"{live_server.url}/api/v1/cases/{case.pk}/approve/", json={}, timeout=120)

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        responses = list(pool.map(approve, cases))
    assert Counter(r.status_code for r in responses) == {200: 10, 409: 40}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"budget_exceeded"}
    budget = programme_budget(programme=programme)
    assert (budget.committed, budget.available) == (100_000_000, 0)
    assert Case.objects.filter(programme=programme, state="approved").count() == 10
