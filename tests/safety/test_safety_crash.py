"""Crash safety of note writes: killed writers, stale locks, broken refs (issue 18, a).

Real git, real hooks. A write that cannot be made within its bound is queued durably,
the commit exits 0 with nothing printed, ``status``/``doctor`` show it, and a later
run writes it. Locks that git made are reported, never deleted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers import PYTHON, commit_file, git, head, note_ids, traces_git
from tests.helpers.sync import fetch_then_hook, wait_fetched
from traces_git.notes import pending as pending_notes


def _commit(repo: Path, trace_id: str) -> subprocess.CompletedProcess[str]:
    Path(repo, "f.txt").write_text(f"{trace_id} {time.time_ns()}\n")
    git("add", "f.txt", cwd=repo)
    return git("commit", "-q", "-m", trace_id, cwd=repo, env={"TRACES_TRACE_ID": trace_id})


def _age(path: Path, seconds: float = 60) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _doctor(repo: Path) -> list[dict]:
    proc = traces_git("doctor", "--json", cwd=repo, check=False)
    return json.loads(proc.stdout)["problems"]


def test_stale_notes_ref_lock_queues_the_note_and_is_reported(repo):
    lock = repo / ".git" / "refs" / "notes" / "traces.lock"
    _commit(repo, "before")  # the notes ref exists
    lock.write_text("")
    _age(lock)
    proc = _commit(repo, "while-locked")
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    locked_commit = head(repo)
    assert note_ids(repo) == []
    assert lock.exists()  # git's lock: never ours to delete
    queued = pending_notes.entries(str(repo / ".git"))
    assert [e["commit"] for e in queued] == [locked_commit]
    problems = {p["id"]: p for p in _doctor(repo)}
    assert "notes-queued" in problems and "notes-lock" in problems
    assert str(lock) in problems["notes-lock"]["fix"]
    status = traces_git("status", cwd=repo).stdout
    assert "1 queued note edit(s)" in status
    # The user removes the lock as doctor says: the next commit writes both notes.
    lock.unlink()
    _commit(repo, "after")
    assert note_ids(repo) == ["after"]
    assert note_ids(repo, locked_commit) == ["while-locked"]
    assert pending_notes.entries(str(repo / ".git")) == []


def test_queued_note_is_written_by_sync(repo):
    lock = repo / ".git" / "refs" / "notes" / "traces.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    _age(lock)
    _commit(repo, "queued-one")
    sha = head(repo)
    lock.unlink()
    out = traces_git("sync", cwd=repo).stdout
    assert "queued notes: 1 written, 0 still queued" in out
    assert note_ids(repo, sha) == ["queued-one"]


def test_attach_queues_when_locked_and_detach_after(repo):
    lock = repo / ".git" / "refs" / "notes" / "traces.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    _age(lock)
    proc = traces_git("attach", "manual-1", cwd=repo)
    assert proc.stdout.startswith("attached (queued;") and proc.stderr == ""
    proc = traces_git("detach", "manual-1", cwd=repo)
    assert proc.stdout.startswith("detached (queued;")
    assert note_ids(repo) == []
    lock.unlink()
    traces_git("attach", "manual-2", cwd=repo)  # writes the queue after its own edit
    text = git("notes", "--ref=traces", "show", "HEAD", cwd=repo).stdout
    assert "traces:manual-2" in text and "traces-detach:manual-1" in text
    shown = json.loads(traces_git("show", "--json", cwd=repo).stdout)
    assert [t["id"] for t in shown["traces"]] == ["manual-2"]


def test_stale_packed_refs_lock_does_not_stop_the_note(repo):
    _commit(repo, "first")
    git("pack-refs", "--all", cwd=repo)
    lock = repo / ".git" / "packed-refs.lock"
    lock.write_text("")
    _age(lock)
    proc = _commit(repo, "second")
    assert proc.stderr == ""
    assert note_ids(repo) == ["second"]
    assert lock.exists()
    assert any(
        p["id"] == "notes-lock" and "packed-refs.lock" in p["message"] for p in _doctor(repo)
    )


def test_dead_writers_scratch_refs_are_removed(repo):
    folder = repo / ".git" / "refs" / "notes" / "tmp-traces-git"
    folder.mkdir(parents=True)
    sha = head(repo)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (folder / str(dead.pid)).write_text(sha + "\n")
    (folder / f"{dead.pid}.traces-git-tmp").write_text(sha + "\n")
    lock = folder / f"{dead.pid}.lock"
    lock.write_text("")
    _age(lock)
    live = folder / str(os.getpid())  # a live writer's: kept
    live.write_text(sha + "\n")
    _commit(repo, "cleaned")
    assert note_ids(repo) == ["cleaned"]
    assert sorted(p.name for p in folder.iterdir()) == [str(os.getpid())]
    live.unlink()
    git("branch", "side", cwd=repo)
    git("branch", "-D", "side", cwd=repo)
    assert git("fsck", "--no-progress", cwd=repo).returncode == 0


def test_truncated_notes_ref_queues_and_is_reported(repo):
    _commit(repo, "first")
    ref = repo / ".git" / "refs" / "notes" / "traces"
    ref.write_text("")
    proc = _commit(repo, "second")
    assert proc.returncode == 0 and proc.stderr == ""
    problems = {p["id"]: p for p in _doctor(repo)}
    assert "notes-broken-ref" in problems
    assert "git update-ref refs/notes/traces" in problems["notes-broken-ref"]["fix"]
    assert ref.read_text() == ""  # untouched: which value is right is the user's call


_HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def test_busy_writer_lock_queues_within_the_bound(repo):
    holder = subprocess.Popen(
        [PYTHON, "-c", _HOLD, str(repo / ".git" / "traces-git-notes.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = _commit(repo, "busy")
        assert proc.returncode == 0 and proc.stderr == ""
        busy = head(repo)
        assert note_ids(repo) == []
        assert len(pending_notes.entries(str(repo / ".git"))) == 1
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    commit_file(repo, "later.txt")  # no trace of its own: still writes the queue
    assert note_ids(repo, busy) == ["busy"]


def _lingering(repo: Path) -> list[str]:
    """Lock files and scratch refs under refs/notes (ours or left by a killed git child)."""
    base = repo / ".git" / "refs" / "notes"
    return sorted(
        str(p.relative_to(base))
        for p in base.rglob("*")
        if p.is_file() and (p.suffix == ".lock" or "tmp-traces-git" in p.parts)
    )


def _git_locks_of_the_killed_commit(repo: Path) -> None:
    """The killed `git commit`'s own locks (index, branch): git's, not ours; a user
    removes them as git tells them to."""
    for path in (
        repo / ".git" / "index.lock",
        repo / ".git" / "refs" / "heads" / "main.lock",
        repo / ".git" / "HEAD.lock",
    ):
        path.unlink(missing_ok=True)


def test_sigkill_at_random_points_of_commits_and_attach(repo):
    """Kill `git commit` (process group: the hook and its git children too) and
    `traces-git attach` at random points, many times; afterwards git fsck is clean, the
    next run leaves no lock or scratch ref of ours, and no note that was reported is lost."""
    rng = random.Random(18)
    reported: dict[str, list[str]] = {}
    git_locks_left = 0
    for i in range(24):
        Path(repo, "f.txt").write_text(f"{i}\n")
        git("add", "f.txt", cwd=repo)
        if i % 3 == 2:
            argv = [PYTHON, "-m", "traces_git", "attach", f"kill-attach-{i}"]
        else:
            argv = ["git", "commit", "-q", "-m", f"kill {i}"]
        env = {**os.environ, "TRACES_TRACE_ID": f"kill-{i}"}
        proc = subprocess.Popen(
            argv,
            cwd=repo,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.0, 0.35))
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = proc.wait(timeout=30)
        if code == 0 and argv[0] == "git":
            reported[head(repo)] = [f"kill-{i}"]
        _git_locks_of_the_killed_commit(repo)
        left = [p for p in _lingering(repo) if p.endswith(".lock")]
        if left:  # a killed `git update-ref` child of ours: git's lock, reported by doctor
            git_locks_left += 1
            for name in left:
                _age(repo / ".git" / "refs" / "notes" / name)
            if "traces.lock" in left:
                assert any(p["id"] == "notes-lock" for p in _doctor(repo))
            for name in left:
                (repo / ".git" / "refs" / "notes" / name).unlink()
        fsck = git("fsck", "--no-progress", "--no-dangling", cwd=repo, check=False)
        assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stderr
    # The next commit cleans up after the dead writers and is not slowed by them.
    commit = _commit(repo, "after-the-storm")
    assert commit.returncode == 0 and commit.stderr == ""
    assert note_ids(repo) == ["after-the-storm"]
    assert _lingering(repo) == []
    assert pending_notes.entries(str(repo / ".git")) == []
    for sha, ids in reported.items():  # git waited for the hook: its note is there
        assert set(ids) <= set(note_ids(repo, sha)), sha
    assert git("fsck", "--no-progress", "--no-dangling", cwd=repo).returncode == 0


def test_hostile_queue_files_are_skipped(repo):
    """The queue is input too: a half-written temp file of a killed writer, garbage,
    wrong types, an ID over the bound, a commit that is not a sha: none is written."""
    folder = repo / ".git" / pending_notes.QUEUE_DIR
    folder.mkdir()
    sha = head(repo)
    bad = {
        f".{sha}.1.1.json.tmp": '{"commit": "' + sha + '", "ops": [["add", "half',
        "garbage.json": "\x00\x01 not json",
        "types.json": json.dumps({"commit": sha, "ops": "add x"}),
        "long.json": json.dumps({"commit": sha, "ops": [["add", "x" * 129, None]]}),
        "op.json": json.dumps({"commit": sha, "ops": [["rm -rf", "x", None]]}),
        "sha.json": json.dumps({"commit": "HEAD; rm -rf /", "ops": [["add", "x", None]]}),
    }
    for name, text in bad.items():
        (folder / name).write_text(text)
    good = json.dumps({"commit": sha, "ops": [["add", "queued-ok", None]]})
    (folder / f"{sha}.2.2.json").write_text(good)
    assert [e["ops"] for e in pending_notes.entries(str(repo / ".git"))] == [
        [["add", "queued-ok", None]]
    ]
    commit_file(repo, "next.txt")
    assert note_ids(repo, sha) == ["queued-ok"]
    assert not pending_notes.has_pending(str(repo / ".git"))  # the bad ones set aside
    assert len(list(folder.glob("*.invalid"))) == 5
    assert traces_git("status", cwd=repo).returncode == 0


def test_fetch_with_a_stale_notes_lock_is_not_held_up(tmp_path, installed):
    """The notes merge after a fetch (started by the next hook) gives up at once on a lock
    git left behind, and the next fetch after the fix merges."""
    source = tmp_path / "source"
    git("init", "-q", "-b", "main", str(source))
    sha = commit_file(source, "a.txt")
    git("notes", "--ref=traces", "add", "-m", "traces:remote-1", sha, cwd=source)
    clone = tmp_path / "clone"
    git("clone", "-q", str(source), str(clone))
    commit_file(clone, "b.txt")  # configured; a local note-less history
    git("notes", "--ref=traces", "add", "-m", "traces:local-1", "HEAD", cwd=clone)
    git("notes", "--ref=traces", "add", "-f", "-m", "traces:remote-2", sha, cwd=source)
    lock = clone / ".git" / "refs" / "notes" / "traces.lock"
    lock.write_text("")
    _age(lock)
    proc = git("fetch", "-q", "origin", cwd=clone)
    assert proc.stdout == "" and proc.stderr == ""
    proc = git("checkout", "-q", "HEAD", cwd=clone)
    assert proc.stdout == "" and proc.stderr == ""
    wait_fetched(clone)
    assert lock.exists()
    from traces_git import log

    runs = [r for r in log.recent_runs(50) if r["hook"] == "fetched"]
    assert runs[-1]["outcome"] == "error" and "traces.lock is in the way" in runs[-1]["detail"]
    lock.unlink()
    git("notes", "--ref=traces", "add", "-f", "-m", "traces:remote-3", sha, cwd=source)
    fetch_then_hook(clone, "origin")
    assert note_ids(clone, sha) == ["remote-3"]


def test_a_scratch_ref_whose_pid_was_reused_is_removed(repo):
    """A dead writer's pid taken by a later process: it started after the scratch ref
    was written, so the ref is still a dead writer's."""
    folder = repo / ".git" / "refs" / "notes" / "tmp-traces-git"
    folder.mkdir(parents=True)
    later = subprocess.Popen(["sleep", "30"])
    try:
        scratch = folder / str(later.pid)
        scratch.write_text(head(repo) + "\n")
        _age(scratch, 30)  # written before the process with this pid started
        _commit(repo, "reused")
        assert not scratch.exists()
        assert note_ids(repo) == ["reused"]
    finally:
        later.kill()
        later.wait()
