"""Where webhooks may go: the defence against server-side request forgery (SSRF).

A partner chooses the URL our workers POST to, so the URL must not turn the relay into a
way to reach the machines beside it: loopback, private, link-local (the cloud metadata
service at 169.254.169.254), carrier-grade NAT, reserved, multicast or unspecified
addresses, including IPv4 addresses hidden in IPv6 ones (::ffff:127.0.0.1, ::127.0.0.1,
::ffff:0:127.0.0.1, 6to4, Teredo, NAT64).

It is checked twice: when the URL is saved (`validate_url`: every address the host resolves
to must be allowed), and again on every connection, against the address the socket is
actually connected to (`check_peer`, used by webhooks.http), because DNS can answer
differently a second later (DNS rebinding).

An address that is not public is allowed only when it lies in one of the networks of
WEBHOOKS_ALLOWED_NETWORKS (a receiver on the province's own network, and the tests): the
operator names the networks to open, so opening one does not open loopback or the metadata
service to every partner. Unspecified, multicast and reserved addresses are refused
whatever it says. WEBHOOKS_ALLOW_HTTP allows plain http (by default only when DEBUG is on).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from common.exceptions import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# NAT64 (RFC 6052) embeds an IPv4 address in its last 32 bits.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
MAX_URL_LENGTH = 2000


class ForbiddenDestination(Exception):
    """The relay refused to talk to this address. Deliberately not an OSError, so urllib3
    does not wrap it or retry another way: it reaches webhooks.http as it is."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [v4 for v4 in (address.ipv4_mapped, address.sixtofour) if v4 is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    value = int(address)
    # IPv4-compatible (::a.b.c.d, deprecated; :: and ::1 are themselves) and IPv4-translated
    # (::ffff:0:a.b.c.d, RFC 2765): the standard library decodes neither.
    if (value >> 32 == 0 and value > 1) or value >> 32 == 0xFFFF0000:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if any(address in network for network in _NAT64):
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    return found


def is_private_network(address: IPAddress) -> bool:
    """Loopback, private, link-local and anything else that is not public: allowed only
    inside WEBHOOKS_ALLOWED_NETWORKS."""
    if isinstance(address, ipaddress.IPv6Address) and any(map(is_private_network, _embedded_ipv4(address))):
        return True
    return (
        not address.is_global
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def is_never_allowed(address: IPAddress) -> bool:
    """Addresses no setting opens: nobody receives webhooks on them, and 0.0.0.0 would
    reach this very machine."""
    if isinstance(address, ipaddress.IPv6Address):
        # (IPv6's `is_reserved` spans ::/8, loopback and IPv4-mapped addresses included.)
        return address.is_unspecified or address.is_multicast or any(map(is_never_allowed, _embedded_ipv4(address)))
    return address.is_unspecified or address.is_multicast or address.is_reserved


@cache
def _parse_networks(values: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(value) for value in values)
    except ValueError as error:
        raise ImproperlyConfigured(f"WEBHOOKS_ALLOWED_NETWORKS: {error}") from None


def allowed_networks() -> tuple[IPNetwork, ...]:
    """WEBHOOKS_ALLOWED_NETWORKS, parsed (the settings checked them at start)."""
    values: Iterable[str] = settings.WEBHOOKS_ALLOWED_NETWORKS
    if isinstance(values, str):
        values = values.split(",")
    return _parse_networks(tuple(value.strip() for value in values if value.strip()))


def _opened(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    """`address` lies in one of `networks`, and so does every IPv4 address hidden in it
    that is not public (::ffff:0:169.254.169.254 is not opened by allowing ::ffff:0:0/96)."""
    if not any(address in network for network in networks):  # (never across IP versions)
        return False
    if isinstance(address, ipaddress.IPv6Address):
        return all(not is_private_network(v4) or _opened(v4, networks) for v4 in _embedded_ipv4(address))
    return True


def address_refusal(address: IPAddress) -> str | None:
    """Why the relay may not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d is a.b.c.d itself, on a dual-stack socket
    if is_never_allowed(address):
        return f"{address} is an unspecified, multicast or reserved address"
    if is_private_network(address) and not _opened(address, allowed_networks()):
        return f"{address} is not a public address (loopback, private, link-local or reserved)"
    return None


def check_peer(sock: socket.socket) -> None:
    """Raise ForbiddenDestination unless the socket's peer is an address we may talk to."""
    host = str(sock.getpeername()[0]).split("%", 1)[0]  # an IPv6 scope id ("fe80::1%eth0")
    refusal = address_refusal(ipaddress.ip_address(host))
    if refusal is not None:
        raise ForbiddenDestination(refusal)


def _invalid(code: str, message: str | Promise) -> ValidationFailed:
    return ValidationFailed.single("url", code, message)


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise _invalid("unresolvable", _("The URL's host name does not resolve.")) from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def validate_url(url: str) -> str:
    """The URL as it will be stored, or ValidationFailed (field `url`): not https (unless
    WEBHOOKS_ALLOW_HTTP), no host, credentials, a fragment or port 0 in it, or a host that
    resolves to an address the relay may not reach."""
    url = url.strip()
    if not url:
        raise _invalid("blank", _("The URL cannot be blank."))
    if len(url) > MAX_URL_LENGTH:
        raise _invalid("too_long", _("The URL is longer than 2000 characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid("invalid", _("This is not a valid URL.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise _invalid("invalid", _("This is not a valid https URL."))
    if scheme == "http" and not settings.WEBHOOKS_ALLOW_HTTP:
        raise _invalid("https_required", _("Webhook URLs must use https."))
    if parts.username is not None or parts.password is not None:
        raise _invalid("credentials", _("The URL cannot contain a user name or password."))
    if parts.fragment:
        raise _invalid("fragment", _("The URL cannot contain a fragment (#…)."))
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        raise _invalid("invalid", _("This is not a valid URL."))
    if port == 0:  # no server listens there; read as falsy, it stood for the scheme's default
        raise _invalid("invalid_port", _("The URL's port must be between 1 and 65535."))
    addresses = _resolve(parts.hostname, port or (443 if scheme == "https" else 80))
    for address in addresses:
        if address_refusal(address) is not None:
            raise _invalid(
                "forbidden_address",
                _("Webhooks cannot be sent to loopback, private, link-local or reserved addresses."),
            )
    return url
