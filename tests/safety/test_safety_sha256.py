"""sha256 repositories (issue 18, e): pygit2 cannot open them, so every command of ours
that must work there uses the git CLI, chosen once per repository from its config."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import git, traces_git
from tests.helpers.upload import serve, wait_worker_done
from traces_git.repo import pygit2_can_open


def _sha256_repo(path: Path, remote: Path | None = None) -> Path:
    if remote is None:
        git("init", "-q", "-b", "main", "--object-format=sha256", str(path))
    else:
        git("clone", "-q", str(remote), str(path))
    return path


def _commit(repo: Path, name: str, trace: str | None = None) -> str:
    (repo / name).write_text(f"{name}\n")
    git("add", name, cwd=repo)
    git("commit", "-q", "-m", name, cwd=repo, env={"TRACES_TRACE_ID": trace} if trace else {})
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def _shown(repo: Path, rev: str = "HEAD") -> list[str]:
    out = traces_git("show", "--json", rev, cwd=repo).stdout
    return [t["id"] for t in json.loads(out)["traces"]]


def test_the_format_is_read_once_from_the_config(tmp_path):
    sha1 = tmp_path / "one"
    git("init", "-q", str(sha1))
    repo = _sha256_repo(tmp_path / "two")
    assert pygit2_can_open(str(sha1 / ".git"))
    assert not pygit2_can_open(str(repo / ".git"))


def test_hook_show_attach_detach_explain_cherry_pick(tmp_path, installed):
    repo = _sha256_repo(tmp_path / "r")
    sha = _commit(repo, "a.txt", "t-hook")
    assert len(sha) == 64
    assert _shown(repo) == ["t-hook"]
    assert traces_git("attach", "t-manual", cwd=repo).stdout.startswith("attached:")
    assert traces_git("detach", "t-hook", cwd=repo).stdout.startswith("detached:")
    assert _shown(repo) == ["t-manual"]
    explained = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    assert explained["commit"] == sha and [t["id"] for t in explained["note"]] == ["t-manual"]
    git("checkout", "-q", "-b", "side", "HEAD~0", cwd=repo)
    git("reset", "-q", "--hard", "HEAD", cwd=repo)
    git("checkout", "-q", "--orphan", "other", cwd=repo)
    git("rm", "-q", "-rf", ".", cwd=repo)
    _commit(repo, "b.txt")
    git("cherry-pick", sha, cwd=repo)
    assert _shown(repo) == ["t-manual"]
    fsck = git("fsck", "--no-progress", cwd=repo)
    assert fsck.returncode == 0


def test_sync_between_two_sha256_clones(tmp_path, installed):
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", "--object-format=sha256", str(remote))
    first = _sha256_repo(tmp_path / "first")
    git("remote", "add", "origin", str(remote), cwd=first)
    sha = _commit(first, "a.txt", "t-first")
    # (no background notes push from pre-push: the foreground sync below is the one tested)
    git("push", "-q", "origin", "main", cwd=first, env={"TRACES_GIT": "0"})
    out = traces_git("sync", cwd=first).stdout
    assert "pushed 1 note(s)" in out
    second = _sha256_repo(tmp_path / "second", remote)
    _commit(second, "b.txt")  # its hooks configure notes sync
    traces_git("attach", "t-second", sha, cwd=second)
    out = traces_git("sync", cwd=second).stdout
    assert "merged" in out or "fetched" in out
    traces_git("sync", cwd=first)
    assert sorted(_shown(first, sha)) == ["t-first", "t-second"]
    assert sorted(_shown(second, sha)) == ["t-first", "t-second"]
    status = json.loads(traces_git("status", "--json", cwd=first).stdout)
    assert status["notes_sync"]["remotes"]["origin"]["unpushed"] == 0


def test_commands_pygit2_would_serve_say_so_in_one_line(tmp_path, installed):
    repo = _sha256_repo(tmp_path / "r")
    _commit(repo, "a.txt", "t")
    proc = traces_git("log", cwd=repo, check=False)
    if proc.returncode != 0:  # (issue 23 moves log to the git CLI; then it just works)
        assert len(proc.stderr.strip().splitlines()) == 1
        assert "unexpected error" not in proc.stderr
        assert "sha256" in proc.stderr


@pytest.fixture
def api(monkeypatch):
    yield from serve(monkeypatch)


def test_upload_writes_the_shared_url_into_a_sha256_note(tmp_path, installed, store, api):
    repo = Path(os.path.realpath(_sha256_repo(tmp_path / "up")))
    _commit(repo, "first.txt")
    store.add_trace("t-up", repo, edits=[repo / "app.py"], messages=1)
    sha = _commit(repo, "app.py")
    wait_worker_done()
    assert [r.path for r in api.of("PUT")] == ["/v1/traces/t-up"]
    assert git("notes", "--ref=traces", "show", sha, cwd=repo).stdout == (
        "traces:t-up https://web.example/s/srv-1\n"
    )
