"""Safe retries: a POST with an Idempotency-Key acts once; a retry gets the first answer
again (status, body, Location, ETag), another body under the same key is 422, a retry while
the first runs is 409, and answers that changed nothing (409, 412, 5xx, a refusal given
before the body was read) are not kept. A key belongs to a person, or to a partner's API
key."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.client import encode_multipart
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

from accounts.roles import Role
from api.idempotency import HashingStream, caller_for, key_digest
from api.models import IdempotencyRecord, IdempotencyState
from api.tasks import purge_idempotency_keys
from cases import services as case_services
from cases.models import Case, CaseEvent, Document, Milestone
from partners import services as partner_services
from partners.models import PartnerKey
from tests.api.test_documents import CountingPayload, multipart_body, post_counted
from tests.cases.test_files import EXECUTABLE_PE
from tests.factories import PDF, UserFactory, add_member
from tests.problems import assert_field_errors, assert_problem

pytestmark = pytest.mark.django_db

KEY = "3f1c9a7e-5b2d-4c8e-9f10-2a6b7c8d9e01"
CASES = "/api/v1/cases/"


def with_key(key: str = KEY, **headers: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **headers}


def new_case_body(enterprise: Any, programme: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "enterprise": str(enterprise.pk),
        "programme": programme.code,
        "support_type": "trademark",
        "title": "Nhãn hiệu Trà Cầu Đất",
        "requested_amount": 15_000_000,
        **overrides,
    }


def assert_replay_of(first: Any, retry: Any) -> None:
    """The retry is the first answer again, said to be one."""
    assert retry.status_code == first.status_code
    assert retry.content == first.content
    for header in ("Content-Type", "Location", "ETag", "Content-Language", "Cache-Control", "Vary"):
        assert retry.get(header) == first.get(header), header
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first


def table_bytes() -> bytes:
    """Everything the idempotency table holds, as the database returns it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_idempotencyrecord")
        rows = cursor.fetchall()
    return b"\n".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for row in rows for v in row)


def digest_for(user: Any, key: str = KEY, *, partner_key: PartnerKey | None = None) -> str:
    return key_digest(client=caller_for(user=user, auth=partner_key).client, key=key)


def record_for(user: Any, key: str = KEY, *, partner_key: PartnerKey | None = None) -> IdempotencyRecord:
    return IdempotencyRecord.objects.get(digest=digest_for(user, key, partner_key=partner_key))


# --- A retry replays the first answer and does nothing again ------------------------------------


def test_a_retried_case_creation_creates_one_case_and_replays_the_first_answer(
    client_for, applicant, enterprise, programme
):
    client = client_for(applicant)
    body = new_case_body(enterprise, programme)

    first = client.post(CASES, body, format="json", headers=with_key())
    retry = client.post(CASES, body, format="json", headers=with_key())

    assert first.status_code == 201, first.content
    assert first["Location"].endswith(f"/api/v1/cases/{first.json()['id']}/")
    assert first["ETag"] == '"1"'
    assert_replay_of(first, retry)
    assert Case.objects.filter(enterprise=enterprise).count() == 1
    assert CaseEvent.objects.filter(action="create").count() == 1


def test_key_order_and_spacing_of_a_json_body_do_not_count(client_for, applicant, enterprise, programme):
    client = client_for(applicant)
    body = new_case_body(enterprise, programme)
    compact = json.dumps(body, separators=(",", ":"))
    spaced = json.dumps(dict(reversed(list(body.items()))), indent=4)

    first = client.generic("POST", CASES, compact, content_type="application/json", headers=with_key())
    retry = client.generic("POST", CASES, spaced, content_type="application/json; charset=utf-8", headers=with_key())

    assert first.status_code == 201, first.content
    assert_replay_of(first, retry)
    assert Case.objects.count() == 1


def test_a_retried_submission_is_submitted_once(client_for, case_in, applicant):
    case = case_in("draft")
    client = client_for(applicant)

    first = client.post(f"{CASES}{case.pk}/submit/", {}, format="json", headers=with_key())
    retry = client.post(f"{CASES}{case.pk}/submit/", {}, format="json", headers=with_key())

    assert first.status_code == 200, first.content
    assert_replay_of(first, retry)
    assert CaseEvent.objects.filter(case=case, action="submit").count() == 1
    case.refresh_from_db()
    assert (case.state, case.version) == ("submitted", 2)


def test_a_retried_receipt_issues_one_receipt_slip(client_for, case_in, officer):
    case = case_in("submitted")
    client = client_for(officer)

    first = client.post(f"{CASES}{case.pk}/receive/", {"comment": "Đủ hồ sơ"}, format="json", headers=with_key())
    retry = client.post(f"{CASES}{case.pk}/receive/", {"comment": "Đủ hồ sơ"}, format="json", headers=with_key())

    assert first.status_code == 200, first.content
    assert_replay_of(first, retry)
    assert CaseEvent.objects.filter(case=case, action="receive").count() == 1
    assert Document.objects.filter(case=case, kind="receipt_slip").count() == 1


def _upload(client: Any, case: Case, boundary: str, key: str = KEY) -> Any:
    form = {"kind": "invoice", "note": "Hóa đơn tháng 5", "file": SimpleUploadedFile("hoa-don.pdf", PDF)}
    return client.generic(
        "POST",
        f"{CASES}{case.pk}/documents/",
        encode_multipart(boundary, form),
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=with_key(key),
    )


def test_a_retried_upload_with_a_new_boundary_stores_one_document(client_for, case_in, applicant, documents_dir):
    case = case_in("draft")
    client = client_for(applicant)

    first = _upload(client, case, "----client-boundary-7d1f")
    retry = _upload(client, case, "----another-random-boundary-93ac20e4")

    assert first.status_code == 201, first.content
    assert_replay_of(first, retry)
    assert first["Location"].endswith(f"/documents/{first.json()['id']}/")
    assert Document.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, action="document_upload").count() == 1
    assert len(list(documents_dir.rglob("*.pdf"))) == 1


def test_a_retried_upload_of_another_file_is_422(client_for, case_in, applicant):
    case = case_in("draft")
    client = client_for(applicant)
    assert _upload(client, case, "b1").status_code == 201
    other = {"kind": "invoice", "note": "Hóa đơn tháng 5", "file": SimpleUploadedFile("hoa-don.pdf", PDF + b"%2")}

    response = client.generic(
        "POST",
        f"{CASES}{case.pk}/documents/",
        encode_multipart("b2", other),
        content_type="multipart/form-data; boundary=b2",
        headers=with_key(),
    )

    assert assert_problem(response, 422)["code"] == "idempotency_key_reused"
    assert Document.objects.filter(case=case).count() == 1


def test_a_kept_refusal_is_replayed_in_the_language_it_was_given(client_for, applicant, enterprise, programme):
    body = new_case_body(enterprise, programme, requested_amount=0)

    first = client_for(applicant, "vi").post(CASES, body, format="json", headers=with_key())
    retry = client_for(applicant, "en").post(CASES, body, format="json", headers=with_key())

    assert first.status_code == 400
    assert first["Content-Language"] == "vi"
    assert_replay_of(first, retry)
    assert not Case.objects.exists()


# --- The same key for something else ----------------------------------------------------------


def test_the_same_key_with_another_body_is_422_and_does_nothing(client_for, applicant, enterprise, programme):
    client = client_for(applicant)
    assert (
        client.post(CASES, new_case_body(enterprise, programme), format="json", headers=with_key()).status_code == 201
    )

    response = client.post(
        CASES, new_case_body(enterprise, programme, title="Một hồ sơ khác"), format="json", headers=with_key()
    )

    body = assert_problem(response, 422)
    assert body["code"] == "idempotency_key_reused"
    assert body["title"] == "Unprocessable content"
    assert list(Case.objects.values_list("title", flat=True)) == ["Nhãn hiệu Trà Cầu Đất"]


def test_the_same_key_on_another_case_is_422_and_leaves_it_alone(client_for, case_in, applicant):
    one, two = case_in("draft"), case_in("draft")
    client = client_for(applicant)
    assert client.post(f"{CASES}{one.pk}/submit/", {}, format="json", headers=with_key()).status_code == 200

    response = client.post(f"{CASES}{two.pk}/submit/", {}, format="json", headers=with_key())

    assert assert_problem(response, 422)["code"] == "idempotency_key_reused"
    assert Case.objects.get(pk=two.pk).state == "draft"


def test_keys_belong_to_their_client(client_for, applicant, enterprise, programme):
    colleague = UserFactory(username="colleague")
    add_member(colleague, enterprise)
    body = new_case_body(enterprise, programme)

    mine = client_for(applicant).post(CASES, body, format="json", headers=with_key())
    theirs = client_for(colleague).post(CASES, body, format="json", headers=with_key())

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["id"] != theirs.json()["id"]
    assert Case.objects.count() == 2


# --- Bad keys, other methods, no caller ---------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["x" * 256, "", "khóa-1", "tab\there", "line\nbreak"], ids=["256", "empty", "non-ascii", "tab", "newline"]
)
def test_a_bad_key_is_400_and_nothing_runs(client_for, applicant, enterprise, programme, key):
    response = client_for(applicant).post(
        CASES, new_case_body(enterprise, programme), format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    body = assert_field_errors(response, "Idempotency-Key")
    assert body["code"] == body["errors"][0]["code"] == "invalid_idempotency_key"
    assert not Case.objects.exists()
    assert not IdempotencyRecord.objects.exists()


def test_a_key_of_255_printable_characters_is_accepted(client_for, applicant, enterprise, programme):
    key = "~ !" + "k" * 252

    response = client_for(applicant).post(
        CASES, new_case_body(enterprise, programme), format="json", headers=with_key(key)
    )

    assert response.status_code == 201, response.content
    assert record_for(applicant, key).state == IdempotencyState.COMPLETED


def test_a_caller_without_a_token_gets_401_whatever_the_key(client_for, enterprise, programme):
    response = client_for(None).post(
        CASES, new_case_body(enterprise, programme), format="json", headers=with_key("x" * 300)
    )

    assert_problem(response, 401)
    assert not IdempotencyRecord.objects.exists()


def test_other_methods_ignore_the_key(client_for, case_in, applicant):
    case = case_in("draft")
    client = client_for(applicant)

    for title in ("Lần một", "Lần hai"):
        response = client.patch(f"{CASES}{case.pk}/", {"title": title}, headers=with_key("x" * 300))
        assert response.status_code == 200, response.content

    assert CaseEvent.objects.filter(case=case, action="update").count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_the_caller_is_looked_up_once_for_the_middleware_and_the_view(client_for, case_in, applicant):
    case = case_in("draft")
    client = client_for(applicant)

    with CaptureQueriesContext(connection) as ctx:
        response = client.post(f"{CASES}{case.pk}/submit/", {}, format="json", headers=with_key())

    assert response.status_code == 200
    assert sum("knox_authtoken" in query["sql"] for query in ctx.captured_queries) == 1


# --- What is not kept: the key runs again ----------------------------------------------------------


def test_a_conflict_is_not_kept_so_the_same_key_acts_once_it_is_resolved(client_for, case_in, applicant, programme):
    case = case_in("draft")
    client = client_for(applicant)
    opens_on = programme.opens_on
    programme.opens_on = timezone.localdate() + dt.timedelta(days=1)
    programme.save()

    refused = client.post(f"{CASES}{case.pk}/submit/", {}, format="json", headers=with_key())
    programme.opens_on = opens_on
    programme.save()
    accepted = client.post(f"{CASES}{case.pk}/submit/", {}, format="json", headers=with_key())

    assert assert_problem(refused, 409)["code"] == "programme_closed"
    assert accepted.status_code == 200, accepted.content
    assert "Idempotent-Replayed" not in accepted
    assert Case.objects.get(pk=case.pk).state == "submitted"


def test_a_stale_etag_is_not_kept_so_the_same_key_acts_with_the_current_one(client_for, case_in, officer):
    case = case_in("submitted")
    client = client_for(officer)
    url = f"{CASES}{case.pk}/receive/"

    refused = client.post(url, {}, format="json", headers=with_key(**{"If-Match": '"1"'}))
    accepted = client.post(url, {}, format="json", headers=with_key(**{"If-Match": f'"{case.version}"'}))

    assert assert_problem(refused, 412)["code"] == "precondition_failed"
    assert accepted.status_code == 200, accepted.content
    assert CaseEvent.objects.filter(case=case, action="receive").count() == 1


def test_a_server_error_is_not_kept_and_nothing_of_it_stays(client_for, case_in, applicant, settings, tmp_path):
    case = case_in("draft")
    client = client_for(applicant)
    client.raise_request_exception = False
    healthy = settings.STORAGES
    (tmp_path / "a-file").write_bytes(b"")
    settings.STORAGES = {
        **healthy,
        "documents": {**healthy["documents"], "OPTIONS": {"location": str(tmp_path / "a-file" / "docs")}},
    }

    failed = _upload(client, case, "b1")  # the disk refuses the file

    assert_problem(failed, 500)
    assert not IdempotencyRecord.objects.exists()
    assert not Document.objects.filter(case=case).exists()
    assert Case.objects.get(pk=case.pk).version == case.version

    settings.STORAGES = healthy
    retried = _upload(client, case, "b2")

    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried
    assert Document.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, action="document_upload").count() == 1


def test_an_upload_too_large_is_refused_before_a_byte_is_read_and_not_kept(client_for, case_in, applicant, settings):
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 1000
    case = case_in("draft")
    payload = CountingPayload(multipart_body(filename="big.pdf", content=PDF + b"x" * 200_000))
    client = client_for(applicant)
    client.defaults["HTTP_IDEMPOTENCY_KEY"] = KEY

    response = post_counted(client, case, payload)

    assert assert_problem(response, 413)["code"] == "too_large"
    assert payload.bytes_read == 0
    assert not IdempotencyRecord.objects.exists()


def test_an_upload_refused_on_the_role_with_a_key_is_not_kept(client_for, case_in, officer):
    """The officer may not upload: the view says 403 before it reads the body. With a key
    the middleware has read the body first (within its limit: see
    tests/security/test_slow_clients.py for why), and the refusal is not kept."""
    case = case_in("submitted")
    client = client_for(officer)
    client.defaults["HTTP_IDEMPOTENCY_KEY"] = KEY
    payloads = [CountingPayload(multipart_body(filename="big.pdf", content=PDF + b"x" * 3_000_000)) for _ in "12"]

    first, retry = (post_counted(client, case, payload) for payload in payloads)

    assert_problem(first, 403)
    assert [payload.bytes_read for payload in payloads] == [payload.total for payload in payloads]
    assert not IdempotencyRecord.objects.exists()
    # The refusal was not kept: the retry ran again, and was refused again, as itself.
    assert_problem(retry, 403)
    assert "Idempotent-Replayed" not in retry
    assert retry.content == first.content
    assert not Document.objects.filter(case=case, kind="invoice").exists()


def test_a_refusal_before_the_body_is_not_kept_so_the_same_key_acts_once_allowed(client_for, case_in):
    """A refusal given before the view read the body frees the key: once the caller may
    act, the same key runs the request."""
    case = case_in("submitted")
    newcomer = UserFactory(username="new-officer")
    client = client_for(newcomer)
    url = f"{CASES}{case.pk}/receive/"

    refused = client.post(url, {"comment": "Đủ hồ sơ"}, format="json", headers=with_key())
    newcomer.groups.add(Group.objects.get_or_create(name=Role.OFFICER)[0])
    accepted = client.post(url, {"comment": "Đủ hồ sơ"}, format="json", headers=with_key())

    assert_problem(refused, 404)  # not an officer yet: the case is not visible
    assert accepted.status_code == 200, accepted.content
    assert "Idempotent-Replayed" not in accepted
    assert CaseEvent.objects.filter(case=case, action="receive").count() == 1


def test_a_refusal_given_after_the_whole_body_was_read_is_kept(client_for, case_in, applicant):
    case = case_in("draft")
    client = client_for(applicant)
    client.defaults["HTTP_IDEMPOTENCY_KEY"] = KEY
    payloads = [CountingPayload(multipart_body(filename="hoa-don.pdf", content=EXECUTABLE_PE)) for _ in "12"]

    first, retry = (post_counted(client, case, payload) for payload in payloads)

    assert_problem(first, 415)  # judged on the file's bytes, so after reading them all
    assert payloads[0].bytes_read == payloads[0].total
    assert_replay_of(first, retry)
    assert record_for(applicant).status_code == 415


class _Pipe:
    """A stream that does not say how much it holds, as a server's raw input may not."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        size = len(self._data) if size is None or size < 0 else size
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk

    def readline(self, size: int = -1) -> bytes:
        end = self._data.find(b"\n") + 1 or len(self._data)
        return self.read(end if size is None or size < 0 else min(size, end))


def _hashing(data: bytes, *, limited: bool) -> HashingStream:
    from django.core.handlers.wsgi import LimitedStream
    from django.test import RequestFactory

    from api.idempotency import Fingerprint

    stream = LimitedStream(_Pipe(data), len(data)) if limited else _Pipe(data)
    return HashingStream(stream, Fingerprint(RequestFactory().post("/api/v1/x/", b"", content_type="text/plain")))


@pytest.mark.parametrize("limited", [True, False], ids=["limited-stream", "plain-stream"])
def test_the_stream_knows_when_the_body_was_read_to_its_end(limited):
    partly = _hashing(b"0123456789", limited=limited)
    assert partly.read(4) == b"0123"
    assert not partly.ended
    assert partly.read(6) == b"456789"
    assert partly.ended or not limited  # a plain stream learns it from the next read
    assert partly.read(64) == b""
    assert partly.ended

    whole = _hashing(b"line one\nline two", limited=limited)
    assert whole.readline() == b"line one\n"
    assert not whole.ended
    assert whole.read() == b"line two"
    assert whole.ended

    assert _hashing(b"", limited=True).ended  # an empty body is read before it starts


# --- Time: expiry and a request that died -------------------------------------------------------


def test_an_expired_key_runs_again(client_for, applicant, enterprise, programme):
    client = client_for(applicant)
    body = new_case_body(enterprise, programme)
    assert client.post(CASES, body, format="json", headers=with_key()).status_code == 201
    IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    again = client.post(CASES, body, format="json", headers=with_key())

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Case.objects.count() == 2
    assert record_for(applicant).expires_at > timezone.now() + dt.timedelta(hours=23)


def test_a_key_is_kept_at_least_a_day(client_for, applicant, enterprise, programme, settings):
    before = timezone.now()

    client_for(applicant).post(CASES, new_case_body(enterprise, programme), format="json", headers=with_key())

    record = record_for(applicant)
    assert settings.IDEMPOTENCY_KEY_TTL_HOURS >= 24
    assert record.expires_at >= before + dt.timedelta(hours=24)


def test_purging_deletes_only_expired_keys(client_for, applicant, enterprise, programme, capsys):
    client = client_for(applicant)
    for key in ("old-1", "old-2", "fresh"):
        client.post(CASES, new_case_body(enterprise, programme, title=key), format="json", headers=with_key(key))
    IdempotencyRecord.objects.exclude(pk=record_for(applicant, "fresh").pk).update(expires_at=timezone.now())

    call_command("purge_idempotency_keys")
    assert "2 expired" in capsys.readouterr().out
    assert purge_idempotency_keys() == 0

    assert list(IdempotencyRecord.objects.values_list("digest", flat=True)) == [digest_for(applicant, "fresh")]


def test_the_beat_schedule_purges_every_hour(settings):
    """The worker finds the task by itself (autodiscovery), in a process that never imported it."""
    entry = settings.CELERY_BEAT_SCHEDULE["purge-idempotency-keys"]
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from backend.celery import app; "
            "app.loader.import_default_modules(); print(sorted(app.tasks))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "backend.settings"},
    )
    assert f"'{entry['task']}'" in found.stdout
    assert entry["schedule"].minute == {17}  # every hour, at 17 past


# --- Partners ------------------------------------------------------------------------------


def test_a_partners_retried_milestone_is_recorded_once(key_client, ip_agent, case_in, applicant):
    partner, raw = ip_agent
    case = case_in("submitted")
    case_services.filing_set(
        case=case,
        actor=applicant,
        office="noip",
        application_number="4-2026-00901",
        filed_on=timezone.localdate(),
        nice_classes=[30],
    )
    client = key_client(raw)

    def milestone() -> Any:
        body = {
            "kind": "formality_accepted",
            "occurred_on": timezone.localdate().isoformat(),
            "evidence": SimpleUploadedFile("thong-bao-hop-le.pdf", PDF, "application/pdf"),
        }
        return client.post(f"{CASES}{case.pk}/milestones/", body, format="multipart", headers=with_key())

    first, retry = milestone(), milestone()

    assert first.status_code == 201, first.content
    assert_replay_of(first, retry)
    assert Milestone.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, action="milestone").count() == 1
    assert record_for(partner.user, partner_key=PartnerKey.objects.get(partner=partner)).state == (
        IdempotencyState.COMPLETED
    )


def _disburse(client: Any, case: Case, key: str = KEY) -> Any:
    body = {"amount": 10_000_000, "paid_on": timezone.localdate().isoformat(), "payment_reference": "UNC-2026-11"}
    return client.post(f"{CASES}{case.pk}/disburse/", body, format="json", headers=with_key(key))


def test_a_partners_other_key_does_not_get_the_first_keys_answer(key_client, ip_agent, case_in, manager):
    """A replay runs no authorisation, so a key belongs to the API key it came with: the
    partner's webhooks-only key, sending the same key and body as its payments key, is a
    new request of its own, refused for want of scope, and sees nothing of the case."""
    partner, raw = ip_agent
    case = case_in("approved")
    _webhooks_key, webhooks_raw = partner_services.key_create(
        actor=manager, partner=partner, name="Chỉ webhook", scopes=["webhooks"]
    )

    paid = _disburse(key_client(raw), case)
    other = _disburse(key_client(webhooks_raw), case)
    again = _disburse(key_client(raw), case)

    assert paid.status_code == 200, paid.content
    assert "payments:write" in assert_problem(other, 403)["detail"]
    assert "Idempotent-Replayed" not in other
    assert {"state", "reference", "allowed_actions"}.isdisjoint(other.json())  # nothing of the case
    assert_replay_of(paid, again)  # the paying key still gets its own answer again
    assert CaseEvent.objects.filter(case=case, action="disburse").count() == 1


def test_a_partners_two_keys_keep_their_own_records(key_client, ip_agent, case_in, manager):
    partner, raw = ip_agent
    case = case_in("approved")
    second, second_raw = partner_services.key_create(
        actor=manager, partner=partner, name="Khóa dự phòng", scopes=["payments:write", "cases:read"]
    )

    first = _disburse(key_client(raw), case)
    from_second = _disburse(key_client(second_raw), case)  # runs: the case is disbursed already

    assert first.status_code == 200, first.content
    assert assert_problem(from_second, 409)["code"] == "transition_not_allowed"
    first_key = PartnerKey.objects.exclude(pk=second.pk).get(partner=partner)
    assert record_for(partner.user, partner_key=first_key).status_code == 200
    assert not IdempotencyRecord.objects.filter(digest=digest_for(partner.user, partner_key=second)).exists()
    assert not IdempotencyRecord.objects.filter(digest=digest_for(partner.user)).exists()


def test_a_person_who_signs_in_again_still_gets_the_replay(client_for, case_in, applicant):
    """A person's key belongs to the person, not to the token: the answer lost with a
    session that ended is still there after signing in again."""
    case = case_in("draft")
    first_token, first_raw = AuthToken.objects.create(user=applicant)
    first = client_for(None)
    first.credentials(HTTP_AUTHORIZATION=f"Bearer {first_raw}")

    submitted = first.post(f"{CASES}{case.pk}/submit/", {}, format="json", headers=with_key())
    first_token.delete()  # signed out
    retry = client_for(applicant).post(f"{CASES}{case.pk}/submit/", {}, format="json", headers=with_key())

    assert submitted.status_code == 200, submitted.content
    assert_replay_of(submitted, retry)
    assert CaseEvent.objects.filter(case=case, action="submit").count() == 1


# --- What the table holds ------------------------------------------------------------------------


def test_the_table_holds_neither_the_key_nor_a_readable_body(client_for, applicant):
    """A response that shows a secret once (here a new token) is kept encrypted; the key
    itself is kept only as a digest."""
    client = client_for(applicant)
    body = {"username": "applicant", "password": "correct-Horse-battery-9"}

    first = client.post("/api/v1/auth/token/", body, format="json", headers=with_key())
    retry = client.post("/api/v1/auth/token/", body, format="json", headers=with_key())

    token = first.json()["token"]
    assert_replay_of(first, retry)
    assert AuthToken.objects.filter(user=applicant).count() == 2  # the client's own, and one new
    stored = table_bytes()
    assert b"gAAAAA" in stored  # a Fernet token: the body is there, encrypted
    assert token.encode() not in stored
    assert KEY.encode() not in stored


def test_a_partners_new_api_key_is_issued_once_and_kept_unreadable(client_for, manager, ip_agent):
    from partners.models import PartnerKey

    partner, _raw = ip_agent
    client = client_for(manager)
    url = f"/api/v1/partners/{partner.pk}/keys/"
    body = {"name": "Khóa máy chủ thứ hai", "scopes": ["cases:read"]}

    first = client.post(url, body, format="json", headers=with_key())
    retry = client.post(url, body, format="json", headers=with_key())

    assert first.status_code == 201, first.content
    raw = first.json()["key"]
    # The replay is the first answer but for the key, shown once (tests/security/test_one_time_secrets.py).
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (201, "true")
    assert retry.json() == {**first.json(), "key": retry.json()["key"]}
    assert raw not in retry.content.decode()
    assert PartnerKey.objects.filter(partner=partner, name="Khóa máy chủ thứ hai").count() == 1
    stored = table_bytes()
    assert b"gAAAAA" in stored  # a Fernet token: the body is there, encrypted
    assert raw.encode() not in stored
    assert raw[4:20].encode() not in stored


# --- Races over real HTTP -------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_request_runs_is_409(live_server, case_in, applicant, settings):
    case = case_in("draft")
    token = AuthToken.objects.create(user=applicant)[1]
    # What the first request leaves, committed, while its view runs: its reservation.
    now = timezone.now()
    IdempotencyRecord.objects.create(
        digest=digest_for(applicant),
        user=applicant,
        locked_at=now,
        expires_at=now + dt.timedelta(days=1),
    )
    url = f"{live_server.url}{CASES}{case.pk}/submit/"
    headers = {"Authorization": f"Bearer {token}", **with_key()}

    busy = requests.post(url, json={}, headers=headers, timeout=30)

    assert busy.status_code == 409
    assert busy.headers["Retry-After"] == "1"
    assert busy.json()["code"] == "idempotency_key_in_use"
    assert Case.objects.get(pk=case.pk).state == "draft"

    # A holder older than IDEMPOTENCY_LOCK_SECONDS died: the retry takes the key over.
    IdempotencyRecord.objects.update(locked_at=now - dt.timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS + 1))
    taken_over = requests.post(url, json={}, headers=headers, timeout=30)

    assert taken_over.status_code == 200, taken_over.content
    assert "Idempotent-Replayed" not in taken_over.headers
    assert Case.objects.get(pk=case.pk).state == "submitted"


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_simultaneous_retries_with_one_key_act_once(live_server, applicant, enterprise, programme):
    token = AuthToken.objects.create(user=applicant)[1]
    body = new_case_body(enterprise, programme)
    barrier = threading.Barrier(8)

    def post(_: int) -> requests.Response:
        with requests.Session() as session:
            barrier.wait()
            return session.post(
                f"{live_server.url}{CASES}",
                json=body,
                headers={"Authorization": f"Bearer {token}", **with_key()},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(8)))

    created = [r for r in responses if r.status_code == 201]
    busy = [r for r in responses if r.status_code == 409]
    assert len(created) + len(busy) == 8, [r.content for r in responses]
    assert [r.headers.get("Idempotent-Replayed") for r in created].count(None) == 1
    assert len({r.content for r in created}) == 1
    assert {r.json()["code"] for r in busy} <= {"idempotency_key_in_use"}
    assert Case.objects.count() == 1
    assert CaseEvent.objects.filter(action="create").count() == 1
