"""`notifications.silenced()`: changes made inside the block are recorded but announced
to no one, even when their transaction commits after the block has ended."""

from __future__ import annotations

from django.core import mail
from django.db import transaction

from cases import notifications, services
from cases.models import Case, CaseEvent


def test_a_change_made_while_silenced_mails_nobody_though_it_commits_later(
    case_in, officer, django_capture_on_commit_callbacks
):
    case = case_in("submitted")
    mail.outbox.clear()

    # silenced() ends first, then the transaction commits and its callbacks run
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic(), notifications.silenced():
        services.case_receive(case=Case.objects.get(pk=case.pk), actor=officer)

    assert mail.outbox == []
    assert CaseEvent.objects.filter(case=case, action="receive").count() == 1


def test_changes_after_the_block_are_announced_again(case_in, applicant, officer, django_capture_on_commit_callbacks):
    case = case_in("submitted")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with notifications.silenced():
            services.case_receive(case=Case.objects.get(pk=case.pk), actor=officer)
        services.case_request_supplement(case=Case.objects.get(pk=case.pk), actor=officer, items=["Hóa đơn"])

    assert [m.to for m in mail.outbox] == [[applicant.email]]  # the request for a supplement only
    assert len(mail.outbox) == CaseEvent.objects.filter(case=case, action="request-supplement").count()
