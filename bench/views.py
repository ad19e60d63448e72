"""The baseline: the case list an officer sees, with nothing but the ORM and JsonResponse.

Same rows as GET /api/v1/cases/ for an officer (every non-draft, non-deleted case), same
ordering (-created_at), same page size; `?before=<created_at>` is the keyset filter the
API's cursor applies for a deep page. No authentication, no serializer, no pagination
class: `.values()` of the columns CaseOutput renders (its two computed fields, state_label
and allowed_actions, have no column) and JsonResponse.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.dateparse import parse_datetime

from cases.models import Case, CaseState

PAGE_SIZE = 20

FIELDS = (
    "id",
    "reference",
    "enterprise_id",
    "enterprise__name",
    "programme__code",
    "support_type",
    "title",
    "details",
    "state",
    "requested_amount",
    "recommended_amount",
    "approved_amount",
    "disbursed_amount",
    "recommendation",
    "paid_on",
    "payment_reference",
    "assigned_officer_id",
    "assigned_officer__username",
    "submitted_at",
    "received_at",
    "decided_at",
    "created_at",
    "updated_at",
    "version",
)


def bare_cases(request: HttpRequest) -> JsonResponse:
    queryset = Case.objects.filter(deleted_at__isnull=True).exclude(state=CaseState.DRAFT)
    before = parse_datetime(request.GET.get("before", ""))
    if before is not None:
        queryset = queryset.filter(created_at__lt=before)
    rows = list(queryset.order_by("-created_at").values(*FIELDS)[:PAGE_SIZE])
    return JsonResponse({"results": rows})
