"""Who is told what, and how it is sent. Mail leaves only after the change commits, and a
failure to send never fails or rolls back the change it reports.

With a broker (CELERY_BROKER_URL) each message is a Celery task that retries with backoff;
without one it is sent in the web process right after commit, retried a few times, and
logged if it still fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation

from applicants.models import Membership
from cases.models import Case, CaseEvent, CaseState

logger = logging.getLogger(__name__)
IN_PROCESS_ATTEMPTS = 3

# Events the enterprise's members hear about: every change of state, and a reschedule.
REPORTED_ACTIONS = frozenset({"reschedule"})


def should_notify(event: CaseEvent) -> bool:
    return event.from_state != event.to_state or event.action in REPORTED_ACTIONS


def dispatch(task: Any, *args: Any) -> None:
    """Run `task` (a Celery task) on a worker when a broker is configured, else here and
    now (the caller registers this with transaction.on_commit)."""
    if settings.CELERY_BROKER_URL:
        task.delay(*args)
        return
    run_with_retries(task.run, *args)


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


def case_event_messages(event: CaseEvent) -> list[EmailMessage]:
    """One message per member of the case's enterprise with an address, in that member's
    language (Vietnamese unless they chose English)."""
    case: Case = event.case
    members = Membership.objects.filter(enterprise_id=case.enterprise_id).select_related("user")
    messages = []
    for membership in members:
        user = membership.user
        if not user.email or not user.is_active:
            continue
        with translation.override(user.language or settings.LANGUAGE_CODE):
            context = {
                "user": user,
                "case": case,
                "event": event,
                "state_label": CaseState(case.state).label,
                "from_label": CaseState(event.from_state).label if event.from_state else "",
            }
            subject = render_to_string("cases/email/case_event_subject.txt", context).strip()
            body = render_to_string("cases/email/case_event_body.txt", context)
        messages.append(EmailMessage(subject=subject, body=body, to=[user.email]))
    return messages
