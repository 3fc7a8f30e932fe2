"""``traces-git ci comment`` end to end against GitHub- and GitLab-like servers on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import commit_file, git, init_repo, traces_git
from tests.helpers.ci import github_env, pull_request_event, push_event
from tests.helpers.forge_server import MAX_BODY, ForgeServer
from traces_git.ci import forge
from traces_git.ci.output import MARKER
from traces_git.upload.auth import Token

WRITE, READ = "write-token", "read-token"


@pytest.fixture
def server():
    with ForgeServer() as running:
        yield running


@pytest.fixture
def pr(tmp_path: Path) -> dict:
    """A repository with main and a two-commit branch whose first commit has a trace."""
    work = init_repo(tmp_path / "work")
    base = commit_file(work, "a.txt", message="main")
    git("checkout", "-q", "-b", "feature", cwd=work)
    first = commit_file(work, "f1.txt", message="feature: one")
    traces_git("attach", "trace-alpha", first, cwd=work)
    head = commit_file(work, "f2.txt", message="feature: two")
    event = pull_request_event(tmp_path / "event.json", base, head)
    data = json.loads(event.read_text())
    data["pull_request"]["number"] = 7
    event.write_text(json.dumps(data))
    return {
        "work": work,
        "base": base,
        "head": head,
        "first": first,
        "event": event,
        "tmp": tmp_path,
    }


def github(pr: dict, server: ForgeServer, token: str | None = WRITE, **extra: str) -> dict:
    env = github_env(pr["tmp"], pr["event"])
    env.update(GITHUB_API_URL=server.url, GITHUB_REPOSITORY="octo/repo", **extra)
    if token:
        env["GITHUB_TOKEN"] = token
    return env


def comment(pr: dict, env: dict, *args: str, base: str | None = None, head: str | None = None):
    return traces_git(
        "ci",
        "comment",
        "--no-fetch",
        "--base",
        base or pr["base"],
        "--head",
        head or pr["head"],
        "--json",
        *args,
        cwd=pr["work"],
        env=env,
        check=False,
    )


def outcome(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


GH = ("gh", "octo/repo", 7)


def test_github_creates_then_updates_one_comment_in_place(pr, server):
    env = github(pr, server)
    first = outcome(comment(pr, env))
    assert first["action"] == "created" and first["trace_count"] == 1
    [ours] = server.state.threads[GH]
    assert ours.body.startswith(MARKER) and "trace-alpha" in ours.body
    assert first["url"].endswith(f"#issuecomment-{ours.id}")
    post = server.state.writes()[0]
    assert post["method"] == "POST" and post["authorization"] == f"Bearer {WRITE}"
    assert post["path"] == "/repos/octo/repo/issues/7/comments"
    # the job summary and the outputs are written as by `traces-git ci`
    assert "trace-alpha" in (pr["tmp"] / "step_summary.md").read_text()
    assert "trace-count=1\n" in (pr["tmp"] / "github_output.txt").read_text()

    again = outcome(comment(pr, env))
    assert again["action"] == "unchanged" and len(server.state.writes()) == 1

    newer = commit_file(pr["work"], "f3.txt", message="feature: three")
    traces_git("attach", "trace-beta", newer, cwd=pr["work"])
    updated = outcome(comment(pr, env, head=newer))
    assert updated["action"] == "updated" and updated["id"] == ours.id
    assert [c.id for c in server.state.threads[GH]] == [ours.id]  # still one comment
    assert "trace-beta" in ours.body
    assert server.state.writes()[-1]["method"] == "PATCH"
    assert server.state.writes()[-1]["path"] == f"/repos/octo/repo/issues/comments/{ours.id}"


def test_github_finds_its_comment_past_the_first_page(pr, server):
    for number in range(130):
        server.state.add(GH, f"comment {number} mentions {MARKER} in the middle")
    ours = server.state.add(GH, f"{MARKER}\nold report")
    for number in range(40):
        server.state.add(GH, f"> {MARKER} quoted by a reviewer {number}")
    result = outcome(comment(pr, github(pr, server)))
    assert result["action"] == "updated" and result["id"] == ours.id
    pages = [r["query"] for r in server.state.requests if r["method"] == "GET"]
    assert len(pages) == 2 and "page=2" in pages[1] and "per_page=100" in pages[0]
    assert "trace-alpha" in ours.body
    assert [w["method"] for w in server.state.writes()] == ["PATCH"]


def test_github_posts_after_reading_every_page_when_none_is_ours(pr, server):
    for number in range(250):
        server.state.add(GH, f"comment {number}")
    result = outcome(comment(pr, github(pr, server)))
    assert result["action"] == "created"
    assert len([r for r in server.state.requests if r["method"] == "GET"]) == 3
    assert len(server.state.threads[GH]) == 251


def test_no_comment_for_zero_traces_and_an_old_one_says_none_now(pr, server):
    env = github(pr, server)
    # a range without traces: the second commit only
    nothing = outcome(comment(pr, env, base=pr["first"]))
    assert nothing["action"] == "skipped" and server.state.writes() == []
    assert GH not in server.state.threads
    assert "trace-count=0\n" in (pr["tmp"] / "github_output.txt").read_text()

    outcome(comment(pr, env))  # traces: created
    [ours] = server.state.threads[GH]
    now_none = outcome(comment(pr, env, base=pr["first"]))
    assert now_none["action"] == "updated" and now_none["id"] == ours.id
    assert "No agent traces" in ours.body and "trace-alpha" not in ours.body


def test_fork_read_only_token_is_one_warning_and_exit_0(pr, server):
    proc = comment(pr, github(pr, server, token=READ))
    result = outcome(proc)
    assert result["action"] == "failed"
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("traces-git: warning: ")
    assert "HTTP 403" in proc.stderr and "read-only" in proc.stderr
    assert READ not in proc.stderr + proc.stdout
    assert GH not in server.state.threads
    assert "trace-alpha" in (pr["tmp"] / "step_summary.md").read_text()
    assert "trace-count=1\n" in (pr["tmp"] / "github_output.txt").read_text()


def test_rate_limit_short_wait_then_success(pr, server):
    reset = str(int(time.time()) + 2)
    server.state.fail(
        403,
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        '{"message": "API rate limit exceeded"}',
    )
    started = time.monotonic()
    result = outcome(comment(pr, github(pr, server)))
    assert result["action"] == "created"
    assert time.monotonic() - started >= 0.9  # it waited for the reset
    assert len(server.state.threads[GH]) == 1


def test_rate_limit_too_long_gives_up_at_once_with_one_warning(pr, server):
    server.state.fail(429, {"Retry-After": "3600"}, "{}")
    proc = comment(pr, github(pr, server))
    assert outcome(proc)["action"] == "failed"
    assert (
        proc.stderr.startswith("traces-git: warning: rate limited") and proc.stderr.count("\n") == 1
    )
    assert len(server.state.requests) == 1 and GH not in server.state.threads
    assert "trace-count=1\n" in (pr["tmp"] / "github_output.txt").read_text()


def test_5xx_is_retried_a_bounded_number_of_times(pr, server):
    server.state.fail(502, times=1)
    assert outcome(comment(pr, github(pr, server)))["action"] == "created"
    server.state.threads.clear()
    server.state.requests.clear()
    server.state.fail(503, times=10)
    proc = comment(pr, github(pr, server))
    assert outcome(proc)["action"] == "failed"
    assert "HTTP 503 3 times" in proc.stderr and proc.stderr.count("\n") == 1
    assert len(server.state.requests) == 3


def test_oversized_body_is_never_sent(server):
    target = forge.Target(
        "github",
        server.url,
        Token(WRITE, "GITHUB_TOKEN"),
        "/repos/octo/repo/issues/7/comments",
        "/repos/octo/repo/issues/comments/{id}",
        "pull request #7",
    )
    huge = MARKER + "\n" + "x" * (MAX_BODY + 10)
    result = forge.post_report(target, huge, 3)
    assert result.action == "created"
    lengths = [r["body_length"] for r in server.state.writes()]
    assert lengths and all(n <= MAX_BODY for n in lengths)
    [ours] = server.state.threads[GH]
    assert ours.body.startswith(MARKER) and "3 trace(s)" in ours.body
    # the server itself refuses what is too long: the check above is not vacuous
    raw = httpx.post(
        f"{server.url}/repos/octo/repo/issues/7/comments",
        json={"body": "y" * (MAX_BODY + 1)},
        headers={"Authorization": f"Bearer {WRITE}"},
    )
    assert raw.status_code == 422


def test_push_event_and_missing_token_post_nothing(pr, server):
    push = push_event(pr["tmp"] / "push.json", pr["base"], pr["head"])
    env = github(pr, server, GITHUB_EVENT_PATH=str(push))
    result = outcome(comment(pr, env))
    assert result["action"] == "none" and "not a pull request" in result["detail"]
    no_token = outcome(comment(pr, github(pr, server, token=None)))
    assert no_token["action"] == "none" and "GITHUB_TOKEN" in no_token["detail"]
    assert server.state.requests == []


@pytest.mark.parametrize(
    "variable,value",
    [
        ("GITHUB_REPOSITORY", "octo/../../evil"),
        ("GITHUB_REPOSITORY", "no-slash"),
        ("GITHUB_API_URL", "file:///etc/passwd"),
        ("GITHUB_API_URL", "https://user:pw@api.example.com"),
        ("GITHUB_TOKEN", "tok\nInjected: yes"),
    ],
)
def test_hostile_environment_is_one_line_and_nothing_sent(pr, server, variable, value):
    env = github(pr, server)
    env[variable] = value
    proc = comment(pr, env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr and value not in proc.stderr
    assert server.state.requests == []
    assert "trace-count=1\n" in (pr["tmp"] / "github_output.txt").read_text()


def gitlab(pr: dict, server: ForgeServer, token: str = WRITE) -> dict:
    return {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": f"{server.url}/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "9",
        "TRACES_GITLAB_TOKEN": token,
    }


GL = ("gl", "42", 9)


def test_gitlab_creates_pages_and_updates_its_note(pr, server):
    env = gitlab(pr, server)
    for number in range(120):
        server.state.add(GL, f"note {number}")
    created = outcome(comment(pr, env))
    assert created["action"] == "created" and created["target"] == "merge request !9"
    post = server.state.writes()[0]
    assert post["private_token"] == WRITE and post["authorization"] is None
    assert post["path"] == "/api/v4/projects/42/merge_requests/9/notes"
    gets = [r for r in server.state.requests if r["method"] == "GET"]
    assert len(gets) == 2
    newer = commit_file(pr["work"], "f3.txt", message="feature: three")
    traces_git("attach", "trace-gamma", newer, cwd=pr["work"])
    updated = outcome(comment(pr, env, head=newer))
    assert updated["action"] == "updated" and updated["id"] == created["id"]
    assert server.state.writes()[-1]["method"] == "PUT"
    assert "trace-gamma" in server.state.threads[GL][-1].body
    assert len(server.state.threads[GL]) == 121


def test_gitlab_read_only_token_and_zero_traces(pr, server):
    proc = comment(pr, gitlab(pr, server, token=READ))
    assert outcome(proc)["action"] == "failed" and "HTTP 403" in proc.stderr
    skipped = outcome(comment(pr, gitlab(pr, server), base=pr["first"]))
    assert skipped["action"] == "skipped" and GL not in server.state.threads


# --- unit tests with an injected transport: hostile answers -------------------------


def _target(forge_name: str = "github") -> forge.Target:
    return forge.Target(
        forge_name,
        "https://api.example.com",
        Token("t0k3n", "GITHUB_TOKEN"),
        "/repos/o/r/issues/1/comments",
        "/repos/o/r/issues/comments/{id}",
        "pull request #1",
    )


def test_next_link_to_another_host_is_not_followed():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(
            200, json=[], headers={"Link": '<https://evil.example.net/steal?page=2>; rel="next"'}
        )

    result = forge.post_report(
        _target(), MARKER + "\nbody", 1, transport=httpx.MockTransport(handler)
    )
    assert result.action == "failed" and "another host" in result.warning
    assert all(url.startswith("https://api.example.com/") for url in seen)


@pytest.mark.parametrize(
    "answer",
    [
        {"message": "not a list"},
        "<html>",
        [
            {"id": "12", "body": MARKER},
            {"id": True, "body": MARKER},
            {"id": 5, "body": None},
            ["x"],
            {"id": -1, "body": MARKER},
        ],
    ],
)
def test_hostile_comment_lists_never_crash_and_never_patch_a_bogus_id(answer):
    methods = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if request.method == "GET":
            if isinstance(answer, str):
                return httpx.Response(200, text=answer)
            return httpx.Response(200, json=answer)
        return httpx.Response(201, json={"id": 99, "html_url": "javascript:alert(1)"})

    result = forge.post_report(
        _target(), MARKER + "\nbody", 1, transport=httpx.MockTransport(handler)
    )
    assert "PATCH" not in methods
    if isinstance(answer, list):
        assert result.action == "created" and result.url is None  # not a web URL
    else:
        assert result.action == "failed" and result.warning


def test_hostile_error_message_is_cleaned_and_short():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "\x1b[31mred\x1b[0m\n" + "z" * 5000})

    result = forge.post_report(_target(), MARKER, 1, transport=httpx.MockTransport(handler))
    assert result.action == "failed"
    assert "\x1b" not in result.warning and "\n" not in result.warning
    assert len(result.warning) < 400


def test_network_errors_are_retried_then_a_warning():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("refused")

    result = forge.post_report(
        _target(), MARKER, 1, transport=httpx.MockTransport(handler), sleep=lambda s: None
    )
    assert result.action == "failed" and "cannot reach api.example.com" in result.warning
    assert len(calls) == forge.ATTEMPTS
