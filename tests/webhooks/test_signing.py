"""Our signatures are Standard Webhooks signatures: the reference library verifies them.
Secrets are shown once and kept encrypted."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from webhooks import signing

BODY = '{"type":"case.state_changed","data":{"case":{"reference":"SHTT-2026-00042","title":"Cà phê Đà Lạt"}}}'.encode()


def test_a_secret_is_whsec_and_the_base64_of_32_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert signing.new_secret() != secret


def test_the_reference_library_verifies_our_signature():
    secret = signing.new_secret()
    headers = signing.headers_for(
        signing_secrets=[secret], webhook_id="msg_2b7f", timestamp=int(time.time()), body=BODY
    )
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers)["data"]["case"]["title"] == "Cà phê Đà Lạt"


def test_a_tampered_body_another_secret_or_an_old_timestamp_fail_verification():
    secret = signing.new_secret()
    now = int(time.time())
    headers = signing.headers_for(signing_secrets=[secret], webhook_id="msg_1", timestamp=now, body=BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"00042", b"00043"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)
    stale = signing.headers_for(signing_secrets=[secret], webhook_id="msg_1", timestamp=now - 3600, body=BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, stale)


def test_during_a_rotation_both_the_new_and_the_previous_secret_verify():
    new, previous = signing.new_secret(), signing.new_secret()
    headers = signing.headers_for(
        signing_secrets=[new, previous], webhook_id="msg_9", timestamp=int(time.time()), body=BODY
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(BODY, headers)
    assert Webhook(previous).verify(BODY, headers)


def test_secrets_are_encrypted_at_rest_and_read_back(settings):
    secret = signing.new_secret()
    stored = signing.encrypt(secret)
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in stored
    assert signing.decrypt(stored) == secret


def test_a_new_encryption_key_in_front_still_reads_what_the_old_one_wrote(settings):
    settings.WEBHOOKS_ENCRYPTION_KEY = ["old-key-0123456789abcdef0123456789"]
    stored = signing.encrypt("whsec_c2VjcmV0")
    settings.WEBHOOKS_ENCRYPTION_KEY = ["new-key-abcdef0123456789abcdef0123", "old-key-0123456789abcdef0123456789"]
    assert signing.decrypt(stored) == "whsec_c2VjcmV0"
    settings.WEBHOOKS_ENCRYPTION_KEY = ["new-key-abcdef0123456789abcdef0123"]
    with pytest.raises(signing.SecretUnreadable):
        signing.decrypt(stored)


def test_without_an_encryption_key_it_is_derived_from_the_secret_key(settings):
    settings.WEBHOOKS_ENCRYPTION_KEY = []
    stored = signing.encrypt("whsec_c2VjcmV0")
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    with pytest.raises(signing.SecretUnreadable):
        signing.decrypt(stored)


def test_a_secret_key_rotated_the_django_way_still_reads_what_the_old_one_wrote(settings):
    settings.WEBHOOKS_ENCRYPTION_KEY = []
    settings.SECRET_KEY = "old-secret-key-" + "o" * 40
    settings.SECRET_KEY_FALLBACKS = []
    stored = signing.encrypt("whsec_c2VjcmV0")

    settings.SECRET_KEY = "new-secret-key-" + "n" * 40
    settings.SECRET_KEY_FALLBACKS = ["older-secret-key-" + "e" * 40, "old-secret-key-" + "o" * 40]
    assert signing.decrypt(stored) == "whsec_c2VjcmV0"

    # what is written now is written with the new SECRET_KEY: it needs no fallback
    fresh = signing.encrypt("whsec_bmV3")
    settings.SECRET_KEY_FALLBACKS = []
    assert signing.decrypt(fresh) == "whsec_bmV3"
    with pytest.raises(signing.SecretUnreadable):
        signing.decrypt(stored)


def test_an_explicit_encryption_key_ignores_the_secret_keys(settings):
    settings.WEBHOOKS_ENCRYPTION_KEY = ["explicit-key-0123456789abcdef0123456789"]
    stored = signing.encrypt("whsec_c2VjcmV0")
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert signing.decrypt(stored) == "whsec_c2VjcmV0"
    settings.WEBHOOKS_ENCRYPTION_KEY = []
    settings.SECRET_KEY_FALLBACKS = ["explicit-key-0123456789abcdef0123456789"]
    with pytest.raises(signing.SecretUnreadable):  # a SECRET_KEY-derived key is another key
        signing.decrypt(stored)
