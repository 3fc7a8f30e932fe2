"""export and lines: the line-level records (refs/notes/traces-lines) for people and tools."""

from __future__ import annotations

import json
import os

import click


@click.command()
@click.argument("revision_range", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["agent-trace"]),
    default="agent-trace",
    show_default=True,
    help="Output format: Agent Trace v0.1.0 records, JSON Lines.",
)
def export(revision_range: str | None, fmt: str) -> None:
    """Print the line records of REVISION_RANGE (default: HEAD's history), one JSON per line.

    \b
    Agent Trace v0.1.0 records (docs/blame.md), oldest commit first; commits
    without a record are left out.
    """
    from traces_git.lines import export as core

    for line in core.export(os.getcwd(), revision_range):
        click.echo(line)


@click.group()
def lines() -> None:
    """Line-level attribution records (refs/notes/traces-lines)."""


@lines.command()
@click.argument("revision_range", required=False)
@click.option("--force", is_flag=True, help="Recompute commits that already have a record.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def backfill(revision_range: str | None, force: bool, as_json: bool) -> None:
    """Compute line records for REVISION_RANGE's commits with traces (default: HEAD's history).

    \b
    Uses the traces' tool calls in the local Traces store; commits whose traces
    it does not have are skipped. Idempotent and resumable: commits with a
    record are skipped (unless --force); each record is written as it is made.
    """
    from traces_git.config import Config
    from traces_git.lines import export as core
    from traces_git.repo import RepoInfo

    cwd = os.getcwd()
    repo = RepoInfo.discover(cwd)
    bar = None
    # click 8.5 deprecated get_text_stream: its module __getattr__ types it as object
    show = not as_json and click.get_text_stream("stderr").isatty()  # type: ignore[operator]

    def on_start(total: int) -> None:
        nonlocal bar
        if show and total:
            bar = click.progressbar(length=total, label="line records", file=None)
            bar.__enter__()

    def on_commit(_sha: str, _outcome: str) -> None:
        if bar is not None:
            bar.update(1)

    try:
        summary = core.backfill(
            repo,
            Config.load(cwd),
            revision_range,
            force=force,
            on_start=on_start,
            on_commit=on_commit,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{len(summary['written'])} record(s) written, {len(summary['unchanged'])} "
        f"unchanged, {summary['already']} already there, {len(summary['skipped'])} "
        f"skipped (traces not in the store) of {summary['with_traces']} commit(s) "
        "with traces"
    )
