"""Titles and agents for ``traces-git ci`` from ``GET /v1/traces/{externalId}``.

Optional: without a token the report comes from the notes alone, and any
failure here (network, auth, odd answers) becomes one warning, never a
failed job. httpx is imported only when a token is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from traces_git.ci import reason_of, warn

PRODUCTION_API = "https://actions.traces.com"
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
    """Token from TRACES_CLI_AUTH_TOKEN or TRACES_API_KEY (else ``traces-git login``'s
    stored token); base URL from TRACES_HTTP_URL, ``traces.apiUrl``, else production.
    None (notes only) without a token."""
    token = (env.get("TRACES_CLI_AUTH_TOKEN") or env.get("TRACES_API_KEY") or "").strip()
    if not token:
        token = _stored_token()
    if not token:
        return None
    base_url = (env.get("TRACES_HTTP_URL") or config_api_url or PRODUCTION_API).strip()
    return ApiSettings(base_url.rstrip("/"), token)


def _stored_token() -> str:
    try:
        from traces_git import auth
    except ImportError:
        return ""
    try:
        stored = auth.load()
    except Exception as exc:  # noqa: BLE001 - an unsafe token file means "no titles", not a failure
        warn(f"{reason_of(exc)}: showing traces from notes only")
        return ""
    return stored.value if stored is not None else ""


def enrich(report: dict, settings: ApiSettings, *, transport=None,
           timeout: float = ENRICH_TIMEOUT_S) -> list[str]:
    """Add ``title`` and ``agent`` to the report's traces from ``GET /v1/traces/{id}``.

    Returns warnings; never raises: the report stays usable from the notes alone.
    A trace the API does not know (404) simply gets no title.
    """
    traces = report["traces"][:ENRICH_LIMIT]
    if not traces:
        return []
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        return ["httpx is not installed: showing traces from notes only"]
    warnings: list[str] = []
    problems: list[str] = []
    try:
        client = httpx.Client(
            base_url=settings.base_url,
            headers={"Authorization": f"Bearer {settings.token}", "Accept": "application/json",
                     "User-Agent": "traces-git-ci"},
            timeout=timeout,
            transport=transport,
        )
    except Exception as exc:  # noqa: BLE001 - a bad URL must not fail the job
        return [f"could not reach the Traces API ({reason_of(exc)}): "
                "showing traces from notes only"]

    def fetch_one(trace_id: str) -> dict | None:
        if problems:
            return None  # the API already failed (auth, network): stop asking
        try:
            response = client.get(f"/v1/traces/{trace_id}")
        except Exception as exc:  # noqa: BLE001 - httpx errors, bad URLs: never fail the job
            problems.append(reason_of(exc))
            return None
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            problems.append(f"HTTP {response.status_code}: token not accepted")
            return None
        if response.status_code != 200:
            problems.append(f"HTTP {response.status_code}")
            return None
        try:
            body = response.json()
            trace = body["data"]["trace"] if body.get("ok") else None
        except (ValueError, KeyError, TypeError, AttributeError):
            problems.append("unexpected response")
            return None
        return trace if isinstance(trace, dict) else None

    with client:
        from concurrent.futures import ThreadPoolExecutor  # only with a token: ~10 ms

        with ThreadPoolExecutor(max_workers=ENRICH_WORKERS) as pool:
            found = list(pool.map(fetch_one, [t["id"] for t in traces]))
    for trace, data in zip(traces, found, strict=True):
        if not data:
            continue
        if isinstance(data.get("title"), str):
            trace["title"] = data["title"]
        if isinstance(data.get("agentId"), str):
            trace["agent"] = data["agentId"]
    if problems:
        added = any("title" in t or "agent" in t for t in traces)
        warnings.append(f"could not add titles from the Traces API ({problems[0]}): "
                        + ("some traces have none" if added else "showing traces from notes only"))
    if len(report["traces"]) > ENRICH_LIMIT:
        warnings.append(f"titles fetched for the first {ENRICH_LIMIT} traces only")
    return warnings
