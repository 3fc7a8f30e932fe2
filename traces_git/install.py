"""Install and remove the hook scripts (minimal: global core.hooksPath only)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traces_git import gitcmd, paths

PYTHON_PLACEHOLDER = "@TRACES_GIT_PYTHON@"


def hook_sources() -> Path:
    """The hook scripts shipped with this copy of traces-git."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "hook_scripts", here.parent / "hooks"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("traces-git's hook scripts are missing from this installation")


def installed_hooks_dir() -> Path:
    return paths.data_dir() / "hooks"


def write_hooks(target: Path, python: str | None = None) -> list[Path]:
    python = python or sys.executable
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(hook_sources().iterdir()):
        if not source.is_file() or source.name.startswith("."):
            continue
        text = source.read_text("utf-8").replace(PYTHON_PLACEHOLDER, python)
        destination = target / source.name
        tmp = destination.with_name(f".{source.name}.tmp")
        tmp.write_text(text, "utf-8")
        os.chmod(tmp, 0o755)
        os.replace(tmp, destination)
        written.append(destination)
    return written


def install() -> Path:
    target = installed_hooks_dir()
    write_hooks(target)
    gitcmd.run(["config", "--global", "core.hooksPath", str(target)])
    return target
