"""Cost of traces-git's hooks for clone and fetch of repositories with very many refs.

For each size (default 1,000 / 10,000 / 50,000 tags on one commit) it measures, with a
throwaway HOME and traces-git installed globally, medians of:

- ``git clone`` (its post-checkout starts Python once: the new clone's notes setup);
- ``git fetch`` that brings nothing new (the common case: no ref moves);
- ``git fetch`` of N new tags, without ``--atomic`` (git 2.39 makes one ref transaction
  per ref: a reference-transaction hook would run 2N times; traces-git installs none);
- ``git fetch --atomic`` of N new tags (one transaction).

Each against plain git (``core.hooksPath`` at an empty directory) in the same run, the
two run alternately (ABBA).

    python bench/many_refs.py [--sizes 1000,10000,50000] [--runs 3] [--write FILE]
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

from bench.isolation import isolated_env  # noqa: E402


def run(cmd: list[str], cwd: Path, env: dict[str, str], input: bytes | None = None) -> None:
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, input=input)


def paired(
    setup, plain: list[str], ours: list[str], cwd: Path, env: dict[str, str], runs: int
) -> tuple[float, float]:
    """Median wall times in ms of ``plain`` and ``ours``, run alternately (so that a busy
    moment or a warming cache weighs on both), ``setup()`` before each run (not timed)."""
    samples: dict[int, list[float]] = {0: [], 1: []}
    for index in range(runs * 2):
        which = index % 2 if index // 2 % 2 == 0 else 1 - index % 2  # ABBA order
        setup()
        start = time.perf_counter()
        run([plain, ours][which], cwd, env)
        samples[which].append((time.perf_counter() - start) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


def make_source(path: Path, refs: int, env: dict[str, str]) -> None:
    run(["git", "init", "-q", str(path)], path.parent, env)
    run(
        ["git", "-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "x"],
        path,
        env,
    )
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=path, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    lines = "".join(f"{sha} refs/tags/t{i:06d}\n" for i in range(refs))
    (path / ".git" / "packed-refs").write_text(
        "# pack-refs with: peeled fully-peeled sorted \n" + lines
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", help="write the Markdown report to this file")
    options = parser.parse_args()
    if options.write:
        options.write = os.path.abspath(options.write)
    sizes = [int(s) for s in options.sizes.split(",")]

    work = Path(tempfile.mkdtemp(prefix="traces-git-bench-refs-"))
    env = isolated_env(work / "home", TRACES_EVENTSTORE=str(work / "no-store.db"))
    os.environ.update(env)
    from traces_git.setup import install

    os.chdir(work)
    install.install()
    empty = work / "no-hooks"
    empty.mkdir()
    plain = ["-c", f"core.hooksPath={empty}"]
    rows: list[tuple[str, float, float]] = []
    runs = options.runs

    for size in sizes:
        source = work / f"src-{size}"
        source.mkdir()
        make_source(source, size, env)
        dst = work / "dst"

        def fresh(dst: Path = dst) -> None:
            shutil.rmtree(dst, ignore_errors=True)

        clone = ["clone", "-q", str(source), str(dst)]
        base, ours = paired(fresh, ["git", *plain, *clone], ["git", *clone], work, env, runs)
        rows.append((f"`git clone`, {size:,} tags", base, ours))
        fresh()
        run(["git", "clone", "-q", str(source), str(dst)], work, env)
        fetch = ["fetch", "-q", "origin"]
        base, ours = paired(
            lambda: None, ["git", *plain, *fetch], ["git", *fetch], dst, env, runs * 3
        )
        rows.append((f"`git fetch`, nothing new, {size:,} tags", base, ours))

        def drop_tags(dst: Path = dst) -> None:
            listed = subprocess.run(
                ["git", "for-each-ref", "--format=delete %(refname)", "refs/tags"],
                cwd=dst,
                env=env,
                capture_output=True,
                check=True,
            ).stdout
            run(["git", *plain, "update-ref", "--stdin"], dst, env, input=listed)

        # git's own automatic maintenance (gc, pack-refs) off on both sides: when it runs
        # after one fetch and not another it swings a row by seconds at 10,000 refs
        quiet = ["-c", "maintenance.auto=false", "-c", "gc.auto=0"]
        fetch_tags = [*quiet, "fetch", "-q", "origin", "+refs/tags/*:refs/tags/*"]
        atomic = [*fetch_tags[:6], "--atomic", *fetch_tags[6:]]
        base, ours = paired(
            drop_tags, ["git", *plain, *fetch_tags], ["git", *fetch_tags], dst, env, runs
        )
        rows.append((f"`git fetch` of {size:,} new tags (one transaction per ref)", base, ours))
        base, ours = paired(drop_tags, ["git", *plain, *atomic], ["git", *atomic], dst, env, runs)
        rows.append((f"`git fetch --atomic` of {size:,} new tags", base, ours))
        shutil.rmtree(source)
        fresh()

    report = render(rows, runs)
    print(report)
    if options.write:
        Path(options.write).write_text(report)
    install.uninstall()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def render(rows: list[tuple[str, float, float]], runs: int) -> str:
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    lines = [
        "# Benchmark: clone and fetch with many refs",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} Linux, "
        f"{os.cpu_count()} cores, {git_version.strip()}, /bin/sh = "
        f"{os.path.realpath('/bin/sh')}. Medians of {runs} runs (fetch with nothing new: "
        f"{runs * 3}); plain = `core.hooksPath` at an empty directory, same session.",
        "",
        "| case | plain ms | traces-git ms | ratio | added ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for case, base, ours in rows:
        lines.append(
            f"| {case} | {base:.0f} | {ours:.0f} | {ours / base:.2f} | {ours - base:+.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
