"""``traces-git relink``: give commits a squash or rebase merge made their originals' traces."""

from __future__ import annotations

import json
import os

import click


@click.command()
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--dry-run", is_flag=True, help="Show the matches, write no note.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def relink(range_: str | None, dry_run: bool, as_json: bool) -> None:
    """Attach traces to commits without a note whose change equals noted commits' change.

    \b
    RANGE is a git revision range (main~20..main, origin/main); default: every
    branch and remote-tracking branch. Matches by content only: the same
    `git patch-id --stable` as one noted commit (rebase merge) or as a noted
    branch's combined change (squash merge), or at least 90% of added lines
    shared both ways (a squash with a small fix). Never by commit message.
    Each relinked note gets a `traces-relinked: <original commits>` line.
    Runs by itself in the background after a fetch moves a remote-tracking branch.

    JSON: {"candidates", "sources", "dry_run", "written": [sha],
    "matches": [{"commit", "sources": [sha], "how", "score", "traces": [{"id", "url"}]}]}
    """
    from traces_git.errors import UsageError
    from traces_git.sync import relink as core

    if range_ is not None and (not range_.strip() or range_.startswith("-")):
        raise UsageError(f"not a commit range: {range_!r}")
    result = core.relink(os.getcwd(), [range_] if range_ else None, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
        return
    verb = "would relink" if dry_run else "relinked"
    for found in result.matches:
        if not dry_run and found.commit not in result.written:
            continue
        origins = ", ".join(sha[:12] for sha in found.sources)
        click.echo(
            f"{verb} {found.commit[:12]}: {len(found.traces)} trace(s) from {origins} ({found.how})"
        )
    count = len(result.matches) if dry_run else len(result.written)
    if not count:
        click.echo(
            f"nothing to relink ({result.candidates} commit(s) without a note, "
            f"{result.sources} noted commit(s) not merged)"
        )
