"""After a commit: start the notes-push worker for this repository's queued pushes.

Apart from ``sync`` so that post-commit pays one ``listdir`` on every commit, not
the import of the whole sync module (~1.5 ms): with nothing queued anywhere the
pending dir does not exist.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.repo import RepoInfo


def after_commit(repo: RepoInfo, config: Config) -> None:
    """Start the worker for this repository's queued notes pushes that are due."""
    from traces_git import paths

    try:
        pending = os.listdir(paths.location("state", "sync-pending"))
    except OSError:
        return
    if not pending or paths.repo_key(repo.common_dir) not in pending:
        return
    from traces_git.sync import pushqueue
    from traces_git.sync import transfer as sync

    for remote in pushqueue.due(repo.common_dir):
        if not pushqueue.worker_running(repo.common_dir, remote) and sync.push_enabled(
            config, remote
        ):
            pushqueue.spawn(repo.worktree or repo.common_dir, remote)
