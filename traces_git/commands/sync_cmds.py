"""``traces-git sync``: fetch, merge and push trace notes now, in the foreground."""

from __future__ import annotations

import json

import click

from traces_git.config import Config
from traces_git.errors import TracesGitError, UsageError
from traces_git.repo import RepoInfo


def _describe(result: dict) -> str:
    parts = []
    if result.get("fetched"):
        if result.get("remote_had_notes"):
            merged = result.get("merged", 0)
            parts.append(f"fetched, {merged} note(s) merged in" if merged else "fetched")
        else:
            parts.append("the remote has no notes yet")
    outcome = result.get("outcome", "")
    if outcome == "pushed":
        parts.append(f"pushed {result.get('pushed', 0)} note(s)")
    elif outcome == "error":
        parts.append(f"failed: {result.get('error')}")
    elif outcome:
        parts.append(outcome)
    return ", ".join(parts)


@click.command()
@click.option(
    "--remote",
    "remote_names",
    multiple=True,
    metavar="NAME",
    help="Sync with this remote only (repeatable; default: every remote).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: {remotes: [{remote, outcome, fetched, merged, pushed, error?}], "
    "after_fetch?}.",
)
def sync(remote_names: tuple[str, ...], as_json: bool) -> None:
    """Fetch teammates' trace notes, merge them, and push ours now."""
    from traces_git.sync import transfer as sync_mod

    repo = RepoInfo.discover()
    config = Config.load(repo.worktree or repo.common_dir)
    if sync_mod.ensure_configured(repo, config):
        config = Config.load(repo.worktree or repo.common_dir)
    queued = _write_queued(repo, config, as_json)
    after_fetch = _after_fetch(repo, config, as_json)
    known = sync_mod.remotes(config)
    for name in remote_names:
        if name not in known:
            raise UsageError(f"no remote named {name!r}")
    names = list(remote_names) or known
    results = []
    for name in names:
        try:
            results.append(sync_mod.push_notes(repo, config, name, foreground=True))
        except TracesGitError as exc:
            results.append({"remote": name, "outcome": "error", "error": str(exc)})
    failed = [r for r in results if r["outcome"] == "error"]
    if as_json:
        click.echo(json.dumps({"remotes": results, **queued, **after_fetch}))
    elif not names:
        click.echo("no remotes: nothing to sync")
    else:
        for result in results:
            if result["outcome"] != "error":
                click.echo(f"{result['remote']}: {_describe(result)}")
    if failed:
        raise TracesGitError(
            "; ".join(f"notes sync with {r['remote']} failed: {r['error']}" for r in failed)
        )


def _after_fetch(repo: RepoInfo, config: Config, as_json: bool) -> dict:
    """Merge and relink what the user's last fetch brought, if no hook did yet."""
    from traces_git.sync import fetched

    try:
        done = fetched.catch_up(repo, config)
    except Exception as exc:  # noqa: BLE001 - the sync below does not depend on it
        from traces_git import log, safe_text

        log.write(f"after-fetch merge and relink failed: {exc}", context=repo.display, exc=exc)
        reason = f"failed: {safe_text.for_terminal(f'{type(exc).__name__}: {exc}', 200)}"
        if not as_json:
            click.echo(f"after the last fetch: {reason}")
        return {"after_fetch": reason}
    if not done.pending:
        return {}
    if not as_json:  # remote names come from tracking ref names, which a pusher can choose
        from traces_git.safe_text import for_terminal

        click.echo(f"after the last fetch: {for_terminal(done.detail())}")
    return {"after_fetch": done.detail()}


def _write_queued(repo: RepoInfo, config: Config, as_json: bool) -> dict:
    """Write the notes queued while the notes ref was busy, before anything is pushed."""
    from traces_git.notes import pending as pending_notes

    if not pending_notes.has_pending(repo.common_dir):
        return {}
    drained = pending_notes.drain(repo, config)
    if not as_json:
        click.echo(
            f"queued notes: {drained.written} written, {drained.left} still queued"
            + (f" ({drained.error})" if drained.error else "")
        )
    return {"queued_written": drained.written, "queued_left": drained.left}
