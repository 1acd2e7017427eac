"""The SSRF guard for model endpoints: resolve once, refuse non-public addresses, pin the connection.

A user-given URL could point the platform at itself or its network (127.0.0.1, 10.0.0.0/8, the cloud
metadata service at 169.254.169.254). The host is resolved here, every address it resolves to must
be globally routable unless the operator's allowlist names it (an address, a network in CIDR form or
the host name), and the request is then sent to that resolved address, with the original name in
the Host header and in TLS SNI/certificate checks, so a second DNS answer (DNS rebinding) cannot
switch the target. Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from gaodi.engines.evaluation.errors import EndpointError, EndpointUnreachableError, UnsafeEndpointError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise EndpointUnreachableError(f"endpoint host '{host}' cannot be resolved; check the URL") from None
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class PinnedTarget:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def request_url(self) -> str:
        literal = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"

    @property
    def extensions(self) -> dict[str, str]:
        return {"sni_hostname": self.host} if self.scheme == "https" else {}


def parse_address(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal_reason(address: IPAddress) -> str | None:
    """Why an address is refused (loopback, private, ...), or None for a public address."""
    checks = (
        ("loopback", address.is_loopback), ("link-local", address.is_link_local),
        ("multicast", address.is_multicast), ("unspecified", address.is_unspecified),
        ("private", address.is_private), ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def is_allowlisted(host: str, address: IPAddress, allow: Sequence[str]) -> bool:
    for entry in allow:
        entry = entry.strip()
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if entry.lower().rstrip(".") == host.lower().rstrip("."):
                return True
    return False


def pin_endpoint(url: str, allow: Sequence[str] = (), resolver: Resolver = system_resolver) -> PinnedTarget:
    """Check `url` and resolve it once; raises UnsafeEndpointError for a refused address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise EndpointError(f"endpoint URL must start with http:// or https://, got {url!r}")
    if not parts.hostname:
        raise EndpointError(f"endpoint URL {url!r} has no host")
    if parts.username or parts.password:
        raise EndpointError("endpoint URL must not contain a user name or password; pass credentials as a header")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EndpointError(f"endpoint URL {url!r} has an invalid port") from None
    host = parts.hostname
    addresses = resolver(host, port)
    if not addresses:
        raise EndpointError(f"endpoint host '{host}' resolves to no address")
    for text in addresses:
        _check_address(host, text, allow)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return PinnedTarget(url, parts.scheme, host, port, path, str(parse_address(addresses[0])))


def _check_address(host: str, text: str, allow: Sequence[str]) -> None:
    try:
        address = parse_address(text)
    except ValueError:
        raise EndpointError(f"endpoint host '{host}' resolved to an invalid address {text!r}") from None
    reason = refusal_reason(address)
    if reason is not None and not is_allowlisted(host, address, allow):
        raise UnsafeEndpointError(
            f"endpoint host '{host}' resolves to {address}, a {reason} address; Gaodi does not call private, "
            "loopback, link-local or reserved addresses unless the operator allowlists them")
