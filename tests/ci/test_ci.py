"""``traces-git ci`` on real remotes and shallow checkouts made the way actions/checkout does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, head, init_repo, note, traces_git
from tests.helpers.ci import (
    ZEROS,
    bare_remote,
    fast_import_commits,
    github_env,
    note_count,
    pull_request_event,
    push_event,
    shallow_checkout,
)

ALPHA_URL = "https://www.traces.com/s/alpha"


def _ci_json(cwd: Path, *args: str, env: dict | None = None) -> dict:
    proc = traces_git("ci", "--format", "json", *args, cwd=cwd, env=env)
    assert proc.stderr == ""
    return json.loads(proc.stdout)


@pytest.fixture
def world(tmp_path: Path) -> dict:
    """A remote with main and a feature branch of four commits with notes, a synthetic
    PR merge commit at refs/pull/1/merge, and main moved on after the fork."""
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    git("remote", "add", "origin", url, cwd=work)
    m1 = commit_file(work, "a.txt", message="main one")
    git("checkout", "-q", "-b", "feature", cwd=work)
    f1 = commit_file(work, "f1.txt", message="feature: one")
    traces_git("attach", "alpha", f1, "--url", ALPHA_URL, cwd=work)
    f2 = commit_file(work, "f2.txt", message="feature: no trace")
    f3 = commit_file(work, "f3.txt", message="feature: two | traces")
    git("notes", "--ref=traces", "append", "-m", "traces:beta", f3, cwd=work)
    git("notes", "--ref=traces", "append", "-m", "traces:gamma", f3, cwd=work)
    f4 = commit_file(work, "f4.txt", message="feature: alpha again")
    # A line from a tool we do not know, next to ours: tolerated, ignored.
    git(
        "notes",
        "--ref=traces",
        "add",
        "-m",
        "otherbot:run-42 https://example.com/42\ntraces:alpha",
        f4,
        cwd=work,
    )
    git("checkout", "-q", "main", cwd=work)
    m2 = commit_file(work, "a.txt", message="main two")
    m3 = commit_file(work, "b.txt", message="main three")
    git("checkout", "-q", "--detach", m3, cwd=work)
    git("merge", "-q", "--no-ff", "-m", "Merge feature into main", f4, cwd=work)
    merge = head(work)
    git("checkout", "-q", "main", cwd=work)
    git(
        "push",
        "-q",
        "origin",
        "main",
        "feature",
        "refs/notes/traces",
        f"{merge}:refs/pull/1/merge",
        cwd=work,
    )
    return {
        "tmp": tmp_path,
        "remote": remote,
        "url": url,
        "work": work,
        "m1": m1,
        "m2": m2,
        "m3": m3,
        "f": [f1, f2, f3, f4],
        "merge": merge,
    }


def test_pull_request_in_shallow_checkout_reports_exact_commits_and_traces(world: dict) -> None:
    tmp, (f1, f2, f3, f4) = world["tmp"], world["f"]
    # actions/checkout on pull_request: only the synthetic merge commit, no notes.
    clone = shallow_checkout(tmp / "ci", world["url"], world["merge"])
    assert note(clone, world["merge"]) is None
    event = pull_request_event(tmp / "event.json", world["m3"], f4, commits=4)
    env = github_env(tmp, event)

    report = _ci_json(clone, env=env)

    assert report == {
        "base": world["m3"],
        "head": f4,
        "commits": [
            {"sha": f1, "subject": "feature: one", "traces": [{"id": "alpha", "url": ALPHA_URL}]},
            {"sha": f2, "subject": "feature: no trace", "traces": []},
            {
                "sha": f3,
                "subject": "feature: two | traces",
                "traces": [{"id": "beta", "url": None}, {"id": "gamma", "url": None}],
            },
            {
                "sha": f4,
                "subject": "feature: alpha again",
                "traces": [{"id": "alpha", "url": ALPHA_URL}],
            },
        ],
        "traces": [
            {"id": "alpha", "url": ALPHA_URL, "commits": [f1, f4]},
            {"id": "beta", "url": None, "commits": [f3]},
            {"id": "gamma", "url": None, "commits": [f3]},
        ],
        # Lines added per file, counted commit by commit (each commit adds one line).
        "files": [
            {
                "path": "f1.txt",
                "added": 1,
                "removed": 0,
                "traced_added": 1,
                "traced_removed": 0,
                "agent_added": 0,
                "human_added": 0,
                "untraced_added": 0,
                "unattributed_added": 1,
                "binary": False,
                "traces": ["alpha"],
            },
            {
                "path": "f2.txt",
                "added": 1,
                "removed": 0,
                "traced_added": 0,
                "traced_removed": 0,
                "agent_added": 0,
                "human_added": 0,
                "untraced_added": 1,
                "unattributed_added": 0,
                "binary": False,
                "traces": [],
            },
            {
                "path": "f3.txt",
                "added": 1,
                "removed": 0,
                "traced_added": 1,
                "traced_removed": 0,
                "agent_added": 0,
                "human_added": 0,
                "untraced_added": 0,
                "unattributed_added": 1,
                "binary": False,
                "traces": ["beta", "gamma"],
            },
            {
                "path": "f4.txt",
                "added": 1,
                "removed": 0,
                "traced_added": 1,
                "traced_removed": 0,
                "agent_added": 0,
                "human_added": 0,
                "untraced_added": 0,
                "unattributed_added": 1,
                "binary": False,
                "traces": ["alpha"],
            },
        ],
    }
    assert Path(env["GITHUB_OUTPUT"]).read_text() == "trace-count=3\ntrace-ids=alpha beta gamma\n"
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("<!-- traces-git:ci -->\n")
    assert "**3 traces** on 3 of 4 commits" in summary
    assert f"| [`alpha`](<{ALPHA_URL}>) | `{f1[:7]}`, `{f4[:7]}` |" in summary
    assert f"| `{f3[:7]}` | feature\\: two \\| traces | `beta`, `gamma` |" in summary
    # Notes went to the tracking ref, whole (never pruned, though the clone
    # lacks most annotated commits); the local notes ref was not created.
    assert note_count(clone, "remotes/origin/traces") == 3
    assert (
        git("rev-parse", "--verify", "-q", "refs/notes/traces", cwd=clone, check=False).returncode
        != 0
    )


def test_markdown_is_the_default_output(world: dict) -> None:
    tmp, f4 = world["tmp"], world["f"][3]
    clone = shallow_checkout(tmp / "ci", world["url"], world["merge"])
    proc = traces_git("ci", "--base", world["m3"], "--head", f4, cwd=clone)
    assert proc.stdout.startswith("<!-- traces-git:ci -->\n### Agent traces\n")
    assert "| `gamma` |" in proc.stdout
    assert proc.stderr == ""


def test_push_event_reports_before_to_after(world: dict) -> None:
    tmp, work = world["tmp"], world["work"]
    before = world["m3"]
    p1 = commit_file(work, "p1.txt", message="push one")
    git("notes", "--ref=traces", "add", "-m", "traces:delta", p1, cwd=work)
    p2 = commit_file(work, "p2.txt", message="push two")
    git("push", "-q", "origin", "main", "refs/notes/traces", cwd=work)
    clone = shallow_checkout(tmp / "ci", world["url"], p2)
    env = github_env(tmp, push_event(tmp / "event.json", before, p2), name="push")

    report = _ci_json(clone, env=env)

    assert report["base"] == before and report["head"] == p2
    assert [(c["sha"], [t["id"] for t in c["traces"]]) for c in report["commits"]] == [
        (p1, ["delta"]),
        (p2, []),
    ]
    assert report["traces"] == [{"id": "delta", "url": None, "commits": [p1]}]
    assert Path(env["GITHUB_OUTPUT"]).read_text() == "trace-count=1\ntrace-ids=delta\n"
    assert "**1 trace** on 1 of 2 commits" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_push_of_a_new_branch_reports_what_it_adds_to_the_default_branch(world: dict) -> None:
    tmp, f = world["tmp"], world["f"]
    clone = shallow_checkout(tmp / "ci", world["url"], f[3])
    event = push_event(tmp / "event.json", ZEROS, f[3], ref="refs/heads/feature")
    report = _ci_json(clone, env=github_env(tmp, event, name="push"))
    assert report["base"] == world["m3"]  # the default branch's tip
    assert [c["sha"] for c in report["commits"]] == f
    assert [t["id"] for t in report["traces"]] == ["alpha", "beta", "gamma"]


def test_push_that_deletes_a_branch_reports_nothing(world: dict) -> None:
    tmp = world["tmp"]
    clone = shallow_checkout(tmp / "ci", world["url"], world["m3"])
    env = github_env(
        tmp,
        push_event(tmp / "event.json", world["f"][3], ZEROS, ref="refs/heads/feature"),
        name="push",
    )
    report = _ci_json(clone, env=env)
    assert report["commits"] == [] and report["traces"] == []
    assert Path(env["GITHUB_OUTPUT"]).read_text() == "trace-count=0\ntrace-ids=\n"


def test_local_unpushed_notes_are_kept_and_reported(world: dict) -> None:
    tmp, f = world["tmp"], world["f"]
    clone = tmp / "dev"
    git("clone", "-q", world["url"], str(clone))
    git("fetch", "-q", "origin", "refs/notes/traces:refs/notes/traces", cwd=clone)
    git("notes", "--ref=traces", "append", "-m", "traces:local-only", f[1], cwd=clone)
    local_before = head(clone, "refs/notes/traces")

    report = _ci_json(clone, "--base", world["m3"], "--head", f[3])

    assert report["commits"][1]["traces"] == [{"id": "local-only", "url": None}]
    assert [t["id"] for t in report["traces"]] == ["alpha", "local-only", "beta", "gamma"]
    assert head(clone, "refs/notes/traces") == local_before
    assert "traces:local-only" in note(clone, f[1])


def test_remote_without_notes_gives_an_empty_report(tmp_path: Path) -> None:
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    base = commit_file(work, "a.txt", message="one")
    tip = commit_file(work, "b.txt", message="two")
    git("push", "-q", url, "main", cwd=work)
    clone = shallow_checkout(tmp_path / "ci", url, tip)
    env = github_env(tmp_path, pull_request_event(tmp_path / "event.json", base, tip))

    proc = traces_git("ci", "--format", "json", cwd=clone, env=env)

    assert proc.returncode == 0 and proc.stderr == ""
    report = json.loads(proc.stdout)
    assert report["commits"] == [{"sha": tip, "subject": "two", "traces": []}]
    assert report["traces"] == []
    assert Path(env["GITHUB_OUTPUT"]).read_text() == "trace-count=0\ntrace-ids=\n"
    assert (
        "No agent traces are attached to the 1 commit"
        in Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "GitHub event file not found"),
        ('{"pull_request": {"base": ', "GitHub event file is not valid JSON"),
        ('["a list"]', "GitHub event file is not a JSON object"),
        (
            '{"pull_request": {"base": {"sha": "main"}, "head": {}}}',
            "GitHub event file has no commit at pull_request.base.sha",
        ),
        ('{"schedule": "0 * * * *"}', "GitHub event file has no pull_request or push range"),
    ],
)
def test_bad_event_file_is_one_line_and_non_zero(
    tmp_path: Path, content: str | None, message: str
) -> None:
    repo = init_repo(tmp_path / "repo")
    commit_file(repo, "a.txt")
    event = tmp_path / "event.json"
    if content is not None:
        event.write_text(content)
    env = github_env(tmp_path, event)

    proc = traces_git("ci", "--no-fetch", cwd=repo, env=env, check=False)

    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"traces-git: {message}")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert Path(env["GITHUB_OUTPUT"]).read_text() == ""


def test_no_range_without_event_or_flags_is_a_usage_error(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    commit_file(repo, "a.txt")
    proc = traces_git("ci", "--no-fetch", cwd=repo, check=False)
    assert proc.returncode == 2
    assert proc.stderr == (
        "traces-git: no range to report: pass --base (and --head), or run in GitHub Actions\n"
    )


def test_unknown_remote_is_a_usage_error(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    base = commit_file(repo, "a.txt")
    proc = traces_git("ci", "--base", base, "--remote", "upstream", cwd=repo, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("traces-git: no remote named 'upstream'")


def test_no_fetch_in_a_full_clone_reads_local_notes_only(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    base = commit_file(repo, "a.txt")
    tip = commit_file(repo, "b.txt", message="with note")
    git("notes", "--ref=traces", "add", "-m", "traces:offline", tip, cwd=repo)
    report = _ci_json(repo, "--no-fetch", "--base", base)  # --head defaults to HEAD
    assert report["traces"] == [{"id": "offline", "url": None, "commits": [tip]}]


def test_range_of_500_commits(tmp_path: Path) -> None:
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    base = commit_file(work, "a.txt", message="base")
    shas = fast_import_commits(work, "feature", 500, parent=base, notes_every=5, prefix="bulk")
    git("push", "-q", url, "main", "feature", "refs/notes/traces", cwd=work)
    clone = shallow_checkout(tmp_path / "ci", url, shas[-1])
    env = github_env(
        tmp_path, pull_request_event(tmp_path / "event.json", base, shas[-1], commits=500)
    )

    report = _ci_json(clone, env=env)

    assert [c["sha"] for c in report["commits"]] == shas
    expected = {shas[i - 1]: [f"bulk-{i}"] for i in range(5, 501, 5)}
    got = {c["sha"]: [t["id"] for t in c["traces"]] for c in report["commits"] if c["traces"]}
    assert got == expected
    assert len(report["traces"]) == 100
    outputs = Path(env["GITHUB_OUTPUT"]).read_text().splitlines()
    assert outputs[0] == "trace-count=100"
    assert outputs[1] == "trace-ids=" + " ".join(f"bulk-{i}" for i in range(5, 501, 5))
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "**100 traces** on 100 of 500 commits" in summary
    assert len(summary) < 65_536  # fits in one PR comment


def test_deepens_only_as_far_as_the_range_needs(tmp_path: Path) -> None:
    """Long histories on both sides of the fork: the clone stays shallow, the range is exact."""
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    old = fast_import_commits(work, "main", 200, prefix="old")
    pr = fast_import_commits(work, "feature", 40, parent=old[-1], prefix="pr", notes_every=10)
    main = fast_import_commits(work, "main", 70, parent=old[-1], prefix="new")
    git("push", "-q", url, "main", "feature", "refs/notes/traces", cwd=work)
    clone = shallow_checkout(tmp_path / "ci", url, main[-1])
    event = pull_request_event(tmp_path / "event.json", main[-1], pr[-1], commits=40)

    report = _ci_json(clone, env=github_env(tmp_path, event))

    assert [c["sha"] for c in report["commits"]] == pr
    assert [t["id"] for t in report["traces"]] == ["pr-10", "pr-20", "pr-30", "pr-40"]
    assert git("rev-parse", "--is-shallow-repository", cwd=clone).stdout.strip() == "true"
    present = int(git("rev-list", "--count", "--all", cwd=clone).stdout)
    assert present < 310  # not the whole history


def test_flags_override_the_event(world: dict) -> None:
    tmp, f = world["tmp"], world["f"]
    clone = shallow_checkout(tmp / "ci", world["url"], world["merge"])
    event = pull_request_event(tmp / "event.json", world["m3"], f[3])
    report = _ci_json(clone, "--head", f[2], env=github_env(tmp, event))
    assert report["head"] == f[2]
    assert [c["sha"] for c in report["commits"]] == f[:3]


def test_base_far_ahead_of_a_short_history_is_not_over_reported(tmp_path: Path) -> None:
    """The PR side reaches the root long before main's side reaches the fork point:
    the root commits must still not count as part of the PR."""
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    old = fast_import_commits(work, "main", 3, prefix="old", notes_every=1)
    pr = fast_import_commits(work, "feature", 2, parent=old[-1], prefix="pr", notes_every=1)
    main = fast_import_commits(work, "main", 50, parent=old[-1], prefix="new")
    git("push", "-q", url, "main", "feature", "refs/notes/traces", cwd=work)
    clone = shallow_checkout(tmp_path / "ci", url, main[-1])

    report = _ci_json(clone, "--base", main[-1], "--head", pr[-1])

    assert [c["sha"] for c in report["commits"]] == pr
    assert [t["id"] for t in report["traces"]] == ["pr-1", "pr-2"]


def test_event_without_a_range_falls_back_to_the_flags(world: dict) -> None:
    tmp, f = world["tmp"], world["f"]
    clone = shallow_checkout(tmp / "ci", world["url"], f[3])
    event = tmp / "event.json"
    event.write_text('{"inputs": {}, "ref": "refs/heads/feature"}')  # workflow_dispatch
    report = _ci_json(clone, "--base", world["m1"], env=github_env(tmp, event, "workflow_dispatch"))
    assert [c["sha"] for c in report["commits"]] == f  # --head defaulted to HEAD


def test_a_commit_the_remote_does_not_have_is_a_one_line_error(world: dict) -> None:
    tmp = world["tmp"]
    clone = shallow_checkout(tmp / "ci", world["url"], world["merge"])
    ghost = "1234567890" * 4
    event = pull_request_event(tmp / "event.json", ghost, world["f"][3])
    proc = traces_git("ci", cwd=clone, env=github_env(tmp, event), check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        f"traces-git: cannot fetch {world['f'][3][:12]}, {ghost[:12]} from origin: "
    )
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""


def test_first_push_of_the_default_branch_reports_from_the_root(tmp_path: Path) -> None:
    remote, url = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    shas = fast_import_commits(work, "main", 40, prefix="first", notes_every=20)
    git("push", "-q", url, "main", "refs/notes/traces", cwd=work)
    clone = shallow_checkout(tmp_path / "ci", url, shas[-1])
    env = github_env(tmp_path, push_event(tmp_path / "event.json", ZEROS, shas[-1]), name="push")

    report = _ci_json(clone, env=env)

    assert report["base"] is None
    assert [c["sha"] for c in report["commits"]] == shas
    assert [t["id"] for t in report["traces"]] == ["first-20", "first-40"]
    assert f"in `{shas[-1][:12]}`" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_merge_group_event(world: dict) -> None:
    tmp, f = world["tmp"], world["f"]
    clone = shallow_checkout(tmp / "ci", world["url"], f[3])
    event = tmp / "event.json"
    event.write_text(json.dumps({"merge_group": {"base_sha": world["m1"], "head_sha": f[3]}}))
    report = _ci_json(clone, env=github_env(tmp, event, "merge_group"))
    assert report["base"] == world["m1"] and [c["sha"] for c in report["commits"]] == f
