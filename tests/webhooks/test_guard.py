"""The SSRF guard: where webhooks may go, judged when a URL is saved."""

from __future__ import annotations

import ipaddress

import pytest

from common.exceptions import ValidationFailed
from webhooks import guard


def _code(url: str) -> str:
    with pytest.raises(ValidationFailed) as caught:
        guard.validate_url(url)
    [error] = caught.value.errors
    assert error.field == "url"
    return error.code


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://127.1.2.3:8443/hooks",
        "https://10.0.0.5/hooks",
        "https://172.16.4.4/hooks",
        "https://192.168.1.10/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hooks",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://[64:ff9b::a9fe:a9fe]/hooks",
        "https://0.0.0.0/hooks",
        "https://[::]/hooks",
        "https://224.0.0.1/hooks",
        "https://localhost/hooks",
    ],
)
def test_urls_that_reach_this_machine_or_its_network_are_refused(url):
    assert _code(url) == "forbidden_address"


def test_plain_http_is_refused_unless_allowed(settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    assert _code("http://1.2.3.4/hooks") == "https_required"
    settings.WEBHOOKS_ALLOW_HTTP = True
    assert guard.validate_url("http://1.2.3.4/hooks") == "http://1.2.3.4/hooks"


def test_private_networks_are_allowed_only_when_the_setting_says_so(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    assert guard.validate_url("https://10.0.0.5/hooks") == "https://10.0.0.5/hooks"
    assert guard.validate_url("https://localhost/hooks") == "https://localhost/hooks"
    # ...but never the unspecified address (it is this machine) nor multicast
    assert _code("https://0.0.0.0/hooks") == "forbidden_address"
    assert _code("https://[ff02::1]/hooks") == "forbidden_address"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("", "blank"),
        ("hooks.example.vn/webhooks", "invalid"),
        ("ftp://1.2.3.4/hooks", "invalid"),
        ("https:///hooks", "invalid"),
        ("https://1.2.3.4:99999/hooks", "invalid"),
        ("https://user:pass@1.2.3.4/hooks", "credentials"),
        ("https://1.2.3.4/hooks#frag", "fragment"),
        ("https://1.2.3.4/ho oks", "invalid"),
        ("https://no-such-host.invalid/hooks", "unresolvable"),
        ("https://1.2.3.4/" + "a" * 2000, "too_long"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(url, code):
    assert _code(url) == code


def test_a_public_https_url_is_accepted_as_given():
    assert guard.validate_url("  https://1.2.3.4:8443/ipsupport/hooks?tenant=7  ") == (
        "https://1.2.3.4:8443/ipsupport/hooks?tenant=7"
    )


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_may_be_reached(address, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    assert guard.address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "address", ["2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:80ff:fffe", "198.18.0.1", "192.0.2.1", "240.0.0.1"]
)
def test_addresses_hidden_in_ipv6_and_reserved_ranges_may_not(address, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    assert guard.address_refusal(ipaddress.ip_address(address)) is not None
