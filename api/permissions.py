"""What a partner system may call, as one table.

A partner's key opens only the endpoints listed here, each for a scope; everything else
is a 403 for a partner, whatever its scopes (a 404 when the case or enterprise in the URL
is one it may not see at all). People are not affected: their roles are
checked by the services. The services check the write scopes again (milestones,
payments, webhooks), so the table is the first gate, not the only one.
"""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import User
from accounts.roles import Role, principal_for
from applicants import selectors as applicant_selectors
from cases import selectors as case_selectors
from partners.models import Scope

ANY_SCOPE = "*"

# URL name → HTTP method → the scope it needs (ANY_SCOPE: any live key).
PARTNER_ENDPOINTS: dict[str, dict[str, str]] = {
    "me": {"GET": ANY_SCOPE},
    "partner-list": {"GET": ANY_SCOPE},
    "partner-detail": {"GET": ANY_SCOPE},
    "programme-list": {"GET": Scope.CASES_READ},
    "programme-detail": {"GET": Scope.CASES_READ},
    "programme-rule": {"GET": Scope.CASES_READ},
    "programme-rule-changes": {"GET": Scope.CASES_READ},
    "case-list": {"GET": Scope.CASES_READ},
    "case-detail": {"GET": Scope.CASES_READ},
    "case-events": {"GET": Scope.CASES_READ},
    "case-checklist": {"GET": Scope.CASES_READ},
    "case-eligibility": {"GET": Scope.CASES_READ},
    "case-documents": {"GET": Scope.CASES_READ},
    "case-document": {"GET": Scope.CASES_READ},
    "case-document-download": {"GET": Scope.CASES_READ},
    "case-filing": {"GET": Scope.CASES_READ, "PUT": Scope.MILESTONES_WRITE},
    "case-milestones": {"GET": Scope.CASES_READ, "POST": Scope.MILESTONES_WRITE},
    "case-disburse": {"POST": Scope.PAYMENTS_WRITE},
    "webhook-list": {"GET": Scope.WEBHOOKS, "POST": Scope.WEBHOOKS},
    "webhook-detail": {"GET": Scope.WEBHOOKS, "PATCH": Scope.WEBHOOKS, "DELETE": Scope.WEBHOOKS},
    "webhook-rotate-secret": {"POST": Scope.WEBHOOKS},
    "webhook-ping": {"POST": Scope.WEBHOOKS},
    "webhook-deliveries": {"GET": Scope.WEBHOOKS},
    "webhook-delivery": {"GET": Scope.WEBHOOKS},
    "webhook-redeliver": {"POST": Scope.WEBHOOKS},
}


def scope_for(url_name: str | None, method: str) -> str | None:
    """The scope a partner needs for this call, or None when partners may not make it."""
    methods = PARTNER_ENDPOINTS.get(url_name or "", {})
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return methods.get(method)


class PartnerScopes(BasePermission):
    """A partner's key must carry the scope the endpoint needs (403 otherwise)."""

    message: Any = _("This API key does not permit this call.")

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return True  # IsAuthenticated answers first
        principal = principal_for(request.user)
        if principal.partner is None and not principal.has(Role.PARTNER):
            return True  # a person: the services check roles
        # A partner system; signed in any other way than with a key, it has no scopes.
        match = request.resolver_match
        needed = scope_for(match.url_name if match else None, request.method or "GET")
        if needed is not None and (needed == ANY_SCOPE or principal.may(needed)):
            return True
        _require_visible(request)
        if needed is None:
            self.message = _("Partner systems cannot use this endpoint.")
        else:
            self.message = _("This API key lacks the scope “%(scope)s” this call needs.") % {"scope": needed}
        return False


def _require_visible(request: Request) -> None:
    """Before refusing a partner, 404 for a case or an enterprise it may not see at all:
    an invisible object is never a 403 (API.md), whatever the endpoint."""
    match = request.resolver_match
    if match is None or "pk" not in match.kwargs:
        return
    name = match.url_name or ""
    user = cast(User, request.user)  # authenticated: has_permission checked it
    if name.startswith("case-"):
        case_selectors.case_get_visible(user=user, case_id=match.kwargs["pk"])
    elif name.startswith("enterprise-"):
        applicant_selectors.enterprise_get_visible(user=user, enterprise_id=match.kwargs["pk"])


def reads_cases(user: User) -> bool:
    """Whether the caller may see a case's content in a write's answer: a person (the
    selectors scope what), or a partner whose key carries `cases:read`. A partner's write
    scopes open the write, not the case: without `cases:read` the answer is a receipt."""
    principal = principal_for(user)
    if principal.partner is None and not principal.has(Role.PARTNER):
        return True
    return principal.may(Scope.CASES_READ)


def answers_partners_with_a_receipt(url_name: str, method: str) -> bool:
    """A write a partner may make with a scope other than `cases:read`, whose answer is
    the case: for those the schema declares the whole case or the receipt."""
    return scope_for(url_name, method) not in (None, ANY_SCOPE, Scope.CASES_READ)
