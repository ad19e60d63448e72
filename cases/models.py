from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django.utils.translation import gettext_lazy as _

from applicants.models import Enterprise
from common.models import AppendOnlyModel


class SupportType(models.TextChoices):
    TRADEMARK = "trademark", _("Domestic trademark registration")
    TRADEMARK_MADRID = "trademark_madrid", _("International trademark registration (Madrid)")
    COLLECTIVE_MARK = "collective_mark", _("Collective mark")
    CERTIFICATION_MARK = "certification_mark", _("Certification mark")
    GEOGRAPHICAL_INDICATION = "geographical_indication", _("Geographical indication")
    INDUSTRIAL_DESIGN = "industrial_design", _("Industrial design")
    PATENT = "patent", _("Patent")
    UTILITY_SOLUTION = "utility_solution", _("Utility solution")
    COPYRIGHT = "copyright", _("Copyright registration")
    IP_CONSULTING = "ip_consulting", _("Intellectual property consulting")
    CONFORMITY_ASSESSMENT = "conformity_assessment", _("Testing, inspection and certification")


# Support for a right registered at an IP office (the rest, consulting and conformity
# assessment, has no filing); marks are classified by Nice class.
IP_SUPPORT_TYPES = frozenset(SupportType.values) - {SupportType.IP_CONSULTING, SupportType.CONFORMITY_ASSESSMENT}
MARK_TYPES = frozenset(
    {SupportType.TRADEMARK, SupportType.TRADEMARK_MADRID, SupportType.COLLECTIVE_MARK, SupportType.CERTIFICATION_MARK}
)


class CaseState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    IN_REVIEW = "in_review", _("In review")
    AWAITING_SUPPLEMENT = "awaiting_supplement", _("Awaiting supplement")
    RECOMMENDED = "recommended", _("Recommended")
    APPROVED = "approved", _("Approved")
    DISBURSED = "disbursed", _("Disbursed")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    CANCELLED = "cancelled", _("Cancelled")


class PaymentTrigger(models.TextChoices):
    """When a rule lets an approved case be paid (checked by `disburse` once documents exist)."""

    VALID_APPLICATION = "valid_application", _("Application accepted as valid by the office")
    CERTIFICATE_GRANTED = "certificate_granted", _("Protection certificate granted")


class Programme(models.Model):
    """A support programme of one year, with its open period, budget and rules."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=255)
    year = models.PositiveSmallIntegerField(_("year"))
    opens_on = models.DateField(_("opens on"))
    closes_on = models.DateField(_("closes on"))
    budget_total = models.BigIntegerField(_("total budget (VND)"))
    legal_basis = models.TextField(_("legal basis"), blank=True)
    reference_prefix = models.CharField(
        _("receipt code prefix"),
        max_length=10,
        default="SHTT",
        help_text=_("Receipt codes read PREFIX-YEAR-NNNNN, e.g. SHTT-2026-00042."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_on__gte=models.F("opens_on")), name="programme_period_ordered"
            ),
            models.CheckConstraint(condition=models.Q(budget_total__gte=0), name="programme_budget_non_negative"),
        ]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"


class SupportRule(models.Model):
    """How much a programme pays for one support type, and to whom. Data, set by managers.

    amount = min(percent x eligible cost, cap per item, what is left of the enterprise's
    yearly cap); an enterprise may hold at most `max_items_per_enterprise` live cases under
    the rule. Empty eligibility lists mean "any". A decision copies these values onto the
    case (`Case.decided_rule`), so a later edit never changes what was decided.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="rules")
    support_type = models.CharField(_("support type"), max_length=32, choices=SupportType.choices)
    percent = models.DecimalField(_("percent of eligible cost"), max_digits=5, decimal_places=2)
    cap_amount = models.BigIntegerField(_("cap per item (VND)"))
    enterprise_year_cap = models.BigIntegerField(_("cap per enterprise per year (VND)"), null=True, blank=True)
    max_items_per_enterprise = models.PositiveSmallIntegerField(
        _("maximum items per enterprise"), null=True, blank=True
    )
    legal_forms = models.JSONField(_("eligible legal forms"), default=list, blank=True)
    size_classes = models.JSONField(_("eligible size classes"), default=list, blank=True)
    province_codes = models.JSONField(_("eligible provinces"), default=list, blank=True)
    startup_required = models.BooleanField(_("verified innovative startups only"), default=False)
    payment_trigger = models.CharField(
        _("payment trigger"),
        max_length=24,
        choices=PaymentTrigger.choices,
        default=PaymentTrigger.VALID_APPLICATION,
    )
    legal_basis = models.TextField(_("legal basis"), blank=True)
    # Document kinds (DocumentKind values) the dossier must hold to be submitted, and
    # before the approved amount may be paid.
    documents_at_submission = models.JSONField(_("documents required at submission"), default=list, blank=True)
    documents_before_payment = models.JSONField(_("documents required before payment"), default=list, blank=True)
    # The statutory time from valid receipt to result, in working days (the appointment
    # date on the receipt slip is counted from it).
    processing_days = models.PositiveSmallIntegerField(_("processing time (working days)"), default=20)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["support_type"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "support_type"], name="rule_unique_per_type"),
            models.CheckConstraint(condition=models.Q(percent__gt=0, percent__lte=100), name="rule_percent_range"),
            models.CheckConstraint(condition=models.Q(cap_amount__gt=0), name="rule_cap_positive"),
            models.CheckConstraint(
                condition=models.Q(enterprise_year_cap__isnull=True) | models.Q(enterprise_year_cap__gt=0),
                name="rule_year_cap_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(max_items_per_enterprise__isnull=True) | models.Q(max_items_per_enterprise__gt=0),
                name="rule_max_items_positive",
            ),
        ]
        verbose_name = _("support rule")
        verbose_name_plural = _("support rules")

    def __str__(self) -> str:
        return f"{self.programme_id}/{self.support_type}"


class _DocumentsStorage(LazyObject):
    """`STORAGES["documents"]`, looked up when first used (and again after the setting
    changes, as in tests), not when the models load."""

    def _setup(self) -> None:
        self._wrapped = storages["documents"]


documents_storage = _DocumentsStorage()


@receiver(setting_changed)
def _forget_documents_storage(*, setting: str, **kwargs: object) -> None:
    if setting == "STORAGES":
        documents_storage._wrapped = empty  # type: ignore[assignment]


def storages_documents() -> Storage:
    """The documents' storage: private, never served by any URL."""
    return documents_storage  # type: ignore[return-value]


def queue_key_for(*, priority: int, submitted_at: dt.datetime | None, created_at: dt.datetime) -> str:
    """The officers' queue order as one string. Dossiers received on the same (local) day
    count as arriving together: among them more priority flags come first, then first come,
    first served; an earlier day always comes before a later one. Drafts, in no queue, come
    after every dossier."""
    if submitted_at is None:
        return "9" + created_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    day = timezone.localdate(submitted_at).strftime("%Y%m%d")
    return day + str(3 - priority) + submitted_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S%f")


class Case(models.Model):
    """A firm's application for support. Its `state` is changed only by `cases.workflow`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(_("receipt code"), max_length=32, unique=True, null=True, blank=True)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="cases")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="cases")
    support_type = models.CharField(_("support type"), max_length=32, choices=SupportType.choices)
    title = models.CharField(_("title"), max_length=255)
    details = models.JSONField(_("details"), default=dict, blank=True)
    state = models.CharField(
        _("state"), max_length=24, choices=CaseState.choices, default=CaseState.DRAFT, editable=False
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    requested_amount = models.BigIntegerField(_("requested amount (VND)"))
    recommended_amount = models.BigIntegerField(_("recommended amount (VND)"), null=True, blank=True)
    approved_amount = models.BigIntegerField(_("approved amount (VND)"), null=True, blank=True)
    disbursed_amount = models.BigIntegerField(_("disbursed amount (VND)"), null=True, blank=True)
    recommendation = models.CharField(_("recommended outcome"), max_length=10, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    # The rule's values and the amount's breakdown when the case was approved.
    decided_rule = models.JSONField(_("rule applied by the decision"), null=True, blank=True, editable=False)
    # Decree 80/2021 priority flags the enterprise held at submission (0-3), and the
    # officers' queue position built from it: rank digit then submission time, one
    # sortable column so the keyset cursor stays exact. Drafts sort after every dossier.
    priority = models.PositiveSmallIntegerField(_("priority"), default=0, editable=False)
    queue_key = models.CharField(max_length=40, default="9", editable=False)
    # The clock (Decree 118/2025 one-stop rules): the appointment date set at receipt, the
    # day the clock stopped for a supplement, the working days it stood still, and how
    # many supplements were asked (a second one counts against the office).
    due_on = models.DateField(_("appointment date"), null=True, blank=True, editable=False)
    due_key = models.CharField(max_length=8, default="99999999", editable=False)
    clock_stopped_on = models.DateField(null=True, blank=True, editable=False)
    paused_working_days = models.PositiveIntegerField(default=0, editable=False)
    supplement_requests = models.PositiveSmallIntegerField(default=0, editable=False)
    reschedules = models.PositiveSmallIntegerField(default=0, editable=False)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    assigned_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assigned_cases", null=True, blank=True
    )
    recommended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A deleted draft is hidden, not erased: its trail (create, edits, delete) stays.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "-created_at"], name="case_state_created"),
            models.Index(fields=["enterprise", "-created_at"], name="case_enterprise_created"),
            models.Index(fields=["assigned_officer", "state"], name="case_officer_state"),
            models.Index(fields=["submitted_at"], name="case_submitted_at"),
            # the list's other orderings
            models.Index(fields=["updated_at"], name="case_updated_at"),
            models.Index(fields=["requested_amount"], name="case_requested_amount"),
            models.Index(fields=["queue_key"], name="case_queue_key"),
            models.Index(fields=["due_key"], name="case_due_key"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(requested_amount__gt=0), name="case_requested_positive"),
        ]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return self.reference or f"draft {self.pk}"


class CostLine(models.Model):
    """One invoiced cost the support is asked for. The lines are replaced as a set while
    the applicant may edit them; every set is kept in the case's trail."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="cost_lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(_("description"), max_length=255)
    amount = models.BigIntegerField(_("amount (VND)"))
    invoice_number = models.CharField(_("invoice number"), max_length=50)
    invoice_date = models.DateField(_("invoice date"))
    payee = models.CharField(_("payee"), max_length=255)

    class Meta:
        ordering = ["case", "position"]
        constraints = [
            models.UniqueConstraint(fields=["case", "position"], name="cost_line_unique_position"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="cost_line_amount_positive"),
        ]
        verbose_name = _("cost line")
        verbose_name_plural = _("cost lines")

    def __str__(self) -> str:
        return f"{self.invoice_number}: {self.amount}"


class CaseEvent(AppendOnlyModel):
    """One line of a case's audit trail. Append-only: never edited or deleted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=24, choices=CaseState.choices, blank=True)
    to_state = models.CharField(max_length=24, choices=CaseState.choices, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_index=True)
    comment = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Position in the case's trail: the case's version after the change it records. Unique,
    # so two writers that both think they changed version N cannot both leave a trail.
    seq = models.PositiveIntegerField(editable=False)

    class Meta:
        ordering = ["case", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="event_unique_case_seq")]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.case_id} {self.action} {self.from_state}->{self.to_state}"

    @property
    def state_before(self) -> str | None:
        """The state the event left, as the API shows it: None for the creation, which left none."""
        return self.from_state or None


class ReferenceCounter(models.Model):
    """The last receipt number issued per prefix and year; incremented under a row lock."""

    prefix = models.CharField(max_length=10)
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="reference_counter_unique")]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last_value}"


class DocumentKind(models.TextChoices):
    APPLICATION_FORM = "application_form", _("Application form")
    BUSINESS_REGISTRATION = "business_registration", _("Business registration certificate")
    FILING_RECEIPT = "filing_receipt", _("IP office filing receipt")
    VALID_APPLICATION_NOTICE = "valid_application_notice", _("Notice of a valid application")
    PROTECTION_CERTIFICATE = "protection_certificate", _("Protection certificate")
    COPYRIGHT_CERTIFICATE = "copyright_certificate", _("Copyright registration certificate")
    INVOICE = "invoice", _("Invoice")
    PAYMENT_RECEIPT = "payment_receipt", _("Payment receipt")
    SERVICE_CONTRACT = "service_contract", _("Service contract")
    ACCEPTANCE_RECORD = "acceptance_record", _("Acceptance record")
    POWER_OF_ATTORNEY = "power_of_attorney", _("Power of attorney")
    STARTUP_PROOF = "startup_proof", _("Innovative startup proof")
    TEST_REPORT = "test_report", _("Test report")
    RECEIPT_SLIP = "receipt_slip", _("Receipt and appointment slip")
    APOLOGY_SLIP = "apology_slip", _("Apology and new appointment slip")
    OTHER = "other", _("Other")


def document_path(document: Document, filename: str) -> str:
    """Where a document's bytes live in the documents storage: a name the server makes,
    never the uploader's, so no path or name of theirs reaches the file system."""
    return f"cases/{document.case_id}/{document.id}{document.extension}"


class Document(models.Model):
    """One uploaded file of a case. Written once; a new version is a new row that
    `replaces` the old one, which stays listed and downloadable."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(_("kind"), max_length=32, choices=DocumentKind.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    file = models.FileField(storage=storages_documents, upload_to=document_path, max_length=200)
    original_name = models.CharField(_("original file name"), max_length=255)
    extension = models.CharField(max_length=10)
    media_type = models.CharField(_("media type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    replaces = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"), db_index=True)

    class Meta:
        ordering = ["case", "uploaded_at"]
        indexes = [models.Index(fields=["case", "kind"], name="document_case_kind")]
        constraints = [models.CheckConstraint(condition=models.Q(size__gt=0), name="document_not_empty")]
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return f"{self.kind} v{self.version}: {self.original_name}"


class IpOffice(models.TextChoices):
    NOIP = "noip", _("National Office of Intellectual Property (NOIP)")
    WIPO = "wipo", _("World Intellectual Property Organization (WIPO)")
    COPYRIGHT_OFFICE = "copyright_office", _("Copyright Office of Vietnam")


class MilestoneKind(models.TextChoices):
    FILED = "filed", _("Filed")
    FORMALITY_ACCEPTED = "formality_accepted", _("Accepted as valid (formality examination)")
    PUBLISHED = "published", _("Published")
    OFFICE_ACTION = "office_action", _("Office action")
    GRANTED = "granted", _("Granted")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Filing(models.Model):
    """Where and when the case's IP application was filed. One per case; changing it is
    an event, and the number may be claimed by one case only unless a manager allows it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="filing")
    office = models.CharField(_("office"), max_length=20, choices=IpOffice.choices)
    application_number = models.CharField(_("application number"), max_length=40, db_index=True)
    filed_on = models.DateField(_("filed on"))
    nice_classes = models.JSONField(_("Nice classes"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("filing")
        verbose_name_plural = _("filings")

    def __str__(self) -> str:
        return f"{self.office} {self.application_number}"


class Milestone(AppendOnlyModel):
    """A dated step at the IP office, with the document that proves it. Append-only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="milestones")
    kind = models.CharField(_("milestone"), max_length=24, choices=MilestoneKind.choices)
    occurred_on = models.DateField(_("date"))
    certificate_number = models.CharField(_("certificate number"), max_length=20, blank=True, db_index=True)
    certificate_date = models.DateField(_("certificate date"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    evidence = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="milestones")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["case", "occurred_on", "recorded_at"]
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.occurred_on}"


class ClaimKind(models.TextChoices):
    APPLICATION_NUMBER = "application_number", _("Application number")
    CERTIFICATE_NUMBER = "certificate_number", _("Certificate number")


class ClaimedNumber(models.Model):
    """One row per application or certificate number ever claimed: claims on the same
    number take this row's lock first, so two cases cannot both check, find it free and
    take it at the same moment."""

    kind = models.CharField(max_length=24, choices=ClaimKind.choices)
    number = models.CharField(max_length=40)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "number"], name="claimed_number_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.number}"


class ClaimAllowance(models.Model):
    """A manager's decision that this case may claim a number another case already claims
    (e.g. one mark supported once for filing and once for a second class), with the reason."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="claim_allowances")
    kind = models.CharField(max_length=24, choices=ClaimKind.choices)
    number = models.CharField(max_length=40)
    reason = models.TextField()
    allowed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    allowed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "kind", "number"], name="claim_allowance_unique"),
        ]
        verbose_name = _("duplicate claim allowance")
        verbose_name_plural = _("duplicate claim allowances")

    def __str__(self) -> str:
        return f"{self.case_id} may claim {self.kind} {self.number}"


class CalendarOverride(models.Model):
    """The department's own word on one date: a working day (a swapped Saturday the law
    announced late) or a day off (a provincial holiday). Wins over the national calendar."""

    date = models.DateField(_("date"), unique=True)
    working = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=255)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")

    def __str__(self) -> str:
        return f"{self.date}: {'working' if self.working else 'day off'}"


class RuleChangeKind(models.TextChoices):
    CREATED = "created", _("Created")
    CHANGED = "changed", _("Changed")
    REMOVED = "removed", _("Removed")


class SupportRuleChange(AppendOnlyModel):
    """Who changed a programme's rule, when, and from what to what. Append-only.

    Keyed by programme and support type rather than by rule, so a removed rule's history
    stays. `before` and `after` hold only the fields that changed (all of them when the
    rule was created or removed), as plain JSON values.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="rule_changes")
    support_type = models.CharField(max_length=32, choices=SupportType.choices)
    kind = models.CharField(max_length=10, choices=RuleChangeKind.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["programme", "at"]
        indexes = [models.Index(fields=["programme", "at"], name="rule_change_programme_at")]
        verbose_name = _("support rule change")
        verbose_name_plural = _("support rule changes")

    def __str__(self) -> str:
        return f"{self.programme_id}/{self.support_type} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class LedgerKind(models.TextChoices):
    COMMIT = "commit", _("Committed by an approval")
    RELEASE = "release", _("Released")
    SPEND = "spend", _("Spent by a payment")


class BudgetEntry(AppendOnlyModel):
    """One movement of a programme's budget. Append-only: the balance is their sum.

    commit (approve) holds money for a case; spend (disburse) turns held money into paid
    money; release (cancel, or the unpaid rest of a smaller payment) gives it back.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="ledger")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="ledger")
    support_type = models.CharField(max_length=32, choices=SupportType.choices)
    kind = models.CharField(max_length=10, choices=LedgerKind.choices)
    amount = models.BigIntegerField()
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        ordering = ["programme", "at"]
        indexes = [models.Index(fields=["programme", "support_type"], name="ledger_programme_type")]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="ledger_amount_positive")]
        verbose_name = _("budget entry")
        verbose_name_plural = _("budget entries")

    def __str__(self) -> str:
        return f"{self.programme_id} {self.kind} {self.amount}"
