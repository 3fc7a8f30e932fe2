"""explain: why a commit got the traces it got."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("rev", default="HEAD")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/attribution.md).")
def explain(rev: str, as_json: bool) -> None:
    """Why commit REV (default HEAD) got its traces, or none: every candidate and its reason.

    Shows what the post-commit hook recorded; for a commit made without it
    (before install, on another machine) re-runs the selection read-only
    against the store and says so.
    """
    from traces_git.attribution import explain as explain_mod

    result = explain_mod.explain(rev)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(explain_mod.render(result))
