"""traces-git beside the official Traces CLI's git hooks (`traces setup git`).

The removal and status tests run everywhere (on the files setup writes); the
tests marked `needs_traces` run the real official binary when it is installed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, init_repo, note, traces_git
from tests.helpers import official as official_helpers
from tests.helpers.coexist import write_hook
from tests.helpers.official import TRACES, official, setup, snapshot
from tests.helpers.sync import (
    clone,
    fetch_then_hook,
    make_remote,
    remote_note_lines,
    wait_settled,
)
from traces_git.setup import official_hooks

needs_traces = pytest.mark.skipif(TRACES is None, reason="the official traces CLI is not installed")

USER_POST_COMMIT = '#!/bin/sh\n# my own post-commit\necho "user line"   \n\n\n\nexit_code=0\n'
USER_PRE_PUSH = "#!/bin/sh\nset -e\n# keep me\n"


@pytest.fixture
def official_on_path(monkeypatch):
    if TRACES:
        monkeypatch.setenv("PATH", f"{os.path.dirname(TRACES)}{os.pathsep}{os.environ['PATH']}")
    # Its background publisher must not wait for a server that is not there.
    monkeypatch.setenv("TRACES_HTTP_URL", "http://127.0.0.1:9")


def _user_hooks(repo: Path) -> None:
    for name, text in (("post-commit", USER_POST_COMMIT), ("pre-push", USER_PRE_PUSH)):
        write_hook(repo / ".git" / "hooks" / name, "")
        (repo / ".git" / "hooks" / name).write_text(text)


def test_remove_keeps_the_user_s_lines_byte_for_byte(tmp_path, installed):
    repo = init_repo(tmp_path / "r")
    _user_hooks(repo)
    before = snapshot(repo / ".git" / "hooks")
    setup(repo)
    (repo / ".git" / "traces-merge-marker").write_text("x\ny\n0\n")
    hooks = repo / ".git" / "hooks"
    assert official_helpers.START in (hooks / "post-commit").read_text()

    dry = json.loads(traces_git("remove-official-hooks", "--dry-run", "--json", cwd=repo).stdout)
    assert dry["dry_run"] is True
    planned = {(a["action"], os.path.basename(a["path"])) for a in dry["actions"]}
    assert ("rewrite", "post-commit") in planned
    assert ("rewrite", "pre-push") in planned
    assert ("delete", "post-merge") in planned  # setup created it: nothing else in it
    assert ("delete", "traces-post-commit") in planned
    assert ("delete", "traces-merge-marker") in planned
    assert official_helpers.START in (hooks / "post-commit").read_text()  # dry run: untouched

    text = traces_git("remove-official-hooks", cwd=repo).stdout
    assert "edited: " in text and "deleted: " in text
    assert snapshot(hooks) == before  # the user's hook files, byte for byte; ours gone
    assert not (repo / ".git" / "traces-merge-marker").exists()
    # traces-git uses notes.rewriteRef too: it stays
    assert "refs/notes/traces" in git("config", "--get-all", "notes.rewriteRef", cwd=repo).stdout
    again = traces_git("remove-official-hooks", cwd=repo).stdout
    assert again.strip() == "no official Traces git hooks here"


def test_remove_keeps_lines_after_a_block_and_leaves_an_unclosed_block_alone(tmp_path, installed):
    repo = init_repo(tmp_path / "r")
    hooks = repo / ".git" / "hooks"
    official_helpers.fake_setup(repo)
    post_commit = hooks / "post-commit"
    post_commit.write_text(post_commit.read_text() + "# mine, after the block\necho after\n")
    merge = hooks / "post-merge"
    unclosed = "#!/bin/sh\necho mine\n\n" + official_helpers.START + "\necho half a block\n"
    merge.write_text(unclosed)
    traces_git("remove-official-hooks", cwd=repo)
    assert post_commit.read_text() == "#!/bin/sh\n\n# mine, after the block\necho after\n"
    assert merge.read_text() == unclosed
    assert not (hooks / "traces-post-commit").exists()


def test_forced_notes_refspecs_of_older_official_versions_are_unset(tmp_path, installed):
    repo = init_repo(tmp_path / "r")
    git("remote", "add", "origin", str(tmp_path / "nowhere.git"), cwd=repo)
    git("config", "--add", "remote.origin.fetch", "+refs/notes/traces:refs/notes/traces", cwd=repo)
    official_helpers.fake_setup(repo)
    traces_git("remove-official-hooks", cwd=repo)
    fetch = git("config", "--get-all", "remote.origin.fetch", cwd=repo).stdout.splitlines()
    assert "+refs/notes/traces:refs/notes/traces" not in fetch
    assert "+refs/heads/*:refs/remotes/origin/*" in fetch


def test_status_and_doctor_recognise_the_official_hooks(tmp_path, installed):
    repo = init_repo(tmp_path / "r")
    commit_file(repo, "a.txt")
    report = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    assert report["official_hooks"]["installed"] is False
    official_helpers.fake_setup(repo)
    report = json.loads(traces_git("status", "--json", cwd=repo).stdout)
    section = report["official_hooks"]
    assert section["installed"] is True
    assert section["runs_on_commit"] is True
    assert section["cost_per_commit_s"] == official_hooks.COST_PER_COMMIT_S
    assert {os.path.basename(p) for p in section["blocks"]} == {
        "post-commit",
        "pre-merge-commit",
        "post-merge",
        "pre-push",
    }
    text = traces_git("status", cwd=repo).stdout
    cost = official_hooks.COST_PER_COMMIT_S
    assert f"official Traces git hooks (traces setup git): installed here, about {cost:g} s" in text
    assert "traces-git remove-official-hooks" in text
    doctor = traces_git("doctor", "--json", cwd=repo, check=False)
    assert doctor.returncode == 1
    problem = next(p for p in json.loads(doctor.stdout)["problems"] if p["id"] == "official-hooks")
    assert problem["fix"].startswith("traces-git remove-official-hooks")
    assert "traces-git uninstall" in problem["message"]
    traces_git("remove-official-hooks", cwd=repo)
    doctor = json.loads(traces_git("doctor", "--json", cwd=repo, check=False).stdout)
    assert all(p["id"] != "official-hooks" for p in doctor["problems"])


@needs_traces
def test_removal_matches_traces_remove_git(tmp_path, installed):
    ours, theirs = init_repo(tmp_path / "ours"), init_repo(tmp_path / "theirs")
    user = "#!/bin/sh\n# mine\necho one\n\necho two\n"  # no run of blank lines: both agree
    for repo in (ours, theirs):
        write_hook(repo / ".git" / "hooks" / "post-commit", "")
        (repo / ".git" / "hooks" / "post-commit").write_text(user)
        official("setup", "git", cwd=repo)
        hooks = repo / ".git" / "hooks"
        (hooks / "post-commit").write_text((hooks / "post-commit").read_text() + "echo after\n")
    official("remove", "git", cwd=theirs)
    traces_git("remove-official-hooks", cwd=ours)
    assert snapshot(ours / ".git" / "hooks") == snapshot(theirs / ".git" / "hooks")
    assert (ours / ".git" / "hooks" / "post-commit").read_text() == user + "\necho after\n"


@needs_traces
def test_both_installed_one_line_per_trace_and_the_official_cli_lists_it(
    repo, store, official_on_path
):
    official("setup", "git", cwd=repo)
    store.add_trace(
        "with-url", repo, edits=[repo / "a.py"], shared_url="https://www.traces.com/s/u1"
    )
    first = commit_file(repo, "a.py")
    assert note(repo, first) == "traces:with-url https://www.traces.com/s/u1\n"
    store.add_trace("no-url", repo, edits=[repo / "b.py"])
    second = commit_file(repo, "b.py")
    assert note(repo, second) == "traces:no-url\n"
    # The official hook running again (as when it runs after ours) adds nothing.
    official("hook", "post-commit", "--commit", second, cwd=repo)
    assert note(repo, second) == "traces:no-url\n"
    listed = json.loads(official("notes", "--json", cwd=repo).stdout)["data"]["notes"]
    pairs = [(n["externalId"], n["commitRef"]) for n in listed]
    assert sorted(pairs) == sorted([("with-url", first), ("no-url", second)])
    explained = json.loads(traces_git("explain", second, "--json", cwd=repo).stdout)
    assert explained["note"] == [{"id": "no-url", "url": None}]


@needs_traces
def test_ours_first_then_the_official_hook_gives_one_line(repo, store, official_on_path):
    store.add_trace("t1", repo, edits=[repo / "a.py"], shared_url="https://www.traces.com/s/t1")
    sha = commit_file(repo, "a.py")  # only traces-git's hook ran
    official("hook", "post-commit", "--commit", sha, cwd=repo)
    assert note(repo, sha) == "traces:t1 https://www.traces.com/s/t1\n"


@needs_traces
def test_pushes_carry_notes_once_and_clones_with_either_tool_converge(
    tmp_path, installed, store, official_on_path
):
    remote = make_remote(tmp_path)
    both = clone(remote, tmp_path / "both")
    official("setup", "git", cwd=both)
    ours_only = clone(remote, tmp_path / "ours")
    store.add_trace("from-both", both, edits=[both / "x.py"])
    sha_both = commit_file(both, "x.py")
    git("push", "-q", "origin", "HEAD:refs/heads/topic-both", cwd=both)
    wait_settled(both)
    assert remote_note_lines(remote, sha_both) == ["traces:from-both"]
    store.add_trace("from-ours", ours_only, edits=[ours_only / "y.py"])
    sha_ours = commit_file(ours_only, "y.py")
    git("push", "-q", "origin", "HEAD:refs/heads/topic-ours", cwd=ours_only)
    wait_settled(ours_only)
    assert remote_note_lines(remote, sha_ours) == ["traces:from-ours"]
    assert remote_note_lines(remote, sha_both) == ["traces:from-both"]
    fetch_then_hook(both, "origin")
    fetch_then_hook(ours_only, "origin")
    for repo in (both, ours_only):
        assert note(repo, sha_both) == "traces:from-both\n"
        assert note(repo, sha_ours) == "traces:from-ours\n"
    # the official CLI reads notes that arrived by fetch, too
    git("merge", "-q", "--no-edit", "origin/topic-ours", cwd=both, env={"TRACES_GIT": "0"})
    listed = json.loads(official("notes", "--json", cwd=both).stdout)["data"]["notes"]
    assert ("from-ours", sha_ours) in {(n["externalId"], n["commitRef"]) for n in listed}
    # no duplicated lines anywhere after both tools pushed
    for sha in (sha_both, sha_ours):
        lines = remote_note_lines(remote, sha)
        assert len(lines) == len(set(lines)) == 1
