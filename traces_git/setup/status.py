"""``traces-git status`` and ``doctor`` as text: rendering over ``status_checks``.

``collect(cwd)`` (from :mod:`traces_git.setup.status_checks`) gathers the report;
``render(report)`` turns it into text; ``problems(report)`` lists what doctor
flags, each with a one-line fix.
"""

from __future__ import annotations

import time

from traces_git.setup.status_checks import collect, conflicts  # noqa: F401 - the public entry points

# ---------------------------------------------------------------- doctor and text


def problems(report: dict) -> list[dict]:
    """What doctor flags: the conflicts plus missing pieces, each with a fix."""
    found = list(report["conflicts"])
    found += (report.get("notes_format") or {}).get("problems") or []
    installed = report["installed"]
    if not installed.get("global") and not installed.get("repo"):
        found.insert(
            0,
            {
                "id": "not-installed",
                "message": "traces-git's hooks are not installed",
                "fix": "traces-git install",
            },
        )
    repo = report.get("repo")
    if (
        repo
        and not repo["our_hooks_run"]
        and not any(
            p["id"] in {"husky", "local-hooks-path", "not-installed", "global-hooks-path-changed"}
            for p in found
        )
    ):
        found.append(
            {"id": "hooks-not-running", "message": repo["explanation"], "fix": "traces-git install"}
        )
    store = report["store"]
    late = report.get("late_attach") or {}
    from traces_git.attribution import freshness

    sessions = freshness.session_roots()
    cli = late.get("cli") if late.get("enabled", True) else None
    if not store["found"]:
        if not cli:
            fix = (
                "install the Traces CLI (npm install -g @traces-sh/traces; or set "
                "traces.cliPath), then run `traces list`"
            )
        elif sessions:
            fix = f"run `traces list` (the next commit's late attach also builds it, through {cli})"
        else:
            fix = "record a session with an agent (Claude Code, Codex, OpenCode, ...)"
        found.append(
            {
                "id": "store-missing",
                "message": f"no Traces store at {store['path']}: no trace can be attached"
                + (f" (agent sessions exist under {', '.join(sessions)})" if sessions else ""),
                "fix": fix,
            }
        )
    if store["found"] and sessions and not cli and late.get("enabled", True):
        found.append(
            {
                "id": "traces-cli-missing",
                "message": "the Traces CLI is not installed: the store is only as fresh as its "
                "last run, and traces-git cannot refresh it after a commit (late attach)",
                "fix": "install the Traces CLI (npm install -g @traces-sh/traces; or set "
                "traces.cliPath)",
            }
        )
    repo = report.get("repo")
    if cli and repo and late.get("agent_sessions_here") and not late.get("agent_hooks"):
        found.append(
            {
                "id": "agent-hooks-off",
                "message": "agent sessions work in this repository but no agent hook reports "
                "them (no traces-active.json): the committing session is known only after a "
                "store refresh",
                "fix": "traces setup agents --hooks",
            }
        )
    for item in late.get("failed") or []:
        found.append(
            {
                "id": "late-attach-failed",
                "message": f"late attach of {item['commit'][:12]} failed: {item['error']}",
                "fix": "check that `traces list` works here, then: traces-git late-attach",
            }
        )
        break
    if store["found"] and store.get("error"):
        found.append({"id": "store-unreadable", "message": store["error"], "fix": "check the file"})
    for name in ("notes_sync", "upload", "note_writes"):
        section = report.get(name)
        if isinstance(section, dict) and section.get("error"):
            found.append(
                {"id": f"{name}-error", "message": f"{name}: {section['error']}", "fix": ""}
            )
        if isinstance(section, dict):
            found.extend(section.get("problems") or [])  # e.g. upload_safety's
    return found


def render(report: dict) -> str:
    lines: list[str] = []
    installed = report["installed"]
    glob = installed.get("global")
    if glob:
        state = "active" if glob["active"] else "NOT active"
        lines.append(f"installed globally: {glob['hooks_dir']} ({state})")
        chained = glob.get("chained_hooks_path") or glob.get("previous_hooks_path")
        if chained:
            lines.append(f"  chains to the previous hooks path: {chained}")
    else:
        lines.append("installed globally: no")
    repo_install = installed.get("repo")
    if repo_install:
        state = "active" if repo_install["active"] else "NOT active"
        lines.append(f"installed for this repository: {repo_install['hooks_dir']} ({state})")
        if repo_install.get("previous_hooks_path"):
            lines.append(f"  chains to: {repo_install['previous_hooks_path']}")
    if not report["enabled"]:
        lines.append("traces-git is switched off here (traces.enabled=false or TRACES_GIT=0)")
    repo = report.get("repo")
    if repo:
        lines.append(f"repository: {repo['path']}")
        lines.append(f"  effective hooks path: {repo['effective_hooks_path']}")
        lines.append(f"  {repo['explanation']}")
    else:
        lines.append("repository: not inside one")
    official = report.get("official_hooks")
    if official and official.get("installed"):
        lines.append(
            "official Traces git hooks (traces setup git): installed here, about "
            f"{official['cost_per_commit_s']:g} s per commit"
            + ("" if official.get("traces_on_path") else " once `traces` is on PATH")
        )
        lines.append(f"  keep only traces-git: {official['fix']}")
    store = report["store"]
    if store["found"]:
        version = store.get("user_version")
        extra = f", error: {store['error']}" if store.get("error") else ""
        lines.append(f"Traces store: {store['path']} (schema user_version {version}{extra})")
    else:
        lines.append(f"Traces store: not found at {store['path']}")
    for name, title in (
        ("notes_sync", "notes sync"),
        ("notes_format", "notes"),
        ("upload", "upload"),
        ("note_writes", "note writes"),
        ("late_attach", "late attach"),
        ("lines", "line attribution"),
    ):
        section = report.get(name)
        if section and section.get("summary"):
            # The section's own one-line summary; `--json` has every field.
            lines.append(f"{title}: {section['summary']}")
            if section.get("last_error"):
                lines.append(f"  last error: {_short(section['last_error'])}")
        elif section:
            text = ", ".join(f"{k}: {_short(v)}" for k, v in section.items())
            lines.append(f"{title}: {text}")
    runs = report["recent_runs"]
    if runs:
        lines.append("last hook runs:")
        from traces_git.safe_text import for_terminal

        for run in runs[-5:]:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.get("time", 0)))
            detail = f" ({for_terminal(run['detail'])})" if run.get("detail") else ""
            # a repository's path can hold anything a directory name can
            lines.append(
                f"  {when} {run.get('hook')} {run.get('outcome')} "
                f"{for_terminal(run.get('repo'))}{detail}"
            )
    else:
        lines.append("last hook runs: none yet")
    skipped = report.get("shortcut")
    if skipped:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(skipped["time"]))
        lines.append(
            f"  {when} post-commit skipped {skipped['count']} commit(s) without Python since the "
            f"last full run (nothing could match; last {skipped['commit'][:12]})"
        )
    if report["conflicts"]:
        lines.append("conflicts:")
        for item in report["conflicts"]:
            lines.append(f"  {item['message']}")
            lines.append(f"    fix: {item['fix']}")
    return "\n".join(lines)


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
