"""A real HTTP server on 127.0.0.1 that enforces the Traces API upload contract.

It runs in a thread of the test process; the code under test (often the
detached upload worker, a separate process) talks to it over a socket.

Contract enforced (see shared/traces-facts.md): ``Authorization: Bearer
<token>``; JSON bodies with the documented fields and types only; 1 to 200
messages per batch; messages only for a trace that was PUT first; error
bodies ``{"ok": false, "error": {"code", "message"}}``; upserts idempotent by
externalId. Knobs: ``delay``/``batch_delay`` (slowness), ``reject_token``
(every request 401), ``fail(...)`` (a queue of canned answers: 429 with
Retry-After, 500, non-JSON...), ``namespaces`` (what ``GET /v1/namespaces``
lists). ``requests`` records what it received, raw bodies included. The trace
upsert also takes what the official CLI 0.6.31 sends: ``targetNamespaceId``,
``visibility`` ``direct``, ``sourceCreatedAt`` and token counts (numbers).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BATCH = 200
TRACE_FIELDS = {
    "agentId",
    "title",
    "projectPath",
    "projectName",
    "model",
    "visibility",
    "gitRemoteUrl",
    "gitBranch",
    "gitRef",
    "targetNamespaceId",
}
# Numbers the official CLI 0.6.31 also sends with the trace.
TRACE_NUMBER_FIELDS = {
    "sourceCreatedAt",
    "inputTokenCount",
    "outputTokenCount",
    "cacheReadTokenCount",
    "cacheWriteTokenCount",
    "reasoningTokenCount",
    "totalInputTokenCount",
}
VISIBILITIES = ("private", "public", "direct")
MESSAGE_FIELDS = {"externalId", "role", "textContent", "model", "order", "timestamp", "parts"}
ROLES = {"user", "assistant", "system"}
PART_CONTENT = {
    # type: {field: (types, required)}
    "text": {"text": (str, True), "durationMs": ((int, float), False)},
    "thinking": {"text": (str, True), "durationMs": ((int, float), False)},
    "tool_call": {"callId": (str, True), "toolName": (str, True), "args": (dict, True)},
    "tool_result": {
        "callId": (str, True),
        "toolName": (str, True),
        "output": (str, True),
        "status": (str, True),
    },
    "error": {"message": (str, True)},
}


class Invalid(Exception):
    pass


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_trace(body: object) -> dict:
    if not isinstance(body, dict):
        raise Invalid("body must be an object")
    unknown = set(body) - TRACE_FIELDS - TRACE_NUMBER_FIELDS
    if unknown:
        raise Invalid(f"unknown fields: {sorted(unknown)}")
    for key, value in body.items():
        if key in TRACE_NUMBER_FIELDS:
            if not _number(value):
                raise Invalid(f"{key} must be a number")
        elif not isinstance(value, str):
            raise Invalid(f"{key} must be a string")
    if "visibility" in body and body["visibility"] not in VISIBILITIES:
        raise Invalid(f"visibility must be one of {VISIBILITIES}")
    return body


def validate_message(msg: object, where: str) -> dict:
    if not isinstance(msg, dict):
        raise Invalid(f"{where} must be an object")
    unknown = set(msg) - MESSAGE_FIELDS
    if unknown:
        raise Invalid(f"{where}: unknown fields {sorted(unknown)}")
    if not isinstance(msg.get("externalId"), str) or not msg["externalId"]:
        raise Invalid(f"{where}.externalId is required")
    if msg.get("role") not in ROLES:
        raise Invalid(f"{where}.role must be one of {sorted(ROLES)}")
    for key in ("textContent", "model"):
        if key in msg and not isinstance(msg[key], str):
            raise Invalid(f"{where}.{key} must be a string")
    for key in ("order", "timestamp"):
        if key in msg and not _number(msg[key]):
            raise Invalid(f"{where}.{key} must be a number")
    parts = msg.get("parts", [])
    if not isinstance(parts, list):
        raise Invalid(f"{where}.parts must be an array")
    for i, part in enumerate(parts):
        pw = f"{where}.parts[{i}]"
        if not isinstance(part, dict) or set(part) != {"type", "content"}:
            raise Invalid(f"{pw} must be {{type, content}}")
        schema = PART_CONTENT.get(part["type"])
        if schema is None:
            raise Invalid(f"{pw}.type {part['type']!r} is not a part type")
        content = part["content"]
        if not isinstance(content, dict):
            raise Invalid(f"{pw}.content must be an object")
        unknown = set(content) - set(schema)
        if unknown:
            raise Invalid(f"{pw}.content: unknown fields {sorted(unknown)}")
        for name, (types, required) in schema.items():
            if name not in content:
                if required:
                    raise Invalid(f"{pw}.content.{name} is required")
                continue
            value = content[name]
            if isinstance(value, bool) or not isinstance(value, types):
                raise Invalid(f"{pw}.content.{name} has the wrong type")
        if part["type"] == "tool_result" and content["status"] not in ("success", "error"):
            raise Invalid(f"{pw}.content.status must be success or error")
    return msg


def validate_batch(body: object) -> list[dict]:
    # The official CLI 0.6.31 adds "idScheme": "v1".
    if not isinstance(body, dict) or "messages" not in body or set(body) - {"messages", "idScheme"}:
        raise Invalid("body must be {messages: [...]}")
    if "idScheme" in body and not isinstance(body["idScheme"], str):
        raise Invalid("idScheme must be a string")
    messages = body["messages"]
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_BATCH:
        raise Invalid(f"messages must hold 1 to {MAX_BATCH} items")
    return [validate_message(m, f"messages[{i}]") for i, m in enumerate(messages)]


@dataclass
class Received:
    method: str
    path: str
    body: object
    time: float
    authorized: bool
    status: int = 0
    raw: bytes = b""  # the body exactly as it arrived


@dataclass
class Fault:
    status: int
    body: bytes
    headers: dict
    match: str  # substring of "METHOD path"


@dataclass
class ApiServer:
    token: str = "test-token"
    delay: float = 0.0  # seconds before answering any request
    batch_delay: float = 0.0  # extra seconds before answering a message batch
    # When set to an Event, every request waits for it (at most 30 s) before being answered.
    hold: threading.Event | None = None
    reject_token: bool = False
    requests: list[Received] = field(default_factory=list)
    traces: dict = field(default_factory=dict)  # externalId -> {"meta", "messages", "id"}
    faults: list[Fault] = field(default_factory=list)
    port: int = 0
    # What GET /v1/namespaces lists (the namespaces the token can publish to).
    namespaces: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> ApiServer:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- knobs and records -------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        body: bytes | None = None,
        headers: dict | None = None,
        match: str = "",
    ) -> None:
        """Answer the next ``times`` requests matching ``match`` with this instead."""
        if body is None:
            body = json.dumps(
                {"ok": False, "error": {"code": f"HTTP_{status}", "message": "injected failure"}}
            ).encode()
        for _ in range(times):
            self.faults.append(Fault(status, body, headers or {}, match))

    def messages(self, trace_id: str) -> dict:
        return dict(self.traces.get(trace_id, {}).get("messages", {}))

    def posted_ids(self, trace_id: str) -> list[str]:
        """Every message externalId received for ``trace_id``, in order, duplicates kept."""
        ids = []
        for req in self.requests:
            if (
                req.method == "POST"
                and req.path == f"/v1/traces/{trace_id}/messages/batch"
                and req.status == 200
            ):
                ids.extend(m["externalId"] for m in req.body["messages"])
        return ids

    def raw_bytes(self) -> bytes:
        """Every byte of every request body and path the server received."""
        return b"\n".join(r.path.encode() + b"\n" + r.raw for r in self.requests)

    def of(self, method: str, path_part: str = "") -> list[Received]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # --- request handling -----------------------------------------------------------

    def handle(self, method: str, path: str, headers, raw: bytes) -> tuple[int, bytes, dict]:
        authorized = headers.get("Authorization") == f"Bearer {self.token}"
        try:
            body: object = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        received = Received(method, path, body, time.time(), authorized, raw=raw)
        with self._lock:
            self.requests.append(received)
            fault = next((f for f in self.faults if f.match in f"{method} {path}"), None)
            if fault is not None:
                self.faults.remove(fault)
        if self.delay:
            time.sleep(self.delay)
        if self.hold is not None:
            self.hold.wait(30)
        if fault is not None:
            received.status = fault.status
            return fault.status, fault.body, fault.headers
        status, answer = self._route(method, path, headers, body, authorized)
        received.status = status
        return status, json.dumps(answer).encode(), {"Content-Type": "application/json"}

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple[int, dict]:
        return status, {"ok": False, "error": {"code": code, "message": message}}

    def _route(self, method, path, headers, body, authorized) -> tuple[int, dict]:
        if not authorized or self.reject_token:
            return self._error(401, "UNAUTHENTICATED", "invalid or missing token")
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["v1", "namespaces"]:
            return 200, {"ok": True, "data": {"namespaces": list(self.namespaces)}}
        if parts[:2] != ["v1", "traces"] or len(parts) < 3:
            return self._error(404, "NOT_FOUND", "no such route")
        if method in ("PUT", "POST") and "application/json" not in headers.get("Content-Type", ""):
            return self._error(400, "BAD_REQUEST", "expected application/json")
        external_id = parts[2]
        try:
            if method == "GET" and len(parts) == 3:  # GET /v1/traces/{externalId} (traces-git ci)
                with self._lock:
                    if external_id not in self.traces:
                        return self._error(404, "NOT_FOUND", "trace not found")
                    return 200, {"ok": True, "data": {"trace": self._trace_json(external_id)}}
            if method == "PUT" and len(parts) == 3:
                meta = validate_trace(body)
                with self._lock:
                    trace = self.traces.setdefault(
                        external_id,
                        {"meta": {}, "messages": {}, "id": f"srv-{len(self.traces) + 1}"},
                    )
                    trace["meta"].update(meta)
                return 200, {"ok": True, "data": {"trace": self._trace_json(external_id)}}
            if method == "POST" and parts[3:] == ["messages", "batch"]:
                messages = validate_batch(body)
                if self.batch_delay:
                    time.sleep(self.batch_delay)
                with self._lock:
                    trace = self.traces.get(external_id)
                    if trace is None:
                        return self._error(404, "NOT_FOUND", "trace not found")
                    for msg in messages:
                        trace["messages"][msg["externalId"]] = msg  # idempotent upsert
                return 200, {
                    "ok": True,
                    "data": {"upserted": len(messages), "messageCount": len(trace["messages"])},
                }
        except Invalid as exc:
            return self._error(400, "INVALID_BODY", str(exc))
        return self._error(404, "NOT_FOUND", "no such route")

    def _trace_json(self, external_id: str) -> dict:
        trace = self.traces[external_id]
        now = int(time.time() * 1000)
        return {
            "id": trace["id"],
            "externalId": external_id,
            "createdAt": now,
            "updatedAt": now,
            "namespace": {"id": "ns-1", "slug": "tester"},
            "visibility": trace["meta"].get("visibility", "private"),
            "messageCount": len(trace["messages"]),
            **trace["meta"],
        }


def _handler(api: ApiServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, body, headers = api.handle(self.command, self.path, self.headers, raw)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (a killed worker)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
