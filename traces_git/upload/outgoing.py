"""The request bodies of one trace upload, built once for the worker and for ``--dry-run``.

Everything a request carries from the transcript passes ``redact`` here, so
``traces-git upload --dry-run --json TRACE_ID`` prints exactly what the worker
would send. The destination (namespace, visibility) comes from
``share_rules``; the token only decides whether an API key's server default
applies.
"""

from __future__ import annotations

from traces_git.upload import auth, convert, redact, share_rules

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from traces_git.config import Config
    from traces_git.store import Event

# Metadata strings computed by traces-git itself, not read from the transcript:
# the remote URL is already stripped of credentials (and an e-mail pattern would turn
# git@host:org/repo into [REDACTED]:org/repo), the ref is a commit sha.
_NOT_FROM_TRANSCRIPT = ("agentId", "gitRemoteUrl", "gitRef", "targetNamespaceId")


def chosen_visibility(config: Config) -> str | None:
    """``traces.visibility`` when set to a value the API takes, else None."""
    value = (config.get("traces.visibility") or "").strip().lower()
    return value if value in ("private", "public", "direct") else None


def destination(
    config: Config, directory: str | None, base_url: str, token: auth.Token | None
) -> share_rules.Destination:
    """Where the trace goes (TokenFileError propagates: an unsafe login file stops the run)."""
    return share_rules.resolve(
        directory,
        base_url,
        token_value=token.value if token is not None else None,
        credentials=auth.official_credentials(base_url),
        chosen_visibility=chosen_visibility(config),
    )


def missing_calls(events: Iterable[Event]) -> set[str]:
    """callIds of tool results whose tool call is not among ``events`` (sent in an earlier run)."""
    calls: set[str] = set()
    results: set[str] = set()
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


def note_earlier_calls(
    redactor: redact.Redactor, events: Iterable[Event], wanted: set[str]
) -> None:
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


def batches(events: Iterable[Event], redactor: redact.Redactor) -> list[tuple[list[dict], int]]:
    """(messages, last row) of the events, every message redacted before it is sized."""
    return list(convert.batches(events, redact=redactor.message))
