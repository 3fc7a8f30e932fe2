"""Where traces-git keeps its own files: platformdirs locations, never a work tree.

``TRACES_GIT_HOME`` moves all of them under one directory (tests and
throwaway installs use it).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

APP = "traces-git"


def _base(kind: str) -> Path:
    override = os.environ.get("TRACES_GIT_HOME")
    if override:
        return Path(override) / kind
    import platformdirs

    if kind == "state":
        return Path(platformdirs.user_state_dir(APP, appauthor=False))
    if kind == "config":
        return Path(platformdirs.user_config_dir(APP, appauthor=False))
    if kind == "data":
        return Path(platformdirs.user_data_dir(APP, appauthor=False))
    raise ValueError(kind)


def state_dir() -> Path:
    return _base("state")


def config_dir() -> Path:
    return _base("config")


def data_dir() -> Path:
    return _base("data")


def log_file() -> Path:
    return state_dir() / "traces-git.log"


def repo_key(git_common_dir: str | os.PathLike[str]) -> str:
    """A stable, filesystem-safe name for one repository's state."""
    resolved = os.path.realpath(git_common_dir)
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    name = os.path.basename(os.path.dirname(resolved)) or "repo"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:40]
    return f"{safe}-{digest}"


def repo_state_dir(git_common_dir: str | os.PathLike[str]) -> Path:
    return state_dir() / "repos" / repo_key(git_common_dir)
