"""Errors of partner systems. `api.exceptions` maps each family to its HTTP status once."""

from __future__ import annotations

from common.exceptions import Conflict, DomainError, NotFound


class PartnerNotFound(NotFound):
    code = "partner_not_found"


class KeyNotFound(NotFound):
    code = "key_not_found"


class AlreadyAuthorised(Conflict):
    code = "already_authorised"


class InvalidKey(DomainError):
    """The API key is unknown, malformed, revoked or expired: the API answers 401."""

    code = "invalid_key"
