"""The relay on real Celery workers and the beat scheduler, with the machine's Redis (db 15,
a queue of each test's own) and a real receiver: a worker killed in the middle of a
delivery, and a receiver that is down for a while. Every event arrives at least once, in
order; a duplicate carries the same webhook-id.

The workers run with a short lease, fast retries and a sweep every half second (their
environment), so each test takes seconds, not the minutes the defaults would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from standardwebhooks import Webhook

from tests.broker import broker_for_this_test
from tests.webhooks.conftest import LOOPBACK
from tests.webhooks.receiver import Receiver, Reply
from webhooks.models import Attempt, Delivery, DeliveryStatus, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

BROKER = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 6
DEADLINE = 90  # seconds for anything to happen; the tests take far less


def _database_url() -> str:
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


class Cluster:
    """Celery workers and a beat scheduler in subprocesses, on this test's own queue."""

    def __init__(self, tmp_path: Path, queue: str) -> None:
        self.tmp_path = tmp_path
        self.queue = queue
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log_files: list[Any] = []
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": BROKER,
            "WEBHOOKS_QUEUE": queue,
            "WEBHOOKS_ALLOW_HTTP": "1",
            "WEBHOOKS_ALLOWED_NETWORKS": ",".join(LOOPBACK),
            "WEBHOOKS_TIMEOUT_SECONDS": "3",
            "WEBHOOKS_LEASE_SECONDS": str(LEASE_SECONDS),
            "WEBHOOKS_BACKOFF_BASE_SECONDS": "0.2",
            "WEBHOOKS_BACKOFF_MAX_SECONDS": "1",
            "WEBHOOKS_MAX_ATTEMPTS": "100",
            "WEBHOOKS_DISABLE_AFTER_FAILURES": "1000",
            "WEBHOOKS_SWEEP_SECONDS": "0.5",
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DOCUMENTS_ROOT": str(tmp_path / "documents"),
        }

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"{name}-{len(self.processes)}.log").open("wb")
        self.log_files.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "backend", *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def worker(self) -> subprocess.Popen[bytes]:
        return self._start(
            "worker",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            self.queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        )

    def beat(self) -> subprocess.Popen[bytes]:
        return self._start(
            "beat", "beat", "--loglevel=INFO", "--schedule", str(self.tmp_path / "beat-schedule"), "--max-interval", "1"
        )

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.tmp_path.glob("*.log"))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.log_files:
            log.close()


@pytest.fixture
def cluster(tmp_path: Path, settings: Any) -> Iterator[Cluster]:
    """A fresh queue; the web side (this process) sends its tasks there too, through a
    broker and pools of its own, all put back afterwards."""
    queue = f"ipsupport-webhooks-{uuid.uuid4().hex[:12]}"
    settings.WEBHOOKS_QUEUE = queue
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOWED_NETWORKS = LOOPBACK
    with broker_for_this_test(settings, BROKER, queue):
        running = Cluster(tmp_path, queue)
        try:
            yield running
        finally:
            running.stop()
    import redis

    client = redis.Redis.from_url(BROKER)
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)


def _eventually(condition: Callable[[], bool], cluster: Cluster, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {DEADLINE} s\n{cluster.logs()}")
        time.sleep(0.1)


def _expected_ids(subscription: Subscription) -> list[str]:
    rows = Delivery.objects.filter(subscription=subscription).select_related("message").order_by("message_id")
    return [delivery.message.webhook_id for delivery in rows]


def _all_delivered(subscription: Subscription, count: int) -> Callable[[], bool]:
    def check() -> bool:
        statuses = list(Delivery.objects.filter(subscription=subscription).values_list("status", flat=True))
        return len(statuses) == count and set(statuses) == {DeliveryStatus.DELIVERED}

    return check


def _assert_in_order_at_least_once(received: list[str], expected: list[str]) -> None:
    assert set(received) == set(expected), "every event arrives"
    positions = [expected.index(webhook_id) for webhook_id in received]
    assert positions == sorted(positions), f"in order per subscription: {positions}"


def test_a_worker_killed_in_the_middle_of_a_delivery_loses_nothing_and_keeps_the_order(
    cluster, subscribe, receiver, case_in
):
    subscription, secret = subscribe(receiver.url)
    receiver.plan = [Reply(), Reply(), Reply(hold=True)]  # the third request hangs
    cluster.beat()
    first_worker = cluster.worker()
    started = time.monotonic()

    for _ in range(6):
        case_in("submitted")  # each submission commits one event, and queues a run
    expected = _expected_ids(subscription)
    assert len(expected) == 6

    if not receiver.held.wait(DEADLINE):
        pytest.fail(f"the third delivery never arrived\n{cluster.logs()}")
    first_worker.send_signal(signal.SIGKILL)  # in the middle of the third delivery
    first_worker.wait(timeout=10)
    receiver.release()
    cluster.worker()

    _eventually(lambda: set(receiver.ids()) == set(expected), cluster, "every event delivered")
    _eventually(_all_delivered(subscription, 6), cluster, "every delivery recorded")
    elapsed = time.monotonic() - started

    received = receiver.ids()
    _assert_in_order_at_least_once(received, expected)
    interrupted = expected[2]
    assert received.count(interrupted) >= 2, received  # sent again, with the same webhook-id
    duplicates = [request for request in receiver.received if request.webhook_id == interrupted]
    assert len({request.body for request in duplicates}) == 1
    for request in receiver.received:
        Webhook(secret).verify(request.body, request.headers)
    # the attempt under way when the worker died left no record; the new worker's did
    interrupted_delivery = Delivery.objects.get(subscription=subscription, message__uid=interrupted[4:])
    assert interrupted_delivery.attempts.filter(status_code=200).exists()
    assert elapsed < LEASE_SECONDS + 45


def test_a_receiver_that_is_down_for_a_while_gets_everything_in_order_once_it_is_back(cluster, subscribe, case_in):
    receiver = Receiver(listening=False)  # its port is taken, but connections are refused
    try:
        subscription, secret = subscribe(receiver.url)
        cluster.beat()
        cluster.worker()

        for _ in range(4):
            case_in("submitted")
        expected = _expected_ids(subscription)

        def refused_a_few_times() -> bool:
            return Attempt.objects.filter(delivery__subscription=subscription, error="connection refused").count() >= 3

        _eventually(refused_a_few_times, cluster, "attempts while the receiver is down")
        assert receiver.received == []
        # back, though busy at first: two 503s, one with a Retry-After of a second
        receiver.plan = [Reply(503), Reply(503, headers={"Retry-After": "1"})]
        receiver.up()

        _eventually(lambda: set(receiver.ids()) == set(expected), cluster, "every event delivered")
        _eventually(_all_delivered(subscription, 4), cluster, "every delivery recorded")
    finally:
        receiver.close()

    received = receiver.ids()
    _assert_in_order_at_least_once(received, expected)
    assert received[:3] == [expected[0]] * 3  # the first one, refused, then 503 twice, then taken
    for request in receiver.received:
        Webhook(secret).verify(request.body, request.headers)
    subscription.refresh_from_db()
    assert (subscription.is_active, subscription.consecutive_failures) == (True, 0)
    head = Delivery.objects.filter(subscription=subscription).order_by("message_id").first()
    assert head is not None
    assert head.attempt_count >= 6
