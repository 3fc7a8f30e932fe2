"""The dispatcher's post-commit shortcut: Python is skipped exactly when nothing can match.

Observable: a full run appends a post-commit record to runs.jsonl (and rewrites the
stamp); a skipped one appends nothing and counts itself in the git dir's
``traces-git-post-commit.skipped`` (shown by ``traces-git status``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import (
    commit_file,
    git,
    head,
    init_repo,
    note,
    note_ids,
    traces_git,
    write_active_sessions,
)

GIT_DIR_FILES = ("traces-git-post-commit.stamp", "traces-git-post-commit.skipped")


def post_commit_runs() -> list[dict]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "traces-git" / "runs.jsonl"
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [e for e in map(json.loads, lines) if e["hook"] == "post-commit"]


def git_dir(worktree: Path) -> Path:
    return Path(git("rev-parse", "--absolute-git-dir", cwd=worktree).stdout.strip())


def skipped(repo: Path) -> int:
    try:
        return int((git_dir(repo) / "traces-git-post-commit.skipped").read_text().split()[0])
    except FileNotFoundError:
        return 0


def age(*paths: Path, seconds: float = 30) -> None:
    """Make files look written a while ago (as a store nobody touched since)."""
    then = time.time() - seconds
    for path in paths:
        if path.exists():
            os.utime(path, (then, then))


def quiet_store(store) -> None:
    age(store.path, Path(f"{store.path}-wal"))


@pytest.fixture
def primed(repo, store):
    """A repository whose last commit ran the full path and left a stamp (store unchanged)."""
    quiet_store(store)
    age(repo / ".git" / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))
    commit_file(repo, "first.txt")
    assert (repo / ".git" / "traces-git-post-commit.stamp").is_file()
    return repo


def commit_runs_python(repo: Path, name: str = "app.py", env: dict | None = None) -> bool:
    before_runs, before_skips = len(post_commit_runs()), skipped(repo)
    target = repo / name
    target.write_text(f"{name} {time.time_ns()}\n")
    git("add", "--", name, cwd=repo)
    git("commit", "-q", "-m", f"change {name}", cwd=repo, env=env)
    ran = len(post_commit_runs()) == before_runs + 1
    assert ran != (skipped(repo) == before_skips + 1), "either Python ran or the sh counted a skip"
    return ran


def test_unchanged_store_skips_python_and_status_summarises_it(primed, store):
    assert not commit_runs_python(primed)
    assert not commit_runs_python(primed, "other.py")
    assert skipped(primed) == 2
    assert note(primed) is None
    report = json.loads(traces_git("status", "--json", cwd=primed).stdout)
    assert report["shortcut"]["count"] == 2
    assert report["shortcut"]["commit"] == head(primed)
    text = traces_git("status", cwd=primed).stdout
    assert "post-commit skipped 2 commit(s) without Python" in text


def test_first_commit_in_a_repository_runs_python(installed, store, tmp_path):
    fresh = init_repo(tmp_path / "fresh")
    quiet_store(store)
    assert commit_runs_python(fresh)
    assert (fresh / ".git" / "traces-git-post-commit.stamp").is_file()


@pytest.mark.parametrize(
    "variable",
    [
        "TRACES_TRACE_ID",
        "TRACES_CURRENT_TRACE_ID",
        "CODEX_THREAD_ID",
        "TRACES_CURRENT_SOURCE_PATH",
        "TRACES_SOURCE_PATH",
    ],
)
def test_an_env_hint_forces_the_full_path(primed, store, variable):
    assert commit_runs_python(primed, env={variable: "trace-from-env"})
    if variable == "TRACES_TRACE_ID":
        assert note_ids(primed) == ["trace-from-env"]


def test_an_active_session_file_forces_the_full_path(primed, store):
    write_active_sessions(
        primed / ".git",
        [{"traceId": "live-session", "dir": str(primed), "lastInteractionAt": time.time() * 1000}],
    )
    assert commit_runs_python(primed)
    assert note_ids(primed) == ["live-session"]


def test_a_changed_store_forces_the_full_path(primed, store):
    store.add_trace("new-work", primed, edits=[primed / "app.py"])
    assert commit_runs_python(primed)
    assert note_ids(primed) == ["new-work"]


def test_store_written_in_the_same_second_as_the_stamp_is_seen(primed, store):
    # Written now, right after the stamp, and then given exactly the stamp's mtime:
    # what a filesystem with coarse timestamps could show. Equal is never "unchanged".
    store.add_trace("same-second", primed, edits=[primed / "app.py"])
    stamp = primed / ".git" / "traces-git-post-commit.stamp"
    mtime = stamp.stat().st_mtime_ns
    for path in (store.path, Path(f"{store.path}-wal")):
        if path.exists():
            os.utime(path, ns=(mtime, mtime))
    assert commit_runs_python(primed)
    assert note_ids(primed) == ["same-second"]


def test_a_trace_active_after_the_previous_commit_is_never_missed(primed, store):
    for n in range(3):
        store.add_trace(f"later-{n}", primed, edits=[primed / f"f{n}.py"])
        assert commit_runs_python(primed, f"f{n}.py")
        assert note_ids(primed) == [f"later-{n}"]


def test_a_pending_notes_push_forces_the_full_path(primed, store):
    from traces_git import paths

    marker = Path(paths.location("state", "sync-pending", paths.repo_key(str(primed / ".git"))))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    assert commit_runs_python(primed)


def test_a_cherry_pick_forces_the_full_path(primed, store):
    git("checkout", "-q", "-b", "side", cwd=primed)
    assert commit_runs_python(primed, "pick.py", env={"TRACES_TRACE_ID": "picked"})
    source = head(primed)
    git("checkout", "-q", "main", cwd=primed)
    assert commit_runs_python(primed, "again.txt")  # a note was written: no stamp was left
    assert not commit_runs_python(primed, "again2.txt")  # now the stamp holds
    runs = len(post_commit_runs())
    git("cherry-pick", source, cwd=primed)
    assert len(post_commit_runs()) == runs + 1
    assert note_ids(primed) == ["picked"]


def test_a_config_change_forces_the_full_path(primed, store):
    git("config", "traces.store", str(store.path), cwd=primed)
    assert commit_runs_python(primed)
    age(primed / ".git" / "config")
    assert not commit_runs_python(primed, "b.txt")


@pytest.fixture(params=["child", "amend"])
def request_kind(request):
    return request


def test_an_older_trace_in_this_worktree_allows_children_but_not_an_amend(
    repo, store, request_kind
):
    request = request_kind
    base_time = int(time.time()) - 100
    store.add_trace("older", repo, edits=[repo / "late.py"], timestamp_ms=(base_time + 50) * 1000)
    git(
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "base",
        cwd=repo,
        env={"GIT_COMMITTER_DATE": f"{base_time} +0000"},
    )
    quiet_store(store)
    age(repo / ".git" / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))
    assert commit_runs_python(repo, "a.py")  # "older" is a candidate, but edited late.py only
    assert note(repo) is None
    assert "tg_mode=head" in (repo / ".git" / "traces-git-post-commit.stamp").read_text()
    if request.param == "child":
        assert not commit_runs_python(repo, "b.py")  # its window starts after "older"
        assert not commit_runs_python(repo, "c.py")  # and so does its child's
        assert note(repo) is None
    else:
        # Amending brings the commit's window back to "base", where "older" edited late.py.
        (repo / "late.py").write_text("late\n")
        git("add", "late.py", cwd=repo)
        git("commit", "-q", "--amend", "--no-edit", cwd=repo)
        assert note_ids(repo) == ["older"]


def test_head_mode_reads_the_move_from_the_reflog_and_without_one_runs_python(repo, store):
    """A "head" stamp holds for a child of its commit, which the sh tells from the last
    line of HEAD's reflog; with no reflog there is no telling: the full path."""
    base_time = int(time.time()) - 100
    store.add_trace("older", repo, edits=[repo / "late.py"], timestamp_ms=(base_time + 50) * 1000)
    git("commit", "-q", "--allow-empty", "-m", "base", cwd=repo,
        env={"GIT_COMMITTER_DATE": f"{base_time} +0000"})  # fmt: skip
    quiet_store(store)
    age(repo / ".git" / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))
    assert commit_runs_python(repo, "a.py")
    assert "tg_mode=head" in (repo / ".git" / "traces-git-post-commit.stamp").read_text()
    assert not commit_runs_python(repo, "b.py")
    last = (repo / ".git" / "logs" / "HEAD").read_text().splitlines()[-1].split()
    assert last[1] == head(repo)  # what the sh read: <old> <new> ...

    git("config", "core.logAllRefUpdates", "false", cwd=repo)
    for log in (repo / ".git" / "logs").rglob("*"):
        if log.is_file():
            log.unlink()
    age(repo / ".git" / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))
    assert commit_runs_python(repo, "c.py")  # the config changed: the full path, new stamp
    assert not (repo / ".git" / "logs" / "HEAD").exists()
    assert commit_runs_python(repo, "d.py")  # no reflog: no telling a child from a reset
    assert commit_runs_python(repo, "e.py")


def test_an_older_trace_and_a_commit_on_an_older_parent_runs_python(repo, store):
    base_time = int(time.time()) - 100
    store.add_trace("older", repo, edits=[repo / "late.py"], timestamp_ms=(base_time + 50) * 1000)
    git(
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "base",
        cwd=repo,
        env={"GIT_COMMITTER_DATE": f"{base_time} +0000"},
    )
    base = head(repo)
    quiet_store(store)
    age(repo / ".git" / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))
    assert commit_runs_python(repo, "a.py")
    git("reset", "-q", "--hard", base, cwd=repo)
    assert commit_runs_python(repo, "late.py")
    assert note_ids(repo) == ["older"]


def test_no_stamp_is_left_when_a_trace_was_attached(primed, store):
    store.add_trace("attached", primed, edits=[primed / "app.py"])
    assert commit_runs_python(primed)
    assert not (primed / ".git" / "traces-git-post-commit.stamp").exists()
    assert commit_runs_python(primed, "next.py")  # the next commit takes the full path again


def test_a_moved_repository_runs_python(primed, store, tmp_path):
    moved = tmp_path / "moved here"
    primed.rename(moved)
    store.add_trace("old-at-new-path", moved, edits=[moved / "app.py"])
    quiet_store(store)  # as if recorded long ago: only the path tells
    assert commit_runs_python(moved)
    assert note_ids(moved) == ["old-at-new-path"]


def test_values_with_quotes_spaces_and_newlines_are_compared_exactly(primed, store):
    odd = {"GIT_CONFIG_SYSTEM": '/nowhere/it\'s a "dir" $HOME `x`\nsecond line'}
    assert commit_runs_python(primed, "a.py", env=odd)  # the stamp had it unset
    assert commit_runs_python(primed, "b.py", env=odd) is False  # same value: skipped
    changed = {"GIT_CONFIG_SYSTEM": odd["GIT_CONFIG_SYSTEM"] + " "}
    assert commit_runs_python(primed, "c.py", env=changed)
    store.add_trace("after-odd", primed, edits=[primed / "d.py"])
    assert commit_runs_python(primed, "d.py", env=changed)
    assert note_ids(primed) == ["after-odd"]


def test_a_stamp_of_another_version_is_never_sourced(primed, store, tmp_path):
    marker = tmp_path / "sourced"
    stamp = primed / ".git" / "traces-git-post-commit.stamp"
    stamp.write_text(f"traces-git-stamp 1\nmode none\ntouch '{marker}'\ntg_end=1\nend\n")
    age(stamp, seconds=-5)  # newer than everything it could check
    assert commit_runs_python(primed)
    assert not marker.exists()
    assert stamp.read_text().startswith("# traces-git-stamp 2\n")  # the full run rewrote it


def test_a_linked_worktree_takes_the_shortcut_and_still_sees_a_new_trace(repo, store, tmp_path):
    """Git sets GIT_DIR to the worktree's git dir; the dispatcher finds the common dir
    from its `commondir` file, with no git process."""
    worktree = Path(os.path.realpath(tmp_path / "linked wt"))
    git("worktree", "add", "-q", "-b", "wt", str(worktree), cwd=repo)
    assert git_dir(worktree) != repo / ".git"
    quiet_store(store)
    age(repo / ".git" / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))
    assert commit_runs_python(worktree, "first.txt")  # the full run leaves the stamp
    assert (git_dir(worktree) / "traces-git-post-commit.stamp").is_file()

    assert not commit_runs_python(worktree)
    assert not commit_runs_python(worktree, "other.py")
    assert skipped(worktree) == 2 and note(worktree) is None
    assert skipped(repo) == 0  # the main worktree's counter (and stamp) are its own

    store.add_trace("t-wt", worktree, edits=[worktree / "live.py"])
    assert commit_runs_python(worktree, "live.py")
    assert note_ids(worktree) == ["t-wt"]


def test_a_submodule_takes_the_shortcut(repo, store, tmp_path):
    upstream = init_repo(tmp_path / "upstream")
    commit_file(upstream, "lib.py")
    git(
        "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(upstream), "lib", cwd=repo
    )
    sub = Path(os.path.realpath(repo / "lib"))
    assert (sub / ".git").is_file()
    assert commit_runs_python(sub, "setup.txt")  # the first run also configures notes sync
    quiet_store(store)
    age(git_dir(sub) / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))
    commit_runs_python(sub, "first.txt")  # a full run if the set-up's config write is new
    before = skipped(sub)
    assert not commit_runs_python(sub)
    assert skipped(sub) == before + 1 and note(sub) is None
    store.add_trace("t-sub", sub, edits=[sub / "live.py"])
    assert commit_runs_python(sub, "live.py")
    assert note_ids(sub) == ["t-sub"]
