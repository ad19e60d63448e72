"""The project's URLs plus the bare baseline view at /bench/bare-cases/."""

from django.urls import include, path

from backend.urls import handler400, handler403, handler404, handler500
from bench import views

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

urlpatterns = [
    path("bench/bare-cases/", views.bare_cases, name="bench-bare-cases"),
    path("", include("backend.urls")),
]
