"""The request bodies of one trace upload, built once for the worker and for ``--dry-run``.

Everything a request carries from the transcript passes ``redact`` here, so
``traces-git upload --dry-run --json TRACE_ID`` prints exactly what the worker
would send. The destination (namespace, visibility) comes from
``share_rules``; the token only decides whether an API key's server default
applies.
"""

from __future__ import annotations

from urllib.parse import quote

from traces_git import auth, convert, redact, share_rules

# Metadata strings computed by traces-git itself, not read from the transcript:
# the remote URL is already stripped of credentials (and an e-mail pattern would turn
# git@host:org/repo into [REDACTED]:org/repo), the ref is a commit sha.
_NOT_FROM_TRANSCRIPT = ("agentId", "gitRemoteUrl", "gitRef", "targetNamespaceId")


def chosen_visibility(config) -> str | None:
    """``traces.visibility`` when set to a value the API takes, else None."""
    value = (config.get("traces.visibility") or "").strip().lower()
    return value if value in ("private", "public", "direct") else None


def destination(config, directory: str | None, base_url: str, token) -> share_rules.Destination:
    """Where the trace goes (TokenFileError propagates: an unsafe login file stops the run)."""
    return share_rules.resolve(
        directory,
        base_url,
        token_value=token.value if token is not None else None,
        credentials=auth.official_credentials(base_url),
        chosen_visibility=chosen_visibility(config),
    )


def missing_calls(events) -> set[str]:
    """callIds of tool results whose tool call is not among ``events`` (sent in an earlier run)."""
    calls, results = set(), set()
    for event in events:
        kind = event.data.get("type")
        call_id = event.data.get("callId")
        if not isinstance(call_id, str):
            continue
        if kind == "tool_call":
            calls.add(call_id)
        elif kind == "tool_result":
            results.add(call_id)
    return results - calls


def note_earlier_calls(redactor: redact.Redactor, events, wanted: set[str]) -> None:
    for event in events:
        data = event.data
        if data.get("type") == "tool_call" and data.get("callId") in wanted:
            redactor.note_call(data["callId"], data.get("args"))


def trace_body(metadata: dict, dest: share_rules.Destination, redactor: redact.Redactor) -> dict:
    """``PUT /v1/traces/{id}``: the metadata redacted, plus the destination."""
    body = {
        key: (value if key in _NOT_FROM_TRANSCRIPT else redactor.text(value))
        for key, value in metadata.items()
    }
    body.pop("visibility", None)
    if dest.namespace and dest.namespace.get("id"):
        body["targetNamespaceId"] = dest.namespace["id"]
    if dest.visibility:
        body["visibility"] = dest.visibility
    return body


def batches(events, redactor: redact.Redactor):
    """(messages, last row) of the events, every message redacted before it is sized."""
    return list(convert.batches(events, redact=redactor.message))


def preview(repo, config, trace_id: str, *, transport=None) -> dict:
    """What the next upload of ``trace_id`` from ``repo`` would send, built as the worker
    builds it (``traces-git upload --dry-run``). Sends nothing; with a token and a ``@slug``
    destination it asks the API's namespace list (a GET, no trace content). Without a
    destination (``action`` hold or skip, and ``reason``) the redacted requests are
    still there: what would be sent once a destination exists."""
    from traces_git import api, selection, store, upload_worker
    from traces_git import upload as up
    from traces_git import upload_queue as q
    from traces_git.errors import UsageError

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
        wanted = missing_calls(events) if after else set()
        earlier = [e for e in opened.events(trace_id, 0) if e.row_id <= after] if wanted else []
    answer: dict = {"trace": trace_id, "api_url": convert.strip_credentials(base_url)}
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
    dest = destination(config, trace.directory, base_url, token)
    redactor = redact.Redactor.for_config(config)  # RedactConfigError: the command says why
    note_earlier_calls(redactor, earlier, wanted)
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
    chunks = batches(events, redactor)
    model = upload_worker.convert_model(chunks) or progress.get("model")
    body = trace_body(upload_worker.metadata(config, trace, entry, model), dest, redactor)
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
