"""Issue 12, finding 2: every body has a limit, checked from its Content-Length before a
byte is read (413 with the `limit` in bytes), and a body of a type the operation does not
take is never read: a 415 (after the view's own checks), with an Idempotency-Key too,
whose middleware otherwise reads the body ahead of the view. Nothing is parsed, spooled to
disk or waited for."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from api.models import IdempotencyRecord
from tests.api.test_documents import BOUNDARY, CountingPayload, multipart_body
from tests.factories import PDF
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _post(client: Any, path: str, payload: CountingPayload, content_type: str, **extra: str) -> Any:
    """POST `payload` as the request's input stream, so the test sees how much was read."""
    return client.generic(
        "POST",
        path,
        b"-",  # replaced by the payload below
        content_type=content_type,
        CONTENT_LENGTH=str(payload.total),
        **{"wsgi.input": payload},
        **extra,
    )


def _large_file_form(size: int) -> CountingPayload:
    form = multipart_body(
        filename="x.pdf", content=PDF + b"x" * size, fields=(("username", "applicant"), ("password", "x"))
    )
    return CountingPayload(form)


def test_a_multipart_login_is_415_before_a_byte_is_read(client_for, applicant):
    payload = _large_file_form(500_000)

    response = _post(client_for(None), "/api/v1/auth/token/", payload, MULTIPART)

    body = assert_problem(response, 415)
    assert body["allowed"] == ["application/json"]
    assert payload.bytes_read == 0


@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/cases/"], ids=["login", "case"])
def test_a_json_body_over_the_limit_is_413_naming_it_before_a_byte_is_read(client_for, applicant, settings, path):
    settings.REQUEST_MAX_BODY_BYTES = 1000
    payload = CountingPayload(b'{"title": "' + b"x" * 1000 + b'"}')

    response = _post(client_for(applicant), path, payload, "application/json")

    body = assert_problem(response, 413)
    assert (body["code"], body["limit"]) == ("too_large", 1000)
    assert payload.bytes_read == 0


def test_a_json_body_at_the_limit_is_read(client_for, applicant, settings):
    body = b'{"username": "applicant", "password": "wrong-password"}'
    settings.REQUEST_MAX_BODY_BYTES = len(body)

    response = _post(client_for(None), "/api/v1/auth/token/", CountingPayload(body), "application/json")

    assert_problem(response, 401)


def test_the_default_json_limit_is_a_megabyte(settings):
    assert settings.REQUEST_MAX_BODY_BYTES == 1024 * 1024


def test_with_an_idempotency_key_a_form_is_never_read(client_for, applicant, enterprise, programme):
    """The Idempotency-Key middleware reads the whole body before it acts, but not a body
    the operation does not take: a first request is the view's 415, a retry under a key
    used for JSON is another request (422), and neither reads a byte."""
    client = client_for(applicant)
    key = {"HTTP_IDEMPOTENCY_KEY": "form-to-json"}
    created = client.post(
        "/api/v1/cases/",
        {
            "enterprise": str(enterprise.pk),
            "programme": programme.code,
            "support_type": "trademark",
            "title": "Nhãn hiệu",
            "requested_amount": 15_000_000,
        },
        format="json",
        **key,
    )
    assert created.status_code == 201, created.content
    payloads = [_large_file_form(500_000), _large_file_form(500_000)]

    retry = _post(client, "/api/v1/cases/", payloads[0], MULTIPART, **key)
    first = _post(client, "/api/v1/cases/", payloads[1], MULTIPART, HTTP_IDEMPOTENCY_KEY="another")

    assert assert_problem(retry, 422)["code"] == "idempotency_key_reused"
    assert assert_problem(first, 415)["allowed"] == ["application/json"]
    assert [payload.bytes_read for payload in payloads] == [0, 0]
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.parametrize("key", [{}, {"HTTP_IDEMPOTENCY_KEY": "json-to-upload"}], ids=["no-key", "key"])
def test_json_sent_to_an_upload_is_415_before_a_byte_is_read(client_for, applicant, case_in, key):
    case = case_in("draft")
    payload = CountingPayload(b'{"kind": "invoice"}')

    response = _post(client_for(applicant), f"/api/v1/cases/{case.pk}/documents/", payload, "application/json", **key)

    assert assert_problem(response, 415)["allowed"] == ["multipart/form-data"]
    assert payload.bytes_read == 0
    assert not IdempotencyRecord.objects.exists()  # a refusal of a body never read is not kept


def test_a_body_to_an_operation_that_takes_none_is_not_read_with_a_key(key_client, ip_agent):
    """Rotating a secret takes no body: one sent anyway is ignored, not read, and the
    rotation is kept for the key as usual."""
    client = key_client(ip_agent[1])
    created = client.post(
        "/api/v1/webhooks/", {"url": "https://1.2.3.4/hooks", "event_types": ["case.updated"]}, format="json"
    )
    path = f"/api/v1/webhooks/{created.json()['id']}/rotate-secret/"
    payloads = [_large_file_form(100_000), _large_file_form(100_000)]

    first, retry = (_post(client, path, payload, MULTIPART, HTTP_IDEMPOTENCY_KEY="rotate") for payload in payloads)

    assert first.status_code == 200, first.content
    assert retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert [payload.bytes_read for payload in payloads] == [0, 0]


def test_an_upload_keeps_its_own_limit_and_names_it(client_for, applicant, case_in, settings):
    from api.uploads import FORM_OVERHEAD

    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # above the JSON limit
    case = case_in("draft")
    path = f"/api/v1/cases/{case.pk}/documents/"
    within = CountingPayload(multipart_body(filename="hoa-don.pdf", content=PDF + b"%" * 1_500_000))
    above = CountingPayload(multipart_body(filename="hoa-don.pdf", content=PDF + b"%" * 2_200_000))

    accepted = _post(client_for(applicant), path, within, MULTIPART)
    refused = _post(client_for(applicant), path, above, MULTIPART, HTTP_IDEMPOTENCY_KEY="big-upload")

    assert accepted.status_code == 201, accepted.content
    body = assert_problem(refused, 413)
    assert body["limit"] in (settings.DOCUMENTS_MAX_UPLOAD_BYTES, settings.DOCUMENTS_MAX_UPLOAD_BYTES + FORM_OVERHEAD)
    assert above.bytes_read == 0
    assert not IdempotencyRecord.objects.filter(status_code=413).exists()


def test_a_body_to_the_admin_over_the_limit_is_413_before_a_byte_is_read(settings):
    """Not only the API: the admin's login form would be parsed (files spooled to disk) by
    the CSRF check before it refused it."""
    settings.REQUEST_MAX_BODY_BYTES = 1000
    payload = _large_file_form(5000)

    response = _post(Client(), "/admin/login/", payload, MULTIPART)

    assert response.status_code == 413
    assert response.json()["limit"] == 1000
    assert payload.bytes_read == 0
