"""Untrusted text stays data (issue 19), second pass: cases a hostile review found."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import git, traces_git


def test_explain_shows_store_agents_ids_and_paths_without_controls(repo: Path, store) -> None:
    evil = repo / "e\x1b]0;pwned\x07vil\u202e.py"
    store.add_trace("t-1", repo, agent="claude-code", edits=[evil, repo / "app.py"])
    store.add_trace("t-2", repo, agent="cl\x1b]0;pwned\x07aude\u2066", edits=[evil])
    (repo / "app.py").write_text("x\n")
    evil.write_text("y\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "m", cwd=repo)
    text = traces_git("explain", cwd=repo).stdout
    assert "\x1b" not in text and "\x07" not in text
    assert "\u202e" not in text and "\u2066" not in text
    lines = text.splitlines()
    assert "  kept    t-1 [store, claude-code]: its edits overlap the commit's files" in lines
    assert "      both: app.py, evil.py" in lines
    assert (
        "  kept    t-2 [store, claude]: its agent records no file edits: kept on directory and time"
    ) in lines
    explained = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    by_id = {c["id"]: c for c in explained["candidates"]}
    assert by_id["t-2"]["agent"] == "cl\x1b]0;pwned\x07aude\u2066"  # JSON keeps the data


def test_a_store_trace_whose_id_fails_the_check_is_never_attached_or_uploaded(
    repo: Path, store
) -> None:
    from tests.helpers import note
    from tests.helpers.upload import queue_files

    bad = "../../v1/admin\x1b[2J"
    store.add_trace(bad, repo, agent="claude-code", edits=[repo / "app.py"])
    store.add_trace("good-1", repo, agent="claude-code", edits=[repo / "app.py"])
    (repo / "app.py").write_text("x\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "m", cwd=repo)
    assert note(repo, "HEAD") == "traces:good-1\n"
    queued = [json.loads(path.read_text())["trace_id"] for path in queue_files()]
    assert queued == ["good-1"]
    explained = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    assert explained["attached"] == ["good-1"]
    by_id = {c["id"]: c for c in explained["candidates"]}
    assert (by_id[bad]["kept"], by_id[bad]["reason"]) == (False, "invalid-id")
    assert (
        "  dropped ../../v1/admin [store, claude-code]: its ID is not a trace ID "
        "(letters, digits, - and _ only)"
    ) in traces_git("explain", cwd=repo).stdout.splitlines()


@pytest.fixture
def api(monkeypatch):
    from tests.helpers.upload import serve

    yield from serve(monkeypatch)


HOSTILE_MESSAGE = "no\x1b]0;pwned\x07 way\u202e\nupload: 0 queued\x1b[2J"


def test_a_hostile_api_error_message_reaches_no_terminal_as_is(repo: Path, store, api) -> None:
    from tests.helpers.upload import status, upload_now, wait_until, wait_worker_exit

    body = json.dumps({"ok": False, "error": {"code": "BAD", "message": HOSTILE_MESSAGE}})
    api.fail(400, body=body.encode(), match="PUT", times=3)
    store.add_trace("t-err", repo, edits=[repo / "app.py"])
    (repo / "app.py").write_text("x\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "m", cwd=repo)
    wait_until(lambda: status().get("last_error"), what="the failed attempt")
    wait_worker_exit()
    shown = traces_git("status", cwd=repo).stdout
    now = upload_now(repo, check=False)
    for text in (shown, now.stdout, now.stderr):
        assert not {"\x1b", "\x07", "\u202e"} & set(text), text
    upload_lines = [line for line in shown.splitlines() if line.startswith("upload:")]
    assert len(upload_lines) == 1
    assert upload_lines[0].endswith("no way upload: 0 queued")


def test_a_symbolic_notes_ref_is_refused_and_never_moves_what_it_points_at(
    repo: Path, store
) -> None:
    from tests.helpers import head

    git("symbolic-ref", "refs/notes/traces", "refs/heads/main", cwd=repo)
    tip = head(repo)
    refused = traces_git("attach", "abc", cwd=repo, check=False)
    assert (refused.returncode, refused.stderr) == (
        1,
        (
            "traces-git: refs/notes/traces is a symbolic ref (to refs/heads/main), not a notes "
            "commit: nothing written\n"
        ),
    )
    assert head(repo) == tip
    store.add_trace("t-sym", repo, edits=[repo / "app.py"])
    (repo / "app.py").write_text("x\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "mine", cwd=repo)
    mine = head(repo)
    assert git("log", "-1", "--format=%s", "main", cwd=repo).stdout == "mine\n"
    assert git("rev-parse", "main^", cwd=repo).stdout.strip() == tip
    assert git("ls-tree", "--name-only", mine, cwd=repo).stdout == "README.md\napp.py\n"
    assert git("symbolic-ref", "refs/notes/traces", cwd=repo).stdout == "refs/heads/main\n"
    git("symbolic-ref", "refs/notes/traces", "refs/notes/nowhere", cwd=repo)
    refused = traces_git("detach", "abc", cwd=repo, check=False)
    assert (refused.returncode, refused.stderr) == (
        1,
        (
            "traces-git: refs/notes/traces is a symbolic ref (to refs/notes/nowhere), not a notes "
            "commit: nothing written\n"
        ),
    )
    assert git("show-ref", cwd=repo).stdout.count("refs/notes/nowhere") == 0


@pytest.mark.parametrize("fetch_filter", ["blob:none", "tree:0"])
def test_ci_show_and_status_in_a_partial_clone_read_notes_git_fetches_lazily(
    tmp_path: Path, fetch_filter: str
) -> None:
    """actions/checkout with ``filter: blob:none``: the notes blobs arrive only when read;
    pygit2 cannot fetch them (a KeyError was 'unexpected error')."""
    from tests.helpers import commit_file, init_repo
    from tests.helpers.ci import bare_remote

    remote, url = bare_remote(tmp_path / "remote.git")
    git("config", "uploadpack.allowFilter", "true", cwd=remote)
    work = init_repo(tmp_path / "work")
    base = commit_file(work, "a.txt", message="one")
    tip = commit_file(work, "b.txt", message="two")
    git("notes", "--ref=traces", "add", "-m", "traces:t1 https://x.example/t1", tip, cwd=work)
    git("push", "-q", url, "main", "refs/notes/traces", cwd=work)
    clone = tmp_path / "partial"
    git("clone", "-q", f"--filter={fetch_filter}", url, str(clone))
    proc = traces_git("ci", "--json", "--base", base, "--head", tip, cwd=clone, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["commits"][-1]["traces"] == [
        {"id": "t1", "url": "https://x.example/t1"}
    ]
    git("fetch", "-q", "origin", "refs/notes/traces:refs/notes/traces", cwd=clone)
    assert traces_git("show", tip, cwd=clone).stdout == f"{tip[:12]}  t1  https://x.example/t1\n"
    status = json.loads(traces_git("status", "--json", cwd=clone).stdout)["notes_format"]
    assert status["invalid_lines"] == 0


def test_a_dropped_url_never_shows_or_logs_its_credentials(repo: Path, store) -> None:
    from tests.helpers import note
    from tests.helpers.upload import log_text

    store.add_trace(
        "t-cred",
        repo,
        edits=[repo / "app.py"],
        shared_url="https://alice:ghp_STORESECRET@x.example/s/t",
    )
    (repo / "app.py").write_text("x\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "m", cwd=repo)
    assert note(repo, "HEAD") == "traces:t-cred\n"
    log = log_text()
    assert "dropped a URL" in log and "x.example/s/t" in log
    assert "ghp_STORESECRET" not in log and "alice" not in log
    proc = traces_git("attach", "t-2", "--url", "https://bob:ghp_FLAGSECRET@x.example/", cwd=repo)
    assert proc.stderr == (
        "traces-git: warning: --url dropped, not an absolute http(s) URL "
        "without spaces, controls or credentials: https://x.example/\n"
    )


def test_markdown_breaks_github_issue_references_like_mentions() -> None:
    """GitHub links ``#123``, ``owner/repo#123`` and ``GH-123`` after rendering (and
    records a cross-reference in that issue): a word joiner keeps them text."""
    from traces_git import safe_text

    text = "fixes #1, other/repo#22 and gh-3, see GH-4 (not high-5)"
    assert safe_text.for_markdown(text) == (
        "fixes \\#\u20601\\, other\\/repo\\#\u206022 and gh-\u20603\\, see GH-\u20604 "
        "\\(not high-5\\)"
    )


def _urls(value: object) -> list[object]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k == "url"]
        return found + [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return []


def test_every_json_url_field_is_a_checked_url_or_null(repo: Path, store) -> None:
    from traces_git.urls import is_url

    base = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    store.add_trace("s-1", repo, edits=[repo / "app.py"], shared_url="javascript:alert(1)")
    store.add_trace(
        "s-2",
        repo,
        edits=[repo / "app.py"],
        shared_url="https://x.example/a\ntraces:evil https://e.example/",
    )
    (repo / "app.py").write_text("x\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "m", cwd=repo)
    blob = git(
        "hash-object",
        "-w",
        "--stdin",
        cwd=repo,
        input=b"traces:n-1 data:text/html,x\ntraces:n-2 https://ok.example/n\n"
        b"traces:n-3 <script>\ntraces:s-1 https://a@b\n",
    ).stdout.strip()
    git("notes", "--ref=traces", "append", "-C", blob, "HEAD", cwd=repo)
    outputs = [
        ["show", "--json"],
        ["log", "--json"],
        ["blame", "--json", "app.py"],
        ["stats", "--json", f"{base}..HEAD"],
        ["explain", "--json"],
        ["ci", "--no-fetch", "--json", "--base", base, "--head", "HEAD"],
    ]
    seen = []
    for args in outputs:
        report = json.loads(traces_git(*args, cwd=repo).stdout)
        urls = _urls(report)
        assert all(u is None or is_url(u) for u in urls), (args, urls)
        seen += urls
    assert "https://ok.example/n" in seen


def test_the_hook_keeps_a_nul_byte_of_a_note_head_already_has(repo: Path) -> None:
    """An amend that recreates the same commit (same tree, message and dates) keeps its
    note: the hook must read it byte for byte (git log's %N turns a NUL into a newline)."""
    from tests.helpers import head

    when = "2026-01-01T00:00:00Z"
    dates = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    (repo / "f.txt").write_text("f\n")
    git("add", "f.txt", cwd=repo)
    git("commit", "-qm", "same", cwd=repo, env=dates)
    sha = head(repo)
    hostile = b"nul\x00byte\nother\r\ntraces:t1\n"
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=hostile).stdout.strip()
    git("notes", "--ref=traces", "add", "-f", "-C", blob, sha, cwd=repo)
    git("commit", "-q", "--amend", "--no-edit", cwd=repo, env={**dates, "TRACES_TRACE_ID": "beta"})
    assert head(repo) == sha
    shown = subprocess.run(
        ["git", "notes", "--ref=traces", "show", sha], cwd=repo, capture_output=True, check=True
    ).stdout
    assert shown == hostile + b"traces:beta\n"
