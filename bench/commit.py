"""Time added to `git commit` by traces-git's post-commit hook.

Same session, interleaved runs, medians; every measured commit is preceded by a bare
commit (no hooks at all) under the same conditions, and each row is reported against the
median of its own bare commits:
  bare         `git commit` with no hooks at all
  floor        every hook a commit fires is an `exit 0` sh script: what git's running of
               hooks costs, the floor of any hook tool
  dispatch     traces-git installed, TRACES_GIT=0: the sh dispatcher alone on every hook
  no trace     a store of 10,000 traces / 200,000 events, none for this repo; phase 1 with
               the store untouched (the sh shortcut), phase 2 with another project's agent
               writing to it before each commit (the full selection runs); phase 1 also in
               a linked worktree (git sets GIT_DIR for its hooks)
  attach       one trace that edited the committed file (a note is written, upload handed off)
  official     the official Traces CLI's own hooks (`traces setup git`), when its binary is found

    python bench/commit.py [--runs 25] [--traces 10000] [--events-per-trace 20] [--traces-bin PATH]

The official binary is looked up in --traces-bin, $TRACES_GIT_TEST_TOOLS/node_modules, PATH.

Everything runs in a throwaway HOME; nothing touches the user's git config or store.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.isolation import isolated_env as bench_env  # noqa: E402
from tests.helpers import FIXTURES  # noqa: E402


def isolated_env(home: Path, store: Path) -> dict[str, str]:
    return bench_env(home, TRACES_EVENTSTORE=str(store))


def build_store(path: Path, traces: int, events_per_trace: int, decoy_root: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript((FIXTURES / "schema_v16.sql").read_text())
    db.execute("PRAGMA journal_mode = WAL")
    now = time.time() * 1000
    trace_rows, event_rows = [], []
    for i in range(traces):
        ts = now - (i % 720) * 3_600_000 / 24  # spread over the last 30 days, many recent
        directory = decoy_root / f"project-{i % 200}"
        trace_rows.append((f"bench-{i}", "claude-code", f"trace {i}", ts, str(directory), int(ts)))
        for e in range(events_per_trace):
            if e % 5 == 4:
                event = {
                    "type": "tool_call",
                    "callId": f"c{e}",
                    "toolName": "Edit",
                    "args": {"file_path": str(directory / f"f{e}.py")},
                }
            else:
                event = {"type": "agent_text" if e % 2 else "user_message", "content": "x" * 200}
            event.update({"id": f"bench-{i}-e{e}", "timestamp": ts, "order": e})
            event_rows.append((f"bench-{i}", f"bench-{i}-e{e}", json.dumps(event), int(ts)))
    db.executemany(
        "INSERT INTO traces (id, agent_id, title, timestamp, directory, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        trace_rows,
    )
    db.executemany(
        "INSERT INTO events (trace_id, event_id, event_json, created_at) VALUES (?, ?, ?, ?)",
        event_rows,
    )
    db.commit()
    db.close()


def git(env, *args, cwd=None, check=True):
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check
    )


def make_repo(env, path: Path) -> Path:
    git(env, "init", "-q", "-b", "main", str(path))
    (path / "app.py").write_text("start\n")
    git(env, "add", "app.py", cwd=path)
    git(env, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "init", cwd=path)
    return Path(os.path.realpath(path))


def timed_commit(env, repo: Path, n: int, *hooks_override: str, name: str = "app.py") -> float:
    (repo / name).write_text(f"change {n} {time.time_ns()}\n")
    git(env, "add", name, cwd=repo)
    args = ["git", *hooks_override, "commit", "-q", "-m", f"change {n}"]
    t0 = time.perf_counter()
    subprocess.run(args, cwd=repo, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def skipped_count(repo: Path) -> int:
    """Commits the sh shortcut let through since the last full run (its own counter)."""
    git_dir = repo / ".git"
    if git_dir.is_file():  # a linked worktree: "gitdir: <its git dir>"
        git_dir = Path(git_dir.read_text().split(":", 1)[1].strip())
    path = git_dir / "traces-git-post-commit.skipped"
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def touch_trace(store: Path, trace_id: str, directory: Path, edited: Path) -> None:
    now = time.time() * 1000
    with sqlite3.connect(store) as db:
        db.execute(
            "INSERT OR REPLACE INTO traces (id, agent_id, title, timestamp, directory,"
            " created_at) VALUES (?, 'claude-code', 'live', ?, ?, ?)",
            (trace_id, now, str(directory), int(now)),
        )
        event = {
            "id": f"{trace_id}-edit",
            "type": "tool_call",
            "callId": "c",
            "toolName": "Edit",
            "args": {"file_path": str(edited)},
            "timestamp": now,
            "order": 1,
        }
        db.execute(
            "INSERT OR IGNORE INTO events (trace_id, event_id, event_json, created_at)"
            " VALUES (?, ?, ?, ?)",
            (trace_id, event["id"], json.dumps(event), int(now)),
        )


def find_official(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    tools = os.environ.get("TRACES_GIT_TEST_TOOLS")
    if tools:
        candidate = Path(tools, "node_modules/@traces-sh/traces-linux-x64/bin/traces")
        if candidate.exists():
            return str(candidate)
    return shutil.which("traces")


# What `git commit` runs of the hooks traces-git installs: post-index-change, pre-commit,
# prepare-commit-msg, commit-msg, post-commit (no reference-transaction: docs/install.md).
COMMIT_HOOKS = (
    "post-index-change",
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
)
HOOKS_PER_COMMIT = 5


FLOOR = "floor: `exit 0` sh hooks (any hook tool)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--events-per-trace", type=int, default=20)
    parser.add_argument("--traces-bin", default=None, help="the official traces binary")
    parser.add_argument(
        "--python", default=None, help="Python that runs the hook (default: the checkout's .venv)"
    )
    args = parser.parse_args()
    if args.python is None:
        venv = ROOT / ".venv" / "bin" / "python"
        args.python = str(venv) if venv.exists() else sys.executable

    with tempfile.TemporaryDirectory(prefix="traces-git-bench-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        home.mkdir()
        store = tmp / "store" / "traces.db"
        env = isolated_env(home, store)
        t0 = time.perf_counter()
        build_store(store, args.traces, args.events_per_trace, tmp / "elsewhere")
        print(
            f"store: {args.traces} traces, {args.traces * args.events_per_trace} events "
            f"({time.perf_counter() - t0:.1f} s to build)"
        )
        subprocess.run(
            [args.python, "-m", "traces_git", "install"],
            env=env,
            check=True,
            capture_output=True,
            cwd=str(tmp),  # outside any repository: install configures the one it runs in
        )
        empty_hooks = tmp / "no-hooks"
        empty_hooks.mkdir()
        no_hooks = ("-c", f"core.hooksPath={empty_hooks}")
        # The floor of any hook tool: each hook a commit fires is an `exit 0` sh script.
        floor_hooks = tmp / "exit-0-hooks"
        floor_hooks.mkdir()
        for name in COMMIT_HOOKS:
            (floor_hooks / name).write_text("#!/bin/sh\nexit 0\n")
            (floor_hooks / name).chmod(0o755)
        floor = ("-c", f"core.hooksPath={floor_hooks}")

        base_repo = make_repo(env, tmp / "baseline")
        quiet_repo = make_repo(env, tmp / "no-trace")
        busy_repo = make_repo(env, tmp / "no-trace-busy")
        attach_repo = make_repo(env, tmp / "attached")
        # A linked worktree of another repository: git sets GIT_DIR for its hooks.
        linked_main = make_repo(env, tmp / "linked-main")
        git(env, "worktree", "add", "-q", "-b", "wt", str(tmp / "linked"), cwd=linked_main)
        linked = Path(os.path.realpath(tmp / "linked"))
        official = find_official(args.traces_bin)
        official_repo = None
        if official:
            official_repo = make_repo(env, tmp / "official")
            subprocess.run(
                [official, "setup", "git"],
                cwd=official_repo,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=True,
            )
            # Its hook scripts call `traces` from PATH and quietly do nothing without it.
            official_bin = tmp / "official-bin"
            official_bin.mkdir()
            (official_bin / "traces").symlink_to(official)
            official_env = {**env, "PATH": f"{official_bin}{os.pathsep}{env.get('PATH', '')}"}
        # A user commits some time after installing: let the set-up writes age past the
        # stamp's margin, then one full run per repository leaves its stamp.
        time.sleep(2.2)
        for warm_up in (-2, -1):  # the first run in a repository also configures it
            for repo in (quiet_repo, busy_repo, attach_repo, linked):
                timed_commit(env, repo, warm_up)
            time.sleep(2.2)

        results: dict[str, list[float]] = {}
        paired: dict[str, list[float]] = {}  # the bare commit taken right before each sample
        bare_n = [0]

        def measure(
            row: str, run_env, repo: Path, n: int, file: str = "app.py", hooks: tuple[str, ...] = ()
        ) -> None:
            bare_n[0] += 1
            paired.setdefault(row, []).append(timed_commit(env, base_repo, bare_n[0], *no_hooks))
            results.setdefault(row, []).append(timed_commit(run_env, repo, n, *hooks, name=file))

        # TRACES_GIT=0: every hook a commit fires goes through our sh dispatcher
        # (COMMIT_HOOKS), none starts Python: the chaining cost alone.
        dispatch_env = {**env, "TRACES_GIT": "0"}
        # Phase 1, no agent writing to the store: the sh shortcut's case.
        skips, linked_skips = [skipped_count(quiet_repo)], [skipped_count(linked)]
        for n in range(args.runs):
            measure(FLOOR, env, base_repo, n, file="f.txt", hooks=floor)
            measure("dispatch only (TRACES_GIT=0)", dispatch_env, base_repo, n, file="d.txt")
            measure("no trace, store unchanged (sh shortcut)", env, quiet_repo, n)
            skips.append(skipped_count(quiet_repo))
            measure("the same in a linked worktree", env, linked, n)
            linked_skips.append(skipped_count(linked))
        # Phase 2, an agent writing to the store: each commit runs the full selection.
        for n in range(args.runs):
            touch_trace(
                store,
                f"elsewhere-{n}",
                tmp / "elsewhere" / "project-0",
                tmp / "elsewhere" / "project-0" / "x.py",
            )
            measure("no trace, store changed (full selection)", env, busy_repo, n)
            # a file of its own: the previous commit's trace does not match this one
            touch_trace(store, f"live-{n}", attach_repo, attach_repo / f"live{n}.py")
            measure("one trace attached", env, attach_repo, n, file=f"live{n}.py")
            time.sleep(0.6)  # let the detached upload/push workers of that commit finish
        # Phase 3: the official hook, so its ~0.7 s of CPU per commit does not disturb the
        # others. Its scripts call `traces` from PATH.
        if official_repo:
            hooks = ("-c", f"core.hooksPath={official_repo / '.git' / 'hooks'}")
            for n in range(args.runs):
                touch_trace(store, f"official-{n}", official_repo, official_repo / "app.py")
                bare_n[0] += 1
                paired.setdefault("official Traces CLI hook 0.6.31", []).append(
                    timed_commit(env, base_repo, bare_n[0], *no_hooks)
                )
                results.setdefault("official Traces CLI hook 0.6.31", []).append(
                    timed_commit(official_env, official_repo, n, *hooks)
                )

        notes = git(env, "notes", "--ref=traces", "list", cwd=attach_repo).stdout.count("\n")
        stray = sum(
            git(env, "notes", "--ref=traces", "list", cwd=r, check=False).stdout.count("\n")
            for r in (quiet_repo, busy_repo)
        )
        skipped = sum(1 for a, b in zip(skips, skips[1:], strict=False) if b == a + 1)
        linked_skipped = sum(
            1 for a, b in zip(linked_skips, linked_skips[1:], strict=False) if b == a + 1
        )
        load = os.getloadavg()
        print(f"runs: {args.runs} each, interleaved per phase; hook Python: {args.python}")
        print(
            f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            f"({os.cpu_count()} cores)"
        )
        print(
            "each row: median of the commits, the median of the bare commits (no hooks)"
            " made right before each of them, and the difference"
        )
        print(f"{'scenario':<40} {'median':>10} {'bare':>9} {'added':>10} {'ratio':>6}")
        for name, samples in results.items():
            median = statistics.median(samples)
            base = statistics.median(paired[name])
            print(
                f"{name:<40} {median * 1000:>8.1f}ms {base * 1000:>7.1f}ms "
                f"{(median - base) * 1000:>+8.1f}ms {median / base:>6.1f}"
            )
        dispatch = "dispatch only (TRACES_GIT=0)"
        added = {
            row: statistics.median(results[row]) - statistics.median(paired[row])
            for row in (FLOOR, dispatch)
        }
        per_hook = added[dispatch] / HOOKS_PER_COMMIT
        over_floor = (added[dispatch] - added[FLOOR]) / HOOKS_PER_COMMIT
        print(
            f"dispatcher per hook with no work: {per_hook * 1000:.1f} ms "
            f"({HOOKS_PER_COMMIT} hooks per commit), {over_floor * 1000:.2f} ms of it over "
            "an `exit 0` hook"
        )
        print(
            f"check: attached repo has {notes} notes (expect {args.runs}); no-trace repos have "
            f"{stray} (expect 0); the shortcut skipped Python on {skipped} of {args.runs} "
            f"quiet commits ({linked_skipped} of {args.runs} in the linked worktree)"
        )
        if notes != args.runs:
            runs_file = home / ".local/state/traces-git/runs.jsonl"
            print("last hook runs:", *runs_file.read_text().splitlines()[-3:], sep="\n  ")


if __name__ == "__main__":
    main()
