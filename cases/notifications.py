"""Who is told what, and how it is sent. Mail leaves only after the change commits, and a
failure to send never fails or rolls back the change it reports.

With a broker (CELERY_BROKER_URL) each message is a Celery task that retries with backoff;
without one it is sent in the web process right after commit, retried a few times, and
logged if it still fails. Changes made inside `silenced()` (the demo seed) are announced
to no one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import User
from applicants.models import Membership
from cases.models import Case, CaseEvent, CaseState

logger = logging.getLogger(__name__)
IN_PROCESS_ATTEMPTS = 3

# Events the enterprise's members hear about: every change of state, and a reschedule.
REPORTED_ACTIONS = frozenset({"reschedule"})

_silenced: ContextVar[bool] = ContextVar("notifications_silenced", default=False)


@contextmanager
def silenced() -> Iterator[None]:
    """Announce none of the changes made inside the block: their events are recorded as
    usual, but no mail is queued for them, even if the transaction commits after the block
    ends. For data no one is waiting to hear about (the demo seed)."""
    token = _silenced.set(True)
    try:
        yield
    finally:
        _silenced.reset(token)


def should_notify(event: CaseEvent) -> bool:
    """Asked when the change is made (not when it commits)."""
    if _silenced.get():
        return False
    return event.from_state != event.to_state or event.action in REPORTED_ACTIONS


def dispatch(task: Any, *args: Any) -> None:
    """Run `task` (a Celery task) on a worker when a broker is configured, else here and
    now (the caller registers this with transaction.on_commit). A broker that cannot be
    reached falls back to sending here: the change has committed and must not fail."""
    if settings.CELERY_BROKER_URL:
        try:
            task.delay(*args)
            return
        except Exception:  # kombu's OperationalError and friends: the broker is down
            logger.error("background %s(%s): broker unreachable, sending in process", task.name, args, exc_info=True)
    run_with_retries(task.run, *args)


def notify_case_event(event: CaseEvent) -> None:
    """One task per member to tell, so a retry resends to that member only."""
    for user_id in recipients(event.case):
        dispatch(_task(), str(event.pk), str(user_id))


def _task() -> Any:
    from cases.tasks import send_case_event_mail  # the tasks module imports this one

    return send_case_event_mail


def recipients(case: Case) -> list[Any]:
    """The active members of the case's enterprise who have an address."""
    return list(
        Membership.objects.filter(enterprise_id=case.enterprise_id, user__is_active=True)
        .exclude(user__email="")
        .values_list("user_id", flat=True)
    )


def run_with_retries(function: Callable[..., Any], *args: Any) -> None:
    for attempt in range(1, IN_PROCESS_ATTEMPTS + 1):
        try:
            function(*args)
            return
        except Exception:  # any failure of delivery; the change it reports stands
            logger.warning("background %s(%s): attempt %s failed", function.__name__, args, attempt, exc_info=True)
            if attempt < IN_PROCESS_ATTEMPTS:
                time.sleep(0.2 * attempt)
    logger.error("background %s(%s): giving up after %s attempts", function.__name__, args, IN_PROCESS_ATTEMPTS)


def case_event_message(event: CaseEvent, user: User) -> EmailMessage:
    """The message telling `user` about `event`, in their language (Vietnamese unless they
    chose English). It describes the event as it happened, whatever the case is now."""
    case: Case = event.case
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {
            "user": user,
            "case": case,
            "event": event,
            "state_label": CaseState(event.to_state).label,
            "from_label": CaseState(event.from_state).label if event.from_state else "",
            "due_on": event.data.get("due_on") or (case.due_on.isoformat() if case.due_on else ""),
            "show_comment": event.comment and event.comment != event.data.get("reason"),
        }
        subject = render_to_string("cases/email/case_event_subject.txt", context).strip()
        body = render_to_string("cases/email/case_event_body.txt", context)
    return EmailMessage(subject=subject, body=body, to=[user.email])
