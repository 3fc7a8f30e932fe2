"""Time ``traces-git blame`` against plain ``git blame`` of the same file, in the same run.

The fixture (one ``git fast-import`` stream, a few seconds): a 5,000-line file
written by a first commit and then touched by 1,999 more, each rewriting 3
lines, so the file's final lines come from about 2,000 different commits; all
2,000 carry a note, and 18,000 other commits on a side branch carry one too
(20,000 notes, in git's fanout). Then, interleaved, each timed as a whole
process with stdout to a file (not a terminal: no pager, no colour):

  git blame FILE              the baseline
  traces-git blame FILE       (git blame --porcelain, one notes listing, one cat-file batch)
  traces-git blame --json FILE
  git blame -M FILE           moves within the file followed ...
  traces-git blame -M FILE    ... and the same through traces-git

    python bench/blame.py [--runs 11] [--python .venv/bin/python] [--keep DIR]

Everything runs in a throwaway HOME; nothing touches the user's git config.
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

from bench.isolation import isolated_env as bench_env  # noqa: E402

LINES = 5000
COMMITS = 2000
OTHER_NOTES = 18000
TOUCHED_PER_COMMIT = 3


def isolated_env(home: Path) -> dict[str, str]:
    return bench_env(home, TRACES_EVENTSTORE=str(home / "no-store.db"), PYTHONPATH=str(ROOT))


def build(env: dict, repo: Path) -> None:
    subprocess.run(["git", "init", "-q", str(repo)], env=env, check=True)
    chunks: list[bytes] = []

    def data(raw: bytes) -> None:
        chunks.append(b"data %d\n" % len(raw) + raw + b"\n")

    lines = [f"line {n} v0 some code here\n".encode() for n in range(LINES)]
    start = 1_700_000_000
    for i in range(1, COMMITS + 1):
        if i > 1:
            for k in range(TOUCHED_PER_COMMIT):
                n = (i * 7919 + k * 1669) % LINES
                lines[n] = f"line {n} v{i} rewritten by commit {i}\n".encode()
        chunks.append(f"commit refs/heads/main\nmark :{i}\n".encode())
        chunks.append(f"author Dev{i % 7} <d@example.com> {start + i} +0000\n".encode())
        chunks.append(f"committer Dev <d@example.com> {start + i} +0000\n".encode())
        data(f"change {i}\n".encode())
        chunks.append(b"M 100644 inline big.txt\n")
        data(b"".join(lines))
    for j in range(1, OTHER_NOTES + 1):
        mark = COMMITS + j
        chunks.append(f"commit refs/heads/side\nmark :{mark}\n".encode())
        chunks.append(f"committer Dev <d@example.com> {start + mark} +0000\n".encode())
        data(f"side {j}\n".encode())
        if j == 1:
            chunks.append(b"from :1\n")
        chunks.append(b"M 100644 inline side.txt\n")
        data(f"side {j}\n".encode())
    chunks.append(b"commit refs/notes/traces\n")
    chunks.append(f"committer Dev <d@example.com> {start + 10**6} +0000\n".encode())
    data(b"notes\n")
    for mark in range(1, COMMITS + OTHER_NOTES + 1):
        chunks.append(f"N inline :{mark}\n".encode())
        data(f"traces:trace-{mark:05d} https://www.traces.com/s/trace-{mark:05d}\n".encode())
    chunks.append(b"done\n")
    subprocess.run(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=repo,
        env=env,
        input=b"".join(chunks),
        check=True,
    )
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "gc", "-q"], cwd=repo, env=env, check=True)


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    with open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, stdout=sink, stderr=subprocess.PIPE, check=True)
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--keep", type=Path, default=None, help="Build/reuse the fixture here.")
    args = parser.parse_args()
    args.python = os.path.abspath(args.python) if os.sep in args.python else args.python
    tmp = Path(tempfile.mkdtemp(prefix="bench-blame-"))
    try:
        home = tmp / "home"
        home.mkdir()
        env = isolated_env(home)
        repo = args.keep or tmp / "repo"
        if not (repo / ".git").is_dir():
            started = time.perf_counter()
            build(env, repo)
            print(f"fixture built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        notes = subprocess.run(
            ["git", "notes", "--ref=traces", "list"],
            cwd=repo,
            env=env,
            capture_output=True,
            check=True,
        ).stdout.count(b"\n")
        touching = subprocess.run(
            ["git", "rev-list", "--count", "main", "--", "big.txt"],
            cwd=repo,
            env=env,
            capture_output=True,
            check=True,
        )
        check = subprocess.run(
            [args.python, "-m", "traces_git", "blame", "--json", "big.txt"],
            cwd=repo,
            env=env,
            capture_output=True,
            check=True,
            text=True,
        )
        import json

        report = json.loads(check.stdout)
        traced = sum(1 for line in report["lines"] if line["traces"])
        touching = touching.stdout.decode().strip()
        print(
            f"{len(report['lines'])} lines, {touching} commits touch the file, "
            f"{len(report['commits'])} distinct commits blamed, {notes} notes, "
            f"{traced} lines with traces",
            file=sys.stderr,
        )
        tg = [args.python, "-m", "traces_git", "blame"]
        scenarios = {
            "git blame FILE": ["git", "blame", "big.txt"],
            "traces-git blame FILE": [*tg, "big.txt"],
            "traces-git blame --json FILE": [*tg, "--json", "big.txt"],
            "git blame -M FILE": ["git", "blame", "-M", "big.txt"],
            "traces-git blame -M FILE": [*tg, "-M", "big.txt"],
        }
        samples: dict[str, list[float]] = {name: [] for name in scenarios}
        for argv in scenarios.values():  # warm the caches once
            timed(argv, repo, env)
        for _ in range(args.runs):
            for name, argv in scenarios.items():
                samples[name].append(timed(argv, repo, env))
        base = statistics.median(samples["git blame FILE"])
        base_m = statistics.median(samples["git blame -M FILE"])
        print(
            f"| scenario ({args.runs} runs each, interleaved) | median | ratio to git blame "
            "| ratio to git blame -M |"
        )
        print("|---|---:|---:|---:|")
        for name, values in samples.items():
            median = statistics.median(values)
            print(
                f"| `{name}` | {median * 1000:.0f} ms | {median / base:.2f} "
                f"| {median / base_m:.2f} |"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(tmp / "home", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
