"""blame and stats: which agent sessions wrote which lines."""

from __future__ import annotations

import os

import click

from traces_git.commands.gitargs import GIT_ARGS_SETTINGS, GitArgsCommand, git_args


class _GitStyleColour(GitArgsCommand):
    """A bare ``--color`` means ``--color=always``, as in git; ``--color=WHEN`` as usual."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        args = [("--color=always" if a == "--color" and i < end else a) for i, a in enumerate(args)]
        return super().parse_args(ctx, args)


@click.command(cls=_GitStyleColour)
@click.argument("rev_and_file", nargs=-1, metavar="[REV] [--] FILE")
@click.option(
    "-L",
    "line_ranges",
    metavar="START,END",
    multiple=True,
    help="Only these lines (git blame -L syntax; repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema in docs/blame.md).")
@click.option(
    "--ignore-rev",
    "ignore_revs",
    metavar="REV",
    multiple=True,
    help="Blame past this commit, as git blame --ignore-rev (repeatable).",
)
@click.option(
    "--ignore-revs-file",
    "ignore_revs_files",
    metavar="FILE",
    multiple=True,
    help="Commits to blame past, as git blame --ignore-revs-file (repeatable). "
    "blame.ignoreRevsFile applies without it, as in git.",
)
@click.option(
    "-M",
    "moves",
    is_flag=True,
    help="Follow lines moved within the file to the commit that wrote them, "
    "as git blame -M (slower: about twice git blame's time).",
)
@click.option(
    "-C",
    "copies",
    is_flag=True,
    help="Also follow lines copied from other files of the same commit (git -C).",
)
@click.option(
    "--color",
    "colour",
    metavar="[=WHEN]",
    default=None,
    type=click.Choice(["always", "never", "auto"]),
    help="Colour: always (the default of a bare --color), never or auto "
    "(default: color.blame / color.ui, as git).",
)
@click.option("--no-color", "no_colour", is_flag=True, help="Same as --color=never.")
@click.option("--no-pager", is_flag=True, help="Do not pipe the output into the pager.")
@click.option(
    "--offline",
    is_flag=True,
    help="Titles and agents from the local store only, never the Traces API.",
)
@click.pass_context
def blame(
    ctx: click.Context,
    rev_and_file: tuple[str, ...],
    line_ranges: tuple[str, ...],
    as_json: bool,
    ignore_revs: tuple[str, ...],
    ignore_revs_files: tuple[str, ...],
    moves: bool,
    copies: bool,
    colour: str | None,
    no_colour: bool,
    no_pager: bool,
    offline: bool,
) -> None:
    """Show each line of FILE (at REV, default the working tree) with its commit and traces.

    \b
    FILE and REV as git blame takes them: FILE, REV FILE, REV -- FILE, or the
    older FILE REV (when REV names a revision).
    Lines from commits without traces are shown plainly; lines changed in the
    working tree are "not committed yet". Paged and coloured like git blame
    (core.pager, color.ui); plain text when stdout is not a terminal.
    """
    from traces_git.views import blame as core
    from traces_git.views import show as views

    cwd = os.getcwd()
    rev, file = core.rev_and_path(cwd, list(rev_and_file), ctx.meta.get("traces_git.paths"))
    options = core.BlameOptions(rev, line_ranges, ignore_revs, ignore_revs_files, moves, copies)
    views.show_blame(
        cwd,
        file,
        options,
        as_json=as_json,
        offline=offline,
        no_pager=no_pager,
        colour="never" if no_colour else colour,
    )


@click.command(cls=GitArgsCommand, context_settings=GIT_ARGS_SETTINGS)
@click.argument(
    "git_log_args", nargs=-1, type=click.UNPROCESSED, metavar="[<revision-range>] [-- <path>...]"
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema in docs/blame.md).")
@click.option("--no-pager", is_flag=True, help="Do not pipe the output into the pager.")
@click.pass_context
def stats(ctx: click.Context, git_log_args: tuple[str, ...], as_json: bool, no_pager: bool) -> None:
    """How many changed lines of the commits git log would list come from commits with traces.

    \b
    Per file, in total and per agent, counted commit by commit (git log --numstat,
    merges left out). Takes git log's revision syntax with git's meaning
    (A..B, --all, --branches, --since, --author, -n, paths after --). With no
    revision: the current branch against its upstream, else against the default
    branch, else the whole branch (as git log shows it), and the output says which.
    """
    from traces_git.views import show as views

    views.show_stats(os.getcwd(), git_args(ctx, git_log_args), as_json=as_json, no_pager=no_pager)
