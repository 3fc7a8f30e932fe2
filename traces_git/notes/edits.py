"""attach and detach: one commit's note, or many from ``--stdin`` (no click here, so the
fast path in ``traces_git.__main__`` runs them without the CLI framework)."""

from __future__ import annotations

import os

from traces_git import gitcmd
from traces_git.errors import UsageError
from traces_git.notes import core as notes
from traces_git.repo import RepoInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from traces_git.notes.bulk import BulkEntry


def resolve(rev: str) -> str:
    proc = gitcmd.run(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], check=False
    )
    if proc.returncode != 0:
        raise UsageError(f"not a commit: {rev}")
    return proc.stdout.decode().strip()


def _author(started: gitcmd.Started | None = None) -> notes.Signature:
    """``traces.notesAuthor`` (``started``: the ``git config`` begun by :func:`_start_author`)."""
    code, out = (started or _start_author()).wait()
    return notes.parse_author(out.decode("utf-8", "replace") if code == 0 else None)


def _start_author() -> gitcmd.Started:
    return gitcmd.start(["config", "--get", "traces.notesAuthor"])


def attach_edit(trace_id: str, url: str | None) -> notes.Edit:
    def edit(old: str | None) -> str | None:
        base = notes.without_detach(old, trace_id)
        text = base if base is not None else old
        added = notes.with_traces(text, [notes.TraceRef(trace_id, url)])
        return added if added is not None else base

    return edit


def detach_edit(trace_id: str) -> notes.Edit:
    return lambda old: notes.with_detached(old, trace_id)


def shown(value: str) -> str:
    """A user's value in a one-line message: control characters escaped, long ones cut."""
    text = repr(value[:60])
    return text + f" ... ({len(value)} characters)" if len(value) > 60 else text


def check_id(trace_id: str, where: str = "") -> None:
    if not notes.is_trace_id(trace_id):
        raise UsageError(
            f"{where}not a trace ID (1 to {notes.MAX_ID_LENGTH} letters, digits, - and _): "
            f"{shown(trace_id)}"
        )


def edit_one(rev: str, op: str, trace_id: str, url: str | None = None) -> tuple[str, str]:
    """One operation on one commit's note, written with git's notes code (no pygit2: a
    single attach stays a few git processes, and works in sha256 repositories); queued
    durably when the notes ref is busy (:mod:`traces_git.notes.pending`).
    Returns (commit, "changed" | "unchanged" | "queued: <reason>")."""
    from traces_git.errors import NotesBusy
    from traces_git.notes import pending as pending_notes

    check_id(trace_id)
    author = _start_author()  # git reads the config while the next git resolves REV
    repo, sha = _discover_and_resolve(rev)
    cwd = repo.worktree or repo.common_dir
    ops = [(op, trace_id, url)]
    try:
        changed = notes.update_one_with_git(
            cwd,
            sha,
            pending_notes.edit_for(ops),
            message=f"traces-git: {op} {trace_id} on {sha[:12]}",
            author=_author(author),
            lock_path=f"{repo.common_dir}/traces-git-notes.lock",
            common_dir=repo.common_dir,
        )
    except NotesBusy as exc:
        pending_notes.enqueue(repo.common_dir, sha, ops, str(exc))
        return sha, f"queued: {exc}"
    if pending_notes.has_pending(repo.common_dir):
        from traces_git.config import Config

        pending_notes.drain(repo, Config.load(cwd))
    return sha, "changed" if changed is not None else "unchanged"


def _said(state: str, done: str, already: str, what: str) -> str:
    if state.startswith("queued"):
        return (
            f"{done} (queued; written by the next commit or `traces-git sync`, "
            f"{state.removeprefix('queued: ')}): {what}"
        )
    return f"{done if state == 'changed' else already}: {what}"


def _discover_and_resolve(rev: str) -> tuple[RepoInfo, str]:
    """The repository and REV's commit from one ``git rev-parse``."""
    code, out = gitcmd.fast(
        [
            "rev-parse",
            "--absolute-git-dir",
            "--git-common-dir",
            "--is-bare-repository",
            "--show-toplevel",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{rev}^{{commit}}",
        ]
    )
    lines = out.decode("utf-8", "surrogateescape").split("\n")
    if code != 0 or len(lines) < 5 or lines[2] != "false":
        # A bare repository (no top level), not a repository, or not a commit: one at a time.
        return RepoInfo.discover(), resolve(rev)
    git_dir, common_dir, _, toplevel, sha = lines[:5]
    base = os.getcwd()
    return (
        RepoInfo(
            os.path.realpath(toplevel), git_dir, os.path.normpath(os.path.join(base, common_dir))
        ),
        sha,
    )


def edit_many(
    lines: list[str], verb: str, make_edit: Callable[[BulkEntry], notes.Edit]
) -> tuple[int, int]:
    """``--stdin``: every ``<commit> <id>`` line checked first, then one notes commit."""
    from traces_git.notes import bulk as bulk_edits

    entries = bulk_edits.parse_lines(lines, allow_url=verb == "attach")
    repo = RepoInfo.discover()
    cwd = repo.worktree or repo.common_dir
    shas = bulk_edits.resolve(cwd, [entry.rev for entry in entries])
    edits = bulk_edits.combine(
        [(sha, make_edit(entry)) for sha, entry in zip(shas, entries, strict=True)]
    )
    message = f"traces-git: {verb} {len(entries)} trace(s) from --stdin"
    lock_path = f"{repo.common_dir}/traces-git-notes.lock"
    author = _author()
    if len(shas[0]) != 40:
        # pygit2 (libgit2) cannot open a sha256 repository: git's own notes code writes
        # each commit's note (one notes commit per commit, not one for all).
        written = [
            notes.update_one_with_git(
                cwd,
                sha,
                edit,
                message=message,
                author=author,
                lock_path=lock_path,
                common_dir=repo.common_dir,
            )
            for sha, edit in edits.items()
        ]
        return len(entries), sum(text is not None for text in written)
    changed = notes.update(repo.open(), edits, message=message, author=author, lock_path=lock_path)
    return len(entries), len(changed)


def attach_one(trace_id: str, rev: str = "HEAD", url: str | None = None) -> str:
    """Attach and say what happened (the line ``traces-git attach`` prints). A ``url``
    that fails the note format's check is dropped with one warning; the ID is written."""
    if url is not None and not notes.is_url(url):
        import sys

        from traces_git import safe_text
        from traces_git.urls import strip_credentials_in

        # Dropped for its user:token@ maybe: never echo the token.
        sys.stderr.write(
            "traces-git: warning: --url dropped, not an absolute http(s) URL "
            "without spaces, controls or credentials: "
            f"{safe_text.for_terminal(strip_credentials_in(url), 200)}\n"
        )
        url = None
    sha, state = edit_one(rev, "attach", trace_id, url)
    return _said(state, "attached", "already attached", f"{trace_id} to {sha[:12]}")


def detach_one(trace_id: str, rev: str = "HEAD") -> str:
    sha, state = edit_one(rev, "detach", trace_id)
    return _said(state, "detached", "already detached", f"{trace_id} from {sha[:12]}")


def attach_many(lines: list[str]) -> str:
    total, changed = edit_many(
        lines, "attach", lambda entry: attach_edit(entry.trace_id, entry.url)
    )
    return f"attached: {total} line(s), {changed} note(s) changed"


def detach_many(lines: list[str]) -> str:
    total, changed = edit_many(lines, "detach", lambda entry: detach_edit(entry.trace_id))
    return f"detached: {total} line(s), {changed} note(s) changed"
