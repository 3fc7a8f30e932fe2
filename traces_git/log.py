"""The log file and the record of hook runs, both in the platformdirs state dir.

Hooks never print our failures into git's output; they land here, and
``traces-git status``/``doctor`` show them.
"""

from __future__ import annotations

import os
import time

from traces_git import paths

TYPE_CHECKING = False  # typing costs ~3 ms to import on the hook path
if TYPE_CHECKING:
    from pathlib import Path

MAX_LOG_BYTES = 1_000_000
MAX_RUNS = 200


def _append(path: str, line: str, limit: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        if os.stat(path).st_size > limit:
            os.replace(path, path + ".1")
    except FileNotFoundError:
        pass
    # O_APPEND keeps concurrent hooks' lines whole.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8", "replace"))
    finally:
        os.close(fd)


def write(message: str, *, context: str = "", exc: BaseException | None = None) -> None:
    """Append one entry to the log; never raises."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    text = f"{stamp} [{os.getpid()}] {context + ': ' if context else ''}{message}\n"
    if exc is not None:
        import traceback

        text += "".join(traceback.format_exception(exc))
    try:
        _append(paths.location("state", "traces-git.log"), text, MAX_LOG_BYTES)
    except OSError:
        pass


def runs_file() -> Path:
    from pathlib import Path

    return Path(paths.location("state", "runs.jsonl"))


def record_run(hook: str, repo: str, outcome: str, detail: str = "", **extra: object) -> None:
    """Remember one hook run (``outcome``: ok, skipped, error) for status/doctor."""
    entry = {"time": time.time(), "hook": hook, "repo": repo, "outcome": outcome}
    if detail:
        entry["detail"] = detail
    entry.update(extra)
    try:
        _append(paths.location("state", "runs.jsonl"), _dumps(entry) + "\n", MAX_RUNS * 400)
    except OSError:
        pass


def _dumps(value: object) -> str:
    """JSON for the plain values of a run record.

    The json package pulls in ``re`` (~7 ms per hook run); its C string
    encoder alone is enough for str, numbers, lists and dicts.
    """
    try:
        from _json import encode_basestring_ascii as quote
    except ImportError:  # not CPython
        import json

        return json.dumps(value)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        finite = value == value and value not in (float("inf"), float("-inf"))
        return repr(value) if finite else "null"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_dumps(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{quote(str(k))}: {_dumps(v)}" for k, v in value.items()) + "}"
    return quote(str(value))


def recent_runs(limit: int = 20) -> list[dict]:
    import json

    entries: list[dict] = []
    for path in (runs_file().with_name("runs.jsonl.1"), runs_file()):
        try:
            lines = path.read_text("utf-8", "replace").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
    return entries[-limit:]
