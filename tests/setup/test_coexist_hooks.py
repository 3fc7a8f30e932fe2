"""The hook dispatcher chains to the hooks that would have run without us, through real git.

Most tests install with a stand-in interpreter (``fake_python``) that records
every start of our Python part: that shows the dispatcher's contract (when
Python starts, with which arguments and stdin) without depending on what the
Python handlers do. The end-to-end tests use the real install and real notes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import commit_file, git, head, init_repo, note_ids, traces_git
from tests.helpers.coexist import (
    PY_HOOK,
    commit,
    fake_python,
    python_calls,
    read_lines,
    recording_hook,
    write_hook,
)
from traces_git.setup import install

CLIENT_HOOKS = {
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-auto-gc",
    "post-rewrite",
    "sendemail-validate",
    "fsmonitor-watchman",
    "p4-changelist",
    "p4-prepare-changelist",
    "p4-post-changelist",
    "p4-pre-submit",
    "post-index-change",
}


@pytest.fixture
def py_log(tmp_path: Path) -> Path:
    return tmp_path / "python-calls.log"


@pytest.fixture
def fake_install(tmp_path: Path, py_log: Path):
    """Global install whose hooks start a recorder instead of Python."""
    fake = fake_python(tmp_path / "bin" / "fake-python", py_log)

    def do(**kwargs):
        return install.install(python=str(fake), **kwargs)

    return do


@pytest.fixture
def plain_repo(tmp_path: Path) -> Path:
    path = init_repo(tmp_path / "repo dir")
    return Path(os.path.realpath(path))


def test_one_stub_per_client_hook_and_never_push_to_checkout(fake_install):
    result = fake_install()
    names = {p.name for p in Path(result.hooks_dir).iterdir()} - {install.DISPATCHER}
    assert names == CLIENT_HOOKS
    assert not (Path(result.hooks_dir) / "push-to-checkout").exists()
    # git 2.39 runs it twice per ref a fetch moves: only installed where there is one to chain
    assert not (Path(result.hooks_dir) / "reference-transaction").exists()
    for name in names:
        path = Path(result.hooks_dir) / name
        assert os.access(path, os.X_OK)
        assert install.is_ours(path)


def test_repo_pre_commit_runs_and_a_failing_one_blocks_the_commit(
    fake_install, plain_repo, tmp_path
):
    fake_install()
    calls = tmp_path / "calls"
    recording_hook(plain_repo / ".git/hooks/pre-commit", calls)
    commit(plain_repo, "first")
    assert read_lines(calls) == ["pre-commit "]

    recording_hook(plain_repo / ".git/hooks/pre-commit", calls, exit_code=3)
    before = head(plain_repo)
    proc = commit(plain_repo, "blocked", check=False)
    assert proc.returncode != 0
    assert head(plain_repo) == before  # the commit did not happen
    assert read_lines(calls) == ["pre-commit ", "pre-commit "]


def test_commit_msg_and_prepare_commit_msg_get_their_arguments(fake_install, plain_repo, tmp_path):
    fake_install()
    calls = tmp_path / "calls"
    recording_hook(plain_repo / ".git/hooks/prepare-commit-msg", calls)
    write_hook(
        plain_repo / ".git/hooks/commit-msg",
        f'printf "commit-msg %s %s\\n" "$*" "$(cat "$1")" >> "{calls}"',
    )
    commit(plain_repo, "hello message")
    assert read_lines(calls) == [
        "prepare-commit-msg .git/COMMIT_EDITMSG message",
        "commit-msg .git/COMMIT_EDITMSG hello message",
    ]


def test_a_failing_commit_msg_hook_rejects_the_message(fake_install, plain_repo):
    fake_install()
    write_hook(plain_repo / ".git/hooks/commit-msg", 'grep -q "^JIRA-" "$1" || exit 7')
    assert commit(plain_repo, "no ticket", check=False).returncode != 0
    commit(plain_repo, "JIRA-1 with ticket")
    assert git("log", "-1", "--format=%s", cwd=plain_repo).stdout.strip() == "JIRA-1 with ticket"


def test_pre_push_gets_the_same_stdin_as_our_python(fake_install, plain_repo, tmp_path, py_log):
    fake_install()
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("remote", "add", "origin", str(remote), cwd=plain_repo)
    commit(plain_repo, "one")
    git("branch", "second", cwd=plain_repo)
    calls = tmp_path / "calls"
    recording_hook(plain_repo / ".git/hooks/pre-push", calls, stdin=True)
    git("push", "-q", "origin", "main", "second", cwd=plain_repo)

    sha = head(plain_repo)
    zero = "0" * 40
    expected = (
        f"refs/heads/main {sha} refs/heads/main {zero}\n"
        f"refs/heads/second {sha} refs/heads/second {zero}\n"
    )
    assert read_lines(calls) == [f"pre-push origin {remote}"]
    assert Path(f"{calls}.stdin").read_text() == expected
    assert python_calls(py_log).count("pre-push") == 1
    assert f"{PY_HOOK} pre-push origin {remote}" in read_lines(py_log)
    assert Path(f"{py_log}.stdin").read_text() == expected


def test_failing_pre_push_blocks_the_push_and_skips_ours(
    fake_install, plain_repo, tmp_path, py_log
):
    fake_install()
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    commit(plain_repo, "one")
    write_hook(plain_repo / ".git/hooks/pre-push", "cat >/dev/null; exit 5")
    proc = git("push", str(remote), "main", cwd=plain_repo, check=False)
    assert proc.returncode != 0
    assert git("rev-parse", "--verify", "-q", "main", cwd=remote, check=False).returncode != 0
    assert "pre-push" not in python_calls(py_log)


def test_python_starts_only_for_hooks_with_work(fake_install, plain_repo, tmp_path, py_log):
    """pre-commit, commit-msg, a branch's post-checkout and reference-transaction: no Python."""
    fake_install()
    commit(plain_repo, "one")
    git("checkout", "-q", "-b", "topic", cwd=plain_repo)
    commit(plain_repo, "two")
    git("commit", "--allow-empty", "--amend", "-q", "-m", "amended", cwd=plain_repo)
    git("checkout", "-q", "main", cwd=plain_repo)
    git("merge", "-q", "--no-ff", "-m", "merge", "topic", cwd=plain_repo)
    assert python_calls(py_log) == ["post-commit"] * 3 + ["post-merge"]

    # post-checkout starts Python only for the checkout that ends a clone.
    git("clone", "-q", str(plain_repo), str(tmp_path / "clone"))
    assert python_calls(py_log)[4:] == ["post-checkout"]
    assert read_lines(py_log)[-1].startswith(f"{PY_HOOK} post-checkout {'0' * 40} ")


def _python_calls_settled(py_log: Path, count: int) -> list[str]:
    """The recorded starts once ``count`` are there (background starts land a bit later)."""
    deadline = time.monotonic() + 10
    while len(python_calls(py_log)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # and no more than that
    return python_calls(py_log)


def test_the_first_hook_after_a_fetch_starts_the_background_merge(
    fake_install, plain_repo, tmp_path, py_log
):
    fake_install()
    commit(plain_repo, "one")
    py_log.unlink()
    clone = tmp_path / "clone"
    git("clone", "-q", str(plain_repo), str(clone))
    git("checkout", "-q", "HEAD", cwd=clone)  # no fetch yet: no FETCH_HEAD
    assert _python_calls_settled(py_log, 1) == ["post-checkout"]  # the clone's own
    py_log.unlink()
    git("fetch", "-q", cwd=clone)
    assert _python_calls_settled(py_log, 0) == []  # nothing of ours inside the fetch
    git("checkout", "-q", "HEAD", cwd=clone)
    assert _python_calls_settled(py_log, 1) == ["fetched"]
    [line] = read_lines(py_log)
    assert line.startswith(f"{PY_HOOK} fetched ") and line.split()[-1].isdigit()
    py_log.unlink()
    # the seen file newer than FETCH_HEAD (what the merge leaves): nothing starts
    (clone / ".git" / "traces-git-fetch-seen").write_text("")
    git("checkout", "-q", "HEAD", cwd=clone)
    commit(clone, "two")
    assert _python_calls_settled(py_log, 1) == ["post-commit"]


def test_reference_transaction_of_the_repository_is_chained_by_a_repo_install(
    fake_install, plain_repo, tmp_path
):
    fake_install()
    commit(plain_repo, "one")
    calls = tmp_path / "calls"
    write_hook(
        plain_repo / ".git/hooks/reference-transaction",
        f'cat >> "{calls}"\n[ "$1" != prepared ] || ! grep -q refs/heads/forbidden "{calls}"',
    )
    git("branch", "unseen", cwd=plain_repo)
    assert not calls.exists()  # the global hooks have no reference-transaction to chain it
    status = json.loads(traces_git("doctor", "--json", cwd=plain_repo, check=False).stdout)
    [problem] = [c for c in status["problems"] if c["id"] == "unchained-hook"]
    assert problem["fix"] == "traces-git install --repo"
    assert "reference-transaction" in problem["message"]

    fake_install(repo=True, cwd=str(plain_repo))
    git("branch", "fine", cwd=plain_repo)
    assert "refs/heads/fine" in calls.read_text()
    proc = git("branch", "forbidden", cwd=plain_repo, check=False)
    assert proc.returncode != 0
    assert (
        git(
            "rev-parse", "-q", "--verify", "refs/heads/forbidden", cwd=plain_repo, check=False
        ).returncode
        != 0
    )
    status = json.loads(traces_git("doctor", "--json", cwd=plain_repo, check=False).stdout)
    assert [c for c in status["problems"] if c["id"] == "unchained-hook"] == []


def test_reference_transaction_of_the_previous_hooks_path_is_chained_while_it_exists(
    fake_install, plain_repo, tmp_path
):
    previous = tmp_path / "company hooks"
    calls = tmp_path / "calls"
    recording_hook(previous / "reference-transaction", calls, label="company")
    git("config", "--global", "core.hooksPath", str(previous))
    result = fake_install()
    assert install.is_ours(Path(result.hooks_dir) / "reference-transaction")
    commit(plain_repo, "one")
    assert read_lines(calls)[-2:] == ["company prepared", "company committed"]

    (previous / "reference-transaction").unlink()
    fake_install()  # installing again drops the stub that has nothing left to chain
    assert not (Path(result.hooks_dir) / "reference-transaction").exists()


def test_traces_git_0_runs_the_chain_but_no_python(fake_install, plain_repo, tmp_path, py_log):
    fake_install()
    calls = tmp_path / "calls"
    recording_hook(plain_repo / ".git/hooks/post-commit", calls)
    commit(plain_repo, "off", env={"TRACES_GIT": "0"})
    assert read_lines(calls) == ["post-commit "]
    assert python_calls(py_log) == []
    # git commands traces-git itself starts carry TRACES_GIT_SYNC: no Python either
    commit(plain_repo, "ours", env={"TRACES_GIT_SYNC": "1"})
    assert read_lines(calls) == ["post-commit "] * 2
    assert python_calls(py_log) == []
    commit(plain_repo, "on")
    assert python_calls(py_log) == ["post-commit"]


def test_previous_global_hooks_path_still_runs_and_comes_back(fake_install, plain_repo, tmp_path):
    previous = tmp_path / "company hooks"
    calls = tmp_path / "calls"
    recording_hook(previous / "pre-commit", calls, label="company")
    git("config", "--global", "core.hooksPath", str(previous))
    result = fake_install()
    assert result.previous == str(previous)
    recording_hook(plain_repo / ".git/hooks/pre-commit", calls, label="repo")
    commit(plain_repo, "both")
    assert read_lines(calls) == ["repo ", "company "]
    install.uninstall()
    assert git("config", "--global", "core.hooksPath").stdout.strip() == str(previous)


def test_our_scripts_never_run_twice(fake_install, plain_repo, tmp_path, py_log):
    """A copy and a link of our hooks in .git/hooks, and a wrapper that calls ours again."""
    result = fake_install()
    ours = Path(result.hooks_dir)
    hooks = plain_repo / ".git/hooks"
    (hooks / "post-commit").write_bytes((ours / "post-commit").read_bytes())
    (hooks / "post-commit").chmod(0o755)
    (hooks / "post-merge").symlink_to(ours / "post-merge")
    calls = tmp_path / "calls"
    write_hook(hooks / "pre-commit", f'echo wrapper >> "{calls}"\nexec "{ours}/pre-commit" "$@"')
    commit(plain_repo, "one")
    assert read_lines(calls) == ["wrapper"]
    assert python_calls(py_log) == ["post-commit"]

    # Installing again with our own dir as the "previous" hooks path changes nothing.
    git("config", "--global", "core.hooksPath", str(ours))
    assert fake_install().previous is None
    commit(plain_repo, "two")
    assert python_calls(py_log) == ["post-commit", "post-commit"]


def test_subdirectory_and_linked_worktree(fake_install, plain_repo, tmp_path, py_log):
    fake_install()
    calls = tmp_path / "calls"
    write_hook(plain_repo / ".git/hooks/pre-commit", f'echo "$PWD" >> "{calls}"')
    commit(plain_repo, "one")
    sub = plain_repo / "deep" / "sub"
    sub.mkdir(parents=True)
    commit(plain_repo, "from a subdirectory", cwd=sub)
    worktree = tmp_path / "linked wt"
    git("worktree", "add", "-q", "-b", "wt", str(worktree), cwd=plain_repo)
    commit(worktree, "from the linked worktree")
    assert read_lines(calls) == [str(plain_repo)] * 2 + [os.path.realpath(worktree)]
    assert python_calls(py_log).count("post-commit") == 3


def test_end_to_end_note_with_repo_hooks_subdir_and_worktree(installed, tmp_path, store):
    """The real install: the repo's own hook runs and the note is written, everywhere."""
    repo = Path(os.path.realpath(init_repo(tmp_path / "real repo")))
    calls = tmp_path / "calls"
    recording_hook(repo / ".git/hooks/pre-commit", calls)
    store.add_trace("t-main", repo, edits=[repo / "a.py"])
    commit_file(repo, "a.py")
    assert note_ids(repo) == ["t-main"]

    worktree = Path(os.path.realpath(tmp_path / "wt"))
    git("worktree", "add", "-q", "-b", "wt", str(worktree), cwd=repo)
    store.add_trace("t-wt", worktree, edits=[worktree / "b.py"])
    (worktree / "b.py").write_text("b\n")
    git("add", "b.py", cwd=worktree)
    git("commit", "-q", "-m", "in worktree", cwd=worktree / ".")
    assert note_ids(worktree) == ["t-wt"]

    sub = repo / "pkg"
    sub.mkdir()
    store.add_trace("t-sub", repo, edits=[sub / "c.py"])
    (sub / "c.py").write_text("c\n")
    git("add", "c.py", cwd=sub)
    git("commit", "-q", "-m", "from subdir", cwd=sub)
    assert note_ids(repo) == ["t-sub"]
    assert read_lines(calls) == ["pre-commit "] * 3
    status = traces_git("status", "--json", cwd=sub)
    assert '"our_hooks_run": true' in status.stdout


def test_linked_worktree_and_submodule_hooks_without_git_rev_parse(installed, tmp_path):
    """The dispatcher finds a linked worktree's common dir from `commondir` (relative as
    git writes it, or absolute) and a submodule's from its GIT_DIR: the repository's own
    hooks there still run, for hooks with and without work of ours."""
    repo = Path(os.path.realpath(init_repo(tmp_path / "main repo")))
    commit_file(repo, "a.txt")
    calls = tmp_path / "calls"
    for name in ("pre-commit", "post-commit"):
        recording_hook(repo / ".git" / "hooks" / name, calls, label=name)
    worktree = Path(os.path.realpath(tmp_path / "linked wt"))
    git("worktree", "add", "-q", "-b", "wt", str(worktree), cwd=repo)
    commit_file(worktree, "b.txt")
    worktree_git_dir = git("rev-parse", "--absolute-git-dir", cwd=worktree).stdout.strip()
    commondir = Path(worktree_git_dir) / "commondir"
    assert commondir.read_text().strip() == "../.."
    commondir.write_text(f"{repo / '.git'}\n")
    commit_file(worktree, "c.txt")
    assert read_lines(calls) == ["pre-commit ", "post-commit "] * 2

    upstream = init_repo(tmp_path / "upstream")
    commit_file(upstream, "lib.py")
    git(
        "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(upstream), "lib", cwd=repo
    )
    sub_calls = tmp_path / "sub calls"
    recording_hook(
        repo / ".git" / "modules" / "lib" / "hooks" / "pre-commit", sub_calls, label="sub"
    )
    commit_file(repo / "lib", "d.txt")
    assert read_lines(sub_calls) == ["sub "]


def test_system_hooks_path_keeps_running_and_takes_over_again(
    fake_install, plain_repo, tmp_path, monkeypatch
):
    system_hooks = tmp_path / "system hooks"
    calls = tmp_path / "calls"
    recording_hook(system_hooks / "pre-commit", calls, label="system")
    system_config = tmp_path / "gitconfig-system"
    system_config.write_text(f'[core]\n\thooksPath = "{system_hooks}"\n')
    monkeypatch.delenv("GIT_CONFIG_NOSYSTEM")
    monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(system_config))
    before = system_config.read_bytes()
    assert fake_install().previous == str(system_hooks)
    commit(plain_repo, "one")
    assert read_lines(calls) == ["system "]
    install.uninstall()
    assert git("config", "--global", "--get", "core.hooksPath", check=False).returncode == 1
    assert system_config.read_bytes() == before
    commit(plain_repo, "two")
    assert read_lines(calls) == ["system ", "system "]


def test_post_rewrite_stdin_and_post_checkout_exit_code(fake_install, plain_repo, tmp_path, py_log):
    fake_install()
    commit(plain_repo, "one")
    old = head(plain_repo)
    calls = tmp_path / "calls"
    recording_hook(plain_repo / ".git/hooks/post-rewrite", calls, stdin=True)
    git("commit", "-q", "--amend", "--allow-empty", "-m", "amended", cwd=plain_repo)
    assert read_lines(calls) == ["post-rewrite amend"]
    assert Path(f"{calls}.stdin").read_text() == f"{old} {head(plain_repo)}\n"

    write_hook(plain_repo / ".git/hooks/post-checkout", "exit 4")
    proc = git("checkout", "-q", "-b", "other", cwd=plain_repo, check=False)
    assert proc.returncode != 0  # git reports the failed post-checkout; the switch happened
    assert git("branch", "--show-current", cwd=plain_repo).stdout.strip() == "other"
    assert "post-rewrite" not in python_calls(py_log)


@pytest.mark.parametrize("hook", ["pre-commit", "pre-push", "post-checkout"])
def test_exit_code_of_the_chained_hook_is_propagated_exactly(
    fake_install, plain_repo, hook, py_log
):
    fake_install()
    write_hook(plain_repo / ".git/hooks" / hook, "cat >/dev/null; exit 3")
    proc = git("hook", "run", hook, "--", "origin", "url", cwd=plain_repo, check=False, input=b"")
    assert proc.returncode == 3
    assert python_calls(py_log) == []  # pre-push: ours does not run after a failure
