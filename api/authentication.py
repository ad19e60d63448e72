"""Bearer tokens: knox stores only a SHA-512 digest of each token, with an expiry."""

from knox.auth import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>` (REST_KNOX AUTH_HEADER_PREFIX); 401s carry
    `WWW-Authenticate: Bearer`."""
