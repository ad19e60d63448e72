import datetime as dt

import holidays
from django.db import migrations
from django.utils import timezone


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Appointment dates for cases received before the clock existed, counted like
    cases.calendar does (a frozen copy): the national calendar, then the department's
    overrides. Supplements asked before then stop the clock from their request; pauses
    already over are not counted (there was no clock to stop)."""
    Case = apps.get_model("cases", "Case")
    CaseEvent = apps.get_model("cases", "CaseEvent")
    SupportRule = apps.get_model("cases", "SupportRule")
    CalendarOverride = apps.get_model("cases", "CalendarOverride")
    overrides = dict(CalendarOverride.objects.values_list("date", "working"))
    national = holidays.country_holidays("VN")

    def working(day):  # type: ignore[no-untyped-def]
        return overrides[day] if day in overrides else national.is_working_day(day)

    def add(start, days):  # type: ignore[no-untyped-def]
        day = start
        while days > 0:
            day += dt.timedelta(days=1)
            days -= working(day)
        return day

    processing = {(r.programme_id, r.support_type): r.processing_days for r in SupportRule.objects.all()}
    for case in Case.objects.filter(received_at__isnull=False, due_on__isnull=True).iterator():
        received = timezone.localtime(case.received_at).date()
        due_on = add(received, processing.get((case.programme_id, case.support_type), 20))
        requests = CaseEvent.objects.filter(case_id=case.pk, action="request-supplement").order_by("-seq")
        changes = {"due_on": due_on, "due_key": due_on.strftime("%Y%m%d"), "supplement_requests": requests.count()}
        if case.state == "awaiting_supplement" and requests.exists():
            changes["clock_stopped_on"] = timezone.localtime(requests.first().at).date()
        elif case.state == "withdrawn":
            withdrawn = CaseEvent.objects.filter(case_id=case.pk, action="withdraw").first()
            if withdrawn is not None:
                changes["clock_stopped_on"] = timezone.localtime(withdrawn.at).date()
        Case.objects.filter(pk=case.pk).update(**changes)


class Migration(migrations.Migration):
    dependencies = [("cases", "0012_slips_reschedule")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
