"""The permission matrix: every endpoint × method × persona → the status it answers.

The routes come from the URL conf, so a new endpoint (or a new method on a view) fails
`test_every_endpoint_has_a_row` until it gets a row in MATRIX. Each row is exercised with
objects in a state where the call is possible and with an empty or minimal body, so the
status says what authorisation decided: 401 (no credentials), 403 (a role or a scope that
may not), 404 (an object the caller may not see: never a 403), and anything else (2xx,
400, 409) means the caller got through. Every persona's call runs in a savepoint that is
rolled back, so they all meet the same objects.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from api import urls as api_urls
from applicants.models import Enterprise
from cases import services as case_services
from cases.models import CalendarOverride, Case, CaseState, DocumentKind, Programme
from cases.workflow import TRANSITIONS
from partners import services as partner_services
from partners.models import Partner, Scope
from tests.factories import PDF, make_case, make_partner, record_valid_application, valid_tax_code
from webhooks import services as webhook_services

PERSONAS = ("anonymous", "applicant", "other_applicant", "officer", "manager", "partner", "partner_lacking_scope")
METHODS = ("get", "post", "put", "patch", "delete")

# (route name, method) → the status for each persona, in PERSONAS order:
#   anonymous, applicant (member of the case's enterprise), other applicant (another firm),
#   officer, manager, partner (access=all, every scope), partner lacking the call's scope.
# Bodies are empty or minimal, so 400 means "got through to validation".
# fmt: off
MATRIX: dict[tuple[str, str], tuple[int, ...]] = {
    # public: the health check, the schema and its viewers
    ("health", "GET"):                          (200, 200, 200, 200, 200, 200, 200),
    ("schema", "GET"):                          (200, 200, 200, 200, 200, 200, 200),
    ("docs", "GET"):                            (200, 200, 200, 200, 200, 200, 200),
    ("redoc", "GET"):                           (200, 200, 200, 200, 200, 200, 200),
    ("token", "POST"):                          (400, 400, 400, 400, 400, 400, 400),
    ("logout", "POST"):                         (401, 204, 204, 204, 204, 403, 403),
    ("me", "GET"):                              (401, 200, 200, 200, 200, 200, 200),
    # enterprises
    ("enterprise-list", "GET"):                 (401, 200, 200, 200, 200, 403, 403),
    ("enterprise-list", "POST"):                (401, 201, 201, 403, 403, 403, 403),
    ("enterprise-detail", "GET"):               (401, 200, 404, 200, 200, 404, 404),
    ("enterprise-detail", "PATCH"):             (401, 200, 404, 200, 200, 404, 404),
    ("enterprise-verify", "POST"):              (401, 403, 404, 200, 403, 404, 404),
    ("enterprise-partners", "GET"):             (401, 200, 404, 200, 200, 404, 404),
    ("enterprise-partners", "POST"):            (401, 201, 404, 403, 403, 404, 404),
    ("enterprise-partner", "DELETE"):           (401, 204, 404, 403, 204, 404, 404),
    # partner systems and their keys (managers)
    ("partner-list", "GET"):                    (401, 200, 200, 200, 200, 200, 200),
    ("partner-list", "POST"):                   (401, 403, 403, 403, 400, 403, 403),
    ("partner-detail", "GET"):                  (401, 200, 200, 200, 200, 200, 200),
    ("partner-detail", "PATCH"):                (401, 403, 403, 403, 200, 403, 403),
    ("partner-keys", "GET"):                    (401, 403, 403, 403, 200, 403, 403),
    ("partner-keys", "POST"):                   (401, 403, 403, 403, 400, 403, 403),
    ("partner-key-revoke", "POST"):             (401, 403, 403, 403, 200, 403, 403),
    ("partner-events", "GET"):                  (401, 403, 403, 403, 200, 403, 403),
    # webhooks: a partner system with the scope manages its own; managers read every one;
    # other people may not use them at all (a 403 for the role, whatever the id)
    ("webhook-list", "GET"):                    (401, 403, 403, 403, 200, 200, 403),
    ("webhook-list", "POST"):                   (401, 403, 403, 403, 403, 400, 403),
    ("webhook-detail", "GET"):                  (401, 403, 403, 403, 200, 200, 403),
    ("webhook-detail", "PATCH"):                (401, 403, 403, 403, 403, 200, 403),
    ("webhook-detail", "DELETE"):               (401, 403, 403, 403, 403, 204, 403),
    ("webhook-rotate-secret", "POST"):          (401, 403, 403, 403, 403, 200, 403),
    ("webhook-ping", "POST"):                   (401, 403, 403, 403, 403, 202, 403),
    ("webhook-deliveries", "GET"):              (401, 403, 403, 403, 200, 200, 403),
    ("webhook-delivery", "GET"):                (401, 403, 403, 403, 200, 200, 403),
    ("webhook-redeliver", "POST"):              (401, 403, 403, 403, 403, 409, 403),
    # programmes, rules and the calendar (everyone reads, managers change)
    ("programme-list", "GET"):                  (401, 200, 200, 200, 200, 200, 403),
    ("programme-list", "POST"):                 (401, 403, 403, 403, 400, 403, 403),
    ("programme-detail", "GET"):                (401, 200, 200, 200, 200, 200, 403),
    ("programme-detail", "PATCH"):              (401, 403, 403, 403, 200, 403, 403),
    ("programme-budget", "GET"):                (401, 200, 200, 200, 200, 403, 403),
    ("programme-rule-changes", "GET"):          (401, 200, 200, 200, 200, 200, 403),
    ("programme-rule", "GET"):                  (401, 200, 200, 200, 200, 200, 403),
    ("programme-rule", "PATCH"):                (401, 403, 403, 403, 200, 403, 403),
    ("calendar-overrides", "GET"):              (401, 200, 200, 200, 200, 403, 403),
    ("calendar-overrides", "POST"):             (401, 403, 403, 403, 400, 403, 403),
    ("calendar-override", "DELETE"):            (401, 403, 403, 403, 204, 403, 403),
    # cases: drafts are their enterprise's alone, so officers and partners get a 404 for them
    ("case-list", "GET"):                       (401, 200, 200, 200, 200, 200, 403),
    ("case-list", "POST"):                      (401, 201, 400, 403, 403, 403, 403),
    ("case-detail", "GET"):                     (401, 200, 404, 200, 200, 200, 403),
    ("case-detail", "PATCH"):                   (401, 200, 404, 404, 404, 404, 404),
    ("case-detail", "DELETE"):                  (401, 204, 404, 404, 404, 404, 404),
    ("case-events", "GET"):                     (401, 200, 404, 200, 200, 200, 403),
    ("case-cost-lines", "GET"):                 (401, 200, 404, 200, 200, 403, 403),
    ("case-cost-lines", "PUT"):                 (401, 400, 404, 404, 404, 404, 404),
    ("case-eligibility", "GET"):                (401, 200, 404, 200, 200, 200, 403),
    ("case-checklist", "GET"):                  (401, 200, 404, 200, 200, 200, 403),
    ("case-filing", "GET"):                     (401, 200, 404, 200, 200, 200, 403),
    ("case-filing", "PUT"):                     (401, 400, 404, 400, 403, 400, 403),
    ("case-milestones", "GET"):                 (401, 200, 404, 200, 200, 200, 403),
    ("case-milestones", "POST"):                (401, 400, 404, 400, 403, 400, 403),
    ("case-claim-allowances", "POST"):          (401, 403, 404, 403, 201, 403, 403),
    ("case-documents", "GET"):                  (401, 200, 404, 200, 200, 200, 403),
    ("case-documents", "POST"):                 (401, 400, 404, 404, 404, 404, 404),
    ("case-document", "GET"):                   (401, 200, 404, 200, 200, 200, 403),
    ("case-document-download", "GET"):          (401, 200, 404, 200, 200, 200, 403),
    # workflow actions, each on a case in the action's first source state
    ("case-submit", "POST"):                    (401, 200, 404, 404, 404, 404, 404),
    ("case-receive", "POST"):                   (401, 403, 404, 200, 403, 403, 403),
    ("case-request-supplement", "POST"):        (401, 403, 404, 400, 403, 403, 403),
    ("case-resubmit", "POST"):                  (401, 200, 404, 403, 403, 403, 403),
    ("case-recommend", "POST"):                 (401, 403, 404, 400, 403, 403, 403),
    ("case-approve", "POST"):                   (401, 403, 404, 403, 200, 403, 403),
    ("case-reject", "POST"):                    (401, 403, 404, 403, 400, 403, 403),
    ("case-return", "POST"):                    (401, 403, 404, 403, 400, 403, 403),
    ("case-withdraw", "POST"):                  (401, 200, 404, 403, 403, 403, 403),
    ("case-disburse", "POST"):                  (401, 403, 404, 400, 400, 400, 403),
    ("case-cancel", "POST"):                    (401, 403, 404, 403, 400, 403, 403),
    ("case-assign", "POST"):                    (401, 403, 404, 403, 400, 403, 403),
    ("case-reschedule", "POST"):                (401, 403, 404, 409, 403, 403, 403),
}
# fmt: on

# Partner endpoints: the scope the "lacking" key does not have. Elsewhere it holds only
# `cases:read`, so a call that takes any live key still passes with it.
NEEDED_SCOPE: dict[tuple[str, str], str] = {
    **{
        (name, "GET"): Scope.CASES_READ
        for name in (
            "programme-list",
            "programme-detail",
            "programme-rule",
            "programme-rule-changes",
            "case-list",
            "case-detail",
            "case-events",
            "case-checklist",
            "case-eligibility",
            "case-documents",
            "case-document",
            "case-document-download",
            "case-filing",
            "case-milestones",
        )
    },
    ("case-filing", "PUT"): Scope.MILESTONES_WRITE,
    ("case-milestones", "POST"): Scope.MILESTONES_WRITE,
    ("case-disburse", "POST"): Scope.PAYMENTS_WRITE,
    **{key: Scope.WEBHOOKS for key in MATRIX if key[0].startswith("webhook-")},
}

# Where a call on a case is possible: by default a submitted case (past draft, so officers
# and partners see it) holding one uploaded document.
DRAFT_CALLS = {
    ("case-detail", "PATCH"),
    ("case-detail", "DELETE"),
    ("case-cost-lines", "PUT"),
    ("case-documents", "POST"),
}
# Reads of what the IP office recorded need a filing to read.
FILED_CALLS = {("case-filing", "GET"), ("case-milestones", "GET")}
# These views read the body before the service checks the role, so an empty body would
# be a 400 whoever calls: they get a valid one, so that the role's answer shows.
BODIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    ("enterprise-list", "POST"): lambda world: {
        "name": "Công ty TNHH Mới",
        "tax_code": valid_tax_code(),
        "legal_form": "enterprise",
        "province_code": "68",
        "ward_code": "24781",
        "address": "2 Trần Phú",
    },
    ("enterprise-partners", "POST"): lambda world: {
        "partner": str(make_partner(name="Đại diện SHTT mới", created_by=world.manager)[0].pk)
    },
    ("case-list", "POST"): lambda world: {
        "enterprise": str(world.enterprise.pk),
        "programme": world.programme.code,
        "support_type": "trademark",
        "title": "Nhãn hiệu mới",
        "requested_amount": 10_000_000,
    },
    ("case-claim-allowances", "POST"): lambda world: {
        "kind": "application_number",
        "number": "4-2026-00001",
        "reason": "Cùng chủ đơn.",
    },
}
MULTIPART_CALLS = {("case-documents", "POST"), ("case-milestones", "POST")}


def routes() -> list[tuple[str, str]]:
    """Every (route name, method) the API's URL conf serves, from the views themselves."""
    found = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), pattern
        assert pattern.name, pattern
        view = getattr(pattern.callback, "cls", None) or pattern.callback.view_class  # type: ignore[attr-defined]
        found += [(pattern.name, method.upper()) for method in METHODS if hasattr(view, method)]
    return found


def test_every_endpoint_has_a_row() -> None:
    served = set(routes())
    assert served - set(MATRIX) == set(), "endpoints without a row in MATRIX"
    assert set(MATRIX) - served == set(), "rows in MATRIX for endpoints that no longer exist"
    assert all(len(statuses) == len(PERSONAS) for statuses in MATRIX.values())
    assert set(NEEDED_SCOPE) <= set(MATRIX)


def _action_state(action: str) -> CaseState:
    """The first of the action's source states, in the order of CaseState."""
    sources = TRANSITIONS[action].sources
    return next(state for state in CaseState if state in sources)


@dataclass
class World:
    """The objects the calls need, built once per test, only those it needs."""

    applicant: User
    officer: User
    manager: User
    enterprise: Enterprise
    programme: Programme
    portal: Partner

    def kwargs(self, name: str, method: str) -> dict[str, Any]:
        """The URL arguments for this call, creating what they point at."""
        if name.startswith("case-") and name != "case-list":
            return self._case_kwargs(name, method)
        if name.startswith("enterprise-") and name != "enterprise-list":
            kwargs: dict[str, Any] = {"pk": self.enterprise.pk}
            if name == "enterprise-partner":
                agent, _raw = make_partner(name="Đại diện SHTT", enterprises=[self.enterprise], created_by=self.manager)
                kwargs["partner_id"] = agent.pk
            return kwargs
        if name.startswith("partner-") and name != "partner-list":
            kwargs = {"pk": self.portal.pk}
            if name == "partner-key-revoke":
                spare, _raw = partner_services.key_create(
                    actor=self.manager, partner=self.portal, name="spare", scopes=[Scope.CASES_READ]
                )
                kwargs["key_id"] = spare.pk
            return kwargs
        if name.startswith("webhook-") and name != "webhook-list":
            return self._webhook_kwargs(name)
        if name.startswith("programme-") and name != "programme-list":
            kwargs = {"code": self.programme.code}
            if name == "programme-rule":
                kwargs["support_type"] = "trademark"
            return kwargs
        if name == "calendar-override":
            day = dt.date(timezone.localdate().year, 12, 26)
            CalendarOverride.objects.create(date=day, working=False, note="Nghỉ bù", created_by=self.manager)
            return {"date": day.isoformat()}
        return {}

    def _case_kwargs(self, name: str, method: str) -> dict[str, Any]:
        action = name.removeprefix("case-")
        if action in TRANSITIONS:
            state: str = _action_state(action)
        elif (name, method) in DRAFT_CALLS:
            state = CaseState.DRAFT
        else:
            state = CaseState.SUBMITTED
        case = make_case(
            state=CaseState.DRAFT,
            member=self.applicant,
            enterprise=self.enterprise,
            programme=self.programme,
            officer=self.officer,
            manager=self.manager,
        )
        document = case_services.document_upload(
            case=case,
            actor=self.applicant,
            kind=DocumentKind.APPLICATION_FORM,
            file=SimpleUploadedFile("don.pdf", PDF, "application/pdf"),
            name="don.pdf",
        )
        case = _walk(case, state, self)
        if (name, method) in FILED_CALLS:
            record_valid_application(case, self.applicant)
        kwargs: dict[str, Any] = {"pk": case.pk}
        if name in ("case-document", "case-document-download"):
            kwargs["document_id"] = document.pk
        return kwargs

    def _webhook_kwargs(self, name: str) -> dict[str, Any]:
        from tests.webhooks.conftest import as_partner

        user = as_partner(self.portal)
        subscription, _secret = webhook_services.subscription_create(
            actor=user, url="http://127.0.0.1:9/ip", event_types=["case.state_changed"]
        )
        kwargs: dict[str, Any] = {"pk": subscription.pk}
        if name in ("webhook-delivery", "webhook-redeliver"):
            kwargs["delivery_id"] = webhook_services.subscription_ping(actor=user, subscription=subscription).pk
        return kwargs


def _walk(case: Case, state: str, world: World) -> Case:
    """A draft taken to `state` the way tests/factories.make_case does."""
    applicant, officer, manager = world.applicant, world.officer, world.manager
    if state == CaseState.DRAFT:
        return case
    case = case_services.case_submit(case=case, actor=applicant)
    if state == CaseState.SUBMITTED:
        return case
    case = case_services.case_receive(case=case, actor=officer)
    if state == CaseState.IN_REVIEW:
        return case
    if state == CaseState.AWAITING_SUPPLEMENT:
        return case_services.case_request_supplement(case=case, actor=officer, items=["Giấy phép kinh doanh"])
    case = case_services.case_recommend(case=case, actor=officer, outcome="approve", amount=10_000_000, comment="Đạt.")
    if state == CaseState.RECOMMENDED:
        return case
    record_valid_application(case, applicant)
    case = case_services.case_approve(case=case, actor=manager)
    assert state == CaseState.APPROVED, state
    return case


@pytest.fixture
def world(applicant: User, officer: User, manager: User, enterprise: Enterprise, programme: Programme) -> World:
    portal, _raw = make_partner(name="Cổng dịch vụ công tỉnh", access="all", created_by=manager)
    return World(applicant, officer, manager, enterprise, programme, portal)


def _clients(
    name: str,
    method: str,
    world: World,
    other_applicant: User,
    client_for: Callable[..., APIClient],
) -> dict[str, APIClient]:
    portal_key = partner_services.key_create(
        actor=world.manager, partner=world.portal, name="matrix", scopes=list(Scope.values)
    )[1]
    needed = NEEDED_SCOPE.get((name, method))
    lacking = [scope for scope in Scope.values if scope != needed] if needed else [Scope.CASES_READ]
    lacking_key = partner_services.key_create(
        actor=world.manager, partner=world.portal, name="lacking", scopes=lacking
    )[1]
    return {
        "anonymous": client_for(None),
        "applicant": client_for(world.applicant),
        "other_applicant": client_for(other_applicant),
        "officer": client_for(world.officer),
        "manager": client_for(world.manager),
        "partner": _key_client(portal_key),
        "partner_lacking_scope": _key_client(lacking_key),
    }


def _key_client(raw: str) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _call(client: APIClient, name: str, method: str, kwargs: dict[str, Any], body: dict[str, Any]) -> int:
    url = reverse(f"api:{name}", kwargs=kwargs)
    with transaction.atomic():
        if method == "GET":
            response = client.get(url)
        elif (name, method) in MULTIPART_CALLS:
            response = client.generic(method, url, "", content_type="multipart/form-data; boundary=x")
        else:
            response = client.generic(method, url, json.dumps(body), content_type="application/json")
        transaction.set_rollback(True)  # the next persona meets the same objects
    return response.status_code


@pytest.mark.parametrize(("name", "method"), sorted(MATRIX))
def test_permission_matrix(
    name: str,
    method: str,
    world: World,
    other_applicant: User,
    client_for: Callable[..., APIClient],
    settings: Any,
) -> None:
    settings.WEBHOOKS_ALLOW_HTTP = True  # the subscription's receiver: this machine, never called
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    kwargs = world.kwargs(name, method)
    clients = _clients(name, method, world, other_applicant, client_for)
    make_body = BODIES.get((name, method))
    body = make_body(world) if make_body else {}
    answered = {persona: _call(clients[persona], name, method, kwargs, body) for persona in PERSONAS}
    assert answered == dict(zip(PERSONAS, MATRIX[name, method], strict=True))


def test_another_firm_never_learns_that_its_objects_exist() -> None:
    """The table itself keeps the rule: a case or an enterprise of another firm is a 404."""
    other = PERSONAS.index("other_applicant")
    for (name, method), statuses in MATRIX.items():
        if name.startswith(("case-", "enterprise-")) and name not in ("case-list", "enterprise-list"):
            assert statuses[other] == 404, (name, method)
