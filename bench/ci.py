"""Time ``traces-git ci`` on a range of 10,000 commits carrying 10,000 notes.

The history is built with one ``git fast-import`` (a base commit, then N
linear commits on ``feature`` each with a note, plus main moving on after
the fork), pushed to a bare remote, and read in three ways, each timed as
a whole ``traces-git ci --format json`` process:

  cold      a shallow checkout of one commit, as actions/checkout makes it:
            traces-git fetches the notes and deepens the clone (file:// remote);
            --base/--head flags, so the commit count is unknown (doubling deepens)
  cold-pr   the same from a pull_request event file, whose commit count lets
            the first deepen reach the fork point
  warm      the same clone again (commits and notes already there; fetches are no-ops)
  no-fetch  a full clone with the notes fetched, ``--no-fetch``

    python bench/ci.py [--commits 10000] [--runs 3] [--keep DIR]

Everything runs in a throwaway HOME; nothing touches the user's git config.
"""

from __future__ import annotations

import argparse
import json
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

from bench.isolation import isolated_env as bench_env  # noqa: E402


def isolated_env(home: Path) -> dict[str, str]:
    return bench_env(home, PYTHONPATH=str(ROOT))


def git(env: dict, *args: str, cwd: Path | None = None, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout.decode().strip()


def build_history(env: dict, repo: Path, commits: int, main_after: int) -> tuple[str, str]:
    """One fast-import stream: base, ``commits`` noted commits on feature, main moving on."""
    out: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        out.append(b"data %d\n" % len(raw) + raw + b"\n")

    t = 1_700_000_000

    def commit(branch: str, mark: int, subject: str, parent: int | None, path: str) -> None:
        out.append(
            f"commit refs/heads/{branch}\nmark :{mark}\n"
            f"committer Bench <b@example.com> {t + mark} +0000\n".encode()
        )
        data(subject + "\n")
        if parent is not None:
            out.append(f"from :{parent}\n".encode())
        out.append(f"M 100644 inline {path}\n".encode())
        data(f"{subject}\n")

    commit("main", 1, "base", None, "base.txt")
    for i in range(1, commits + 1):
        commit("feature", 1 + i, f"feature commit {i}", 1 if i == 1 else i, f"f/{i % 100}.txt")
    for j in range(1, main_after + 1):
        mark = commits + 1 + j
        commit("main", mark, f"main commit {j}", 1 if j == 1 else mark - 1, "main.txt")
    out.append(
        b"commit refs/notes/traces\n" + f"committer Bench <b@example.com> {t} +0000\n".encode()
    )
    data("notes\n")
    for i in range(1, commits + 1):
        out.append(f"N inline :{1 + i}\n".encode())
        data(f"traces:bench-trace-{i:05d} https://www.traces.com/s/bench-trace-{i:05d}\n")
    out.append(b"done\n")
    git(env, "fast-import", "--quiet", "--done", cwd=repo, input=b"".join(out))
    return git(env, "rev-parse", "main", cwd=repo), git(env, "rev-parse", "feature", cwd=repo)


def run_ci(env: dict, cwd: Path, *args: str, extra_env: dict | None = None) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "traces_git", "ci", "--format", "json", *args],
        cwd=cwd,
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"traces-git ci failed: {proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--main-after", type=int, default=50, help="main commits after the fork")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it")
    args = parser.parse_args()

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="traces-bench-ci-"))
    tmp.mkdir(parents=True, exist_ok=True)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = isolated_env(home)
    try:
        work, remote = tmp / "work", tmp / "remote.git"
        git(env, "init", "-q", str(work))
        start = time.perf_counter()
        base, head = build_history(env, work, args.commits, args.main_after)
        git(env, "init", "-q", "--bare", str(remote))
        git(env, "push", "-q", remote.as_uri(), "main", "feature", "refs/notes/traces", cwd=work)
        print(
            f"built {args.commits} commits + {args.commits} notes and pushed them "
            f"in {time.perf_counter() - start:.1f} s"
        )
        expect = args.commits
        flags = ("--base", base, "--head", head)

        def check(report: dict) -> None:
            assert len(report["commits"]) == expect, len(report["commits"])
            assert len(report["traces"]) == expect, len(report["traces"])

        event = tmp / "event.json"
        event.write_text(
            json.dumps(
                {
                    "pull_request": {
                        "base": {"sha": base, "ref": "main"},
                        "head": {"sha": head, "ref": "feature"},
                        "commits": args.commits,
                    }
                }
            )
        )
        cold, cold_pr, warm, offline = [], [], [], []
        full = tmp / "full"
        git(env, "clone", "-q", remote.as_uri(), str(full))
        git(env, "fetch", "-q", "origin", "refs/notes/traces:refs/notes/traces", cwd=full)

        def shallow_clone(name: str) -> Path:
            clone = tmp / name
            shutil.rmtree(clone, ignore_errors=True)
            git(env, "init", "-q", str(clone))
            git(env, "remote", "add", "origin", remote.as_uri(), cwd=clone)
            git(env, "fetch", "-q", "--depth=1", "origin", head, cwd=clone)
            git(env, "checkout", "-q", "--detach", "FETCH_HEAD", cwd=clone)
            return clone

        for run in range(args.runs):
            clone = shallow_clone(f"ci-pr-{run}")
            seconds, report = run_ci(env, clone, extra_env={"GITHUB_EVENT_PATH": str(event)})
            check(report)
            cold_pr.append(seconds)
            clone = shallow_clone(f"ci-{run}")
            seconds, report = run_ci(env, clone, *flags)
            check(report)
            cold.append(seconds)
            seconds, report = run_ci(env, clone, *flags)
            check(report)
            warm.append(seconds)
            seconds, report = run_ci(env, full, "--no-fetch", *flags)
            check(report)
            offline.append(seconds)
        print(
            f"{git(env, 'version')}, python {sys.version.split()[0]}, "
            f"{os.cpu_count()} cpus, median of {args.runs}"
        )
        for name, values in (
            ("cold", cold),
            ("cold-pr", cold_pr),
            ("warm", warm),
            ("no-fetch", offline),
        ):
            print(
                f"  {name:9s} {statistics.median(values):6.2f} s   "
                f"(runs: {', '.join(f'{v:.2f}' for v in values)})"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
