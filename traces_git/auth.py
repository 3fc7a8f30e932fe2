"""Where the Traces API token comes from, and the stored login.

Order: ``TRACES_CLI_AUTH_TOKEN``, ``TRACES_API_KEY`` (an explicit environment
wins over a stored file), then the token saved by ``traces-git login`` in
``<config dir>/credentials.json`` (mode 0600; a file others can read is
refused). The token never goes into a log, a status file or an error message:
:class:`Token` hides itself in ``repr``/``str``.
"""

from __future__ import annotations

import os

from traces_git import paths
from traces_git.errors import UsageError

TYPE_CHECKING = False  # typing costs ~2 ms of imports on the post-commit path
if TYPE_CHECKING:
    from pathlib import Path

ENV_VARS = ("TRACES_CLI_AUTH_TOKEN", "TRACES_API_KEY")


class Token:
    """A token that hides itself in ``repr``/``str`` (a plain class: dataclasses cost
    an exec at import time, on the hook path)."""

    __slots__ = ("value", "source")

    def __init__(self, value: str, source: str):
        self.value = value
        self.source = source  # "TRACES_CLI_AUTH_TOKEN", "TRACES_API_KEY" or "login"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and (self.value, self.source) == (other.value, other.source)

    def __hash__(self) -> int:
        return hash((self.value, self.source))

    def __repr__(self) -> str:
        return f"Token(source={self.source!r}, value=<hidden>)"

    __str__ = __repr__


def credentials_file() -> Path:
    return paths.config_dir() / "credentials.json"


def _credentials_path() -> str:
    return paths.location("config", "credentials.json")


class TokenFileError(UsageError):
    pass


def from_env() -> Token | None:
    for name in ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return Token(value, name)
    return None


def has_token() -> bool:
    """Cheap check for the hook: an env token or a credentials file (not read)."""
    return from_env() is not None or os.path.isfile(_credentials_path())


def load() -> Token | None:
    """The token to use, or None when not logged in. Raises TokenFileError on an unsafe file."""
    import json
    import stat

    token = from_env()
    if token is not None:
        return token
    path = credentials_file()
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenFileError(
            f"{path} is readable by other users; run `chmod 600 {path}` or `traces-git login` again"
        )
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise TokenFileError(f"cannot read {path}: {type(exc).__name__}") from None
    value = data.get("token") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.strip():
        return None
    return Token(value.strip(), "login")


def validate(value: str) -> str:
    value = value.strip()
    if not value:
        raise UsageError("no token given")
    if any(c.isspace() for c in value) or not value.isprintable():
        raise UsageError("a token is one word without spaces or control characters")
    return value


def save(value: str) -> Path:
    """Store the token with mode 0600 (created with that mode: never briefly readable)."""
    import contextlib
    import json
    import time

    value = validate(value)
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps({"token": value, "saved_at": time.time()}).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)  # in case the file pre-existed with another mode
    os.replace(tmp, path)
    return path


def remove() -> bool:
    try:
        credentials_file().unlink()
    except FileNotFoundError:
        return False
    return True
