"""Nothing of ours on git's output (issue 18, c): amend, rebase, cherry-pick and pull in
a repository with traces-git's notes.rewriteRef but no notes yet print what plain git
prints; once notes exist, rewriting still carries them over."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import commit_file, git, head, init_repo, note_ids
from traces_git.paths import repo_state_dir
from traces_git.sync import config as sync_config

QUIET = {"GIT_EDITOR": "true", "GIT_SEQUENCE_EDITOR": "true"}


def _run(repo: Path, *args: str) -> str:
    proc = git(*args, cwd=repo, env=QUIET)
    return proc.stdout + proc.stderr


def _twin(tmp_path: Path, name: str) -> Path:
    repo = init_repo(tmp_path / name)
    commit_file(repo, "a.txt", "1\n", "one")
    commit_file(repo, "b.txt", "2\n", "two")
    git("branch", "side", "HEAD~1", cwd=repo)
    return repo


def test_rewrites_without_notes_print_nothing_of_ours(tmp_path, installed):
    repo = _twin(tmp_path, "ours")
    assert "refs/notes/trace[s]" in git("config", "--get-all", "notes.rewriteRef", cwd=repo).stdout
    assert (
        git("rev-parse", "-q", "--verify", "refs/notes/traces", cwd=repo, check=False).returncode
        != 0
    )
    outputs = [
        _run(repo, "commit", "-q", "--amend", "-m", "two amended"),
        _run(repo, "rebase", "-q", "--force-rebase", "HEAD~1"),
        _run(repo, "rebase", "-q", "-i", "--force-rebase", "HEAD~1"),
    ]
    git("checkout", "-q", "side", cwd=repo)
    outputs.append(_run(repo, "cherry-pick", "main"))
    for text in outputs:
        assert "notes ref" not in text and "warning" not in text, text
    # pull --rebase from a clone: the same bytes as plain git's
    remote = tmp_path / "remote.git"
    git("clone", "-q", "--bare", str(repo), str(remote))
    clone = tmp_path / "clone"
    git("clone", "-q", str(remote), str(clone))
    git("-C", str(clone), "checkout", "-q", "side")
    commit_file(clone, "c.txt", "3\n", "three")
    upstream = tmp_path / "up"
    git("clone", "-q", "-b", "side", str(remote), str(upstream))
    commit_file(upstream, "d.txt", "4\n", "four")
    git("push", "-q", "origin", "side", cwd=upstream)
    pulled = _run(clone, "pull", "-q", "--rebase", "origin", "side")
    assert "notes ref" not in pulled and "warning" not in pulled, pulled
    assert pulled == ""
    assert _run(clone, "commit", "-q", "--amend", "-m", "three again") == ""


def test_rewrites_still_carry_notes(repo, monkeypatch):
    monkeypatch.setenv("TRACES_TRACE_ID", "carried")
    commit_file(repo, "a.txt")
    monkeypatch.delenv("TRACES_TRACE_ID")
    out = _run(repo, "commit", "-q", "--amend", "-m", "amended")
    assert out == ""
    assert note_ids(repo) == ["carried"]
    _run(repo, "rebase", "-q", "--force-rebase", "HEAD~1")
    assert note_ids(repo) == ["carried"]


def test_the_plain_ref_an_earlier_version_added_becomes_the_glob(tmp_path, installed):
    repo = init_repo(tmp_path / "old")
    commit_file(repo, "a.txt")  # configures the repository
    common = str(Path(repo, ".git").resolve())
    git("config", "--unset-all", "notes.rewriteRef", cwd=repo)
    git("config", "--add", "notes.rewriteRef", "refs/notes/traces", cwd=repo)
    record = sync_config.record_path(common)
    assert json.loads(record.read_text())["rewrite_ref"] is True
    assert record.parent == repo_state_dir(common) / "sync"
    commit_file(repo, "b.txt")
    assert git("config", "--get-all", "notes.rewriteRef", cwd=repo).stdout == (
        "refs/notes/trace[s]\n"
    )
    assert _run(repo, "commit", "-q", "--amend", "-m", "quiet") == ""
    assert head(repo)


def test_a_plain_ref_someone_else_set_is_left_alone(tmp_path, installed):
    repo = init_repo(tmp_path / "theirs")
    git("config", "--add", "notes.rewriteRef", "refs/notes/traces", cwd=repo)
    commit_file(repo, "a.txt")
    commit_file(repo, "b.txt")
    assert git("config", "--get-all", "notes.rewriteRef", cwd=repo).stdout == (
        "refs/notes/traces\n"
    )
