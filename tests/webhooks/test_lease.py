"""One worker at a time per subscription: of many workers taking a free lease at the same
moment, exactly one gets it; a lease that ran out can be taken over, and the worker that
lost it can neither renew nor release it."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from webhooks import relay
from webhooks.models import Subscription

pytestmark = pytest.mark.usefixtures("local_receivers")


@pytest.mark.django_db(transaction=True)
def test_of_workers_taking_a_free_lease_at_once_exactly_one_gets_it(subscribe, receiver):
    subscription, _secret = subscribe(receiver.url)
    workers = 8
    barrier = threading.Barrier(workers)
    won: list[bool] = []

    def take() -> None:
        try:
            barrier.wait(timeout=10)
            won.append(relay._acquire(subscription.pk, uuid.uuid4()))
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(won) == [False] * (workers - 1) + [True]


def test_a_lease_that_ran_out_is_taken_over_and_the_late_worker_cannot_touch_it(subscribe, receiver):
    subscription, _secret = subscribe(receiver.url)
    late, next_one = uuid.uuid4(), uuid.uuid4()
    assert relay._acquire(subscription.pk, late)
    assert not relay._acquire(subscription.pk, next_one)
    Subscription.objects.filter(pk=subscription.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))

    assert relay._acquire(subscription.pk, next_one)
    assert not relay._renew(subscription.pk, late)
    relay._release(subscription.pk, late)

    subscription.refresh_from_db()
    assert subscription.lease_token == next_one
    assert subscription.lease_until > timezone.now()
