from django.db import migrations


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Ledger entries for cases decided before the ledger existed."""
    Case = apps.get_model("cases", "Case")
    BudgetEntry = apps.get_model("cases", "BudgetEntry")
    entries = []
    for case in Case.objects.filter(state__in=["approved", "disbursed", "cancelled"], approved_amount__isnull=False):
        common = {"programme_id": case.programme_id, "case_id": case.pk, "support_type": case.support_type}
        at = case.decided_at or case.updated_at
        entries.append(BudgetEntry(kind="commit", amount=case.approved_amount, at=at, **common))
        if case.state == "disbursed" and case.disbursed_amount:
            entries.append(BudgetEntry(kind="spend", amount=case.disbursed_amount, at=case.updated_at, **common))
            rest = case.approved_amount - case.disbursed_amount
            if rest > 0:
                entries.append(BudgetEntry(kind="release", amount=rest, at=case.updated_at, **common))
        elif case.state == "cancelled":
            entries.append(BudgetEntry(kind="release", amount=case.approved_amount, at=case.updated_at, **common))
    BudgetEntry.objects.bulk_create(entries)


class Migration(migrations.Migration):
    dependencies = [("cases", "0003_budget_ledger")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
