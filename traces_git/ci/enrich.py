"""Titles and agents for ``traces-git ci`` and ``blame`` from ``GET /v1/traces/{externalId}``.

Optional: without a token the report comes from the notes alone, and any
failure here (network, auth, odd answers) becomes one warning, never a
failed job. The requests go through the one API client (``upload.api.Client``:
one User-Agent, one error mapping); httpx is imported only when a token is
configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from traces_git import safe_text
from traces_git.ci.report import reason_of, warn
from traces_git.constants import PRODUCTION_API_URL

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

PRODUCTION_API = PRODUCTION_API_URL
# At most this many API calls, this many at once, each this long.
ENRICH_LIMIT = 200
ENRICH_WORKERS = 8
ENRICH_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ApiSettings:
    base_url: str
    token: str

    def __repr__(self) -> str:  # the token never shows up in a log or traceback
        return f"ApiSettings(base_url={self.base_url!r}, token=***)"


def api_settings(env: Mapping[str, str], config_api_url: str | None) -> ApiSettings | None:
    """The API and token as every other command resolves them: base URL from
    TRACES_HTTP_URL, ``traces.apiUrl``, else production; token from
    TRACES_CLI_AUTH_TOKEN, the stored login for that URL, then TRACES_API_KEY
    (the official CLI's order). None (notes only) without a token."""
    from traces_git.upload import auth

    base_url = (env.get("TRACES_HTTP_URL") or config_api_url or PRODUCTION_API).strip()
    base_url = base_url.rstrip("/")
    try:
        token = auth.load(base_url, env)
    except auth.TokenFileError as exc:  # an unsafe token file means "no titles", not a failure
        warn(f"{reason_of(exc)}: showing traces from notes only")
        token = auth.from_env(env)
    return ApiSettings(base_url, token.value) if token is not None else None


def enrich(
    report: dict,
    settings: ApiSettings,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = ENRICH_TIMEOUT_S,
) -> list[str]:
    """Add ``title`` and ``agent`` to the report's traces from ``GET /v1/traces/{id}``.

    Returns warnings; never raises: the report stays usable from the notes alone.
    A trace the API does not know (404) simply gets no title.
    """
    traces = report["traces"][:ENRICH_LIMIT]
    if not traces:
        return []
    from traces_git.upload import api
    from traces_git.upload.auth import Token

    warnings: list[str] = []
    problems: list[str] = []
    try:
        client = api.Client(
            settings.base_url,
            Token(settings.token, "ci"),
            transport=transport,
            timeout=timeout,
            attempts=1,
        )
    except Exception as exc:  # noqa: BLE001 - a bad URL must not fail the job
        return [
            f"could not reach the Traces API ({reason_of(exc)}): showing traces from notes only"
        ]

    def fetch_one(trace_id: str) -> dict | None:
        if problems:
            return None  # the API already failed (auth, network): stop asking
        try:
            return client.get_trace(trace_id)
        except api.AuthError as exc:
            problems.append(f"HTTP {exc.status}: token not accepted")
        except api.ApiError as exc:
            if exc.status is None:
                problems.append(reason_of(exc))
            elif exc.status >= 300:
                problems.append(f"HTTP {exc.status}")
            else:  # a 2xx whose body is not the API's JSON
                problems.append("unexpected response")
        except Exception as exc:  # noqa: BLE001 - httpx errors, bad URLs: never fail the job
            problems.append(reason_of(exc))
        return None

    with client:
        from concurrent.futures import ThreadPoolExecutor  # only with a token: ~10 ms

        with ThreadPoolExecutor(max_workers=ENRICH_WORKERS) as pool:
            found = list(pool.map(fetch_one, [t["id"] for t in traces]))
    for trace, data in zip(traces, found, strict=True):
        if not data:
            continue
        # The API's answer is foreign text: bounded, controls dropped (safe_text).
        if isinstance(data.get("title"), str):
            trace["title"] = safe_text.bounded(data["title"])
        if isinstance(data.get("agentId"), str):
            trace["agent"] = safe_text.bounded(data["agentId"], 100)
    if problems:
        added = any("title" in t or "agent" in t for t in traces)
        warnings.append(
            f"could not add titles from the Traces API ({problems[0]}): "
            + ("some traces have none" if added else "showing traces from notes only")
        )
    if len(report["traces"]) > ENRICH_LIMIT:
        warnings.append(f"titles fetched for the first {ENRICH_LIMIT} traces only")
    return warnings
