"""Listen addresses: `HOST:PORT` (IPv6 as `[::1]:8080`) and whether one is loopback only."""

from __future__ import annotations

import ipaddress


def parse_bind(text: str, key: str = "web.bind") -> tuple[str, int]:
    """(host, port) from `HOST:PORT`; a ValueError naming `key` otherwise."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isascii() or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{key}: expected HOST:PORT such as 127.0.0.1:8080, got {text!r}")
    return host, int(port_text)


def format_bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
