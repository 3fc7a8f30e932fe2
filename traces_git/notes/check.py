"""Odd notes refs: what a notes ref holds when it is not a notes tree we can read.

A remote's ``refs/notes/traces`` may point at a blob, a tree, an object the
clone lacks, or a notes commit whose tree holds entries that are not notes
(a directory that is not 2/38 fanout, a file that is not named by a sha).
:func:`ref_problem` says so in one line; readers skip such a ref (or the odd
entries), ``ci`` warns and reports from what it can read, ``sync`` refuses to
merge it, and ``status``/``doctor`` show it with the count of note lines that
look like ours but fail the checks of :mod:`traces_git.notes.format`.
"""

from __future__ import annotations

from traces_git.notes import format as note_format

TYPE_CHECKING = False
if TYPE_CHECKING:
    import pygit2

_HEX = frozenset("0123456789abcdef")
# status reads at most this many notes to count invalid lines (a big tree costs seconds).
MAX_NOTES_COUNTED = 20_000


def _is_hex(name: str) -> bool:
    return bool(name) and all(c in _HEX for c in name)


def odd_entries(
    repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = "", depth: int = 0
) -> int:
    """How many entries of a notes tree (any fanout) are neither a note nor a fanout level."""
    odd = 0
    for entry in tree:
        name = entry.name
        if entry.type_str == "tree" and len(name) == 2 and _is_hex(name) and depth < 19:
            odd += odd_entries(repo, repo[entry.id], prefix + name, depth + 1)
        elif not (entry.type_str == "blob" and _is_hex(name) and len(prefix + name) in (40, 64)):
            odd += 1
    return odd


class RefProblem:
    """Why a notes ref is odd, in one line; ``whole``: the ref is skipped (not only some
    entries of its tree)."""

    __slots__ = ("message", "whole")

    def __init__(self, message: str, whole: bool) -> None:
        self.message = message
        self.whole = whole

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"RefProblem({self.message!r}, whole={self.whole})"


def object_problem(repo: pygit2.Repository, oid: pygit2.Oid | str, what: str) -> RefProblem | None:
    """Why ``oid`` (what ``what`` points at) is not a notes commit we can read whole."""
    import pygit2

    try:
        obj = repo.get(str(oid))
    except (ValueError, pygit2.GitError):
        obj = None
    if obj is None:
        return RefProblem(
            f"{what} points at {str(oid)[:12]}, an object this clone does not have", True
        )
    if obj.type_str != "commit":
        return RefProblem(f"{what} points at a {obj.type_str}, not a notes commit", True)
    try:
        odd = odd_entries(repo, obj.tree)
    except (KeyError, ValueError, pygit2.GitError):
        return RefProblem(f"{what}: its notes tree is incomplete in this clone", True)
    if odd:
        entries = "entry" if odd == 1 else "entries"
        return RefProblem(f"{what} holds {odd} tree {entries} that are not notes", False)
    return None


def ref_problem(repo: pygit2.Repository, ref: str) -> RefProblem | None:
    """Why ``ref`` exists but is not a notes commit we can read whole; None when fine."""
    try:
        reference = repo.references.get(ref)
        if reference is None:
            return None
        target = reference.resolve().target
    except Exception:  # noqa: BLE001 - a symbolic ref to nowhere, a broken ref file
        return RefProblem(f"{ref} cannot be resolved", True)
    return object_problem(repo, target, ref)


def invalid_lines(
    repo: pygit2.Repository, ref: str, limit: int = MAX_NOTES_COUNTED
) -> tuple[int, int, int]:
    """(invalid lines, notes read, notes in all) over ``ref``'s notes (at most ``limit`` read)."""
    from traces_git.notes import core as notes

    tree = notes._notes_tree(repo, ref)
    if tree is None:
        return 0, 0, 0
    blobs = notes.note_blobs(repo, tree)
    invalid = read = 0
    for ids in blobs.values():
        if read >= limit:
            break
        read += 1
        for oid in ids:
            blob = repo.get(oid)
            if blob is None:  # a partial clone's note not fetched yet: status stays offline
                continue
            invalid += note_format.count_invalid(note_format.decode(blob.data))
    return invalid, read, len(blobs)
