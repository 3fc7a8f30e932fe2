"""Where traces-git keeps its own files: platformdirs locations, never a work tree."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs ~3 ms to import on the hook path
if TYPE_CHECKING:
    from pathlib import Path

APP = "traces-git"

# On Linux the platformdirs answer is the XDG base directory spec, computed
# here because importing platformdirs costs ~7 ms on every hook run (it pulls
# in tempfile); tests/test_paths.py checks that both agree.
_XDG = {
    "state": ("XDG_STATE_HOME", "~/.local/state"),
    "config": ("XDG_CONFIG_HOME", "~/.config"),
    "data": ("XDG_DATA_HOME", "~/.local/share"),
}


def location(kind: str, *parts: str) -> str:
    """``kind`` (state, config, data) dir joined with ``parts``, as a string.

    The hook hot path uses this form: pathlib costs ~5 ms to import.
    """
    if sys.platform.startswith("linux"):
        variable, default = _XDG[kind]
        root = os.path.join(
            os.environ.get(variable, "").strip() or os.path.expanduser(default), APP
        )
    else:
        import platformdirs

        function = {
            "state": platformdirs.user_state_dir,
            "config": platformdirs.user_config_dir,
            "data": platformdirs.user_data_dir,
        }[kind]
        root = function(APP, appauthor=False)
    return os.path.join(root, *parts)


def _base(kind: str) -> Path:
    from pathlib import Path

    return Path(location(kind))


def state_dir() -> Path:
    return _base("state")


def config_dir() -> Path:
    return _base("config")


def data_dir() -> Path:
    return _base("data")


def log_file() -> Path:
    from pathlib import Path

    return Path(location("state", "traces-git.log"))


def repo_key(git_common_dir: str | os.PathLike[str]) -> str:
    """A stable, filesystem-safe name for one repository's state."""
    import hashlib

    resolved = os.path.realpath(git_common_dir)
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    name = os.path.basename(os.path.dirname(resolved)) or "repo"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:40]
    return f"{safe}-{digest}"


def repo_state_dir(git_common_dir: str | os.PathLike[str]) -> Path:
    return state_dir() / "repos" / repo_key(git_common_dir)
