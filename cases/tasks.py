"""Background work: the mail the case's changes and deadlines cause. Each task reads what
it needs from the database, so it can run (and be retried) anywhere, at any time after
the change committed."""

from __future__ import annotations

import logging
from smtplib import SMTPException, SMTPRecipientsRefused
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import User
from accounts.roles import Role
from cases.calendar import WorkingCalendar
from cases.models import Case, CaseEvent
from cases.notifications import case_event_message, recipients
from cases.selectors import CLOCK_RUNNING

logger = logging.getLogger(__name__)
RETRY = {
    "autoretry_for": (SMTPException, OSError),
    # an address the server refuses will not be accepted on a retry either
    "dont_autoretry_for": (SMTPRecipientsRefused,),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**RETRY)  # type: ignore[untyped-decorator]
def send_case_event_mail(event_id: str, user_id: str) -> int:
    """Tell one member about one event of their case. Returns the messages sent (0 when
    the member has since left the enterprise or lost their address)."""
    event = CaseEvent.objects.select_related("case").get(pk=event_id)
    if user_id not in {str(pk) for pk in recipients(event.case)}:
        return 0
    user = User.objects.get(pk=user_id)
    sent = case_event_message(event, user).send()
    logger.info("mail: case event %s sent to %s", event_id, user_id)
    return sent


def _officer_message(officer: User, template: str, cases: list[Case], **context: Any) -> EmailMessage:
    with translation.override(officer.language or settings.LANGUAGE_CODE):
        body = render_to_string(f"cases/email/{template}_body.txt", {"officer": officer, "cases": cases, **context})
        subject = render_to_string(f"cases/email/{template}_subject.txt", {"count": len(cases), **context}).strip()
    return EmailMessage(subject=subject, body=body, to=[officer.email])


def _by_officer(cases: list[Case]) -> dict[User, list[Case]]:
    grouped: dict[User, list[Case]] = {}
    for case in cases:
        officer = case.assigned_officer
        if (
            officer is not None
            and officer.email
            and officer.is_active
            and officer.groups.filter(name=Role.OFFICER).exists()
        ):
            grouped.setdefault(officer, []).append(case)
    return grouped


def _mail_officers(cases: list[Case], template: str, **context: Any) -> int:
    """One message per assigned officer listing their `cases`; returns how many went out."""
    messages = [_officer_message(o, template, c, **context) for o, c in _by_officer(cases).items()]
    with get_connection() as connection:
        connection.send_messages(messages)
    return len(messages)


@shared_task(**RETRY)  # type: ignore[untyped-decorator]
def send_due_reminders() -> int:
    """Each officer hears which of their cases fall due in REMINDER_WORKING_DAYS working days."""
    today = timezone.localdate()
    calendar = WorkingCalendar()
    if not calendar.is_working_day(today):
        return 0  # the working day before already reminded of these cases
    due = calendar.add(today, settings.REMINDER_WORKING_DAYS)
    cases = list(
        Case.objects.filter(state__in=CLOCK_RUNNING, due_on=due)
        .select_related("assigned_officer")
        .order_by("reference")
    )
    return _mail_officers(cases, "due_reminder", due_on=due)


@shared_task(**RETRY)  # type: ignore[untyped-decorator]
def send_overdue_digest() -> int:
    """Each officer gets the list of their overdue cases (none sent when there are none,
    nor on days off)."""
    today = timezone.localdate()
    if not WorkingCalendar().is_working_day(today):
        return 0
    cases = list(
        Case.objects.filter(state__in=CLOCK_RUNNING, due_on__lt=today)
        .select_related("assigned_officer")
        .order_by("due_on", "reference")
    )
    return _mail_officers(cases, "overdue_digest", today=today)
