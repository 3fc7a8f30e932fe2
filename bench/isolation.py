"""The environment every bench runs git and traces-git in: nothing of the user's.

Its own HOME, XDG dirs and global git config (``init.defaultBranch = main``), a fixed
author, and none of the caller's ``GIT_*``, ``XDG_*``, ``TRACES_*``, ``CODEX_*`` or
``GITHUB_*`` variables, so no bench reads or writes the user's git config or store.
"""

from __future__ import annotations

import os
from pathlib import Path

_DROPPED = ("GIT_", "XDG_", "TRACES_", "CODEX_", "GITHUB_")


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """That environment for ``home`` (created), plus ``extra``."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
    )
    env.update(extra)
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        gitconfig.write_text("[init]\n\tdefaultBranch = main\n")
    return env
