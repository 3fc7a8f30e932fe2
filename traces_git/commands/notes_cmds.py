"""show, log, attach, detach: read and edit the trace notes of commits."""

from __future__ import annotations

import click

from traces_git.commands.gitargs import GIT_ARGS_SETTINGS, GitArgsCommand, git_args
from traces_git.errors import UsageError
from traces_git.notes import core as notes
from traces_git.repo import RepoInfo


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
    from traces_git.notes import batch as notes_batch
    from traces_git.notes import edits as note_edits

    repo = RepoInfo.discover()
    sha = note_edits.resolve(rev)
    texts = notes_batch.read_for_view(repo.worktree or repo.common_dir, [sha])
    refs = notes.attached(texts.get(sha))
    if as_json:
        import json

        click.echo(json.dumps({"commit": sha, "traces": [r.as_json() for r in refs]}))
    else:
        _echo_traces(sha, refs)


@click.command("log", cls=GitArgsCommand, context_settings=GIT_ARGS_SETTINGS)
@click.argument(
    "git_log_args", nargs=-1, type=click.UNPROCESSED, metavar="[<revision-range>] [-- <path>...]"
)
@click.option("--untraced", is_flag=True, help="Also list the commits without traces.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: {commits: [{sha, subject, traces}], truncated, max_count}.",
)
@click.option("--no-pager", is_flag=True, help="Do not pipe the output into the pager.")
@click.pass_context
def log_(
    ctx: click.Context, git_log_args: tuple[str, ...], untraced: bool, as_json: bool, no_pager: bool
) -> None:
    """List the commits git log would list that have traces, with their traces.

    \b
    Takes git log's revision syntax with git's meaning: revisions and ranges
    (A..B, A...B, ^A), --all, --branches[=GLOB], --tags, --remotes, --since,
    --until, --author, --grep, --first-parent, --no-merges, paths after --.
    -n/--max-count, --skip and --reverse count the commits listed (those with
    traces, or all with --untraced), as git counts after --grep. Paged like
    git log when stdout is a terminal; --json lists everything asked for and
    says "truncated": true when -n left matching commits out.
    """
    from traces_git.views import log as logview

    logview.show(git_args(ctx, git_log_args), untraced=untraced, as_json=as_json, no_pager=no_pager)


_STDIN_HELP = (
    "Read one '<commit> <id>' per line from stdin (attach: optionally a URL "
    "after the ID); every line is checked first, then all are written in one "
    "notes commit."
)


@click.command()
@click.argument("trace_id", required=False)
@click.argument("rev", default="HEAD")
@click.option("--url", default=None, help="The trace's shared URL, when known.")
@click.option("--stdin", "from_stdin", is_flag=True, help=_STDIN_HELP)
def attach(trace_id: str | None, rev: str, url: str | None, from_stdin: bool) -> None:
    """Attach trace TRACE_ID to commit REV (default HEAD), or many with --stdin."""
    from traces_git.notes import edits as note_edits

    if from_stdin:
        if trace_id is not None or url is not None:
            raise UsageError("--stdin takes the commits and IDs from stdin, not as arguments")
        # click 8.5 deprecated get_text_stream: its module __getattr__ types it as object
        stdin = click.get_text_stream("stdin")  # type: ignore[operator]
        click.echo(note_edits.attach_many(stdin.read().splitlines()))
        return
    if trace_id is None:
        raise UsageError("attach needs a TRACE_ID (or --stdin)")
    click.echo(note_edits.attach_one(trace_id, rev, url))


@click.command()
@click.argument("trace_id", required=False)
@click.argument("rev", default="HEAD")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Read one '<commit> <id>' per line from stdin; one notes commit for all.",
)
def detach(trace_id: str | None, rev: str, from_stdin: bool) -> None:
    """Mark trace TRACE_ID as not part of commit REV (default HEAD), or many with --stdin."""
    from traces_git.notes import edits as note_edits

    if from_stdin:
        if trace_id is not None:
            raise UsageError("--stdin takes the commits and IDs from stdin, not as arguments")
        # click 8.5 deprecated get_text_stream: its module __getattr__ types it as object
        stdin = click.get_text_stream("stdin")  # type: ignore[operator]
        click.echo(note_edits.detach_many(stdin.read().splitlines()))
        return
    if trace_id is None:
        raise UsageError("detach needs a TRACE_ID (or --stdin)")
    click.echo(note_edits.detach_one(trace_id, rev))
