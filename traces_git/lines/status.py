"""``traces-git status``: the line-attribution queue of this repository and its last error."""

from __future__ import annotations

from traces_git import log
from traces_git.lines import queue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.repo import RepoInfo


def section(info: RepoInfo | None) -> dict | None:
    """None where there is nothing to say (no job queued, no line record computed yet)."""
    if info is None:
        return None
    queued = len(queue.job_files(info.common_dir))
    runs = [
        run
        for run in log.recent_runs(200)
        if run.get("hook") == "lines" and run.get("repo") == info.display
    ]
    if not queued and not runs:
        return None
    errors = [run for run in runs if run.get("outcome") == "error"]
    summary = f"{queued} commit job(s) queued" if queued else "nothing queued"
    if queued and not queue.worker_running(info.common_dir):
        summary += " (no worker running: `traces-git lines backfill` computes them)"
    result: dict = {"summary": summary, "last_error": errors[-1].get("detail") if errors else None}
    if runs:
        result["last"] = runs[-1].get("detail")
    return result
