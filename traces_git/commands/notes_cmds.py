"""show, log, attach, detach: read and edit the trace notes of commits."""

from __future__ import annotations

import os

import click

from traces_git import gitcmd, notes
from traces_git.commands.gitargs import GIT_ARGS_SETTINGS, GitArgsCommand, git_args
from traces_git.errors import UsageError
from traces_git.repo import RepoInfo


def _resolve(rev: str) -> str:
    proc = gitcmd.run(["rev-parse", "--verify", "--quiet", "--end-of-options",
                       f"{rev}^{{commit}}"], check=False)
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
        import json

        click.echo(json.dumps({"commit": sha, "traces": [r.as_json() for r in refs]}))
    else:
        _echo_traces(sha, refs)


@click.command("log", cls=GitArgsCommand, context_settings=GIT_ARGS_SETTINGS)
@click.argument("git_log_args", nargs=-1, type=click.UNPROCESSED,
                metavar="[<revision-range>] [-- <path>...]")
@click.option("--untraced", is_flag=True, help="Also list the commits without traces.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {commits: [{sha, subject, traces}], truncated, max_count}.")
@click.option("--no-pager", is_flag=True, help="Do not pipe the output into the pager.")
@click.pass_context
def log_(ctx: click.Context, git_log_args: tuple[str, ...], untraced: bool, as_json: bool,
         no_pager: bool) -> None:
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
    from traces_git import logview, revargs, terminal

    rev = revargs.parse(git_args(ctx, git_log_args), command="log")
    cwd = os.getcwd()
    walk = logview.Walk(cwd, rev, untraced=untraced)
    if as_json:
        import json

        commits = [entry.as_json() for entry in walk.entries()]
        click.echo(json.dumps({"commits": commits, "truncated": walk.truncated,
                               "max_count": rev.max_count}))
        return
    paging = terminal.stdout_is_tty() and not no_pager
    with terminal.output(cwd, use_pager=paging) as stream:
        entries = walk.entries() if rev.reverse else walk
        for entry in entries:
            stream.write(logview.render(entry))
            if not paging:
                stream.flush()


def _author(started: gitcmd.Started | None = None) -> notes.Signature:
    """``traces.notesAuthor`` (``started``: the ``git config`` begun by :func:`_start_author`)."""
    code, out = (started or _start_author()).wait()
    return notes.parse_author(out.decode("utf-8", "replace") if code == 0 else None)


def _start_author() -> gitcmd.Started:
    return gitcmd.start(["config", "--get", "traces.notesAuthor"])


def _attach_edit(trace_id: str, url: str | None):
    def edit(old: str | None) -> str | None:
        base = notes.without_detach(old, trace_id)
        text = base if base is not None else old
        added = notes.with_traces(text, [notes.TraceRef(trace_id, url)])
        return added if added is not None else base

    return edit


def _detach_edit(trace_id: str):
    return lambda old: notes.with_detached(old, trace_id)


def _check_id(trace_id: str, where: str = "") -> None:
    if not notes.is_trace_id(trace_id):
        raise UsageError(f"{where}not a trace ID (letters, digits, - and _ only): {trace_id!r}")


def _edit_one(rev: str, trace_id: str, edit, verb: str) -> tuple[str, bool]:
    """One commit's note, written with git's notes code (no pygit2: a single attach stays
    a few git processes, and works in sha256 repositories)."""
    _check_id(trace_id)
    author = _start_author()  # git reads the config while the next git resolves REV
    repo, sha = _discover_and_resolve(rev)
    cwd = repo.worktree or repo.common_dir
    changed = notes.update_one_with_git(
        cwd, sha, edit,
        message=f"traces-git: {verb} {trace_id} on {sha[:12]}",
        author=_author(author),
        lock_path=f"{repo.common_dir}/traces-git-notes.lock",
        common_dir=repo.common_dir,
    )
    return sha, changed is not None


def _discover_and_resolve(rev: str) -> tuple[RepoInfo, str]:
    """The repository and REV's commit from one ``git rev-parse``."""
    code, out = gitcmd.fast(["rev-parse", "--absolute-git-dir", "--git-common-dir",
                             "--is-bare-repository", "--show-toplevel", "--verify", "--quiet",
                             "--end-of-options", f"{rev}^{{commit}}"])
    lines = out.decode("utf-8", "surrogateescape").split("\n")
    if code != 0 or len(lines) < 5 or lines[2] != "false":
        # A bare repository (no top level), not a repository, or not a commit: one at a time.
        return RepoInfo.discover(), _resolve(rev)
    git_dir, common_dir, _, toplevel, sha = lines[:5]
    base = os.getcwd()
    return (RepoInfo(os.path.realpath(toplevel), git_dir,
                     os.path.normpath(os.path.join(base, common_dir))), sha)


def _edit_many(lines: list[str], verb: str, make_edit) -> tuple[int, int]:
    """``--stdin``: every ``<commit> <id>`` line checked first, then one notes commit."""
    from traces_git import bulk_edits

    entries = bulk_edits.parse_lines(lines, allow_url=verb == "attach")
    repo = RepoInfo.discover()
    cwd = repo.worktree or repo.common_dir
    shas = bulk_edits.resolve(cwd, [entry.rev for entry in entries])
    edits = bulk_edits.combine([(sha, make_edit(entry)) for sha, entry in zip(shas, entries,
                                                                              strict=True)])
    message = f"traces-git: {verb} {len(entries)} trace(s) from --stdin"
    lock_path = f"{repo.common_dir}/traces-git-notes.lock"
    author = _author()
    if len(shas[0]) != 40:
        # pygit2 (libgit2) cannot open a sha256 repository: git's own notes code writes
        # each commit's note (one notes commit per commit, not one for all).
        written = [notes.update_one_with_git(cwd, sha, edit, message=message, author=author,
                                             lock_path=lock_path, common_dir=repo.common_dir)
                   for sha, edit in edits.items()]
        return len(entries), sum(text is not None for text in written)
    changed = notes.update(repo.open(), edits, message=message, author=author,
                           lock_path=lock_path)
    return len(entries), len(changed)


_STDIN_HELP = ("Read one '<commit> <id>' per line from stdin (attach: optionally a URL "
               "after the ID); every line is checked first, then all are written in one "
               "notes commit.")


@click.command()
@click.argument("trace_id", required=False)
@click.argument("rev", default="HEAD")
@click.option("--url", default=None, help="The trace's shared URL, when known.")
@click.option("--stdin", "from_stdin", is_flag=True, help=_STDIN_HELP)
def attach(trace_id: str | None, rev: str, url: str | None, from_stdin: bool) -> None:
    """Attach trace TRACE_ID to commit REV (default HEAD), or many with --stdin."""
    if from_stdin:
        if trace_id is not None or url is not None:
            raise UsageError("--stdin takes the commits and IDs from stdin, not as arguments")
        lines = click.get_text_stream("stdin").read().splitlines()
        total, changed = _edit_many(lines, "attach",
                                    lambda entry: _attach_edit(entry.trace_id, entry.url))
        click.echo(f"attached: {total} line(s), {changed} note(s) changed")
        return
    if trace_id is None:
        raise UsageError("attach needs a TRACE_ID (or --stdin)")
    sha, changed = _edit_one(rev, trace_id, _attach_edit(trace_id, url), "attach")
    click.echo(f"{'attached' if changed else 'already attached'}: {trace_id} to {sha[:12]}")


@click.command()
@click.argument("trace_id", required=False)
@click.argument("rev", default="HEAD")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read one '<commit> <id>' per line from stdin; one notes commit for all.")
def detach(trace_id: str | None, rev: str, from_stdin: bool) -> None:
    """Mark trace TRACE_ID as not part of commit REV (default HEAD), or many with --stdin."""
    if from_stdin:
        if trace_id is not None:
            raise UsageError("--stdin takes the commits and IDs from stdin, not as arguments")
        lines = click.get_text_stream("stdin").read().splitlines()
        total, changed = _edit_many(lines, "detach", lambda entry: _detach_edit(entry.trace_id))
        click.echo(f"detached: {total} line(s), {changed} note(s) changed")
        return
    if trace_id is None:
        raise UsageError("detach needs a TRACE_ID (or --stdin)")
    sha, changed = _edit_one(rev, trace_id, _detach_edit(trace_id), "detach")
    click.echo(f"{'detached' if changed else 'already detached'}: {trace_id} from {sha[:12]}")
