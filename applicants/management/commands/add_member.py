"""Add a user to an enterprise that is already registered (the admin only shows members)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from applicants.models import Enterprise, MembershipRole
from applicants.services import membership_add
from common.exceptions import DomainError


class Command(BaseCommand):
    help = "Make a user a member (or owner) of an enterprise, found by its tax code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tax-code", required=True)
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", choices=MembershipRole.values, default=MembershipRole.MEMBER)

    def handle(self, *args: Any, **options: Any) -> None:
        enterprise = Enterprise.objects.filter(tax_code=options["tax_code"]).first()
        if enterprise is None:
            raise CommandError(f"No enterprise has the tax code {options['tax_code']}.")
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user is called {options['username']}.")
        try:
            membership_add(enterprise=enterprise, user=user, role=options["role"], added_by=None)
        except DomainError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(self.style.SUCCESS(f"{user.username} is now {options['role']} of {enterprise.name}."))
