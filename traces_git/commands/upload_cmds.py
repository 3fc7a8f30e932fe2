"""``traces-git upload``, ``login`` and ``logout``."""

from __future__ import annotations

import json
import os
import sys

import click

from traces_git.errors import TracesGitError, UsageError


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def _queue_all_in_repo() -> int:
    """Queue every trace attached in this repository's notes that has no URL yet."""
    from traces_git.config import Config
    from traces_git.notes import core as notes
    from traces_git.repo import RepoInfo
    from traces_git.upload import handoff as upload
    from traces_git.upload import queue as q

    repo = RepoInfo.discover()
    config = Config.load(repo.worktree or repo.common_dir)
    if not upload.upload_enabled(config):
        raise UsageError("uploads are disabled here (git config traces.upload is false)")
    queued = 0
    branch = upload._branch(repo.git_dir)
    for commit, text in notes.read_all(repo.open()).items():
        for ref in notes.attached(text):
            if ref.url:
                continue
            q.enqueue(
                q.Entry(
                    trace_id=ref.id,
                    common_dir=os.path.realpath(repo.common_dir),
                    worktree=repo.worktree,
                    commit=commit,
                    branch=branch,
                )
            )
            queued += 1
    return queued


def _dry_run(trace_id: str, as_json: bool) -> int:
    from traces_git.config import Config
    from traces_git.repo import RepoInfo
    from traces_git.upload import preview

    repo = RepoInfo.discover()
    config = Config.load(repo.worktree or repo.common_dir)
    plan = preview.preview(repo, config, trace_id)
    if as_json:
        _echo_json(plan)
        return 0
    if plan["action"] != "publish":
        click.echo(f"{trace_id} would not be sent: {plan['reason']}")
        if not plan["requests"]:
            return 0
        click.echo("with a destination, these requests would be sent (redacted):")
    else:
        dest = plan["destination"]
        where = (
            f"@{dest['namespace']['slug']}" if dest.get("namespace") else "the API key's default"
        )
        click.echo(f"{trace_id} would go to {where} ({dest['visibility']}; from {dest['source']})")
    for request in plan["requests"]:
        click.echo(f"{request['method']} {request['path']}")
        click.echo(json.dumps(request["body"], indent=2, ensure_ascii=False))
    return 0


def _wait_for_worker(timeout: float = 600.0) -> None:
    """Wait for a running background worker, with a progress line on stderr."""
    import time

    from traces_git.upload import queue as q

    pid = q.worker_pid()
    if pid is None or q.lock_free():
        return
    deadline = time.monotonic() + timeout
    tty = sys.stderr.isatty()
    shown = None
    while not q.lock_free():
        line = f"waiting for the background upload (pid {pid}): {len(q.entries())} queued"
        if line != shown:
            click.echo(("\r" + line) if tty else line, err=True, nl=not tty)
            shown = line
        if time.monotonic() > deadline:
            if tty:
                click.echo("", err=True)
            raise TracesGitError(
                f"the background upload (pid {pid}) is still running after {timeout:.0f} s"
            )
        time.sleep(0.2)
    if tty:
        click.echo("", err=True)
    click.echo("the background upload finished; uploading what is left", err=True)


@click.command()
@click.argument("trace_id", required=False)
@click.option("--now", is_flag=True, help="Upload in the foreground, retrying held entries too.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print exactly what would be sent for TRACE_ID (redacted request bodies); send nothing.",
)
@click.option(
    "--all-in-repo",
    is_flag=True,
    help="Queue every trace attached in this repository's notes that has no shared URL yet.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def upload(trace_id: str | None, now: bool, dry_run: bool, all_in_repo: bool, as_json: bool) -> int:
    """Upload the queued traces to the Traces API (in the background unless --now).

    With --dry-run TRACE_ID, print the requests the next upload of that trace
    would make, after redaction, and send nothing.
    """
    from traces_git.upload import handoff as up
    from traces_git.upload import queue as q
    from traces_git.upload import worker as upload_worker

    if dry_run:
        if not trace_id:
            raise UsageError("--dry-run needs a TRACE_ID")
        return _dry_run(trace_id, as_json)
    if trace_id:
        raise UsageError("a TRACE_ID goes with --dry-run (uploads work on the queue)")

    queued = _queue_all_in_repo() if all_in_repo else 0
    if not now:
        pid = up.start_worker() if q.has_entries() else None
        data = {
            "queued": queued,
            "queue": len(q.entries()),
            "worker_pid": pid or q.worker_pid(),
        }
        if as_json:
            _echo_json(data)
        elif data["queue"]:
            click.echo(f"{data['queue']} queued upload(s); uploading in the background")
        else:
            click.echo("nothing to upload")
        return 0

    _wait_for_worker()
    groups = len(list(q.iter_groups(q.entries())))
    show_bar = not as_json and groups >= 2
    bar = (
        click.progressbar(length=groups, label="Uploading traces", file=sys.stderr)
        if show_bar
        else None
    )
    try:
        if bar is not None:
            bar.__enter__()
        result = upload_worker.drain(
            force=True, on_group=(lambda _t: bar.update(1)) if bar is not None else None
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    data = {"queued": queued, **result.as_json()}
    if as_json:
        _echo_json(data)
    else:
        for item in result.uploaded:
            click.echo(f"uploaded {item['trace']} {item.get('url') or ''}".rstrip())
        for item in result.skipped:
            click.echo(f"skipped {item['trace']}: {item['reason']}")
        for item in result.waiting:
            click.echo(f"waiting {item['trace']}: {item['reason']}")
        for item in result.held:
            click.echo(f"held {item['trace']}: {item['reason']}")
        if not (
            result.uploaded or result.skipped or result.failed or result.waiting or result.held
        ):
            click.echo("nothing to upload" if not result.busy_pid else "")
    if result.busy_pid:
        raise TracesGitError(
            f"another upload worker is running (pid {result.busy_pid}); try again shortly"
        )
    if result.stopped:
        hint = (
            "; run `traces-git login` (or the official `traces login`)"
            if result.stopped == "not logged in"
            else ""
        )
        raise TracesGitError(
            f"upload stopped: {result.stopped}{hint} ({data['remaining']} still queued)"
        )
    if result.failed:
        raise TracesGitError(f"{len(result.failed)} trace(s) failed: {result.failed[0]['error']}")
    if result.held:
        raise TracesGitError(f"{len(result.held)} trace(s) held: {result.held[0]['reason']}")
    return 0


def _read_token(token: str | None) -> str:
    if token not in (None, "-"):
        return token
    if token == "-" or not sys.stdin.isatty():
        return sys.stdin.readline()
    return click.prompt("Traces API token", hide_input=True)


@click.command()
@click.option(
    "--token",
    metavar="TOKEN",
    help="The API token or key (trk_...). Use '-' (or pipe it in) to read it from stdin, "
    "which keeps it out of your shell history.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def login(token: str | None, as_json: bool) -> int:
    """Store a Traces API token for uploads (mode 0600 in the config dir)."""
    from traces_git.upload import auth
    from traces_git.upload import handoff as up
    from traces_git.upload import queue as q

    path = auth.save(_read_token(token))
    q.update_status(auth=None, auth_error=None)
    pid = up.start_worker() if q.has_entries() else None
    winner = auth.overriding_own_login()
    data = {"saved": str(path), "worker_pid": pid, "overridden_by": winner}
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"token saved to {path}")
        if winner:
            click.echo(f"note: {winner} takes precedence over the saved token")
        if pid:
            click.echo("uploading the queued traces in the background")
    return 0


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def logout(as_json: bool) -> int:
    """Remove the stored Traces API token."""
    from traces_git.upload import auth

    removed = auth.remove()
    if as_json:
        _echo_json({"removed": removed, "path": str(auth.credentials_file())})
    else:
        click.echo("token removed" if removed else "no stored token")
    return 0
