"""Late attach: what it costs `git commit`, and how long until the note is there.

Real agent session files under a throwaway HOME (Claude Code, Codex, OpenCode: 30 sessions
of other projects each, as a busy machine has), the official Traces CLI found through
traces.cliPath, traces-git installed. Rows, medians over --runs, each commit paired with a
bare commit (no hooks) taken right before it:

  commit, nothing stale, late attach off   traces.lateAttach=false: the hook as before
  commit, nothing stale, late attach on    the freshness check finds nothing to refresh
  commit, store never built                 a new session wrote the file; no store yet:
                                            the hook queues a late attach (latency), the
                                            worker refreshes and writes the note (time to note)
  commit, store only listed                 `traces list` ran, no events: same

    python bench/late_attach.py [--runs 7] [--traces-bin PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.commit import find_official  # noqa: E402
from bench.isolation import isolated_env  # noqa: E402


def git(env, *args, cwd) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def make_repo(env, path: Path) -> Path:
    path.mkdir(parents=True)
    git(env, "init", "-q", cwd=path)
    (path / "README.md").write_text("x\n")
    git(env, "add", ".", cwd=path)
    git(env, "commit", "-q", "-m", "init", cwd=path)
    return Path(os.path.realpath(path))


def timed_commit(env, repo: Path, name: str, *config: str) -> float:
    target = repo / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"{time.time_ns()}\n")
    git(env, "add", name, cwd=repo)
    started = time.perf_counter()
    subprocess.run(["git", *config, "commit", "-q", "-m", name], cwd=repo, env=env, check=True)
    return time.perf_counter() - started


def wait_note(env, repo: Path, timeout: float = 60.0) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        proc = subprocess.run(
            ["git", "notes", "--ref=traces", "show", "HEAD"], cwd=repo, env=env, capture_output=True
        )
        if proc.returncode == 0:
            return time.perf_counter() - started
        time.sleep(0.02)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--traces-bin", default=None)
    parser.add_argument("--python", default=None)
    args = parser.parse_args()
    official = find_official(args.traces_bin)
    if official is None:
        sys.exit("late_attach bench: the official traces binary was not found (--traces-bin)")
    python = args.python or str(ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable

    with tempfile.TemporaryDirectory(prefix="traces-git-late-bench-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        store = tmp / "store" / "traces.db"
        env = isolated_env(home, TRACES_EVENTSTORE=str(store))
        os.environ.update({k: env[k] for k in ("HOME", "XDG_DATA_HOME")})
        from tests.helpers import agent_sessions as agents

        for i in range(30):  # other projects' sessions: what the freshness check walks past
            other = tmp / f"other-{i}"
            other.mkdir()
            agents.claude_session(other, [("Write", {"file_path": str(other / "x.py")})])
            agents.codex_session(other, "*** Begin Patch\n*** Add File: x.py\n+x\n*** End Patch\n")
            agents.opencode_session(other, [("write", {"filePath": str(other / "x.py")})])
        subprocess.run(
            [python, "-m", "traces_git", "install"],
            env=env,
            cwd=tmp,
            check=True,
            capture_output=True,
        )
        git(env, "config", "--global", "traces.cliPath", official, cwd=tmp)
        bare_hooks = tmp / "no-hooks"
        bare_hooks.mkdir()
        bare = ("-c", f"core.hooksPath={bare_hooks}")
        base = make_repo(env, tmp / "base")
        quiet = make_repo(env, tmp / "quiet")
        subprocess.run([official, "list", "--json"], cwd=tmp, env=env, capture_output=True)

        rows: dict[str, list[float]] = {}
        to_note: dict[str, list[float]] = {}

        def paired(row: str, repo: Path, name: str, *config: str) -> None:
            bare_s = timed_commit(env, base, f"b-{len(rows.get(row, []))}-{name}", *bare)
            rows.setdefault(row, []).append(timed_commit(env, repo, name, *config) - bare_s)

        off = ("-c", "traces.lateAttach=false")
        for n in range(args.runs):
            paired("commit, nothing stale, late attach off", quiet, f"off{n}.py", *off)
            paired("commit, nothing stale, late attach on", quiet, f"on{n}.py")
            for row, listed in (
                ("commit, store never built", False),
                ("commit, store only listed", True),
            ):
                repo = make_repo(env, tmp / f"{'listed' if listed else 'never'}-{n}")
                if not listed and store.exists():
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{store}{suffix}").unlink(missing_ok=True)
                time.sleep(1.05)
                agents.claude_session(
                    repo,
                    [("Write", {"file_path": str(repo / "new.py")})],
                    start_ms=time.time() * 1000,
                )
                if listed:
                    subprocess.run(
                        [official, "list", "--json"], cwd=repo, env=env, capture_output=True
                    )
                paired(row, repo, "new.py")
                waited = wait_note(env, repo)
                to_note.setdefault(row, []).append(float("nan") if waited is None else waited)

        print(f"late attach bench: {args.runs} runs, official CLI {official}")
        print(f"{'row':45} {'added to commit (median)':>26} {'note after commit (median)':>28}")
        for row, values in rows.items():
            noted = to_note.get(row)
            after = f"{statistics.median(noted):.2f} s" if noted else "at commit"
            print(f"{row:45} {statistics.median(values) * 1000:>23.1f} ms {after:>28}")


if __name__ == "__main__":
    main()
