"""The command that installs the pre-commit framework's hook despite our core.hooksPath.

pre-commit refuses ``pre-commit install`` while core.hooksPath is set; clearing
the setting for that one command works. What is hard is naming a pre-commit
that will run: it often lives in a virtualenv or under pipx, off the PATH of
the shell the user pastes the fix into. So the command is, in order:

1. the interpreter an existing pre-commit hook script of this repository calls
   (its templated ``INSTALL_PYTHON=`` line), still present: that exact
   installation already serves the repository;
2. ``pre-commit`` as found on the PATH of the process asking (``traces-git
   status`` runs in the user's shell), by absolute path;
3. pipx's bin dir (``$PIPX_BIN_DIR``, else ``~/.local/bin``), which need not be
   on PATH;
4. nothing: the fix is then said in words.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterable
from pathlib import Path

PRE_COMMIT_MARKER = b"138fd403232d2ddd5efb44317e38bf03"  # the ID line of pre-commit's hook
CLEAR_HOOKS_PATH = "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0="
IN_WORDS = (
    "run pre-commit's own install with core.hooksPath cleared for that one command, using the "
    f"pre-commit you installed: {CLEAR_HOOKS_PATH} pre-commit install"
)


def install_command(hook_dirs: Iterable[Path]) -> str | None:
    """A shell command that installs pre-commit's hook here, or None when none can be named."""
    runner = _from_hook_scripts(hook_dirs) or _on_path() or _under_pipx()
    return f"{CLEAR_HOOKS_PATH} {runner} install" if runner else None


def _from_hook_scripts(hook_dirs: Iterable[Path]) -> str | None:
    for directory in hook_dirs:
        try:
            scripts = sorted(p for p in directory.iterdir() if p.is_file())
        except OSError:
            continue
        for script in scripts:
            python = _install_python(script)
            if python and os.access(python, os.X_OK):
                return f"{shlex.quote(python)} -m pre_commit"
    return None


def _install_python(script: Path) -> str | None:
    try:
        head = script.read_bytes()[:20_000]
    except OSError:
        return None
    if PRE_COMMIT_MARKER not in head:
        return None
    for line in head.decode("utf-8", "replace").splitlines():
        if line.startswith("INSTALL_PYTHON="):
            try:
                words = shlex.split(line[len("INSTALL_PYTHON=") :])
            except ValueError:
                return None
            return words[0] if len(words) == 1 else None
    return None


def _on_path() -> str | None:
    found = shutil.which("pre-commit")
    return shlex.quote(os.path.abspath(found)) if found else None


def _under_pipx() -> str | None:
    bin_dir = os.environ.get("PIPX_BIN_DIR") or os.path.join(Path.home(), ".local", "bin")
    candidate = os.path.join(bin_dir, "pre-commit")
    return shlex.quote(candidate) if os.access(candidate, os.X_OK) else None
