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
    from traces_git import notes, upload
    from traces_git import upload_queue as q
    from traces_git.config import Config
    from traces_git.repo import RepoInfo

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


@click.command()
@click.option("--now", is_flag=True, help="Upload in the foreground, retrying held entries too.")
@click.option(
    "--all-in-repo",
    is_flag=True,
    help="Queue every trace attached in this repository's notes that has no shared URL yet.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--worker", is_flag=True, hidden=True, help="Run as the background worker.")
def upload(now: bool, all_in_repo: bool, as_json: bool, worker: bool) -> int:
    """Upload the queued traces to the Traces API (in the background unless --now)."""
    from traces_git import log, upload_worker
    from traces_git import upload as up
    from traces_git import upload_queue as q

    if worker:
        try:
            result = upload_worker.drain(force=False)
            if result.stopped:
                log.write(f"upload worker stopped: {result.stopped}", context="upload")
        except Exception as exc:  # noqa: BLE001 - a background process has nobody to tell
            log.write(f"upload worker failed: {exc}", context="upload", exc=exc)
        return 0

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
        if not (result.uploaded or result.skipped or result.failed or result.waiting):
            click.echo("nothing to upload" if not result.busy_pid else "")
    if result.busy_pid:
        raise TracesGitError(
            f"another upload worker is running (pid {result.busy_pid}); try again shortly"
        )
    if result.stopped:
        hint = "; run `traces-git login`" if result.stopped == "not logged in" else ""
        raise TracesGitError(
            f"upload stopped: {result.stopped}{hint} ({data['remaining']} still queued)"
        )
    if result.failed:
        raise TracesGitError(f"{len(result.failed)} trace(s) failed: {result.failed[0]['error']}")
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
    from traces_git import auth
    from traces_git import upload as up
    from traces_git import upload_queue as q

    path = auth.save(_read_token(token))
    q.update_status(auth=None, auth_error=None)
    pid = up.start_worker() if q.has_entries() else None
    env = auth.from_env()
    data = {"saved": str(path), "worker_pid": pid, "overridden_by": env.source if env else None}
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"token saved to {path}")
        if env:
            click.echo(f"note: {env.source} is set and takes precedence over the saved token")
        if pid:
            click.echo("uploading the queued traces in the background")
    return 0


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def logout(as_json: bool) -> int:
    """Remove the stored Traces API token."""
    from traces_git import auth

    removed = auth.remove()
    if as_json:
        _echo_json({"removed": removed, "path": str(auth.credentials_file())})
    else:
        click.echo("token removed" if removed else "no stored token")
    return 0
