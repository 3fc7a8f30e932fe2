"""Titles and agents from the Traces API in ``traces-git ci``; any API failure degrades to notes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from tests.helpers import commit_file, git, init_repo, traces_git
from tests.helpers.api_server import ApiServer
from tests.helpers.ci import bare_remote, shallow_checkout
from traces_git.ci import enrich as ci_api
from traces_git.ci import output as ci_output

TOKEN = "trk_ci_test_token_777"


def _report(*ids: str) -> dict:
    traces = [{"id": i, "url": None, "commits": ["a" * 40]} for i in ids]
    commits = [{"sha": "a" * 40, "subject": "s", "traces": [{"id": i, "url": None} for i in ids]}]
    return {"base": "b" * 40, "head": "a" * 40, "commits": commits, "traces": traces}


def _settings() -> ci_api.ApiSettings:
    return ci_api.ApiSettings("https://api.example", TOKEN)


def test_enrich_adds_title_and_agent_and_skips_unknown_traces() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.headers["Authorization"]))
        if request.url.path == "/v1/traces/alpha":
            return httpx.Response(
                200,
                json={
                    "ok": True,
                    "data": {
                        "trace": {
                            "externalId": "alpha",
                            "title": "Fix the parser",
                            "agentId": "claude-code",
                        }
                    },
                },
            )
        return httpx.Response(
            404, json={"ok": False, "error": {"code": "NOT_FOUND", "message": "no"}}
        )

    report = _report("alpha", "beta")
    warnings = ci_api.enrich(report, _settings(), transport=httpx.MockTransport(handler))

    assert warnings == []
    assert report["traces"][0] == {
        "id": "alpha",
        "url": None,
        "commits": ["a" * 40],
        "title": "Fix the parser",
        "agent": "claude-code",
    }
    assert report["traces"][1] == {"id": "beta", "url": None, "commits": ["a" * 40]}
    assert sorted(seen) == [
        ("GET", "/v1/traces/alpha", f"Bearer {TOKEN}"),
        ("GET", "/v1/traces/beta", f"Bearer {TOKEN}"),
    ]


@pytest.mark.parametrize(
    "response, reason",
    [
        (
            httpx.Response(
                401, json={"ok": False, "error": {"code": "UNAUTHENTICATED", "message": "bad"}}
            ),
            "HTTP 401: token not accepted",
        ),
        (httpx.Response(500, text="oops"), "HTTP 500"),
        (httpx.Response(200, text="<html>not json</html>"), "unexpected response"),
    ],
)
def test_enrich_failures_leave_the_notes_only_report(response: httpx.Response, reason: str) -> None:
    report = _report("alpha")
    before = json.loads(json.dumps(report))
    warnings = ci_api.enrich(
        report, _settings(), transport=httpx.MockTransport(lambda request: response)
    )
    assert warnings == [
        f"could not add titles from the Traces API ({reason}): showing traces from notes only"
    ]
    assert report == before


def test_enrich_network_error_is_a_warning() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    report = _report("alpha", "beta")
    warnings = ci_api.enrich(report, _settings(), transport=httpx.MockTransport(handler))
    assert len(warnings) == 1 and "connection refused" in warnings[0]
    assert TOKEN not in warnings[0]
    assert all("title" not in t for t in report["traces"])


def test_api_settings_sources() -> None:
    assert ci_api.api_settings({}, "https://configured.example") is None
    settings = ci_api.api_settings({"TRACES_API_KEY": TOKEN}, None)
    assert settings == ci_api.ApiSettings(ci_api.PRODUCTION_API, TOKEN)
    assert TOKEN not in repr(settings)
    configured = ci_api.api_settings({"TRACES_API_KEY": TOKEN}, "https://configured.example/")
    assert configured.base_url == "https://configured.example"
    both = ci_api.api_settings(
        {
            "TRACES_CLI_AUTH_TOKEN": "cli",
            "TRACES_API_KEY": TOKEN,
            "TRACES_HTTP_URL": "http://127.0.0.1:9",
        },
        "https://configured.example",
    )
    assert both == ci_api.ApiSettings("http://127.0.0.1:9", "cli")


def test_markdown_with_titles_escapes_what_the_api_says() -> None:
    report = _report("alpha")
    report["traces"][0].update(title="<script>x</script> | [link](http://evil)", agent="codex")
    report["traces"][0]["url"] = "https://www.traces.com/s/alpha"
    markdown = ci_output.render_markdown(report)
    assert "| Trace | Agent | Title | Commits |" in markdown
    assert (
        "| [`alpha`](<https://www.traces.com/s/alpha>) | codex | "
        "\\<script\\>x\\<\\/script\\> \\| \\[link\\]\\(http\\:\\/\\/evil\\) | `aaaaaaa` |"
    ) in markdown
    assert "<script>" not in markdown


def test_markdown_never_links_a_url_that_could_break_out() -> None:
    report = _report("alpha")
    report["traces"][0]["url"] = "javascript:alert(1)"
    assert "| `alpha` | `aaaaaaa` |" in ci_output.render_markdown(report)


@pytest.fixture
def noted_clone(tmp_path: Path) -> tuple[Path, str, str]:
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    base = commit_file(work, "a.txt", message="one")
    tip = commit_file(work, "b.txt", message="two")
    git("notes", "--ref=traces", "add", "-m", "traces:alpha\ntraces:beta", tip, cwd=work)
    git("push", "-q", url, "main", "refs/notes/traces", cwd=work)
    return shallow_checkout(tmp_path / "ci", url, tip), base, tip


def test_ci_adds_titles_from_a_real_api_server(noted_clone) -> None:
    clone, base, tip = noted_clone
    server = ApiServer(token=TOKEN).start()
    try:
        server.traces["alpha"] = {
            "meta": {"title": "Fix the parser", "agentId": "claude-code"},
            "messages": {},
            "id": "srv-1",
        }
        env = {"TRACES_API_KEY": TOKEN, "TRACES_HTTP_URL": server.url}
        proc = traces_git("ci", "--json", "--base", base, "--head", tip, cwd=clone, env=env)
        markdown = traces_git("ci", "--base", base, "--head", tip, cwd=clone, env=env).stdout
    finally:
        server.stop()
    assert proc.stderr == ""
    traces = json.loads(proc.stdout)["traces"]
    assert traces == [
        {
            "id": "alpha",
            "url": None,
            "commits": [tip],
            "title": "Fix the parser",
            "agent": "claude-code",
        },
        {"id": "beta", "url": None, "commits": [tip]},  # the API does not know it
    ]
    assert "| `alpha` | claude-code | Fix the parser |" in markdown
    assert all(r.authorized for r in server.of("GET", "/v1/traces/"))


def test_ci_with_a_rejected_token_still_reports_from_notes(noted_clone) -> None:
    clone, base, tip = noted_clone
    server = ApiServer(token=TOKEN, reject_token=True).start()
    try:
        proc = traces_git(
            "ci",
            "--json",
            "--base",
            base,
            "--head",
            tip,
            cwd=clone,
            env={"TRACES_API_KEY": TOKEN, "TRACES_HTTP_URL": server.url},
        )
    finally:
        server.stop()
    assert proc.returncode == 0
    assert proc.stderr == (
        "traces-git: warning: could not add titles from the Traces API "
        "(HTTP 401: token not accepted): showing traces from notes only\n"
    )
    assert [t["id"] for t in json.loads(proc.stdout)["traces"]] == ["alpha", "beta"]


def test_ci_with_an_unreachable_api_still_reports_from_notes(noted_clone) -> None:
    clone, base, tip = noted_clone
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = traces_git(
        "ci",
        "--json",
        "--base",
        base,
        "--head",
        tip,
        cwd=clone,
        env={"TRACES_API_KEY": TOKEN, "TRACES_HTTP_URL": f"http://127.0.0.1:{port}"},
    )
    assert proc.returncode == 0
    assert proc.stderr.startswith("traces-git: warning: could not add titles from the Traces API")
    assert proc.stderr.count("\n") == 1 and TOKEN not in proc.stderr
    assert [t["id"] for t in json.loads(proc.stdout)["traces"]] == ["alpha", "beta"]


def test_enrich_with_a_url_httpx_cannot_use_is_a_warning() -> None:
    report = _report("alpha")
    warnings = ci_api.enrich(report, ci_api.ApiSettings("ftp://nowhere.example", TOKEN))
    assert len(warnings) == 1 and warnings[0].startswith("could not add titles from the Traces API")
    assert "title" not in report["traces"][0]


def test_enrich_goes_through_the_one_api_client() -> None:
    """One User-Agent and one error mapping with the upload client (api.Client)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True, "data": {"trace": {"title": "t"}}})

    report = _report("alpha")
    assert ci_api.enrich(report, _settings(), transport=httpx.MockTransport(handler)) == []
    assert [r.url.path for r in seen] == ["/v1/traces/alpha"]
    assert seen[0].headers["User-Agent"].startswith("traces-git/")
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert report["traces"][0]["title"] == "t"


def test_api_settings_use_the_stored_login_of_the_configured_api(tmp_path, monkeypatch) -> None:
    """``traces.apiUrl`` picks the official login stored for that endpoint, as upload does."""
    from traces_git.upload import share_rules

    config_dir = tmp_path / "traces-config"
    config_dir.mkdir(mode=0o700)
    monkeypatch.setenv("TRACES_CONFIG_DIR", str(config_dir))
    url = "https://self-hosted.example"
    login = {
        "deviceId": "d",
        "deviceKey": "device-key-for-self-hosted",
        "userId": "u",
        "namespaceId": "n",
        "namespaceSlug": "s",
    }
    path = config_dir / f"credentials-{share_rules.endpoint_hash(url)}.json"
    path.write_text(json.dumps(login))
    path.chmod(0o600)
    assert ci_api.api_settings({}, url) == ci_api.ApiSettings(url, "device-key-for-self-hosted")
    assert ci_api.api_settings({}, "https://other.example") is None
