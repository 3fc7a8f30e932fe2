"""Where a repository's pieces are: worktree, per-worktree git dir, common git dir."""

from __future__ import annotations

import os
from dataclasses import dataclass

from traces_git import gitcmd
from traces_git.errors import GitError


@dataclass(frozen=True)
class RepoInfo:
    worktree: str | None  # realpath of the worktree root; None in a bare repository
    git_dir: str  # per-worktree git dir (absolute)
    common_dir: str  # shared git dir (absolute): refs, objects, config, hooks

    @classmethod
    def discover(cls, cwd: str | os.PathLike[str] | None = None) -> RepoInfo:
        base = os.path.abspath(cwd or os.getcwd())
        # One call: --show-toplevel goes last because it fails in a bare repository.
        proc = gitcmd.run(
            [
                "rev-parse",
                "--absolute-git-dir",
                "--git-common-dir",
                "--is-bare-repository",
                "--show-toplevel",
            ],
            base,
            check=False,
        )
        lines = proc.stdout.decode("utf-8", "surrogateescape").split("\n")
        if len(lines) < 3 or not lines[0]:
            raise GitError(f"not a git repository: {base}")
        git_dir, common_dir, bare = lines[:3]
        common_dir = os.path.normpath(os.path.join(base, common_dir))
        worktree = None
        if bare != "true" and proc.returncode == 0 and len(lines) > 3:
            worktree = os.path.realpath(lines[3])
        return cls(worktree=worktree, git_dir=git_dir, common_dir=common_dir)

    @property
    def display(self) -> str:
        return self.worktree or self.common_dir

    def open(self):
        """The pygit2 repository (imports pygit2: keep it off the no-work path)."""
        import pygit2

        return pygit2.Repository(self.common_dir if self.worktree is None else self.git_dir)
