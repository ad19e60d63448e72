"""The API docs work on an intranet with no internet: neither the pages nor the viewers
they load (ReDoc, Swagger UI) fetch anything from another host. ReDoc's bundle draws
Redocly's logo from cdn.redoc.ly with no option to turn it off, so its page confines
itself with a Content-Security-Policy; these tests read both the pages and the bundles.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

PAGES = ["/api/v1/docs/", "/api/v1/redoc/"]
ANY_URL = re.compile(r"https?://[^\s\"'<>`)]+")
ASSET = re.compile(r"""<(?:script|link)\b[^>]*?(?:src|href)="(/static/[^"?]+)""")
CSP = re.compile(r"""<meta http-equiv="Content-Security-Policy" content="([^"]+)">""")
# What a bundle loads by itself: an element's src (React's createElement props) or a
# stylesheet's url(...) and @import.
LOADED = re.compile(
    r"""\bsrc\s*[:=]\s*["'`](https?://[^"'`]+)|url\(["']?(https?://[^)"']+)|@import\s+["'](https?://[^"']+)"""
)
# Sources that keep a page on its own server.
LOCAL_SOURCES = {"'self'", "'none'", "'unsafe-inline'", "data:", "blob:"}


def _html(client, page: str) -> str:
    response = client.get(page)
    assert response.status_code == 200
    return response.content.decode()


def _policy(html: str) -> dict[str, set[str]]:
    found = CSP.search(html)
    if found is None:
        return {}
    directives = (part.split() for part in found.group(1).split(";") if part.strip())
    return {name: set(sources) for name, *sources in directives}


def _fetched_by_bundles(html: str) -> list[str]:
    urls = []
    for asset in ASSET.findall(html):
        path = finders.find(asset.removeprefix("/static/"))
        assert path is not None, f"{asset} is not in the project's static files"
        urls += [next(filter(None, match)) for match in LOADED.findall(Path(path).read_text(errors="replace"))]
    return urls


@pytest.mark.parametrize("page", PAGES)
def test_a_docs_page_names_no_url_but_the_servers_own(client, db, page):
    html = _html(client, page)

    assert [url for url in ANY_URL.findall(html) if not url.startswith("http://testserver/")] == []


@pytest.mark.parametrize("page", PAGES)
def test_what_a_docs_viewer_loads_from_another_host_is_refused_by_its_page(client, db, page):
    html = _html(client, page)
    external = _fetched_by_bundles(html)
    policy = _policy(html)

    if external:  # ReDoc: the logo
        assert policy, f"{page} loads {external} and has no Content-Security-Policy"
        assert policy["default-src"] == {"'self'"}
        for name, sources in policy.items():
            assert sources <= LOCAL_SOURCES, f"{page}'s {name} lets the browser leave the server"
        assert "script-src" not in policy  # scripts fall back to 'self': no inline script either


def test_the_bundles_are_read_for_what_they_load(client, db):
    # The test above is only as good as LOADED: it finds ReDoc's logo. A ReDoc upgrade that
    # drops the logo changes this list, not the need for the policy.
    assert _fetched_by_bundles(_html(client, "/api/v1/redoc/")) == ["https://cdn.redoc.ly/redoc/logo-mini.svg"]
