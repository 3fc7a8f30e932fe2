"""install, uninstall, status, doctor: thin click wrappers over install.py and status.py."""

from __future__ import annotations

import json

import click

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.setup.install import Result

_REPO_HELP = "Only the current repository (sets its local core.hooksPath)."


def _echo_result(result: Result, as_json: bool, verb: str) -> None:
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    where = f"for {result.repo}" if result.scope == "repo" else "for every repository of this user"
    if verb == "installed":
        click.echo(f"traces-git hooks installed {where}: {result.hooks_dir}")
        if result.previous:
            click.echo(f"they also run the hooks configured before: {result.previous}")
    else:
        if result.changed:
            restored = result.previous or "(none)"
            click.echo(f"traces-git hooks uninstalled ({result.scope}); core.hooksPath: {restored}")
        else:
            click.echo(f"traces-git hooks uninstalled ({result.scope})")
    for note in result.notes:
        click.echo(f"note: {note}")


@click.command()
@click.option("--repo", "repo", is_flag=True, help=_REPO_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def install(repo: bool, as_json: bool) -> None:
    """Install traces-git's hooks (default: for every repository of this user).

    Existing hooks keep running: the repository's own .git/hooks and any hooks
    path configured before are chained. Safe to re-run (e.g. after an upgrade).
    """
    from traces_git.setup import install as installer

    _echo_result(installer.install(repo=repo), as_json, "installed")


@click.command()
@click.option("--repo", "repo", is_flag=True, help=_REPO_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def uninstall(repo: bool, as_json: bool) -> None:
    """Remove traces-git's hooks and put back the configuration found at install."""
    from traces_git.setup import install as installer

    _echo_result(installer.uninstall(repo=repo), as_json, "uninstalled")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Where traces-git is installed, whether its hooks run here, store, last runs, conflicts."""
    from traces_git.setup import status as status_mod

    report = status_mod.collect()
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(status_mod.render(report))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def doctor(as_json: bool) -> int:
    """Check the installation here; list each problem with a one-line fix (exit 1 if any)."""
    from traces_git.setup import status as status_mod

    report = status_mod.collect()
    found = status_mod.problems(report)
    if as_json:
        click.echo(json.dumps({"ok": not found, "problems": found}, indent=2))
    elif not found:
        click.echo("traces-git: everything looks fine")
    else:
        for item in found:
            click.echo(f"problem: {item['message']}")
            if item.get("fix"):
                click.echo(f"  fix: {item['fix']}")
    return 1 if found else 0
