"""The notes under ``refs/notes/traces``: the line format, and safe writes.

Format (shared with the official Traces CLI; parsed and checked in
``note_format``): one line per trace, ``traces:<id>`` or ``traces:<id> <url>``;
``traces-detach:<id>`` hides a trace from a commit. Lines we do not understand
are kept byte for byte.

Writes hold a per-repository file lock and move the ref with a
compare-and-swap, so concurrent writers (ours, or the official CLI's) never
lose a line. libgit2 writes flat notes trees; we keep git's 2/38 fanout so
that a tree of 100,000 notes stays cheap to update.
"""

from __future__ import annotations

import os
import time

from traces_git import procs
from traces_git.constants import NOTES_REF

# The line format and its checks live in note_format (the trust boundary); these
# names stay importable from here.
from traces_git.notes.format import (  # noqa: F401 - re-exported
    MAX_ID_LENGTH,
    NoteLine,
    TraceRef,
    attached,
    count_invalid,
    decode,
    encode,
    is_trace_id,
    is_url,
    parse,
    union,
    with_detached,
    with_traces,
    without_detach,
)

# Imported on the post-commit path: no re, dataclasses, typing or collections
# (together ~20 ms per hook run).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from types import ModuleType
    from typing import Literal, TypeAlias

    import pygit2

DEFAULT_AUTHOR = ("traces-git", "traces-git@users.noreply.traces.com")
_HEX = frozenset("0123456789abcdef")

# A flat level with more notes than this is split into 2-hex-digit subtrees.
FANOUT_THRESHOLD = 256


class _Value:
    """An immutable value object with equality (dataclasses costs ~8 ms to import)."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, *values: object) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={v!r}" for n, v in zip(self.__slots__, self._fields(), strict=True))
        return f"{type(self).__name__}({args})"


# --- reading and writing the notes tree (pygit2) ---------------------------


class NotesConflict(Exception):
    """The notes ref moved under us; the write is retried."""


def _is_hex(name: str) -> bool:
    return all(c in _HEX for c in name)


def _note_paths(
    tree: pygit2.Tree, prefix: str = "", depth: int = 0
) -> Iterable[tuple[str, pygit2.Object]]:
    """(annotated sha, blob entry) for every note in a tree of any fanout."""
    for entry in tree:
        name = entry.name
        if entry.type_str == "tree" and len(name) == 2 and _is_hex(name) and depth < 19:
            yield from _note_paths(entry, prefix + name, depth + 1)
        elif entry.type_str == "blob" and _is_hex(name) and len(prefix + name) in (40, 64):
            yield prefix + name, entry


def read_all(repo: pygit2.Repository, ref: str = NOTES_REF) -> dict[str, str]:
    """Every note in ``ref``: {annotated commit sha: note text}."""
    tree = _notes_tree(repo, ref)
    if tree is None:
        return {}
    notes: dict[str, str] = {}
    for sha, entry in _note_paths(tree):
        text = _blob_text(repo, entry.id)
        notes[sha] = notes[sha] + text if sha in notes else text
    return notes


def read_note(repo: pygit2.Repository, commit: str, ref: str = NOTES_REF) -> str | None:
    """One commit's note text, or None; walks only the fanout path of that sha."""
    tree = _notes_tree(repo, ref)
    if tree is None:
        return None
    return _find(repo, tree, commit.lower())


def _notes_tree(repo: pygit2.Repository, ref: str) -> pygit2.Tree | None:
    """The notes tree of ``ref``; None when there is none, or when the ref is odd (a blob,
    a tree, a missing object: ``notes_check.ref_problem`` says which)."""
    try:
        reference = repo.references.get(ref)
        if reference is None:
            return None
        target = repo.get(reference.resolve().target)
    except Exception:  # noqa: BLE001 - a broken ref reads as "no notes"
        return None
    if target is None or target.type_str != "commit":
        return None
    try:
        return target.tree
    except Exception:  # noqa: BLE001 - its tree missing (a partial clone): as odd as a blob
        return None


def _blob_text(repo: pygit2.Repository, oid: pygit2.Oid) -> str:
    return decode(blob_data(repo, oid))


def blob_data(repo: pygit2.Repository, oid: pygit2.Oid) -> bytes:
    """A note blob's bytes. In a partial clone (``--filter=blob:none``, as CI checkouts
    do) the blob may not be here yet: git fetches it from the promisor remote, pygit2
    cannot."""
    try:
        return repo[oid].data
    except KeyError:
        from traces_git import gitcmd
        from traces_git.errors import NotesError

        proc = gitcmd.run(["cat-file", "blob", str(oid)], repo.path, check=False)
        if proc.returncode != 0:
            raise NotesError(
                f"note {str(oid)[:12]} is missing in this clone (see `git fsck`)"
            ) from None
        return proc.stdout


def _find(repo: pygit2.Repository, tree: pygit2.Tree, sha: str, depth: int = 0) -> str | None:
    texts = []
    rest = sha[2 * depth :]
    if rest in tree:
        entry = tree[rest]
        if entry.type_str == "blob":
            texts.append(_blob_text(repo, entry.id))
    head = rest[:2]
    if len(rest) > 2 and head in tree:
        entry = tree[head]
        if entry.type_str == "tree":
            found = _find(repo, entry, sha, depth + 1)
            if found is not None:
                texts.append(found)
    return "".join(texts) if texts else None


def _pygit2() -> ModuleType:
    import pygit2

    return pygit2


def _tree_put(
    repo: pygit2.Repository,
    tree: pygit2.Tree | None,
    sha: str,
    blob_oid: pygit2.Oid | None,
    depth: int = 0,
) -> pygit2.Oid | None:
    """A new tree id with ``sha``'s note set to ``blob_oid`` (None removes it).

    A copy of the note left flat in a fanned-out level is removed, so each
    commit keeps one note. A new note goes where this level's layout puts it;
    a flat level that grows past FANOUT_THRESHOLD is split into subtrees.
    """
    pygit2 = _pygit2()
    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    rest = sha[2 * depth :]
    head = rest[:2]
    if tree is not None and rest in tree:
        builder.remove(rest)
    fanned = tree is not None and any(
        e.type_str == "tree" and len(e.name) == 2 and _is_hex(e.name) for e in tree
    )
    if fanned:
        assert tree is not None  # fanned: tree has subtrees
        subtree = repo[tree[head].id] if head in tree and tree[head].type_str == "tree" else None
        new_sub = _tree_put(repo, subtree, sha, blob_oid, depth + 1)
        if new_sub is not None:
            builder.insert(head, new_sub, pygit2.GIT_FILEMODE_TREE)
        elif subtree is not None:
            builder.remove(head)
    elif blob_oid is not None:
        builder.insert(rest, blob_oid, pygit2.GIT_FILEMODE_BLOB)
    if len(builder) == 0:
        return None
    new_id = builder.write()
    if not fanned and blob_oid is not None and len(builder) > FANOUT_THRESHOLD and len(rest) > 4:
        return _split(repo, repo[new_id])
    return new_id


def _split(repo: pygit2.Repository, tree: pygit2.Tree) -> pygit2.Oid:
    """Move a flat level's notes into 2-hex-digit subtrees."""
    pygit2 = _pygit2()
    groups: dict[str, list] = {}
    root = repo.TreeBuilder()
    for entry in tree:
        name = entry.name
        if entry.type_str == "blob" and _is_hex(name) and len(name) > 4:
            groups.setdefault(name[:2], []).append(entry)
        else:
            root.insert(name, entry.id, entry.filemode)
    for head, entries in groups.items():
        sub = repo.TreeBuilder()
        if head in tree and tree[head].type_str == "tree":
            sub = repo.TreeBuilder(repo[tree[head].id])
        for entry in entries:
            sub.insert(entry.name[2:], entry.id, entry.filemode)
        root.insert(head, sub.write(), pygit2.GIT_FILEMODE_TREE)
    return root.write()


def fanout_depth(repo: pygit2.Repository, ref: str = NOTES_REF) -> int:
    """How many 2-hex levels the notes tree uses (0 = flat)."""
    tree = _notes_tree(repo, ref)
    depth = 0
    while tree is not None:
        sub = next(
            (e for e in tree if e.type_str == "tree" and len(e.name) == 2 and _is_hex(e.name)),
            None,
        )
        if sub is None:
            break
        depth += 1
        tree = repo[sub.id]
    return depth


Edit: TypeAlias = "Callable[[str | None], str | None]"  # an edit: old note text -> new text or None


class Signature(_Value):
    __slots__ = ("name", "email")
    name: str
    email: str


def parse_author(value: str | None) -> Signature:
    """``Name <email>`` from ``traces.notesAuthor``; the default on anything else."""
    text = (value or "").strip()
    name, bracket, email = text.partition("<")
    name, email = name.strip(), email.removesuffix(">")
    if bracket and name and email and text.endswith(">") and not set(email) & set("<>"):
        return Signature(name, email.strip())
    return Signature(*DEFAULT_AUTHOR)


def update(
    repo: pygit2.Repository,
    edits: Mapping[str, Edit],
    *,
    message: str,
    author: Signature | None = None,
    ref: str = NOTES_REF,
    lock_path: str | os.PathLike[str] | None = None,
    attempts: int = 50,
) -> dict[str, str]:
    """Apply ``edits`` ({commit sha: old text -> new text or None}) in one notes commit.

    Returns {sha: new text} for the notes that changed (empty: nothing written).
    Safe under concurrency: a file lock around the whole read-modify-write,
    and a compare-and-swap of the ref in case a writer outside the lock moved it.
    """
    pygit2 = _pygit2()
    author = author or Signature(*DEFAULT_AUTHOR)
    lock_path = lock_path or os.path.join(repo.path, "traces-git-notes.lock")
    _refuse_odd_ref(repo, ref)
    problem = git_lock_problem(os.path.dirname(os.fspath(lock_path)), ref)
    if problem is not None and problem.blocks:
        from traces_git.errors import NotesBusy

        raise NotesBusy(problem.message)
    with _FileLock(lock_path):
        for attempt in range(attempts):
            try:
                return _update_once(repo, edits, message, author, ref, pygit2)
            except NotesConflict:
                time.sleep(min(0.005 * (attempt + 1), 0.1))
    from traces_git.errors import NotesError

    raise NotesError(f"{ref} kept moving; gave up after {attempts} attempts")


def _update_once(
    repo: pygit2.Repository,
    edits: Mapping[str, Edit],
    message: str,
    author: Signature,
    ref: str,
    pygit2: ModuleType,
) -> dict[str, str]:
    reference = repo.references.get(ref)
    old_commit = repo[reference.target] if reference is not None else None
    tree = old_commit.peel(pygit2.Tree) if old_commit is not None else None
    changed: dict[str, str] = {}
    tree_id = tree.id if tree is not None else None
    for sha, edit in edits.items():
        sha = sha.lower()
        current_tree = repo[tree_id] if tree_id is not None else None
        old_text = _find(repo, current_tree, sha) if current_tree is not None else None
        new_text = edit(old_text)
        if new_text is None or new_text == old_text:
            continue
        blob = repo.create_blob(encode(new_text)) if new_text else None
        tree_id = _tree_put(repo, current_tree, sha, blob)
        changed[sha] = new_text
    if not changed:
        return {}
    if tree_id is None:
        tree_id = repo.TreeBuilder().write()
    now = int(time.time())
    offset = -time.timezone // 60 if not time.localtime().tm_isdst else -time.altzone // 60
    signature = pygit2.Signature(author.name, author.email, now, offset)
    parents = [old_commit.id] if old_commit is not None else []
    new_commit = repo.create_commit(None, signature, signature, message, tree_id, parents)
    try:
        if reference is None:
            repo.references.create(ref, new_commit, force=False)
        else:
            reference.set_target(new_commit, message)
    except (pygit2.GitError, ValueError) as exc:  # AlreadyExistsError is a ValueError
        raise NotesConflict(str(exc)) from exc
    return changed


# The whole budget of one note write (lock included) before it is queued instead.
WRITE_BUDGET_S = 1.0
# Our scratch refs: refs/notes/tmp-traces-git/<pid> (see update_one_with_git).
SCRATCH_PREFIX = "refs/notes/tmp-traces-git/"
# A lock file of git's older than this is nobody's live transaction (git holds a ref
# lock for milliseconds); younger ones get the write budget to go away.
STALE_LOCK_S = 5.0
# A scratch ref of a live pid older than this belongs to a reused pid (a write takes
# well under a second).
SCRATCH_MAX_AGE_S = 600.0


def update_one_with_git(
    cwd: str,
    commit: str,
    edit: Edit,
    *,
    message: str,
    author: Signature | None = None,
    ref: str = NOTES_REF,
    lock_path: str | os.PathLike[str],
    budget_s: float = WRITE_BUDGET_S,
    common_dir: str | None = None,
    known: tuple[str | None, str | None] | None = None,
) -> str | None:
    """:func:`update` for one commit, done with git's own notes code.

    The post-commit hook writes this way: importing pygit2 costs ~60 ms. Git
    processes: ``notes show`` for the old text (unless ``known``), then
    :func:`_notes_commit` (two), then one ``update-ref --stdin`` transaction that
    moves the ref with a compare-and-swap against the value read first. The same
    lock as :func:`update` makes it safe beside every other writer; a writer that
    moved the ref meanwhile makes the swap fail and the edit start again.
    ``common_dir`` lets the first read of the ref skip a git process; ``known`` =
    (ref value, note text) read by the caller (in that order) spares the first
    attempt both reads. Returns the new text, or None if unchanged.

    Never blocks for long: a lock (ours or git's) not had within ``budget_s``, or a
    broken notes ref, raises :class:`~traces_git.errors.NotesBusy` at once; the caller
    queues the edit (:mod:`traces_git.notes.pending`). Scratch refs that dead writers
    left are removed first (:func:`clean_dead_scratch`).
    """
    from traces_git import gitcmd
    from traces_git.errors import NotesBusy, NotesError

    deadline = time.monotonic() + budget_s
    author = author or Signature(*DEFAULT_AUTHOR)
    # Outside refs/notes/traces*, so no fetch or push refspec of ours ever matches it;
    # removed as soon as the real ref moved (git keeps notes under refs/notes/, where a
    # `notes.displayRef = refs/notes/*` would show a lasting one).
    scratch = f"{SCRATCH_PREFIX}{os.getpid()}"
    if common_dir:
        problem = git_lock_problem(common_dir, ref)
        if problem is not None and problem.blocks:
            raise NotesBusy(problem.message)
        clean_dead_scratch(common_dir, cwd)
    with _FileLock(lock_path, timeout=max(deadline - time.monotonic(), 0.0)):
        attempt = 0
        old: str | Literal[False] | None
        try:
            while True:
                if attempt == 0 and known is not None:
                    old, old_text = known
                else:
                    old = _loose_ref(common_dir, ref) if common_dir and attempt == 0 else False
                    if old is False:
                        # update-ref would follow a symbolic ref and move a branch to a
                        # notes commit.
                        symbolic = _symbolic_target(common_dir or _common_dir(cwd), ref)
                        if symbolic:
                            _refuse_symbolic(ref, symbolic)
                        code, out = gitcmd.fast(
                            ["rev-parse", "-q", "--verify", f"{ref}^{{commit}}"], cwd
                        )
                        old = out.decode().strip() if code == 0 else None
                    old_text = None
                    if old:
                        code, out = gitcmd.fast(["notes", f"--ref={ref}", "show", commit], cwd)
                        old_text = decode(out) if code == 0 else None
                new_text = edit(old_text)
                if new_text is None or new_text == old_text:
                    return None
                if not new_text.strip():
                    raise NotesError("removing a note is not supported here")
                new = _notes_commit(cwd, old, commit, new_text, author, scratch, common_dir)
                expected = old or "0" * len(commit)
                # The compare-and-swap alone: a deletion in the same transaction would wait
                # for packed-refs.lock (a stale one makes every such transaction fail).
                script = f"update {ref} {new} {expected}\n".encode()
                code, _ = gitcmd.fast(
                    [*_NO_HOOKS, "update-ref", "-m", message, "--stdin"], cwd, stdin=script
                )
                if code == 0:
                    return new_text
                attempt += 1
                if time.monotonic() >= deadline:
                    problem = git_lock_problem(common_dir, ref, stale_s=0) if common_dir else None
                    raise NotesBusy(
                        problem.message
                        if problem
                        else f"{ref} could not be updated within {budget_s:g} s"
                    )
                time.sleep(min(0.005 * attempt, 0.05))
        finally:
            _drop_scratch(cwd, common_dir, scratch)


class LockProblem(_Value):
    """Something of git's that stops a note write: a lock file left behind, a broken ref."""

    __slots__ = ("path", "kind", "age_s", "blocks", "message", "fix")
    path: str
    kind: str  # "lock" or "broken-ref"
    age_s: float
    blocks: bool  # old enough (or broken) to queue the note at once
    message: str
    fix: str


def git_lock_problem(
    common_dir: str, ref: str = NOTES_REF, stale_s: float = STALE_LOCK_S, *, packed: bool = False
) -> LockProblem | None:
    """The first lock file of git's in the way of moving ``ref`` (its ``.lock``; with
    ``packed``, then ``packed-refs.lock``, which only deletions wait for: our writes do
    not, but the user's ``git branch -d`` and ``git gc`` do), or a ref file that is empty
    or not a sha; None when clear.

    We never delete these: git made them, and only the user can tell that no git
    process of theirs still runs. ``status`` and ``doctor`` show the fix.
    """
    now = time.time()
    for name in (f"{ref}.lock", "packed-refs.lock") if packed else (f"{ref}.lock",):
        path = os.path.join(common_dir, name)
        try:
            age = now - os.stat(path).st_mtime
        except OSError:
            continue
        return LockProblem(
            path,
            "lock",
            age,
            age >= stale_s,
            f"git's lock file {path} is in the way ({age:.0f} s old)",
            f"if no git command is running in this repository: rm '{path}'",
        )
    path = os.path.join(common_dir, ref)
    try:
        with open(path, "rb") as handle:
            value = handle.read(200).strip()
    except OSError:
        return None
    if value.startswith(b"ref: ") or (value and not set(value) - _HEX_BYTES):
        return None
    return LockProblem(
        path,
        "broken-ref",
        0.0,
        True,
        f"the notes ref file {path} is {'empty' if not value else 'not a commit id'}"
        " (a crash truncated it?)",
        f"git reflog show {ref} names its last value: git update-ref {ref} <sha> "
        f"(or rm '{path}' to start the notes afresh)",
    )


_HEX_BYTES = frozenset(b"0123456789abcdef")


def clean_dead_scratch(common_dir: str, cwd: str | None = None) -> list[str]:
    """Remove the scratch refs (and their temp files) of writers that are gone.

    A writer killed between its steps leaves ``refs/notes/tmp-traces-git/<pid>``
    (and maybe its ``.traces-git-tmp`` file or git's ``.lock`` of it): dead when no
    process has that pid, or the one that has it started after the file was written
    (a reused pid), or the file is older than :data:`SCRATCH_MAX_AGE_S`. One
    ``listdir`` when there is nothing to do. Returns the paths removed.
    """
    folder = os.path.join(common_dir, SCRATCH_PREFIX.rstrip("/"))
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    now = time.time()
    me = str(os.getpid())
    for name in names:
        pid_text = name.split(".", 1)[0]
        if pid_text == me:
            continue
        path = os.path.join(folder, name)
        try:
            age = now - os.lstat(path).st_mtime
        except OSError:
            continue
        dead = not pid_text.isdigit() or not procs.writer_alive(int(pid_text), now - age)
        # git's lock of a dead writer's scratch ref: its git child may still be finishing
        if name.endswith(".lock") and age < STALE_LOCK_S:
            continue
        if dead or age > SCRATCH_MAX_AGE_S:
            try:
                os.unlink(path)
                removed.append(path)
            except OSError:
                pass
    return removed


def _drop_scratch(cwd: str, common_dir: str | None, scratch: str) -> None:
    """Remove our scratch ref: its loose file (the files backend), else through git."""
    if common_dir and not os.path.isdir(os.path.join(common_dir, "reftable")):
        try:
            os.unlink(os.path.join(common_dir, scratch))
            return
        except FileNotFoundError:
            return
        except OSError:
            pass
    from traces_git import gitcmd

    gitcmd.fast([*_NO_HOOKS, "-c", "core.packedRefsTimeout=100", "update-ref", "-d", scratch], cwd)


# Our notes bookkeeping is nobody's business: no reference-transaction hook runs for the
# scratch ref nor for the notes ref's move (three hook runs, ~5 ms on every attach; our own
# filter ignores refs/notes/traces anyway).
_NO_HOOKS = ("-c", f"core.hooksPath={os.devnull}")


def _notes_commit(
    cwd: str,
    old: str | None,
    commit: str,
    text: str,
    author: Signature,
    scratch: str,
    common_dir: str | None = None,
) -> str:
    """A new notes commit on ``scratch``: ``old`` plus ``text`` as ``commit``'s note.

    git's own notes code writes it on ``scratch`` (set to ``old``), so the fanout is
    git's and only the touched subtrees are read: O(log n) in the number of notes
    (``fast-import`` counts every note of the tree first: 0.9 s at 100,000). Its
    message is git's own ("Notes added by 'git notes add'"): giving it ours took a
    ``commit-tree`` process on every attach. Returns ``scratch``, a name that
    ``update-ref --stdin`` resolves when it reads the transaction.
    """
    from traces_git import gitcmd
    from traces_git.errors import NotesError

    identity = {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": author.name,
        "GIT_COMMITTER_EMAIL": author.email,
    }
    if old:
        if not (common_dir and _write_loose_scratch(common_dir, scratch, old)):
            gitcmd.fast_out([*_NO_HOOKS, "update-ref", scratch, old], cwd)
    else:
        _drop_scratch(cwd, common_dir, scratch)
    data = encode(text)
    if _stripspace_keeps(text):
        code, _ = gitcmd.fast(
            [*_NO_HOOKS, "notes", f"--ref={scratch}", "add", "-f", "-F", "-", commit],
            cwd,
            identity,
            stdin=data,
        )
    else:
        # `-F` runs git's stripspace (drops a foreign line's CR or trailing blanks, blank
        # lines); `-C` takes the blob as it is. One more process, only for such notes.
        code, out = gitcmd.fast(["hash-object", "-w", "--stdin"], cwd, stdin=data)
        if code == 0:
            code, _ = gitcmd.fast(
                [
                    *_NO_HOOKS,
                    "notes",
                    f"--ref={scratch}",
                    "add",
                    "-f",
                    "-C",
                    out.decode("ascii").strip(),
                    commit,
                ],
                cwd,
                identity,
            )
    if code != 0:
        if old:  # the usual cause: the notes ref names something that is not a commit
            code, out = gitcmd.fast(["cat-file", "-t", old], cwd)
            kind = out.decode("ascii", "replace").strip() if code == 0 else "missing object"
            if kind != "commit":
                raise NotesError(
                    f"{NOTES_REF} points at a {kind}, not a notes commit: "
                    f"nothing written (see `git cat-file -t {NOTES_REF}`)"
                )
        raise NotesError(f"git notes add failed (exit code {code})")
    return scratch


def _stripspace_keeps(text: str) -> bool:
    """Whether git's stripspace leaves ``text`` as it is (every note we write alone)."""
    return text.endswith("\n") and all(
        line and line[-1] not in " \t\r" for line in text[:-1].split("\n")
    )


def _common_dir(cwd: str) -> str | None:
    from traces_git import gitcmd

    code, out = gitcmd.fast(["rev-parse", "--path-format=absolute", "--git-common-dir"], cwd)
    return out.decode("utf-8", "surrogateescape").strip() if code == 0 else None


def _write_loose_scratch(common_dir: str, scratch: str, value: str) -> bool:
    """Point our scratch ref at ``value`` by writing its loose file (False: let git do it).

    One git process less on every attach (~2.5 ms). Only for the files backend, which
    always reads loose refs first: a reftable repository (git 2.45+) has a ``reftable``
    dir and then git writes the ref. The scratch ref is ours alone (per pid, under the
    notes lock) and the same transaction that moves the notes ref deletes it.
    """
    if os.path.isdir(os.path.join(common_dir, "reftable")):
        return False
    path = os.path.join(common_dir, scratch)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.traces-git-tmp"
        with open(tmp, "w", encoding="ascii") as handle:
            handle.write(value + "\n")
        os.replace(tmp, path)
    except OSError:
        return False
    return True


def loose_ref(common_dir: str, ref: str = NOTES_REF) -> str | Literal[False] | None:
    """The value of ``ref`` read from the files (see :func:`_loose_ref`)."""
    return _loose_ref(common_dir, ref)


def _loose_ref(common_dir: str, ref: str) -> str | Literal[False] | None:
    """The sha a loose ref file holds, None when neither it nor packed-refs has the ref,
    False when unsure (symbolic, or anything unexpected): then ask git."""
    try:
        with open(os.path.join(common_dir, ref), "rb") as handle:
            value = handle.read().strip().decode("ascii")
    except FileNotFoundError:
        try:
            with open(os.path.join(common_dir, "packed-refs"), "rb") as handle:
                packed = handle.read()
        except FileNotFoundError:
            return None
        except OSError:
            return False
        return False if f" {ref}\n".encode() in packed else None
    except (OSError, UnicodeDecodeError):
        return False
    return value if value and not (set(value) - _HEX) and len(value) in (40, 64) else False


class _FileLock:
    """An exclusive flock on a file next to the repository (POSIX); a no-op elsewhere.

    The kernel drops a flock when its holder dies, however it dies: a killed writer
    never leaves this lock held. ``timeout`` (seconds): give up with
    :class:`~traces_git.errors.NotesBusy` instead of waiting longer.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float | None = None):
        self.path = os.fspath(path)
        self.timeout = timeout
        self.fd: int | None = None

    def __enter__(self) -> _FileLock:
        try:
            import fcntl
        except ImportError:  # Windows: the compare-and-swap alone protects the ref
            return self
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if self.timeout is None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            return self
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    self.fd = None
                    from traces_git.errors import NotesBusy

                    raise NotesBusy(f"another note writer holds {self.path}") from None
                time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None


# --- merging another clone's notes (cat_sort_uniq, never losing a note) -----


def note_blobs(
    repo: pygit2.Repository, tree: pygit2.Tree | None
) -> dict[str, tuple[pygit2.Oid, ...]]:
    """{annotated sha: blob ids} for a notes tree of any fanout; reads no blob."""
    found: dict[str, tuple[pygit2.Oid, ...]] = {}
    if tree is None:
        return found
    for sha, entry in _note_paths(tree):
        found[sha] = found.get(sha, ()) + (entry.id,)
    return found


def _blobs_text(repo: pygit2.Repository, blobs: tuple[pygit2.Oid, ...]) -> str:
    return "".join(_blob_text(repo, oid) for oid in blobs)


def merge_from(
    repo: pygit2.Repository,
    other: pygit2.Oid | str,
    *,
    message: str,
    author: Signature | None = None,
    ref: str = NOTES_REF,
    lock_path: str | os.PathLike[str] | None = None,
    attempts: int = 50,
) -> dict:
    """Merge the notes commit ``other`` (an oid or hex) into ``ref``.

    Per note, three-way against the merge base: a side that did not change
    the note takes the other side's version; two changed versions are
    unioned line by line (cat_sort_uniq). A note is never removed by a merge,
    whatever the other side did, so no local note can be lost. The result is
    ``other`` itself, or a descendant of it (a two-parent commit), so pushing
    it to where ``other`` came from is a fast-forward.

    Returns {"result": "created"|"up-to-date"|"fast-forward"|"merged",
    "commit": hex, "changed": number of notes that changed locally}.
    Holds the same file lock and compare-and-swap as ``update``.
    """
    pygit2 = _pygit2()
    author = author or Signature(*DEFAULT_AUTHOR)
    lock_path = lock_path or os.path.join(repo.path, "traces-git-notes.lock")
    try:
        other_commit = repo[str(other)].peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        from traces_git.errors import NotesError

        raise NotesError(f"notes commit {str(other)[:12]} is not in this repository") from exc
    _refuse_odd_ref(repo, ref)
    problem = git_lock_problem(os.path.dirname(os.fspath(lock_path)), ref)
    if problem is not None and problem.blocks:  # (it runs inside `git fetch`'s hook)
        from traces_git.errors import NotesBusy

        raise NotesBusy(problem.message)
    with _FileLock(lock_path):
        for attempt in range(attempts):
            try:
                return _merge_once(repo, other_commit, message, author, ref, pygit2)
            except NotesConflict:
                time.sleep(min(0.005 * (attempt + 1), 0.1))
    from traces_git.errors import NotesError

    raise NotesError(f"{ref} kept moving; gave up after {attempts} attempts")


def _refuse_odd_ref(repo: pygit2.Repository, ref: str) -> None:
    """A NotesError when ``ref`` exists but is not a commit (a blob, a tree, missing)."""
    try:
        reference = repo.references.get(ref)
    except Exception:  # noqa: BLE001 - unreadable: the write's own checks answer
        return
    if reference is not None and isinstance(reference.target, str):
        _refuse_symbolic(ref, reference.target)  # even to a ref that does not exist
    try:
        target = repo.get(reference.resolve().target) if reference is not None else None
    except Exception:  # noqa: BLE001 - unreadable: the write's own checks answer
        return
    if reference is not None and (target is None or target.type_str != "commit"):
        from traces_git.errors import NotesError

        what = f"a {target.type_str}" if target is not None else "a missing object"
        raise NotesError(
            f"{ref} points at {what}, not a notes commit: nothing written "
            f"(see `git cat-file -t {ref}`)"
        )


def _refuse_symbolic(ref: str, to: str) -> None:
    """A NotesError: writing through a symbolic notes ref would move what it points at
    (a branch, another tool's notes)."""
    from traces_git.errors import NotesError

    raise NotesError(f"{ref} is a symbolic ref (to {to}), not a notes commit: nothing written")


def _symbolic_target(common_dir: str | None, ref: str) -> str | None:
    """Where ``ref`` points when its file is a symbolic ref (files backend), else None."""
    if not common_dir:
        return None
    try:
        with open(os.path.join(common_dir, ref), "rb") as handle:
            value = handle.read(1024)
    except OSError:
        return None
    if not value.startswith(b"ref:"):
        return None
    return value[4:].strip().decode("utf-8", "replace")


def _is_ancestor(repo: pygit2.Repository, ancestor: pygit2.Oid, descendant: pygit2.Oid) -> bool:
    try:
        return ancestor == descendant or repo.descendant_of(descendant, ancestor)
    except Exception:  # noqa: BLE001 - a shallow history reads as "not known to be"
        return False


def _move_ref(
    repo: pygit2.Repository,
    reference: pygit2.Reference | None,
    ref: str,
    target: pygit2.Oid,
    log_message: str,
    pygit2: ModuleType,
) -> None:
    try:
        if reference is None:
            repo.references.create(ref, target, force=False)
        else:
            reference.set_target(target, log_message)
    except (pygit2.GitError, ValueError) as exc:
        raise NotesConflict(str(exc)) from exc


def _merge_once(
    repo: pygit2.Repository,
    theirs: pygit2.Commit,
    message: str,
    author: Signature,
    ref: str,
    pygit2: ModuleType,
) -> dict:
    reference = repo.references.get(ref)
    if reference is None:
        _move_ref(repo, None, ref, theirs.id, message, pygit2)
        changed = len(note_blobs(repo, theirs.tree))
        return {"result": "created", "commit": str(theirs.id), "changed": changed}
    ours = repo[reference.target].peel(pygit2.Commit)
    if _is_ancestor(repo, theirs.id, ours.id):
        return {"result": "up-to-date", "commit": str(ours.id), "changed": 0}
    ours_map = note_blobs(repo, ours.tree)
    theirs_map = note_blobs(repo, theirs.tree)
    if _is_ancestor(repo, ours.id, theirs.id):
        _move_ref(repo, reference, ref, theirs.id, message, pygit2)
        changed = sum(1 for sha, blobs in theirs_map.items() if ours_map.get(sha) != blobs)
        return {"result": "fast-forward", "commit": str(theirs.id), "changed": changed}
    try:
        base_id = repo.merge_base(ours.id, theirs.id)
    except Exception:  # noqa: BLE001 - shallow notes history: merge without a base
        base_id = None
    base_map = note_blobs(repo, repo[base_id].peel(pygit2.Tree)) if base_id is not None else {}

    # The merged note per sha, as blob ids (kept) or as new text.
    merged: dict[str, tuple | str] = dict(ours_map)
    for sha, their_blobs in theirs_map.items():
        our_blobs = ours_map.get(sha)
        if our_blobs == their_blobs:
            continue
        base_blobs = base_map.get(sha)
        if our_blobs is None or our_blobs == base_blobs:
            merged[sha] = their_blobs
        elif their_blobs == base_blobs:
            continue
        else:
            ours_text = _blobs_text(repo, our_blobs)
            text = union(ours_text, _blobs_text(repo, their_blobs))
            if text != ours_text:
                merged[sha] = text
    # Edit whichever side's tree needs fewer changes (a first fetch of a big
    # remote into a clone with a few local notes starts from theirs).
    vs_ours = {sha: v for sha, v in merged.items() if ours_map.get(sha) != v}
    vs_theirs = {sha: v for sha, v in merged.items() if theirs_map.get(sha) != v}
    start, edits = (ours, vs_ours) if len(vs_ours) <= len(vs_theirs) else (theirs, vs_theirs)
    tree_id = start.tree.id
    for sha, value in edits.items():
        if isinstance(value, str):
            blob = repo.create_blob(encode(value))
        else:
            if len(value) > 1:  # one note stored twice (mixed fanout): write it once
                blob = repo.create_blob(encode(_blobs_text(repo, value)))
            else:
                blob = value[0]
        tree_id = _tree_put(repo, repo[tree_id], sha, blob)
        if tree_id is None:
            tree_id = repo.TreeBuilder().write()
    now = int(time.time())
    offset = -time.timezone // 60 if not time.localtime().tm_isdst else -time.altzone // 60
    signature = pygit2.Signature(author.name, author.email, now, offset)
    commit = repo.create_commit(None, signature, signature, message, tree_id, [ours.id, theirs.id])
    _move_ref(repo, reference, ref, commit, message, pygit2)
    return {"result": "merged", "commit": str(commit), "changed": len(vs_ours)}


def unpushed(repo: pygit2.Repository, remote_ref: str, ref: str = NOTES_REF) -> list[str]:
    """Shas whose local note differs from (or is missing in) ``remote_ref``'s notes."""
    local = _notes_tree(repo, ref)
    if local is None:
        return []
    remote = _notes_tree(repo, remote_ref)
    if remote is not None and local.id == remote.id:
        return []
    theirs = note_blobs(repo, remote)
    return sorted(sha for sha, blobs in note_blobs(repo, local).items() if theirs.get(sha) != blobs)
