"""install, uninstall, status, doctor (minimal)."""

from __future__ import annotations

import click


@click.command()
def install() -> None:
    """Install traces-git's hooks for every repository of this user."""
    from traces_git import install as installer

    target = installer.install()
    click.echo(f"traces-git hooks installed in {target}")
