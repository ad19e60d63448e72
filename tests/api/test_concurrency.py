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


def _post_each_at_once(live_server, token: str, cases: list[Case], action: str) -> list[requests.Response]:  # type: ignore[no-untyped-def]
    """POST `action` on every case at the same moment, one thread and connection each."""
    barrier = threading.Barrier(len(cases))

    def call(case: Case) -> requests.Response:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            return session.post(f"{live_server.url}/api/v1/cases/{case.pk}/{action}/", json={}, timeout=120)

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        return list(pool.map(call, cases))


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
    assert case.version == 4  # create, submit, receive, its receipt slip


def test_simultaneous_submits_get_unique_references(live_server, case_in, applicant):
    cases = [case_in("draft") for _ in range(N)]
    _instance, token = AuthToken.objects.create(user=applicant)
    responses = _post_each_at_once(live_server, token, cases, "submit")
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

    responses = _post_each_at_once(live_server, token, cases, "approve")

    assert Counter(r.status_code for r in responses) == {200: 10, 409: 40}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"budget_exceeded"}
    budget = programme_budget(programme=programme)
    assert (budget.committed, budget.available) == (100_000_000, 0)
    assert Case.objects.filter(programme=programme, state="approved").count() == 10


def _trademark_rule(programme, **values: object) -> None:  # type: ignore[no-untyped-def]
    from cases.models import SupportRule

    SupportRule.objects.filter(programme=programme, support_type="trademark").update(**values)


def test_concurrent_approvals_never_exceed_the_enterprise_yearly_cap(live_server, case_in, manager, programme):
    cases = [case_in("recommended") for _ in range(20)]  # one enterprise, each recommended at 10M
    _trademark_rule(programme, enterprise_year_cap=50_000_000)  # fits exactly five
    _instance, token = AuthToken.objects.create(user=manager)

    responses = _post_each_at_once(live_server, token, cases, "approve")

    assert Counter(r.status_code for r in responses) == {200: 5, 400: 15}
    refusals = [r.json() for r in responses if r.status_code == 400]
    assert {(body["errors"][0]["code"], body["limit"]) for body in refusals} == {
        ("above_supportable", "enterprise_year_cap")
    }
    approved = Case.objects.filter(programme=programme, state="approved")
    assert sum(case.approved_amount or 0 for case in approved) == 50_000_000
    assert Case.objects.filter(programme=programme, state="recommended").count() == 15


def test_concurrent_submissions_never_exceed_the_enterprise_item_count(live_server, case_in, applicant, programme):
    drafts = [case_in("draft") for _ in range(N)]
    _trademark_rule(programme, max_items_per_enterprise=3)
    _instance, token = AuthToken.objects.create(user=applicant)

    responses = _post_each_at_once(live_server, token, drafts, "submit")

    assert Counter(r.status_code for r in responses) == {200: 3, 409: N - 3}
    for response in responses:
        if response.status_code == 409:
            failed = [check["code"] for check in response.json()["checks"] if not check["passed"]]
            assert (response.json()["code"], failed) == ("ineligible", ["item_count"])
    assert Case.objects.filter(programme=programme, state="submitted").count() == 3
    assert Case.objects.filter(programme=programme, state="draft", reference__isnull=True).count() == N - 3


def test_concurrent_approvals_never_exceed_a_lowered_item_count(live_server, case_in, manager, programme):
    cases = [case_in("recommended") for _ in range(12)]
    _trademark_rule(programme, max_items_per_enterprise=4)  # lowered while twelve are in review
    _instance, token = AuthToken.objects.create(user=manager)

    responses = _post_each_at_once(live_server, token, cases, "approve")

    assert Counter(r.status_code for r in responses) == {200: 4, 400: 8}
    assert {r.json()["limit"] for r in responses if r.status_code == 400} == {"item_count"}
    assert Case.objects.filter(programme=programme, state="approved").count() == 4


def test_simultaneous_uploads_all_land_until_the_per_case_limit(live_server, case_in, applicant, settings):
    from cases.models import Document
    from tests.factories import PDF

    settings.DOCUMENTS_MAX_PER_CASE = 3
    case = case_in("draft")
    _instance, token = AuthToken.objects.create(user=applicant)
    barrier = threading.Barrier(8)

    def upload(n: int) -> requests.Response:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            return session.post(
                f"{live_server.url}/api/v1/cases/{case.pk}/documents/",
                data={"kind": "invoice"},
                files={"file": (f"hoa-don-{n}.pdf", PDF, "application/pdf")},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(upload, range(8)))

    assert Counter(r.status_code for r in responses) == {201: 3, 409: 5}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"too_many_documents"}
    assert Document.objects.filter(case=case).count() == 3
    assert CaseEvent.objects.filter(case=case, action="document_upload").count() == 3
