"""``traces-git late-attach``: decide pending commits again after refreshing the store."""

from __future__ import annotations

import json

import click


@click.command("late-attach")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {processed, pending, failed}.")
def late_attach(as_json: bool) -> int:
    """Refresh the Traces store through the official CLI and attach the traces of this
    repository's commits that wait for it (the post-commit hook queues them when the
    store may be stale; this runs them now, in the foreground)."""
    from traces_git.config import Config
    from traces_git.hook import late_attach as late
    from traces_git.repo import RepoInfo

    repo = RepoInfo.discover()
    processed = late.run_worker(repo.common_dir)
    section = late.status_section(repo, Config.load(repo.worktree or repo.common_dir)) or {}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "processed": processed,
                    "pending": section.get("pending", []),
                    "failed": section.get("failed", []),
                },
                indent=2,
            )
        )
    else:
        click.echo(f"late attach: {processed} commit(s) decided; {section.get('summary', '')}")
    return 0
