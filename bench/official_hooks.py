"""What the official Traces git hooks (`traces setup git`) cost a commit beside traces-git.

Two repositories, both with traces-git installed globally; one also has
`traces setup git`. Each run makes one `git commit --allow-empty` in each
(interleaved, so machine load hits both alike); the figure is the median wall
time. The official binary comes from $TRACES_GIT_TEST_TOOLS (as the tests).

    python bench/official_hooks.py [--runs 15]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    tools = os.environ.get("TRACES_GIT_TEST_TOOLS", "")
    binary = Path(tools) / "node_modules" / "@traces-sh" / "traces-linux-x64" / "bin" / "traces"
    if not binary.exists():
        print("the official traces binary is not installed (set TRACES_GIT_TEST_TOOLS)")
        return 1
    with tempfile.TemporaryDirectory(prefix="traces-git-bench-official-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = isolated_env(
            home,
            TRACES_EVENTSTORE=str(Path(tmp) / "store.db"),
            TRACES_HTTP_URL="http://127.0.0.1:9",
            PATH=f"{binary.parent}{os.pathsep}{os.environ['PATH']}",
        )

        def run(*cmd: str, cwd: Path) -> None:
            subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)

        run(sys.executable, "-m", "traces_git", "install", cwd=Path(tmp))
        repos = {}
        for name in ("traces-git only", "traces-git + traces setup git"):
            repo = Path(tmp) / name.replace(" ", "_").replace("+", "and")
            run("git", "init", "-q", str(repo), cwd=Path(tmp))
            run("git", "commit", "-q", "--allow-empty", "-m", "seed", cwd=repo)
            repos[name] = repo
        run(str(binary), "setup", "git", cwd=repos["traces-git + traces setup git"])
        samples: dict[str, list[float]] = {name: [] for name in repos}
        for i in range(options.runs + 2):
            for name, repo in repos.items():
                start = time.perf_counter()
                run("git", "commit", "-q", "--allow-empty", "-m", f"c{i}", cwd=repo)
                if i >= 2:
                    samples[name].append((time.perf_counter() - start) * 1000)
        print(
            f"# {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
            f"runs={options.runs}"
        )
        print("| case | median commit |")
        print("|---|---:|")
        for name, values in samples.items():
            print(f"| {name} | {statistics.median(values):.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
