"""Who is calling: a person with a bearer token, or a partner system with an API key.

Both come as `Authorization: Bearer …`. A partner key starts with `ipk_`, so the partner
class answers for those and leaves every other token to knox. Each class remembers its
answer on the request, so the idempotency middleware, which needs the caller before the
view runs, and the view itself authenticate once between them.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.roles import grant_partner
from partners import services as partner_services
from partners.exceptions import InvalidKey

_MEMO = "_api_authentication"


def _django_request(request: Request | HttpRequest) -> HttpRequest:
    return getattr(request, "_request", request)


class PartnerKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer ipk_…`: a partner system's API key (see docs/partners.md).
    Sets the request's principal to the key's scopes and the partner's reach."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword:
            return None
        try:
            raw = parts[1].decode()
        except UnicodeDecodeError:
            return None
        if not raw.startswith(partner_services.KEY_MARK):
            return None
        django_request = _django_request(request)
        memo = getattr(django_request, _MEMO, None)
        if memo is not None and memo[0] == raw:
            return memo[1]  # type: ignore[no-any-return]
        try:
            key = partner_services.key_authenticate(raw=raw)
        except InvalidKey as exc:
            raise exceptions.AuthenticationFailed(str(exc.message)) from None
        user = key.partner.user
        grant_partner(user, partner_services.grant_for(key))
        setattr(django_request, _MEMO, (raw, (user, key)))
        return user, key

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>` (REST_KNOX AUTH_HEADER_PREFIX); 401s carry
    `WWW-Authenticate: Bearer`."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request)
        parts = header.split()
        if parts and parts[0].lower() == self.authenticate_header(request).lower().encode():
            try:
                header.decode()
            except UnicodeDecodeError:
                # knox decodes the token as UTF-8 unguarded (a 500); header bytes arrive as
                # they were sent (WSGI hands them over as latin-1).
                raise exceptions.AuthenticationFailed(
                    _("Invalid token header. Token string should not contain invalid characters.")
                ) from None
        django_request = _django_request(request)
        memo = getattr(django_request, _MEMO, None)
        if memo is not None and memo[0] == header:
            return memo[1]  # type: ignore[no-any-return]
        result = super().authenticate(request)
        if result is not None:
            setattr(django_request, _MEMO, (header, result))
        return result  # type: ignore[no-any-return]

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        # knox also loads and sweeps every other token of the user on each request, a query
        # that grows with the user's sessions; expired ones are swept at login instead.
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False
