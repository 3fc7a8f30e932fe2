"""remove-official-hooks: keep traces-git alone where `traces setup git` also runs."""

from __future__ import annotations

import json

import click


@click.command("remove-official-hooks")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {dry_run, actions: [...]}.")
def remove_official_hooks(dry_run: bool, as_json: bool) -> None:
    """Remove the official Traces git hooks from this repository, as `traces remove git` would.

    Deletes its traces-<hook> scripts and the marked blocks it added to the
    repository's hook files; every other line of those files is kept as it
    was. traces-git's own hooks keep attributing commits and pushing notes.
    """
    from traces_git.repo import RepoInfo
    from traces_git.setup import official_hooks

    repo = RepoInfo.discover()
    base = repo.worktree or repo.common_dir
    actions = official_hooks.remove(repo.common_dir, repo.git_dir, base, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "actions": actions}, indent=2))
        return
    if not actions:
        click.echo("no official Traces git hooks here")
        return
    verb = {
        "delete": "delete",
        "delete-dir": "delete",
        "rewrite": "edit",
        "skip": "leave",
        "unset-config": "unset",
    }
    prefix = "would " if dry_run else ""
    for action in actions:
        target = action.get("path") or f"{action['key']} {action['value']}"
        done = (
            verb[action["action"]]
            if dry_run
            else {
                "delete": "deleted",
                "delete-dir": "deleted",
                "rewrite": "edited",
                "skip": "left",
                "unset-config": "unset",
            }[action["action"]]
        )
        click.echo(f"{prefix}{done}: {target} ({action['why']})")
