"""A GitHub and GitLab comments API on 127.0.0.1, enforcing what ``ci comment`` relies on.

GitHub: ``Authorization: Bearer <token>`` (or ``token <token>``);
``GET/POST /repos/{owner}/{repo}/issues/{n}/comments`` (``per_page`` at most 100,
``page``, a ``Link`` header with ``rel="next"``), ``PATCH
/repos/{owner}/{repo}/issues/comments/{id}``. GitLab under ``/api/v4``:
``PRIVATE-TOKEN``; ``GET/POST /projects/{id}/merge_requests/{iid}/notes``
(``Link`` and ``X-Next-Page``), ``PUT .../notes/{id}``. Both: 401 without a
valid token, 403 for a write with a read-only token, 422 for a body over
65,536 characters, 404 for another pull request's comment. ``fail`` queues
canned answers (rate limits, 5xx); ``requests`` records every request.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MAX_BODY = 65_536


@dataclass
class Comment:
    id: int
    body: str
    author: str = "someone"


@dataclass
class ForgeState:
    tokens: dict[str, str] = field(
        default_factory=lambda: {"write-token": "write", "read-token": "read"}
    )
    threads: dict[tuple, list[Comment]] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    failures: list[tuple[int, dict, str]] = field(default_factory=list)
    next_id: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(
        self, status: int, headers: dict | None = None, body: str = "{}", times: int = 1
    ) -> None:
        self.failures += [(status, headers or {}, body)] * times

    def add(self, key: tuple, body: str, author: str = "someone") -> Comment:
        with self.lock:
            self.next_id += 1
            comment = Comment(self.next_id, body, author)
            self.threads.setdefault(key, []).append(comment)
            return comment

    def find(self, comment_id: int) -> tuple[tuple, Comment] | None:
        for key, comments in self.threads.items():
            for comment in comments:
                if comment.id == comment_id:
                    return key, comment
        return None

    def writes(self) -> list[dict]:
        return [r for r in self.requests if r["method"] != "GET"]


GH_LIST = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$")
GH_ONE = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$")
GL_LIST = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes$")
GL_ONE = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes/(\d+)$")


def make_handler(state: ForgeState):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, data: object, headers: dict | None = None) -> None:
            raw = data.encode() if isinstance(data, str) else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            record = {
                "method": self.command,
                "path": parts.path,
                "query": parts.query,
                "authorization": self.headers.get("Authorization"),
                "private_token": self.headers.get("PRIVATE-TOKEN"),
                "body_length": None,
            }
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if isinstance(body, dict) and isinstance(body.get("body"), str):
                    record["body_length"] = len(body["body"])
            state.requests.append(record)
            gitlab = parts.path.startswith("/api/v4/")
            token = self._token(gitlab)
            if state.tokens.get(token or "") is None:
                return self._send(401, {"message": "Bad credentials"})
            with state.lock:
                failure = state.failures.pop(0) if state.failures else None
            if failure is not None:
                status, headers, text = failure
                return self._send(status, text, headers)
            if self.command != "GET" and state.tokens[token] != "write":
                message = (
                    "Resource not accessible by integration" if not gitlab else "403 Forbidden"
                )
                return self._send(403, {"message": message})
            if self.command in ("POST", "PATCH", "PUT"):
                if (
                    not isinstance(body, dict)
                    or not isinstance(body.get("body"), str)
                    or set(body) != {"body"}
                ):
                    return self._send(400, {"message": "Problems parsing JSON"})
                if len(body["body"]) > MAX_BODY:
                    return self._send(
                        422,
                        {
                            "message": "Validation Failed",
                            "errors": [
                                {
                                    "field": "body",
                                    "code": "custom",
                                    "message": "body is too long (maximum is 65536 characters)",
                                }
                            ],
                        },
                    )
            query = parse_qs(parts.query)
            route = self._route(parts.path, gitlab)
            if route is None:
                return self._send(404, {"message": "Not Found"})
            kind, key, comment_id = route
            if kind == "list" and self.command == "GET":
                return self._list(key, query, gitlab)
            if kind == "list" and self.command == "POST":
                comment = state.add(key, body["body"], author="traces-bot")
                return self._send(201, self._json(comment, key, gitlab))
            if kind == "one" and self.command == ("PUT" if gitlab else "PATCH"):
                found = state.find(comment_id)
                if (
                    found is None
                    or (gitlab and found[0] != key)
                    or (not gitlab and found[0][:2] != key[:2])
                ):
                    return self._send(404, {"message": "Not Found"})
                found[1].body = body["body"]
                return self._send(200, self._json(found[1], found[0], gitlab))
            return self._send(405, {"message": "Method Not Allowed"})

        def _token(self, gitlab: bool) -> str | None:
            if gitlab:
                return self.headers.get("PRIVATE-TOKEN")
            value = self.headers.get("Authorization") or ""
            for prefix in ("Bearer ", "token "):
                if value.startswith(prefix):
                    return value[len(prefix) :]
            return None

        def _route(self, path: str, gitlab: bool):
            if gitlab:
                if m := GL_LIST.match(path):
                    return "list", ("gl", unquote(m.group(1)), int(m.group(2))), None
                if m := GL_ONE.match(path):
                    return "one", ("gl", unquote(m.group(1)), int(m.group(2))), int(m.group(3))
                return None
            if m := GH_LIST.match(path):
                return "list", ("gh", f"{m.group(1)}/{m.group(2)}", int(m.group(3))), None
            if m := GH_ONE.match(path):
                return "one", ("gh", f"{m.group(1)}/{m.group(2)}"), int(m.group(3))
            return None

        def _json(self, comment: Comment, key: tuple, gitlab: bool) -> dict:
            host = f"http://{self.headers.get('Host')}"
            if gitlab:
                return {
                    "id": comment.id,
                    "body": comment.body,
                    "system": False,
                    "author": {"username": comment.author},
                }
            return {
                "id": comment.id,
                "body": comment.body,
                "user": {"login": comment.author},
                "html_url": f"{host}/{key[1]}/pull/{key[2]}#issuecomment-{comment.id}",
            }

        def _list(self, key: tuple, query: dict, gitlab: bool) -> None:
            try:
                per_page = int(query.get("per_page", ["30"])[0])
                page = int(query.get("page", ["1"])[0])
            except ValueError:
                return self._send(400, {"message": "bad page"})
            per_page = max(1, min(per_page, 100))
            comments = state.threads.get(key, [])
            chunk = comments[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(comments):
                path = urlsplit(self.path).path
                extra = "&sort=asc&order_by=created_at" if gitlab else ""
                link = (
                    f"http://{self.headers.get('Host')}{path}?per_page={per_page}"
                    f"{extra}&page={page + 1}"
                )
                headers["Link"] = f'<{link}>; rel="next"'
                if gitlab:
                    headers["X-Next-Page"] = str(page + 1)
            return self._send(200, [self._json(c, key, gitlab) for c in chunk], headers)

        do_GET = do_POST = do_PATCH = do_PUT = _handle

    return Handler


class ForgeServer:
    def __init__(self) -> None:
        self.state = ForgeState()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ForgeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
