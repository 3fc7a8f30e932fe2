"""Fetched notes not merged yet: which notes refs a reader must read besides ours.

A user's ``git fetch`` brings the remotes' notes into the tracking refs
``refs/notes/remotes/<remote>/traces`` (and ``.../traces-lines``) through the
fetch refspec, with no hook of ours (git 2.39 would run a reference-transaction
hook once per ref a fetch moves: see docs/sync.md). They are merged into our
refs by the first hook after the fetch (``traces_git.sync.fetched``). Until then a
view reads them beside ours: this module says when that is needed, cheaply.

Every user fetch rewrites ``FETCH_HEAD`` (ours pass ``--no-write-fetch-head``);
the merge leaves ``<common dir>/traces-git-fetch-seen`` behind, its mtime set to
the ``FETCH_HEAD`` it handled. ``FETCH_HEAD`` newer than that file (or the file
missing) means: a fetch happened since the last merge. The dispatcher makes the
same test in sh.
"""

from __future__ import annotations

import os

from traces_git.constants import NOTES_REF

SEEN_FILE = "traces-git-fetch-seen"
TRACKING_PREFIX = "refs/notes/remotes/"


def tracking_ref(remote: str, ref: str = NOTES_REF) -> str:
    """The remote-tracking notes ref: written only by the user's own fetches and pulls."""
    return f"{TRACKING_PREFIX}{remote}/{ref.removeprefix('refs/notes/')}"


def tracked(name: str, ref: str = NOTES_REF) -> str | None:
    """The remote whose tracking ref of ``ref`` ``name`` is, or None."""
    suffix = "/" + ref.removeprefix("refs/notes/")
    if name.startswith(TRACKING_PREFIX) and name.endswith(suffix):
        remote = name[len(TRACKING_PREFIX) : -len(suffix)]
        return remote or None
    return None


def fetch_head_mtime(git_dir: str) -> int | None:
    """mtime (ns) of this worktree's FETCH_HEAD; None when no fetch ever wrote one."""
    try:
        return os.stat(os.path.join(git_dir, "FETCH_HEAD")).st_mtime_ns
    except OSError:
        return None


def pending(git_dir: str, common_dir: str) -> bool:
    """A fetch happened since the fetched notes were last merged (two ``stat`` calls)."""
    fetched = fetch_head_mtime(git_dir)
    if fetched is None:
        return False
    try:
        return fetched > os.stat(os.path.join(common_dir, SEEN_FILE)).st_mtime_ns
    except OSError:
        return True


def git_dirs(cwd: str) -> tuple[str, str] | None:
    """(git dir, common dir) of the repository at ``cwd``, from files alone, as the
    dispatcher finds them: ``.git`` in ``cwd`` or a parent (a directory, or a file
    ``gitdir: X`` whose ``commondir`` names the shared dir), or an absolute
    ``GIT_DIR``. None when that is not enough to tell (then nothing is read beside ours)."""
    if os.environ.get("GIT_COMMON_DIR"):
        return None
    git_dir = os.environ.get("GIT_DIR")
    if git_dir:
        if not os.path.isabs(git_dir):
            return None
    else:
        git_dir = _find_dot_git(os.path.abspath(cwd))
        if git_dir is None:
            return None
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as handle:
            common = handle.readline().rstrip("\n")
    except FileNotFoundError:
        return git_dir, git_dir
    except (OSError, UnicodeDecodeError):
        return None
    if not common:
        return None
    return git_dir, os.path.normpath(os.path.join(git_dir, common))


def _find_dot_git(start: str) -> str | None:
    here = start
    while True:
        candidate = os.path.join(here, ".git")
        if os.path.isdir(candidate):
            return candidate
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8") as handle:
                    line = handle.readline().rstrip("\n")
            except (OSError, UnicodeDecodeError):
                return None
            if not line.startswith("gitdir: "):
                return None
            return os.path.normpath(os.path.join(here, line[len("gitdir: ") :]))
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def unmerged_refs(cwd: str, ref: str = NOTES_REF) -> list[str]:
    """The tracking refs of ``ref`` a reader adds to ``ref`` while a fetch is not merged
    yet (none on the common path: two ``stat`` calls and a walk up to ``.git``)."""
    dirs = git_dirs(cwd)
    if dirs is None or not pending(*dirs):
        return []
    from traces_git import gitcmd

    code, out = gitcmd.fast(["for-each-ref", "--format=%(refname)", TRACKING_PREFIX], cwd)
    if code != 0:
        return []
    names = out.decode("utf-8", "surrogateescape").splitlines()
    return [name for name in names if tracked(name, ref)]


def reader_refs(cwd: str, ref: str = NOTES_REF) -> list[str]:
    """What a view reads for ``ref``: ours, and the fetched ones not merged yet."""
    return [ref, *unmerged_refs(cwd, ref)]
