"""``traces-git ci`` (a range's traces) and ``traces-git ci remap`` (after a squash merge)."""

from __future__ import annotations

import json
import os

import click

from traces_git.ci import report as core

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    _F = TypeVar("_F", bound=Callable[..., object])

_range_options = [
    click.option(
        "--base",
        metavar="REV",
        default=None,
        help="Start of the range (excluded). Default: from $GITHUB_EVENT_PATH.",
    ),
    click.option(
        "--head",
        metavar="REV",
        default=None,
        help="End of the range. Default: from $GITHUB_EVENT_PATH, else HEAD.",
    ),
    click.option(
        "--remote",
        metavar="NAME",
        default="origin",
        show_default=True,
        help="Remote to fetch notes and missing commits from.",
    ),
    click.option(
        "--fetch/--no-fetch",
        default=True,
        show_default=True,
        help="Fetch notes (never pruning) and deepen a shallow clone as needed.",
    ),
]


def _with_range_options(func: _F) -> _F:
    for option in reversed(_range_options):
        func = option(func)
    return func


class _CiGroup(click.Group):
    """``ci`` also takes git log's revision syntax (``ci main..HEAD``, ``ci --all``,
    ``ci --since=1.week -- src/``) beside its subcommand ``remap``: every argument that is
    not one of ci's own options (or their values) goes to git, in order."""

    _VALUED = ("--base", "--head", "--remote", "--format")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        own: list[str] = []
        for_git: list[str] = []
        names = {name for param in self.params for name in getattr(param, "opts", [])}
        names |= {name for param in self.params for name in getattr(param, "secondary_opts", [])}
        names |= set(ctx.help_option_names)
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                for_git += args[i:]
                break
            if not for_git and not own_positional(own) and arg in self.commands:
                own += args[i:]  # a subcommand and its own arguments
                break
            name = arg.partition("=")[0]
            if name in self._VALUED and "=" not in arg:
                own += args[i : i + 2]
                i += 2
                continue
            if name in names:
                own.append(arg)
            else:
                for_git.append(arg)
            i += 1
        ctx.meta["traces_git.git_args"] = for_git
        return super().parse_args(ctx, own)


def own_positional(args: list[str]) -> bool:
    return any(not arg.startswith("-") for arg in args)


@click.group(cls=_CiGroup, invoke_without_command=True)
@_with_range_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="What to print on stdout.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_context
def ci(
    ctx: click.Context,
    base: str | None,
    head: str | None,
    remote: str,
    fetch: bool,
    fmt: str,
    as_json: bool,
) -> None:
    """Report the traces behind a pull request or push, from a (shallow) CI checkout.

    \b
    Range: --base/--head, else $GITHUB_EVENT_PATH (pull_request: base.sha..head.sha;
    push: before..after); or git log's revision syntax with git's meaning
    (ci main..HEAD, ci --all, ci --since=1.week -- src/; -n N says "truncated").
    On GitHub Actions the markdown is appended to $GITHUB_STEP_SUMMARY and outputs
    trace-count and trace-ids go to $GITHUB_OUTPUT.
    With TRACES_API_KEY (or TRACES_CLI_AUTH_TOKEN) set, titles and agents come from the API.

    JSON: {"base", "head", "commits": [{"sha", "subject", "traces": [{"id", "url"}]}],
    "traces": [{"id", "url", "commits": [sha, ...]}], "files": [{"path", "added", "removed",
    "traced_added", "traced_removed", "binary", "traces"}]}, commits oldest first.
    """
    if ctx.invoked_subcommand is not None:
        return
    as_json = as_json or fmt == "json"
    result, markdown = _report(
        base,
        head,
        remote,
        fetch,
        git_args=ctx.meta.get("traces_git.git_args") or None,
        as_json=as_json,
    )
    if as_json:
        # Compact: json's C encoder (indent=2 is pure Python: 70 ms at 1,000 commits).
        click.echo(json.dumps(result.report))
    else:
        click.echo(markdown, nl=False)


def _report(
    base: str | None,
    head: str | None,
    remote: str,
    fetch: bool,
    *,
    git_args: list[str] | None = None,
    as_json: bool = False,
) -> tuple:
    """Collect and render the report; write the job summary and outputs (GitHub Actions)."""
    from traces_git.ci import enrich as ci_api
    from traces_git.ci import output as ci_output
    from traces_git.config import Config

    result = core.collect(
        os.getcwd(), base=base, head=head, remote=remote, fetch=fetch, git_args=git_args
    )
    warnings = list(result.warnings)
    settings = ci_api.api_settings(os.environ, Config.load(result.worktree).get("traces.apiUrl"))
    if settings is not None:
        warnings += ci_api.enrich(result.report, settings)
    for warning in warnings:
        core.warn(warning)
    # The markdown only where it goes: stdout, or the job summary on GitHub Actions.
    wanted = not as_json or os.environ.get("GITHUB_STEP_SUMMARY")
    markdown = ci_output.render_markdown(result.report) if wanted else ""
    ci_output.write_github_files(result.report, markdown, os.environ)
    return result, markdown


@ci.command()
@_with_range_options
@click.option(
    "--forge",
    type=click.Choice(["auto", "github", "gitlab"]),
    default="auto",
    show_default=True,
    help="Where to comment; auto: from the CI variables.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def comment(
    base: str | None, head: str | None, remote: str, fetch: bool, forge: str, as_json: bool
) -> None:
    """Post or update the report comment on the pull request or merge request.

    \b
    GitHub: GITHUB_TOKEN (or GH_TOKEN), GITHUB_REPOSITORY, GITHUB_API_URL, the pull
    request from $GITHUB_EVENT_PATH. GitLab: TRACES_GITLAB_TOKEN (PRIVATE-TOKEN),
    CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID (pass --base/--head).
    One comment, found again by a hidden marker and updated in place; none is
    created while there are no traces. The job summary and outputs are written
    first; a read-only token (fork), a rate limit, or a failing forge end in one
    warning and exit 0.

    JSON: {"action": created|updated|unchanged|skipped|failed|none, "target", "id",
    "url", "warning", "detail", "trace_count"}
    """
    from traces_git.ci import forge as forges

    result, markdown = _report(base, head, remote, fetch)
    count = len(result.report["traces"])
    try:
        target = forges.target_from_env(os.environ, None if forge == "auto" else forge)
    except forges.NoTarget as reason:
        outcome = forges.Outcome("none", detail=str(reason))
    else:
        outcome = forges.post_report(target, markdown, count)
    if outcome.warning:
        core.warn(outcome.warning)
    if as_json:
        click.echo(json.dumps({**outcome.as_json(), "trace_count": count}, indent=2))
    elif outcome.action == "none":
        click.echo(f"no comment: {outcome.detail}")
    elif outcome.action != "failed":
        click.echo(forges.describe(outcome))


@ci.command()
@click.option(
    "--onto",
    "onto",
    metavar="COMMIT",
    multiple=True,
    help="Commit the host's merge created (repeatable; A..B for a rebase merge). "
    "Default: pull_request.merge_commit_sha of a merged PR event.",
)
@_with_range_options
@click.option(
    "--push/--no-push",
    default=True,
    show_default=True,
    help="Push refs/notes/traces to the remote afterwards.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def remap(
    onto: tuple[str, ...],
    base: str | None,
    head: str | None,
    remote: str,
    fetch: bool,
    push: bool,
    as_json: bool,
) -> None:
    """Attach a pull request's traces to the commit(s) a squash or rebase merge created."""
    from traces_git.ci import remap as ci_remap

    summary = ci_remap.remap(
        os.getcwd(), list(onto), base=base, head=head, remote=remote, fetch=fetch, push=push
    )
    for warning in summary.pop("warnings", []):
        core.warn(warning)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    if summary.get("skipped"):
        click.echo(f"nothing to remap: {summary['skipped']}")
        return
    if not summary["traces"]:
        click.echo("no traces in the range: nothing to remap")
        return
    targets = ", ".join(sha[:12] for sha in summary["onto"])
    pushed = summary["push"] or {}
    outcome = pushed.get("outcome")
    if outcome in ("pushed", "up to date"):
        tail = f"; notes {'pushed to' if outcome == 'pushed' else 'already on'} {remote}"
    elif outcome:
        tail = f"; notes not pushed ({outcome})"
    else:
        tail = "; notes not pushed (--no-push)"
    click.echo(f"attached {len(summary['traces'])} trace(s) to {targets}{tail}")
