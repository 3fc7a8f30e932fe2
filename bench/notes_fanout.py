"""How a single note write scales with the size of the notes tree.

Builds notes trees of growing size through traces-git's notes engine, then
times single-note writes (median of N) at each size, beside libgit2's own
``create_note`` (which keeps a flat tree) on the same trees.

    python bench/notes_fanout.py [--max 100000] [--samples 30]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pygit2  # noqa: E402

from traces_git.notes import core as notes  # noqa: E402


def fake_shas(start: int, count: int) -> list[str]:
    return [hashlib.sha1(str(i).encode()).hexdigest() for i in range(start, start + count)]


def grow(repo, have: int, want: int) -> None:
    batch = 2000
    for start in range(have, want, batch):
        shas = fake_shas(start, min(batch, want - start))
        notes.update(
            repo,
            {
                s: (lambda old, s=s: notes.with_traces(old, [notes.TraceRef("t" + s[:10])]))
                for s in shas
            },
            message="bench: grow",
        )


def time_writes(repo, samples: int, offset: int) -> float:
    durations = []
    for i, sha in enumerate(fake_shas(10_000_000 + offset, samples)):
        t0 = time.perf_counter()
        notes.update(
            repo,
            {sha: lambda old, i=i: notes.with_traces(old, [notes.TraceRef(f"w{i}")])},
            message="bench: one note",
        )
        durations.append(time.perf_counter() - t0)
    return statistics.median(durations)


def time_hook_writes(repo, samples: int) -> float:
    """The post-commit hook's writer (git's notes code under our lock + CAS) on real commits."""
    sig = pygit2.Signature("b", "b@example.com")
    tree = repo.TreeBuilder().write()
    durations = []
    for i in range(samples):
        commit = str(repo.create_commit(None, sig, sig, f"c{i} {time.time_ns()}", tree, []))
        t0 = time.perf_counter()
        notes.update_one_with_git(
            repo.path,
            commit,
            lambda old, i=i: notes.with_traces(old, [notes.TraceRef(f"h{i}")]),
            message="bench: hook write",
            lock_path=os.path.join(repo.path, "traces-git-notes.lock"),
        )
        durations.append(time.perf_counter() - t0)
    return statistics.median(durations)


def time_libgit2_flat(size: int, samples: int, tmp: str) -> float:
    """libgit2's create_note on a flat tree of ``size`` notes (what pygit2 alone does)."""
    path = os.path.join(tmp, f"flat-{size}")
    repo = pygit2.init_repository(path, bare=True)
    builder = repo.TreeBuilder()
    blob = repo.create_blob(b"traces:x\n")
    for sha in fake_shas(0, size):
        builder.insert(sha, blob, pygit2.GIT_FILEMODE_BLOB)
    sig = pygit2.Signature("b", "b@example.com")
    commit = repo.create_commit(None, sig, sig, "flat", builder.write(), [])
    repo.references.create("refs/notes/flat", commit)
    durations = []
    target = repo.create_commit(None, sig, sig, "t", repo.TreeBuilder().write(), [])
    for i, sha in enumerate(fake_shas(20_000_000, samples)):
        t0 = time.perf_counter()
        repo.create_note(f"traces:w{i}", sig, sig, sha, "refs/notes/flat", True)
        durations.append(time.perf_counter() - t0)
    del target
    return statistics.median(durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    sizes = [s for s in (1_000, 10_000, 100_000) if s <= args.max] or [args.max]
    with tempfile.TemporaryDirectory() as tmp:
        repo_path = os.path.join(tmp, "notes")
        repo = pygit2.init_repository(repo_path, bare=True)
        have = 0
        print(
            f"{'notes':>8} {'fanout':>6} {'engine write (median)':>22}"
            f" {'hook write (git)':>17} {'libgit2 flat create_note':>25}"
        )
        for size in sizes:
            grow(repo, have, size)
            have = size
            ours = time_writes(repo, args.samples, size)
            have += args.samples
            hook = time_hook_writes(repo, min(args.samples, 15))
            flat = time_libgit2_flat(size, min(args.samples, 10), tmp) if size <= 20_000 else None
            git_count = subprocess.run(
                ["git", "--git-dir", repo_path, "notes", "--ref=traces", "list"],
                capture_output=True,
                text=True,
            ).stdout.count("\n")
            print(
                f"{size:>8} {notes.fanout_depth(repo):>6} {ours * 1000:>19.2f} ms"
                f" {hook * 1000:>14.2f} ms "
                f"{(f'{flat * 1000:.2f} ms' if flat is not None else 'skipped'):>25}"
                f"   (git lists {git_count})"
            )


if __name__ == "__main__":
    main()
