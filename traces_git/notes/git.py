"""Reading and merging the notes with the git CLI, for any repository git can read.

pygit2 (libgit2) cannot open sha256 or reftable repositories
(:func:`traces_git.repo.pygit2_can_open`): there the commands that would use it read
and merge with git's own plumbing instead. The writes of single notes already go
through git (:func:`traces_git.notes.core.update_one_with_git`).

Merging here is git's ``notes merge -s cat_sort_uniq``: every line of both sides,
sorted; a note one side removed and the other kept unchanged is removed (the pygit2
merge keeps it); docs/safety.md says so.
"""

from __future__ import annotations

from traces_git import gitcmd
from traces_git.notes.core import _NO_HOOKS, DEFAULT_AUTHOR, NOTES_REF, Signature, _FileLock


def read_note(cwd: str, commit: str, ref: str = NOTES_REF) -> str | None:
    """One commit's note text (None without one): ``git notes show``."""
    code, out = gitcmd.fast(["notes", f"--ref={ref}", "show", commit], cwd)
    return out.decode("utf-8", "replace") if code == 0 else None


def ref_value(cwd: str, ref: str) -> str | None:
    code, out = gitcmd.fast(["rev-parse", "-q", "--verify", f"{ref}^{{commit}}"], cwd)
    return out.decode().strip() if code == 0 and out.strip() else None


def _is_ancestor(cwd: str, ancestor: str, descendant: str) -> bool:
    code, _ = gitcmd.fast(["merge-base", "--is-ancestor", ancestor, descendant], cwd)
    return code == 0


def _changed_paths(cwd: str, old: str | None, new: str) -> list[str]:
    """Annotated shas whose note differs between two notes commits (``old`` None: all)."""
    if old is None:
        code, out = gitcmd.fast(["ls-tree", "-r", "--name-only", "-z", new], cwd)
    else:
        code, out = gitcmd.fast(
            ["diff-tree", "-r", "--name-only", "-z", "--diff-filter=AM", old, new], cwd
        )
    if code != 0:
        return []
    return [name.decode().replace("/", "") for name in out.split(b"\0") if name]


def unpushed(cwd: str, remote_ref: str, ref: str = NOTES_REF) -> list[str]:
    """Shas whose note in ``ref`` differs from (or is missing in) ``remote_ref``."""
    local = ref_value(cwd, ref)
    if local is None:
        return []
    return sorted(_changed_paths(cwd, ref_value(cwd, remote_ref), local))


def merge(
    cwd: str,
    other: str,
    *,
    message: str,
    author: Signature | None = None,
    lock_path: str,
    ref: str = NOTES_REF,
) -> dict:
    """Merge the notes commit ``other`` into ``ref`` (see :func:`traces_git.notes.core.merge_from`
    for the result's shape), under the notes writers' lock."""
    from traces_git.errors import NotesError

    author = author or Signature(*DEFAULT_AUTHOR)
    with _FileLock(lock_path):
        old = ref_value(cwd, ref)
        if old is None:
            result, new = "created", other
        elif _is_ancestor(cwd, other, old):
            return {"result": "up-to-date", "commit": old, "changed": 0}
        elif _is_ancestor(cwd, old, other):
            result, new = "fast-forward", other
        else:
            identity = {
                "GIT_AUTHOR_NAME": author.name,
                "GIT_AUTHOR_EMAIL": author.email,
                "GIT_COMMITTER_NAME": author.name,
                "GIT_COMMITTER_EMAIL": author.email,
            }
            code, _ = gitcmd.fast(
                [*_NO_HOOKS, "notes", f"--ref={ref}", "merge", "-q", "-s", "cat_sort_uniq", other],
                cwd,
                identity,
            )
            merged = ref_value(cwd, ref)
            if code != 0 or merged is None:
                raise NotesError(f"git notes merge of {other[:12]} failed (exit code {code})")
            return {
                "result": "merged",
                "commit": merged,
                "changed": len(_changed_paths(cwd, old, merged)),
            }
        expected = old or "0" * len(other)
        code, _ = gitcmd.fast([*_NO_HOOKS, "update-ref", "-m", message, ref, new, expected], cwd)
        if code != 0:
            raise NotesError(f"{ref} moved while merging; try again")
        return {"result": result, "commit": new, "changed": len(_changed_paths(cwd, old, new))}


def set_ref(cwd: str, ref: str, value: str) -> None:
    """Point ``ref`` at ``value`` (no hooks: our bookkeeping)."""
    gitcmd.fast([*_NO_HOOKS, "update-ref", ref, value], cwd)
