"""Background upload of attached traces: the hook's hand-off, and the worker's loop.

The post-commit hook calls :func:`hand_off`, which must stay cheap: one
atomic file per queued trace and, when no worker runs, one detached
``python -I -m traces_git.upload.worker`` process. It imports neither
httpx nor the API client. The worker (``upload_worker.drain``) does the network work:
for each queued (repository, trace) it checks privacy, upserts the trace's
metadata, sends the events not sent yet in batches of at most 200, records
progress after every batch, then writes the shared URL into the commits'
notes and removes the queue entries. A killed worker loses nothing: the
next run resends at most the batch in flight, and the API's upserts are
idempotent by message externalId.
"""

from __future__ import annotations

import os
import sys
import time

from traces_git import paths
from traces_git.config import Config
from traces_git.constants import PRODUCTION_API_URL
from traces_git.upload import auth
from traces_git.upload import queue as q

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from traces_git.repo import RepoInfo

DEFAULT_API_URL = PRODUCTION_API_URL
DEFAULT_WEB_URL = "https://www.traces.com"


def upload_enabled(config: Config) -> bool:
    return config.get_bool("traces.upload", True)


def uploader(config: Config) -> str:
    value = (config.get("traces.uploader") or "api").strip().lower()
    return "traces-cli" if value in ("traces-cli", "traces", "cli") else "api"


def api_url(config: Config) -> str:
    return (
        os.environ.get("TRACES_HTTP_URL") or config.get("traces.apiUrl") or DEFAULT_API_URL
    ).rstrip("/")


def web_url(config: Config) -> str:
    return (os.environ.get("TRACES_URL") or config.get("traces.webUrl") or DEFAULT_WEB_URL).rstrip(
        "/"
    )


def shared_url(config: Config, server_trace: dict) -> str | None:
    """``<frontend>/s/<data.trace.id>`` (inferred: the API returns no URL field).

    None unless the result passes the note format's URL check: the server's ID
    and the configured frontend are foreign text (a space or newline in either
    would write another note line).
    """
    from traces_git.notes.format import clean_url

    trace_id = server_trace.get("id")
    if not isinstance(trace_id, str) or not trace_id:
        return None
    return clean_url(f"{web_url(config)}/s/{trace_id}", source="the upload answer")


# --- the hook side -------------------------------------------------------------


def _branch(git_dir: str) -> str | None:
    """The checked-out branch, read from HEAD directly (no git process on the hook path)."""
    try:
        with open(os.path.join(git_dir, "HEAD"), encoding="utf-8") as handle:
            head = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    prefix = "ref: refs/heads/"
    return head[len(prefix) :] if head.startswith(prefix) else None


def hand_off(repo: RepoInfo, config: Config, commit: str, trace_ids: list[str]) -> None:
    """Queue ``trace_ids`` of ``commit`` for upload and start a worker if none runs."""
    if not trace_ids or not upload_enabled(config):
        return
    from traces_git.upload import safety as upload_safety

    # A share rule "off" wins before anything is queued (cheap without a share file).
    trace_ids = upload_safety.hook_skip(repo.worktree, api_url(config), trace_ids)
    if not trace_ids:
        return
    branch = _branch(repo.git_dir)
    for trace_id in trace_ids:
        q.enqueue_from_hook(
            q.Entry(
                trace_id=trace_id,
                common_dir=os.path.realpath(repo.common_dir),
                worktree=repo.worktree,
                commit=commit,
                branch=branch,
            )
        )
    if uploader(config) == "api" and not auth.has_token():
        # Said once, in `traces-git status`; the queue waits for a login.
        if not q.status_says_not_logged_in() and q.read_status().get("auth") != "not logged in":
            q.update_status(auth="not logged in", auth_since=time.time())
        return
    start_worker()


def start_worker() -> int | None:
    """Start the detached worker unless one holds the lock; returns its pid."""
    if not q.lock_free():
        return None
    return spawn_worker("traces_git.upload.worker")


def spawn_worker(module: str, arguments: Sequence[str] = ()) -> int | None:
    """Start the worker ``python -I -m MODULE ARGUMENTS`` detached from the hook (its own
    session, stdio on /dev/null, a clean environment, no CLI framework); returns its pid."""
    state = paths.location("state")
    os.makedirs(state, exist_ok=True)
    from traces_git import detach, gitcmd

    cmd = [sys.executable, "-I", "-m", module, *arguments]
    return detach.spawn(cmd, gitcmd.clean_env(), cwd=state)


# --- status ----------------------------------------------------------------------


def auth_state(config: Config) -> str:
    if uploader(config) == "traces-cli":
        return "delegated to the traces CLI"
    try:
        token = auth.load(api_url(config))
    except auth.TokenFileError as exc:
        return f"token file refused: {exc}"
    if token is None:
        return "not logged in"
    rejected = q.read_status().get("auth_error")
    if rejected:
        return f"token rejected: {rejected}"
    return f"logged in ({token.source})"


def status_section(repo: RepoInfo | None, config: Config) -> dict:
    """The upload part of ``traces-git status`` (no network, no secrets)."""
    from traces_git import urls

    status = q.read_status()
    queued = q.entries()
    mine = [
        e for e in queued if repo is not None and e.common_dir == os.path.realpath(repo.common_dir)
    ]
    section = {
        "summary": "",
        "enabled": upload_enabled(config),
        "uploader": uploader(config),
        "api_url": urls.strip_credentials(api_url(config)),
        "auth": auth_state(config),
        "queue": len(queued),
        "queue_this_repo": len(mine),
        "queued_traces": sorted({e.trace_id for e in mine}),
        "worker_pid": q.worker_pid(),
        "last_success": status.get("last_success"),
        "last_error": status.get("last_error"),
        "skipped": status.get("skipped", [])[-5:],
    }
    from traces_git.upload import safety as upload_safety

    section.update(upload_safety.fields(repo, config, api_url(config)))
    section["summary"] = _summary(section)
    return section


def _summary(section: dict) -> str:
    """One line for humans: what is queued and what went wrong last."""
    if not section["enabled"]:
        return "uploads disabled (traces.upload false)"
    parts = [f"{section['queue']} queued" if section["queue"] else "queue empty"]
    auth_text = section["auth"]
    if not auth_text.startswith(("logged in", "delegated")):
        hint = "; run `traces-git login` (or the official `traces login`)"
        parts.append(auth_text + (hint if auth_text == "not logged in" else ""))
    from traces_git.upload import safety as upload_safety

    parts.extend(upload_safety.summary_parts(section))
    error, success = section["last_error"] or {}, section["last_success"] or {}
    if error and error.get("time", 0) >= success.get("time", 0):
        parts.append(f"last error: {error.get('message')}")
    elif success:
        parts.append(f"last upload: {success.get('trace')} {success.get('url') or ''}".rstrip())
    return "; ".join(parts)
