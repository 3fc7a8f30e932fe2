"""Notes written by traces-git are read by the official Traces CLI (optional tier)."""

from __future__ import annotations

import json
import subprocess

import pygit2
import pytest

from tests.helpers import commit_file, init_repo, tool_path, traces_git
from traces_git.notes import core as notes

TRACES = tool_path("traces")
pytestmark = pytest.mark.skipif(TRACES is None, reason="the official traces CLI is not installed")


def test_traces_notes_json_reads_our_notes(tmp_path, installed, store):
    repo = init_repo(tmp_path / "r")
    first = commit_file(repo, "a.txt")
    # a big, fanned-out notes tree written by traces-git, like a long-lived repository's
    pyrepo = pygit2.Repository(str(repo))
    fake = [f"{i:040x}"[::-1] for i in range(1, 400)]
    notes.update(pyrepo, {s: (lambda old: "traces:filler\n") for s in fake}, message="filler")
    assert notes.fanout_depth(pyrepo) == 1
    traces_git("attach", "first-trace", first, "--url", "https://www.traces.com/s/x1", cwd=repo)
    store.add_trace("hook-trace", repo, edits=[repo / "b.txt"])
    second = commit_file(repo, "b.txt")
    traces_git("detach", "ignored", second, cwd=repo)
    proc = subprocess.run(
        [TRACES, "notes", "--json"], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)["data"]["notes"]
    pairs = {(n["externalId"], n["commitRef"]) for n in listed}
    assert ("first-trace", first) in pairs
    assert ("hook-trace", second) in pairs
