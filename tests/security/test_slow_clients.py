"""Issue 12, finding 1: one slow request must not stall every write. A client trickling the
body of a POST with an Idempotency-Key holds no database lock while the server waits for
it (on SQLite a transaction takes the one write lock when it opens), so others log in and
act meanwhile; and a lock not had in time is a 503 problem with Retry-After, never a 500.

Runs on SQLite (where the lock is global) and on PostgreSQL."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from api.models import IdempotencyRecord
from cases.models import Case
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

TRICKLE_SECONDS = 3.0
PROMPT_SECONDS = 1.5  # what "at once" means for the others, far below the trickle


def _new_case(enterprise: Any, programme: Any, title: str) -> dict[str, Any]:
    return {
        "enterprise": str(enterprise.pk),
        "programme": programme.code,
        "support_type": "trademark",
        "title": title,
        "requested_amount": 15_000_000,
    }


class SlowClient(threading.Thread):
    """Sends a request's headers at once and its body a few bytes at a time over
    TRICKLE_SECONDS, then reads the answer's status."""

    def __init__(self, url: str, path: str, headers: dict[str, str], body: bytes) -> None:
        super().__init__(daemon=True)
        self.address = urlsplit(url)
        self.path, self.headers, self.body = path, headers, body
        self.status: int | None = None
        self.headers_sent = threading.Event()

    def run(self) -> None:
        with socket.create_connection((self.address.hostname, self.address.port), timeout=30) as sock:
            head = [f"POST {self.path} HTTP/1.1", f"Host: {self.address.netloc}", "Connection: close"]
            head += [f"{name}: {value}" for name, value in self.headers.items()]
            head.append(f"Content-Length: {len(self.body)}")
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            self.headers_sent.set()
            pieces = 12
            step = -(-len(self.body) // pieces)
            for start in range(0, len(self.body), step):
                time.sleep(TRICKLE_SECONDS / pieces)
                sock.sendall(self.body[start : start + step])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        self.status = int(answer.split(b" ", 2)[1])


def _timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.live
def test_a_slow_client_with_an_idempotency_key_holds_up_no_one_else(
    live_server, applicant, other_applicant, officer, enterprise, other_enterprise, programme, case_in
):
    case = case_in("submitted")
    slow_token = AuthToken.objects.create(user=applicant)[1]
    other_token = AuthToken.objects.create(user=other_applicant)[1]
    officer_token = AuthToken.objects.create(user=officer)[1]
    slow = SlowClient(
        live_server.url,
        "/api/v1/cases/",
        {
            "Authorization": f"Bearer {slow_token}",
            "Content-Type": "application/json",
            "Idempotency-Key": "slow-one",
        },
        json.dumps(_new_case(enterprise, programme, "Nhãn hiệu gửi chậm")).encode(),
    )
    slow.start()
    assert slow.headers_sent.wait(5)
    time.sleep(0.5)  # the server is waiting for the body by now

    api = f"{live_server.url}/api/v1"
    others = [
        _timed(
            lambda: requests.post(
                f"{api}/auth/token/", json={"username": "other_applicant", "password": PASSWORD}, timeout=30
            )
        ),
        _timed(
            lambda: requests.post(
                f"{api}/cases/",
                json=_new_case(other_enterprise, programme, "Nhãn hiệu khác"),
                headers={"Authorization": f"Bearer {other_token}", "Idempotency-Key": "quick-one"},
                timeout=30,
            )
        ),
        _timed(
            lambda: requests.post(
                f"{api}/cases/{case.pk}/receive/",
                json={"comment": "Đủ hồ sơ"},
                headers={"Authorization": f"Bearer {officer_token}"},
                timeout=30,
            )
        ),
    ]
    still_trickling = slow.is_alive()
    slow.join(TRICKLE_SECONDS + 10)

    assert [response.status_code for response, _took in others] == [200, 201, 200], [r.content for r, _ in others]
    assert max(took for _response, took in others) < PROMPT_SECONDS, [took for _r, took in others]
    assert still_trickling
    assert slow.status == 201
    assert Case.objects.filter(title="Nhãn hiệu gửi chậm").count() == 1


# --- A lock not had in time ---------------------------------------------------------------------


@contextmanager
def _locked(table: str) -> Iterator[None]:
    """Another connection holds a write lock (SQLite: the database's; PostgreSQL: `table`'s)
    while Django's own waits at most 0.2 s for one."""
    options = connection.settings_dict["OPTIONS"]
    saved = dict(options)
    if connection.vendor == "sqlite":
        options["timeout"] = 0.2
        holder: Any = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        options["options"] = "-c lock_timeout=200"
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("options", None)
        holder = psycopg.connect(**params)
        holder.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # reads pass, writes wait
    connection.close()  # the next query connects with the short timeout
    try:
        yield
    finally:
        holder.rollback()
        holder.close()
        options.clear()
        options.update(saved)
        connection.close()


def _assert_busy(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "2"
    body = response.json()
    assert (body["status"], body["code"]) == (503, "busy")


def test_a_login_that_cannot_have_the_lock_in_time_is_a_503(applicant):
    with _locked("knox_authtoken"):
        response = APIClient().post(
            "/api/v1/auth/token/", {"username": "applicant", "password": PASSWORD}, format="json"
        )

    _assert_busy(response)
    assert not AuthToken.objects.exists()


def test_a_keyed_request_that_cannot_have_the_lock_in_time_is_a_503(client_for, applicant, enterprise, programme):
    client = client_for(applicant)  # its token is created before the lock
    with _locked("api_idempotencyrecord"):
        response = client.post(
            "/api/v1/cases/",
            _new_case(enterprise, programme, "Khi cơ sở dữ liệu bận"),
            format="json",
            headers={"Idempotency-Key": "busy-one"},
        )

    _assert_busy(response)
    assert not Case.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    # Nothing was kept: once the lock is free, the same key runs.
    again = client.post(
        "/api/v1/cases/",
        _new_case(enterprise, programme, "Khi cơ sở dữ liệu bận"),
        format="json",
        headers={"Idempotency-Key": "busy-one"},
    )
    assert again.status_code == 201, again.content
