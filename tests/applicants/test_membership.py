from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from applicants.services import membership_add
from common.exceptions import NotAllowed, ValidationFailed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_add_member_command_gives_access_to_the_firms_cases(client_for, case_in, enterprise):
    draft = case_in("draft")
    colleague = UserFactory(username="colleague")
    assert client_for(colleague).get(f"/api/v1/cases/{draft.pk}/").status_code == 404
    call_command("add_member", "--tax-code", enterprise.tax_code, "--username", "colleague")
    assert client_for(colleague).get(f"/api/v1/cases/{draft.pk}/").status_code == 200


def test_add_member_command_refuses_unknowns_and_duplicates(enterprise, applicant):
    with pytest.raises(CommandError):
        call_command("add_member", "--tax-code", "0000000000", "--username", "applicant")
    with pytest.raises(CommandError):
        call_command("add_member", "--tax-code", enterprise.tax_code, "--username", "nobody")
    with pytest.raises(CommandError, match="already"):
        call_command("add_member", "--tax-code", enterprise.tax_code, "--username", "applicant")


def test_only_an_owner_may_add_members(enterprise, applicant, other_applicant, officer):
    colleague = UserFactory(username="colleague")
    for outsider in (other_applicant, officer):
        with pytest.raises(NotAllowed):
            membership_add(enterprise=enterprise, user=colleague, added_by=outsider)
    membership_add(enterprise=enterprise, user=colleague, added_by=applicant)
    with pytest.raises(ValidationFailed):
        membership_add(enterprise=enterprise, user=colleague, added_by=applicant)
