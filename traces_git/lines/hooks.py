"""The lines part of git's hooks: hand rewritten commits to the worker."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.repo import RepoInfo


def post_rewrite(repo: RepoInfo, stdin: bytes) -> dict:
    """post-rewrite (amend, rebase): queue each new commit with the commits it replaces
    (a squash: several); the worker re-derives its record."""
    from traces_git.lines import queue

    olds_by_new: dict[str, list[str]] = {}
    for raw in stdin.decode("ascii", "replace").splitlines():
        fields = raw.split()
        if len(fields) >= 2:
            olds_by_new.setdefault(fields[1], []).append(fields[0])
    if not olds_by_new:
        return {"outcome": "skipped", "record": False}
    path = queue.enqueue(repo.common_dir, list(olds_by_new.items()))
    if path is None:
        return {"outcome": "skipped", "record": False}
    if not queue.worker_running(repo.common_dir):
        queue.spawn(repo.worktree or repo.common_dir, repo.common_dir)
    return {
        "outcome": "ok",
        "detail": f"line records of {len(olds_by_new)} rewritten commit(s) queued",
    }
