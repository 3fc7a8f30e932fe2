"""show, log, attach, detach: read and edit the trace notes of commits."""

from __future__ import annotations

import json

import click

from traces_git import gitcmd, safe_text
from traces_git.config import Config
from traces_git.errors import UsageError
from traces_git.notes import core as notes
from traces_git.repo import RepoInfo


def _resolve(rev: str) -> str:
    proc = gitcmd.run(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], check=False)
    if proc.returncode != 0:
        raise UsageError(f"not a commit: {rev}")
    return proc.stdout.decode().strip()


def _echo_traces(sha: str, refs: list[notes.TraceRef]) -> None:
    if not refs:
        click.echo(f"{sha[:12]}  (no traces)")
        return
    for ref in refs:
        click.echo(f"{sha[:12]}  {ref.id}" + (f"  {ref.url}" if ref.url else ""))


@click.command()
@click.argument("rev", default="HEAD")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {commit, traces: [{id, url}]}.")
def show(rev: str, as_json: bool) -> None:
    """Show the traces attached to one commit (default HEAD)."""
    from traces_git.notes import git as notes_git

    repo = RepoInfo.discover()
    sha = _resolve(rev)
    # git's own notes code: one process, any object format (pygit2 would cost ~60 ms)
    refs = notes.attached(notes_git.read_note(repo.worktree or repo.common_dir, sha))
    if as_json:
        click.echo(json.dumps({"commit": sha, "traces": [r.as_json() for r in refs]}))
    else:
        _echo_traces(sha, refs)


@click.command("log")
@click.argument("revision_range", default="HEAD")
@click.option("-n", "--max-count", default=20, show_default=True, help="Commits to walk.")
@click.option("--all", "include_empty", is_flag=True, help="Also list commits without traces.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON: {commits: [{sha, subject, traces}]}."
)
def log_(revision_range: str, max_count: int, include_empty: bool, as_json: bool) -> None:
    """List commits in REVISION_RANGE (git log syntax) with their traces."""
    repo = RepoInfo.discover()
    proc = gitcmd.run(
        ["log", "-z", f"--max-count={max_count}", "--format=%H%x00%s", revision_range, "--"],
        check=False,
    )
    if proc.returncode != 0:
        raise UsageError(f"bad revision range: {revision_range}")
    fields = proc.stdout.decode("utf-8", "replace").split("\0")
    pygit_repo = repo.open()
    all_notes = notes.read_all(pygit_repo)
    commits = []
    for sha, subject in zip(fields[0::2], fields[1::2], strict=False):
        sha = sha.strip()
        if not sha:
            continue
        refs = notes.attached(all_notes.get(sha))
        if refs or include_empty:
            commits.append({"sha": sha, "subject": safe_text.bounded(subject),
                            "traces": [r.as_json() for r in refs]})
    if as_json:
        click.echo(json.dumps({"commits": commits}))
        return
    for commit in commits:
        click.echo(f"{commit['sha'][:12]} {safe_text.for_terminal(commit['subject'])}")
        for trace in commit["traces"]:
            click.echo(f"    {trace['id']}" + (f"  {trace['url']}" if trace["url"] else ""))


def _edit(rev: str, op: str, trace_id: str, url: str | None = None) -> tuple[str, str]:
    """Apply one note operation (see :mod:`traces_git.notes.pending`) to REV's note with
    git's own notes code (any object format); queued when the notes ref is busy.
    Returns (commit, "changed" | "unchanged" | "queued: <reason>")."""
    from traces_git.errors import NotesBusy
    from traces_git.notes import pending as pending_notes

    if not notes.is_trace_id(trace_id):
        raise UsageError(
            f"not a trace ID (1 to {notes.MAX_ID_LENGTH} letters, digits, - and _): "
            f"{_shown(trace_id)}"
        )
    repo = RepoInfo.discover()
    sha = _resolve(rev)
    config = Config.load()
    ops = [(op, trace_id, url)]
    try:
        changed = notes.update_one_with_git(
            repo.worktree or repo.common_dir,
            sha,
            pending_notes.edit_for(ops),
            message=f"traces-git: {op} {trace_id} on {sha[:12]}",
            author=notes.parse_author(config.get("traces.notesAuthor")),
            lock_path=f"{repo.common_dir}/traces-git-notes.lock",
            common_dir=repo.common_dir,
        )
    except NotesBusy as exc:
        pending_notes.enqueue(repo.common_dir, sha, ops, str(exc))
        return sha, f"queued: {exc}"
    if pending_notes.has_pending(repo.common_dir):
        pending_notes.drain(repo, config)
    return sha, "changed" if changed is not None else "unchanged"


def _shown(value: str) -> str:
    """A user's value in a one-line message: control characters escaped, long ones cut."""
    text = repr(value[:60])
    return text + f" ... ({len(value)} characters)" if len(value) > 60 else text


def _said(state: str, done: str, already: str, what: str) -> str:
    if state.startswith("queued"):
        return (f"{done} (queued; written by the next commit or `traces-git sync`, "
                f"{state.removeprefix('queued: ')}): {what}")
    return f"{done if state == 'changed' else already}: {what}"


@click.command()
@click.argument("trace_id")
@click.argument("rev", default="HEAD")
@click.option("--url", default=None, help="The trace's shared URL, when known.")
def attach(trace_id: str, rev: str, url: str | None) -> None:
    """Attach trace TRACE_ID to commit REV (default HEAD)."""
    if url is not None and not notes.is_url(url):
        click.echo(f"traces-git: warning: --url dropped, not an absolute http(s) URL "
                   f"without spaces, controls or credentials: {safe_text.for_terminal(url, 200)}",
                   err=True)
        url = None
    sha, state = _edit(rev, "attach", trace_id, url)
    click.echo(_said(state, "attached", "already attached", f"{trace_id} to {sha[:12]}"))


@click.command()
@click.argument("trace_id")
@click.argument("rev", default="HEAD")
def detach(trace_id: str, rev: str) -> None:
    """Mark trace TRACE_ID as not part of commit REV (default HEAD)."""
    sha, state = _edit(rev, "detach", trace_id)
    click.echo(_said(state, "detached", "already detached", f"{trace_id} from {sha[:12]}"))
