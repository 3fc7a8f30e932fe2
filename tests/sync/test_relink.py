"""Relink: hosted squash and rebase merges get the traces of the commits they replaced.

Each scenario: an author clone pushes a noted branch; a "host" clone (traces-git
off, another committer, the PR title as message) merges it the way GitHub does
and pushes main; the author's real `git fetch` starts the background relink;
`traces-git show` shows the traces on the new commits; the author's next push
delivers the relinked notes to the remote.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers import git, tool_path, traces_git
from tests.helpers.sync import (
    clone,
    fetch_then_hook,
    make_remote,
    note_lines,
    remote_note_lines,
    runs,
    wait_settled,
)

HOST = {
    "TRACES_GIT": "0",
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.com",
}


@pytest.fixture
def remote(tmp_path, installed):
    return make_remote(tmp_path)


def traced_commit(
    repo: Path, trace_id: str, name: str, lines: int = 12, message: str | None = None
) -> str:
    """A real commit (post-commit attaches ``trace_id``) adding ``lines`` lines to ``name``."""
    path = repo / name
    old = path.read_text() if path.exists() else ""
    path.write_text(old + "".join(f"{name} {trace_id} line {i}\n" for i in range(lines)))
    git("add", "--", name, cwd=repo)
    git(
        "commit",
        "-q",
        "-m",
        message or f"work for {trace_id}",
        cwd=repo,
        env={"TRACES_TRACE_ID": trace_id},
    )
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def author_branch(remote: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    author = clone(remote, tmp_path / "author")
    git("checkout", "-q", "-b", "feature", cwd=author)
    shas = [
        traced_commit(author, "trace-one", "a.py"),
        traced_commit(author, "trace-two", "b.py"),
        traced_commit(author, "trace-three", "a.py"),
    ]
    git("push", "-q", "-u", "origin", "feature", cwd=author)
    wait_settled(author)
    assert remote_note_lines(remote, shas[0]) == ["traces:trace-one"]
    return author, shas


def host_clone(remote: Path, tmp_path: Path) -> Path:
    host = clone(remote, tmp_path / "host")
    git("config", "user.name", "Someone Else", cwd=host)
    git("config", "user.email", "else@example.com", cwd=host)
    # main moves on meanwhile: the merge commits differ from the branch's
    (host / "other.txt").write_text("unrelated\n")
    git("add", "other.txt", cwd=host)
    git("commit", "-q", "-m", "unrelated work on main", cwd=host, env=HOST)
    return host


def fetch_and_wait(author: Path, commits: list[str]) -> None:
    """The author's plain `git fetch` and the next hook; the background relink's notes."""
    fetch_then_hook(author)
    missing = [sha for sha in commits if not note_lines(author, sha)]
    assert not missing, f"no relinked notes on {missing}: {runs('fetched')}"


def shown_ids(repo: Path, sha: str) -> set[str]:
    data = json.loads(traces_git("show", sha, "--json", cwd=repo).stdout)
    found = data if isinstance(data, list) else data.get("traces", [])
    return {entry["id"] for entry in found}


def deliver(author: Path, remote: Path) -> None:
    """The author's next ordinary push carries the relinked notes along."""
    git("checkout", "-q", "-b", "next", "origin/main", cwd=author)
    traced_commit(author, "trace-next", "next.py", lines=2)
    git("push", "-q", "origin", "next", cwd=author)
    wait_settled(author)


def test_github_squash_merge_is_relinked_after_a_fetch_and_pushed(remote, tmp_path):
    author, shas = author_branch(remote, tmp_path)
    host = host_clone(remote, tmp_path)
    git("merge", "-q", "--squash", "origin/feature", cwd=host, env=HOST)
    git("commit", "-q", "-m", "Add the feature (#1)", cwd=host, env=HOST)
    squash = git("rev-parse", "HEAD", cwd=host).stdout.strip()
    git("push", "-q", "origin", "main", cwd=host, env=HOST)
    assert runs("fetched") == []  # the author's push moved origin/feature: no relink for that

    fetch_and_wait(author, [squash])
    lines = note_lines(author, squash)
    assert sorted(lines[:3]) == ["traces:trace-one", "traces:trace-three", "traces:trace-two"]
    assert lines[3] == "traces-relinked: " + " ".join(sorted(shas))
    assert shown_ids(author, squash) == {"trace-one", "trace-two", "trace-three"}
    explained = traces_git("explain", squash, cwd=author).stdout
    assert (
        "relinked from (same change, by `traces-git relink`): "
        + ", ".join(sha[:12] for sha in sorted(shas))
        in explained
    )
    assert note_lines(author, f"{squash}~1") == []  # main's own commit: no content match
    deliver(author, remote)
    assert "traces:trace-two" in remote_note_lines(remote, squash)


def test_rebase_merge_relinks_each_commit_to_its_original(remote, tmp_path):
    author, shas = author_branch(remote, tmp_path)
    host = host_clone(remote, tmp_path)
    git("cherry-pick", "main..origin/feature", cwd=host, env=HOST)
    new = git("rev-list", "--reverse", "origin/main..main", cwd=host).stdout.split()[1:]
    assert len(new) == 3 and not set(new) & set(shas)
    git("push", "-q", "origin", "main", cwd=host, env=HOST)

    fetch_and_wait(author, new)
    for original, rebased, trace in zip(
        shas, new, ["trace-one", "trace-two", "trace-three"], strict=True
    ):
        assert note_lines(author, rebased) == [f"traces:{trace}", f"traces-relinked: {original}"]
        assert shown_ids(author, rebased) == {trace}
    deliver(author, remote)
    assert remote_note_lines(remote, new[2])[0] == "traces:trace-three"


def test_squash_with_one_fixup_line_is_relinked_by_added_lines(remote, tmp_path):
    author, shas = author_branch(remote, tmp_path)
    host = host_clone(remote, tmp_path)
    git("merge", "-q", "--squash", "origin/feature", cwd=host, env=HOST)
    with open(host / "b.py", "a") as handle:
        handle.write("a last-minute fix\n")
    git("commit", "-q", "-am", "Add the feature (#2)", cwd=host, env=HOST)
    squash = git("rev-parse", "HEAD", cwd=host).stdout.strip()
    git("push", "-q", "origin", "main", cwd=host, env=HOST)

    fetch_and_wait(author, [squash])
    assert {line for line in note_lines(author, squash) if line.startswith("traces:")} == {
        "traces:trace-one",
        "traces:trace-two",
        "traces:trace-three",
    }
    assert note_lines(author, squash)[-1] == "traces-relinked: " + " ".join(sorted(shas))
    assert shown_ids(author, squash) == {"trace-one", "trace-two", "trace-three"}
    # how it matched: by added lines (the fixup line breaks both patch-ids)
    from traces_git.repo import RepoInfo
    from traces_git.sync import relink

    info = RepoInfo.discover(str(author))
    texts = {sha: "\n".join(note_lines(author, sha)) for sha in shas}
    _, found = relink.match(str(author), info.open(), [squash], texts, [squash])
    assert [(m.how, m.score >= relink.THRESHOLD) for m in found] == [("added lines", True)]
    dry = json.loads(
        traces_git("relink", f"{squash}~1..{squash}", "--dry-run", "--json", cwd=author).stdout
    )
    assert dry["matches"] == []  # already relinked: it has a note now
    deliver(author, remote)
    assert "traces:trace-one" in remote_note_lines(remote, squash)


def test_unrelated_commit_with_the_same_message_is_not_relinked(remote, tmp_path):
    author, shas = author_branch(remote, tmp_path)
    host = host_clone(remote, tmp_path)
    (host / "c.py").write_text("".join(f"something else {i}\n" for i in range(30)))
    git("add", "c.py", cwd=host)
    git("commit", "-q", "-m", "work for trace-one", cwd=host, env=HOST)  # same message
    same_message = git("rev-parse", "HEAD", cwd=host).stdout.strip()
    git("push", "-q", "origin", "main", cwd=host, env=HOST)

    fetch_then_hook(author)
    # The background relink ran (its run is recorded) and wrote nothing.
    last = runs("fetched")[-1]
    assert last["outcome"] == "ok" and last["commits"] == []
    assert "relinked 0 of " in last["detail"]
    assert note_lines(author, same_message) == []
    out = traces_git("relink", cwd=author).stdout
    assert out.startswith("nothing to relink")
    assert note_lines(author, same_message) == []


def test_relink_on_demand_dry_run_and_json(remote, tmp_path):
    author, shas = author_branch(remote, tmp_path)
    host = host_clone(remote, tmp_path)
    git("merge", "-q", "--squash", "origin/feature", cwd=host, env=HOST)
    git("commit", "-q", "-m", "squashed", cwd=host, env=HOST)
    squash = git("rev-parse", "HEAD", cwd=host).stdout.strip()
    git("push", "-q", "origin", "main", cwd=host, env=HOST)
    # fetch with relinking off: nothing happens in the background
    git("config", "traces.relink", "false", cwd=author)
    git("fetch", "-q", cwd=author)
    time.sleep(1)
    assert note_lines(author, squash) == []

    dry = traces_git("relink", "origin/main~2..origin/main", "--dry-run", cwd=author).stdout
    assert dry.startswith(f"would relink {squash[:12]}: 3 trace(s)")
    assert "(range patch-id)" in dry
    assert note_lines(author, squash) == []
    data = json.loads(traces_git("relink", "--json", cwd=author).stdout)
    assert data["written"] == [squash]
    assert data["matches"][0]["how"] == "range patch-id"
    assert sorted(data["matches"][0]["sources"]) == sorted(shas)
    again = json.loads(traces_git("relink", "--json", cwd=author).stdout)
    assert again["written"] == [] and again["matches"] == []


@pytest.mark.parametrize("bad", ["--output=/tmp/x", "no-such-ref..main", ""])
def test_relink_rejects_a_bad_range_in_one_line(remote, tmp_path, bad):
    author = clone(remote, tmp_path / "author")
    proc = traces_git("relink", "--", bad, cwd=author, check=False)
    assert proc.returncode != 0
    assert proc.stderr.startswith("traces-git: not a commit range")
    assert "Traceback" not in proc.stderr


def test_relink_when_the_originals_are_gone_does_nothing(remote, tmp_path):
    author, shas = author_branch(remote, tmp_path)
    host = host_clone(remote, tmp_path)
    git("merge", "-q", "--squash", "origin/feature", cwd=host, env=HOST)
    git("commit", "-q", "-m", "squashed", cwd=host, env=HOST)
    squash = git("rev-parse", "HEAD", cwd=host).stdout.strip()
    git("push", "-q", "origin", "main", cwd=host, env=HOST)
    # a fresh clone that never had the branch's commits: notes name absent commits
    git("push", "-q", "origin", "--delete", "feature", cwd=author, env={"TRACES_GIT": "0"})
    other = clone(remote, tmp_path / "other", "--no-local")  # only reachable objects
    deadline = time.monotonic() + 30
    while not note_lines(other, shas[0]) and time.monotonic() < deadline:
        git("fetch", "-q", cwd=other)  # the notes (the clone's own notes fetch is detached)
        time.sleep(0.2)
    assert "traces:trace-one" in note_lines(other, shas[0])  # the note, not the commit
    assert git("cat-file", "-e", shas[0], cwd=other, check=False).returncode != 0
    out = json.loads(traces_git("relink", "--json", cwd=other).stdout)
    assert out["matches"] == [] and out["written"] == []
    assert note_lines(other, squash) == []


@pytest.mark.skipif(tool_path("traces") is None, reason="the official traces CLI is not installed")
def test_official_cli_reads_a_relinked_note_and_ignores_the_provenance_line(remote, tmp_path):
    import subprocess

    author, shas = author_branch(remote, tmp_path)
    host = host_clone(remote, tmp_path)
    git("cherry-pick", "main..origin/feature", cwd=host, env=HOST)
    git("push", "-q", "origin", "main", cwd=host, env=HOST)
    git("checkout", "-q", "main", cwd=author)
    git("config", "traces.relink", "false", cwd=author)
    git("pull", "-q", "--ff-only", cwd=author, env={"TRACES_GIT": "0"})
    traces_git("relink", "--json", cwd=author)
    tip = git("rev-parse", "HEAD", cwd=author).stdout.strip()
    assert note_lines(author, tip)[-1] == f"traces-relinked: {shas[2]}"
    proc = subprocess.run(
        [tool_path("traces"), "notes", "--json"],
        cwd=author,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)["data"]["notes"]
    assert {n["externalId"] for n in listed if n["commitRef"] == tip} == {"trace-three"}


def test_hostile_notes_on_a_blob_a_missing_object_and_markup_do_not_stop_relinking(
    remote, tmp_path
):
    author, shas = author_branch(remote, tmp_path)
    blob = git("hash-object", "-w", "--stdin", cwd=author, input=b"a blob\n").stdout.strip()
    git("notes", "--ref=traces", "add", "-m", "traces:on-a-blob", blob, cwd=author)
    git(
        "notes",
        "--ref=traces",
        "add",
        "-f",
        "-m",
        "traces:trace-two\n\x1b[31mtraces-relinked: nothing <script>\ntraces:bad id with spaces",
        shas[1],
        cwd=author,
    )
    missing = "f" * 40
    git(
        "update-ref",
        "refs/notes/traces",
        _note_commit_with(author, missing, "traces:ghost\n"),
        cwd=author,
    )
    host = host_clone(remote, tmp_path)
    git("cherry-pick", "main..origin/feature", cwd=host, env=HOST)
    git("push", "-q", "origin", "main", cwd=host, env=HOST)
    git("config", "traces.relink", "false", cwd=author)
    git("fetch", "-q", cwd=author)
    data = json.loads(
        traces_git("relink", "--json", "origin/main~3..origin/main", cwd=author).stdout
    )
    assert len(data["written"]) == 3
    second = git("rev-parse", "origin/main~1", cwd=author).stdout.strip()
    assert note_lines(author, second) == ["traces:trace-two", f"traces-relinked: {shas[1]}"]
    explained = traces_git("explain", second, "--json", cwd=author).stdout
    assert json.loads(explained)["relinked_from"] == [shas[1]]


def _note_commit_with(repo: Path, sha: str, text: str) -> str:
    """A notes commit on top of refs/notes/traces adding a note for an object not here."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=text.encode()).stdout.strip()
    old = git("rev-parse", "refs/notes/traces", cwd=repo).stdout.strip()
    git("read-tree", "--index-output=" + str(repo / ".git" / "tmp-index"), old, cwd=repo)
    env = {"GIT_INDEX_FILE": str(repo / ".git" / "tmp-index")}
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},{sha}", cwd=repo, env=env)
    tree = git("write-tree", cwd=repo, env=env).stdout.strip()
    return git("commit-tree", tree, "-p", old, "-m", "ghost note", cwd=repo).stdout.strip()


def test_a_fetch_moving_many_branches_relinks_once_and_a_push_not_at_all(remote, tmp_path):
    author, shas = author_branch(remote, tmp_path)
    host = host_clone(remote, tmp_path)
    for number in range(12):
        git("branch", f"topic-{number}", "main", cwd=host)
    git("push", "-q", "origin", *[f"topic-{n}" for n in range(12)], cwd=host, env=HOST)
    fetch_then_hook(author)  # creates 12 tracking branches: nothing to relink
    assert [r for r in runs("fetched") if "relinked" in r.get("detail", "")] == []
    git("merge", "-q", "--squash", "origin/feature", cwd=host, env=HOST)
    git("commit", "-q", "-m", "Add the feature (#3)", cwd=host, env=HOST)
    squash = git("rev-parse", "HEAD", cwd=host).stdout.strip()
    for number in range(12):
        (host / f"t{number}.txt").write_text(f"{number}\n")
        git("checkout", "-q", f"topic-{number}", cwd=host)
        git("add", ".", cwd=host)
        git("commit", "-q", "-m", f"topic {number}", cwd=host, env=HOST)
    git("push", "-q", "origin", "main", *[f"topic-{n}" for n in range(12)], cwd=host, env=HOST)

    fetch_and_wait(author, [squash])  # 13 tracking branches moved in one fetch
    relinked = [r for r in runs("fetched") if "relinked" in r.get("detail", "")]
    assert len(relinked) == 1 and relinked[0]["commits"] == [squash]

    # the author's own push moves origin/feature: no fetch, so nothing runs after it
    before = len(runs("fetched"))
    git("checkout", "-q", "feature", cwd=author)
    traced_commit(author, "trace-four", "d.py")
    git("push", "-q", "origin", "feature", cwd=author)
    wait_settled(author)
    git("checkout", "-q", "HEAD", cwd=author)
    time.sleep(0.5)
    assert len(runs("fetched")) == before
    assert (author / ".git" / "traces-git-fetch-seen").is_file()
    traces_git("uninstall", cwd=author)  # the global uninstall unconfigures this clone too
    assert not (author / ".git" / "traces-git-fetch-seen").exists()
