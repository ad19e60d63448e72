"""Standard Webhooks secrets and signatures, and the secrets' encryption at rest.

A secret is `whsec_` followed by the base64 of 32 random bytes; the signature of a
message is `v1,` + base64(HMAC-SHA256(secret bytes, "{webhook-id}.{webhook-timestamp}.{body}")),
as https://www.standardwebhooks.com specifies, so receivers can verify it with any of its
libraries. The code here is our own on purpose: the tests verify it with the reference
library.

The relay must read a secret to sign with it, so it is kept encrypted (Fernet), not
digested, with keys from WEBHOOKS_ENCRYPTION_KEY: the first encrypts, all of them
decrypt, so a new key can be put in front of the old one and the rows re-encrypted later.
Without it, the keys are derived from SECRET_KEY (which encrypts) and each of
SECRET_KEY_FALLBACKS (which decrypt), so rotating SECRET_KEY the Django way keeps the
stored secrets readable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>` for one message as sent at `timestamp` (seconds since the epoch)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key_bytes(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(*, signing_secrets: list[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one signature per secret, separated by spaces (the
    current secret first, then the previous one while a rotation is under way)."""
    return " ".join(
        signature(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body) for secret in signing_secrets
    )


def headers_for(*, signing_secrets: list[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            signing_secrets=signing_secrets, webhook_id=webhook_id, timestamp=timestamp, body=body
        ),
    }


# --- Encryption at rest -------------------------------------------------------------------


def _fernet_key(material: str) -> bytes:
    """Any string becomes a Fernet key through SHA-256 (a Fernet key is 32 bytes, base64)."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"ipsupport.webhooks.secret:" + material.encode()).digest())


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def _current() -> MultiFernet:
    keys = settings.WEBHOOKS_ENCRYPTION_KEY
    if isinstance(keys, str):
        keys = [keys]
    explicit = tuple(str(key) for key in keys if key)
    if explicit:
        return _fernet(explicit)
    # Unset: SECRET_KEY encrypts; it and its fallbacks decrypt (Django's own rotation).
    secret_keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return _fernet(tuple(f"SECRET_KEY:{key}" for key in secret_keys if key))


def encrypt(secret: str) -> str:
    return _current().encrypt(secret.encode()).decode()


class SecretUnreadable(Exception):
    """No key decrypts the stored secret: WEBHOOKS_ENCRYPTION_KEY was changed without the
    old key behind the new one, or (without it) SECRET_KEY was changed without the old one
    in SECRET_KEY_FALLBACKS."""


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no key decrypts this webhook secret") from None
