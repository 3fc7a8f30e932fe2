"""Click commands that take git's revision arguments and ``-- PATHS`` as git does."""

from __future__ import annotations

import click


class GitArgsCommand(click.Command):
    """Keeps what follows ``--`` (git's paths) apart from click's parsing, as git does."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["traces_git.paths"] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


def git_args(ctx: click.Context, args: tuple[str, ...]) -> list[str]:
    """The view's git arguments, with ``-- PATHS`` put back where the user wrote it."""
    paths = ctx.meta.get("traces_git.paths")
    return [*args, "--", *paths] if paths is not None else list(args)


GIT_ARGS_SETTINGS = {"ignore_unknown_options": True, "allow_interspersed_args": True}
