"""``traces-git upload --dry-run``: what the next upload of a trace would send.

Built with the worker's own steps (:mod:`outgoing` bodies, :mod:`worker` metadata),
so the preview cannot drift from what is sent; it sends nothing.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from traces_git import store, urls
from traces_git.attribution import selection
from traces_git.config import Config
from traces_git.errors import UsageError
from traces_git.repo import RepoInfo
from traces_git.upload import api, auth, outgoing, redact
from traces_git.upload import handoff as up
from traces_git.upload import queue as q
from traces_git.upload import worker as upload_worker


def preview(
    repo: RepoInfo,
    config: Config,
    trace_id: str,
    *,
    transport: httpx.BaseTransport | None = None,
) -> dict:
    """What the next upload of ``trace_id`` from ``repo`` would send, built as the worker
    builds it (``traces-git upload --dry-run``). Sends nothing; with a token and a ``@slug``
    destination it asks the API's namespace list (a GET, no trace content). Without a
    destination (``action`` hold or skip, and ``reason``) the redacted requests are
    still there: what would be sent once a destination exists."""
    base_url = up.api_url(config)
    store_path = store.locate(config.get("traces.store"))
    if not store_path.is_file():
        raise UsageError(f"no Traces store at {store_path}")
    with store.Store(store_path) as opened:
        trace = opened.get([trace_id]).get(trace_id)
        if trace is None:
            raise UsageError(f"trace {trace_id} is not in the local Traces store")
        progress = q.read_progress(base_url, trace_id)
        after = int(progress.get("last_row") or 0)
        events = list(opened.events(trace_id, after))
        wanted = outgoing.missing_calls(events) if after else set()
        earlier = [e for e in opened.events(trace_id, 0) if e.row_id <= after] if wanted else []
    answer: dict = {"trace": trace_id, "api_url": urls.strip_credentials(base_url)}
    answer["after_row"] = after
    if not up.upload_enabled(config):
        reason = "uploads are disabled (traces.upload false)"
        return {**answer, "action": "skip", "reason": reason, "requests": []}
    if not repo.worktree or not selection.inside(trace.directory, repo.worktree):
        where = trace.directory or "an unknown directory"
        reason = f"the trace worked in {where}, outside {repo.worktree or 'the repository'}"
        return {**answer, "action": "skip", "reason": reason, "requests": []}
    token = auth.load(base_url)
    answer["token_source"] = token.source if token else None
    dest = outgoing.destination(config, trace.directory, base_url, token)
    redactor = redact.Redactor.for_config(config)  # RedactConfigError: the command says why
    outgoing.note_earlier_calls(redactor, earlier, wanted)
    if dest.action == "hold" and dest.lookup_slug and token is not None:
        with api.Client(base_url, token, transport=transport) as client:
            dest = upload_worker.share_rules_lookup(client, dest, config)
    answer["destination"] = dest.as_json()
    # Without a destination (no login, no share rule) the payload is still shown, exactly
    # as it would be sent once one exists (then with the namespace/visibility added).
    entry = next((e for e in q.entries() if e.trace_id == trace_id), None)
    if entry is None:
        head = repo.open().head.target
        entry = q.Entry(
            trace_id, repo.common_dir, repo.worktree, str(head), up._branch(repo.git_dir)
        )
    chunks = outgoing.batches(events, redactor)
    model = upload_worker.convert_model(chunks) or progress.get("model")
    body = outgoing.trace_body(upload_worker.metadata(config, trace, entry, model), dest, redactor)
    quoted = quote(trace_id, safe="")
    requests = [{"method": "PUT", "path": f"/v1/traces/{quoted}", "body": body}]
    for messages, _ in chunks:
        if messages:
            requests.append(
                {
                    "method": "POST",
                    "path": f"/v1/traces/{quoted}/messages/batch",
                    "body": {"messages": messages},
                }
            )
    if dest.action != "publish":
        return {**answer, "action": dest.action, "reason": dest.reason, "requests": requests}
    return {**answer, "action": "publish", "reason": "", "requests": requests}
