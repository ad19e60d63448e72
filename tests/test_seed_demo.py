"""The demo data that `make run` loads: it must load, twice, and leave a consistent ledger."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from cases.models import Case, Document, Milestone, Programme

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_once_and_again_without_duplicates(documents_dir):
    call_command("seed_demo", password="demo-Pass-2026", stdout=StringIO())
    counts = (Case.objects.count(), Document.objects.count(), Milestone.objects.count())
    call_command("seed_demo", password="demo-Pass-2026", stdout=StringIO())

    assert (Case.objects.count(), Document.objects.count(), Milestone.objects.count()) == counts
    assert counts == (7, 8, 3)  # 3 milestone evidence files and 5 receipt slips
    states = sorted(Case.objects.values_list("state", flat=True))
    assert states == ["approved", "awaiting_supplement", "disbursed", "draft", "in_review", "recommended", "submitted"]
    assert len(list(documents_dir.rglob("*.pdf"))) == 8
    out = StringIO()
    call_command("check_budget", stdout=out)
    assert "agrees" in out.getvalue()


def test_seed_demo_mails_nobody(documents_dir, settings, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        call_command("seed_demo", password="demo-Pass-2026", stdout=StringIO())

    assert callbacks, "the seed's changes commit their side effects as usual"
    assert mailoutbox == []


def test_seed_demo_prints_no_mail_with_the_console_backend(
    documents_dir, settings, capsys, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # what `make run` uses
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", password="demo-Pass-2026", stdout=out)

    assert capsys.readouterr().out == ""
    assert out.getvalue().splitlines() == [f"Demo data ready: programme {Programme.objects.get().code}."]


def test_the_demo_server_prints_the_logins_and_the_docs_last():
    from io import StringIO

    from cases.management.commands.rundemo import Command

    out = StringIO()
    command = Command(stdout=out)
    command.addr, command._raw_ipv6, command.protocol, command.demo_password = "0.0.0.0", False, "http", "pw-1"

    command.on_bind(8080)

    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert "Quit the server with CONTROL-C." in out.getvalue()
    assert lines[-6:] == [
        "  API docs:  http://127.0.0.1:8080/api/v1/docs/   (ReDoc: /api/v1/redoc/)",
        "  Demo logins (password: pw-1):",
        "    manager, officer, officer2, applicant, applicant2",
        "  Get a token:",
        "    curl -s -X POST http://127.0.0.1:8080/api/v1/auth/token/ -H 'Content-Type: application/json' \\",
        """         -d '{"username": "applicant", "password": "pw-1"}'""",
    ]
