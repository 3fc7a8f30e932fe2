"""A property: agent_added + human_added + untraced_added == added, for every file and range
of random commit histories (real git, real records), and no share is ever over 100%."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import helpers
from traces_git.config import Config
from traces_git.lines import worker
from traces_git.repo import RepoInfo
from traces_git.views import linestats

WORDS = ["alpha", "beta", "", "}", "return x", "gamma = 1", "  delta()", "{", "alpha"]
FILES = ["a.txt", "b.txt", "dir/c.txt"]

commit_st = st.fixed_dictionaries(
    {
        "files": st.dictionaries(
            st.sampled_from(FILES),
            st.lists(st.sampled_from(WORDS), min_size=0, max_size=8),
            min_size=1,
            max_size=3,
        ),
        "traced": st.booleans(),
        "agent_share": st.lists(st.booleans(), min_size=8, max_size=8),
    }
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(commit_st, min_size=1, max_size=6), data=st.data())
def test_agent_human_untraced_add_up(history: list[dict], data) -> None:
    root = Path(tempfile.mkdtemp())
    repo = helpers.init_repo(root / "repo")
    store = helpers.TraceStore(root / "store.db")
    helpers.git("config", "traces.store", str(root / "store.db"), cwd=repo)
    shas = []
    for number, step in enumerate(history):
        trace_id = f"t{number}"
        if step["traced"]:
            store.add_trace(trace_id, repo, agent="claude-code")
        for path, lines in step["files"].items():
            text = "".join(f"{line}\n" for line in lines)
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(text)
            if step["traced"]:
                written = [
                    line for line, mine in zip(lines, step["agent_share"], strict=False) if mine
                ]
                store.add_event(
                    trace_id,
                    {
                        "type": "tool_call",
                        "callId": f"c{number}{path}",
                        "toolName": "Write",
                        "args": {"file_path": str(repo / path), "content": "\n".join(written)},
                    },
                )
        helpers.git("add", "-A", cwd=repo)
        helpers.git("commit", "-q", "--allow-empty", "-m", f"step {number}", cwd=repo)
        sha = helpers.head(repo)
        shas.append(sha)
        if step["traced"]:
            helpers.git("notes", "--ref=traces", "add", "-m", f"traces:{trace_id}", sha, cwd=repo)
    info = RepoInfo.discover(repo)
    session = worker.Session(info, Config.load(str(repo)))
    try:
        for sha, step in zip(shas, history, strict=True):
            if step["traced"]:
                assert session.process(sha) in ("written", "unchanged")
    finally:
        session.close()
    start = data.draw(st.integers(0, len(shas) - 1))
    ranges = [shas[-1]] + ([f"{shas[start]}..{shas[-1]}"] if start < len(shas) - 1 else [])
    for revision_range in ranges:
        report = linestats.stats(os.fspath(repo), [revision_range])
        for row in [*report["files"], report["total"]]:
            parts = (row["agent_added"], row["human_added"], row["untraced_added"])
            assert row["unattributed_added"] == 0
            assert sum(parts) == row["added"], row
            assert all(0 <= part <= row["added"] for part in parts)
