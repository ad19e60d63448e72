from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api import views

app_name = "api"

# The schema and its viewers are public, so partners can read the contract before they
# hold credentials.
PUBLIC: dict[str, list[type]] = {"authentication_classes": [], "permission_classes": []}

urlpatterns = [
    path("health/", views.HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(**PUBLIC), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", **PUBLIC), name="docs"),
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
