"""Notes travel with the code: real git push / fetch / pull between clones of a bare remote."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.helpers import commit_file, git, init_repo, traces_git
from tests.helpers.sync import (
    clone,
    commit_with_trace,
    fetch_then_hook,
    make_remote,
    note_lines,
    queued,
    read_queue_file,
    ref,
    remote_note_lines,
    remote_ref,
    runs,
    wait_fetched,
    wait_settled,
)


@pytest.fixture
def remote(tmp_path, installed):
    return make_remote(tmp_path)


def test_commit_then_immediate_push_delivers_the_note(remote, tmp_path):
    a = clone(remote, tmp_path / "a")
    sha = commit_with_trace(a, "agent-1")
    git("push", "-q", cwd=a)  # right after the commit, as agents do
    wait_settled(a)
    assert remote_note_lines(remote, sha) == ["traces:agent-1"]
    assert ref(a, "refs/traces-git/remotes/origin/traces") == ref(a, "refs/notes/traces")
    # The tracking ref belongs to the user's own fetches: moving it in the background
    # could fail a `git fetch` running at the same moment.
    assert ref(a, "refs/notes/remotes/origin/traces") is None
    assert queued(a) == []
    # uninstalling from the repo drops that cache ref along with our config
    from traces_git.repo import RepoInfo
    from traces_git.sync import transfer as sync

    sync.unconfigure(RepoInfo.discover(a))
    assert ref(a, "refs/traces-git/remotes/origin/traces") is None
    assert ref(a, "refs/notes/traces") is not None  # the notes themselves stay


@pytest.mark.parametrize("first", ["a", "b"])
def test_two_clones_same_and_different_commits_end_with_the_union(remote, tmp_path, first):
    a = clone(remote, tmp_path / "a")
    b = clone(remote, tmp_path / "b")
    c = clone(remote, tmp_path / "c")
    shared = ref(a, "HEAD")
    traces_git("attach", "on-shared-a", shared, cwd=a)
    traces_git("attach", "on-shared-b", shared, cwd=b)
    git("checkout", "-q", "-b", "topic-a", cwd=a)
    git("checkout", "-q", "-b", "topic-b", cwd=b)
    sha_a = commit_with_trace(a, "only-a")
    sha_b = commit_with_trace(b, "only-b")
    sha_c = commit_with_trace(c, "local-c")  # never pushed: must survive fetches
    traces_git("attach", "local-c", shared, cwd=c)

    order = [a, b] if first == "a" else [b, a]
    for repo in order:
        git("push", "-q", "-u", "origin", "HEAD", cwd=repo)
        wait_settled(repo)

    union = ["traces:on-shared-a", "traces:on-shared-b"]
    assert remote_note_lines(remote, shared) == union
    assert remote_note_lines(remote, sha_a) == ["traces:only-a"]
    assert remote_note_lines(remote, sha_b) == ["traces:only-b"]
    # A plain fetch (merged by the next hook) / pull brings the others' notes in.
    fetch_then_hook(order[0])
    git("pull", "-q", "--no-rebase", "--no-edit", cwd=c)  # main is up to date: no hook runs
    git("checkout", "-q", "HEAD", cwd=c)  # the next one merges
    wait_fetched(c)
    for repo in (a, b):
        assert note_lines(repo, shared) == union
        assert note_lines(repo, sha_a) == ["traces:only-a"]
        assert note_lines(repo, sha_b) == ["traces:only-b"]
    assert note_lines(c, shared) == ["traces:local-c", *union]
    assert note_lines(c, sha_b) == ["traces:only-b"]
    assert note_lines(c, sha_c) == ["traces:local-c"]
    # C's merged notes descend from the remote's: its next push is a fast-forward.
    git("push", "-q", "origin", "main:c-branch", cwd=c)
    wait_settled(c)
    assert remote_note_lines(remote, shared) == ["traces:local-c", *union]
    assert all(r["outcome"] != "error" for r in runs("notes-push"))


def test_fetch_and_pull_keep_unpushed_local_notes(remote, tmp_path):
    a = clone(remote, tmp_path / "a")
    b = clone(remote, tmp_path / "b")
    base = ref(a, "HEAD")
    local_sha = commit_with_trace(a, "unpushed-a")  # a local commit, not pushed
    traces_git("attach", "unpushed-on-base", base, cwd=a)
    theirs = commit_with_trace(b, "pushed-b")
    traces_git("attach", "b-on-base", base, cwd=b)
    git("push", "-q", cwd=b)
    wait_settled(b)

    before = ref(a, "refs/notes/traces")
    fetch_then_hook(a)
    assert note_lines(a, local_sha) == ["traces:unpushed-a"]
    assert note_lines(a, base) == ["traces:b-on-base", "traces:unpushed-on-base"]
    assert note_lines(a, theirs) == ["traces:pushed-b"]
    merged = ref(a, "refs/notes/traces")
    parents = git("rev-list", "--parents", "-n", "1", merged, cwd=a).stdout.split()[1:]
    assert sorted(parents) == sorted([before, ref(a, "refs/notes/remotes/origin/traces")])
    # pull (merge) keeps them too and the merge commit's own note is untouched.
    git("pull", "-q", "--no-rebase", "--no-edit", cwd=a)
    assert note_lines(a, local_sha) == ["traces:unpushed-a"]
    assert note_lines(a, theirs) == ["traces:pushed-b"]


def test_remote_without_notes_does_not_make_fetch_fail_or_print(remote, tmp_path):
    a = clone(remote, tmp_path / "a")
    commit_file(a, "x.txt")  # any hook run configures the refspec lazily
    assert (
        "+refs/notes/traces*:refs/notes/remotes/origin/traces*"
        in git("config", "--get-all", "remote.origin.fetch", cwd=a).stdout
    )
    fetched = git("fetch", cwd=a)
    assert (fetched.returncode, fetched.stdout, fetched.stderr) == (0, "", "")
    pulled = git("pull", "-q", "--no-rebase", cwd=a)
    assert (pulled.returncode, pulled.stderr) == (0, "")
    assert ref(a, "refs/notes/remotes/origin/traces") is None


@pytest.mark.slow
def test_ten_clones_pushing_at_once_all_notes_arrive(remote, tmp_path):
    clones, shas = [], {}
    for i in range(10):
        repo = clone(remote, tmp_path / f"c{i}")
        git("checkout", "-q", "-b", f"b{i}", cwd=repo)
        shas[f"t{i}"] = commit_with_trace(repo, f"t{i}")
        clones.append(repo)
    procs = [
        subprocess.Popen(
            ["git", "push", "-q", "origin", "HEAD"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for repo in clones
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 10
    wait_settled(*clones, timeout=90)
    # The queued retries: a push that lost every race stays queued; sync drains it.
    for repo in clones:
        if queued(repo):
            traces_git("sync", cwd=repo)
    for trace_id, sha in shas.items():
        assert remote_note_lines(remote, sha) == [f"traces:{trace_id}"]


def _capture(cmd_env: dict | None, world, *args: str) -> tuple[int, str, str]:
    proc = git(*args, cwd=world / "w", check=False, env=cmd_env)
    norm = lambda s: s.replace(str(world), "<W>")  # noqa: E731
    return proc.returncode, norm(proc.stdout), norm(proc.stderr)


def _scenario(world, env: dict | None) -> tuple[list, dict]:
    """The same pushes in a world with and one without traces-git: outputs and remote refs."""
    results = []
    date = "2020-01-01T00:00:00Z"
    fixed = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "TRACES_TRACE_ID": "same-trace"}
    env = {**(env or {}), **fixed}

    def run(*args):
        results.append((args, _capture(env, world, *args)))

    work = world / "w"
    (work / "f.txt").write_text("one\n")
    run("add", "f.txt")
    run("commit", "-q", "-m", "one")
    run("push")  # with upstream
    run("checkout", "-q", "-b", "feature")
    (work / "g.txt").write_text("two\n")
    run("add", "g.txt")
    run("commit", "-q", "-m", "two")
    run("push")  # no upstream: git refuses
    run("push", "origin", "feature")
    run("push", "--dry-run", "origin", "feature:dry")
    run("push", "origin", "HEAD~1:feature")  # non-fast-forward: rejected
    run("push", "origin", ":feature")  # delete
    run("push", "--tags")  # nothing to do
    refs = git(
        "--git-dir", str(world / "r.git"), "for-each-ref", "--format=%(refname) %(objectname)"
    ).stdout.splitlines()
    return results, {r for r in refs if not r.startswith("refs/notes/")}


def test_plain_push_behaves_exactly_as_without_traces_git(tmp_path, installed):
    worlds = {}
    for name in ("plain", "traced"):
        world = tmp_path / name
        world.mkdir()
        git("init", "-q", "--bare", "-b", "main", str(world / "r.git"))
        git("clone", "-q", str(world / "r.git"), str(world / "w"))
        worlds[name] = world
    # "without traces-git": no hooks at all for that world's commands.
    without = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(tmp_path / "no-hooks"),
    }
    plain = _scenario(worlds["plain"], without)
    traced = _scenario(worlds["traced"], None)
    wait_settled(worlds["traced"] / "w")
    assert traced == plain
    codes = [code for _args, (code, _o, _e) in traced[0]]
    assert 128 in codes and 1 in codes  # the failures really happened, identically
    # Our notes did follow the real pushes (not the dry run, the rejected one or the delete).
    notes_on_remote = git(
        "--git-dir", str(worlds["traced"] / "r.git"), "notes", "--ref=traces", "list"
    ).stdout.splitlines()
    assert len(notes_on_remote) == 2  # "same-trace" on both commits
    assert ref(worlds["traced"] / "w", "refs/notes/traces") == remote_ref(
        worlds["traced"] / "r.git", "refs/notes/traces"
    )


def test_dry_run_and_rejected_pushes_send_no_notes(remote, tmp_path):
    a = clone(remote, tmp_path / "a")
    sha = commit_with_trace(a, "dry")
    git("push", "-q", "--dry-run", cwd=a)
    wait_settled(a)
    assert remote_ref(remote, "refs/notes/traces") is None
    assert remote_ref(remote, "refs/heads/main") != sha
    # A push the remote rejects (non-fast-forward) sends no notes either.
    b = clone(remote, tmp_path / "b")
    commit_file(b, "other.txt")
    git("push", "-q", cwd=b)
    rejected = git("push", "-q", cwd=a, check=False)
    assert rejected.returncode == 1
    wait_settled(a)
    assert remote_ref(remote, "refs/notes/traces") is None
    skipped = [r for r in runs("notes-push") if r["outcome"] == "skipped"]
    assert len(skipped) == 2
    # The retry after integrating goes through with the note.
    git("pull", "-q", "--rebase", cwd=a)
    rebased = ref(a, "HEAD")
    git("push", "-q", cwd=a)
    wait_settled(a)
    assert remote_note_lines(remote, rebased) == ["traces:dry"]


def test_nested_push_from_a_pre_push_hook_does_not_recurse(remote, tmp_path):
    a = clone(remote, tmp_path / "a")
    hook = a / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        "cat >/dev/null\n"
        '[ -n "$INNER" ] && exit 0\n'
        "INNER=1 git push -q origin HEAD:refs/heads/mirror-of-main\n"
    )
    hook.chmod(0o755)
    sha = commit_with_trace(a, "nested")
    git("push", "-q", cwd=a)
    wait_settled(a)
    assert remote_ref(remote, "refs/heads/mirror-of-main") == sha
    assert remote_note_lines(remote, sha) == ["traces:nested"]
    # At most one pre-push run per user push (the dispatcher may stand aside for the
    # inner one); none for our own notes pushes, which use --no-verify.
    assert 1 <= len(runs("pre-push")) <= 2
    pushes = runs("notes-push")
    assert 1 <= len(pushes) <= 2 and all(r["outcome"] != "error" for r in pushes)


def test_disabled_remotes_get_no_notes(tmp_path, installed):
    origin = make_remote(tmp_path, "origin.git")
    private = make_remote(tmp_path, "private.git")
    a = clone(origin, tmp_path / "a")
    git("remote", "add", "private", str(private), cwd=a)
    git("config", "remote.private.tracesPush", "false", cwd=a)
    sha = commit_with_trace(a, "secret")
    git("push", "-q", "private", "HEAD:main", "--force", cwd=a)
    wait_settled(a)
    assert remote_ref(private, "refs/notes/traces") is None
    git("config", "traces.push", "false", cwd=a)
    git("push", "-q", cwd=a)
    wait_settled(a)
    assert remote_ref(origin, "refs/heads/main") == sha
    assert remote_ref(origin, "refs/notes/traces") is None
    git("config", "--unset", "traces.push", cwd=a)
    commit_with_trace(a, "public")
    git("push", "-q", cwd=a)
    wait_settled(a)
    assert remote_note_lines(origin, sha) == ["traces:secret"]  # push enabled again: all notes
    assert remote_ref(private, "refs/notes/traces") is None
    out = json.loads(traces_git("sync", "--json", cwd=a).stdout)
    outcomes = {r["remote"]: r["outcome"] for r in out["remotes"]}
    assert outcomes == {"origin": "up to date", "private": "push disabled"}


def test_several_remotes_named_otherwise(tmp_path, installed):
    up = make_remote(tmp_path, "up.git")
    fork = make_remote(tmp_path, "fork.git")
    repo = init_repo(tmp_path / "multi")
    git("remote", "add", "upstream", str(up), cwd=repo)
    git("remote", "add", "my-fork", str(fork), cwd=repo)
    git("fetch", "-q", "upstream", cwd=repo)
    git("checkout", "-q", "-b", "main", "upstream/main", cwd=repo)
    sha = commit_with_trace(repo, "forked")
    git("push", "-q", "my-fork", "HEAD:main", "--force", cwd=repo)
    wait_settled(repo)
    assert remote_note_lines(fork, sha) == ["traces:forked"]
    assert remote_ref(up, "refs/notes/traces") is None
    fetch_specs = git("config", "--get-regexp", r"remote\..*\.fetch", cwd=repo).stdout
    assert "refs/notes/remotes/upstream/traces*" in fetch_specs
    assert "refs/notes/remotes/my-fork/traces*" in fetch_specs
    # The fork's notes come back through upstream's side too once pushed there.
    git("push", "-q", "upstream", "HEAD:main", cwd=repo)
    wait_settled(repo)
    assert remote_note_lines(up, sha) == ["traces:forked"]


def test_repository_without_remote(tmp_path, installed):
    repo = init_repo(tmp_path / "alone")
    commit_with_trace(repo, "solo")
    result = traces_git("sync", cwd=repo)
    assert result.stdout.strip() == "no remotes: nothing to sync"
    assert json.loads(traces_git("sync", "--json", cwd=repo).stdout) == {"remotes": []}
    bad = traces_git("sync", "--remote", "nope", cwd=repo, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "traces-git: no remote named 'nope'"


def test_failed_notes_push_stays_queued_and_is_retried(remote, tmp_path):
    # The remote's own hooks dir (the test user's global core.hooksPath is ours).
    git("--git-dir", str(remote), "config", "core.hooksPath", str(remote / "hooks"))
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\nwhile read o n r; do case $r in refs/notes/*)"
        " echo 'notes are protected' >&2; exit 1;; esac; done\nexit 0\n"
    )
    hook.chmod(0o755)
    a = clone(remote, tmp_path / "a")
    sha = commit_with_trace(a, "kept")
    git("push", "-q", cwd=a)
    wait_settled(a)
    assert remote_ref(remote, "refs/heads/main") == sha
    assert remote_ref(remote, "refs/notes/traces") is None
    [entry] = queued(a)
    assert entry["retry"] and "pre-receive hook declined" in entry["last_error"]
    section = json.loads(traces_git("status", "--json", cwd=a).stdout)["notes_sync"]
    assert section["remotes"]["origin"]["unpushed"] == 1
    assert section["queued"] == ["origin"]
    assert section["summary"] == "origin 1 unpushed note(s), queued"
    assert "pre-receive hook declined" in section["last_error"]
    failed = traces_git("sync", cwd=a, check=False)
    assert failed.returncode == 1 and len(failed.stderr.strip().splitlines()) == 1
    assert "notes sync with origin failed" in failed.stderr

    hook.unlink()
    # A commit retries a queued push once its time has come (here: made due now).
    path, data = read_queue_file(a)
    data["next_attempt"] = 0
    path.write_text(json.dumps(data))
    commit_file(a, "later.txt")
    wait_settled(a)
    assert remote_note_lines(remote, sha) == ["traces:kept"]
    assert queued(a) == []


def test_depth_one_clone_fetches_notes(remote, tmp_path):
    a = clone(remote, tmp_path / "a")
    old = commit_with_trace(a, "old-work")
    newer = commit_with_trace(a, "new-work")
    git("push", "-q", cwd=a)
    wait_settled(a)
    shallow = clone(remote, tmp_path / "shallow", "--depth=1", "--no-local")
    assert git("rev-parse", "--is-shallow-repository", cwd=shallow).stdout.strip() == "true"
    out = traces_git("sync", cwd=shallow).stdout
    assert "origin: fetched" in out
    assert note_lines(shallow, newer) == ["traces:new-work"]
    assert note_lines(shallow, old) == ["traces:old-work"]  # commit absent, note present
    # Later notes arrive with a plain fetch; ours go out with a push; nothing pruned.
    traces_git("attach", "late", old, cwd=a)
    git("push", "-q", "origin", "refs/notes/traces", cwd=a)
    fetch_then_hook(shallow)
    assert sorted(note_lines(shallow, old)) == ["traces:late", "traces:old-work"]
    mine = commit_with_trace(shallow, "from-shallow")
    git("push", "-q", cwd=shallow)
    wait_settled(shallow)
    assert remote_note_lines(remote, mine) == ["traces:from-shallow"]
    assert sorted(remote_note_lines(remote, old)) == ["traces:late", "traces:old-work"]


def test_pull_naming_a_branch_still_brings_the_notes(remote, tmp_path):
    a = clone(remote, tmp_path / "a")
    b = clone(remote, tmp_path / "b")
    commit_file(b, "b.txt")  # b's hooks configure it
    sha = commit_with_trace(a, "pulled")
    git("push", "-q", cwd=a)
    wait_settled(a)
    # `git pull origin main` fetches main only (configured refspecs are not used) ...
    git("pull", "-q", "--no-rebase", "--no-edit", "origin", "main", cwd=b)
    # ... so post-merge fetches the notes in the background.
    # (the worker records its run just after it wrote the merge: wait for both)
    deadline = time.monotonic() + 30
    while note_lines(b, sha) != ["traces:pulled"] or not runs("notes-fetch"):
        assert time.monotonic() < deadline, runs()
        time.sleep(0.05)
    assert "ok" in [r["outcome"] for r in runs("notes-fetch")]


def _wait_for_note(repo, sha, lines, timeout=30.0):
    deadline = time.monotonic() + timeout
    while note_lines(repo, sha) != lines:
        assert time.monotonic() < deadline, (note_lines(repo, sha), runs())
        time.sleep(0.05)


def test_first_pull_in_a_clone_made_without_our_hooks_brings_the_notes(remote, tmp_path):
    a = clone(remote, tmp_path / "a")
    git("clone", "-q", str(remote), str(tmp_path / "b"), env={"TRACES_GIT": "0"})
    b = tmp_path / "b"
    assert "traces" not in git("config", "--get-all", "remote.origin.fetch", cwd=b).stdout
    sha = commit_with_trace(a, "first-pull")
    git("push", "-q", cwd=a)
    wait_settled(a)
    git("pull", "-q", cwd=b)  # fast-forward: post-merge configures b and fetches the notes
    _wait_for_note(b, sha, ["traces:first-pull"])
    assert (
        "refs/notes/remotes/origin/traces*"
        in git("config", "--get-all", "remote.origin.fetch", cwd=b).stdout
    )


def test_clone_configures_and_fetches_notes(remote, tmp_path):
    a = clone(remote, tmp_path / "a")
    sha = commit_with_trace(a, "cloned")
    git("push", "-q", cwd=a)
    wait_settled(a)
    b = clone(remote, tmp_path / "b")  # post-checkout at the end of the clone
    assert (
        "refs/notes/remotes/origin/traces*"
        in git("config", "--get-all", "remote.origin.fetch", cwd=b).stdout
    )
    _wait_for_note(b, sha, ["traces:cloned"])
    in_b = lambda: [r["outcome"] for r in runs("post-checkout") if r["repo"] == str(b)]  # noqa: E731
    assert in_b() == ["ok"]
    # Any other checkout starts nothing.
    git("checkout", "-q", "-b", "elsewhere", cwd=b)
    git("checkout", "-q", "main", cwd=b)
    assert in_b() == ["ok"]


def test_unreachable_remote_fails_in_one_line_without_credentials(tmp_path, installed):
    repo = init_repo(tmp_path / "w")
    commit_with_trace(repo, "offline")
    git("remote", "add", "origin", "https://bob:s3cret-token@127.0.0.1:9/x.git", cwd=repo)
    result = traces_git("sync", cwd=repo, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("traces-git: notes sync with origin failed: ")
    assert len(result.stderr.strip().splitlines()) == 1
    from traces_git import paths

    logged = paths.log_file().read_text() if paths.log_file().exists() else ""
    state = json.dumps(queued(repo))
    for text in (result.stdout, result.stderr, logged, state):
        assert "s3cret" not in text
    assert queued(repo)[0]["retry"] is True  # kept for the next push, commit or sync
