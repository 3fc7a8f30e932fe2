"""show, log, attach, detach: read and edit the trace notes of commits."""

from __future__ import annotations

import json

import click

from traces_git import gitcmd, safe_text
from traces_git.config import Config
from traces_git.errors import UsageError
from traces_git.notes import core as notes
from traces_git.repo import RepoInfo
from traces_git.urls import strip_credentials_in


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
    repo = RepoInfo.discover()
    sha = _resolve(rev)
    refs = notes.attached(notes.read_note(repo.open(), sha))
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


def _edit(rev: str, trace_id: str, edit, verb: str) -> tuple[str, bool]:
    if not notes.is_trace_id(trace_id):
        raise UsageError(f"not a trace ID (letters, digits, - and _ only): {trace_id!r}")
    repo = RepoInfo.discover()
    sha = _resolve(rev)
    config = Config.load()
    changed = notes.update(
        repo.open(),
        {sha: edit},
        message=f"traces-git: {verb} {trace_id} on {sha[:12]}",
        author=notes.parse_author(config.get("traces.notesAuthor")),
        lock_path=f"{repo.common_dir}/traces-git-notes.lock",
    )
    return sha, bool(changed)


@click.command()
@click.argument("trace_id")
@click.argument("rev", default="HEAD")
@click.option("--url", default=None, help="The trace's shared URL, when known.")
def attach(trace_id: str, rev: str, url: str | None) -> None:
    """Attach trace TRACE_ID to commit REV (default HEAD)."""
    if url is not None and not notes.is_url(url):
        click.echo(f"traces-git: warning: --url dropped, not an absolute http(s) URL "
                   "without spaces, controls or credentials: "
                   f"{safe_text.for_terminal(strip_credentials_in(url), 200)}",
                   err=True)
        url = None

    def edit(old: str | None) -> str | None:
        base = notes.without_detach(old, trace_id)
        text = base if base is not None else old
        added = notes.with_traces(text, [notes.TraceRef(trace_id, url)])
        return added if added is not None else base

    sha, changed = _edit(rev, trace_id, edit, "attach")
    click.echo(f"{'attached' if changed else 'already attached'}: {trace_id} to {sha[:12]}")


@click.command()
@click.argument("trace_id")
@click.argument("rev", default="HEAD")
def detach(trace_id: str, rev: str) -> None:
    """Mark trace TRACE_ID as not part of commit REV (default HEAD)."""
    sha, changed = _edit(rev, trace_id, lambda old: notes.with_detached(old, trace_id), "detach")
    click.echo(f"{'detached' if changed else 'already detached'}: {trace_id} from {sha[:12]}")
