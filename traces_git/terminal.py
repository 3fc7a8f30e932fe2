"""Colour and pager the way git decides them.

Colour: ``--color[=always|never|auto]`` wins; else git's own answer to
``git config --get-colorbool color.<cmd> <stdout-is-tty>`` (``color.<cmd>``,
falling back to ``color.ui``; ``auto`` means a terminal that is not
``TERM=dumb``). Output into our pager counts as a terminal when
``color.pager`` allows, as in git.

Pager: only when stdout is a terminal and ``--no-pager`` was not given; the
command is ``git var GIT_PAGER`` (``GIT_PAGER``, ``core.pager``, ``PAGER``,
then git's default), run through the shell with ``LESS=FRX`` and ``LV=-c``
unless already set, exactly as git starts it. ``cat`` or an empty pager
means none.
"""

from __future__ import annotations

import contextlib
import os
import sys

from traces_git import gitcmd

TYPE_CHECKING = False  # typing costs milliseconds; `log -n 1` should cost what git's does
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import TextIO

RESET = "\x1b[m"
COLOURS = {
    "yellow": "\x1b[33m",
    "green": "\x1b[32m",
    "cyan": "\x1b[36m",
    "red": "\x1b[31m",
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
}


def stdout_is_tty() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def want_colour(cwd: str, command: str, flag: str | None, *, tty: bool, paging: bool) -> bool:
    """Whether to colour: ``flag`` from --color/--no-color, else git config as git reads it."""
    if flag in ("always", "true"):
        return True
    if flag in ("never", "false"):
        return False
    if flag not in (None, "auto"):
        from traces_git.errors import UsageError

        raise UsageError(f"--color takes always, never or auto, not {flag!r}")
    if paging and not _colorbool(cwd, "color.pager", True):
        return False
    key = f"color.{command}"
    if flag == "auto":
        # --color=auto: colour.ui does not matter, only whether it is a terminal.
        return tty and os.environ.get("TERM", "") != "dumb"
    return _colorbool(cwd, key, tty)


def _colorbool(cwd: str, key: str, tty: bool) -> bool:
    code, out = gitcmd.fast(["config", "--get-colorbool", key, "true" if tty else "false"], cwd)
    return code == 0 and out.strip() == b"true"


def paint(text: str, colour: str | None, enabled: bool) -> str:
    if not enabled or not colour or not text:
        return text
    return f"{COLOURS[colour]}{text}{RESET}"


def pager_command(cwd: str) -> str | None:
    """The pager git would run here, or None for no pager."""
    code, out = gitcmd.fast(["var", "GIT_PAGER"], cwd)
    command = out.decode("utf-8", "surrogateescape").strip() if code == 0 else "less"
    if not command or command == "cat":
        return None
    return command


@contextlib.contextmanager
def output(cwd: str, *, use_pager: bool) -> Iterator[TextIO]:
    """A text stream: the pager's stdin when ``use_pager`` and git names one, else stdout.

    Waits for the pager to exit; a pager quit early (EPIPE) is not an error.
    """
    command = pager_command(cwd) if use_pager else None
    if command is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    import subprocess

    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    env["GIT_PAGER_IN_USE"] = "true"
    sys.stdout.flush()
    try:
        pager = subprocess.Popen(
            command,
            shell=True,
            stdin=subprocess.PIPE,
            env=env,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError:
        yield sys.stdout
        return
    try:
        yield pager.stdin  # type: ignore[misc]
        pager.stdin.close()  # type: ignore[union-attr]
    except BrokenPipeError:
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            pager.stdin.close()  # type: ignore[union-attr]
        pager.wait()
