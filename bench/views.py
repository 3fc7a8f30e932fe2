"""Time the views (log, blame, stats, ci) and attach against plain git, in the same run.

The fixture, one ``git fast-import`` stream (a few seconds): 20,000 commits on
``main``, a day's worth of seconds apart. Each commit rewrites one line of one of
100 small files under ``src/``; every 100th commit also rewrites 50 lines of
``big.txt`` (10,000 lines, so its lines come from 200 commits), every 40th one
line of ``small.txt`` (50 lines). Two notes refs: ``traces-2k`` (every 10th
commit) and ``traces-20k`` (every commit), both in git's fanout; each phase
points ``refs/notes/traces`` at one of them. Then, interleaved, each timed as a
whole process with stdout to a file (no pager, no colour), each row against the
plain git command beside it:

  traces-git log -n 1                 vs git log -n 1 --notes=traces
  traces-git log main~2000..main      vs git log --notes=traces main~2000..main
  traces-git log --json (same range)  vs the same
  traces-git blame small.txt          vs git blame small.txt
  traces-git blame big.txt            vs git blame big.txt
  traces-git stats main~1000..main    vs git log --numstat main~1000..main
  traces-git ci (main~1000..main)     vs git log --numstat main~1000..main
  traces-git attach ID COMMIT         vs git notes append; and python -c pass
  traces-git attach --stdin (1,000)   (once per run)

    python bench/views.py [--runs 7] [--python .venv/bin/python] [--keep DIR] [--code DIR]

``--code DIR`` runs the traces_git package found in DIR instead of this checkout's (to
measure an older version on the same fixture; rows it cannot run are left out).

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

COMMITS = 20_000
SMALL_FILES = 100
BIG_LINES = 10_000
BIG_EVERY = 100
BIG_TOUCHED = 50
SMALL_LINES = 50
SMALL_EVERY = 40
NOTES = {"2k": 10, "20k": 1}  # every Nth commit has a note


def isolated_env(home: Path, code: Path = ROOT) -> dict[str, str]:
    return bench_env(home, TRACES_EVENTSTORE=str(home / "no-store.db"), PYTHONPATH=str(code))


def build(env: dict, repo: Path) -> None:
    subprocess.run(["git", "init", "-q", str(repo)], env=env, check=True)
    chunks: list[bytes] = []

    def data(raw: bytes) -> None:
        chunks.append(b"data %d\n" % len(raw) + raw + b"\n")

    small_files = [[f"s{f} line {n}\n" for n in range(20)] for f in range(SMALL_FILES)]
    big = [f"big line {n} v0\n" for n in range(BIG_LINES)]
    small = [f"small line {n} v0\n" for n in range(SMALL_LINES)]
    start = 1_600_000_000
    for i in range(1, COMMITS + 1):
        chunks.append(f"commit refs/heads/main\nmark :{i}\n".encode())
        chunks.append(f"author Dev{i % 7} <d{i % 7}@example.com> {start + 60 * i} +0000\n".encode())
        chunks.append(f"committer Dev <d@example.com> {start + 60 * i} +0000\n".encode())
        data(f"change {i}\n".encode())
        f = i % SMALL_FILES
        small_files[f][i % 20] = f"s{f} line {i % 20} v{i}\n"
        chunks.append(f"M 100644 inline src/f{f:03d}.txt\n".encode())
        data("".join(small_files[f]).encode())
        if i % BIG_EVERY == 1 or i == 1:
            for k in range(BIG_TOUCHED):
                n = (i * 7919 + k * 199) % BIG_LINES
                big[n] = f"big line {n} v{i}\n"
            chunks.append(b"M 100644 inline big.txt\n")
            data("".join(big).encode())
        if i % SMALL_EVERY == 1 or i == 1:
            n = (i * 31) % SMALL_LINES
            small[n] = f"small line {n} v{i}\n"
            chunks.append(b"M 100644 inline small.txt\n")
            data("".join(small).encode())
    for name, every in NOTES.items():
        chunks.append(f"commit refs/notes/traces-{name}\n".encode())
        chunks.append(f"committer Dev <d@example.com> {start + 60 * COMMITS + 1} +0000\n".encode())
        data(b"notes\n")
        for mark in range(every, COMMITS + 1, every):
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


def timed(argv: list[str], cwd: Path, env: dict, stdin: bytes | None = None) -> float:
    with open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        subprocess.run(
            argv, cwd=cwd, env=env, stdout=sink, stderr=subprocess.PIPE, check=True, input=stdin
        )
        return time.perf_counter() - start


def git_out(args: list[str], repo: Path, env: dict) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, check=True, text=True
    ).stdout.strip()


def pairs(tg: list[str], py: str) -> list[tuple[str, list[str], str, list[str]]]:
    """(traces-git row, argv, baseline row, argv)."""
    numstat = ["git", "log", "--numstat", "main~1000..main"]
    return [
        (
            "traces-git log -n 1",
            [*tg, "log", "-n", "1"],
            "git log -n 1 --notes=traces",
            ["git", "log", "-n", "1", "--notes=traces"],
        ),
        (
            "traces-git log main~2000..main",
            [*tg, "log", "main~2000..main"],
            "git log --notes=traces main~2000..main",
            ["git", "log", "--notes=traces", "main~2000..main"],
        ),
        (
            "traces-git log --json main~2000..main",
            [*tg, "log", "--json", "main~2000..main"],
            "git log --notes=traces main~2000..main",
            ["git", "log", "--notes=traces", "main~2000..main"],
        ),
        (
            "traces-git blame small.txt",
            [*tg, "blame", "small.txt"],
            "git blame small.txt",
            ["git", "blame", "small.txt"],
        ),
        (
            "traces-git blame big.txt (10,000 lines)",
            [*tg, "blame", "big.txt"],
            "git blame big.txt",
            ["git", "blame", "big.txt"],
        ),
        (
            "traces-git stats main~1000..main",
            [*tg, "stats", "main~1000..main"],
            "git log --numstat main~1000..main",
            numstat,
        ),
        (
            "traces-git ci --no-fetch --base main~1000 --head main",
            [*tg, "ci", "--no-fetch", "--json", "--base", "main~1000", "--head", "main"],
            "git log --numstat main~1000..main",
            numstat,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--keep", type=Path, default=None, help="Build/reuse the fixture here.")
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="Where traces_git is imported from."
    )
    args = parser.parse_args()
    args.python = os.path.abspath(args.python) if os.sep in args.python else args.python
    tmp = Path(tempfile.mkdtemp(prefix="bench-views-"))
    try:
        home = tmp / "home"
        env = isolated_env(home, args.code.resolve())
        repo = args.keep or tmp / "repo"
        if not (repo / ".git").is_dir():
            started = time.perf_counter()
            build(env, repo)
            print(f"fixture built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        tg = [args.python, "-m", "traces_git"]
        rows: list[tuple[str, str, float, float, str]] = []
        for phase in NOTES:
            ref = git_out(["rev-parse", f"refs/notes/traces-{phase}"], repo, env)
            subprocess.run(
                ["git", "update-ref", "refs/notes/traces", ref], cwd=repo, env=env, check=True
            )
            notes = git_out(["notes", "--ref=traces", "list"], repo, env).count("\n") + 1
            print(f"phase {phase}: {notes} notes", file=sys.stderr)
            scenarios = pairs(tg, args.python)
            samples: dict[str, list[float]] = {}
            for _name, argv, _base_name, base_argv in scenarios:  # warm the caches once
                timed(argv, repo, env)
                timed(base_argv, repo, env)
            shas = git_out(["rev-list", "-n", "1200", "main~3000"], repo, env).split()
            for run in range(args.runs):
                for name, argv, _base_name, base_argv in scenarios:
                    samples.setdefault(name, []).append(timed(argv, repo, env))
                    samples.setdefault(f"{name}|base", []).append(timed(base_argv, repo, env))
                # attach (each run on commits of its own), beside git notes append and bare Python
                samples.setdefault("python -c pass", []).append(
                    timed([args.python, "-c", "pass"], repo, env)
                )
                samples.setdefault("traces-git --version", []).append(
                    timed([*tg, "--version"], repo, env)
                )
                samples.setdefault("traces-git attach ID COMMIT", []).append(
                    timed([*tg, "attach", f"bench-{run}", shas[run]], repo, env)
                )
                samples.setdefault("git notes append", []).append(
                    timed(
                        [
                            "git",
                            "notes",
                            "--ref=traces",
                            "append",
                            "-m",
                            f"traces:append-{run}",
                            shas[100 + run],
                        ],
                        repo,
                        env,
                    )
                )
                if args.code.resolve() == ROOT:
                    lines = "".join(
                        f"{sha} bulk-{run}-{k}\n" for k, sha in enumerate(shas[200:1200])
                    )
                    samples.setdefault("traces-git attach --stdin (1,000 lines)", []).append(
                        timed([*tg, "attach", "--stdin"], repo, env, stdin=lines.encode())
                    )
            for name, _, base_name, _ in scenarios:
                rows.append(
                    (
                        phase,
                        name,
                        statistics.median(samples[name]),
                        statistics.median(samples[f"{name}|base"]),
                        base_name,
                    )
                )
            python = statistics.median(samples["python -c pass"])
            rows.append(
                (
                    phase,
                    "traces-git --version (Python + click: the floor of a click command)",
                    statistics.median(samples["traces-git --version"]),
                    python,
                    "python -c pass",
                )
            )
            rows.append(
                (
                    phase,
                    "traces-git attach ID COMMIT",
                    statistics.median(samples["traces-git attach ID COMMIT"]),
                    python,
                    "python -c pass",
                )
            )
            rows.append(
                (
                    phase,
                    "git notes append (for comparison)",
                    statistics.median(samples["git notes append"]),
                    python,
                    "python -c pass",
                )
            )
            if "traces-git attach --stdin (1,000 lines)" in samples:
                rows.append(
                    (
                        phase,
                        "traces-git attach --stdin (1,000 lines, one notes commit)",
                        statistics.median(samples["traces-git attach --stdin (1,000 lines)"]),
                        0.0,
                        "",
                    )
                )
        print(
            f"| notes | view ({args.runs} runs each, interleaved) | median | baseline | "
            "baseline median | ratio | difference |"
        )
        print("|---|---|---:|---|---:|---:|---:|")
        for phase, name, median, base, base_name in rows:
            if not base_name:
                print(f"| {phase} | `{name}` | {median * 1000:.0f} ms | | | | |")
                continue
            print(
                f"| {phase} | `{name}` | {median * 1000:.0f} ms | `{base_name}` | "
                f"{base * 1000:.0f} ms | {median / base:.2f} | "
                f"{(median - base) * 1000:+.0f} ms |"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(tmp / "home", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
