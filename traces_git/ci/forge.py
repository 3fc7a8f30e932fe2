"""The one report comment on a pull request (GitHub) or merge request (GitLab).

``post_report`` finds our comment by ``ci_output.MARKER`` at the start of its
body, across every page of the comments (``Link: rel="next"``), and updates it
in place, or creates it when the report has traces. A pull request without
traces gets no comment; one that had our comment sees it updated.

Failures that a CI job cannot fix end in a ``Outcome.warning`` (one line), never
an exception: a fork's read-only token (403), a rate limit longer than we wait
(403/429 with ``Retry-After`` or ``X-RateLimit-Reset``), 5xx after bounded
retries, network errors. The job summary and outputs are written before any
of this. Tokens never appear in messages; a ``next`` link to another host is
not followed (the token would go with it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from traces_git import __version__
from traces_git.ci.output import MARKER
from traces_git.errors import UsageError
from traces_git.upload.api import parse_retry_after
from traces_git.upload.auth import Token

# GitHub refuses comment bodies over 65,536 characters (422); GitLab's limit is
# higher, the same cap keeps both readable.
MAX_BODY = 65_536
PER_PAGE = 100
MAX_PAGES = 200  # 20,000 comments
MAX_WAIT = 60.0  # longest rate-limit wait, seconds
ATTEMPTS = 3  # per request, for 5xx and network errors
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_PROJECT = re.compile(r"^(?:[0-9]{1,20}|[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+)$")


@dataclass(frozen=True)
class Target:
    """Where the comment goes: the list/create URL and the update URL pattern."""

    forge: str  # "github" or "gitlab"
    api_url: str
    token: Token
    comments_path: str  # list (GET) and create (POST)
    comment_path: str  # "{id}": update (PATCH on GitHub, PUT on GitLab)
    label: str  # "pull request #5", "merge request !5"

    @property
    def update_method(self) -> str:
        return "PATCH" if self.forge == "github" else "PUT"

    def headers(self) -> dict[str, str]:
        common = {"User-Agent": f"traces-git/{__version__}", "Accept": "application/json"}
        if self.forge == "github":
            return {
                **common,
                "Authorization": f"Bearer {self.token.value}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        return {**common, "PRIVATE-TOKEN": self.token.value}


@dataclass(frozen=True)
class Outcome:
    action: str  # "created", "updated", "unchanged", "skipped", "failed"
    label: str = ""
    comment_id: int | None = None
    url: str | None = None
    warning: str | None = None
    detail: str = ""

    def as_json(self) -> dict:
        return {
            "action": self.action,
            "target": self.label,
            "id": self.comment_id,
            "url": self.url,
            "warning": self.warning,
            "detail": self.detail,
        }


class NoTarget(Exception):
    """Not a pull/merge request, or no token: nothing to comment on (a reason)."""


def detect_forge(env: Mapping[str, str]) -> str | None:
    if env.get("GITLAB_CI") or env.get("CI_API_V4_URL"):
        return "gitlab"
    if env.get("GITHUB_ACTIONS") or env.get("GITHUB_REPOSITORY"):
        return "github"
    return None


def _api_url(value: str, name: str) -> str:
    parts = urlsplit(value.strip())
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
    ):
        raise UsageError(f"{name} is not an http(s) API URL without credentials")
    return value.strip().rstrip("/")


def target_from_env(env: Mapping[str, str], forge: str | None = None) -> Target:
    """The comment target from CI variables; NoTarget or UsageError (one line) otherwise."""
    forge = forge or detect_forge(env)
    if forge == "github":
        return _github_target(env)
    if forge == "gitlab":
        return _gitlab_target(env)
    raise NoTarget("not running in GitHub Actions or GitLab CI (pass --forge)")


def _github_target(env: Mapping[str, str]) -> Target:
    from traces_git.ci.report import load_event

    repository = env.get("GITHUB_REPOSITORY", "")
    if not _REPOSITORY.match(repository) or ".." in repository:
        raise UsageError("GITHUB_REPOSITORY is not owner/name")
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        raise NoTarget("no GITHUB_EVENT_PATH: not a pull request")
    event = load_event(path)
    pr = event.get("pull_request")
    number = pr.get("number") if isinstance(pr, Mapping) else None
    if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 2**31:
        raise NoTarget("the event is not a pull request")
    value = (env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or "").strip()
    if not value:
        raise NoTarget("no GITHUB_TOKEN or GH_TOKEN to comment with")
    _check_token(value, "GITHUB_TOKEN")
    api = _api_url(env.get("GITHUB_API_URL") or "https://api.github.com", "GITHUB_API_URL")
    owner, name = repository.split("/")
    base = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/issues"
    return Target(
        "github",
        api,
        Token(value, "GITHUB_TOKEN"),
        f"{base}/{number}/comments",
        base + "/comments/{id}",
        f"pull request #{number}",
    )


def _gitlab_target(env: Mapping[str, str]) -> Target:
    iid = env.get("CI_MERGE_REQUEST_IID", "")
    if not iid:
        raise NoTarget("no CI_MERGE_REQUEST_IID: not a merge request pipeline")
    if not iid.isdigit() or not 0 < int(iid) < 2**31:
        raise UsageError("CI_MERGE_REQUEST_IID is not a number")
    project = env.get("CI_PROJECT_ID", "")
    if not _PROJECT.match(project):
        raise UsageError("CI_PROJECT_ID is not a project id or path")
    value = (env.get("TRACES_GITLAB_TOKEN") or "").strip()
    if not value:
        raise NoTarget("no TRACES_GITLAB_TOKEN to comment with")
    _check_token(value, "TRACES_GITLAB_TOKEN")
    api = _api_url(env.get("CI_API_V4_URL", ""), "CI_API_V4_URL")
    base = f"/projects/{quote(project, safe='')}/merge_requests/{int(iid)}/notes"
    return Target(
        "gitlab",
        api,
        Token(value, "TRACES_GITLAB_TOKEN"),
        base,
        base + "/{id}",
        f"merge request !{int(iid)}",
    )


def _check_token(value: str, name: str) -> None:
    if any(ord(c) < 33 or ord(c) > 126 for c in value):
        raise UsageError(f"{name} has characters a token cannot have")


def fit(body: str, trace_count: int, limit: int = MAX_BODY) -> str:
    """``body`` when it fits the forge's limit, else a short stand-in (never sent oversized)."""
    if len(body) <= limit:
        return body
    return (
        f"{MARKER}\n### Agent traces\n\n**{trace_count} trace(s)** in this pull request: "
        f"the full report ({len(body):,} characters) is longer than a comment may be; "
        "it is in the job summary.\n"
    )


# --- talking to the forge ----------------------------------------------------------


class _Failed(Exception):
    def __init__(self, warning: str):
        super().__init__(warning)
        self.warning = warning


class _Session:
    def __init__(
        self,
        target: Target,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None],
        max_wait: float,
        attempts: int,
        timeout: float,
    ):
        self.target = target
        self.sleep = sleep
        self.max_wait = max_wait
        self.attempts = attempts
        origin = urlsplit(target.api_url)
        self.origin = (origin.scheme, origin.hostname, origin.port)
        self.http = httpx.Client(
            transport=transport,
            headers=target.headers(),
            verify=True,
            follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, url: str, body: dict | None = None) -> httpx.Response:
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.http.request(method, url, json=body)
            except httpx.HTTPError as exc:
                if attempt == self.attempts:
                    raise _Failed(f"cannot reach {self._host()}: {type(exc).__name__}") from None
                self.sleep(0.5 * 2 ** (attempt - 1))
                continue
            wait = _rate_limit_wait(response)
            if wait is not None:
                if wait > self.max_wait or attempt == self.attempts:
                    raise _Failed(
                        f"rate limited by {self._host()} (HTTP {response.status_code}, "
                        f"reset in {round(wait)} s): comment not updated"
                    )
                self.sleep(wait)
                continue
            if response.status_code >= 500:
                if attempt == self.attempts:
                    raise _Failed(
                        f"{self._host()} answered HTTP {response.status_code} "
                        f"{self.attempts} times: comment not updated"
                    )
                self.sleep(0.5 * 2 ** (attempt - 1))
                continue
            if response.status_code in (401, 403):
                raise _Failed(
                    f"the token may not comment on the {self.target.label} (HTTP "
                    f"{response.status_code}; a fork's pull request gets a read-only "
                    f"token){_message(response)}"
                )
            if response.status_code >= 400:
                raise _Failed(
                    f"{method} {self._path(url)} failed: HTTP "
                    f"{response.status_code}{_message(response)}"
                )
            return response
        raise _Failed("no answer")  # not reached

    def _host(self) -> str:
        return str(self.origin[1])

    def _path(self, url: str) -> str:
        return urlsplit(url).path

    def same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.hostname, parts.port) == self.origin and not parts.username


def _rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds to wait when the answer is a rate limit (403/429), else None."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry = parse_retry_after(headers.get("Retry-After"))
    if retry is not None:
        return retry
    if headers.get("X-RateLimit-Remaining") == "0" or response.status_code == 429:
        reset = headers.get("X-RateLimit-Reset", "")
        if reset.isdigit():
            return max(0.0, int(reset) - time.time())
        return 60.0 if response.status_code == 429 else None
    return None


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, str):
        return ""
    clean = " ".join("".join(c if c.isprintable() else " " for c in message).split())[:200]
    return f": {clean}" if clean else ""


def _next_link(response: httpx.Response) -> str | None:
    for part in response.headers.get("Link", "").split(","):
        match = re.match(r"\s*<([^<>\s]+)>\s*;(.*)$", part)
        if match and re.search(r'\brel="?next"?', match.group(2)):
            return match.group(1)
    return None


def find_comment(session: _Session) -> tuple[int, str] | None:
    """(id, body) of our comment: the first whose body starts with the marker."""
    target = session.target
    first = f"{target.api_url}{target.comments_path}?per_page={PER_PAGE}"
    if target.forge == "gitlab":
        first += "&sort=asc&order_by=created_at"
    url: str | None = first
    for _page in range(MAX_PAGES):
        if url is None:
            return None
        response = session.request("GET", url)
        try:
            items = response.json()
        except ValueError:
            raise _Failed(f"{target.forge} answered the comment list with non-JSON") from None
        if not isinstance(items, list):
            raise _Failed(f"{target.forge} answered the comment list with a {type(items).__name__}")
        for item in items:
            if not isinstance(item, dict):
                continue
            body, comment_id = item.get("body"), item.get("id")
            if (
                isinstance(body, str)
                and body.lstrip().startswith(MARKER)
                and isinstance(comment_id, int)
                and not isinstance(comment_id, bool)
                and comment_id > 0
            ):
                return comment_id, body
        url = _next_link(response)
        if url is not None and not session.same_origin(url):
            raise _Failed("the comment list's next page is on another host: not followed")
        if url is None and target.forge == "gitlab":
            following = response.headers.get("X-Next-Page", "")
            if following.isdigit():
                url = (
                    f"{target.api_url}{target.comments_path}?per_page={PER_PAGE}"
                    f"&sort=asc&order_by=created_at&page={int(following)}"
                )
    raise _Failed(f"more than {MAX_PAGES * PER_PAGE} comments: ours not found, none posted")


def post_report(
    target: Target,
    body: str,
    trace_count: int,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float = MAX_WAIT,
    attempts: int = ATTEMPTS,
    timeout: float = 30.0,
) -> Outcome:
    """Create or update the one report comment; never raises for the forge's answers."""
    body = fit(body, trace_count)
    session = _Session(target, transport, sleep, max_wait, attempts, timeout)
    try:
        found = find_comment(session)
        if found is None and trace_count == 0:
            return Outcome("skipped", target.label, detail="no traces: no comment")
        if found is not None:
            comment_id, old = found
            if old == body:
                return Outcome("unchanged", target.label, comment_id)
            url = target.api_url + target.comment_path.format(id=comment_id)
            response = session.request(target.update_method, url, {"body": body})
            return Outcome("updated", target.label, comment_id, _html_url(response))
        response = session.request("POST", target.api_url + target.comments_path, {"body": body})
        data = _json(response)
        new_id = data.get("id") if isinstance(data.get("id"), int) else None
        return Outcome("created", target.label, new_id, _html_url(response))
    except _Failed as failed:
        return Outcome("failed", target.label, warning=failed.warning)
    finally:
        session.close()


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _html_url(response: httpx.Response) -> str | None:
    url = _json(response).get("html_url")
    return url if isinstance(url, str) and re.match(r"^https?://[^\s]+$", url) else None


def describe(outcome: Outcome) -> str:
    if outcome.action == "skipped":
        return f"no comment on the {outcome.label}: it has no traces"
    if outcome.action == "unchanged":
        return f"comment {outcome.comment_id} on the {outcome.label} is up to date"
    if outcome.action in ("created", "updated"):
        where = f" ({outcome.url})" if outcome.url else ""
        number = f" {outcome.comment_id}" if outcome.comment_id else ""
        return f"{outcome.action} comment{number} on the {outcome.label}{where}"
    return f"comment not posted: {outcome.warning}"


def dumps(outcome: Outcome) -> str:
    return json.dumps(outcome.as_json(), indent=2)
