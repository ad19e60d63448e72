"""Explicit input and output serializers, one pair per operation, with unique names.

Inputs check shape and types only; business rules live in the services.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.roles import principal_for
from applicants.models import Enterprise, LegalForm, SectorGroup, SizeClass
from cases.checklist import PAYMENT, SUBMISSION, SUPPLEMENT, Checklist
from cases.limits import CHECK_CODES, LIMIT_CODES, Eligibility, Supportable
from cases.models import (
    CalendarOverride,
    Case,
    CaseEvent,
    CaseState,
    ClaimAllowance,
    ClaimKind,
    CostLine,
    Document,
    DocumentKind,
    Filing,
    IpOffice,
    Milestone,
    MilestoneKind,
    PaymentTrigger,
    Programme,
    SupportRule,
    SupportRuleChange,
    SupportType,
)
from cases.selectors import CaseDetail, is_overdue
from cases.services import RULE_FIELDS
from cases.workflow import ACTIONS, allowed_actions

MAX_VND = 100_000_000_000
MAX_COMMENT = 4000


MAX_DETAILS_BYTES = 64 * 1024
MAX_DETAILS_DEPTH = 20


def _json_type_error(field: serializers.Field[Any, Any, Any, Any], value: Any) -> str | None:
    """The field's own message when a JSON value has another type than the schema declares
    (a list's items included), else None. DRF would read `0` as false, `1` as a UUID, `5` as
    the text "5" and "5" as a number: the contract says boolean, string or number, and a
    client sending another type has a bug to hear about."""
    if value is None:
        return None  # the field's own `null` check answers
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return None  # the field's own `not_a_list` check answers
        return next((error for item in value if (error := _json_type_error(field.child, item))), None)
    if isinstance(field, serializers.BooleanField):
        matches = isinstance(value, bool)
    elif isinstance(field, serializers.CharField | serializers.UUIDField):
        matches = isinstance(value, str)
    elif isinstance(field, serializers.IntegerField):  # `1000000.0` and `1e6` too: a float is not a whole number
        matches = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(field, serializers.DecimalField):  # a number, or a decimal string (exact)
        matches = isinstance(value, int | float | str) and not isinstance(value, bool)
    else:
        return None
    return None if matches else str(field.error_messages["invalid"])


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(value: Any) -> bool:
    """Whether a parsed JSON value holds a lone surrogate (`"\\ud800"`) in a string or a key.
    JSON's escapes let a client send one; it is no Unicode character, so it cannot be encoded
    as UTF-8 for the database, a hash or the response that would echo it. Walked without
    recursion: a body nests as deep as the parser allows."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _printable(name: str) -> str:
    """A field name as the problem can show it (a lone surrogate as its escape)."""
    return name.encode("utf-8", "backslashreplace").decode()


# An input that refuses keys it does not know (a misspelt field would otherwise be dropped
# without a word), bodies that are not JSON objects, JSON values of another type than the
# schema's, and text holding lone surrogates. (A comment, not a docstring: the schema would
# show it as the description of every input.)
class StrictInput(serializers.Serializer[Any]):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) or hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {_printable(name): [_("Unknown field.")] for name in unknown}, code="unknown_field"
                )
        if type(data) is dict:  # parsed JSON; form and multipart parts are all text
            wrong = {
                name: [serializers.ErrorDetail(error, code="invalid")]
                for name, value in data.items()
                if (error := _json_type_error(self.fields[name], value))
            }
            # Nested inputs (a cost line) check their own fields, so the error names the line's.
            wrong.update(
                (name, [serializers.ErrorDetail(str(_("Not a valid string.")), code="surrogate")])
                for name, value in data.items()
                if name not in wrong
                and not isinstance(self.fields[name], StrictInput | serializers.ListSerializer)
                and _has_surrogate(value)
            )
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


def _json_depth_and_nul(value: Any, depth: int = 0) -> tuple[int, bool]:
    """How deep `value` nests (stopping past the limit) and whether a string holds NUL."""
    if isinstance(value, str):
        return depth, "\x00" in value
    if depth > MAX_DETAILS_DEPTH or not isinstance(value, dict | list):
        return depth, False
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    results = [_json_depth_and_nul(item, depth + 1) for item in items] or [(depth + 1, False)]
    return max(d for d, _nul in results), any(nul for _d, nul in results)


def validate_details(value: Any) -> Any:
    """A JSON object of reasonable size and depth, without NUL characters (PostgreSQL's
    jsonb refuses them)."""
    if not isinstance(value, dict):
        raise serializers.ValidationError(_("Details must be a JSON object."), code="not_object")
    depth, has_nul = _json_depth_and_nul(value)
    if depth > MAX_DETAILS_DEPTH:
        raise serializers.ValidationError(
            _("Details may nest at most %(depth)s levels.") % {"depth": MAX_DETAILS_DEPTH}, code="too_deep"
        )
    encoded = json.dumps(value, ensure_ascii=False)
    if len(encoded.encode()) > MAX_DETAILS_BYTES:
        raise serializers.ValidationError(
            _("Details may take at most %(size)s KB.") % {"size": MAX_DETAILS_BYTES // 1024}, code="too_large"
        )
    if has_nul:
        raise serializers.ValidationError(_("Details may not contain NUL characters."), code="nul_character")
    return value


# --- Auth --------------------------------------------------------------------------------


class TokenCreateInput(StrictInput):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})


class TokenOutput(serializers.Serializer[Any]):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class UserRefOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    username = serializers.CharField()


class MeEnterpriseOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="enterprise.id")
    name = serializers.CharField(source="enterprise.name")
    role = serializers.CharField()


class MePartnerKeyOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField()


class MePartnerOutput(serializers.Serializer[Any]):
    """For a partner system: which partner, and what the key in use allows."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    access = serializers.CharField()
    key = MePartnerKeyOutput()


class MeOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.EmailField()
    language = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    enterprises = MeEnterpriseOutput(many=True)
    partner = MePartnerOutput(allow_null=True, help_text="Set only when a partner system calls with its API key.")


class HealthOutput(serializers.Serializer[Any]):
    status = serializers.CharField()
    database = serializers.CharField()
    version = serializers.CharField()


# --- Enterprises --------------------------------------------------------------------------


class EnterpriseOutput(serializers.ModelSerializer[Enterprise]):
    class Meta:
        model = Enterprise
        fields = [
            "id",
            "name",
            "tax_code",
            "legal_form",
            "province_code",
            "province_name",
            "ward_code",
            "ward_name",
            "address",
            "founded_on",
            "sector_group",
            "employees",
            "annual_revenue",
            "capital",
            "size_class",
            "is_startup",
            "startup_verified_at",
            "verified_at",
            "women_owned",
            "many_female_employees",
            "social_enterprise",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields


class EnterpriseCreateInput(StrictInput):
    name = serializers.CharField(max_length=255)
    tax_code = serializers.CharField(max_length=20)
    legal_form = serializers.ChoiceField(choices=LegalForm.choices)
    province_code = serializers.CharField(max_length=3)
    ward_code = serializers.CharField(max_length=6)
    address = serializers.CharField(max_length=255)
    founded_on = serializers.DateField(required=False, allow_null=True)
    sector_group = serializers.ChoiceField(choices=SectorGroup.choices, default=SectorGroup.TRADE_SERVICES)
    employees = serializers.IntegerField(min_value=0, max_value=10_000_000, default=0)
    annual_revenue = serializers.IntegerField(min_value=0, max_value=10**15, default=0)
    capital = serializers.IntegerField(min_value=0, max_value=10**15, default=0)
    is_startup = serializers.BooleanField(default=False)
    women_owned = serializers.BooleanField(default=False)
    many_female_employees = serializers.BooleanField(default=False)
    social_enterprise = serializers.BooleanField(default=False)


class EnterpriseUpdateInput(EnterpriseCreateInput):
    """Any subset of the creation fields (PATCH)."""


class EnterpriseVerifyInput(StrictInput):
    startup = serializers.BooleanField(
        default=False, help_text=_("Also confirm the innovative-startup status on file.")
    )


# --- Programmes -----------------------------------------------------------------------------


RULE_OUTPUT_FIELDS = ["support_type", *RULE_FIELDS, "updated_at"]


class SupportRuleOutput(serializers.ModelSerializer[SupportRule]):
    percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    legal_forms = serializers.ListField(
        child=serializers.ChoiceField(choices=LegalForm.choices), help_text=_("Empty: every legal form.")
    )
    size_classes = serializers.ListField(
        child=serializers.ChoiceField(choices=SizeClass.choices), help_text=_("Empty: every size class.")
    )
    province_codes = serializers.ListField(child=serializers.CharField(), help_text=_("Empty: every province."))
    documents_at_submission = serializers.ListField(child=serializers.ChoiceField(choices=DocumentKind.choices))
    documents_before_payment = serializers.ListField(child=serializers.ChoiceField(choices=DocumentKind.choices))
    processing_days = serializers.IntegerField()

    class Meta:
        model = SupportRule
        fields = RULE_OUTPUT_FIELDS
        read_only_fields = fields


class SupportRuleChangeOutput(serializers.ModelSerializer[SupportRuleChange]):
    actor = UserRefOutput(read_only=True, allow_null=True, help_text=_("Null: changed at the server's command line."))
    before = serializers.JSONField(read_only=True, help_text=_("The changed fields' old values (a removed rule: all)."))
    after = serializers.JSONField(read_only=True, help_text=_("The changed fields' new values (a new rule: all)."))

    class Meta:
        model = SupportRuleChange
        fields = ["id", "support_type", "kind", "before", "after", "actor", "at"]
        read_only_fields = fields


class ProgrammeOutput(serializers.ModelSerializer[Programme]):
    rules = SupportRuleOutput(many=True, read_only=True)

    class Meta:
        model = Programme
        fields = [
            "id",
            "code",
            "name",
            "year",
            "opens_on",
            "closes_on",
            "budget_total",
            "legal_basis",
            "reference_prefix",
            "rules",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class BudgetLineOutput(serializers.Serializer[Any]):
    support_type = serializers.ChoiceField(choices=SupportType.choices)
    committed = serializers.IntegerField()
    disbursed = serializers.IntegerField()


class ProgrammeBudgetOutput(serializers.Serializer[Any]):
    programme = serializers.CharField(source="programme.code")
    total = serializers.IntegerField(help_text=_("The programme's budget (VND)."))
    committed = serializers.IntegerField(help_text=_("Held by approved cases, not yet paid (VND)."))
    disbursed = serializers.IntegerField(help_text=_("Paid (VND)."))
    available = serializers.IntegerField(help_text=_("What new approvals may still commit (VND)."))
    by_support_type = BudgetLineOutput(many=True)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
            {"type": "string", "format": "decimal", "pattern": r"^\d{1,3}(\.\d{1,2})?$"},
        ],
        "description": "Percent of the eligible cost, above 0 and at most 100, two decimals at most: a number "
        '(`50`, `65.25`) or the same as a string (`"65.25"`, exact).',
    }
)
class PercentInputField(serializers.DecimalField):
    """A rule's percent as sent: a JSON number or a decimal string, both always accepted."""


class SupportRuleUpdateInput(StrictInput):
    """A rule's values; on PATCH any subset of them. A field left out keeps its value (or,
    for a new rule, takes the default: no cap, no limit, any applicant, valid_application)."""

    percent = PercentInputField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        help_text=_("Percent of the eligible cost, above 0 and at most 100."),
    )
    cap_amount = serializers.IntegerField(min_value=1, max_value=MAX_VND, help_text=_("Cap per item (VND)."))
    enterprise_year_cap = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VND,
        allow_null=True,
        required=False,
        help_text=_("Cap per enterprise per year (VND); null: none."),
    )
    max_items_per_enterprise = serializers.IntegerField(
        min_value=1, max_value=1000, allow_null=True, required=False, help_text=_("Null: no limit.")
    )
    legal_forms = serializers.ListField(
        child=serializers.ChoiceField(choices=LegalForm.choices), max_length=10, required=False
    )
    size_classes = serializers.ListField(
        child=serializers.ChoiceField(choices=SizeClass.choices), max_length=10, required=False
    )
    province_codes = serializers.ListField(child=serializers.CharField(max_length=3), max_length=40, required=False)
    startup_required = serializers.BooleanField(required=False)
    payment_trigger = serializers.ChoiceField(choices=PaymentTrigger.choices, required=False)
    legal_basis = serializers.CharField(max_length=4000, allow_blank=True, required=False)
    processing_days = serializers.IntegerField(
        min_value=1,
        max_value=365,
        required=False,
        help_text=_("Processing time from receipt to result, in working days."),
    )
    documents_at_submission = serializers.ListField(
        child=serializers.ChoiceField(choices=DocumentKind.choices),
        max_length=20,
        required=False,
        help_text=_("Document kinds the dossier must hold to be submitted."),
    )
    documents_before_payment = serializers.ListField(
        child=serializers.ChoiceField(choices=DocumentKind.choices),
        max_length=20,
        required=False,
        help_text=_("Document kinds the dossier must hold before the approved amount is paid."),
    )


class SupportRuleInput(SupportRuleUpdateInput):
    support_type = serializers.ChoiceField(choices=SupportType.choices)


class ProgrammeCreateInput(StrictInput):
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=255)
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    opens_on = serializers.DateField()
    closes_on = serializers.DateField()
    budget_total = serializers.IntegerField(min_value=0, max_value=10**14)
    legal_basis = serializers.CharField(required=False, allow_blank=True, default="")
    reference_prefix = serializers.RegexField(r"^[A-Z]{2,10}$", required=False, default="SHTT")
    rules = SupportRuleInput(many=True)


class ProgrammeUpdateInput(StrictInput):
    name = serializers.CharField(max_length=255, required=False)
    year = serializers.IntegerField(min_value=2000, max_value=2100, required=False)
    opens_on = serializers.DateField(required=False)
    closes_on = serializers.DateField(required=False)
    budget_total = serializers.IntegerField(min_value=0, max_value=10**14, required=False)
    legal_basis = serializers.CharField(required=False, allow_blank=True)
    reference_prefix = serializers.RegexField(r"^[A-Z]{2,10}$", required=False)
    rules = SupportRuleInput(many=True, required=False, help_text=_("Replaces the whole rule set."))

    def validate_rules(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A PATCH validates partially, and DRF passes that down to the nested rules; but
        # each rule in a replacement set is whole, so its required fields stay required.
        if not self.partial:
            return value
        rules = SupportRuleInput(data=self.initial_data.get("rules"), many=True)
        rules.is_valid(raise_exception=True)
        return list(rules.validated_data)


# --- Cases ------------------------------------------------------------------------------


# Reads the names the case selectors annotate (enterprise_name, programme_code,
# assigned_officer_username), so a page of cases costs one query and no related objects.
class CaseOutput(serializers.Serializer[Any]):
    """A support application (case), as every case endpoint returns it."""

    id = serializers.UUIDField(read_only=True)
    reference = serializers.CharField(read_only=True, allow_null=True)
    enterprise = serializers.UUIDField(source="enterprise_id", read_only=True)
    enterprise_name = serializers.CharField(read_only=True)
    programme = serializers.CharField(source="programme_code", read_only=True, help_text=_("Programme code."))
    support_type = serializers.ChoiceField(choices=SupportType.choices, read_only=True)
    support_type_label = serializers.SerializerMethodField()
    title = serializers.CharField(read_only=True)
    details = serializers.JSONField(read_only=True)
    state = serializers.ChoiceField(choices=CaseState.choices, read_only=True)
    state_label = serializers.SerializerMethodField()
    requested_amount = serializers.IntegerField(read_only=True)
    recommended_amount = serializers.IntegerField(read_only=True, allow_null=True)
    approved_amount = serializers.IntegerField(read_only=True, allow_null=True)
    disbursed_amount = serializers.IntegerField(read_only=True, allow_null=True)
    recommendation = serializers.CharField(read_only=True, help_text=_("approve, reject or empty."))
    paid_on = serializers.DateField(read_only=True, allow_null=True)
    payment_reference = serializers.CharField(read_only=True)
    assigned_officer = serializers.SerializerMethodField()
    submitted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    received_at = serializers.DateTimeField(read_only=True, allow_null=True)
    decided_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    priority = serializers.IntegerField(
        read_only=True, help_text=_("How many Decree 80/2021 priority criteria the enterprise met at submission (0-3).")
    )
    due_on = serializers.DateField(
        read_only=True, allow_null=True, help_text=_("The appointment date promised at receipt (working days).")
    )
    overdue = serializers.SerializerMethodField(
        help_text=_("In review or recommended after its appointment date (the clock stands still during a supplement).")
    )
    version = serializers.IntegerField(read_only=True)
    allowed_actions = serializers.SerializerMethodField()

    def get_state_label(self, case: Case) -> str:
        return str(CaseState(case.state).label)

    def get_overdue(self, case: Case) -> bool:
        return is_overdue(case, self._today)

    @property
    def _today(self) -> dt.date:
        # one date for a whole page, not one per row
        if "today" not in self.context:
            self.context["today"] = timezone.localdate()
        return self.context["today"]  # type: ignore[no-any-return]

    def get_support_type_label(self, case: Case) -> str:
        return str(SupportType(case.support_type).label)

    @extend_schema_field(UserRefOutput(allow_null=True))
    def get_assigned_officer(self, case: Case) -> dict[str, str] | None:
        if case.assigned_officer_id is None:
            return None
        return {"id": str(case.assigned_officer_id), "username": case.assigned_officer_username}  # type: ignore[attr-defined]

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=ACTIONS)))
    def get_allowed_actions(self, case: Case) -> list[str]:
        return allowed_actions(case, principal_for(self.context["request"].user))

    def to_representation(self, case: Case) -> dict[str, Any]:
        """The same output as the declared fields (a test compares them), built directly:
        DRF's per-field walk was most of a list request's time in the benchmark."""
        return {
            "id": str(case.id),
            "reference": case.reference,
            "enterprise": str(case.enterprise_id),
            "enterprise_name": case.enterprise_name,  # type: ignore[attr-defined]
            "programme": case.programme_code,  # type: ignore[attr-defined]
            "support_type": case.support_type,
            "support_type_label": self.get_support_type_label(case),
            "title": case.title,
            "details": case.details,
            "state": case.state,
            "state_label": self.get_state_label(case),
            "requested_amount": case.requested_amount,
            "recommended_amount": case.recommended_amount,
            "approved_amount": case.approved_amount,
            "disbursed_amount": case.disbursed_amount,
            "recommendation": case.recommendation,
            "paid_on": case.paid_on.isoformat() if case.paid_on else None,
            "payment_reference": case.payment_reference,
            "assigned_officer": self.get_assigned_officer(case),
            "submitted_at": _datetime(case.submitted_at),
            "received_at": _datetime(case.received_at),
            "decided_at": _datetime(case.decided_at),
            "created_at": _datetime(case.created_at),
            "updated_at": _datetime(case.updated_at),
            "priority": case.priority,
            "due_on": case.due_on.isoformat() if case.due_on else None,
            "overdue": self.get_overdue(case),
            "version": case.version,
            "allowed_actions": self.get_allowed_actions(case),
        }

    def declared_representation(self, case: Case) -> dict[str, Any]:
        """What DRF's field-by-field rendering gives; kept to test the fast path against."""
        return dict(super().to_representation(case))


def _datetime(value: dt.datetime | None) -> str | None:
    """DRF's DateTimeField output: ISO 8601 in the current time zone, `Z` for UTC."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class CostLineOutput(serializers.ModelSerializer[CostLine]):
    class Meta:
        model = CostLine
        fields = ["position", "description", "amount", "invoice_number", "invoice_date", "payee"]
        read_only_fields = fields


class LimitOutput(serializers.Serializer[Any]):
    code = serializers.ChoiceField(choices=LIMIT_CODES)
    amount = serializers.IntegerField()
    reason = serializers.CharField(help_text=_("In the request's language."))


class SupportableOutput(serializers.Serializer[Any]):
    """How the largest supportable amount is reached."""

    amount = serializers.IntegerField(help_text=_("The smallest of the limits (VND)."))
    eligible_cost = serializers.IntegerField(help_text=_("The sum of the cost lines (VND)."))
    percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    binding_limit = serializers.CharField(
        source="binding.code", help_text=_("The limit that sets the amount (the smallest).")
    )
    limits = LimitOutput(many=True)


class DecidedRuleOutput(serializers.Serializer[Any]):
    """The rule's values as the approval recorded them, and the breakdown it applied."""

    support_type = serializers.ChoiceField(choices=SupportType.choices)
    percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    cap_amount = serializers.IntegerField()
    enterprise_year_cap = serializers.IntegerField(allow_null=True)
    max_items_per_enterprise = serializers.IntegerField(allow_null=True)
    legal_forms = serializers.ListField(child=serializers.ChoiceField(choices=LegalForm.choices))
    size_classes = serializers.ListField(child=serializers.ChoiceField(choices=SizeClass.choices))
    province_codes = serializers.ListField(child=serializers.CharField())
    startup_required = serializers.BooleanField()
    payment_trigger = serializers.ChoiceField(choices=PaymentTrigger.choices)
    legal_basis = serializers.CharField()
    documents_at_submission = serializers.ListField(
        child=serializers.ChoiceField(choices=DocumentKind.choices), required=False
    )
    documents_before_payment = serializers.ListField(
        child=serializers.ChoiceField(choices=DocumentKind.choices), required=False
    )
    processing_days = serializers.IntegerField(required=False)
    supportable = SupportableOutput()

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        recorded = {**instance, "supportable": Supportable.from_data(instance["supportable"])}
        return dict(super().to_representation(recorded))


class CaseCostLinesOutput(serializers.Serializer[Any]):
    """The same shape PUT takes, so a client can send back what it read."""

    cost_lines = CostLineOutput(many=True)


class CaseDetailOutput(CaseOutput):
    """A case with its costs, the supportable amount's breakdown and, once approved, the
    rule's values the decision recorded."""

    cost_lines = CostLineOutput(many=True, read_only=True)
    eligible_cost = serializers.IntegerField(read_only=True)
    max_supportable_amount = serializers.IntegerField(read_only=True, allow_null=True)
    supportable = SupportableOutput(read_only=True, allow_null=True)
    decided_rule = DecidedRuleOutput(read_only=True, allow_null=True)
    working_days_used = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("Since receipt, not counting the days the clock stood still.")
    )
    working_days_left = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("Until the appointment date; negative when overdue.")
    )
    supplement_requests = serializers.IntegerField(read_only=True)
    paused_working_days = serializers.IntegerField(read_only=True)

    def to_representation(self, detail: CaseDetail) -> dict[str, Any]:  # type: ignore[override]
        data = super().to_representation(detail.case)
        support: Supportable | None = detail.supportable
        data.update(
            cost_lines=CostLineOutput(detail.cost_lines, many=True).data,
            eligible_cost=detail.eligible_cost,
            max_supportable_amount=support.amount if support else None,
            supportable=SupportableOutput(support).data if support else None,
            decided_rule=DecidedRuleOutput(detail.case.decided_rule).data if detail.case.decided_rule else None,
            working_days_used=detail.clock.working_days_used if detail.clock else None,
            working_days_left=detail.clock.working_days_left if detail.clock else None,
            supplement_requests=detail.case.supplement_requests,
            paused_working_days=detail.case.paused_working_days,
        )
        return data


class CaseReceiptOutput(serializers.Serializer[Any]):
    """What a write answers to a partner key without `cases:read`: which case it changed,
    its state and its version (the ETag) after the change, and nothing of its content. The
    key that pays a case does not thereby read it (docs/partners.md, "what each scope sees")."""

    id = serializers.UUIDField(read_only=True)
    reference = serializers.CharField(read_only=True, allow_null=True)
    state = serializers.ChoiceField(choices=CaseState.choices, read_only=True)
    version = serializers.IntegerField(read_only=True)

    def to_representation(self, case: Case) -> dict[str, Any]:
        return {"id": str(case.pk), "reference": case.reference or None, "state": case.state, "version": case.version}


class CaseReceiptSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """The receipt holds these four members and no other: a whole case does not also match
    it, so a `oneOf` of the two (the partner-writable actions) has exactly one branch."""

    target_class = "api.serializers.CaseReceiptOutput"

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


class EligibilityCheckOutput(serializers.Serializer[Any]):
    code = serializers.ChoiceField(choices=CHECK_CODES)
    passed = serializers.BooleanField()
    reason = serializers.CharField(help_text=_("In the request's language."))


class EligibilityOutput(serializers.Serializer[Any]):
    eligible = serializers.BooleanField()
    checks = EligibilityCheckOutput(many=True)

    def to_representation(self, instance: Eligibility) -> dict[str, Any]:
        return {"eligible": instance.eligible, "checks": EligibilityCheckOutput(instance.checks, many=True).data}


class CostLineInput(StrictInput):
    position = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text=_("Optional; lines are numbered in list order, so a given position must match it."),
    )
    description = serializers.CharField(max_length=255)
    amount = serializers.IntegerField(min_value=1, max_value=MAX_VND, help_text=_("VND, tax included."))
    invoice_number = serializers.CharField(max_length=50)
    invoice_date = serializers.DateField()
    payee = serializers.CharField(max_length=255, help_text=_("Who was paid: the IP office, an agent, a lab."))


def _numbered_in_order(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines as read (with `position`) may be sent back; a position that disagrees with the
    line's place in the list is refused rather than silently renumbered."""
    errors = {
        index: {"position": [_("This line is number %(n)s in the list.") % {"n": index + 1}]}
        for index, line in enumerate(lines)
        if line.get("position", index + 1) != index + 1
    }
    if errors:
        raise serializers.ValidationError(errors, code="position_mismatch")  # type: ignore[arg-type]
    return [{name: value for name, value in line.items() if name != "position"} for line in lines]


class CaseCostLinesInput(StrictInput):
    cost_lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=CostLineInput(), max_length=50, help_text=_("Replaces every cost line of the case.")
    )

    def validate_cost_lines(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _numbered_in_order(value)


class CaseCreateInput(StrictInput):
    enterprise = serializers.UUIDField()
    programme = serializers.SlugField(max_length=40, help_text=_("Programme code."))
    support_type = serializers.ChoiceField(choices=SupportType.choices)
    title = serializers.CharField(max_length=255)
    requested_amount = serializers.IntegerField(min_value=1, max_value=MAX_VND)
    details = serializers.JSONField(required=False, default=dict, validators=[validate_details])
    cost_lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=CostLineInput(), max_length=50, required=False, default=list
    )

    def validate_cost_lines(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _numbered_in_order(value)


class CaseUpdateInput(StrictInput):
    programme = serializers.SlugField(max_length=40, required=False)
    support_type = serializers.ChoiceField(choices=SupportType.choices, required=False)
    title = serializers.CharField(max_length=255, required=False)
    requested_amount = serializers.IntegerField(min_value=1, max_value=MAX_VND, required=False)
    details = serializers.JSONField(required=False, validators=[validate_details])


class CaseEventOutput(serializers.ModelSerializer[CaseEvent]):
    actor = UserRefOutput(read_only=True)
    # The creation has no state before it: null, never an empty string outside the enum.
    from_state = serializers.ChoiceField(source="state_before", choices=CaseState.choices, allow_null=True)

    class Meta:
        model = CaseEvent
        fields = ["id", "seq", "action", "from_state", "to_state", "actor", "at", "comment", "data"]
        read_only_fields = fields


# --- Case actions: one input per action ----------------------------------------------------


class CaseCommentInput(StrictInput):
    """Body of submit, receive, resubmit and withdraw."""

    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT, default="")


class CaseRequiredCommentInput(StrictInput):
    """Body of reject, return and cancel: the reason is required."""

    comment = serializers.CharField(max_length=MAX_COMMENT)


class CaseSupplementRequestInput(StrictInput):
    items = serializers.ListField(child=serializers.CharField(max_length=500), allow_empty=False, max_length=100)
    document_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=DocumentKind.choices),
        required=False,
        default=list,
        max_length=20,
        help_text=_("Document kinds asked for; the checklist shows them as requested until uploaded."),
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_COMMENT,
        help_text=_("Required for a second supplement request, which counts against the office."),
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT, default="")


class CaseRecommendInput(StrictInput):
    outcome = serializers.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    amount = serializers.IntegerField(min_value=1, max_value=MAX_VND, required=False, allow_null=True)
    comment = serializers.CharField(max_length=MAX_COMMENT)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["outcome"] == "approve" and attrs.get("amount") is None:
            raise serializers.ValidationError(
                {"amount": _("An amount is required to recommend approval.")}, code="required"
            )
        if attrs["outcome"] == "reject" and attrs.get("amount") is not None:
            raise serializers.ValidationError(
                {"amount": _("A recommendation to reject carries no amount.")}, code="not_allowed"
            )
        return attrs


class CaseApproveInput(StrictInput):
    amount = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VND,
        required=False,
        allow_null=True,
        help_text=_("Defaults to the recommended amount."),
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT, default="")


class CaseDisburseInput(StrictInput):
    amount = serializers.IntegerField(min_value=1, max_value=MAX_VND)
    paid_on = serializers.DateField()
    payment_reference = serializers.CharField(max_length=100)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT, default="")


class CaseAssignInput(StrictInput):
    officer = serializers.UUIDField(source="officer_id", help_text=_("The officer's user id."))
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT, default="")


# --- Documents ------------------------------------------------------------------------------


# What applicants upload: every kind but the slips the office issues itself.
UPLOAD_KINDS = [(value, label) for value, label in DocumentKind.choices if not value.endswith("_slip")]


class DocumentUploadInput(StrictInput):
    """multipart/form-data: `kind`, `file`, and optionally `note` and `replaces`."""

    kind = serializers.ChoiceField(choices=UPLOAD_KINDS)
    # Empty files pass here and are refused by content (415) in the service.
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    replaces = serializers.UUIDField(
        required=False, help_text=_("The id of the current version this upload replaces (same kind).")
    )


class DocumentOutput(serializers.ModelSerializer[Document]):
    kind_label = serializers.SerializerMethodField()
    replaces = serializers.UUIDField(source="replaces_id", allow_null=True, read_only=True)
    replaced_by = serializers.UUIDField(
        source="replaced_by_id", allow_null=True, read_only=True, help_text=_("Null: this is the current version.")
    )
    uploaded_by = UserRefOutput(read_only=True)
    download = serializers.SerializerMethodField(help_text=_("Where to download the file (with your token)."))

    class Meta:
        model = Document
        fields = [
            "id",
            "kind",
            "kind_label",
            "note",
            "original_name",
            "media_type",
            "size",
            "sha256",
            "version",
            "replaces",
            "replaced_by",
            "uploaded_by",
            "uploaded_at",
            "download",
        ]
        read_only_fields = fields

    def get_kind_label(self, document: Document) -> str:
        return str(DocumentKind(document.kind).label)

    def get_download(self, document: Document) -> str:
        return f"/api/v1/cases/{document.case_id}/documents/{document.pk}/download/"


# Named `StatusEnum` in the schema since issue 4 (ENUM_NAME_OVERRIDES keeps the name).
CHECKLIST_STATUSES = ["satisfied", "missing", "requested"]


class ChecklistItemOutput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    kind_label = serializers.CharField()
    stage = serializers.ChoiceField(
        choices=["submission", "supplement", "payment"],
        help_text=_("Required by the rule at submission or before payment, or asked for by a supplement request."),
    )
    status = serializers.ChoiceField(
        choices=CHECKLIST_STATUSES,
        help_text=_("requested: named by the supplement request the case is waiting on."),
    )
    documents = serializers.ListField(
        child=serializers.UUIDField(), help_text=_("The current documents that satisfy the item.")
    )


class ChecklistOutput(serializers.Serializer[Any]):
    complete_for_submission = serializers.BooleanField()
    complete_for_payment = serializers.BooleanField()
    items = ChecklistItemOutput(many=True)

    def to_representation(self, instance: Checklist) -> dict[str, Any]:
        return {
            "complete_for_submission": instance.complete(SUBMISSION, SUPPLEMENT),
            "complete_for_payment": instance.complete(PAYMENT),
            "items": ChecklistItemOutput(instance.items, many=True).data,
        }


# --- The IP office ---------------------------------------------------------------------------


class FilingInput(StrictInput):
    office = serializers.ChoiceField(choices=IpOffice.choices)
    application_number = serializers.CharField(
        max_length=40, help_text=_("NOIP: 4-2025-20619 (4 = trademark); WIPO: Madrid or PCT number.")
    )
    filed_on = serializers.DateField()
    nice_classes = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=45),
        max_length=45,
        required=False,
        default=list,
        help_text=_("For marks: the Nice classes applied for (1-45)."),
    )


class FilingOutput(serializers.ModelSerializer[Filing]):
    class Meta:
        model = Filing
        fields = ["office", "application_number", "filed_on", "nice_classes", "updated_at"]
        read_only_fields = fields


class MilestoneInput(StrictInput):
    """multipart/form-data: the step, its date and the document that proves it."""

    kind = serializers.ChoiceField(choices=MilestoneKind.choices)
    occurred_on = serializers.DateField()
    evidence = serializers.FileField(allow_empty_file=True, use_url=False)
    certificate_number = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    certificate_date = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class MilestoneOutput(serializers.ModelSerializer[Milestone]):
    kind_label = serializers.SerializerMethodField()
    recorded_by = UserRefOutput(read_only=True)
    evidence = serializers.UUIDField(source="evidence_id", read_only=True, help_text=_("The evidence document's id."))

    class Meta:
        model = Milestone
        fields = [
            "id",
            "kind",
            "kind_label",
            "occurred_on",
            "certificate_number",
            "certificate_date",
            "note",
            "evidence",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields

    def get_kind_label(self, milestone: Milestone) -> str:
        return str(MilestoneKind(milestone.kind).label)


class ClaimAllowanceInput(StrictInput):
    kind = serializers.ChoiceField(choices=ClaimKind.choices)
    number = serializers.CharField(max_length=40)
    reason = serializers.CharField(max_length=MAX_COMMENT)


class ClaimAllowanceOutput(serializers.ModelSerializer[ClaimAllowance]):
    allowed_by = UserRefOutput(read_only=True)

    class Meta:
        model = ClaimAllowance
        fields = ["id", "kind", "number", "reason", "allowed_by", "allowed_at"]
        read_only_fields = fields


# --- The working-day calendar ------------------------------------------------------------------


class CalendarOverrideInput(StrictInput):
    date = serializers.DateField()
    working = serializers.BooleanField(help_text=_("true: a working day; false: a day off."))
    note = serializers.CharField(max_length=255, help_text=_("Why, e.g. the decision that swaps the day."))


class CalendarOverrideOutput(serializers.ModelSerializer[CalendarOverride]):
    class Meta:
        model = CalendarOverride
        fields = ["date", "working", "note", "updated_at"]
        read_only_fields = fields


class CaseRescheduleInput(StrictInput):
    due_on = serializers.DateField(help_text=_("The new appointment date: a working day after today."))
    reason = serializers.CharField(max_length=MAX_COMMENT, help_text=_("Why the result is late."))
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT, default="")
