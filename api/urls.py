from django.urls import path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

from api import partners, views, webhooks
from api.schema import SchemaView

app_name = "api"

# The schema and its viewers are public, so partners can read the contract before they
# hold credentials.
PUBLIC: dict[str, list[type]] = {"authentication_classes": [], "permission_classes": []}

urlpatterns = [
    path("health/", views.HealthView.as_view(), name="health"),
    path("schema/", SchemaView.as_view(**PUBLIC), name="schema"),
    # The split view serves Swagger UI's setup script from ?script instead of inline, so the
    # page's Content-Security-Policy (backend/csp.py) needs no exception for inline scripts.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema", **PUBLIC), name="docs"),
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html", **PUBLIC),
        name="redoc",
    ),
    path("auth/token/", views.TokenCreateView.as_view(), name="token"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("me/", views.MeView.as_view(), name="me"),
    path("enterprises/", views.EnterpriseListView.as_view(), name="enterprise-list"),
    path("enterprises/<uuid:pk>/", views.EnterpriseDetailView.as_view(), name="enterprise-detail"),
    path("enterprises/<uuid:pk>/verify/", views.EnterpriseVerifyView.as_view(), name="enterprise-verify"),
    path("enterprises/<uuid:pk>/partners/", partners.EnterprisePartnerListView.as_view(), name="enterprise-partners"),
    path(
        "enterprises/<uuid:pk>/partners/<uuid:partner_id>/",
        partners.EnterprisePartnerDetailView.as_view(),
        name="enterprise-partner",
    ),
    path("partners/", partners.PartnerListView.as_view(), name="partner-list"),
    path("partners/<uuid:pk>/", partners.PartnerDetailView.as_view(), name="partner-detail"),
    path("partners/<uuid:pk>/keys/", partners.PartnerKeyListView.as_view(), name="partner-keys"),
    path(
        "partners/<uuid:pk>/keys/<uuid:key_id>/revoke/",
        partners.PartnerKeyRevokeView.as_view(),
        name="partner-key-revoke",
    ),
    path("partners/<uuid:pk>/events/", partners.PartnerEventListView.as_view(), name="partner-events"),
    path("webhooks/", webhooks.WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<uuid:pk>/", webhooks.WebhookDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<uuid:pk>/rotate-secret/", webhooks.WebhookRotateSecretView.as_view(), name="webhook-rotate-secret"),
    path("webhooks/<uuid:pk>/ping/", webhooks.WebhookPingView.as_view(), name="webhook-ping"),
    path("webhooks/<uuid:pk>/deliveries/", webhooks.WebhookDeliveryListView.as_view(), name="webhook-deliveries"),
    path(
        "webhooks/<uuid:pk>/deliveries/<uuid:delivery_id>/",
        webhooks.WebhookDeliveryDetailView.as_view(),
        name="webhook-delivery",
    ),
    path(
        "webhooks/<uuid:pk>/deliveries/<uuid:delivery_id>/redeliver/",
        webhooks.WebhookRedeliverView.as_view(),
        name="webhook-redeliver",
    ),
    path("programmes/", views.ProgrammeListView.as_view(), name="programme-list"),
    path("programmes/<slug:code>/", views.ProgrammeDetailView.as_view(), name="programme-detail"),
    path("programmes/<slug:code>/budget/", views.ProgrammeBudgetView.as_view(), name="programme-budget"),
    path(
        "programmes/<slug:code>/rule-changes/",
        views.ProgrammeRuleChangeListView.as_view(),
        name="programme-rule-changes",
    ),
    path(
        "programmes/<slug:code>/rules/<slug:support_type>/",
        views.SupportRuleView.as_view(),
        name="programme-rule",
    ),
    path("calendar/overrides/", views.CalendarOverrideListView.as_view(), name="calendar-overrides"),
    path(
        "calendar/overrides/<str:date>/",
        views.CalendarOverrideDetailView.as_view(),
        name="calendar-override",
    ),
    path("cases/", views.CaseListView.as_view(), name="case-list"),
    path("cases/<uuid:pk>/", views.CaseDetailView.as_view(), name="case-detail"),
    path("cases/<uuid:pk>/events/", views.CaseEventListView.as_view(), name="case-events"),
    path("cases/<uuid:pk>/cost-lines/", views.CaseCostLinesView.as_view(), name="case-cost-lines"),
    path("cases/<uuid:pk>/eligibility/", views.CaseEligibilityView.as_view(), name="case-eligibility"),
    path("cases/<uuid:pk>/checklist/", views.CaseChecklistView.as_view(), name="case-checklist"),
    path("cases/<uuid:pk>/filing/", views.CaseFilingView.as_view(), name="case-filing"),
    path("cases/<uuid:pk>/milestones/", views.CaseMilestoneListView.as_view(), name="case-milestones"),
    path("cases/<uuid:pk>/claim-allowances/", views.CaseClaimAllowanceView.as_view(), name="case-claim-allowances"),
    path("cases/<uuid:pk>/documents/", views.CaseDocumentListView.as_view(), name="case-documents"),
    path(
        "cases/<uuid:pk>/documents/<uuid:document_id>/",
        views.CaseDocumentDetailView.as_view(),
        name="case-document",
    ),
    path(
        "cases/<uuid:pk>/documents/<uuid:document_id>/download/",
        views.CaseDocumentDownloadView.as_view(),
        name="case-document-download",
    ),
    *[
        path(
            f"cases/<uuid:pk>/{endpoint.action}/",
            views.CaseActionView.as_view(endpoint=endpoint),
            name=f"case-{endpoint.action}",
        )
        for endpoint in views.ACTION_ENDPOINTS
    ],
]
