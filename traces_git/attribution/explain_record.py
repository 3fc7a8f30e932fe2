"""The hook's side of ``traces-git explain``: one small JSON line per commit.

Runs on every commit, so it imports nothing new: the candidates come ready
from the selection, the line is written with the run log's encoder, and the
file is rotated like the run log. Recorded: trace IDs, agents, where each
candidate came from, the reason it was kept or dropped, file paths (relative
to the worktree, a dozen at most per side). Never a title, a message, a tool
argument or an environment value other than a hint's own trace ID or path.
"""

from __future__ import annotations

import os
import time

from traces_git import log, paths

TYPE_CHECKING = False  # typing costs milliseconds per hook run
if TYPE_CHECKING:
    from traces_git.repo import RepoInfo

FILE_NAME = "explain.jsonl"
MAX_BYTES = 2_000_000  # then rotated to explain.jsonl.1: a few thousand commits in all
VERSION = 1


def path() -> str:
    return paths.location("state", FILE_NAME)


def record(repo: RepoInfo, hook: str, explained: dict, summary: dict) -> None:
    commit = explained.get("commit")
    if not commit:
        return
    considered = explained.get("considered")
    entry: dict = {
        "v": VERSION,
        "commit": commit,
        "repo": repo.common_dir,
        "time": round(time.time(), 3),
        "hook": hook,
        "replay": explained.get("replay"),
    }
    for key in ("since_ms", "picked_from"):
        if explained.get(key) is not None:
            entry[key] = explained[key]
    if summary.get("store"):
        entry["store"] = summary["store"]
    if explained.get("hints_ignored"):
        entry["hints_ignored"] = explained["hints_ignored"]
    for key in ("late_pending", "late"):  # late attach: queued by the hook, done by its worker
        if explained.get(key):
            entry[key] = explained[key]
    candidates = list(considered.items) if considered is not None else []
    for trace_id in explained.get("copied", ()):
        candidates.append(
            {"id": trace_id, "source": "cherry-pick", "kept": True, "reason": "copied"}
        )
    if "note_before" in explained:
        candidates = with_note_state(candidates, explained["note_before"])
    entry["candidates"] = candidates
    if considered is not None and considered.truncated:
        entry["truncated"] = considered.truncated
    entry["attached"] = list(summary.get("attached") or [])
    _write(entry)


def with_note_state(candidates: list[dict], note_text: str | None) -> list[dict]:
    """Mark kept candidates the note already had, or had detached, before the hook wrote."""
    from traces_git.notes import core as notes

    parsed = notes.parse(note_text or "")
    present = {line.id for line in parsed if line.kind == "trace"}
    detached = {line.id for line in parsed if line.kind == "detach"}
    out = []
    for item in candidates:
        if item.get("kept") and item["id"] in detached:
            item = {**item, "kept": False, "reason": "detached", "selected_because": item["reason"]}
        elif item.get("kept") and item["id"] in present:
            item = {**item, "reason": "already-present", "selected_because": item["reason"]}
        out.append(item)
    return out


def record_opted_out(repo: RepoInfo, hook: str) -> None:
    """Switched off: remember that the hook saw the commit and stood aside."""
    try:
        from traces_git import gitcmd

        how = "traces.enabled=false"
        if os.environ.get("TRACES_GIT", "").strip().lower() in ("0", "false", "no", "off"):
            how = "TRACES_GIT=0"

        commit = gitcmd.fast_out(["rev-parse", "HEAD"], repo.worktree or repo.common_dir).strip()
        if commit:
            _write(
                {
                    "v": VERSION,
                    "commit": commit,
                    "repo": repo.common_dir,
                    "time": round(time.time(), 3),
                    "hook": hook,
                    "replay": None,
                    "opted_out": how,
                    "candidates": [],
                    "attached": [],
                }
            )
    except Exception as exc:  # noqa: BLE001 - a diagnostic, never in the way of the hook
        log.write(f"recording the explain data failed: {exc}", context=repo.display, exc=exc)


def _write(entry: dict) -> None:
    try:
        log._append(path(), log._dumps(entry) + "\n", MAX_BYTES)
    except OSError:
        pass


def read(commit: str, repo_dir: str) -> dict | None:
    """The last record of ``commit`` in the repository whose common dir is ``repo_dir``."""
    import json

    wanted = os.path.realpath(repo_dir)
    found = None
    for name in (path() + ".1", path()):
        try:
            with open(name, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if commit not in line:
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if (
                        isinstance(entry, dict)
                        and entry.get("commit") == commit
                        and isinstance(entry.get("repo"), str)
                        and os.path.realpath(entry["repo"]) == wanted
                    ):
                        found = entry
        except OSError:
            continue
    return found
