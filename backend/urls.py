from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/docs/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
]

handler400 = "api.exceptions.handler400"
handler403 = "api.exceptions.handler403"
handler404 = "api.exceptions.handler404"
handler500 = "api.exceptions.handler500"
