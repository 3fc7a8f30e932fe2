"""What ``blame`` and ``stats`` print, without click: the click commands and the fast
path (``traces_git.fastpath``) both call these."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.views.blame import BlameOptions

API_TIMEOUT_S = 3.0


def _warn(message: str) -> None:
    sys.stderr.write(f"traces-git: warning: {message}\n")


def _json_out(report: dict) -> None:
    import json

    # Compact: json's C encoder (indent=2 encodes in pure Python: 70 ms at 1,000 commits).
    sys.stdout.write(json.dumps(report) + "\n")


def show_blame(
    cwd: str,
    file: str,
    options: BlameOptions,
    *,
    as_json: bool = False,
    offline: bool = False,
    no_pager: bool = False,
    colour: str | None = None,
) -> None:
    """``traces-git blame``: the report, its agents and titles, printed."""
    from traces_git import terminal
    from traces_git.views import blame as core
    from traces_git.views import blame_render

    report = core.blame(cwd, file, options)
    config = None
    if report["traces"]:  # the config and the store only when some line has traces
        from traces_git.config import Config

        config = Config.load(cwd)
    warnings = core.add_store_details(report, config.get("traces.store")) if config else []
    if (
        config is not None
        and not offline
        and any(t["agent"] is None and t["title"] is None for t in report["traces"])
    ):
        from traces_git.ci import enrich as ci_api

        settings = ci_api.api_settings(os.environ, config.get("traces.apiUrl"))
        if settings is not None:
            warnings += core.add_api_details(report, settings, timeout=API_TIMEOUT_S)
    for warning in warnings:
        _warn(warning)
    if as_json:
        _json_out(report)
        return
    tty = terminal.stdout_is_tty()
    paging = tty and not no_pager
    use_colour = terminal.want_colour(cwd, "blame", colour, tty=tty, paging=paging)
    text = blame_render.render(report, colour=use_colour)
    with terminal.output(cwd, use_pager=paging) as stream:
        stream.write(text)


def show_stats(
    cwd: str, git_args: list[str], *, as_json: bool = False, no_pager: bool = False
) -> None:
    """``traces-git stats``: the counts for the commits git log would list, printed."""
    from traces_git import terminal
    from traces_git.views import linestats

    report = linestats.stats(cwd, git_args)
    store_path = None
    if report["traces"]:
        from traces_git.config import Config

        store_path = Config.load(cwd).get("traces.store")
    for warning in linestats.add_agents(report, store_path):
        _warn(warning)
    if as_json:
        _json_out(report)
        return
    paging = terminal.stdout_is_tty() and not no_pager
    with terminal.output(cwd, use_pager=paging) as stream:
        stream.write(linestats.render(report))
