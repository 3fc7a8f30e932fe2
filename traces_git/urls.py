"""URLs: which ones may become a link or a note field (`is_url`), and credentials stripped
before one is sent, stored or printed. The one implementation of each."""

from __future__ import annotations

# Imports nothing at load time: the hook's note writer checks URLs with is_url.

MAX_URL_LENGTH = 2048
# RFC 3986's characters, less those that no real URL needs and markup would read:
# < > " ` \ { } | ^ and every space, control or non-ASCII character.
_URL_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - frozenset('<>"`\\{}|^')
_HOST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")


def is_url(value: object) -> bool:
    """An absolute http(s) URL of printable ASCII with a host and no credentials."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URL_LENGTH:
        return False
    if not all(c in _URL_CHARS for c in value):
        return False
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return False
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if 0 <= at < end:
            end = at
    authority = rest[:end]
    if "@" in authority:  # https://github.com@evil.example/ or a token: never a link
        return False
    if authority.startswith("["):
        host, bracket, port = authority[1:].partition("]")
        if not bracket or not host or not all(c in _IPV6_CHARS for c in host):
            return False
        if port and not port.startswith(":"):
            return False
        port = port[1:]
    else:
        host, _, port = authority.partition(":")
        if not host or not all(c in _HOST_CHARS for c in host) or host[0] in ".-":
            return False
    return not port or (port.isascii() and port.isdigit() and len(port) <= 5)


def strip_credentials(url: str | None) -> str | None:
    """A remote URL safe to send or show: no password, no token, no query.

    ``https://user:token@host/repo.git`` -> ``https://host/repo.git`` (any user
    part of an http(s) URL goes: tokens are often passed as the user name).
    ``ssh://git:pw@host/repo`` -> ``ssh://git@host/repo`` (an ssh user name is
    not a secret). scp-like ``git@host:repo`` has no password field and is
    kept. Local paths are kept.
    """
    from urllib.parse import urlsplit, urlunsplit

    if not url:
        return None
    url = url.strip()
    if "://" not in url:
        return url  # scp-like (user@host:path) or a local path: no password field
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        scheme = parts.scheme.lower()
        if scheme in ("ssh", "git+ssh", "ssh+git") and userinfo:
            user = userinfo.partition(":")[0]
            netloc = f"{user}@{hostport}" if user else hostport
        else:
            netloc = hostport
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def strip_credentials_in(text: str) -> str:
    """Every ``scheme://user:token@host`` in free text (a git error line) -> ``scheme://host``."""
    import re

    return re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@", r"\1", text)
