"""Bearer tokens: knox stores only a SHA-512 digest of each token, with an expiry."""

from __future__ import annotations

from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.models import AuthToken


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>` (REST_KNOX AUTH_HEADER_PREFIX); 401s carry
    `WWW-Authenticate: Bearer`."""

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        # knox also loads and sweeps every other token of the user on each request, a query
        # that grows with the user's sessions; expired ones are swept at login instead.
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False
