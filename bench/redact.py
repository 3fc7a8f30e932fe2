"""Redaction throughput on a large transcript (issue 10).

Builds an in-memory transcript of about ``--mb`` MB of event JSON (default 50):
user prompts, agent text and thinking in prose and markdown, tool calls that
write files, tool results that read code, logs and command output, with a
secret of some kind about every 64 KB and one ``.env`` read in 200 tool calls.
Then, per run, turns every event into its API message:

- ``convert`` : messages without redaction (the baseline: what upload cost before);
- ``redact``  : the same with the redaction pass (built-in patterns, secrets-file rule);
- ``redact+3``: the same with three ``traces.redact`` user patterns.

Throughput is transcript MB (event JSON bytes, as the store holds them) per
second of wall time, median of ``--runs``; the ratio is against ``convert``
in the same run. ``--check`` also asserts that no seeded secret survives.

    python bench/redact.py [--mb 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from traces_git.store import Event  # noqa: E402
from traces_git.upload import (  # noqa: E402
    convert,
    redact,  # noqa: E402
)

SECRETS = [
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "sk-ant-api03-" + "Qw3rTy7uIoPaSdFgHjKlZxCv",
    "postgres://admin:Pgs3cretPw@db.internal:5432/app",
    "DB_PASSWORD=hunter2hunter2",
    "alice.secret@example.com",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.JwtSignatureSecret",
]
USER_PATTERNS = [r"ACME-[0-9]{6}", r"\binternal-[a-z]+\.corp\b", r"(?i)project\s+falcon"]

_WORDS = (
    "the function returns a list of values when the cache is empty we fall back to "
    "reading the file again and parse each line into a record with its offset and "
    "length so the caller can seek later tests cover the edge cases of empty input "
    "unicode names and very long lines"
).split()
_CODE = [
    "def parse(line: str) -> Record:",
    "    key, _, value = line.partition('=')",
    "    if not key.strip():",
    "        raise ValueError(f'bad line: {line!r}')",
    "    return Record(key.strip(), value.strip(), offset=len(key))",
    "for index, item in enumerate(items):",
    "    result[item.name] = compute(item, depth=index + 1)",
    "class Cache:",
    "    def __init__(self, size: int = 128) -> None:",
    "        self._data: dict[str, bytes] = {}",
    "import os, sys, json  # standard library only",
    "    logger.info('loaded %d entries from %s', len(rows), path)",
    "    token = session.refresh_token(scope='read')",
    "    private_rows = [row for row in rows if row.private]",
    "    headers = {'Accept': 'application/json', 'X-Request-Id': request_id}",
]
_LOG = [
    "2026-11-30T10:21:07Z INFO  server: listening on 0.0.0.0:8080",
    "2026-11-30T10:21:08Z DEBUG db: pool size=10 idle=9 wait=0ms",
    "PASSED tests/test_parse.py::test_empty_input",
    "FAILED tests/test_parse.py::test_long_line - AssertionError: 4096 != 4095",
    "npm WARN deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported",
    "   Compiling serde v1.0.197",
]


def _prose(rng: random.Random, size: int) -> str:
    out, length = [], 0
    while length < size:
        word = rng.choice(_WORDS)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)


def _lines(rng: random.Random, pool: list[str], size: int) -> str:
    out, length = [], 0
    while length < size:
        line = rng.choice(pool)
        out.append(line)
        length += len(line) + 1
    return "\n".join(out)


def transcript(target_bytes: int, seed: int = 7) -> tuple[list[Event], int]:
    rng = random.Random(seed)
    events: list[Event] = []
    total = 0
    since_secret = 0
    row = 0
    while total < target_bytes:
        row += 1
        kind = rng.choices(
            ["user", "agent", "thinking", "write", "read", "bash"], [1, 3, 2, 2, 3, 2]
        )[0]
        call = f"call-{row}"
        if kind == "user":
            data = {"type": "user_message", "content": _prose(rng, rng.randint(80, 600))}
        elif kind == "agent":
            text = "## Plan\n\n" + _prose(rng, rng.randint(400, 3000)) + "\n\n```python\n"
            data = {
                "type": "agent_text",
                "content": text + _lines(rng, _CODE, 600) + "\n```",
                "modelId": "claude-sonnet-4",
            }
        elif kind == "thinking":
            data = {"type": "agent_thinking", "content": _prose(rng, rng.randint(500, 4000))}
        elif kind == "write":
            data = {
                "type": "tool_call",
                "callId": call,
                "toolName": "Write",
                "args": {
                    "file_path": f"/home/dev/project/src/module_{row}.py",
                    "content": _lines(rng, _CODE, rng.randint(1000, 12000)),
                },
            }
        elif kind == "read":
            name = ".env" if rng.random() < 0.005 else f"src/module_{row}.py"
            events.append(
                Event(
                    row,
                    f"e{row}",
                    {
                        "id": f"e{row}",
                        "type": "tool_call",
                        "callId": call,
                        "toolName": "Read",
                        "args": {"file_path": f"/home/dev/project/{name}"},
                    },
                )
            )
            row += 1
            data = {
                "type": "tool_result",
                "callId": call,
                "toolName": "Read",
                "output": _lines(rng, _CODE, rng.randint(2000, 30000)),
                "status": "success",
            }
        else:
            data = {
                "type": "tool_result",
                "callId": call,
                "toolName": "Bash",
                "output": _lines(rng, _LOG, rng.randint(500, 20000)),
                "status": "success",
            }
        if since_secret > 65536:
            secret = rng.choice(SECRETS)
            field = "content" if "content" in data else "output"
            if field in data:
                data[field] += f"\nsecret: {secret} end\n"
                since_secret = 0
        data.update(id=f"e{row}", order=row, timestamp=1_700_000_000_000 + row)
        size = len(json.dumps(data, ensure_ascii=False).encode("utf-8"))
        total += size
        since_secret += size
        events.append(Event(row, f"e{row}", data))
    return events, total


def run_once(events: list[Event], patterns: list[str] | None) -> tuple[float, list]:
    started = time.perf_counter()
    if patterns is None:
        chunks = list(convert.batches(events))
    else:
        redactor = redact.Redactor(patterns)
        chunks = list(convert.batches(events, redact=redactor.message))
    return time.perf_counter() - started, chunks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="assert no seeded secret survives")
    args = parser.parse_args(argv)

    events, total = transcript(int(args.mb * 1_000_000))
    mb = total / 1_000_000
    print(
        f"transcript: {len(events)} events, {mb:.1f} MB of event JSON; "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    cases = [("convert", None), ("redact", []), ("redact+3", USER_PATTERNS)]
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(args.runs):
        for name, patterns in cases:  # interleaved: machine load hits every case alike
            elapsed, chunks = run_once(events, patterns)
            times[name].append(elapsed)
            if args.check and patterns is not None:
                sent = json.dumps(chunks)
                leaked = [s for s in SECRETS if s in sent]
                assert not leaked, leaked
    base = statistics.median(times["convert"])
    print("| case | median s | MB/s | vs convert |")
    print("|---|---:|---:|---:|")
    for name, _ in cases:
        median = statistics.median(times[name])
        print(f"| {name} | {median:.2f} | {mb / median:.1f} | {median / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
