"""Dispatch overhead of traces-git's hook scripts beside lefthook's and husky's.

Each case runs one hook through git itself (``git hook run NAME``, git >= 2.36)
in a throwaway repository, N times; the figure is the median wall time minus
the median of the same command with no hook at all. "No work" means the hook
has nothing to do: for traces-git pre-commit and commit-msg (no Python starts),
for lefthook and husky a configured hook whose only command is a no-op.

    python bench/dispatch.py [--runs 200] [--write FILE]

lefthook and husky come from $TRACES_GIT_TEST_TOOLS/node_modules/.bin (as the
tests); a missing tool's rows are left out.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sh(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)


def timed(cmd: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    """Median wall time of ``cmd`` in ms (a few warm-up runs first)."""
    samples = []
    for i in range(runs + 5):
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd} failed in {cwd}")
        if i >= 5:
            samples.append(elapsed)
    return statistics.median(samples)


def tool(name: str) -> str | None:
    base = os.environ.get("TRACES_GIT_TEST_TOOLS")
    if base and (Path(base) / "node_modules" / ".bin" / name).exists():
        return str(Path(base) / "node_modules" / ".bin" / name)
    return shutil.which(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--write", help="write the Markdown report to this file")
    options = parser.parse_args()
    if options.write:  # the run changes directory below
        options.write = os.path.abspath(options.write)

    work = Path(tempfile.mkdtemp(prefix="traces-git-bench-"))
    home = work / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "XDG_"))}
    env.update(
        {
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
            "TRACES_EVENTSTORE": str(work / "no-store.db"),
        }
    )
    os.environ.update(env)  # the installer below runs in-process

    from traces_git.setup import install

    os.chdir(work)  # a global install also configures the repository it runs in: none here
    ours = Path(install.install().hooks_dir)  # global: sets core.hooksPath in this HOME

    def repo(name: str) -> Path:
        path = work / name
        sh(["git", "init", "-q", str(path)], work, env)
        sh(["git", "commit", "-q", "--allow-empty", "-m", "init", "--no-verify"], path, env)
        (path / "msg").write_text("message\n")
        return path

    rows: list[tuple[str, str, float]] = []
    runs = options.runs
    empty = work / "no-hooks"
    empty.mkdir()

    plain = repo("plain")
    hook_cmd = {
        "pre-commit": ["git", "hook", "run", "--ignore-missing", "pre-commit"],
        "commit-msg": ["git", "hook", "run", "--ignore-missing", "commit-msg", "--", "msg"],
    }

    def base(path: Path, hook: str) -> float:
        return timed(["git", "-c", f"core.hooksPath={empty}", *hook_cmd[hook][1:]], path, env, runs)

    for hook in ("pre-commit", "commit-msg"):
        none = base(plain, hook)
        rows.append(("no hook (baseline)", hook, none))
        rows.append(
            ("traces-git, nothing to chain", hook, timed(hook_cmd[hook], plain, env, runs) - none)
        )

    chained = repo("chained")
    for hook in ("pre-commit", "commit-msg"):
        target = chained / ".git" / "hooks" / hook
        target.write_text("#!/bin/sh\n:\n")
        target.chmod(0o755)
        none = base(chained, hook)
        direct = (
            timed(
                ["git", "-c", f"core.hooksPath={chained / '.git' / 'hooks'}", *hook_cmd[hook][1:]],
                chained,
                env,
                runs,
            )
            - none
        )
        rows.append(("repo's own no-op hook, run by git directly", hook, direct))
        rows.append(
            (
                "traces-git chaining the repo's own no-op hook",
                hook,
                timed(hook_cmd[hook], chained, env, runs) - none,
            )
        )

    lefthook = tool("lefthook")
    if lefthook:
        lh = repo("lefthook")
        (lh / "lefthook.yml").write_text(
            "pre-commit:\n  commands:\n    noop:\n      run: 'true'\n"
            "commit-msg:\n  commands:\n    noop:\n      run: 'true'\n"
        )
        sh([lefthook, "install"], lh, {**env, "GIT_CONFIG_GLOBAL": "/dev/null"})
        for hook in ("pre-commit", "commit-msg"):
            none = base(lh, hook)
            cmd = ["git", "-c", f"core.hooksPath={lh / '.git' / 'hooks'}", *hook_cmd[hook][1:]]
            rows.append(("lefthook, one no-op command", hook, timed(cmd, lh, env, runs) - none))

    husky = tool("husky")
    if husky:
        hu = repo("husky")
        sh([husky], hu, env)
        for hook in ("pre-commit", "commit-msg"):
            (hu / ".husky" / hook).write_text(":\n")
            none = base(hu, hook)
            rows.append(
                ("husky, a no-op hook script", hook, timed(hook_cmd[hook][:], hu, env, runs) - none)
            )

    # The whole `git commit`: no store here, so after the first commit the post-commit
    # shortcut applies and no hook of the commit starts Python (issue 11).
    commit = ["git", "commit", "-q", "--allow-empty", "-m", "bench"]
    none = timed(["git", "-c", f"core.hooksPath={empty}", *commit[1:]], plain, env, runs // 4)
    rows.append(("`git commit`, no hooks (baseline)", "commit", none))
    rows.append(
        (
            "`git commit` with traces-git (all 6 hooks dispatched, no Python)",
            "commit",
            timed(commit, plain, env, runs // 4) - none,
        )
    )

    report = render(rows, runs, ours)
    print(report)
    if options.write:
        Path(options.write).write_text(report)
    install.uninstall()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def render(rows: list[tuple[str, str, float]], runs: int, ours: Path) -> str:
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    lines = [
        "# Benchmark: hook dispatch overhead",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} Linux, "
        f"{os.cpu_count()} cores, {git_version.strip()}, Python "
        f"{platform.python_version()}, /bin/sh = {os.path.realpath('/bin/sh')}.",
        f"Median of {runs} runs of `git hook run NAME` (commit rows: {runs // 4} runs of "
        "`git commit --allow-empty`), minus the median of the same command with no hook "
        "(baseline rows show that absolute time). All rows in one session on one machine.",
        "",
        "| case | hook | ms |",
        "|---|---|---:|",
    ]
    for case, hook, ms in rows:
        lines.append(f"| {case} | {hook} | {ms:.1f} |")
    lines += [
        "",
        "Reproduce: `TRACES_GIT_TEST_TOOLS=/path/with/node_modules python bench/dispatch.py "
        "--write FILE` (lefthook and husky rows need those npm packages).",
        "",
        "What the rows mean: traces-git's hooks with no work start no Python: the stub sources "
        "the dispatcher, which checks for chained hooks with shell built-ins only (plus one "
        "`git rev-parse` in a linked worktree). lefthook starts its Go binary, which reads "
        "its config; husky's stub sources its `h` script, which runs the user's script "
        "with `sh -e`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
