"""Check that every programme's ledger agrees with its cases; exit 1 when it does not.

For each case the ledger must hold: approved → its approved amount, nothing paid;
disbursed → nothing held, its disbursed amount paid; any other state → nothing held or paid.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cases.models import BudgetEntry, Case, CaseState, LedgerKind


class Command(BaseCommand):
    help = "Compare the budget ledger with the cases; exit non-zero on any difference."

    def handle(self, *args: Any, **options: Any) -> None:
        held: dict[Any, int] = defaultdict(int)
        paid: dict[Any, int] = defaultdict(int)
        for case_id, kind, amount in BudgetEntry.objects.values_list("case_id", "kind", "amount").iterator():
            if kind == LedgerKind.COMMIT:
                held[case_id] += amount
            else:
                held[case_id] -= amount
                if kind == LedgerKind.SPEND:
                    paid[case_id] += amount
        problems = []
        fields = ("id", "reference", "state", "approved_amount", "disbursed_amount")
        for case_id, reference, state, approved, disbursed in Case.objects.values_list(*fields).iterator():
            want_held = approved if state == CaseState.APPROVED else 0
            want_paid = disbursed if state == CaseState.DISBURSED else 0
            if (held.pop(case_id, 0), paid.pop(case_id, 0)) != (want_held or 0, want_paid or 0):
                problems.append(f"{reference or case_id} ({state}): ledger disagrees with the case")
        problems += [f"{case_id}: ledger entries for a case that does not exist" for case_id in held]
        for line in problems:
            self.stderr.write(line)
        if problems:
            raise CommandError(f"{len(problems)} difference(s) between the ledger and the cases.")
        self.stdout.write(self.style.SUCCESS("The ledger agrees with every case."))
