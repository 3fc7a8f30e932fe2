"""The commands scripts run in loops, without the CLI framework.

Importing click costs ~25-45 ms, more than the work of ``traces-git attach ID REV``
(a few git processes) or ``traces-git log -n 1``. For the plain shapes of
``attach``/``detach`` (an ID, a REV, ``--url``), ``log`` and ``stats`` (their flags
and git's arguments) and ``blame`` (``--json``, ``--no-pager``, ``--offline``,
``--no-color``, REV and FILE) this runs the same functions the click commands run,
with the same output and errors; anything else (``--help``, ``--stdin``, ``-L``,
an unexpected option) returns None and the click CLI handles it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing and collections cost milliseconds per run
if TYPE_CHECKING:
    from collections.abc import Callable


def run(args: list[str]) -> int | None:
    """The exit code, or None when the click CLI must handle ``args``."""
    if not args:
        return None
    command, rest = args[0], args[1:]
    own = rest[: rest.index("--")] if "--" in rest else rest
    if "-h" in own or "--help" in own:
        return None
    if command in ("attach", "detach"):
        call = _edit_call(command, rest)
    elif command == "log":
        call = _log_call(rest)
    elif command == "stats":
        call = _stats_call(rest)
    elif command == "blame":
        call = _blame_call(rest)
    else:
        return None
    if call is None:
        return None
    import os

    try:
        os.getcwd()
    except FileNotFoundError:
        sys.stderr.write(
            "traces-git: the current directory no longer exists "
            "(it was deleted); cd into a repository and run it again\n"
        )
        return 2
    return _guarded(call)


def _edit_call(command: str, rest: list[str]) -> Callable[[], None] | None:
    positional: list[str] = []
    url = None
    i = 0
    while i < len(rest):
        arg = rest[i]
        if command == "attach" and arg == "--url" and i + 1 < len(rest):
            url = rest[i + 1]
            i += 2
            continue
        if command == "attach" and arg.startswith("--url="):
            url = arg[len("--url=") :]
        elif arg.startswith("-"):
            return None
        else:
            positional.append(arg)
        i += 1
    if not 1 <= len(positional) <= 2:
        return None
    trace_id, rev = positional[0], positional[1] if len(positional) == 2 else "HEAD"

    def call() -> None:
        from traces_git.notes import edits as note_edits

        if command == "attach":
            message = note_edits.attach_one(trace_id, rev, url)
        else:
            message = note_edits.detach_one(trace_id, rev)
        sys.stdout.write(message + "\n")

    return call


_LOG_FLAGS = {"--untraced": "untraced", "--json": "as_json", "--no-pager": "no_pager"}


def _log_call(rest: list[str]) -> Callable[[], None]:
    flags, git_args = _split_flags(rest, _LOG_FLAGS)

    def call() -> None:
        from traces_git.views import log as logview

        logview.show(git_args, **flags)

    return call


_STATS_FLAGS = {"--json": "as_json", "--no-pager": "no_pager"}


def _stats_call(rest: list[str]) -> Callable[[], None]:
    flags, git_args = _split_flags(rest, _STATS_FLAGS)

    def call() -> None:
        import os

        from traces_git.views import show as views

        views.show_stats(os.getcwd(), git_args, **flags)

    return call


_BLAME_FLAGS = {"--json": "as_json", "--no-pager": "no_pager", "--offline": "offline"}


def _blame_call(rest: list[str]) -> Callable[[], None] | None:
    """``blame [--json] [--no-pager] [--offline] [--no-color] [REV] [--] FILE`` only: any
    other option (-L, -M, --color ...) goes to click."""
    before = rest[: rest.index("--")] if "--" in rest else rest
    after = rest[rest.index("--") + 1 :] if "--" in rest else None
    flags: dict = dict.fromkeys(_BLAME_FLAGS.values(), False)
    colour = None
    positional: list[str] = []
    for arg in before:
        if arg in _BLAME_FLAGS:
            flags[_BLAME_FLAGS[arg]] = True
        elif arg == "--no-color":
            colour = "never"
        elif arg.startswith("-"):
            return None
        else:
            positional.append(arg)

    def call() -> None:
        import os

        from traces_git.views import blame
        from traces_git.views import show as views

        cwd = os.getcwd()
        rev, file = blame.rev_and_path(cwd, positional, after)
        views.show_blame(cwd, file, blame.BlameOptions(rev), colour=colour, **flags)

    return call


def _split_flags(rest: list[str], names: dict[str, str]) -> tuple[dict, list[str]]:
    """(our flags, git's arguments in order); after ``--`` everything is git's."""
    flags = dict.fromkeys(names.values(), False)
    git_args: list[str] = []
    for i, arg in enumerate(rest):
        if arg == "--":
            git_args += rest[i:]
            break
        if arg in names:
            flags[names[arg]] = True
        else:
            git_args.append(arg)
    return flags, git_args


def _guarded(call: Callable[[], None]) -> int:
    """Run ``call`` with the CLI's error contract: one line on stderr, its exit code."""
    from traces_git.errors import TracesGitError

    try:
        call()
    except TracesGitError as exc:
        sys.stderr.write(f"traces-git: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - one line to the user, details to the log
        from traces_git import log

        log.write(f"unexpected error: {exc}", context="cli", exc=exc)
        sys.stderr.write(
            f"traces-git: unexpected error: {type(exc).__name__}: {exc} "
            f"(details in {log.paths.log_file()})\n"
        )
        return 3
    return 0
