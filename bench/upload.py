"""What the upload hand-off costs a commit.

Rows:
- ``git commit`` that attaches one trace, uploads off (``traces.upload false``)
  vs on, with the API (tests/api_server.py on 127.0.0.1) answering after 2 s:
  the difference is what the hook pays for queueing and starting the worker;
- ``upload.hand_off`` alone, in-process, with the worker lock held (queue write
  only) and free (queue write + starting the detached worker);
- the import cost of ``traces_git.upload.handoff`` on top of what post-commit loads.

    python bench/upload.py [--runs 15] [--write docs/bench-upload.md]

Everything runs in a throwaway HOME; nothing touches the user's config.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.isolation import isolated_env  # noqa: E402


def _env(home: Path) -> dict[str, str]:
    return isolated_env(home, TRACES_EVENTSTORE=str(home / "store" / "traces.db"))


def git(args: list[str], cwd: Path, env: dict) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


class CommitCase:
    """A repository in its own HOME that commits one attached trace per call."""

    def __init__(self, tmp: Path, upload_on: bool, server_url: str):
        from tests.helpers import TraceStore

        home = tmp / ("on" if upload_on else "off")
        (home / ".config").mkdir(parents=True)
        (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
        self.env = _env(home)
        self.env.update(TRACES_HTTP_URL=server_url, TRACES_API_KEY="bench-token")
        subprocess.run([sys.executable, "-m", "traces_git", "install"], env=self.env, check=True,
                       capture_output=True, cwd=tmp)  # fmt: skip
        self.repo = home / "repo"
        self.repo.mkdir()
        git(["init", "-q"], self.repo, self.env)
        git(["config", "traces.upload", "true" if upload_on else "false"], self.repo, self.env)
        self.store = TraceStore(self.env["TRACES_EVENTSTORE"])
        self.count = 0
        self.commit()

    def commit(self) -> float:
        self.count += 1
        name = f"f{self.count}.py"
        self.store.add_trace(f"bench-{self.count}", str(self.repo), edits=[str(self.repo / name)])
        (self.repo / name).write_text(str(self.count))
        git(["add", name], self.repo, self.env)
        start = time.perf_counter()
        git(["commit", "-qm", name], self.repo, self.env)
        return (time.perf_counter() - start) * 1000


def commit_times(runs: int, tmp: Path) -> tuple[float, float]:
    """Median commit time with uploads off and on, interleaved so load affects both alike."""
    from tests.helpers.api_server import ApiServer

    server = ApiServer(token="bench-token", delay=2.0).start()
    try:
        off, on = CommitCase(tmp, False, server.url), CommitCase(tmp, True, server.url)
        off.commit(), on.commit()  # warm-up
        samples_off, samples_on = [], []
        for _ in range(runs):
            samples_off.append(off.commit())
            samples_on.append(on.commit())
    finally:
        server.stop()
    return statistics.median(samples_off), statistics.median(samples_on)


def hand_off_times(runs: int, tmp: Path) -> tuple[float, float]:
    home = tmp / "handoff"
    home.mkdir()
    os.environ.update(_env(home))
    os.environ["TRACES_API_KEY"] = "bench"
    os.environ["TRACES_HTTP_URL"] = "http://127.0.0.1:9"  # the worker fails fast
    from traces_git.config import Config
    from traces_git.repo import RepoInfo
    from traces_git.upload import handoff as upload
    from traces_git.upload import queue as q

    repo_dir = home / "repo"
    repo_dir.mkdir()
    git(["init", "-q"], repo_dir, os.environ.copy())
    info = RepoInfo.discover(repo_dir)
    config = Config.load(repo_dir)
    lock = q.WorkerLock()
    assert lock.acquire()
    held = []
    for i in range(runs):
        start = time.perf_counter()
        upload.hand_off(info, config, f"{i:040x}", [f"t{i}"])
        held.append((time.perf_counter() - start) * 1000)
    lock.release()
    spawn = []
    for i in range(min(runs, 20)):
        while not q.lock_free():
            time.sleep(0.01)
        start = time.perf_counter()
        upload.hand_off(info, config, f"{i + runs:040x}", [f"s{i}"])
        spawn.append((time.perf_counter() - start) * 1000)
        time.sleep(0.3)
    return statistics.median(held), statistics.median(spawn)


def import_cost(runs: int) -> float:
    code = (
        "import time, traces_git.hook.entry, traces_git.attribution.postcommit, "
        "traces_git.notes.core, "
        "traces_git.attribution.selection, traces_git.store, pygit2; t = time.perf_counter(); "
        "import traces_git.upload.handoff; print((time.perf_counter() - t) * 1000)"
    )
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )  # fmt: skip
        for _ in range(runs)
    ]
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        off, on = commit_times(args.runs, tmp)
        held, spawn = hand_off_times(args.runs * 10, tmp)
        imported = import_cost(args.runs)
    git_version = subprocess.run(
        ["git", "--version"], capture_output=True, text=True
    ).stdout.strip()  # noqa: E501
    lines = [
        "# Benchmark: upload hand-off",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} {platform.system()}, "
        f"{os.cpu_count()} cores, {git_version}, Python {platform.python_version()}.",
        "",
        "| case | ms |",
        "|---|---:|",
        f"| `git commit` attaching one trace, `traces.upload false` (median of {args.runs}, interleaved) | {off:.1f} |",  # noqa: E501
        f"| same, uploads on, API answering after 2 s (median of {args.runs}) | {on:.1f} |",
        f"| `upload.hand_off`, worker running (queue write only; median of {args.runs * 10}) | {held:.2f} |",  # noqa: E501
        f"| `upload.hand_off`, starting the detached worker (median of {min(args.runs * 10, 20)}) | {spawn:.2f} |",  # noqa: E501
        f"| import of `traces_git.upload.handoff` after post-commit's own imports (median of {args.runs}) | {imported:.2f} |",  # noqa: E501
        "",
        "Reproduce: `python bench/upload.py --write docs/bench-upload.md`.",
        "",
        "The commit never waits for the API: with the server taking 2 s per answer, the",
        "commit's time changes by the hand-off only (one queue file, not fsync'd, and",
        "one posix_spawn of the worker).",
    ]  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
