"""The next commit after a crash: what a killed note writer (or git) leaves behind, and
how long the following `git commit` (attaching one trace) takes.

Cases, each against a commit in a clean repository in the same run:

- dead writer: scratch refs, temp files and git's lock of a scratch ref from a killed
  pid (what SIGKILL of a post-commit hook leaves): cleaned up, note written;
- stale ``refs/notes/traces.lock`` (git's lock, older than 5 s): note queued at once;
- stale ``packed-refs.lock``: note written (our writes never wait for it);
- truncated (zero-length) ``refs/notes/traces``: note queued at once;
- live writer holding our notes lock: note queued after the 1 s bound.

    python bench/crash_recovery.py [--runs 9] [--write FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.isolation import isolated_env  # noqa: E402

_HOLD = (
    "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
    "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--write")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="traces-git-bench-crash-"))
    env = isolated_env(
        work / "home", TRACES_EVENTSTORE=str(work / "no-store.db"), TRACES_TRACE_ID="bench-trace"
    )
    os.environ.update(env)
    from traces_git.setup import install

    os.chdir(work)
    install.install()
    repo = work / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    git_dir = repo / ".git"
    counter = [0]

    def commit() -> float:
        counter[0] += 1
        (repo / "f.txt").write_text(f"{counter[0]}\n")
        subprocess.run(["git", "add", "f.txt"], cwd=repo, env=env, check=True)
        start = time.perf_counter()
        subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repo, env=env, check=True)
        return (time.perf_counter() - start) * 1000

    commit()
    commit()  # configured, notes ref exists
    dead = subprocess.Popen(["true"])
    dead.wait()
    sha = subprocess.run(
        ["git", "rev-parse", "refs/notes/traces"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    scratch = git_dir / "refs" / "notes" / "tmp-traces-git"
    old = time.time() - 60

    def dead_writer() -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        for name in (str(dead.pid), f"{dead.pid}.traces-git-tmp", f"{dead.pid}.lock"):
            (scratch / name).write_text(sha + "\n")
            os.utime(scratch / name, (old, old))

    def stale(path: Path):
        def make() -> None:
            path.write_text("")
            os.utime(path, (old, old))

        return make

    def undo(path: Path):
        return lambda: path.unlink(missing_ok=True)

    ref_lock = git_dir / "refs" / "notes" / "traces.lock"
    packed_lock = git_dir / "packed-refs.lock"
    ref_file = git_dir / "refs" / "notes" / "traces"

    def truncate() -> None:
        ref_file.write_text("")

    def restore_ref() -> None:
        ref_file.write_text(sha + "\n")

    cases = [
        ("clean repository (baseline)", lambda: None, lambda: None),
        ("dead writer's scratch refs, temp file and lock", dead_writer, lambda: None),
        ("stale refs/notes/traces.lock (git's)", stale(ref_lock), undo(ref_lock)),
        ("stale packed-refs.lock (git's)", stale(packed_lock), undo(packed_lock)),
        ("zero-length refs/notes/traces", truncate, restore_ref),
    ]
    rows = []
    for name, before, after in cases:
        samples = []
        for _ in range(options.runs):
            before()
            samples.append(commit())
            after()
        rows.append((name, statistics.median(samples)))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(git_dir / "traces-git-notes.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    holder.stdout.readline()
    samples = [commit() for _ in range(3)]
    holder.stdin.close()
    holder.wait()
    rows.append(("a live writer holds our notes lock", statistics.median(samples)))
    queued = len(list((git_dir / "traces-git-pending-notes").glob("*.json")))
    commit()  # writes what was queued
    left = len(list((git_dir / "traces-git-pending-notes").glob("*.json")))

    base = rows[0][1]
    lines = ["| state left behind | next `git commit` ms | vs clean |", "|---|---:|---:|"]
    lines += [f"| {name} | {ms:.0f} | {ms - base:+.0f} |" for name, ms in rows]
    lines.append("")
    lines.append(
        f"Notes queued during the run: {queued}; still queued after one more commit: "
        f"{left}. Medians of {options.runs} commits (3 for the live writer)."
    )
    report = "\n".join(lines) + "\n"
    print(report)
    if options.write:
        Path(options.write).write_text(report)
    install.uninstall()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
