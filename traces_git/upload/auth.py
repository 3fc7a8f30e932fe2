"""Where the Traces API token comes from, and the stored logins.

Order, the official Traces CLI's first: ``TRACES_CLI_AUTH_TOKEN``; the device
key of the official ``traces login`` (``<traces config>/credentials-<h>.json``,
legacy ``credentials.json``, valid only with deviceId, deviceKey, userId,
namespaceId and namespaceSlug); ``TRACES_API_KEY``; and last the token saved
by ``traces-git login`` in ``<traces-git config dir>/credentials.json``. So a
user moving from the official hooks publishes with exactly the token they
did, and ``traces-git login`` serves those without the official CLI. A stored
file others can read is refused, ours and the official one alike. The token
never goes into a log, a status file or an error message: :class:`Token`
hides itself in ``repr``/``str``; status names only its source.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from traces_git import paths
from traces_git.constants import PRODUCTION_API_URL
from traces_git.errors import UsageError

TYPE_CHECKING = False  # typing costs ~2 ms of imports on the post-commit path
if TYPE_CHECKING:
    from pathlib import Path

ENV_VARS = ("TRACES_CLI_AUTH_TOKEN", "TRACES_API_KEY")
OFFICIAL_LOGIN = "traces login"
OWN_LOGIN = "traces-git login"
_OFFICIAL_REQUIRED = ("deviceId", "deviceKey", "userId", "namespaceId", "namespaceSlug")


class Token:
    """A token that hides itself in ``repr``/``str`` (a plain class: dataclasses cost
    an exec at import time, on the hook path)."""

    __slots__ = ("value", "source")

    def __init__(self, value: str, source: str):
        self.value = value
        # "TRACES_CLI_AUTH_TOKEN", "traces login", "TRACES_API_KEY" or "traces-git login"
        self.source = source

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


def _env(name: str, env: Mapping[str, str] | None = None) -> Token | None:
    value = (os.environ if env is None else env).get(name, "").strip()
    return Token(value, name) if value else None


def from_env(env: Mapping[str, str] | None = None) -> Token | None:
    for name in ENV_VARS:
        token = _env(name, env)
        if token is not None:
            return token
    return None


def has_token() -> bool:
    """Cheap check for the hook: an env token or a credentials file (none is read)."""
    if from_env() is not None or os.path.isfile(_credentials_path()):
        return True
    from traces_git.upload import share_rules

    try:
        names = os.listdir(share_rules.config_dir())
    except OSError:
        return False
    return any(n.startswith("credentials") and n.endswith(".json") for n in names)


def _refuse_if_shared(path: str | os.PathLike[str], info: os.stat_result) -> None:
    import stat

    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenFileError(f"{path} is readable by other users; run `chmod 600 {path}`")


def official_credentials(api_url: str) -> dict | None:
    """The official ``traces login`` for this endpoint (its namespace too), or None.

    Raises TokenFileError when a file that would be used is readable by others.
    """
    import json

    from traces_git.upload import share_rules

    directory = share_rules.config_dir()
    names = (f"credentials-{share_rules.endpoint_hash(api_url)}.json", "credentials.json")
    for name in names:
        path = os.path.join(directory, name)
        try:
            info = os.stat(path)
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) and data[k].strip() for k in _OFFICIAL_REQUIRED
        ):
            continue
        _refuse_if_shared(path, info)
        return data
    return None


def _own_login() -> Token | None:
    import json

    path = credentials_file()
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    try:
        _refuse_if_shared(path, info)
    except TokenFileError as exc:
        raise TokenFileError(f"{exc} or `traces-git login` again") from None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise TokenFileError(f"cannot read {path}: {type(exc).__name__}") from None
    value = data.get("token") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.strip():
        return None
    return Token(value.strip(), OWN_LOGIN)


def load(api_url: str | None = None, env: Mapping[str, str] | None = None) -> Token | None:
    """The token to use, or None when not logged in. Raises TokenFileError on an unsafe file.

    ``env``: the environment to read (default ``os.environ``)."""
    token = _env("TRACES_CLI_AUTH_TOKEN", env)
    if token is not None:
        return token
    credentials = official_credentials(api_url or _default_api_url())
    if credentials is not None:
        return Token(credentials["deviceKey"].strip(), OFFICIAL_LOGIN)
    token = _env("TRACES_API_KEY", env)
    if token is not None:
        return token
    return _own_login()


def overriding_own_login(api_url: str | None = None) -> str | None:
    """The source that wins over a ``traces-git login`` token, if any (for ``login``)."""
    try:
        token = load(api_url)
    except TokenFileError:
        return None
    return token.source if token is not None and token.source != OWN_LOGIN else None


def _default_api_url() -> str:
    return (os.environ.get("TRACES_HTTP_URL") or PRODUCTION_API_URL).rstrip("/")


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
