"""The SSRF guard: where webhooks may go, judged when a URL is saved and on every
connection; only the networks WEBHOOKS_ALLOWED_NETWORKS names are opened, and the setting
is checked when the project starts."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.exceptions import ValidationFailed
from webhooks import guard

ROOT = Path(__file__).resolve().parents[2]


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
        "https://[::127.0.0.1]/hooks",  # IPv4-compatible: the standard library calls it global
        "https://[::169.254.169.254]/hooks",
        "https://[::ffff:0:127.0.0.1]/hooks",  # IPv4-translated: likewise
        "https://[::ffff:0:a9fe:a9fe]/hooks",
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


def test_a_private_network_is_opened_only_when_the_setting_names_it(settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert guard.validate_url("https://10.1.2.3/hooks") == "https://10.1.2.3/hooks"
    # ...not loopback, the metadata service, or another private network with it
    for url in [
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://192.168.1.10/hooks",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[fd00::1]/hooks",
    ]:
        assert _code(url) == "forbidden_address", url


class _Connected:
    """A socket as check_peer sees it: only its peer's address."""

    def __init__(self, host: str) -> None:
        self.host = host

    def getpeername(self) -> tuple[str, int]:
        return (self.host, 443)


def test_on_connection_only_the_named_network_is_reachable(settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    guard.check_peer(_Connected("10.1.2.3"))  # type: ignore[arg-type]
    for host in ["127.0.0.1", "169.254.169.254", "192.168.1.10", "::1", "::ffff:169.254.169.254", "fe80::1%eth0"]:
        with pytest.raises(guard.ForbiddenDestination, match="is not a public address"):
            guard.check_peer(_Connected(host))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", ["https://0.0.0.0/hooks", "https://[::]/hooks", "https://224.0.0.1/hooks", "https://[ff02::1]/hooks"]
)
def test_unspecified_and_multicast_addresses_are_refused_whatever_the_setting_opens(url, settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    assert _code(url) == "forbidden_address"


@pytest.mark.parametrize("address", ["0.0.0.0", "240.0.0.1", "224.0.0.1", "::", "ff02::1", "::ffff:0:0.0.0.0"])
def test_reserved_addresses_are_refused_on_connection_whatever_the_setting_opens(address, settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    assert "unspecified, multicast or reserved" in (guard.address_refusal(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible
        "::169.254.169.254",
        "::ffff:0:127.0.0.1",  # IPv4-translated
        "::ffff:0:169.254.169.254",
        "::ffff:169.254.169.254",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64
        "2002:a9fe:a9fe::1",  # 6to4
    ],
)
def test_opening_ipv6_networks_does_not_open_the_ipv4_address_hidden_in_one(address, settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["::/0"]
    assert guard.address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["::224.0.0.1", "::ffff:0:224.0.0.1", "::240.0.0.1", "::ffff:0:240.0.0.1"])
def test_multicast_and_reserved_ipv4_hidden_in_ipv6_stay_refused(address, settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["::/0"]
    assert "unspecified, multicast or reserved" in (guard.address_refusal(ipaddress.ip_address(address)) or "")


def test_an_ipv4_mapped_address_is_judged_as_the_ipv4_address_it_is(settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert guard.address_refusal(ipaddress.ip_address("::ffff:10.1.2.3")) is None
    assert guard.address_refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is not None


def _start(**environ: str) -> subprocess.CompletedProcess[str]:
    """Load the settings in a fresh interpreter, as every process does when it starts."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WEBHOOKS_")}
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.WEBHOOKS_ALLOWED_NETWORKS)"],
        env={**env, "DJANGO_SETTINGS_MODULE": "backend.settings", **environ},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_allowed_networks_are_read_from_the_environment_and_empty_by_default():
    assert _start().stdout.strip() == "[]"
    assert _start(WEBHOOKS_ALLOWED_NETWORKS="10.20.0.0/16, fd00::/8,192.0.2.7").stdout.strip() == (
        "['10.20.0.0/16', 'fd00::/8', '192.0.2.7/32']"
    )


@pytest.mark.parametrize("value", ["10.0.0.0/33", "intranet", "10.1.2.3/8", "10.0.0.0/8,fd00::/129"])
def test_a_bad_network_stops_the_project_at_start(value):
    started = _start(WEBHOOKS_ALLOWED_NETWORKS=value)
    assert started.returncode != 0
    assert "ImproperlyConfigured: WEBHOOKS_ALLOWED_NETWORKS" in started.stderr


def test_the_old_all_private_networks_switch_stops_the_project_at_start():
    started = _start(WEBHOOKS_ALLOW_PRIVATE_NETWORKS="1")
    assert started.returncode != 0
    assert "ImproperlyConfigured: WEBHOOKS_ALLOW_PRIVATE_NETWORKS is gone" in started.stderr


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
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    assert guard.address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "address", ["2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:80ff:fffe", "198.18.0.1", "192.0.2.1", "240.0.0.1"]
)
def test_addresses_hidden_in_ipv6_and_reserved_ranges_may_not(address, settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    assert guard.address_refusal(ipaddress.ip_address(address)) is not None
