"""What ``status`` and ``doctor`` say about upload safety: token source, destination,
held and rule-skipped traces, and settings that stop uploads (no network, no secrets)."""

from __future__ import annotations

import os
import time

from traces_git.upload import queue as q

TYPE_CHECKING = False
if TYPE_CHECKING:
    from traces_git.config import Config
    from traces_git.repo import RepoInfo

MAX_RULE_SKIPS_KEPT = 20


def record_skipped_by_rule(trace_id: str, reason: str) -> None:
    """Count a trace a share rule "off" kept from the queue or from the API."""
    status = q.read_status()
    recent = (status.get("skipped_by_rule_recent") or [])[-(MAX_RULE_SKIPS_KEPT - 1) :]
    item = {"time": time.time(), "trace": trace_id, "reason": reason}
    q.update_status(
        skipped_by_rule=int(status.get("skipped_by_rule") or 0) + 1,
        skipped_by_rule_recent=[*recent, item],
    )


def hook_skip(worktree: str | None, base_url: str, trace_ids: list[str]) -> list[str]:
    """The trace IDs left to queue after the share rules (the hook's side; cheap)."""
    if not worktree:
        return trace_ids
    from traces_git.upload import share_rules

    folder = share_rules.hook_rule_off(worktree, base_url)
    if folder is None:
        return trace_ids
    for trace_id in trace_ids:
        record_skipped_by_rule(trace_id, f'share rule "off" for {folder}')
    return []


def fields(repo: RepoInfo | None, config: Config, base_url: str) -> dict:
    """Extra fields for ``upload.status_section``; ``problems`` feeds doctor."""
    from traces_git.upload import auth, outgoing, redact, share_rules

    status = q.read_status()
    problems: list[dict] = []
    token = None
    token_source = None
    try:
        token = auth.load(base_url)
        token_source = token.source if token else None
    except auth.TokenFileError as exc:
        problems.append({"id": "upload-token-file", "message": str(exc), "fix": ""})
    redact_problem = redact.check(config)
    if redact_problem:
        problems.append(
            {
                "id": "upload-redact-pattern",
                "message": redact_problem,
                "fix": "git config --unset-all traces.redact (or correct the pattern)",
            }
        )
    directory = repo.worktree if repo is not None else os.getcwd()
    try:
        dest = outgoing.destination(config, directory, base_url, token)
        destination = dest.describe()
        if dest.action == "hold" and dest.source == share_rules.SETTINGS:
            problems.append(
                {
                    "id": "upload-share-settings",
                    "message": dest.reason,
                    "fix": "repair the file (or `traces share config --set`)",
                }
            )
    except auth.TokenFileError as exc:
        destination = f"unknown: {exc}"
    queued = {entry.trace_id for entry in q.entries()}
    held = {t: v for t, v in (status.get("held") or {}).items() if t in queued}
    return {
        "token_source": token_source,
        "destination": destination,
        "redact_patterns": len(redact.user_patterns(config)),
        "held": [{"trace": t, "reason": v.get("reason")} for t, v in sorted(held.items())],
        "skipped_by_rule": int(status.get("skipped_by_rule") or 0),
        "skipped_by_rule_recent": (status.get("skipped_by_rule_recent") or [])[-5:],
        "problems": problems,
    }


def summary_parts(section: dict) -> list[str]:
    """Pieces of the one-line upload summary."""
    parts = []
    held = section.get("held") or []
    if held:
        parts.append(f"{len(held)} held: {held[-1]['reason']}")
    if section.get("skipped_by_rule"):
        parts.append(f"{section['skipped_by_rule']} skipped by share rule")
    for problem in section.get("problems") or []:
        if problem["id"] != "upload-token-file":
            parts.append(problem["message"])
    return parts
