"""traces-git settings, read from git config (``traces.*``) in one git call.

Every setting works per repository (``git config traces.X``) and per user
(``git config --global traces.X``); the README's table lists them.
"""

from __future__ import annotations

import os

from traces_git import gitcmd

TYPE_CHECKING = False  # the typing and collections modules cost milliseconds per hook run
if TYPE_CHECKING:
    from collections.abc import Mapping

_TRUE = {"true", "yes", "on", "1", ""}
_FALSE = {"false", "no", "off", "0"}


def parse_bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return default


class Config:
    """A snapshot of ``git config --list`` for one repository."""

    def __init__(self, values: Mapping[str, list[str]], origins: list[str] | None = None):
        self._values = values
        self.origins = origins or []  # the files the values came from (``origins=True``)

    @classmethod
    def load(
        cls,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        *,
        origins: bool = False,
    ) -> Config:
        if env is None:
            return cls.start(cwd, origins=origins).wait()
        stdout = gitcmd.run(_list_args(origins), cwd, check=False, env=env).stdout
        return cls.parse(stdout, origins=origins)

    @classmethod
    def start(cls, cwd: str | os.PathLike[str] | None = None, *, origins: bool = False) -> _Pending:
        """:meth:`load` begun: ``.wait()`` gives the Config. The hook does other work
        (its imports) while git reads the config files."""
        return _Pending(gitcmd.start(_list_args(origins), cwd), origins)

    @classmethod
    def parse(cls, stdout: bytes, *, origins: bool = False) -> Config:
        """The Config of ``git config --list -z`` output (``--show-origin`` if ``origins``)."""
        values: dict[str, list[str]] = {}
        files: list[str] = []
        items = stdout.split(b"\0")
        if origins:  # "file:<path>" NUL "key\nvalue" NUL, per entry
            for origin in items[0::2]:
                name = origin.decode("utf-8", "surrogateescape")
                if name.startswith("file:") and name[5:] not in files:
                    files.append(name[5:])
            items = items[1::2]
        for item in items:
            if not item:
                continue
            key, _, value = item.decode("utf-8", "surrogateescape").partition("\n")
            values.setdefault(_normalize(key), []).append(value)
        return cls(values, files)

    def get(self, key: str, default: str | None = None) -> str | None:
        found = self._values.get(_normalize(key))
        return found[-1] if found else default

    def get_all(self, key: str) -> list[str]:
        return list(self._values.get(_normalize(key), []))

    def get_bool(self, key: str, default: bool) -> bool:
        return parse_bool(self.get(key), default)

    def get_int(self, key: str, default: int) -> int:
        value = self.get(key)
        try:
            return int(value) if value is not None else default
        except ValueError:
            return default

    def keys(self) -> list[str]:
        return list(self._values)


class _Pending:
    __slots__ = ("_process", "_origins")

    def __init__(self, process: gitcmd.Started | gitcmd._Deferred, origins: bool):
        self._process = process
        self._origins = origins

    def wait(self) -> Config:
        _, stdout = self._process.wait()
        return Config.parse(stdout, origins=self._origins)


def _list_args(origins: bool) -> list[str]:
    return ["config", "--list", "-z", *(["--show-origin"] if origins else [])]


def _normalize(key: str) -> str:
    """Section and variable names are case-insensitive; a subsection is not."""
    section, dot, rest = key.partition(".")
    if not dot:
        return key.lower()
    middle, dot2, variable = rest.rpartition(".")
    if not dot2:
        return f"{section.lower()}.{rest.lower()}"
    return f"{section.lower()}.{middle}.{variable.lower()}"


def enabled(config: Config) -> bool:
    """False when the user switched traces-git off (``TRACES_GIT=0`` or ``traces.enabled``)."""
    if os.environ.get("TRACES_GIT", "").strip().lower() in _FALSE:
        return False
    return config.get_bool("traces.enabled", True)
