"""A Content-Security-Policy on every HTML page the server renders (the API docs, the
admin, the browsable API when DEBUG is on), unless the page already set its own header.

Every page loads from this server only: the docs must work on an intranet and tell no
one outside who reads them, and a script injected into a page can neither run inline nor
send what it finds elsewhere. Styles may be inline (Swagger UI, ReDoc and the admin set
style attributes); images may be data: URIs (Swagger UI's icons); workers may be blob:
(ReDoc's search). Pages that need more write their own policy into their template.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response and response.get("Content-Type", "").startswith("text/html"):
            response["Content-Security-Policy"] = POLICY
        return response
