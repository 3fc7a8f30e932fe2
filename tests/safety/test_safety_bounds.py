"""Bounded input (issue 18, h): trace IDs of at most 128 characters; a huge
TRACES_TRACE_ID is capped at 32 IDs with the rest ignored and logged."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import commit_file, git, note, note_ids, traces_git
from traces_git.attribution import selection
from traces_git.notes import core as notes


def test_attach_refuses_ids_over_the_bound_in_one_line(repo):
    longest = "a" * notes.MAX_ID_LENGTH
    assert traces_git("attach", longest, cwd=repo).returncode == 0
    assert note_ids(repo) == [longest]
    for bad in (
        "b" * (notes.MAX_ID_LENGTH + 1),
        "c" * 100_000,
        "semi;colon",
        "new\nline",
        "\x1b[31mred",
    ):
        proc = traces_git("attach", bad, cwd=repo, check=False)
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1 and len(proc.stderr) < 300
        assert "\x1b" not in proc.stderr
    assert note(repo) == f"traces:{longest}\n"


def test_attach_drops_a_url_with_spaces_or_control_characters(repo):
    """Issue 19's rule for every value written: a bad URL is dropped with one warning
    line, the ID is written alone (never a second note line)."""
    for bad in ("https://x.test/a b", "https://x.test/\nevil", ""):
        proc = traces_git("attach", "ok-id", "--url", bad, cwd=repo, check=False)
        assert proc.returncode == 0 and len(proc.stderr.strip().splitlines()) == 1
        assert "--url dropped" in proc.stderr
    assert note(repo) == "traces:ok-id\n"


def test_a_note_line_with_an_overlong_id_is_not_a_trace(repo):
    sha = commit_file(repo, "a.txt")
    long_id = "x" * 200
    git("notes", "--ref=traces", "add", "-m", f"traces:{long_id}\ntraces:fine-1", sha, cwd=repo)
    shown = json.loads(traces_git("show", "--json", cwd=repo).stdout)
    assert [t["id"] for t in shown["traces"]] == ["fine-1"]


def test_huge_trace_id_list_is_capped_and_logged(repo):
    ids = [f"id-{i}" for i in range(5000)]
    (repo / "f.txt").write_text("f\n")
    git("add", "f.txt", cwd=repo)
    proc = git(
        "commit", "-q", "-m", "f", cwd=repo, env={"TRACES_TRACE_ID": ",".join(ids + ["y" * 500])}
    )
    assert proc.stdout == "" and proc.stderr == ""
    assert note_ids(repo) == ids[: selection.MAX_ENV_IDS]
    log_text = Path(os.environ["XDG_STATE_HOME"], "traces-git", "traces-git.log").read_text()
    assert "TRACES_TRACE_ID ignored" in log_text and "more than 32 IDs" in log_text
    explained = json.loads(traces_git("explain", "--json", cwd=repo).stdout)
    assert any(item["variable"] == "TRACES_TRACE_ID" for item in explained["hints_ignored"])


def test_env_trace_ids_dedupes_and_tells_what_it_dropped():
    ignored: list[dict] = []
    got = selection.env_trace_ids("a, a b " + "z" * 129 + " c", ignored)
    assert got == ["a", "b", "c"]
    assert ignored and "not a trace ID" in ignored[0]["why"]
