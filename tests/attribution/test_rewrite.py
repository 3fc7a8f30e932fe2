"""Notes survive rewrites: amend, rebase (plain, -i squash, pull --rebase), cherry-pick."""

from __future__ import annotations

import sys

from tests.helpers import commit_file, git
from tests.helpers.sync import commit_with_trace, note_lines


def _ids(repo, rev="HEAD") -> list[str]:
    return [line.split()[0].removeprefix("traces:") for line in note_lines(repo, rev)]


def _sequence_editor(tmp_path, script: str) -> dict:
    """GIT_SEQUENCE_EDITOR: a small Python script that rewrites the todo list."""
    path = tmp_path / "seq_editor.py"
    path.write_text(
        "import sys\n"
        "todo = open(sys.argv[1]).read().splitlines()\n"
        f"{script}\n"
        "open(sys.argv[1], 'w').write('\\n'.join(todo) + '\\n')\n"
    )
    return {"GIT_SEQUENCE_EDITOR": f"{sys.executable} {path}", "GIT_EDITOR": "true"}


def test_commit_amend_squash_cherry_pick_keep_each_id_once(repo, tmp_path):
    first = commit_with_trace(repo, "t-first")
    assert _ids(repo) == ["t-first"]
    # amend: post-commit attaches the same trace again, git copies the old note over
    # (cat_sort_uniq): one line, not two.
    (repo / "t-first.txt").write_text("amended\n")
    git("add", "t-first.txt", cwd=repo)
    git("commit", "-q", "--amend", "--no-edit", cwd=repo, env={"TRACES_TRACE_ID": "t-first"})
    amended = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    assert amended != first
    assert note_lines(repo, amended) == ["traces:t-first"]
    assert note_lines(repo, first) == ["traces:t-first"]  # copy, not move

    # amend adding a second trace: both, once each
    git(
        "commit",
        "-q",
        "--amend",
        "-m",
        "amended again",
        cwd=repo,
        env={"TRACES_TRACE_ID": "t-amend"},
    )
    assert _ids(repo) == ["t-amend", "t-first"]

    second = commit_with_trace(repo, "t-second")
    third = commit_with_trace(repo, "t-first", name="again.txt")  # same trace as the first
    assert _ids(repo, second) == ["t-second"]
    assert _ids(repo, third) == ["t-first"]

    # rebase -i: squash second and third into the amended commit
    env = _sequence_editor(
        tmp_path,
        "todo = [todo[0]] + ["
        "l.replace('pick', 'squash', 1) if l.startswith('pick') else l "
        "for l in todo[1:]]",
    )
    git("rebase", "-q", "-i", "HEAD~3", cwd=repo, env=env)
    squashed = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    assert git("rev-list", "--count", "HEAD", cwd=repo).stdout.strip() == "2"
    assert _ids(repo, squashed) == ["t-amend", "t-first", "t-second"]

    # cherry-pick onto another branch copies the note (post-commit, CHERRY_PICK_HEAD)
    git("checkout", "-q", "-b", "other", "HEAD~1", cwd=repo)
    commit_file(repo, "base.txt")
    git("cherry-pick", squashed, cwd=repo)
    picked = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    assert picked != squashed
    assert _ids(repo, picked) == ["t-amend", "t-first", "t-second"]
    assert _ids(repo, squashed) == ["t-amend", "t-first", "t-second"]


def test_plain_rebase_reword_and_pull_rebase_keep_notes(repo, tmp_path):
    base = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    one = commit_with_trace(repo, "r-one")
    two = commit_with_trace(repo, "r-two")
    git("checkout", "-q", "-b", "upstream-ish", base, cwd=repo)
    commit_file(repo, "upstream.txt")
    git("checkout", "-q", "main", cwd=repo)
    git("rebase", "-q", "upstream-ish", cwd=repo)
    assert _ids(repo, "HEAD") == ["r-two"]
    assert _ids(repo, "HEAD~1") == ["r-one"]
    assert git("rev-parse", "HEAD", cwd=repo).stdout.strip() != two

    # rebase -i with reword and edit-free drop of nothing: notes follow the picks
    env = _sequence_editor(
        tmp_path,
        "todo = [l.replace('pick', 'reword', 1) if l.startswith('pick') else l for l in todo]",
    )
    git("rebase", "-q", "-i", "HEAD~2", cwd=repo, env=env)
    assert _ids(repo, "HEAD") == ["r-two"]
    assert _ids(repo, "HEAD~1") == ["r-one"]
    assert one != git("rev-parse", "HEAD~1", cwd=repo).stdout.strip()

    # pull --rebase from a remote that moved on
    remote = tmp_path / "pr.git"
    git("init", "-q", "--bare", "-b", "main", str(remote))
    git("remote", "add", "origin", str(remote), cwd=repo)
    git("push", "-q", "-u", "origin", "upstream-ish:main", cwd=repo, env={"TRACES_GIT": "0"})
    other = tmp_path / "other"
    git("clone", "-q", str(remote), str(other))
    commit_file(other, "moved.txt")
    git("push", "-q", cwd=other, env={"TRACES_GIT": "0"})
    git("branch", "-q", "--set-upstream-to", "origin/main", "main", cwd=repo)
    git("pull", "-q", "--rebase", cwd=repo)
    assert _ids(repo, "HEAD") == ["r-two"]
    assert _ids(repo, "HEAD~1") == ["r-one"]
    assert (
        git("rev-parse", "HEAD~2", cwd=repo).stdout.strip()
        == git("rev-parse", "origin/main", cwd=repo).stdout.strip()
    )
