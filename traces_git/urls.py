"""URLs safe to send, store or print: credentials stripped (the one implementation)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_USERINFO_IN_TEXT = re.compile(r"(\w+://)[^/@\s]+@")


def strip_credentials(url: str | None) -> str | None:
    """A remote URL safe to send or show: no password, no token, no query.

    ``https://user:token@host/repo.git`` -> ``https://host/repo.git`` (any user
    part of an http(s) URL goes: tokens are often passed as the user name).
    ``ssh://git:pw@host/repo`` -> ``ssh://git@host/repo`` (an ssh user name is
    not a secret). scp-like ``git@host:repo`` has no password field and is
    kept. Local paths are kept.
    """
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
    return _USERINFO_IN_TEXT.sub(r"\1", text)
