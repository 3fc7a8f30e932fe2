"""Time ``traces-git relink`` on a 10,000-commit history.

One ``git fast-import`` builds: ``main`` with N commits (each appends lines to one
of 200 files; every other commit has a note, so N/2 commits are candidates
without a note), 40 unmerged noted branches of 4 commits each, and on top of
main 20 squash merges (a new file with a branch's combined content) and the 4
commits of each of 5 more branches replayed (a rebase merge): 40 new commits the
matcher must relink, and nothing else.

Timed (whole ``traces-git`` processes, median of --runs):

  all        ``relink --dry-run --json`` over every branch (N + 40 commits, N/2 + 40
             without a note): the worst case, the default range
  fetched    ``relink --dry-run --json main~40..main``: what a fetch brings
  write      ``relink --json main~40..main`` once, writing the 40 notes
  baseline   ``git log -p main | git patch-id --stable`` over the same N commits:
             what git alone takes to read and hash every diff once

    python bench/relink.py [--commits 10000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
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

BRANCHES = 40
SQUASHED = 20
REBASED = 5
BRANCH_COMMITS = 4


def git(env: dict, *args: str, cwd: Path, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout.decode().strip()


def build(env: dict, repo: Path, commits: int) -> None:
    out: list[bytes] = []
    t = 1_700_000_000
    mark = 0
    files: dict[str, str] = {}

    def data(text: str) -> None:
        raw = text.encode()
        out.append(b"data %d\n" % len(raw) + raw + b"\n")

    def commit(ref: str, message: str, changes: dict[str, str], parent: str | None = None) -> int:
        nonlocal mark, t
        mark += 1
        t += 1
        out.append(f"commit {ref}\nmark :{mark}\ncommitter T <t@example.com> {t} +0000\n".encode())
        data(message)
        if parent:
            out.append(f"from {parent}\n".encode())
        for path, content in changes.items():
            out.append(f"M 100644 inline {path}\n".encode())
            data(content)
        return mark

    noted: list[tuple[int, str]] = []
    for i in range(1, commits + 1):
        path = f"src/file{i % 200}.py"
        files[path] = files.get(path, "") + "".join(
            f"value_{i}_{k} = compute({i}, {k})\n" for k in range(3)
        )
        number = commit("refs/heads/main", f"main {i}\n", {path: files[path]})
        if i % 2 == 0:
            noted.append((number, f"traces:main-{i}"))
    fork = f":{mark}"

    def branch_states(b: int) -> list[str]:
        states, text = [], ""
        for c in range(BRANCH_COMMITS):
            text += "".join(
                f"def feature_{b}_{c}_{k}(): return {b * 100 + c * 10 + k}\n" for k in range(5)
            )
            states.append(text)
        return states

    for b in range(BRANCHES + REBASED):
        parent = fork
        for c, state in enumerate(branch_states(b)):
            number = commit(
                f"refs/heads/feature-{b}",
                f"feature {b} part {c}\n",
                {f"features/f{b}.py": state},
                parent,
            )
            parent = None
            noted.append((number, f"traces:feature-{b}-{c}"))
    for b in range(SQUASHED):
        commit(
            "refs/heads/main", f"Feature {b} (#{b})\n", {f"features/f{b}.py": branch_states(b)[-1]}
        )
    for b in range(BRANCHES, BRANCHES + REBASED):
        for c, state in enumerate(branch_states(b)):
            commit("refs/heads/main", f"feature {b} part {c}\n", {f"features/f{b}.py": state})
    t += 1
    out.append(f"commit refs/notes/traces\ncommitter T <t@example.com> {t} +0000\n".encode())
    data("notes\n")
    for number, line in noted:
        out.append(f"N inline :{number}\n".encode())
        data(line + "\n")
    out.append(b"done\n")
    git(env, "fast-import", "--quiet", "--done", cwd=repo, input=b"".join(out))


def timed(env: dict, cwd: Path, *args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "traces_git", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"traces-git {' '.join(args)} failed: {proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def baseline(env: dict, cwd: Path, commits: int) -> float:
    started = time.perf_counter()
    log = subprocess.Popen(
        ["git", "log", "-p", "--no-merges", f"-{commits}", "main"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
    )
    subprocess.run(
        ["git", "patch-id", "--stable"],
        cwd=cwd,
        env=env,
        stdin=log.stdout,
        capture_output=True,
        check=True,
    )
    log.wait()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None)
    options = parser.parse_args()
    work = options.keep or Path(tempfile.mkdtemp(prefix="traces-git-bench-relink-"))
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = bench_env(home, PYTHONPATH=str(ROOT))
    repo = work / "repo"
    git(env, "init", "-q", "-b", "main", str(repo), cwd=work)
    started = time.perf_counter()
    build(env, repo, options.commits)
    print(
        f"history: {options.commits} commits on main, {BRANCHES + REBASED} noted branches, "
        f"{SQUASHED} squash + {REBASED * BRANCH_COMMITS} rebased commits to relink "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )
    expected = SQUASHED + REBASED * BRANCH_COMMITS
    rows: dict[str, list[float]] = {"all": [], "fetched": [], "baseline": []}
    for _ in range(options.runs):
        elapsed, result = timed(env, repo, "relink", "--dry-run", "--json")
        assert len(result["matches"]) == expected, result["matches"][:3]
        rows["all"].append(elapsed)
        elapsed, result = timed(
            env, repo, "relink", "--dry-run", "--json", f"main~{expected}..main"
        )
        assert len(result["matches"]) == expected
        rows["fetched"].append(elapsed)
        rows["baseline"].append(baseline(env, repo, options.commits))
    elapsed, result = timed(env, repo, "relink", "--json", f"main~{expected}..main")
    assert len(result["written"]) == expected
    rows["write"] = [elapsed]
    base = statistics.median(rows["baseline"])
    for name, values in rows.items():
        median = statistics.median(values)
        print(
            f"{name:9} median {median:6.2f} s  ({median / base:4.1f}x baseline)  "
            f"runs: {', '.join(f'{v:.2f}' for v in values)}"
        )
    if options.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
