"""What issue 12's additions cost a commit that gets no trace (the Python path).

The sh shortcut of the dispatcher (issue 11) keeps Python out of most such
commits; when Python does run, post-commit now also reads the environment
hints, checks for a replay (a few stat calls) and appends one explain record.
This runs our post-commit part in-process (``hooks.run``) on a real
repository whose commits get no trace, alternating two variants:

- ``current``: the code as it is;
- ``without``: env hints, replay checks and the explain record replaced by
  no-ops (what the hook did before issue 12),
- ``no-record``: the hint and replay checks, but no explain record,

and prints both medians, their difference and ratio, plus micro timings of
each piece (``timeit``, microseconds).

    python bench/hints.py [--runs 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.isolation import isolated_env  # noqa: E402


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="traces-git-bench-hints-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = isolated_env(home, TRACES_EVENTSTORE=str(Path(tmp) / "no-store.db"))
        os.environ.clear()  # the hook runs in this process
        os.environ.update(env)
        repo = Path(tmp) / "repo"
        git("init", "-q", str(repo), cwd=Path(tmp))
        git("commit", "-q", "--allow-empty", "-m", "one", cwd=repo)
        git("commit", "-q", "--allow-empty", "-m", "two", cwd=repo)
        os.chdir(repo)

        from traces_git.attribution import explain_record, postcommit, replay, selection
        from traces_git.hook import entry as hooks

        current = (
            selection.env_hints,
            explain_record.record,
            replay.rebase_state,
            replay.revert_in_progress,
        )

        def plain_hints(environ):
            hints = selection.Hints()
            hints.explicit = selection.env_trace_ids(environ.get("TRACES_TRACE_ID"))
            return hints

        def use(variant: str) -> None:
            (
                selection.env_hints,
                explain_record.record,
                replay.rebase_state,
                replay.revert_in_progress,
            ) = current
            if variant == "no-record":
                explain_record.record = lambda *a, **k: None
            elif variant == "without":
                selection.env_hints = plain_hints
                explain_record.record = lambda *a, **k: None
                replay.rebase_state = lambda git_dir: (
                    "replaying" if os.path.isdir(os.path.join(git_dir, "rebase-merge")) else None
                )
                replay.revert_in_progress = lambda git_dir: False

        samples: dict[str, list[float]] = {"current": [], "without": [], "no-record": []}
        orders = [
            ("current", "without", "no-record"),
            ("without", "no-record", "current"),
            ("no-record", "current", "without"),
        ]
        for i in range(options.runs + 10):
            for variant in orders[i % 3]:
                use(variant)
                start = time.perf_counter()
                hooks.run("post-commit", [])
                elapsed = (time.perf_counter() - start) * 1000
                if i >= 10:
                    samples[variant].append(elapsed)
        use("current")
        assert (
            explain_record.read(
                subprocess.run(
                    ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
                ).stdout.strip(),
                str(repo / ".git"),
            )
            is not None
        ), "the current variant must have recorded the commit"

        medians = {k: statistics.median(v) for k, v in samples.items()}
        env_all = {
            "TRACES_CURRENT_TRACE_ID": "t1",
            "TRACES_CURRENT_AGENT": "claude-code",
            "CODEX_THREAD_ID": "t1",
            "TRACES_CURRENT_SOURCE_PATH": "/tmp/s.jsonl",
        }
        n = 20000

        def micro(stmt) -> float:
            return min(timeit.repeat(stmt, number=n, repeat=5)) / n * 1e6

        git_dir = str(repo / ".git")
        print(
            f"# {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, runs={options.runs}"
        )
        print("| case | median |")
        print("|---|---:|")
        print(
            "| post-commit part, no trace, before issue 12 (`without`) | "
            f"{medians['without']:.2f} ms |"
        )
        print(
            f"| post-commit part, no trace, hint and replay checks only (`no-record`) | "
            f"{medians['no-record']:.2f} ms |"
        )
        print(f"| post-commit part, no trace, now (`current`) | {medians['current']:.2f} ms |")
        for name in ("no-record", "current"):
            diff = medians[name] - medians["without"]
            ratio = medians[name] / medians["without"]
            print(f"| `{name}` minus `without` (ratio) | {diff:+.2f} ms ({ratio:.3f}) |")
        print(f"| `env_hints`, no hint set | {micro(lambda: current[0]({})):.1f} µs |")
        print(f"| `env_hints`, every hint set | {micro(lambda: current[0](env_all)):.1f} µs |")
        print(
            f"| replay checks (`rebase_state` + `revert_in_progress`) | "
            f"{micro(lambda: (current[2](git_dir), current[3](git_dir))):.1f} µs |"
        )
        summary = {"outcome": "ok", "attached": []}
        explained = {
            "commit": "0" * 40,
            "since_ms": 1.0,
            "replay": None,
            "considered": selection.Considered(str(repo)),
            "hints_ignored": [],
        }

        class Repo:
            common_dir = git_dir

        print(
            f"| explain record (one JSON line appended) | "
            f"{micro(lambda: current[1](Repo, 'post-commit', explained, summary)):.1f} µs |"
        )
        del postcommit
    return 0


if __name__ == "__main__":
    sys.exit(main())
