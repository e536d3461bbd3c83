"""Which webhook URLs may be called (SSRF): http(s) only, and no loopback, link-local, private,
multicast, reserved or unspecified address unless ``ITSM_WEBHOOKS_ALLOW_PRIVATE`` is true.

A host name is resolved when the webhook is registered and again at every send, and the request
goes to the address that was checked (no second lookup a DNS rebinding could answer
differently)."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")


class UnsafeUrl(ValueError):
    """A URL a webhook may not be sent to; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (the Host header and TLS name)
    port: int
    address: str  # the checked IP address the request goes to


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for flag in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{flag}"):
            return flag.replace("_", "-")
    if not address.is_global:
        return "non-global"
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [ipaddress.ip_address(host).compressed]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"cannot resolve {host!r}: {exc}") from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def check(url: str, *, allow_private: bool) -> Target:
    """The address to send ``url``'s request to; ``UnsafeUrl`` when it may not be called."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsafeUrl("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeUrl("the URL names no host")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in the URL are not allowed; the signature authenticates")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(parts.hostname, port)
    if not addresses:
        raise UnsafeUrl(f"{parts.hostname!r} has no address")
    if not allow_private:
        for address in addresses:
            reason = _forbidden(ipaddress.ip_address(address.split("%")[0]))
            if reason:
                raise UnsafeUrl(
                    f"{parts.hostname!r} resolves to a {reason} address ({address}); set "
                    "ITSM_WEBHOOKS_ALLOW_PRIVATE=true to allow such addresses"
                )
    return Target(scheme=parts.scheme, host=parts.hostname, port=port, address=addresses[0])
