"""What we send: store events as API messages, and remote URLs without credentials.

One event becomes one message whose ``externalId`` is the event's ID. That
keeps uploads idempotent and incremental: a message never has to be re-sent
with parts added later (grouping parts by ``messageExternalId`` would make a
second upload replace a message with only its newer parts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from traces_git.store import Event

MAX_BATCH = 200
# Keep one request body well under what proxies accept; a single bigger
# message is still sent, alone.
MAX_BATCH_BYTES = 4_000_000

_TEXT_TYPES = {
    "user_message": ("user", "text"),
    "agent_text": ("assistant", "text"),
    "agent_thinking": ("assistant", "thinking"),
}


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def message(event: Event) -> dict | None:
    """The API message for one store event; None for event types we do not send."""
    data = event.data
    kind = data.get("type")
    external_id = data.get("id") if isinstance(data.get("id"), str) and data.get("id") else None
    msg: dict = {"externalId": external_id or event.event_id}
    if kind in _TEXT_TYPES:
        role, part_type = _TEXT_TYPES[kind]
        text = _text(data.get("content"))
        content: dict = {"text": text}
        duration = _number(data.get("durationMs"))
        if part_type == "thinking" and duration is not None:
            content["durationMs"] = duration
        msg.update(role=role, parts=[{"type": part_type, "content": content}])
        if part_type == "text":
            msg["textContent"] = text
    elif kind == "tool_call":
        args = data.get("args")
        if isinstance(args, str):
            try:
                parsed = json.loads(args)
                args = parsed if isinstance(parsed, dict) else {"input": args}
            except ValueError:
                args = {"input": args}
        elif not isinstance(args, dict):
            args = {} if args is None else {"input": args}
        content = {
            "callId": _text(data.get("callId")),
            "toolName": _text(data.get("toolName")),
            "args": args,
        }
        msg.update(role="assistant", parts=[{"type": "tool_call", "content": content}])
    elif kind == "tool_result":
        status = data.get("status") if data.get("status") in ("success", "error") else "success"
        content = {
            "callId": _text(data.get("callId")),
            "toolName": _text(data.get("toolName")),
            "output": _text(data.get("output")),
            "status": status,
        }
        msg.update(role="assistant", parts=[{"type": "tool_result", "content": content}])
    elif kind == "error":
        msg.update(
            role="assistant",
            parts=[{"type": "error", "content": {"message": _text(data.get("message"))}}],
        )
    elif kind == "system_event":
        subtype = _text(data.get("subtype")) or "event"
        detail = data.get("data")
        text = subtype if detail in (None, "", {}) else f"{subtype}: {_text(detail)}"
        msg.update(
            role="system", textContent=text, parts=[{"type": "text", "content": {"text": text}}]
        )
    else:
        return None
    model = data.get("modelId")
    if isinstance(model, str) and model:
        msg["model"] = model
    order = _number(data.get("order"))
    msg["order"] = order if order is not None else event.row_id
    timestamp = _number(data.get("timestamp"))
    if timestamp is not None:
        msg["timestamp"] = timestamp
    return msg


def batches(
    events: Iterable[Event], size: int = MAX_BATCH, redact: Callable[[dict], dict] | None = None
) -> Iterator[tuple[list[dict], int]]:
    """(messages, last row id covered) in batches of at most ``size`` messages.

    The row id lets the caller record progress even when a batch's trailing
    events were of a type we skip. ``redact`` rewrites each message before it
    is sized (the upload passes the redaction pass here).
    """
    size = max(1, min(size, MAX_BATCH))
    pending: list[dict] = []
    pending_bytes = 0
    last_row = 0
    for event in events:
        msg = message(event)
        if msg is not None and redact is not None:
            msg = redact(msg)
        if msg is not None:
            cost = len(json.dumps(msg, ensure_ascii=False))
            if pending and pending_bytes + cost > MAX_BATCH_BYTES:
                yield pending, last_row
                pending, pending_bytes = [], 0
            pending.append(msg)
            pending_bytes += cost
        last_row = event.row_id
        if len(pending) >= size:
            yield pending, last_row
            pending, pending_bytes = [], 0
    if pending:
        yield pending, last_row
    elif last_row:
        yield [], last_row  # only skipped events: still worth recording


def model_of(messages: Iterable[dict]) -> str | None:
    found = None
    for msg in messages:
        found = msg.get("model") or found
    return found
