"""Every path and environment (issue 18, f): odd repository paths, a deleted working
directory, read-only and full file systems, a WAL store on a read-only file system.
Each gets the correct result or a one-line error with exit code 1 or 2, never
"unexpected error"; a commit never fails nor prints anything of ours.

Read-only and full file systems are real: a private mount namespace (``unshare -m``)
with a read-only bind mount or a tiny tmpfs; those tests skip where that is refused.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.helpers import PYTHON, TraceStore, commit_file, git, head, note_ids


def _tg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """traces-git, its output decoded as git's paths are (non-UTF-8 bytes kept)."""
    proc = subprocess.run(
        [PYTHON, "-m", "traces_git", *args],
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        errors="surrogateescape",
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _one_line_failure(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode in (1, 2), (proc.returncode, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "unexpected error" not in proc.stderr and "Traceback" not in proc.stderr


def _can_mount() -> bool:
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs none /mnt"], capture_output=True
    )
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    not (os.path.exists("/usr/bin/unshare") and _can_mount()),
    reason="needs a private mount namespace (unshare -m) for read-only/full file systems",
)


def _in_namespace(
    setup: list[str], argv: list[str], cwd: Path, env: dict | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` after the mount commands ``setup`` in a private mount namespace."""
    script = " && ".join(setup + ['exec "$@"'])
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _read_only(path: Path) -> list[str]:
    quoted = shlex.quote(str(path))
    return [f"mount --bind {quoted} {quoted}", f"mount -o remount,ro,bind {quoted}"]


def _commit_argv(repo: Path, name: str) -> list[str]:
    (repo / name).write_text(f"{name}\n")
    git("add", name, cwd=repo)
    return ["git", "commit", "-q", "-m", name]


@pytest.mark.parametrize(
    "name", ["new\nline", "spa ce $(touch pwned) `id` \"q\" 'q'", "non-utf8-\udcff\udcfe"]
)
def test_odd_repository_paths_work_for_every_command(tmp_path, installed, name):
    path = Path(os.fsencode(tmp_path / name).decode("utf-8", "surrogateescape"))
    git("init", "-q", "-b", "main", os.fsencode(path).decode("utf-8", "surrogateescape"))
    (path / "a.txt").write_text("a\n")
    git("add", "a.txt", cwd=path)
    proc = git("commit", "-q", "-m", "a", cwd=path, env={"TRACES_TRACE_ID": "odd-1"})
    assert proc.stdout == "" and proc.stderr == ""
    sha = head(path)
    assert note_ids(path) == ["odd-1"]
    shown = json.loads(_tg("show", "--json", cwd=path).stdout)
    assert shown == {"commit": sha, "traces": [{"id": "odd-1", "url": None}]}
    _tg("attach", "odd-2", cwd=path)
    assert note_ids(path) == ["odd-1", "odd-2"]
    _tg("status", cwd=path)
    explained = json.loads(_tg("explain", "--json", cwd=path).stdout)
    assert [t["id"] for t in explained["note"]] == ["odd-1", "odd-2"]
    assert not (tmp_path / "pwned").exists() and not (path / "pwned").exists()


def test_a_deleted_working_directory(tmp_path, installed):
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (
        "import os, subprocess, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]);"
        "sys.exit(subprocess.run([sys.executable, '-m', 'traces_git', *sys.argv[2:]]"
        ").returncode)"
    )
    for command in (["show"], ["attach", "x"], ["log"], ["sync"], ["explain"]):
        proc = subprocess.run(
            [PYTHON, "-c", script, str(gone), *command], capture_output=True, text=True
        )
        _one_line_failure(proc)
        gone.mkdir()
    proc = subprocess.run(
        [PYTHON, "-c", script, str(gone), "status"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "unexpected error" not in proc.stderr


@needs_mounts
def test_read_only_notes_refs(repo):
    commit_file(repo, "a.txt")
    notes_dir = repo / ".git" / "refs" / "notes"
    notes_dir.mkdir(parents=True, exist_ok=True)
    proc = _in_namespace(
        _read_only(notes_dir), [PYTHON, "-m", "traces_git", "attach", "ro-1"], repo
    )
    # the edit is queued (the ref cannot be written now), or a one-line error: never a crash
    if proc.returncode == 0:
        assert "queued" in proc.stdout
    else:
        _one_line_failure(proc)
    argv = _commit_argv(repo, "b.txt")
    proc = _in_namespace(_read_only(notes_dir), argv, repo, {"TRACES_TRACE_ID": "ro-hook"})
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    queued_commit = head(repo)
    # writable again: the next commit writes what was queued
    commit_file(repo, "c.txt")
    assert note_ids(repo, queued_commit) == ["ro-hook"]


@needs_mounts
def test_read_only_home_and_state(repo, tmp_path):
    state = Path(os.environ["XDG_STATE_HOME"])
    state.mkdir(parents=True, exist_ok=True)
    home = Path(os.environ["HOME"])
    argv = _commit_argv(repo, "b.txt")
    proc = _in_namespace(
        _read_only(home) + _read_only(state), argv, repo, {"TRACES_TRACE_ID": "ro-home"}
    )
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    assert note_ids(repo) == ["ro-home"]
    proc = _in_namespace(
        _read_only(home) + _read_only(state), [PYTHON, "-m", "traces_git", "show"], repo
    )
    assert proc.returncode == 0 and "ro-home" in proc.stdout


@needs_mounts
def test_full_state_disk(repo):
    state = Path(os.environ["XDG_STATE_HOME"])
    state.mkdir(parents=True, exist_ok=True)
    quoted = shlex.quote(str(state))
    fill = f"dd if=/dev/zero of={quoted}/fill bs=4k count=64 2>/dev/null || true"
    setup = [f"mount -t tmpfs -o size=64k none {quoted}", fill]
    argv = _commit_argv(repo, "b.txt")
    proc = _in_namespace(setup, argv, repo, {"TRACES_TRACE_ID": "full-disk"})
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    assert note_ids(repo) == ["full-disk"]
    proc = _in_namespace(setup, [PYTHON, "-m", "traces_git", "status"], repo)
    assert proc.returncode == 0 and "unexpected error" not in proc.stderr


@needs_mounts
def test_wal_store_on_a_read_only_file_system(repo, tmp_path):
    store_dir = tmp_path / "ro-store"
    store_dir.mkdir()
    store = TraceStore(store_dir / "traces.db", version=16)
    store.add_trace("wal-trace", repo, edits=[repo / "b.txt"])
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    db.close()
    assert not Path(f"{store.path}-wal").exists()  # the last connection checkpointed
    git("config", "traces.store", str(store.path), cwd=repo)
    argv = _commit_argv(repo, "b.txt")
    proc = _in_namespace(_read_only(store_dir), argv, repo)
    assert proc.returncode == 0 and proc.stderr == ""
    assert note_ids(repo) == ["wal-trace"]
