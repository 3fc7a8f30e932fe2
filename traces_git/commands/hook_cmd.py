from __future__ import annotations

import click


@click.command(
    hidden=True,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook(name: str, args: tuple[str, ...]) -> None:
    """Run traces-git's part of git hook NAME (called by the installed hook scripts)."""
    from traces_git.hook import entry as hooks

    hooks.main([name, *args])
