"""The Traces API client (httpx). Imported only by the upload worker and commands.

Errors, from the caller's point of view::

    ApiError                 any failure talking to the API (a TracesGitError)
    ├── AuthError            401/403: the token is missing, wrong or not allowed
    ├── TransientError       network failure, timeout, 408/429/5xx or a non-JSON
    │                        answer, still failing after the retries; worth
    │                        retrying later (``retry_after``: what the server asked)
    └── PermanentError       any other 4xx (or ``ok: false``): retrying will not help

Retries inside one call: 429 (waiting what ``Retry-After`` says, capped), 408,
5xx, non-JSON answers and transport errors, with exponential backoff. TLS
verification stays on. Tests inject an ``httpx`` transport; nothing patches httpx.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from urllib.parse import quote

import httpx

from traces_git import __version__, log, safe_text
from traces_git.constants import PRODUCTION_API_URL
from traces_git.errors import TracesGitError
from traces_git.upload.auth import Token

DEFAULT_API_URL = PRODUCTION_API_URL
DEFAULT_WEB_URL = "https://www.traces.com"
MAX_BATCH = 200


class ApiError(TracesGitError):
    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(ApiError):
    pass


class TransientError(ApiError):
    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class PermanentError(ApiError):
    pass


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_text(response: httpx.Response) -> tuple[str | None, str]:
    """(code, message) from an error body, whatever shape it has."""
    try:
        body = response.json()
    except ValueError:
        return None, f"HTTP {response.status_code} (non-JSON answer)"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        # The server's words end up in status, doctor and the log: one line, no controls.
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = error.get("message")
        return (
            safe_text.for_terminal(code, 100) if code else None,
            safe_text.for_terminal(message if isinstance(message, str) else "", 300),
        )
    return None, f"HTTP {response.status_code}"


class Client:
    """One API endpoint with one token."""

    def __init__(
        self,
        base_url: str,
        token: Token,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            verify=True,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {token.value}",
                "User-Agent": f"traces-git/{__version__}",
                "Accept": "application/json",
            },
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- endpoints ---------------------------------------------------------

    def put_trace(self, external_id: str, body: dict) -> dict:
        """Upsert the trace's metadata; returns ``data.trace``."""
        data = self._request("PUT", f"/v1/traces/{quote(external_id, safe='')}", body)
        trace = data.get("trace")
        if not isinstance(trace, dict):
            raise TransientError("the API answered without data.trace")
        return trace

    def post_messages(self, external_id: str, messages: list[dict]) -> dict:
        """Upsert 1..200 messages (idempotent by their externalId)."""
        if not 1 <= len(messages) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} messages, not {len(messages)}")
        path = f"/v1/traces/{quote(external_id, safe='')}/messages/batch"
        return self._request("POST", path, {"messages": messages})

    def get_trace(self, external_id: str) -> dict | None:
        """``data.trace`` of one trace, or None when the API does not know it (404)."""
        try:
            data = self._request("GET", f"/v1/traces/{quote(external_id, safe='')}", None)
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        trace = data.get("trace")
        return trace if isinstance(trace, dict) else None

    def namespaces(self) -> list[dict]:
        """The namespaces this token can publish to (to turn a ``@slug`` into an id)."""
        data = self._request("GET", "/v1/namespaces", None)
        found = data.get("namespaces")
        return [n for n in found if isinstance(n, dict)] if isinstance(found, list) else []

    # --- the retry loop ------------------------------------------------------

    def _request(self, method: str, path: str, body: dict | None) -> dict:
        what = f"{method} {path}"
        last: TransientError | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                response = (
                    self._http.request(method, path)
                    if body is None
                    else self._http.request(method, path, json=body)
                )
            except httpx.TransportError as exc:
                last = TransientError(f"{what}: {type(exc).__name__}: {exc}")
                if isinstance(exc, httpx.ConnectError) and attempt >= 2:
                    raise last from None  # nobody listens: the queue retries later
                wait = self._backoff(attempt)
            else:
                result = self._handle(what, response)
                if not isinstance(result, TransientError):
                    return result
                last = result
                if result.retry_after is not None and result.retry_after > self.max_retry_after:
                    raise result  # the server wants a long pause: the queue holds the entry
                wait = (
                    result.retry_after if result.retry_after is not None else self._backoff(attempt)
                )
            if attempt < self.attempts:
                log.write(
                    f"{last}; retry {attempt}/{self.attempts - 1} in {wait:.1f} s", context="upload"
                )
                self.sleep(wait)
        assert last is not None
        raise last

    def _backoff(self, attempt: int) -> float:
        return self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4)

    def _handle(self, what: str, response: httpx.Response) -> dict | TransientError:
        status = response.status_code
        if 200 <= status < 300:
            try:
                payload = response.json()
            except ValueError:
                return TransientError(
                    f"{what}: HTTP {status} with a non-JSON answer", status=status
                )
            if not isinstance(payload, dict):
                return TransientError(
                    f"{what}: HTTP {status} with an unexpected answer", status=status
                )
            if payload.get("ok") is False:
                code, message = _error_text(response)
                raise PermanentError(
                    f"{what}: {code or 'error'}: {message}", status=status, code=code
                )
            data = payload.get("data")
            return data if isinstance(data, dict) else {}
        code, message = _error_text(response)
        detail = f"{status} {code or ''}".strip() + (f": {message}" if message else "")
        if status == 401:
            raise AuthError(
                f"the Traces API rejected the token ({detail}); "
                "run `traces-git login` with a valid token or set TRACES_API_KEY",
                status=status,
                code=code,
            )
        if status == 403:
            raise AuthError(
                f"the token is not allowed to upload this trace ({detail})",
                status=status,
                code=code,
            )
        if status in (408, 429) or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return TransientError(
                f"{what}: {detail}", status=status, code=code, retry_after=retry_after
            )
        raise PermanentError(f"{what}: {detail}", status=status, code=code)
