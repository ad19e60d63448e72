"""Mail the case's changes cause: to each member in their language, once per event, after
commit, and never at the cost of the change itself. The last test runs the Celery path
against a real worker and the machine's Redis."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection

from cases import notifications, services
from cases.models import Case
from tests.broker import broker_for_this_test
from tests.factories import UserFactory, add_member


def test_a_state_change_mails_each_member_once_in_their_language(
    case_in, applicant, enterprise, officer, django_capture_on_commit_callbacks
):
    applicant.language = "en"
    applicant.save()
    colleague = UserFactory(username="colleague", language="vi")
    add_member(colleague, enterprise, role="member")
    case = case_in("submitted")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.case_receive(case=Case.objects.get(pk=case.pk), actor=officer)

    assert len(mail.outbox) == 2  # one each, once
    by_address = {m.to[0]: m for m in mail.outbox}
    assert sorted(by_address) == sorted([applicant.email, colleague.email])
    english, vietnamese = by_address[applicant.email], by_address[colleague.email]
    assert english.subject == f"[{case.reference}] Your application is now: In review"
    assert "Appointment date:" in english.body
    assert vietnamese.subject.startswith(f"[{case.reference}] ")
    assert "Đang thẩm định" in vietnamese.subject


def test_changes_beside_the_workflow_mail_nobody(
    case_in, applicant, manager, officer2, django_capture_on_commit_callbacks
):
    case = case_in("in_review")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_assign(case=Case.objects.get(pk=case.pk), actor=manager, officer_id=officer2.pk)
    assert mail.outbox == []


def test_a_failed_send_is_retried_logged_and_never_undoes_the_change(
    case_in, officer, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    case = case_in("submitted")
    calls = []

    def broken(*args: object, **kwargs: object) -> None:
        calls.append(1)
        raise OSError("mail server down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", broken)
    monkeypatch.setattr(notifications.time, "sleep", lambda seconds: None)

    with django_capture_on_commit_callbacks(execute=True):
        services.case_receive(case=Case.objects.get(pk=case.pk), actor=officer)

    assert Case.objects.get(pk=case.pk).state == "in_review"
    assert len(calls) == notifications.IN_PROCESS_ATTEMPTS
    assert "giving up" in caplog.text


THURSDAY = dt.datetime(2026, 11, 26, 9, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
SATURDAY = dt.datetime(2026, 11, 28, 9, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@time_machine.travel(THURSDAY, tick=False)
def test_reminders_and_the_overdue_digest_go_to_the_assigned_officers(case_in, officer, settings):
    from django.utils import timezone

    from cases import tasks
    from cases.calendar import WorkingCalendar

    late = case_in("in_review")
    soon = case_in("in_review")
    today = timezone.localdate()
    Case.objects.filter(pk=late.pk).update(due_on=today - dt.timedelta(days=3))
    Case.objects.filter(pk=soon.pk).update(due_on=WorkingCalendar().add(today, settings.REMINDER_WORKING_DAYS))
    mail.outbox.clear()

    assert tasks.send_due_reminders() == 1
    assert tasks.send_overdue_digest() == 1

    reminder, digest = mail.outbox
    assert reminder.to == digest.to == [officer.email]
    assert soon.reference in reminder.body
    assert late.reference not in reminder.body
    assert late.reference in digest.body
    assert soon.reference not in digest.body


@pytest.mark.django_db(transaction=True)
def test_with_a_broker_a_real_worker_sends_the_mail(case_in, officer, tmp_path, settings):
    import uuid

    broker = "redis://127.0.0.1:6379/15"
    queue = f"ipsupport-test-{uuid.uuid4().hex[:12]}"  # runs at the same time cannot take each other's tasks
    outbox = tmp_path / "mail"
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{database['NAME']}"
    else:
        password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
        database_url = (
            f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DJANGO_EMAIL_FILE_PATH": str(outbox),
        "DOCUMENTS_ROOT": str(tmp_path / "documents"),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "backend", "worker", "--pool=solo", "--loglevel=WARNING", "-Q", queue],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        case = case_in("submitted")  # before the broker: the submit mail stays in this process
        with broker_for_this_test(settings, broker, queue):
            services.case_receive(case=Case.objects.get(pk=case.pk), actor=officer)  # commits: queued

        def sent() -> list[str]:
            return [p.read_text() for p in outbox.iterdir()] if outbox.exists() else []

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(case.reference in text for text in sent()):
            assert worker.poll() is None, worker.communicate()[0]
            time.sleep(0.5)
        time.sleep(1)  # anything more the worker would (wrongly) send
        mails = sent()
        assert len(mails) == 1, "the worker sent no mail (or more than one) within a minute"
        assert case.reference in mails[0]
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


@time_machine.travel(SATURDAY, tick=False)
def test_nobody_is_reminded_on_a_day_off(case_in, officer):
    from cases import tasks

    late = case_in("in_review")
    Case.objects.filter(pk=late.pk).update(due_on=dt.date(2026, 11, 20))
    mail.outbox.clear()

    assert (tasks.send_due_reminders(), tasks.send_overdue_digest()) == (0, 0)
    assert mail.outbox == []


@time_machine.travel(THURSDAY, tick=False)
def test_the_reminders_command_sends_both_kinds(case_in, officer):
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    late = case_in("in_review")
    Case.objects.filter(pk=late.pk).update(due_on=timezone.localdate() - dt.timedelta(days=1))
    mail.outbox.clear()
    out = StringIO()

    call_command("send_reminders", stdout=out)

    assert out.getvalue().strip() == "Sent 0 due-date reminder(s) and 1 overdue list(s)."
    assert [m.to for m in mail.outbox] == [[officer.email]]


def test_a_reschedule_tells_the_members_the_new_date(case_in, applicant, officer, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from cases.calendar import WorkingCalendar

    case = case_in("in_review")
    today = timezone.localdate()
    Case.objects.filter(pk=case.pk).update(due_on=today - dt.timedelta(days=2))
    new_date = WorkingCalendar().add(today, 5)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.case_reschedule(
            case=Case.objects.get(pk=case.pk), actor=officer, due_on=new_date, reason="Chờ ý kiến chuyên gia"
        )

    [message] = mail.outbox
    assert message.to == [applicant.email]
    assert new_date.isoformat() in message.body
    assert "Chờ ý kiến chuyên gia" in message.body


def test_plain_text_mail_is_not_html_escaped(case_in, applicant, officer, django_capture_on_commit_callbacks):
    case = case_in("submitted", title='Nhãn hiệu "Đồi Mây" & Cà phê <Langbiang>')
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_receive(case=Case.objects.get(pk=case.pk), actor=officer)

    [message] = mail.outbox
    assert 'Nhãn hiệu "Đồi Mây" & Cà phê <Langbiang>' in message.body
    assert "&amp;" not in message.body


def test_a_broker_that_cannot_be_reached_falls_back_to_sending_here(
    case_in, applicant, officer, settings, django_capture_on_commit_callbacks
):
    case = case_in("submitted")
    mail.outbox.clear()
    dead = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    with broker_for_this_test(settings, dead), django_capture_on_commit_callbacks(execute=True):
        services.case_receive(case=Case.objects.get(pk=case.pk), actor=officer)

    assert Case.objects.get(pk=case.pk).state == "in_review"
    assert [m.to for m in mail.outbox] == [[applicant.email]]
