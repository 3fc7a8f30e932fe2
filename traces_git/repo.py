"""Where a repository's pieces are: worktree, per-worktree git dir, common git dir."""

from __future__ import annotations

import os

from traces_git import gitcmd
from traces_git.errors import GitError

TYPE_CHECKING = False  # typing costs milliseconds on the hook path
if TYPE_CHECKING:
    import pygit2


class RepoInfo:
    # A plain class, not a dataclass: importing dataclasses costs ~8 ms per hook run.
    __slots__ = ("worktree", "git_dir", "common_dir")

    def __init__(self, worktree: str | None, git_dir: str, common_dir: str):
        self.worktree = worktree  # realpath of the worktree root; None in a bare repository
        self.git_dir = git_dir  # per-worktree git dir (absolute)
        self.common_dir = common_dir  # shared git dir (absolute): refs, objects, config, hooks

    def __repr__(self) -> str:
        fields = f"worktree={self.worktree!r}, git_dir={self.git_dir!r}"
        return f"RepoInfo({fields}, common_dir={self.common_dir!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RepoInfo) and (self.worktree, self.git_dir, self.common_dir) == (
            other.worktree,
            other.git_dir,
            other.common_dir,
        )

    def __hash__(self) -> int:
        return hash((self.worktree, self.git_dir, self.common_dir))

    @classmethod
    def from_hook(cls) -> RepoInfo:
        """In a hook: the dispatcher's hint when it found ``.git`` here, else :meth:`discover`.

        Git runs hooks at the top of the work tree; a ``.git`` directory there
        (and no GIT_DIR) means a plain repository, so one ``git rev-parse``
        (~2 ms of every commit) is not needed.
        """
        hint = os.environ.get("TRACES_GIT_HOOK_GIT_DIR")
        try:
            cwd = os.getcwd()
        except FileNotFoundError:
            raise GitError("the current directory no longer exists") from None
        if hint and not os.environ.get("GIT_DIR") and hint == os.path.join(cwd, ".git"):
            if os.path.isdir(hint):
                return cls(worktree=os.path.realpath(cwd), git_dir=hint, common_dir=hint)
        return cls.discover(cwd)

    @classmethod
    def discover(cls, cwd: str | os.PathLike[str] | None = None) -> RepoInfo:
        """The repository at ``cwd``, as git finds it: with ``GIT_DIR`` (and
        ``GIT_WORK_TREE``, ``GIT_COMMON_DIR``) when they are set, as git sets them for a
        hook of ``git --git-dir=X --work-tree=Y`` or of a ``core.worktree`` repository.
        Then every later git child is bound to it (:func:`gitcmd.bind_repository`)."""
        try:
            here = os.getcwd()
        except FileNotFoundError:
            raise GitError("the current directory no longer exists") from None
        base = os.path.abspath(cwd or here)
        given = {
            name: os.path.join(here, os.environ[name])
            for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR")
            if os.environ.get(name) and os.environ.get("GIT_DIR")
        }
        # One call: --show-toplevel goes last because it fails in a bare repository.
        code, stdout = gitcmd.fast(
            [
                "rev-parse",
                "--absolute-git-dir",
                "--git-common-dir",
                "--is-bare-repository",
                "--show-toplevel",
            ],
            base,
            given or None,
        )
        lines = stdout.decode("utf-8", "surrogateescape").split("\n")
        if len(lines) < 3 or not lines[0]:
            raise GitError(f"not a git repository: {_shown(base)}")
        if len(lines) > 5 or lines[2] not in ("true", "false"):
            # a path with a newline in it: one value per git process, newline-safe
            lines = [
                _one(option, base, given)
                for option in ("--absolute-git-dir", "--git-common-dir", "--is-bare-repository")
            ]
            lines.append(_one("--show-toplevel", base, given) if lines[2] == "false" else "")
            code = 0 if lines[3] else 1
        git_dir, common_dir, bare = lines[:3]
        common_dir = os.path.normpath(os.path.join(base, common_dir))
        worktree = None
        if bare != "true" and code == 0 and len(lines) > 3:
            worktree = os.path.realpath(lines[3])
        if given:
            gitcmd.bind_repository(git_dir, worktree)
        return cls(worktree=worktree, git_dir=git_dir, common_dir=common_dir)

    @property
    def display(self) -> str:
        return self.worktree or self.common_dir

    def open(self) -> pygit2.Repository:
        """The pygit2 repository (imports pygit2: keep it off the no-work path).

        A repository pygit2 cannot open (:func:`pygit2_can_open`) is a one-line error."""
        if not pygit2_can_open(self.common_dir):
            from traces_git.errors import UsageError

            raise UsageError(
                f"{self.display}: this command cannot read a sha256 or reftable repository yet"
                " (show, attach, detach, explain, sync and the hooks can)"
            )
        import pygit2

        return pygit2.Repository(self.common_dir if self.worktree is None else self.git_dir)


def _one(option: str, base: str, given: dict) -> str:
    """One ``git rev-parse OPTION`` value, only its final newline removed."""
    code, out = gitcmd.fast(["rev-parse", option], base, given or None)
    if code != 0:
        return ""
    return out.decode("utf-8", "surrogateescape").removesuffix("\n")


def _shown(path: str) -> str:
    """A path in a one-line message: control characters escaped."""
    return path if path.isprintable() else repr(path)


_OPENABLE: dict[str, bool] = {}


def pygit2_can_open(common_dir: str) -> bool:
    """Whether pygit2 (libgit2) can open this repository: not for sha256 objects nor the
    reftable ref store (``extensions.objectFormat`` / ``refStorage`` in its config).
    Read once per repository from the config file, so each command picks pygit2 or the
    git CLI up front instead of trying one and failing."""
    known = _OPENABLE.get(common_dir)
    if known is None:
        known = _OPENABLE[common_dir] = _extensions(common_dir).get(
            "objectformat", "sha1"
        ) == "sha1" and "refstorage" not in _extensions(common_dir)
    return known


def _extensions(common_dir: str) -> dict[str, str]:
    """The ``[extensions]`` keys of the repository's own config file (lower-cased)."""
    found: dict[str, str] = {}
    try:
        with open(os.path.join(common_dir, "config"), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    section = ""
    for raw in lines:
        line = raw.strip()
        if line.startswith("["):
            section = line[1:].split("]", 1)[0].strip().lower()
            continue
        if section == "extensions" and "=" in line:
            key, _, value = line.partition("=")
            found[key.strip().lower()] = value.split("#", 1)[0].split(";", 1)[0].strip().lower()
    return found
