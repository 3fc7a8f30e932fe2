"""Line-level attribution (issue 21): the worker's time and note size, and blame with records.

  worker     `traces-git lines backfill --force HEAD^!` (what the detached worker does for one
             commit: read the trace's tool calls from the store, diff, match, write the record)
             for a commit adding 1,000 and 20,000 lines that one Write call produced, with
             every 10th line then changed by the person; the record's size in bytes
  blame      a 5,000-line file written by a first commit and touched by 499 more (10 lines
             each), every commit with a trace note and a line record (agent and human ranges):
             `git blame FILE` against `traces-git blame FILE` and `--json`, interleaved

    python bench/lines.py [--runs 7] [--python .venv/bin/python]

  commit     `git commit` with one trace attached (traces-git installed), `traces.lines` on
             against off, interleaved in the same repository; after each commit the bench
             waits for the detached workers, so each commit's own latency is measured (the
             hook queues a job file and spawns the worker, or nothing when one runs)

Everything runs in a throwaway HOME.
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

from bench.isolation import isolated_env  # noqa: E402
from traces_git.lines import record  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
BLAME_LINES = 5000
BLAME_COMMITS = 500
TOUCHED = 10


def git(env, *args, cwd=None, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, input=data, check=True, capture_output=True
    ).stdout


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    with open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, stdout=sink, stderr=subprocess.PIPE, check=True)
        return time.perf_counter() - start


def worker_case(tmp: Path, env: dict, python: str, size: int, runs: int) -> tuple[float, int]:
    repo = tmp / f"worker-{size}"
    git(env, "init", "-q", str(repo))
    git(
        env,
        "-c",
        "core.hooksPath=/dev/null",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "root",
        cwd=repo,
    )
    store = tmp / f"store-{size}.db"
    db = sqlite3.connect(store)
    db.executescript((FIXTURES / "schema_v16.sql").read_text())
    now = time.time() * 1000
    db.execute(
        "INSERT INTO traces (id, agent_id, title, timestamp, directory, created_at)"
        " VALUES ('bench', 'claude-code', 'bench', ?, ?, ?)",
        (now, str(repo), int(now)),
    )
    written = [f"value_{i} = compute({i}, 'generated')" for i in range(size)]
    event = {
        "id": "e1",
        "type": "tool_call",
        "timestamp": now,
        "order": 1,
        "callId": "c1",
        "toolName": "Write",
        "args": {"file_path": str(repo / "gen.py"), "content": "\n".join(written) + "\n"},
    }
    db.execute(
        "INSERT INTO events (trace_id, event_id, event_json, created_at)"
        " VALUES ('bench', 'e1', ?, ?)",
        (json.dumps(event), int(now)),
    )
    db.commit()
    db.close()
    final = [line if i % 10 else line + "  # edited" for i, line in enumerate(written)]
    (repo / "gen.py").write_text("\n".join(final) + "\n")
    git(env, "add", "-A", cwd=repo)
    git(env, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "generated", cwd=repo)
    git(env, "notes", "--ref=traces", "add", "-m", "traces:bench", "HEAD", cwd=repo)
    run_env = {**env, "TRACES_EVENTSTORE": str(store)}
    argv = [python, "-m", "traces_git", "lines", "backfill", "--force", "--json", "HEAD^!"]
    samples = [timed(argv, repo, run_env) for _ in range(runs)]
    blob = git(env, "notes", "--ref=traces-lines", "list", "HEAD", cwd=repo).decode().strip()
    size_bytes = int(git(env, "cat-file", "-s", blob, cwd=repo))
    rec = record.parse_note(
        git(env, "notes", "--ref=traces-lines", "show", "HEAD", cwd=repo).decode(),
        git(env, "rev-parse", "HEAD", cwd=repo).decode().strip(),
    )
    counts = rec.counts()["gen.py"]
    assert counts["agent"] == size - size // 10 - (1 if size % 10 else 0) or counts["agent"] > 0
    return statistics.median(samples), size_bytes


def build_blame(env: dict, repo: Path) -> None:
    git(env, "init", "-q", str(repo))
    chunks: list[bytes] = []

    def data(raw: bytes) -> None:
        chunks.append(b"data %d\n" % len(raw) + raw + b"\n")

    lines = [f"line {n} v0 some code here\n" for n in range(BLAME_LINES)]
    start = 1_700_000_000
    added_by_commit: list[list[int]] = []
    for i in range(1, BLAME_COMMITS + 1):
        if i == 1:
            touched = list(range(BLAME_LINES))
        else:
            touched = sorted({(i * 7919 + k * 1669) % BLAME_LINES for k in range(TOUCHED)})
            for n in touched:
                lines[n] = f"line {n} v{i} rewritten by commit {i}\n"
        added_by_commit.append(touched)
        chunks.append(f"commit refs/heads/main\nmark :{i}\n".encode())
        chunks.append(f"committer Dev <d@example.com> {start + i} +0000\n".encode())
        data(f"change {i}\n".encode())
        chunks.append(b"M 100644 inline big.txt\n")
        data("".join(lines).encode())
    chunks.append(b"done\n")
    git(env, "fast-import", "--quiet", "--done", cwd=repo, data=b"".join(chunks))
    git(env, "checkout", "-q", "main", cwd=repo)
    shas = git(env, "rev-list", "--reverse", "main", cwd=repo).decode().split()
    # One notes commit per ref, written by fast-import: a trace note and a line record each.
    contents = {}
    replay = [f"line {n} v0 some code here" for n in range(BLAME_LINES)]
    for i, (sha, touched) in enumerate(zip(shas, added_by_commit, strict=True), start=1):
        if i > 1:
            for n in touched:
                replay[n] = f"line {n} v{i} rewritten by commit {i}"
        added = [(n + 1, replay[n]) for n in touched]
        owners = [f"trace-{i}" if (k % 5) else None for k, _ in enumerate(added)]
        rec = record.build(
            sha,
            start + i,
            {"big.txt": (added, owners)},
            {f"trace-{i}": {"url": None, "agent": "claude-code", "model": None}},
            "transcript",
            "bench",
        )
        contents[sha] = (f"traces:trace-{i}\n", record.serialise(rec) + "\n")
    for ref, index in (("refs/notes/traces", 0), ("refs/notes/traces-lines", 1)):
        stream = [f"commit {ref}\ncommitter Dev <d@example.com> {start} +0000\n".encode()]
        stream.append(b"data 6\nnotes\n")
        for sha, texts in contents.items():
            raw = texts[index].encode()
            stream.append(f"N inline {sha}\n".encode() + b"data %d\n" % len(raw) + raw + b"\n")
        stream.append(b"done\n")
        git(env, "fast-import", "--quiet", "--done", cwd=repo, data=b"".join(stream))
    git(env, "gc", "-q", cwd=repo)


def commit_latency(tmp: Path, env: dict, python: str, runs: int) -> None:
    from bench.commit import make_repo, timed_commit, touch_trace

    store = tmp / "commit-store.db"
    db = sqlite3.connect(store)
    db.executescript((FIXTURES / "schema_v16.sql").read_text())
    db.close()
    run_env = {**env, "TRACES_EVENTSTORE": str(store)}
    subprocess.run(
        [python, "-m", "traces_git", "install"],
        env=run_env,
        check=True,
        capture_output=True,
        cwd=str(tmp),
    )
    repo = make_repo(run_env, tmp / "commits")
    samples: dict[str, list[float]] = {"on": [], "off": []}
    for n in range(-1, runs):
        for mode in ("on", "off"):
            git(run_env, "config", "traces.lines", "true" if mode == "on" else "false", cwd=repo)
            name = f"f{n}{mode}.py"
            touch_trace(store, f"t{n}{mode}", repo, repo / name)
            took = timed_commit(run_env, repo, n, name=name)
            if n >= 0:
                samples[mode].append(took)
            time.sleep(2.5)  # the detached workers (lines: 1 s settle) are done
    records = git(env, "notes", "--ref=traces-lines", "list", cwd=repo).decode().count("\n")
    on, off = statistics.median(samples["on"]), statistics.median(samples["off"])
    print(f"\n| commit, one trace attached ({runs} runs each, interleaved) | median |")
    print("|---|---:|")
    print(f"| `traces.lines` false (no line attribution) | {off * 1000:.1f} ms |")
    print(f"| `traces.lines` true (job queued, worker spawned) | {on * 1000:.1f} ms |")
    print(f"| difference | {(on - off) * 1000:+.1f} ms |")
    print(f"check: {records} line records written (expect {runs + 1})", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-lines-"))
    try:
        env = isolated_env(tmp / "home", PYTHONPATH=str(ROOT))
        print("| worker, one commit | median | record size |")
        print("|---|---:|---:|")
        for size in (1000, 20000):
            median, size_bytes = worker_case(tmp, env, args.python, size, args.runs)
            print(f"| {size:,} added lines | {median * 1000:.0f} ms | {size_bytes:,} bytes |")
        commit_latency(tmp, env, args.python, args.runs)
        repo = tmp / "blame"
        started = time.perf_counter()
        build_blame(env, repo)
        print(f"\nblame fixture built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        check = json.loads(
            subprocess.run(
                [args.python, "-m", "traces_git", "blame", "--json", "--offline", "big.txt"],
                cwd=repo,
                env=env,
                capture_output=True,
                check=True,
            ).stdout
        )
        origins: dict[str, int] = {}
        for line in check["lines"]:
            origins[line["origin"]] = origins.get(line["origin"], 0) + 1
        print(
            f"{len(check['lines'])} lines, {len(check['commits'])} commits blamed, "
            f"origins {origins}",
            file=sys.stderr,
        )
        tg = [args.python, "-m", "traces_git", "blame", "--offline"]
        scenarios = {
            "git blame FILE": ["git", "blame", "big.txt"],
            "traces-git blame FILE": [*tg, "big.txt"],
            "traces-git blame --json FILE": [*tg, "--json", "big.txt"],
        }
        samples: dict[str, list[float]] = {name: [] for name in scenarios}
        for argv in scenarios.values():
            timed(argv, repo, env)
        for _ in range(args.runs):
            for name, argv in scenarios.items():
                samples[name].append(timed(argv, repo, env))
        base = statistics.median(samples["git blame FILE"])
        print(
            f"\n| blame, {BLAME_LINES:,}-line file, {BLAME_COMMITS} commits with records "
            f"({args.runs} runs, interleaved) | median | ratio to git blame |"
        )
        print("|---|---:|---:|")
        for name, values in samples.items():
            median = statistics.median(values)
            print(f"| `{name}` | {median * 1000:.0f} ms | {median / base:.2f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
